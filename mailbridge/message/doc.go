// Package message is inboxbot's mail format: it turns a raw RFC 5322 mail
// into the model the rest of the bot works with, and holds the small format
// rules around it. It imports nothing else of the project; the store keeps
// its model (as store.InboundMail, store.Address, store.Attachment).
//
// Model: [Message], [Address], [Attachment]. Their JSON form is what the
// store records: names and shapes are kept compatible with records already
// written, new fields are omitted when empty.
//
// Reading mail:
//   - [Parse] reads one mail, streaming (attachments are never held in
//     memory), and returns an error only when there is no header at all.
//   - [ReadInbound] never fails: an unparseable mail comes back with
//     ParseError set and the beginning of its raw text.
//
// Format rules:
//   - [CanonMsgID]: the canonical form of a Message-ID (a store key).
//   - [ReplySubject]: the subject of a reply ("Re: " once).
//   - [IsAutomated]: whether a header marks automated mail.
package message

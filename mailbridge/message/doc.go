// Package message is inboxbot's mail format: it turns a raw RFC 5322 mail
// into the model the rest of the bot works with, and holds the small format
// rules around it. It imports nothing else of the project; the store keeps
// its model (as store.InboundMail, store.Address, store.Attachment).
//
// Model: [Message], [Address], [Attachment]. Their JSON form is what the
// store records: names and shapes are kept compatible with records already
// written, and fields added since are omitted when empty.
//
// Reading mail:
//   - [Parse] reads one mail, streaming (attachments are never held in
//     memory), and returns an error only when there is no header at all.
//   - [ReadInbound] never fails: an unparseable mail comes back with
//     ParseError set and the beginning of its raw text.
//   - [ParseOptions] has the same two as methods; its Attachment callback
//     is handed each attachment's content as a stream while the mail is
//     parsed (to spool it to disk).
//
// Parsing repairs rather than trusts: header blocks (the top-level one and
// those of parts) are read leniently; a declared charset the bytes
// contradict is replaced (UTF-8 labelled Latin-1 or ISO-2022-JP is read as
// UTF-8, 8-bit "ISO-2022-JP" as EUC-JP or Shift_JIS); UTF-7 is decoded; a
// named text part is the body when there is no other text, and inline text
// attachments are shown; a part that does not decode to text is not shown
// as text; the null sender of bounces is not a malformed address. What was
// repaired or skipped is said in Message.Warnings.
//
// Text:
//   - [HTMLToText] converts HTML to readable plain text.
//   - [FoldQuote] finds where the quoted history, forwarded headers or
//     signature start in a mail's text; Parse records it in
//     Message.QuoteAt ([Message.NewText], [Message.Quoted]).
//
// Format rules:
//   - [CanonMsgID]: the canonical form of a Message-ID (a store key).
//   - [ReplySubject]: the subject of a reply ("Re: " once).
//   - [IsAutomated]: whether a header marks automated mail.
package message

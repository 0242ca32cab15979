package slackfake

import "encoding/json"

// Tombstone is what a deleted thread parent with replies turns into.
const (
	TombstoneUser = "USLACKBOT"
	TombstoneText = "This message was deleted."
)

// deleteMessageLocked deletes m as Slack does and returns the events Slack
// sends for it:
//
//   - a thread parent with replies stays as a tombstone (subtype
//     "tombstone", user USLACKBOT, "This message was deleted."), announced
//     by message_changed;
//   - any other message goes, announced by message_deleted (for a reply,
//     previous_message carries thread_ts and parent_user_id); when it was
//     the last reply under a tombstone, the tombstone goes too, with a
//     second message_deleted.
func (s *Server) deleteMessageLocked(m *msgRec) []json.RawMessage {
	isParent := m.threadTS == "" || m.threadTS == m.ts
	if isParent && s.hasRepliesLocked(m) {
		prev := *m
		*m = msgRec{channel: m.channel, ts: m.ts, threadTS: m.ts, user: TombstoneUser,
			text: TombstoneText, subtype: "tombstone", unfurl: m.unfurl}
		return []json.RawMessage{s.messageChangedEventLocked(m, &prev)}
	}
	s.deleteLocked(m)
	evs := []json.RawMessage{s.messageDeletedEventLocked(m)}
	if !isParent {
		if p := s.findLocked(m.channel, m.threadTS); p != nil && p.subtype == "tombstone" && !s.hasRepliesLocked(p) {
			s.deleteLocked(p)
			evs = append(evs, s.messageDeletedEventLocked(p))
		}
	}
	return evs
}

func (s *Server) hasRepliesLocked(m *msgRec) bool {
	ch := s.channels[m.channel]
	if ch == nil {
		return false
	}
	for _, r := range ch.msgs {
		if r.threadTS == m.ts && r.ts != m.ts {
			return true
		}
	}
	return false
}

package slackfake

import (
	"encoding/json"
	"slices"
	"strings"
)

// Ephemeral returns the current content of an ephemeral message by its ts
// (the message_ts chat.postEphemeral returned). It reports false once the
// ephemeral was deleted through a response_url (delete_original).
func (s *Server) Ephemeral(ts string) (Message, bool) {
	for _, m := range s.Ephemerals() {
		if m.TS == ts {
			return m, true
		}
	}
	return Message{}, false
}

// EphemeralAction sends an "interactive" envelope with the block_actions
// payload Slack sends for a click on an element of an ephemeral message
// (one in Ephemerals, by ts) seen by user: the container has
// is_ephemeral true, message_ts, channel_id and thread_ts; like Slack's,
// the payload carries no "message". Its response_url replaces
// (replace_original) or deletes (delete_original) that ephemeral, or posts
// a new one. It returns "" if user has no such ephemeral (nobody else can
// see it to click it).
func (s *Server) EphemeralAction(user, channel, ephemeralTS, actionID, value string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.ephemeralIndexLocked(ephemeralTS)
	if i < 0 || s.ephemerals[i].User != user || s.ephemerals[i].Channel != channel {
		return ""
	}
	e := s.ephemerals[i]
	chName := channel
	if ch := s.channels[channel]; ch != nil {
		chName = ch.name
	}
	container := obj{"type": "message", "message_ts": e.TS, "channel_id": channel, "is_ephemeral": true}
	if e.ThreadTS != "" {
		container["thread_ts"] = e.ThreadTS
	}
	actionTS := s.nextTSLocked()
	respURL := s.newResponseURLLocked("block_actions", channel, user, e.TS)
	s.respURLs[strings.TrimPrefix(respURL, s.srv.URL+"/response/")].ephemeral = true
	payload := s.interactionBaseLocked("block_actions", user) // views.go
	payload["trigger_id"] = s.newTriggerLocked(user, "")
	payload["state"] = obj{"values": obj{}}
	payload["container"] = container
	payload["channel"] = obj{"id": channel, "name": chName}
	payload["response_url"] = respURL
	payload["actions"] = []obj{actionJSON(e.Blocks, actionID, value, "", actionTS)}
	return s.enqueueLocked("interactive", mustJSON(payload), 0, false)
}

func (s *Server) ephemeralIndexLocked(ts string) int {
	return slices.IndexFunc(s.ephemerals, func(m Message) bool { return m.TS == ts })
}

// ephemeralResponseLocked handles replace_original and delete_original on
// the response_url of a click on an ephemeral: they act on the ephemeral,
// not on a channel message. Anything else is an ordinary response_url post
// (done reports false).
func (s *Server) ephemeralResponseLocked(ru *respURLRec, p params) (a answer, done bool) {
	if !ru.ephemeral || !(p.bool("replace_original") || p.bool("delete_original")) {
		return answer{}, false
	}
	i := s.ephemeralIndexLocked(ru.messageTS)
	if i < 0 {
		return errAnswer("message_not_found"), true
	}
	if p.bool("delete_original") {
		s.ephemerals = slices.Delete(s.ephemerals, i, i+1)
		s.notifyLocked()
		return okAnswer(nil), true
	}
	// slack-go always sends an empty "metadata" object; see responseURL.
	if md := decodeMeta(json.RawMessage(p.Get("metadata"))); md == nil || md.EventType == "" {
		p.Del("metadata")
	}
	c, a, ok := readContent(p)
	if !ok {
		return a, true
	}
	if c.text == "" && isEmptyBlocks(c.blocks) && isEmptyBlocks(c.attachments) {
		return errAnswer("no_text"), true
	}
	e := &s.ephemerals[i]
	e.Text, e.Blocks, e.Attachments = c.text, c.blocks, c.attachments
	e.Updates++
	s.notifyLocked()
	return okAnswer(nil), true
}

package bot

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// convValue / parseConvValue: the value a card button carries.
func convValue(num uint64) string { return strconv.FormatUint(num, 10) }

func parseConvValue(v string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "#"), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("not a conversation number: %q", v)
	}
	return n, nil
}

// actionBlockID / parseActionBlockID: the block_id of a card's actions, so
// the users_select (which carries no value) still names its conversation.
func actionBlockID(num uint64) string { return "card:" + convValue(num) }

func parseActionBlockID(id string) (uint64, error) {
	rest, ok := strings.CutPrefix(id, "card:")
	if !ok {
		return 0, fmt.Errorf("not a card block: %q", id)
	}
	return parseConvValue(rest)
}

// postEventType marks every message inboxbot posts from its queue. With the
// job and part it identifies the post, so that after a crash between
// chat.postMessage and recording its result, the history tells whether the
// post happened.
const postEventType = "inboxbot_post"

func postMeta(seq uint64, part int) slack.SlackMetadata {
	return slack.SlackMetadata{EventType: postEventType, EventPayload: map[string]any{
		"job": strconv.FormatUint(seq, 10), "part": strconv.Itoa(part),
	}}
}

func parsePostMeta(m slack.SlackMetadata) (seq uint64, part int, ok bool) {
	if m.EventType != postEventType {
		return 0, 0, false
	}
	js, _ := m.EventPayload["job"].(string)
	ps, _ := m.EventPayload["part"].(string)
	seq, err1 := strconv.ParseUint(js, 10, 64)
	p, err2 := strconv.Atoi(ps)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return seq, p, true
}

// newMessageID makes the Message-ID of a reply in conversation num:
// "inboxbot.12.<128 random bits>@domain". The randomness keeps IDs unique
// across installations and unguessable.
func newMessageID(num uint64, domain string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("inboxbot.%d.%s@%s", num, hex.EncodeToString(b), domain)
}

// parseMessageID returns the conversation number of one of our Message-IDs.
func parseMessageID(id string) (uint64, bool) {
	local, _, ok := strings.Cut(id, "@")
	if !ok {
		return 0, false
	}
	parts := strings.Split(local, ".")
	if len(parts) != 3 || parts[0] != "inboxbot" || len(parts[2]) != 32 {
		return 0, false
	}
	n, err := strconv.ParseUint(parts[1], 10, 64)
	return n, err == nil && n > 0
}

// domainOf is the domain of an address, for our Message-IDs.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return strings.ToLower(addr[i+1:])
	}
	return "inboxbot.invalid"
}

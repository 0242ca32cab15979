package message

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// storedRecord is an InboundMail exactly as the store wrote it before the
// model moved into this package (every field set). It must decode into
// Message unchanged and encode back to the same bytes.
const storedRecord = `{"message_id":"abc@example.com","in_reply_to":["prev@inboxbot.test"],"references":["root@inboxbot.test","prev@inboxbot.test"],"from":{"name":"Alice Example","addr":"alice@example.org"},"reply_to":{"addr":"tickets@example.org"},"to":[{"name":"Support","addr":"support@inboxbot.test"}],"cc":[{"addr":"bob@example.org"}],"subject":"Re: Export fails","date":"2024-03-12T16:20:00-04:00","text":"It still fails.\n\nOn Tue wrote:\n\u003e quoted","truncated":true,"html_only":true,"attachments":[{"name":"report.pdf","type":"application/pdf","size":2266},{"name":"","type":"image/png","size":69}],"auto":true,"warnings":["Date: cannot parse \"x\""],"parse_error":"mailbridge: no message header found"}`

// storedMinimal is the smallest record the old code wrote.
const storedMinimal = `{"from":{"addr":"x@y"},"subject":"","text":""}`

func TestStoredRecordCompat(t *testing.T) {
	var m Message
	if err := json.Unmarshal([]byte(storedRecord), &m); err != nil {
		t.Fatal(err)
	}
	check := func(what string, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s not decoded: %+v", what, m)
		}
	}
	check("message_id", m.MessageID == "abc@example.com")
	check("in_reply_to", len(m.InReplyTo) == 1 && m.InReplyTo[0] == "prev@inboxbot.test")
	check("references", len(m.References) == 2 && m.References[1] == "prev@inboxbot.test")
	check("from", m.From == Address{"Alice Example", "alice@example.org"})
	check("reply_to", m.ReplyTo != nil && *m.ReplyTo == Address{"", "tickets@example.org"} && m.ReplyToAll == nil)
	check("to", len(m.To) == 1 && m.To[0] == Address{"Support", "support@inboxbot.test"})
	check("cc", len(m.Cc) == 1 && m.Cc[0].Addr == "bob@example.org")
	check("subject", m.Subject == "Re: Export fails")
	check("date", m.Date.Equal(time.Date(2024, 3, 12, 20, 20, 0, 0, time.UTC)))
	check("text", m.Text == "It still fails.\n\nOn Tue wrote:\n> quoted")
	check("flags", m.Truncated && m.HTMLOnly && m.Auto)
	check("attachments", len(m.Attachments) == 2 &&
		m.Attachments[0] == Attachment{Name: "report.pdf", Type: "application/pdf", Size: 2266} &&
		m.Attachments[1] == Attachment{Type: "image/png", Size: 69})
	check("warnings", len(m.Warnings) == 1 && m.Warnings[0] == `Date: cannot parse "x"`)
	check("parse_error", m.ParseError == "mailbridge: no message header found")

	for _, rec := range []string{storedRecord, storedMinimal} {
		var m Message
		if err := json.Unmarshal([]byte(rec), &m); err != nil {
			t.Fatal(err)
		}
		// Fields added since are omitted when empty: an old record
		// encodes back to the very same bytes.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, []byte(rec)) {
			t.Errorf("re-encoded record differs:\n got %s\nwant %s", b, rec)
		}
	}
}

package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Conversations agents start, and forwards.

// ActCompose is the history entry of a conversation an agent started.
const ActCompose = "composed"

// ActForward is the history entry of a forward.
const ActForward = "forwarded"

// Compose is a conversation an agent starts (/inbox new).
type Compose struct {
	EventID string // the command's trigger, "" none
	Inbox   string
	To      Address
	Subject string
	By      string // the agent: it is theirs
}

// Compose opens an outbound conversation: no mail yet, its status card is
// queued for the inbox channel, and the first reply in its thread is the
// first mail (held like any reply). The customer's answer threads by that
// mail's Message-ID, like any answer.
func (s *Store) Compose(cm Compose) (*Conversation, error) {
	var out Conversation
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if rule := blockedRule(tx, cm.To.Addr); rule != "" {
			return blockedErr(cm.To.Addr, rule)
		}
		meta := tx.Bucket(bMeta)
		num := getU64(meta.Get(kNextConv)) + 1
		if err := meta.Put(kNextConv, u64(num)); err != nil {
			return err
		}
		ch := Change{At: now, By: cm.By, Action: ActCompose, Target: cm.To.String()}
		c := &Conversation{
			Num: num, Inbox: cm.Inbox, Subject: cm.Subject, Customer: cm.To, ReplyTo: cm.To,
			Status: StatusOpen, Assignee: cm.By, Created: now, Updated: now, Outbound: true,
			ConvText: ConvText{History: []Change{ch}},
		}
		s.addParticipants(c, cm.To)
		var err error
		if c.Earlier, err = earlier(tx, cm.Inbox, cm.To.Addr, num); err != nil {
			return err
		}
		if err := putConv(tx, nil, c, true); err != nil {
			return err
		}
		ev := convEvent(c, now, EvOpened, cm.By, cm.To.Addr)
		ev.Outbound = true
		if err := logEvent(tx, ev); err != nil {
			return err
		}
		out = *c
		return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobCompose, Conv: num, NewConv: true, By: cm.By, Created: now})
	})
	if err != nil {
		return nil, err
	}
	kick(s.slackKick)
	return &out, nil
}

// ErrNoMail is returned when a conversation has no customer mail to forward.
var ErrNoMail = errors.New("no customer mail to forward")

// Forward is an agent's forward of a conversation's latest customer mail.
type Forward struct {
	Conv      uint64
	To        Address
	Comment   string // the agent's text above the forwarded mail (signature included)
	AgentID   string
	AgentName string
	MessageID string // pre-generated, canonical
}

// EnqueueForward queues a forward of the conversation's latest customer
// mail, as a forward: the agent's comment, then a "Forwarded message"
// block with the original's header fields, then its text. It is sent at
// once (a command is deliberate; there is no message to edit). An answer
// to it threads into the conversation, flagged: its sender is not a
// participant, so it redirects nothing.
func (s *Store) EnqueueForward(f Forward) (*MailJob, error) {
	var job MailJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		_, err := updateConv(tx, f.Conv, func(c *Conversation) error {
			if c.Latest == nil {
				return ErrNoMail
			}
			if rule := blockedRule(tx, f.To.Addr); rule != "" {
				return blockedErr(f.To.Addr, rule)
			}
			job = MailJob{
				Conv: c.Num, Inbox: c.Inbox, MessageID: f.MessageID, To: f.To, Subject: forwardSubject(c.Latest.Subject),
				AgentID: f.AgentID, AgentName: f.AgentName, Text: forwardText(f.Comment, c.Latest), Forward: true, Created: now,
				Files: ForwardFiles(c),
			}
			if err := enqueue(tx.Bucket(bToMail), &job); err != nil {
				return err
			}
			c.Replies = capReplies(append(c.Replies, ReplyRef{
				Seq: job.Seq, AgentID: f.AgentID, MessageID: f.MessageID, State: ReplyQueued, At: now,
				To: f.To.String(), Forward: true, Written: now,
			}))
			ch := Change{At: now, By: f.AgentID, Action: ActForward, Target: f.To.String()}
			c.History = append(c.History, ch)
			return putJSON(tx.Bucket(bMsgIDs), []byte(f.MessageID), msgRef{Conv: c.Num, Out: true})
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	kick(s.mailKick)
	return &job, nil
}

// forwardSubject is "Fwd: " and the subject, without piling prefixes up.
func forwardSubject(subject string) string {
	s := strings.TrimSpace(subject)
	lower := strings.ToLower(s)
	for _, p := range []string{"fwd:", "fw:"} {
		if strings.HasPrefix(lower, p) {
			return "Fwd: " + strings.TrimSpace(s[len(p):])
		}
	}
	if s == "" {
		return "Fwd: (no subject)"
	}
	return "Fwd: " + s
}

// ForwardFiles are the files a forward of the conversation's latest
// customer mail sends on: its attachments that are in Slack (the bot
// downloads them again from there). An attachment that was not uploaded
// (too large, or not yet) is not among them.
func ForwardFiles(c *Conversation) []MailFile {
	if c.Latest == nil {
		return nil
	}
	var out []MailFile
	for _, a := range c.Latest.Attachments {
		if id := c.LatestFiles[a.Ref]; a.Ref != "" && id != "" {
			out = append(out, MailFile{SlackID: id, Name: a.Name, Type: a.Type, Size: a.Size})
		}
	}
	return out
}

// forwardText lays a forward out the way mail clients do.
func forwardText(comment string, m *InboundMail) string {
	var b strings.Builder
	if c := strings.TrimSpace(comment); c != "" {
		b.WriteString(c)
		b.WriteString("\n\n")
	}
	b.WriteString("---------- Forwarded message ---------\n")
	fmt.Fprintf(&b, "From: %s\n", m.From)
	if !m.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", m.Date.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", joinAddrs(m.To))
	}
	if len(m.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", joinAddrs(m.Cc))
	}
	b.WriteString("\n")
	b.WriteString(m.Text)
	return b.String()
}

func joinAddrs(as []Address) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, ", ")
}

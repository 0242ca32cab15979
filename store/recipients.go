package store

import (
	"fmt"
	netmail "net/mail"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/inboxbot/inboxbot/mailbridge/message"
)

// Who a reply goes to. Replies are reply-all: To the customer (the
// Reply-To, else the From, of their latest mail), Cc whomever else that
// mail was addressed to, never one of the installation's own addresses,
// never twice. Agents change that for one reply (Recipients) or for the
// conversation (SetRecipient). Bcc is never taken from incoming mail.

const maxParticipants = 50

// Recipients changes who one reply goes to.
type Recipients struct {
	To   *Address  `json:"to,omitempty"`    // instead of the conversation's reply address
	Cc   []Address `json:"cc,omitempty"`    // added to its Cc
	NoCc []string  `json:"no_cc,omitempty"` // taken out of its Cc
}

// addrKey is the form addresses are compared in.
func addrKey(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

// isOwn reports whether addr is one of the installation's own addresses.
func (s *Store) isOwn(c *Conversation, addr string) bool {
	k := addrKey(addr)
	return k == "" || s.own[k] || k == addrKey(c.Inbox)
}

// replyTo is where replies go by default.
func replyTo(c *Conversation) Address {
	if c.ReplyTo.Addr != "" {
		return c.ReplyTo
	}
	return c.Customer
}

// ccOf makes a Cc list: the addresses of lists in order, without to, own
// addresses, those in drop, and duplicates.
func (s *Store) ccOf(c *Conversation, to Address, drop []string, lists ...[]Address) []Address {
	seen := map[string]bool{addrKey(to.Addr): true}
	for _, d := range drop {
		seen[addrKey(d)] = true
	}
	var out []Address
	for _, l := range lists {
		for _, a := range l {
			k := addrKey(a.Addr)
			if seen[k] || s.isOwn(c, k) {
				continue
			}
			if _, err := netmail.ParseAddress(a.Addr); err != nil {
				// A mangled header must not make every reply fail.
				continue
			}
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

// address fills in a job's recipients and threading headers from the
// conversation as it is now, and the job's own changes. A held reply is
// addressed again when it is released: a change of recipients or a new
// customer mail meanwhile applies.
func (s *Store) address(j *MailJob, r Recipients, c *Conversation) {
	j.To = replyTo(c)
	if r.To != nil {
		j.To = *r.To
	}
	j.Cc = s.ccOf(c, j.To, r.NoCc, c.Cc, r.Cc)
	j.InReplyTo = c.LastInbound
	j.References = replyRefs(c)
	if c.LastInbound == "" {
		// Nothing received yet: the first mails of a conversation an
		// agent started keep its subject as it is.
		j.Subject = strings.TrimSpace(c.Subject)
	} else {
		j.Subject = message.ReplySubject(c.Subject)
	}
}

// isParticipant reports whether addr took part in the conversation. A
// conversation recorded before participants were (none listed) takes
// everyone, as before.
func isParticipant(c *Conversation, addr string) bool {
	return len(c.Participants) == 0 || slices.Contains(c.Participants, addrKey(addr))
}

// addParticipants adds the addresses that are not own ones.
func (s *Store) addParticipants(c *Conversation, addrs ...Address) {
	for _, a := range addrs {
		k := addrKey(a.Addr)
		if s.isOwn(c, k) || slices.Contains(c.Participants, k) {
			continue
		}
		c.Participants = append(c.Participants, k)
	}
	if len(c.Participants) > maxParticipants {
		// Keep the first (the customer) and the newest.
		c.Participants = append(c.Participants[:1:1], c.Participants[len(c.Participants)-maxParticipants+1:]...)
	}
}

// Recipient changes of a conversation, as recorded in its history.
const (
	ActCcAdd    = "cc_added"
	ActCcRemove = "cc_removed"
	ActTo       = "to_set"
)

// SetRecipient changes who the conversation's replies go to, for good:
// ActCcAdd and ActCcRemove add an address to its Cc or take it out, ActTo
// makes addr the reply address. The change, its history entry and its line
// in the thread are recorded together. It returns ErrNoChange when there
// is nothing to change.
func (s *Store) SetRecipient(num uint64, action string, addr Address, by string) (*Conversation, error) {
	var out *Conversation
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		c, err := updateConv(tx, num, func(c *Conversation) error {
			if s.isOwn(c, addr.Addr) {
				return fmt.Errorf("%s is this installation's own address: %w", addr.Addr, ErrNoChange)
			}
			k := addrKey(addr.Addr)
			has := slices.IndexFunc(c.Cc, func(a Address) bool { return addrKey(a.Addr) == k })
			switch action {
			case ActCcAdd:
				if has >= 0 || addrKey(replyTo(c).Addr) == k {
					return fmt.Errorf("%s already gets the replies: %w", addr.Addr, ErrNoChange)
				}
				c.Cc = append(c.Cc, addr)
			case ActCcRemove:
				if has < 0 {
					return fmt.Errorf("%s is not in Cc: %w", addr.Addr, ErrNoChange)
				}
				c.Cc = slices.Delete(c.Cc, has, has+1)
				c.MergedCc = slices.DeleteFunc(c.MergedCc, func(a Address) bool { return addrKey(a.Addr) == k })
			case ActTo:
				if addrKey(replyTo(c).Addr) == k {
					return fmt.Errorf("replies already go to %s: %w", addr.Addr, ErrNoChange)
				}
				if has >= 0 {
					c.Cc = slices.Delete(c.Cc, has, has+1)
				}
				c.ReplyTo = addr
			default:
				return fmt.Errorf("unknown recipient change %q", action)
			}
			if action != ActCcRemove {
				s.addParticipants(c, addr)
			}
			return recordChange(tx, c, Change{At: now, By: by, Action: action, Target: addr.String()})
		})
		out = c
		return err
	})
	if err != nil {
		return nil, err
	}
	kick(s.slackKick)
	return out, nil
}

// capReplies keeps the newest maxReplies replies, and every held one
// however old: the hold window still needs its record.
func capReplies(rs []ReplyRef) []ReplyRef {
	for len(rs) > maxReplies {
		i := slices.IndexFunc(rs, func(r ReplyRef) bool { return r.State != ReplyHeld })
		if i < 0 {
			break
		}
		rs = slices.Delete(rs, i, i+1)
	}
	return rs
}

// replyRef returns the conversation's newest record of a reply that match
// accepts (nil: none).
func replyRef(c *Conversation, match func(r *ReplyRef) bool) *ReplyRef {
	for i := len(c.Replies) - 1; i >= 0; i-- {
		if match(&c.Replies[i]) {
			return &c.Replies[i]
		}
	}
	return nil
}

func bySeq(seq uint64) func(r *ReplyRef) bool { return func(r *ReplyRef) bool { return r.Seq == seq } }
func byTS(ts string) func(r *ReplyRef) bool   { return func(r *ReplyRef) bool { return r.SlackTS == ts } }

// setReplyState records a reply's fate in its conversation.
func setReplyState(c *Conversation, seq uint64, state, why string, at time.Time) *ReplyRef {
	r := replyRef(c, bySeq(seq))
	if r != nil {
		r.State, r.Why, r.At = state, why, at
	}
	return r
}

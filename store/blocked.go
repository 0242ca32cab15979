package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Blocked senders, installation-wide: an address, or a domain (which
// covers its subdomains). Mail from a blocked sender opens no conversation:
// it is counted on its block, its headers are remembered (the mail itself
// stays in the mailbox: inboxbot never deletes mail), and nothing is
// posted. A blocked sender's mail that answers an existing conversation is
// still shown there, flagged, but changes nothing (no reopen, no new reply
// address). Nothing is ever mailed to a blocked address: a reply to one is
// refused, and a blocked Cc is left out.

// maxStopped is how many stopped mails a block remembers.
const maxStopped = 10

// Block and unblock, as recorded in the history of the conversation whose
// card they were done from (Target: the address or domain).
const (
	ActBlock   = "blocked"
	ActUnblock = "unblocked"
)

// Errors of blocking.
var (
	ErrBlocked = errors.New("blocked")
	ErrOwn     = errors.New("one of this installation's own addresses")
)

// Block is one blocked address or domain.
type Block struct {
	Key    string        `json:"key"` // address or domain, lower case
	By     string        `json:"by,omitempty"`
	At     time.Time     `json:"at"`
	Count  int           `json:"count"` // mails stopped
	Last   time.Time     `json:"last,omitzero"`
	Recent []StoppedMail `json:"recent,omitempty"` // newest last
}

// StoppedMail is what a block remembers of a mail it stopped.
type StoppedMail struct {
	Inbox     string    `json:"inbox"`
	From      Address   `json:"from"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"message_id,omitempty"`
	At        time.Time `json:"at"`
}

// BlockKey returns the form an address or domain is blocked under: an
// address (with "@") in lower case; a domain (a leading "@" is dropped)
// in lower case, which must have a dot.
func BlockKey(s string) (string, error) {
	s = strings.TrimSpace(s)
	if local, domain, ok := strings.Cut(s, "@"); ok && local != "" {
		if !validDomain(strings.ToLower(domain)) {
			return "", fmt.Errorf("%q is not an address or a domain", s)
		}
		return addrKey(s), nil
	}
	d := strings.TrimSuffix(strings.ToLower(strings.TrimPrefix(s, "@")), ".")
	if !validDomain(d) {
		return "", fmt.Errorf("%q is not an address or a domain (a domain is like example.com)", s)
	}
	return d, nil
}

func validDomain(d string) bool {
	if !strings.Contains(d, ".") || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r > 127) {
				return false
			}
		}
	}
	return true
}

// blockedRule is the block that covers addr ("": none): the address, or
// its domain or a parent domain of it.
func blockedRule(tx *bolt.Tx, addr string) string {
	b := tx.Bucket(bBlocked)
	a := addrKey(addr)
	if a == "" {
		return ""
	}
	if b.Get([]byte(a)) != nil {
		return a
	}
	_, d, ok := strings.Cut(a, "@")
	for ok && strings.Contains(d, ".") {
		if b.Get([]byte(d)) != nil {
			return d
		}
		_, d, ok = strings.Cut(d, ".")
	}
	return ""
}

// stopBlocked counts a mail that a block kept from opening a conversation.
func stopBlocked(tx *bolt.Tx, rule, inbox string, m *InboundMail, now time.Time) error {
	return update(tx.Bucket(bBlocked), []byte(rule), "block", func(bl *Block) error {
		bl.Count++
		bl.Last = now
		bl.Recent = append(bl.Recent, StoppedMail{Inbox: inbox, From: m.From, Subject: m.Subject, MessageID: m.MessageID, At: now})
		if len(bl.Recent) > maxStopped {
			bl.Recent = slices.Clone(bl.Recent[len(bl.Recent)-maxStopped:])
		}
		return nil
	})
}

// ownKey reports whether blocking key would block one of the installation's
// own addresses, or their domain.
func (s *Store) ownKey(key string) bool {
	for a := range s.own {
		if a == key {
			return true
		}
		if _, d, ok := strings.Cut(a, "@"); ok && (d == key || strings.HasSuffix(d, "."+key)) {
			return true
		}
	}
	return false
}

// Block blocks key (BlockKey's form) for user by. conv, when not 0, is the
// conversation whose card it was done from: it gets a history entry and a
// line in its thread. eventID, when set, makes a redelivered Slack event a
// no-op (ErrDuplicate). It returns ErrNoChange when key is blocked already,
// ErrOwn for one of the installation's own addresses or domains.
func (s *Store) Block(key, by string, conv uint64, eventID string) error {
	return s.setBlock(key, by, conv, eventID, true)
}

// Unblock lifts the block of key (ErrNoChange: there is none); conv and
// eventID as for Block.
func (s *Store) Unblock(key, by string, conv uint64, eventID string) error {
	return s.setBlock(key, by, conv, eventID, false)
}

func (s *Store) setBlock(key, by string, conv uint64, eventID string, block bool) error {
	k, err := BlockKey(key)
	if err != nil {
		return err
	}
	if block && s.ownKey(k) {
		return fmt.Errorf("%s: %w", k, ErrOwn)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if err := once(tx, now, eventID); err != nil {
			return err
		}
		b := tx.Bucket(bBlocked)
		has := b.Get([]byte(k)) != nil
		action := ActBlock
		switch {
		case block && has:
			return fmt.Errorf("%s is blocked already: %w", k, ErrNoChange)
		case !block && !has:
			return fmt.Errorf("%s is not blocked: %w", k, ErrNoChange)
		case block:
			err = putJSON(b, []byte(k), Block{Key: k, By: by, At: now})
		default:
			action = ActUnblock
			err = b.Delete([]byte(k))
		}
		if err != nil || conv == 0 {
			return err
		}
		_, err = updateConv(tx, conv, func(c *Conversation) error {
			return recordChange(tx, c, Change{At: now, By: by, Action: action, Target: k})
		})
		return err
	})
	if err == nil && conv != 0 {
		kick(s.slackKick)
	}
	return err
}

// Blocked lists the blocks, by key.
func (s *Store) Blocked() ([]Block, error) {
	var out []Block
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bBlocked).ForEach(func(k, v []byte) error {
			var bl Block
			if err := json.Unmarshal(v, &bl); err != nil {
				return fmt.Errorf("block %s: %w", k, err)
			}
			out = append(out, bl)
			return nil
		})
	})
	return out, err
}

// BlockedBy returns the block covering addr ("": none).
func (s *Store) BlockedBy(addr string) (rule string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		rule = blockedRule(tx, addr)
		return nil
	})
	return rule, err
}

// spare keeps a mail from blocked addresses: they are left out of its
// Cc, and a mail To one fails with ErrBlocked.
func spare(tx *bolt.Tx, j *MailJob) error {
	if rule := blockedRule(tx, j.To.Addr); rule != "" {
		return blockedErr(j.To.Addr, rule)
	}
	j.Cc = slices.DeleteFunc(j.Cc, func(a Address) bool { return blockedRule(tx, a.Addr) != "" })
	return nil
}

func blockedErr(addr, rule string) error {
	if addrKey(addr) == rule {
		return fmt.Errorf("%s is %w", addr, ErrBlocked)
	}
	return fmt.Errorf("%s is %w (%s)", addr, ErrBlocked, rule)
}

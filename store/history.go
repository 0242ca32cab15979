package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/inboxbot/inboxbot/mailbridge/message"
)

// A customer's conversations, found by their address (lower case) in
// idx_customer. The key carries the inbox, so that what one may see (the
// inboxes whose channels one is in) is chosen from the keys alone.

// maxEarlier is how many earlier conversations a card names;
// maxEarlierCount how many it counts (a robot's thousands need no exact
// figure, and counting them must not slow every new conversation down).
const (
	maxEarlier      = 5
	maxEarlierCount = 100
)

// Earlier is what a customer's earlier conversations in an inbox were
// when a new one opened. The card is rendered from the conversation alone,
// so this is a snapshot; /inbox history reads them as they are now.
type Earlier struct {
	Count  int           `json:"count"`            // earlier conversations in the inbox
	More   bool          `json:"more,omitempty"`   // and more than Count: counting stopped at maxEarlierCount
	Recent []EarlierConv `json:"recent,omitempty"` // the newest maxEarlier of them, newest first
}

// EarlierConv is one earlier conversation, as it was then.
type EarlierConv struct {
	Num        uint64    `json:"num"`
	Status     Status    `json:"status"`
	MergedInto uint64    `json:"merged_into,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	RootTS     string    `json:"root_ts,omitempty"`
	Created    time.Time `json:"created"`
}

func customerKeys(c *Conversation) [][]byte {
	a := addrKey(c.Customer.Addr)
	if a == "" {
		return nil
	}
	return [][]byte{key([]byte(a), []byte(c.Inbox), u64(c.Num))}
}

// earlier is the snapshot of addr's conversations in inbox numbered below
// before (nil: none).
func earlier(tx *bolt.Tx, inbox, addr string, before uint64) (*Earlier, error) {
	a := addrKey(addr)
	if a == "" {
		return nil, nil
	}
	prefix := key([]byte(a), []byte(inbox), nil)
	c := tx.Bucket(bIdxCustomer).Cursor()
	e := &Earlier{}
	// Newest first: from just below `before`, backwards.
	for k := lastBelow(c, prefix, before); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if e.Count == maxEarlierCount {
			e.More = true
			break
		}
		e.Count++
		if len(e.Recent) == maxEarlier {
			continue
		}
		num := keyNum(k)
		var conv Conversation
		if err := getJSON(tx.Bucket(bConvs), u64(num), &conv); err != nil {
			return nil, fmt.Errorf("conversation %d: %w", num, err)
		}
		e.Recent = append(e.Recent, EarlierConv{Num: num, Status: conv.Status, MergedInto: conv.MergedInto,
			Channel: conv.Channel, RootTS: conv.RootTS, Created: conv.Created})
	}
	if e.Count == 0 {
		return nil, nil
	}
	return e, nil
}

// History returns the conversations of the customer addr (compared in
// lower case) in inboxes, newest first, at most limit of them, and how
// many there are in all. It reads the customer index, then the summaries
// of the rows it returns.
func (s *Store) History(addr string, inboxes []string, limit int) (rows []Conversation, total int, err error) {
	a := addrKey(addr)
	if a == "" {
		return nil, 0, nil
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		top := topK{k: limit, newest: true}
		c := tx.Bucket(bIdxCustomer).Cursor()
		for _, inbox := range inboxes {
			prefix := key([]byte(a), []byte(inbox), nil)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				top.add(keyNum(k))
				total++
			}
		}
		rows, err = summaries(tx, top.nums)
		return err
	})
	return rows, total, err
}

// subjectWindow is how recent a conversation must be for a reply that
// names none of its messages to be threaded into it by subject and sender.
const subjectWindow = 30 * 24 * time.Hour

// bySubject finds the conversation a reply belongs to when its threading
// headers name none we know: some clients drop In-Reply-To and References,
// and some providers (Amazon SES, Microsoft 365) rewrite the Message-ID of
// what we send, so the customer's answer refers to an ID we never saw. It
// must look like a reply ("Re: …"), come from the customer of one of the
// inbox's recent conversations, and carry that conversation's subject.
func bySubject(tx *bolt.Tx, inbox string, m *InboundMail, now time.Time) (uint64, error) {
	if m.Auto || !hasReplyPrefix(m.Subject) {
		return 0, nil
	}
	reply := message.ReplySubject(m.Subject)
	a := addrKey(m.From.Addr)
	if a == "" {
		return 0, nil
	}
	prefix := key([]byte(a), []byte(inbox), nil)
	c := tx.Bucket(bIdxCustomer).Cursor()
	k := lastBelow(c, prefix, ^uint64(0))
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && n < 10; k, _ = c.Prev() {
		n++
		var conv Conversation
		if err := getJSON(tx.Bucket(bConvs), u64(keyNum(k)), &conv); err != nil {
			return 0, fmt.Errorf("conversation %d: %w", keyNum(k), err)
		}
		if now.Sub(conv.Updated) <= subjectWindow && strings.EqualFold(message.ReplySubject(conv.Subject), reply) {
			return conv.Num, nil
		}
	}
	return 0, nil
}

// hasReplyPrefix reports whether a subject starts with a reply prefix.
func hasReplyPrefix(subject string) bool {
	s := strings.TrimSpace(subject)
	return message.ReplySubject(s) != "Re: "+s
}

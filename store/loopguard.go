package store

import (
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The loop guard: another system's auto-replies to our replies (or a
// misconfigured robot) must not flood the channel with conversations. An
// automated mail that threads into no conversation opens one only while its
// sender opened fewer than autoPerHour this hour; after that it is added to
// the sender's latest conversation, counted.

const autoPerHour = 3

// floodCount is a sender's automated mail in the current hour.
type floodCount struct {
	Start  time.Time `json:"start"`  // the hour began with the first mail
	Opened int       `json:"opened"` // conversations opened
	Last   uint64    `json:"last"`   // the latest of them
	Folded int       `json:"folded"` // mails added to it since
}

func floodKey(m *InboundMail) []byte { return []byte(addrKey(m.From.Addr)) }

func (s *Store) flood(tx *bolt.Tx, m *InboundMail, now time.Time) floodCount {
	var f floodCount
	if getJSON(tx.Bucket(bAutoFlood), floodKey(m), &f) != nil || now.Sub(f.Start) >= time.Hour {
		f = floodCount{Start: now}
	}
	return f
}

// loopGuard returns the conversation an automated mail that threads
// nowhere is added to (0: it opens one), and how many automated mails its
// sender sent this hour.
func (s *Store) loopGuard(tx *bolt.Tx, m *InboundMail, now time.Time) (conv uint64, n int, err error) {
	f := s.flood(tx, m, now)
	if f.Opened < autoPerHour || f.Last == 0 {
		return 0, 0, nil
	}
	f.Folded++
	return f.Last, f.Opened + f.Folded, putJSON(tx.Bucket(bAutoFlood), floodKey(m), f)
}

// autoOpened counts a conversation opened by an automated mail.
func (s *Store) autoOpened(tx *bolt.Tx, m *InboundMail, now time.Time, conv uint64) error {
	f := s.flood(tx, m, now)
	f.Opened++
	f.Last = conv
	return putJSON(tx.Bucket(bAutoFlood), floodKey(m), f)
}

// pruneFlood forgets the counts of hours that are over.
func pruneFlood(tx *bolt.Tx, now time.Time) error {
	c := tx.Bucket(bAutoFlood).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var f floodCount
		if err := json.Unmarshal(v, &f); err != nil || now.Sub(f.Start) >= time.Hour {
			if err := c.Delete(); err != nil {
				return err
			}
		}
	}
	return nil
}

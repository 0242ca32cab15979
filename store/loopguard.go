package store

import (
	"encoding/json"
	"fmt"
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

func (s *Store) flood(tx *bolt.Tx, m *InboundMail, now time.Time) (floodCount, error) {
	var f floodCount
	found, err := lookup(tx.Bucket(bAutoFlood), floodKey(m), &f)
	if err != nil {
		return f, fmt.Errorf("loop guard of %s: %w", m.From.Addr, err)
	}
	if !found || now.Sub(f.Start) >= time.Hour {
		f = floodCount{Start: now}
	}
	return f, nil
}

// loopGuard returns the conversation an automated mail that threads
// nowhere is added to (0: it opens one), and how many automated mails its
// sender sent this hour.
func (s *Store) loopGuard(tx *bolt.Tx, m *InboundMail, now time.Time) (conv uint64, n int, err error) {
	f, err := s.flood(tx, m, now)
	if err != nil || f.Opened < autoPerHour || f.Last == 0 {
		return 0, 0, err
	}
	f.Folded++
	return f.Last, f.Opened + f.Folded, putJSON(tx.Bucket(bAutoFlood), floodKey(m), f)
}

// autoOpened counts a conversation opened by an automated mail.
func (s *Store) autoOpened(tx *bolt.Tx, m *InboundMail, now time.Time, conv uint64) error {
	f, err := s.flood(tx, m, now)
	if err != nil {
		return err
	}
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

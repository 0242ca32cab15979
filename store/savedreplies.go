package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Saved replies: texts an inbox's agents reuse, by name. Names are
// compared without regard to case; each inbox has its own.

// SavedReply is one saved reply of an inbox.
type SavedReply struct {
	Name    string    `json:"name"` // as its author typed it
	Text    string    `json:"text"` // with placeholders, see the bot
	By      string    `json:"by"`   // who last wrote it (Slack user ID)
	Updated time.Time `json:"updated"`
}

// MaxSavedReplies is how many saved replies an inbox may have: the
// composer offers them in one menu, which Slack caps at 100 options.
const MaxSavedReplies = 100

// Errors of saved replies.
var (
	ErrExists  = errors.New("already exists")
	ErrTooMany = fmt.Errorf("an inbox has at most %d saved replies", MaxSavedReplies)
)

func savedKey(inbox, name string) []byte {
	return key([]byte(inbox), []byte(strings.ToLower(name)))
}

// SavedReplies lists an inbox's saved replies by name.
func (s *Store) SavedReplies(inbox string) ([]SavedReply, error) {
	var out []SavedReply
	err := s.db.View(func(tx *bolt.Tx) error {
		return eachSaved(tx, inbox, func(v []byte) error {
			var r SavedReply
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("saved reply of %s: %w", inbox, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// eachSaved calls f with each saved reply of inbox, in name order.
func eachSaved(tx *bolt.Tx, inbox string, f func(v []byte) error) error {
	prefix := key([]byte(inbox), nil)
	c := tx.Bucket(bSavedReplies).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

// SavedReply returns an inbox's saved reply by name (ErrNotFound).
func (s *Store) SavedReply(inbox, name string) (*SavedReply, error) {
	var r SavedReply
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bSavedReplies), savedKey(inbox, name), &r)
	})
	if err != nil {
		return nil, fmt.Errorf("saved reply %q: %w", name, err)
	}
	return &r, nil
}

// AddSavedReply adds a saved reply to an inbox: ErrExists when one has
// that name, ErrTooMany when the inbox has as many as it may.
func (s *Store) AddSavedReply(inbox string, r SavedReply) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSavedReplies)
		k := savedKey(inbox, r.Name)
		if b.Get(k) != nil {
			return fmt.Errorf("saved reply %q: %w", r.Name, ErrExists)
		}
		n := 0
		if err := eachSaved(tx, inbox, func([]byte) error { n++; return nil }); err != nil {
			return err
		}
		if n >= MaxSavedReplies {
			return ErrTooMany
		}
		r.Updated = s.now()
		return putJSON(b, k, r)
	})
}

// EditSavedReply replaces the text of an inbox's saved reply
// (ErrNotFound); its name keeps the spelling it was added with.
func (s *Store) EditSavedReply(inbox, name, text, by string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSavedReplies)
		k := savedKey(inbox, name)
		var r SavedReply
		if err := getJSON(b, k, &r); err != nil {
			return fmt.Errorf("saved reply %q: %w", name, err)
		}
		r.Text, r.By, r.Updated = text, by, s.now()
		return putJSON(b, k, r)
	})
}

// RemoveSavedReply deletes an inbox's saved reply (ErrNotFound).
func (s *Store) RemoveSavedReply(inbox, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSavedReplies)
		k := savedKey(inbox, name)
		if b.Get(k) == nil {
			return fmt.Errorf("saved reply %q: %w", name, ErrNotFound)
		}
		return b.Delete(k)
	})
}

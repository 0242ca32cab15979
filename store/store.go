// Package store is inboxbot's spine: one bbolt file holding the conversations,
// the mappings that tie mail and Slack together, the IMAP watermarks and the
// two durable queues between the mail side and the Slack side.
//
// Bucket tree (schema version 1):
//
//	meta
//	  "schema"     -> u64   schema version, see migrations.go
//	  "next_conv"  -> u64   last conversation number handed out
//	  "slack_seen" -> ts    newest thread reply turned into mail (start of the catch-up scan)
//	mailboxes
//	  <mailbox>    -> JSON Watermark (UIDVALIDITY, last UID recorded)
//	convs
//	  <num u64>    -> JSON Conversation
//	threads
//	  <root ts>    -> u64   conversation number of a Slack thread
//	msgids
//	  <Message-ID> -> JSON msgRef (conversation, direction)  canonical IDs, see message.CanonMsgID
//	toslack                 queue mail → Slack, drained by bot
//	  <seq u64>    -> JSON SlackJob
//	tomail                  queue Slack → mail (the outbox), drained by mailbridge
//	  <seq u64>    -> JSON MailJob
//	events
//	  <event key>  -> u64   unix time a Slack event was acted on (dedup of redeliveries)
//
// Integers are big-endian so that keys sort numerically. Every method is one
// transaction: whatever it records, it records together or not at all.
package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bMeta      = []byte("meta")
	bMailboxes = []byte("mailboxes")
	bConvs     = []byte("convs")
	bThreads   = []byte("threads")
	bMsgIDs    = []byte("msgids")
	bToSlack   = []byte("toslack")
	bToMail    = []byte("tomail")
	bEvents    = []byte("events")

	kSchema    = []byte("schema")
	kNextConv  = []byte("next_conv")
	kSlackSeen = []byte("slack_seen")
)

// Errors callers compare with errors.Is.
var (
	ErrNotFound    = errors.New("not found")
	ErrUIDValidity = errors.New("UIDVALIDITY changed")
	ErrLocked      = errors.New("database file is locked by another process")
)

// Store is the bbolt-backed state of one inboxbot installation.
type Store struct {
	db        *bolt.DB
	now       func() time.Time
	slackKick chan struct{}
	mailKick  chan struct{}
}

// Options tune Open. The zero value is fine.
type Options struct {
	// Timeout bounds the wait for the file lock; bbolt waits forever on zero.
	Timeout time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// Open opens (creating if needed, mode 0600) the database at path and brings
// its schema up to date.
func Open(path string, o Options) (*Store, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// bbolt only applies the mode when it creates the file; an older file
	// created by hand may be wider. The DB holds customer mail: tighten it.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	s := &Store{db: db, now: o.Now, slackKick: make(chan struct{}, 1), mailKick: make(chan struct{}, 1)}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// SlackKick is signalled after a commit that queued work for Slack.
func (s *Store) SlackKick() <-chan struct{} { return s.slackKick }

// MailKick is signalled after a commit that queued mail to send.
func (s *Store) MailKick() <-chan struct{} { return s.mailKick }

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %x: %w", key, err)
	}
	return nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// update reads the JSON value at key, lets f change it, and writes it back.
func update[T any](b *bolt.Bucket, key []byte, what string, f func(v *T) error) error {
	var v T
	if err := getJSON(b, key, &v); err != nil {
		return fmt.Errorf("%s %x: %w", what, key, err)
	}
	if err := f(&v); err != nil {
		return err
	}
	return putJSON(b, key, v)
}

// list decodes every value of a bucket, in key order, keeping those for
// which keep (if any) is true.
func list[T any](b *bolt.Bucket, keep func(*T) bool) ([]T, error) {
	var out []T
	err := b.ForEach(func(k, data []byte) error {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("decode %s/%x: %w", b.Tx().DB().Path(), k, err)
		}
		if keep == nil || keep(&v) {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

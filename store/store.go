// Package store is inboxbot's spine: one bbolt file holding the conversations,
// the mappings that tie mail and Slack together, the IMAP watermarks and the
// durable queues between the mail side and the Slack side.
//
// Bucket tree (schema version 2):
//
//	meta
//	  "schema"          -> u64   schema version, see migrations.go
//	  "next_conv"       -> u64   last conversation number handed out (unique per installation)
//	  "alive:"<channel> -> u64   unix time up to which the channel's Slack events were being received
//	  "digest:"<inbox>  -> u64   unix time of the latest weekly digest queued, see digest.go
//	mailboxes
//	  <inbox>\0<mailbox> -> JSON Watermark (UIDVALIDITY, last UID recorded)
//	convs                          what lists and counts read: small
//	  <num u64>         -> JSON Conversation (summary)
//	convtext                       what a card or a reply needs besides
//	  <num u64>         -> JSON ConvText (preview, first mail, threading chain, capped history)
//	idx_status
//	  <inbox>\0<status>\0<assignee>\0<num u64> -> ""
//	idx_closed
//	  <inbox>\0<closed unix u64><num u64>      -> ""
//	idx_tags                       one key per tag of a conversation
//	  <inbox>\0<tag>\0<num u64>                -> ""
//	idx_customer                   the customer's conversations, see history.go
//	  <lower(customer address)>\0<inbox>\0<num u64> -> ""
//	threads
//	  <channel>\0<root ts> -> u64   conversation of a Slack thread
//	msgids
//	  <Message-ID>      -> JSON msgRef (conversation, direction)  canonical IDs, see message.CanonMsgID
//	toslack                        queue mail → Slack, drained by bot
//	  <seq u64>         -> JSON SlackJob
//	roots                          root posts sent to Slack whose outcome is not recorded yet
//	  <seq u64>         -> channel
//	cards                          status cards to bring up to date (coalesced)
//	  <num u64>         -> u64   version, bumped by every change
//	parked                         Slack events about threads not known yet (see Park)
//	  <seq u64>         -> JSON Parked
//	tomail                         queue Slack → mail (the outbox), drained by mailbridge
//	  <seq u64>         -> JSON MailJob
//	events
//	  <event key>       -> u64   unix time a Slack event was acted on (dedup of redeliveries)
//	autoflood                      loop guard: automated mail per sender, see loopguard.go
//	  <address>         -> JSON floodCount
//	oauth                          OAuth refresh tokens as the provider rotated them (secrets)
//	  <hash of the configured token> -> the latest refresh token
//	blocked                        senders whose mail opens no conversation, see blocked.go
//	  <address or domain, lower case> -> JSON Block
//	eventlog                       append only: what happened when, by whom (stats), see eventlog.go
//	  <unix nano u64><seq u64> -> binary Event (kind, flags, conversation, times, inbox, by, target)
//	timers                         what is due when, derived from the conversations, see timers.go
//	  <due unix ns u64><num u64><kind> -> ""
//	savedreplies                   texts agents reuse, per inbox, see savedreplies.go
//	  <inbox>\0<name lower case> -> JSON SavedReply
//
// Integers are big-endian so that keys sort numerically. Every method is one
// transaction: whatever it records, it records together or not at all.
package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bMeta        = []byte("meta")
	bMailboxes   = []byte("mailboxes")
	bConvs       = []byte("convs")
	bConvText    = []byte("convtext")
	bIdxStatus   = []byte("idx_status")
	bIdxClosed   = []byte("idx_closed")
	bThreads     = []byte("threads")
	bMsgIDs      = []byte("msgids")
	bToSlack     = []byte("toslack")
	bRoots       = []byte("roots")
	bCards       = []byte("cards")
	bParked      = []byte("parked")
	bToMail      = []byte("tomail")
	bEvents      = []byte("events")
	bAutoFlood   = []byte("autoflood")
	bIdxTags     = []byte("idx_tags")
	bIdxCustomer = []byte("idx_customer")
	bBlocked     = []byte("blocked")
	bOAuth       = []byte("oauth")
	bEventLog    = []byte("eventlog")
	bTimers      = []byte("timers")

	bSavedReplies = []byte("savedreplies")

	kSchema   = []byte("schema")
	kNextConv = []byte("next_conv")
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
	legacy    Legacy
	own       map[string]bool // the installation's own addresses, lower case
	slackKick *kicker
	mailKick  *kicker
	heldKick  *kicker
	timerKick *kicker
	targets   func(inbox string) Targets
}

// Legacy names the one inbox of a database written before inboxes had
// names (schema 1): migration 2 files its conversations, watermarks and
// threads under it.
type Legacy struct {
	Inbox   string // inbox ID (its address)
	Channel string // the Slack channel its threads are in
}

// Options tune Open. The zero value is fine for a new file.
type Options struct {
	// Timeout bounds the wait for the file lock; bbolt waits forever on zero.
	Timeout time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
	// Legacy is required to migrate a schema-1 file that holds data.
	Legacy Legacy
	// OwnAddresses are the installation's own addresses (every inbox's,
	// the mail accounts'): never a recipient of a reply's Cc, never a
	// participant. Each conversation's own inbox is always one.
	OwnAddresses []string
	// NoSync skips fsync on commit: for tests and benchmarks that fill a
	// store, never for a real installation (a crash could lose commits).
	NoSync bool
	// Targets are each inbox's response targets and auto-close (see
	// timers.go); nil: none. When set, Open applies them to the clocks
	// already running.
	Targets func(inbox string) Targets
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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout, NoSync: o.NoSync})
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
	s := &Store{db: db, now: o.Now, legacy: o.Legacy, own: map[string]bool{},
		slackKick: &kicker{}, mailKick: &kicker{}, heldKick: &kicker{}, timerKick: &kicker{}, targets: o.Targets}
	for _, a := range o.OwnAddresses {
		s.own[addrKey(a)] = true
	}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.replan(); err != nil {
		db.Close()
		return nil, fmt.Errorf("response targets: %w", err)
	}
	return s, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Path is the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// Size is the database file's size in bytes.
func (s *Store) Size() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n, err
}

// SlackKick returns a channel signalled after each commit that queued work
// for Slack. Each call subscribes anew: every subscriber is woken.
func (s *Store) SlackKick() <-chan struct{} { return s.slackKick.subscribe() }

// MailKick returns a channel signalled after each commit that queued mail
// to send; each inbox's sender subscribes on its own.
func (s *Store) MailKick() <-chan struct{} { return s.mailKick.subscribe() }

// HeldKick returns a channel signalled after each commit that held a reply
// or changed when a held one is due.
func (s *Store) HeldKick() <-chan struct{} { return s.heldKick.subscribe() }

// TimerKick returns a channel signalled after each commit that may have
// made a timer due sooner (see timers.go), or after KickTimers.
func (s *Store) TimerKick() <-chan struct{} { return s.timerKick.subscribe() }

// KickTimers wakes the timer loop: the clock (Options.Now) jumped, as a
// test's does.
func (s *Store) KickTimers() { kick(s.timerKick) }

// kicker wakes every subscriber; a wake-up that finds one busy is kept
// (one per subscriber), so none is missed.
type kicker struct {
	mu   sync.Mutex
	subs []chan struct{}
}

func (k *kicker) subscribe() <-chan struct{} {
	c := make(chan struct{}, 1)
	k.mu.Lock()
	k.subs = append(k.subs, c)
	k.mu.Unlock()
	return c
}

func kick(k *kicker) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.subs {
		select {
		case c <- struct{}{}:
		default:
		}
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

// key joins the parts of a composite key with NUL bytes. Parts are IDs
// (inboxes, channels, users, statuses) that never contain NUL.
func key(parts ...[]byte) []byte {
	return bytes.Join(parts, []byte{0})
}

// Index keys end in the conversation's number (see convIndexes): keyNum
// reads it back, and keyPart the part between a prefix and the NUL before
// the number (an assignee, a tag).
func keyNum(k []byte) uint64 { return getU64(k[max(len(k)-8, 0):]) }

func keyPart(k, prefix []byte) string { return string(k[len(prefix) : len(k)-9]) }

// nanoKey is a time as a key: unix nanoseconds, clamped to what they can
// stand for (1970 to 2262), so that keys sort by time.
func nanoKey(t time.Time) []byte {
	switch {
	case t.Before(time.Unix(0, 0)):
		return u64(0)
	case t.After(time.Unix(0, math.MaxInt64)):
		return u64(math.MaxInt64)
	}
	return u64(uint64(t.UnixNano()))
}

// lastBelow returns the last key with prefix that sorts before prefix
// followed by num, with c on it (nil: none): where a backwards walk over
// an index's conversations below num starts.
func lastBelow(c *bolt.Cursor, prefix []byte, num uint64) []byte {
	k, _ := c.Seek(append(bytes.Clone(prefix), u64(num)...))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if !bytes.HasPrefix(k, prefix) {
		return nil
	}
	return k
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

// lookup reads the JSON value at key into v, reporting whether there is
// one. A value that does not decode is an error: never taken for an
// absent one.
func lookup(b *bolt.Bucket, key []byte, v any) (bool, error) {
	err := getJSON(b, key, v)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
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

// after decodes up to n values of a bucket keyed by u64, in key order,
// starting after key `after` (0: from the first). A queue is read in such
// slices instead of whole.
func after[T any](b *bolt.Bucket, after uint64, n int) ([]T, error) {
	var out []T
	c := b.Cursor()
	k, data := c.Seek(u64(after + 1))
	for ; k != nil && len(out) < n; k, data = c.Next() {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, fmt.Errorf("decode %s/%x: %w", b.Tx().DB().Path(), k, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// appending returns a bucket whose keys grow (conversation numbers, queue
// sequences) ready for writes: bbolt splits pages half full by default,
// right for random keys but a waste of half of every page when keys are
// mostly appended.
func appending(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = 0.9
	return b
}

// queued is an entry of a queue: it carries its own sequence number.
type queued interface{ setSeq(seq uint64) }

func (j *SlackJob) setSeq(seq uint64) { j.Seq = seq }
func (j *MailJob) setSeq(seq uint64)  { j.Seq = seq }
func (p *Parked) setSeq(seq uint64)   { p.Seq = seq }

// enqueue stores v under the bucket's next sequence number, written into v
// first.
func enqueue(b *bolt.Bucket, v queued) error {
	b.FillPercent = 0.9 // keys are appended
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v.setSeq(seq)
	return putJSON(b, u64(seq), v)
}

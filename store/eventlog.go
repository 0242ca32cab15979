package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The event log: what happened to conversations, when and by whom, append
// only, for stats over months. A conversation keeps only its latest
// activity (History is capped) and the outbox forgets a reply once it is
// sent; the log keeps one small record per event for EventLogHorizon.
//
// Every change writes its event in the transaction that makes the change,
// so the log never misses nor doubles one. Keys are the event's time
// first, so a period is one cursor range. Each event says all a stats pass
// needs about it (when the wait it answered began, when the conversation
// it closed was opened), so a period is read without looking further back.

// EventLogHorizon is how long events are kept: a year and a month, so
// that a year is compared with the same month of the year before.
const EventLogHorizon = 400 * 24 * time.Hour

// EventKind is what an event records.
type EventKind uint8

// Event kinds. Values are stored: never renumber, only add.
const (
	// EvOpened: a conversation began. By a customer mail (Target its
	// sender's address, Auto for an automated one), or by an agent
	// (Outbound, By the agent, Target whom it was written to).
	EvOpened EventKind = 1
	// EvReceived: a customer mail was added to a conversation (Target its
	// sender's address; Auto for an automated one).
	EvReceived EventKind = 2
	// EvReplied: an agent's reply was sent (By the agent). Since is when
	// the customer's wait it ended began (zero: nobody was waiting); First
	// marks a conversation's first reply (never one an agent started).
	EvReplied EventKind = 3
	// EvClosed: By closed it ("": the auto-close). Since is when it was opened or last
	// reopened; Wait, when a customer was still waiting for an answer
	// (the close ends the wait; zero: nobody was), with First when that
	// wait was for the first reply. Target is the status it had.
	EvClosed EventKind = 4
	// EvReopened: it was set open again, by By (an action or a merge) or
	// (By "") by a customer mail or the end of a snooze; Target is the
	// status it had.
	EvReopened EventKind = 5
	// EvAssigned: its owner changed to Target ("" : nobody), by By.
	EvAssigned EventKind = 6
	// EvHold: By put it on hold; Target is the status it had.
	EvHold EventKind = 7
	// EvTagged: By tagged it Target (written by the tags feature).
	EvTagged EventKind = 8
)

var eventKindNames = map[EventKind]string{
	EvOpened: "opened", EvReceived: "received", EvReplied: "replied", EvClosed: "closed",
	EvReopened: "reopened", EvAssigned: "assigned", EvHold: "hold", EvTagged: "tagged",
}

func (k EventKind) String() string {
	if n, ok := eventKindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one record of the event log. The meaning of Target, Since,
// Wait and the flags depends on Kind (see the Ev* constants).
type Event struct {
	At     time.Time
	Kind   EventKind
	Conv   uint64
	Inbox  string
	By     string // Slack user ID; "" for the customer or inboxbot itself
	Target string
	Since  time.Time
	Wait   time.Time

	First    bool
	Auto     bool
	Outbound bool
}

const (
	flagFirst = 1 << iota
	flagAuto
	flagOutbound
)

// convEvent is an event about conversation c at time at.
func convEvent(c *Conversation, at time.Time, kind EventKind, by, target string) Event {
	return Event{At: at, Kind: kind, Conv: c.Num, Inbox: c.Inbox, By: by, Target: target}
}

// logEvent appends e to the event log, in tx: call it in the transaction
// of the change it records.
func logEvent(tx *bolt.Tx, e Event) error {
	b := tx.Bucket(bEventLog)
	b.FillPercent = 0.9 // keys are (mostly) appended
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	// The sequence keeps two events of the same nanosecond apart, in the
	// order they were written.
	return b.Put(append(nanoKey(e.At), u64(seq)...), e.encode())
}

// encode writes an event compactly (its time is in the key): kind, flags,
// conversation, the optional times as unix seconds, then the strings each
// with its length. Decoders ignore what follows the fields they know, so
// fields can be added at the end.
func (e *Event) encode() []byte {
	var flags byte
	if e.First {
		flags |= flagFirst
	}
	if e.Auto {
		flags |= flagAuto
	}
	if e.Outbound {
		flags |= flagOutbound
	}
	out := make([]byte, 0, 16+len(e.Inbox)+len(e.By)+len(e.Target)+3*binary.MaxVarintLen16)
	out = append(out, byte(e.Kind), flags)
	out = binary.AppendUvarint(out, e.Conv)
	out = binary.AppendVarint(out, unixOrZero(e.Since))
	out = binary.AppendVarint(out, unixOrZero(e.Wait))
	for _, s := range []string{e.Inbox, e.By, e.Target} {
		out = binary.AppendUvarint(out, uint64(len(s)))
		out = append(out, s...)
	}
	return out
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

var errBadEvent = errors.New("malformed event record")

// decodeEvent reads an event record and its key.
func decodeEvent(k, v []byte, e *Event) error {
	if len(k) != 16 || len(v) < 2 {
		return errBadEvent
	}
	*e = Event{At: time.Unix(0, int64(binary.BigEndian.Uint64(k))), Kind: EventKind(v[0])}
	flags := v[1]
	e.First, e.Auto, e.Outbound = flags&flagFirst != 0, flags&flagAuto != 0, flags&flagOutbound != 0
	r := v[2:]
	var n int
	if e.Conv, n = binary.Uvarint(r); n <= 0 {
		return errBadEvent
	}
	r = r[n:]
	for _, t := range []*time.Time{&e.Since, &e.Wait} {
		sec, n := binary.Varint(r)
		if n <= 0 {
			return errBadEvent
		}
		*t, r = timeOrZero(sec), r[n:]
	}
	for _, s := range []*string{&e.Inbox, &e.By, &e.Target} {
		l, n := binary.Uvarint(r)
		if n <= 0 || uint64(len(r)-n) < l {
			return errBadEvent
		}
		*s, r = string(r[n:n+int(l)]), r[n+int(l):]
	}
	return nil
}

// Events calls f with each logged event whose time is in [from, to), in
// time order, in one read transaction (one cursor pass). f must not keep
// the *Event: it is reused. An error from f stops the pass and is
// returned.
func (s *Store) Events(from, to time.Time, f func(e *Event) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		end := nanoKey(to)
		c := tx.Bucket(bEventLog).Cursor()
		var e Event
		for k, v := c.Seek(nanoKey(from)); k != nil && bytes.Compare(k[:min(8, len(k))], end) < 0; k, v = c.Next() {
			if err := decodeEvent(k, v, &e); err != nil {
				return fmt.Errorf("event log %x: %w", k, err)
			}
			if err := f(&e); err != nil {
				return err
			}
		}
		return nil
	})
}

// pruneBatch bounds one pruning transaction, so that the first prune of
// a large log does not hold the writer for long.
const pruneBatch = 10000

// PruneEventLog deletes the events logged before cutoff and returns how
// many.
func (s *Store) PruneEventLog(cutoff time.Time) (int, error) {
	total := 0
	end := nanoKey(cutoff)
	for {
		n := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bEventLog).Cursor()
			for k, _ := c.First(); k != nil && n < pruneBatch && bytes.Compare(k[:min(8, len(k))], end) < 0; k, _ = c.Next() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	maxChain   = 40   // Message-IDs kept per conversation for threading
	maxHistory = 100  // activity entries kept per conversation
	previewLen = 2800 // fits a 3,000-character section block with room for a note
)

// Conv returns conversation num, with its text.
func (s *Store) Conv(num uint64) (*Conversation, error) {
	var c *Conversation
	err := s.db.View(func(tx *bolt.Tx) (err error) {
		c, err = getConv(tx, num)
		return err
	})
	return c, err
}

// ConvByThread returns the conversation whose root message is ts in channel.
func (s *Store) ConvByThread(channel, ts string) (*Conversation, error) {
	var c *Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		num := threadConv(tx, channel, ts)
		if num == 0 {
			return fmt.Errorf("thread %s/%s: %w", channel, ts, ErrNotFound)
		}
		var err error
		c, err = getConv(tx, num)
		return err
	})
	return c, err
}

func threadConv(tx *bolt.Tx, channel, ts string) uint64 {
	return getU64(tx.Bucket(bThreads).Get(key([]byte(channel), []byte(ts))))
}

func getConv(tx *bolt.Tx, num uint64) (*Conversation, error) {
	var c Conversation
	if err := getJSON(tx.Bucket(bConvs), u64(num), &c); err != nil {
		return nil, fmt.Errorf("conversation %d: %w", num, err)
	}
	if _, err := lookup(tx.Bucket(bConvText), u64(num), &c.ConvText); err != nil {
		return nil, fmt.Errorf("conversation %d: %w", num, err)
	}
	return &c, nil
}

// putConv writes a conversation and keeps its index entries in step: old
// is the stored state it replaces (nil for a new conversation). With
// text false only the summary is written (the text is unchanged).
func putConv(tx *bolt.Tx, old, c *Conversation, text bool) error {
	settleTimers(c)
	if len(c.History) > maxHistory {
		c.History = slices.Clone(c.History[len(c.History)-maxHistory:])
	}
	if err := putJSON(appending(tx, bConvs), u64(c.Num), c); err != nil {
		return err
	}
	if text {
		if err := putJSON(appending(tx, bConvText), u64(c.Num), &c.ConvText); err != nil {
			return err
		}
	}
	for _, idx := range convIndexes {
		var was [][]byte
		if old != nil {
			was = idx.keys(old)
		}
		if err := moveKeys(tx.Bucket(idx.bucket), was, idx.keys(c)); err != nil {
			return err
		}
	}
	return syncTimers(tx, old, c)
}

// moveKeys replaces the keys was of an index by now.
func moveKeys(b *bolt.Bucket, was, now [][]byte) error {
	for _, k := range was {
		if !slices.ContainsFunc(now, func(n []byte) bool { return bytes.Equal(n, k) }) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, k := range now {
		if !slices.ContainsFunc(was, func(w []byte) bool { return bytes.Equal(w, k) }) {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// convIndexes are kept by putConv in the transaction of every change, so
// lists and counts never decode conversations they do not show. A
// conversation has any number of keys in an index (one per tag).
var convIndexes = []struct {
	bucket []byte
	keys   func(c *Conversation) [][]byte // none: not in this index
}{
	{bIdxStatus, func(c *Conversation) [][]byte {
		return [][]byte{key([]byte(c.Inbox), []byte(c.Status), []byte(c.Assignee), u64(c.Num))}
	}},
	{bIdxClosed, func(c *Conversation) [][]byte {
		if c.Status != StatusClosed {
			return nil
		}
		return [][]byte{closedKey(c.Inbox, c.ClosedAt, c.Num)}
	}},
	{bIdxTags, tagKeys},
	{bIdxCustomer, customerKeys},
}

// closedKey orders an inbox's closed conversations by the time they were
// closed: <inbox>\0<closed unix u64><num u64>.
func closedKey(inbox string, at time.Time, num uint64) []byte {
	return append(key([]byte(inbox), u64(uint64(max(at.Unix(), 0)))), u64(num)...)
}

// errUnchanged, returned by the change of updateConv, leaves the
// conversation as it was, unwritten.
var errUnchanged = errors.New("unchanged")

// updateConv changes a conversation (summary and text) in tx.
func updateConv(tx *bolt.Tx, num uint64, f func(c *Conversation) error) (*Conversation, error) {
	old, err := getConv(tx, num)
	if err != nil {
		return nil, err
	}
	c := old.mutable()
	if err := f(c); errors.Is(err, errUnchanged) {
		return old, nil
	} else if err != nil {
		return nil, err
	}
	return c, putConv(tx, old, c, true)
}

// mutable returns a copy of c that a change may edit in place: its slices
// and maps are its own, so that the change does not write through to c,
// the stored state putConv compares it with (index keys, timers).
func (c *Conversation) mutable() *Conversation {
	m := *c
	m.Tags = slices.Clone(c.Tags)
	m.MergedFrom = slices.Clone(c.MergedFrom)
	t := &m.ConvText
	t.Chain = slices.Clone(t.Chain)
	t.ParentRefs = slices.Clone(t.ParentRefs)
	t.History = slices.Clone(t.History)
	t.Cc = slices.Clone(t.Cc)
	t.Participants = slices.Clone(t.Participants)
	t.Replies = slices.Clone(t.Replies)
	t.MergedCc = slices.Clone(t.MergedCc)
	t.LatestFiles = maps.Clone(t.LatestFiles)
	return &m
}

// markCard records that conversation num's status card must be brought up
// to date; the poster does it once for any number of marks.
//
// The mark is a version from the bucket's sequence, never from the card's
// own count: that would start again at 1 once a refresh cleared the mark,
// and a refresh begun from an older state, still holding version 1, would
// then clear the new mark as if it had shown the new state.
func markCard(tx *bolt.Tx, num uint64) error {
	b := tx.Bucket(bCards)
	v, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(u64(num), u64(v))
}

// ListQuery selects conversations for List.
type ListQuery struct {
	Inboxes  []string // the inboxes to look in
	Statuses []Status // any of these
	// Assignee, when not nil, keeps only conversations assigned to that
	// user ("" : unassigned ones).
	Assignee *string
	Limit    int  // rows to return at most (0: none, only the total)
	Newest   bool // newest first (default oldest first)
	// Tag, when set, keeps only conversations with that tag (NormTag's
	// form).
	Tag string
}

// List returns conversations matching q, in number order, at most q.Limit
// of them, and how many match in all. It reads index keys only, then the
// summaries of the rows it returns.
func (s *Store) List(q ListQuery) (rows []Conversation, total int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		// Keep only the q.Limit first (or last) numbers while counting
		// all: a list shows 40 rows of perhaps a million closed ones.
		top := topK{k: q.Limit, newest: q.Newest}
		var tagged map[uint64]bool
		if q.Tag != "" {
			// Both indexes, keys only: the tag's conversations, then
			// the status index as without a tag, keeping those.
			if tagged = tagSet(tx, q.Inboxes, q.Tag); len(tagged) == 0 {
				return nil
			}
		}
		c := tx.Bucket(bIdxStatus).Cursor()
		for _, inbox := range q.Inboxes {
			for _, st := range q.Statuses {
				prefix := key([]byte(inbox), []byte(st), nil)
				if q.Assignee != nil {
					prefix = key([]byte(inbox), []byte(st), []byte(*q.Assignee), nil)
				}
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					n := keyNum(k)
					if tagged != nil && !tagged[n] {
						continue
					}
					top.add(n)
					total++
				}
			}
		}
		rows, err = summaries(tx, top.nums)
		return err
	})
	return rows, total, err
}

// summaries decodes the summaries of conversations nums, in that order.
func summaries(tx *bolt.Tx, nums []uint64) ([]Conversation, error) {
	var rows []Conversation
	for _, n := range nums {
		var conv Conversation
		if err := getJSON(tx.Bucket(bConvs), u64(n), &conv); err != nil {
			return nil, fmt.Errorf("conversation %d: %w", n, err)
		}
		rows = append(rows, conv)
	}
	return rows, nil
}

// topK keeps the k smallest numbers added (the k largest when newest), in
// order.
type topK struct {
	k      int
	newest bool
	nums   []uint64
}

func (t *topK) add(n uint64) {
	before := func(a, b uint64) bool { return a < b != t.newest }
	if t.k == 0 || (len(t.nums) == t.k && !before(n, t.nums[len(t.nums)-1])) {
		return
	}
	i, _ := slices.BinarySearchFunc(t.nums, n, func(a, b uint64) int {
		if before(a, b) {
			return -1
		}
		if a == b {
			return 0
		}
		return 1
	})
	t.nums = slices.Insert(t.nums, i, n)
	if len(t.nums) > t.k {
		t.nums = t.nums[:t.k]
	}
}

// Counts are the figures of /inbox status.
type Counts struct {
	Open, Unassigned, Waiting, Hold, ClosedSince int
	OpenPerAssignee                              map[string]int
}

// Count counts the conversations of inboxes by status from the indexes;
// ClosedSince counts those closed at or after since.
func (s *Store) Count(inboxes []string, since time.Time) (Counts, error) {
	n := Counts{OpenPerAssignee: map[string]int{}}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bIdxStatus).Cursor()
		for _, inbox := range inboxes {
			for _, st := range []Status{StatusOpen, StatusWaiting, StatusHold} {
				prefix := key([]byte(inbox), []byte(st), nil)
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
					switch st {
					case StatusOpen:
						n.Open++
						if who := keyPart(k, prefix); who == "" {
							n.Unassigned++
						} else {
							n.OpenPerAssignee[who]++
						}
					case StatusWaiting:
						n.Waiting++
					case StatusHold:
						n.Hold++
					}
				}
			}
			cc := tx.Bucket(bIdxClosed).Cursor()
			prefix := key([]byte(inbox), nil)
			from := closedKey(inbox, since, 0)
			for k, _ := cc.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, _ = cc.Next() {
				n.ClosedSince++
			}
		}
		return nil
	})
	return n, err
}

// TSBefore orders Slack timestamps ("1700000000.000100"): seconds, then
// microseconds, compared as numbers ("" comes first).
func TSBefore(a, b string) bool {
	as, af, _ := strings.Cut(a, ".")
	bs, bf, _ := strings.Cut(b, ".")
	if len(as) != len(bs) {
		return len(as) < len(bs)
	}
	if as != bs {
		return as < bs
	}
	return af < bf
}

// TSTime is the time a Slack timestamp stands for.
func TSTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	var us int64
	if frac != "" {
		us, _ = strconv.ParseInt((frac + "000000")[:6], 10, 64)
	}
	return time.Unix(s, us*1000)
}

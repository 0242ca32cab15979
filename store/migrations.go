package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// migration brings the schema from version-1 to version. Migrations run in
// order, each in its own transaction together with the version bump, so a
// crash leaves the file at a version it really has.
type migration struct {
	version uint64
	name    string
	apply   func(s *Store, tx *bolt.Tx) error
}

var migrations = []migration{
	{1, "create buckets", func(_ *Store, tx *bolt.Tx) error {
		return createBuckets(tx, bMailboxes, bConvs, bThreads, bMsgIDs, bToSlack, bToMail, bEvents)
	}},
	{2, "inboxes, indexes, conversation text apart, cards, parked events, participants, loop guard, tags, customers, blocked senders, event log, timers, saved replies", migrate2},
}

func createBuckets(tx *bolt.Tx, names ...[]byte) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the version a fully migrated file has.
func SchemaVersion() uint64 { return migrations[len(migrations)-1].version }

func (s *Store) migrate() error {
	for _, m := range migrations {
		err := s.db.Update(func(tx *bolt.Tx) error {
			meta, err := tx.CreateBucketIfNotExists(bMeta)
			if err != nil {
				return err
			}
			have := getU64(meta.Get(kSchema))
			if have > SchemaVersion() {
				return fmt.Errorf("database schema %d is newer than this inboxbot (%d): refusing to touch it", have, SchemaVersion())
			}
			if have >= m.version {
				return nil
			}
			if err := m.apply(s, tx); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			return meta.Put(kSchema, u64(m.version))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Schema returns the version recorded in the file.
func (s *Store) Schema() (uint64, error) {
	var v uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v = getU64(tx.Bucket(bMeta).Get(kSchema))
		return nil
	})
	return v, err
}

// v1Conv is a conversation as schema 1 stored it: summary and text in one.
type v1Conv struct {
	Conversation
	ConvText
}

type kv struct{ k, v []byte }

// all copies a bucket's pairs, so that the bucket can be changed after.
func all(b *bolt.Bucket) []kv {
	var out []kv
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		out = append(out, kv{bytes.Clone(k), bytes.Clone(v)})
	}
	return out
}

// migrate2 files schema-1 data (one inbox, one channel, nothing named)
// under the legacy inbox and channel, and builds what schema 2 keeps
// besides. Each step is one function; TestMigration2FromSchema1 checks
// what each did to a file the schema-1 store wrote.
func migrate2(s *Store, tx *bolt.Tx) error {
	if err := createBuckets(tx, bConvText, bIdxStatus, bIdxClosed, bRoots, bCards, bParked, bAutoFlood,
		bOAuth, bIdxTags, bIdxCustomer, bBlocked, bEventLog, bTimers, bSavedReplies); err != nil {
		return err
	}
	if err := s.needLegacy(tx); err != nil {
		return err
	}
	for _, step := range []func(s *Store, tx *bolt.Tx) error{
		v2Convs, v2Threads, v2Mailboxes, v2SlackJobs, v2Outbox, v2Events, v2Alive,
	} {
		if err := step(s, tx); err != nil {
			return err
		}
	}
	return nil
}

// needLegacy refuses to migrate data without the inbox and channel it
// belongs to.
func (s *Store) needLegacy(tx *bolt.Tx) error {
	has := func(name []byte) bool { k, _ := tx.Bucket(name).Cursor().First(); return k != nil }
	if (has(bConvs) || has(bMailboxes)) && s.legacy.Inbox == "" {
		return fmt.Errorf("this database holds one unnamed inbox: the inbox it belongs to must be configured to migrate it")
	}
	if has(bThreads) && s.legacy.Channel == "" {
		return fmt.Errorf("this database has Slack threads: the channel they are in must be configured to migrate it")
	}
	return nil
}

// v2Convs splits each conversation into summary and text, files it under
// the legacy inbox (and channel, once posted), lists its participants,
// logs its past, and writes its index entries.
func v2Convs(s *Store, tx *bolt.Tx) error {
	for _, p := range all(tx.Bucket(bConvs)) {
		var c v1Conv
		if err := json.Unmarshal(p.v, &c); err != nil {
			return fmt.Errorf("conversation %x: %w", p.k, err)
		}
		conv := c.Conversation
		conv.ConvText = c.ConvText
		conv.Inbox = s.legacy.Inbox
		// Schema 1 knew only the customer and the reply address: they
		// are the participants (a later mail from anyone else is flagged).
		s.addParticipants(&conv, conv.Customer, conv.ReplyTo)
		if conv.RootTS != "" {
			conv.Channel = s.legacy.Channel
		}
		if err := backfillEvents(tx, &conv); err != nil {
			return err
		}
		if err := putConv(tx, nil, &conv, true); err != nil {
			return err
		}
	}
	return nil
}

// v2Threads keys threads by channel and root ts.
func v2Threads(s *Store, tx *bolt.Tx) error {
	return rekey(tx.Bucket(bThreads), func(k []byte) []byte { return key([]byte(s.legacy.Channel), k) })
}

// v2Mailboxes keys watermarks by inbox and mailbox.
func v2Mailboxes(s *Store, tx *bolt.Tx) error {
	return rekey(tx.Bucket(bMailboxes), func(k []byte) []byte { return mailboxKey(s.legacy.Inbox, string(k)) })
}

// v2SlackJobs marks the cards of queued jobs (schema-1 jobs refreshed the
// card when they finished; cards are marked apart now), and lists a root
// post interrupted by a crash as unresolved.
func v2SlackJobs(s *Store, tx *bolt.Tx) error {
	for _, p := range all(tx.Bucket(bToSlack)) {
		var j SlackJob
		if err := json.Unmarshal(p.v, &j); err != nil {
			return fmt.Errorf("slack job %x: %w", p.k, err)
		}
		if err := markCard(tx, j.Conv); err != nil {
			return err
		}
		if j.NewConv && j.Done == 0 && j.Attempting {
			if err := tx.Bucket(bRoots).Put(p.k, []byte(s.legacy.Channel)); err != nil {
				return err
			}
		}
	}
	return nil
}

// v2Outbox sends the queued replies from the legacy inbox.
func v2Outbox(s *Store, tx *bolt.Tx) error {
	ob := tx.Bucket(bToMail)
	for _, p := range all(ob) {
		var j MailJob
		if err := json.Unmarshal(p.v, &j); err != nil {
			return fmt.Errorf("mail job %x: %w", p.k, err)
		}
		j.Inbox = s.legacy.Inbox
		if err := putJSON(ob, p.k, j); err != nil {
			return err
		}
	}
	return nil
}

// v2Events keys the dedup marks of Slack messages by channel and ts (see
// MessageKey).
func v2Events(s *Store, tx *bolt.Tx) error {
	return rekey(tx.Bucket(bEvents), func(k []byte) []byte {
		ts, ok := strings.CutPrefix(string(k), "msg:")
		if !ok || strings.Contains(ts, "/") {
			return nil
		}
		return []byte(MessageKey(s.legacy.Channel, ts))
	})
}

// v2Alive turns the one "slack_seen" mark into the legacy channel's alive
// mark.
func v2Alive(s *Store, tx *bolt.Tx) error {
	meta := tx.Bucket(bMeta)
	seen := meta.Get([]byte("slack_seen"))
	if seen == nil {
		return nil
	}
	if err := meta.Put(aliveKey(s.legacy.Channel), u64(uint64(TSTime(string(seen)).Unix()))); err != nil {
		return err
	}
	return meta.Delete([]byte("slack_seen"))
}

// rekey moves each pair of b to the key newKey gives it (nil: where it is).
func rekey(b *bolt.Bucket, newKey func(k []byte) []byte) error {
	for _, p := range all(b) {
		k := newKey(p.k)
		if k == nil {
			continue
		}
		if err := b.Delete(p.k); err != nil {
			return err
		}
		if err := b.Put(k, p.v); err != nil {
			return err
		}
	}
	return nil
}

// backfillEvents logs what a schema-1 conversation's record tells of its
// past (its opening, and its capped history of workflow changes), so that
// stats cover the time before the event log, and sets the timing it keeps
// since. Schema 1 did not record replies, but set a conversation waiting
// when one was sent: a waiting conversation was answered (when is not
// known: its latest update is the latest it can have been); an open or
// held one is taken as awaiting an answer since it was opened.
func backfillEvents(tx *bolt.Tx, c *Conversation) error {
	ev := convEvent(c, c.Created, EvOpened, "", c.Customer.Addr)
	if err := logEvent(tx, ev); err != nil {
		return err
	}
	status, owner := StatusOpen, ""
	for _, h := range c.History {
		ev := convEvent(c, h.At, 0, h.By, string(status))
		switch h.Action {
		case ActClaim, ActAssign, ActUnclaim, ActUnassign:
			switch h.Action {
			case ActClaim:
				owner = h.By
			case ActAssign:
				owner = h.Target
			default:
				owner = ""
			}
			ev.Kind, ev.Target = EvAssigned, owner
		case ActClose:
			ev.Kind, ev.Since, status = EvClosed, cycleStart(c), StatusClosed
		case ActReopen:
			if status == StatusClosed {
				c.Reopened = h.At
			}
			ev.Kind, status = EvReopened, StatusOpen
		case ActHold:
			ev.Kind, status = EvHold, StatusHold
		default:
			continue
		}
		if err := logEvent(tx, ev); err != nil {
			return err
		}
	}
	switch c.Status {
	case StatusWaiting:
		c.FirstReply, c.FirstReplyAt = c.Updated, c.Updated
	case StatusOpen, StatusHold:
		c.Awaiting = c.Created
	}
	return nil
}

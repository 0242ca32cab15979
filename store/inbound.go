package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/inboxbot/inboxbot/mailbridge/message"
)

// Watermark is how far a mailbox has been imported.
type Watermark struct {
	UIDValidity uint32    `json:"uid_validity"`
	LastUID     uint32    `json:"last_uid"`
	LastDate    time.Time `json:"last_date,omitzero"` // arrival of the last recorded mail, for re-scans
	// DedupUpTo: after a UIDVALIDITY change, mails up to this UID are
	// re-scanned and skipped when their Message-ID was already received.
	// Kept here, not in memory, so a re-scan cut short by a crash or a
	// reconnect goes on deduplicating.
	DedupUpTo uint32 `json:"dedup_up_to,omitempty"`
}

// latestLen caps the text of the latest customer mail kept for forwards.
const latestLen = 64 << 10

// msgRef is what a Message-ID key points at.
type msgRef struct {
	Conv uint64 `json:"c"`
	Out  bool   `json:"o,omitempty"` // we sent it
}

func mailboxKey(inbox, mailbox string) []byte { return key([]byte(inbox), []byte(mailbox)) }

// Watermark returns the stored watermark of an inbox's mailbox; ok is false
// before the mailbox was ever seen.
func (s *Store) Watermark(inbox, mailbox string) (w Watermark, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		ok, err = lookup(tx.Bucket(bMailboxes), mailboxKey(inbox, mailbox), &w)
		return err
	})
	return w, ok, err
}

// SetWatermark sets where importing of mailbox resumes: mail with a UID above
// lastUID is imported. Used on the very first start (lastUID = UIDNEXT-1, so
// old mail is not imported) and when UIDVALIDITY changes.
func (s *Store) SetWatermark(inbox, mailbox string, w Watermark) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bMailboxes), mailboxKey(inbox, mailbox), w)
	})
}

// Inbound is one fetched mail to record.
type Inbound struct {
	UID  uint32
	Mail *InboundMail
	// DedupByID skips the mail when its Message-ID was already received.
	// Only for re-scans after a UIDVALIDITY change: in normal operation a
	// sender reusing a Message-ID must not make us drop a mail.
	DedupByID bool
}

// SkippedRecorded is why RecordInbound skips a mail it recorded before.
const SkippedRecorded = "already recorded"

// Recorded tells what RecordInbound did with one mail.
type Recorded struct {
	UID     uint32
	Conv    uint64 // 0 when skipped
	NewConv bool
	Skipped string // why it was not queued for Slack, or ""
	// Queued is set when a queued job holds the mail: its attachments'
	// spool files are the bot's to remove. Otherwise (a skipped mail, a
	// bounce put on the reply it returns) nothing refers to them.
	Queued bool
}

// RecordInbound records fetched mails of an inbox's mailbox, in UID order, in
// one transaction: each is threaded into a conversation and queued for Slack,
// and the watermark advances past it. Mails at or below the watermark are
// skipped, so a re-fetch after a crash records nothing twice. It fails with
// ErrUIDValidity when the mailbox's UIDVALIDITY is not the one given.
func (s *Store) RecordInbound(inbox, mailbox string, uidValidity uint32, mails []Inbound) ([]Recorded, error) {
	var out []Recorded
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		mb := tx.Bucket(bMailboxes)
		var w Watermark
		if err := getJSON(mb, mailboxKey(inbox, mailbox), &w); err != nil {
			return fmt.Errorf("watermark of %q: %w", mailbox, err)
		}
		if w.UIDValidity != uidValidity {
			return fmt.Errorf("mailbox %q: stored %d, server %d: %w", mailbox, w.UIDValidity, uidValidity, ErrUIDValidity)
		}
		now := s.now()
		for _, in := range mails {
			r := Recorded{UID: in.UID}
			if in.UID <= w.LastUID {
				r.Skipped = SkippedRecorded
				out = append(out, r)
				continue
			}
			w.LastUID = in.UID
			w.LastDate = now
			conv, isNew, why, err := s.recordMail(tx, inbox, in, now, &r.Queued)
			if err != nil {
				return err
			}
			r.Conv, r.NewConv, r.Skipped = conv, isNew, why
			queued = queued || why == ""
			out = append(out, r)
		}
		return putJSON(mb, mailboxKey(inbox, mailbox), w)
	})
	if err != nil {
		return nil, err
	}
	if queued {
		kick(s.slackKick)
		kick(s.timerKick)
	}
	return out, nil
}

func (s *Store) recordMail(tx *bolt.Tx, inbox string, in Inbound, now time.Time, queued *bool) (conv uint64, isNew bool, skipped string, err error) {
	m := in.Mail
	ids := tx.Bucket(bMsgIDs)
	if m.MessageID != "" {
		var ref msgRef
		found, err := lookup(ids, []byte(m.MessageID), &ref)
		if err != nil {
			return 0, false, "", fmt.Errorf("Message-ID %s: %w", m.MessageID, err)
		}
		if found {
			if ref.Out {
				// Our own reply came back (support@ in To or Cc, or a
				// copy filed into the inbox): it is in the thread already.
				return 0, false, "our own reply", nil
			}
			if in.DedupByID {
				return 0, false, "Message-ID already received", nil
			}
			num, err := resolveMerged(tx, ref.Conv)
			if err != nil {
				return 0, false, "", err
			}
			var first Conversation
			if found, err := lookup(tx.Bucket(bConvs), u64(num), &first); err != nil {
				return 0, false, "", fmt.Errorf("conversation %d: %w", num, err)
			} else if found && first.Inbox != inbox {
				// The same mail reached another of our inboxes first
				// (To one, Cc the other): one conversation, and a line
				// in this inbox's channel pointing to it.
				pointer := *m
				pointer.Text = ""
				err := enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobPointer, Conv: first.Num, Inbox: inbox, Mail: &pointer, Created: now})
				*queued = err == nil
				return first.Num, false, "", err
			}
		}
	}
	if m.Report != nil {
		// A bounce of one of our mails goes on that mail, not into a
		// conversation of its own.
		if conv, err := s.recordBounce(tx, m, now); conv != 0 || err != nil {
			return conv, false, "", err
		}
	}
	var old *Conversation
	c := &Conversation{}
	num, err := findConv(ids, m)
	if err != nil {
		return 0, false, "", err
	}
	if num == 0 {
		if num, err = bySubject(tx, inbox, m, now); err != nil {
			return 0, false, "", err
		}
		if num != 0 {
			m.Warnings = append(m.Warnings, "threaded by its subject and sender: it named no earlier message of this conversation")
		}
	}
	if num, err = resolveMerged(tx, num); err != nil {
		return 0, false, "", err
	}
	blocked := false
	if rule := blockedRule(tx, m.From.Addr); rule != "" {
		if num == 0 {
			return 0, false, "blocked sender", stopBlocked(tx, rule, inbox, m, now)
		}
		blocked = true // it answers a conversation: shown, flagged
	}
	folded := 0
	if num == 0 && m.Auto {
		if num, folded, err = s.loopGuard(tx, m, now); err != nil {
			return 0, false, "", err
		}
		if num, err = resolveMerged(tx, num); err != nil {
			return 0, false, "", err
		}
	}
	if num != 0 {
		if old, err = getConv(tx, num); err != nil {
			return 0, false, "", err
		}
		c = old.mutable()
		conv = num
	} else {
		meta := tx.Bucket(bMeta)
		conv = getU64(meta.Get(kNextConv)) + 1
		if err := meta.Put(kNextConv, u64(conv)); err != nil {
			return 0, false, "", err
		}
		isNew = true
		first := *m
		first.Text = ""
		*c = Conversation{
			Num:      conv,
			Inbox:    inbox,
			Subject:  m.Subject,
			Customer: m.From,
			Created:  now,
			Status:   StatusOpen,
			// The card shows what the customer wrote, not the history
			// they quoted (the thread has the whole mail).
			ConvText: ConvText{Preview: truncate(m.NewText(), previewLen), First: &first},
		}
		if m.Auto {
			if err := s.autoOpened(tx, m, now, conv); err != nil {
				return 0, false, "", err
			}
		}
		if c.Earlier, err = earlier(tx, inbox, m.From.Addr, conv); err != nil {
			return 0, false, "", err
		}
	}
	c.Updated = now
	var reopened, kept *Change
	stranger := false
	if !m.Auto && !blocked {
		// A mail from an address that is not in the conversation joined
		// it only by its headers: shown, but it redirects nothing.
		stranger = !isNew && !isParticipant(c, m.From.Addr)
		c.LastHumanAt, c.LastHumanFrom = now, m.From.Addr
		if !stranger {
			// Replies go to the latest human sender, and to whom else
			// they wrote; an auto-reply must not redirect them to a robot.
			c.ReplyTo = m.From
			if m.ReplyTo != nil && m.ReplyTo.Addr != "" {
				c.ReplyTo = *m.ReplyTo
			}
			c.Cc = s.ccOf(c, c.ReplyTo, []string{m.From.Addr}, m.To, m.Cc, c.MergedCc)
			s.addParticipants(c, append([]Address{m.From, c.ReplyTo}, c.Cc...)...)
			if m.MessageID != "" {
				c.LastInbound = m.MessageID
				c.ParentRefs = capIDs(m.References)
			}
			latest := *m
			latest.Text = truncate(m.Text, latestLen)
			c.Latest = &latest
			c.LatestFiles = nil // its files are uploaded from now on
		}
		if thanks := !isNew && !stranger && old.Status == StatusClosed && message.IsThanks(m.NewText()); thanks {
			// A thank-you needs no answer: reopening for it would
			// bring back a closed conversation and start a response
			// clock for nothing. It is shown, and the thread says so.
			kept = &Change{At: now, Action: ActKeptClosed, Target: "thanks"}
			c.History = append(c.History, *kept)
		} else if !isNew && c.Status != StatusOpen {
			c.Status = StatusOpen
			c.ClosedAt = time.Time{}
			reopened = &Change{At: now, Action: ActReopen, Target: "customer"}
			c.History = append(c.History, *reopened)
			if old.Status == StatusClosed {
				c.Reopened = now
			}
		}
		if c.Awaiting.IsZero() && kept == nil {
			c.Awaiting = now // a person waits for an answer; a robot does not
		}
	} else if isNew {
		c.ReplyTo = m.From
		s.addParticipants(c, m.From)
	}
	if !m.Auto && !blocked && kept == nil {
		s.startClock(c, now) // someone waits for an answer (timers.go)
	}
	if m.MessageID != "" {
		c.Chain = appendID(c.Chain, m.MessageID)
		if ids.Get([]byte(m.MessageID)) == nil {
			if err := putJSON(ids, []byte(m.MessageID), msgRef{Conv: conv}); err != nil {
				return 0, false, "", err
			}
		}
	}
	if err := putConv(tx, old, c, true); err != nil {
		return 0, false, "", err
	}
	ev := convEvent(c, now, EvReceived, "", m.From.Addr)
	if isNew {
		ev.Kind = EvOpened
	}
	ev.Auto = m.Auto
	if err := logEvent(tx, ev); err != nil {
		return 0, false, "", err
	}
	if reopened != nil {
		if err := logEvent(tx, convEvent(c, now, EvReopened, "", string(old.Status))); err != nil {
			return 0, false, "", err
		}
		if err := markCard(tx, conv); err != nil {
			return 0, false, "", err
		}
	}
	if err := enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobMail, Conv: conv, Mail: m, NewConv: isNew, Created: now,
		NewAddress: stranger, Folded: folded, Blocked: blocked}); err != nil {
		return 0, false, "", err
	}
	*queued = true
	for _, ch := range []*Change{reopened, kept} {
		if ch == nil {
			continue
		}
		// After the mail, so the thread reads: the answer, then the line.
		if err := enqueueActivity(tx, conv, *ch, now); err != nil {
			return 0, false, "", err
		}
	}
	return conv, isNew, "", nil
}

// findConv threads a mail: In-Reply-To first, then References newest first,
// against every Message-ID a conversation has received or sent.
func findConv(ids *bolt.Bucket, m *InboundMail) (uint64, error) {
	for _, id := range threadIDs(m) {
		if id == "" {
			continue
		}
		var ref msgRef
		if found, err := lookup(ids, []byte(id), &ref); err != nil {
			return 0, fmt.Errorf("Message-ID %s: %w", id, err)
		} else if found && ref.Conv != 0 {
			return ref.Conv, nil
		}
	}
	return 0, nil
}

// threadIDs are the Message-IDs a mail names as its parents, in the order
// they are tried: In-Reply-To, then References newest first.
func threadIDs(m *InboundMail) []string {
	ids := slices.Clone(m.InReplyTo)
	for i := len(m.References) - 1; i >= 0; i-- {
		ids = append(ids, m.References[i])
	}
	return ids
}

func appendID(chain []string, id string) []string {
	for _, have := range chain {
		if have == id {
			return chain
		}
	}
	return capIDs(append(chain, id))
}

// capIDs keeps the first ID (the thread's origin, which clients use as the
// thread key) and the newest ones.
func capIDs(ids []string) []string {
	if len(ids) <= maxChain {
		return ids
	}
	out := append([]string{ids[0]}, ids[len(ids)-maxChain+1:]...)
	return out
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.TrimRight(s[:n], " \n") + "…"
}

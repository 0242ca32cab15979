package store

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/inboxbot/inboxbot/mailbridge/message"
)

// ---- mail → Slack -------------------------------------------------------

// SlackJobs returns the queued Slack jobs, oldest first.
func (s *Store) SlackJobs() (jobs []SlackJob, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		jobs, err = list[SlackJob](tx.Bucket(bToSlack), nil)
		return err
	})
	return jobs, err
}

func (s *Store) updateSlackJob(tx *bolt.Tx, seq uint64, f func(j *SlackJob) error) error {
	return update(tx.Bucket(bToSlack), u64(seq), "slack job", f)
}

// BeginSlackPart records that part job.Done is about to be sent. If the
// process dies before SlackPartDone, the next run finds Attempting set and
// must find out whether Slack has the post before sending it again.
func (s *Store) BeginSlackPart(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.updateSlackJob(tx, seq, func(j *SlackJob) error {
			j.Attempting = true
			return nil
		})
	})
}

// SlackPartDone records that the current part of a job is in Slack. With a
// rootTS, the part was the conversation's root message: the thread mapping
// is recorded in the same transaction.
func (s *Store) SlackPartDone(seq uint64, rootTS string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var conv uint64
		err := s.updateSlackJob(tx, seq, func(j *SlackJob) error {
			j.Done++
			j.Attempting, j.Attempts, j.NextAttempt, j.LastError = false, 0, time.Time{}, ""
			conv = j.Conv
			return nil
		})
		if err != nil || rootTS == "" {
			return err
		}
		return s.updateConv(tx, conv, func(c *Conversation) error {
			c.RootTS = rootTS
			return tx.Bucket(bThreads).Put([]byte(rootTS), u64(conv))
		})
	})
}

// RetrySlackJob records a failed attempt of the current part, to retry at
// next. unknown says Slack may have carried it out all the same (the answer
// was lost): the attempt then stays marked, to be looked up before a repost.
func (s *Store) RetrySlackJob(seq uint64, next time.Time, why string, unknown bool) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.updateSlackJob(tx, seq, func(j *SlackJob) error {
			j.Attempting = j.Attempting && unknown
			j.Attempts++
			j.NextAttempt = next
			j.LastError = why
			return nil
		})
	})
}

// FinishSlackJob removes a fully posted job.
func (s *Store) FinishSlackJob(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bToSlack).Delete(u64(seq))
	})
}

// ---- conversations -------------------------------------------------------

// Conv returns conversation num.
func (s *Store) Conv(num uint64) (*Conversation, error) {
	var c Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bConvs), u64(num), &c)
	})
	if err != nil {
		return nil, fmt.Errorf("conversation %d: %w", num, err)
	}
	return &c, nil
}

// ConvByThread returns the conversation whose Slack root message is rootTS.
func (s *Store) ConvByThread(rootTS string) (*Conversation, error) {
	var c Conversation
	err := s.db.View(func(tx *bolt.Tx) error {
		num := getU64(tx.Bucket(bThreads).Get([]byte(rootTS)))
		if num == 0 {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bConvs), u64(num), &c)
	})
	if err != nil {
		return nil, fmt.Errorf("thread %s: %w", rootTS, err)
	}
	return &c, nil
}

// Convs returns every conversation for which keep is true, in number order.
func (s *Store) Convs(keep func(*Conversation) bool) (convs []Conversation, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		convs, err = list(tx.Bucket(bConvs), keep)
		return err
	})
	return convs, err
}

func (s *Store) updateConv(tx *bolt.Tx, num uint64, f func(c *Conversation) error) error {
	return update(tx.Bucket(bConvs), u64(num), "conversation", f)
}

// ---- Slack events ---------------------------------------------------------

// seen reports whether any of keys was recorded, and records them all.
func seen(tx *bolt.Tx, now time.Time, keys ...string) (bool, error) {
	b := tx.Bucket(bEvents)
	for _, k := range keys {
		if k != "" && b.Get([]byte(k)) != nil {
			return true, nil
		}
	}
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := b.Put([]byte(k), u64(uint64(now.Unix()))); err != nil {
			return false, err
		}
	}
	return false, nil
}

// PruneEvents forgets Slack events handled before cutoff. Slack redelivers
// for minutes, not days, so a week of memory is plenty.
func (s *Store) PruneEvents(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if int64(getU64(v)) < cutoff.Unix() {
				if err := c.Delete(); err != nil {
					return err
				}
				n++
			}
		}
		return nil
	})
	return n, err
}

// ---- Slack → mail -----------------------------------------------------------

// Reply is an agent's thread reply to send as mail.
type Reply struct {
	EventID   string // Slack event_id, for redelivery dedup
	Conv      uint64
	SlackTS   string // ts of the agent's message
	AgentID   string
	AgentName string
	Text      string
	MessageID string // pre-generated, canonical (no <>)
}

// ErrDuplicate is returned by EnqueueReply for an event already acted on.
var ErrDuplicate = fmt.Errorf("event already handled")

// EnqueueReply puts a reply into the outbox, fixing its recipients and
// threading headers from the conversation, and records the Slack event so a
// redelivery is refused with ErrDuplicate. The reply's Message-ID is mapped to
// the conversation at once, so the customer's answer threads even if it
// arrives before the send is confirmed.
func (s *Store) EnqueueReply(r Reply) (*MailJob, error) {
	var job MailJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		dup, err := seen(tx, now, "ev:"+r.EventID, "msg:"+r.SlackTS)
		if err != nil {
			return err
		}
		if dup {
			return ErrDuplicate
		}
		if meta := tx.Bucket(bMeta); TSBefore(string(meta.Get(kSlackSeen)), r.SlackTS) {
			if err := meta.Put(kSlackSeen, []byte(r.SlackTS)); err != nil {
				return err
			}
		}
		return s.updateConv(tx, r.Conv, func(c *Conversation) error {
			job = MailJob{
				Conv: c.Num, MessageID: r.MessageID, To: c.ReplyTo,
				Subject: message.ReplySubject(c.Subject), InReplyTo: c.LastInbound,
				References: replyRefs(c), AgentID: r.AgentID, AgentName: r.AgentName,
				Text: r.Text, SlackTS: r.SlackTS, Created: now,
			}
			if job.To.Addr == "" {
				job.To = c.Customer
			}
			c.Chain = appendID(c.Chain, r.MessageID)
			c.Updated = now
			if c.Assignee == "" {
				// Whoever answers an unassigned conversation owns it.
				c.Assignee = r.AgentID
				ch := Change{At: now, By: r.AgentID, Action: ActClaim, Target: "reply"}
				c.History = append(c.History, ch)
				if err := enqueueActivity(tx, c.Num, ch, now); err != nil {
					return err
				}
			}
			if err := putJSON(tx.Bucket(bMsgIDs), []byte(r.MessageID), msgRef{Conv: c.Num, Out: true}); err != nil {
				return err
			}
			q := tx.Bucket(bToMail)
			if job.Seq, err = q.NextSequence(); err != nil {
				return err
			}
			return putJSON(q, u64(job.Seq), job)
		})
	})
	if err != nil {
		return nil, err
	}
	kick(s.mailKick)
	kick(s.slackKick)
	return &job, nil
}

// SlackSeen is the ts of the newest thread reply queued as mail ("" before
// the first): replies after it that Slack never delivered are looked for
// at start-up.
func (s *Store) SlackSeen() (ts string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		ts = string(tx.Bucket(bMeta).Get(kSlackSeen))
		return nil
	})
	return ts, err
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

// MarkEvent records a Slack event that needs no outbox entry; it returns
// true when the event was already recorded.
func (s *Store) MarkEvent(eventID string) (dup bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		dup, err = seen(tx, s.now(), "ev:"+eventID)
		return err
	})
	return dup, err
}

// replyRefs builds References for a reply: the parent's References plus the
// parent, or, when the customer's client sent none, the conversation's chain.
func replyRefs(c *Conversation) []string {
	var refs []string
	if len(c.ParentRefs) > 0 {
		refs = append(refs, c.ParentRefs...)
	} else {
		for _, id := range c.Chain {
			if id == c.LastInbound {
				break
			}
			refs = append(refs, id)
		}
	}
	if c.LastInbound != "" {
		refs = appendID(refs, c.LastInbound)
	}
	return capIDs(refs)
}

// MailJobs returns the outbox, oldest first.
func (s *Store) MailJobs() (jobs []MailJob, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		jobs, err = list[MailJob](tx.Bucket(bToMail), nil)
		return err
	})
	return jobs, err
}

func (s *Store) updateMailJob(tx *bolt.Tx, seq uint64, f func(j *MailJob)) error {
	return update(tx.Bucket(bToMail), u64(seq), "mail job", func(j *MailJob) error { f(j); return nil })
}

// BeginMailAttempt records an attempt before the SMTP session starts: should
// the process die during it, the job is retried at next, not at once and
// not never. The retry reuses the Message-ID, so a mail that did go out is
// recognised as the same message by the recipient's client.
func (s *Store) BeginMailAttempt(seq uint64, next time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.updateMailJob(tx, seq, func(j *MailJob) {
			j.Attempts++
			j.NextAttempt = next
		})
	})
}

// MailRetry records a temporary failure.
func (s *Store) MailRetry(seq uint64, next time.Time, why string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return s.updateMailJob(tx, seq, func(j *MailJob) {
			j.NextAttempt = next
			j.LastError = why
		})
	})
}

// MailDone removes a job from the outbox and queues the outcome for Slack:
// sent (the conversation now waits on the customer) or failed with why.
func (s *Store) MailDone(seq uint64, failure string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		q := tx.Bucket(bToMail)
		var j MailJob
		if err := getJSON(q, u64(seq), &j); err != nil {
			return fmt.Errorf("mail job %d: %w", seq, err)
		}
		if err := q.Delete(u64(seq)); err != nil {
			return err
		}
		now := s.now()
		kind := JobSent
		if failure != "" {
			kind = JobFailed
		} else if err := s.updateConv(tx, j.Conv, func(c *Conversation) error {
			if c.Status == StatusOpen {
				c.Status = StatusWaiting
			}
			c.Updated = now
			return nil
		}); err != nil {
			return err
		}
		sq := tx.Bucket(bToSlack)
		next, err := sq.NextSequence()
		if err != nil {
			return err
		}
		return putJSON(sq, u64(next), SlackJob{
			Seq: next, Kind: kind, Conv: j.Conv, ReplyTS: j.SlackTS,
			To: j.To.String(), Error: failure, Created: now,
		})
	})
	if err == nil {
		kick(s.slackKick)
	}
	return err
}

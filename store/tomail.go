package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The Slack → mail queue (the outbox).

// Reply is an agent's thread reply to send as mail.
type Reply struct {
	EventID   string // Slack event_id, for redelivery dedup
	Conv      uint64
	Channel   string // where the agent's message is
	SlackTS   string // ts of the agent's message
	AgentID   string
	AgentName string
	Text      string
	MessageID string // pre-generated, canonical (no <>)
	// Recipients changes who this reply goes to.
	Recipients Recipients
	// HoldUntil, when set, holds the reply until then (and until the bot
	// releases it, see ReleaseReply); zero queues it for sending at once.
	HoldUntil time.Time
	EditedTS  string // the Slack edit Text is from, "" the original
	// Composed is set for a reply written in the composer: its Slack
	// message is the bot's, and its text is Text, not the message's.
	Composed bool
	// Files are the files shared with the message, sent as attachments.
	Files []MailFile
}

// ErrDuplicate is returned for a Slack event already acted on.
var ErrDuplicate = errors.New("event already handled")

// MessageKey is the dedup key of a Slack message: a ts is unique only
// within its channel.
func MessageKey(channel, ts string) string { return "msg:" + channel + "/" + ts }

// maxReplies is how many replies a conversation remembers the fate of.
const maxReplies = 30

// Ownership shown when someone replies in a conversation someone else owns.
const ActReplyOver = "replied_over"

// EnqueueReply puts a reply into the outbox, held or ready to send, fixing
// its recipients and threading headers from the conversation, and records
// the Slack event so a redelivery is refused with ErrDuplicate. The reply's
// Message-ID is mapped to the conversation at once, so the customer's answer
// threads even if it arrives before the send is confirmed. A held reply's
// mark (JobHeld) is queued with it.
func (s *Store) EnqueueReply(r Reply) (*MailJob, error) {
	var job *MailJob
	err := s.db.Update(func(tx *bolt.Tx) (err error) {
		job, err = s.enqueueReply(tx, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.replyKicks(job)
	return job, nil
}

// replyKicks wakes whoever a newly queued reply concerns.
func (s *Store) replyKicks(job *MailJob) {
	if job.Held {
		kick(s.heldKick)
	} else {
		kick(s.mailKick)
	}
	kick(s.slackKick)
}

// enqueueReply is EnqueueReply in tx.
func (s *Store) enqueueReply(tx *bolt.Tx, r Reply) (*MailJob, error) {
	var job MailJob
	now := s.now()
	dup, err := seen(tx, now, "ev:"+r.EventID, MessageKey(r.Channel, r.SlackTS))
	if err != nil {
		return nil, err
	}
	if dup {
		return nil, ErrDuplicate
	}
	_, err = updateConv(tx, r.Conv, func(c *Conversation) error {
		if err := notMerged(c); err != nil {
			return err
		}
		job = MailJob{
			Conv: c.Num, Inbox: c.Inbox, MessageID: r.MessageID, AgentID: r.AgentID, AgentName: r.AgentName,
			Text: r.Text, SlackTS: r.SlackTS, Channel: r.Channel, Created: now, EditedTS: r.EditedTS,
			Held: !r.HoldUntil.IsZero(), HoldUntil: r.HoldUntil, Recipients: r.Recipients, Composed: r.Composed, Files: r.Files,
		}
		s.address(&job, r.Recipients, c)
		if err := spare(tx, &job); err != nil {
			return err
		}
		state := ReplyQueued
		if job.Held {
			state = ReplyHeld
		} else {
			s.addParticipants(c, append([]Address{job.To}, job.Cc...)...)
			replied(c, now)
		}
		c.Chain = appendID(c.Chain, r.MessageID)
		c.Updated = now
		switch c.Assignee {
		case "":
			// Whoever answers an unassigned conversation owns it.
			c.Assignee = r.AgentID
			if err := logEvent(tx, convEvent(c, now, EvAssigned, r.AgentID, r.AgentID)); err != nil {
				return err
			}
			if err := recordChange(tx, c, Change{At: now, By: r.AgentID, Action: ActClaim, Target: "reply"}); err != nil {
				return err
			}
		case r.AgentID:
		default:
			// Allowed, but nobody should learn it from the customer.
			if err := recordChange(tx, c, Change{At: now, By: r.AgentID, Action: ActReplyOver, Target: c.Assignee}); err != nil {
				return err
			}
		}
		if err := putJSON(tx.Bucket(bMsgIDs), []byte(r.MessageID), msgRef{Conv: c.Num, Out: true}); err != nil {
			return err
		}
		if err := enqueue(tx.Bucket(bToMail), &job); err != nil {
			return err
		}
		c.Replies = capReplies(append(c.Replies, ReplyRef{
			Seq: job.Seq, SlackTS: r.SlackTS, AgentID: r.AgentID, MessageID: r.MessageID, InReplyTo: c.LastInbound,
			State: state, At: now, To: job.To.String(), Written: TSTime(r.SlackTS),
		}))
		if !job.Held {
			return nil
		}
		return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobHeld, Conv: c.Num, ReplyTS: r.SlackTS, Created: now})
	})
	if err != nil {
		return nil, err
	}
	return &job, nil
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

// MailJobsAfter returns up to n outbox jobs after seq, oldest first.
func (s *Store) MailJobsAfter(seq uint64, n int) (jobs []MailJob, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		jobs, err = after[MailJob](tx.Bucket(bToMail), seq, n)
		return err
	})
	return jobs, err
}

// MailJobs returns the whole outbox, oldest first.
func (s *Store) MailJobs() ([]MailJob, error) { return s.MailJobsAfter(0, 1<<30) }

func updateMailJob(tx *bolt.Tx, seq uint64, f func(j *MailJob) error) error {
	return update(tx.Bucket(bToMail), u64(seq), "mail job", f)
}

// BeginMailAttempt records an attempt before the SMTP session starts: should
// the process die during it, the job is retried at next, not at once and
// not never. The retry reuses the Message-ID, so a mail that did go out is
// recognised as the same message by the recipient's client.
func (s *Store) BeginMailAttempt(seq uint64, next time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return updateMailJob(tx, seq, func(j *MailJob) error {
			j.Attempts++
			j.NextAttempt = next
			return nil
		})
	})
}

// MailRetry records a temporary failure.
func (s *Store) MailRetry(seq uint64, next time.Time, why string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return updateMailJob(tx, seq, func(j *MailJob) error {
			j.NextAttempt = next
			j.LastError = why
			return nil
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
		kind, state := JobSent, ReplySent
		if failure != "" {
			kind, state = JobFailed, ReplyFailed
		}
		_, err := updateConv(tx, j.Conv, func(c *Conversation) error {
			setReplyState(c, seq, state, failure, now)
			if failure != "" || j.Forward {
				return nil
			}
			if err := logReply(tx, c, j.AgentID, now); err != nil {
				return err
			}
			if c.Status == StatusOpen {
				c.Status = StatusWaiting
			}
			s.armAutoClose(c, now)
			c.LastAgent = j.AgentID
			c.Updated = now
			return markCard(tx, c.Num)
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return enqueue(tx.Bucket(bToSlack), &SlackJob{
			Kind: kind, Conv: j.Conv, ReplyTS: j.SlackTS, To: recipientsText(j), Error: failure, Created: now,
			Forward: j.Forward, By: j.AgentID,
		})
	})
	if err == nil {
		kick(s.slackKick)
		kick(s.timerKick)
	}
	return err
}

// recipientsText names whom a mail went to, for the lines about it.
func recipientsText(j MailJob) string {
	out := j.To.String()
	for _, a := range j.Cc {
		out += ", " + a.String()
	}
	return out
}

// logReply logs a reply of agent to conversation c sent at now: the
// customer's wait, if any, is over.
func logReply(tx *bolt.Tx, c *Conversation, agent string, now time.Time) error {
	ev := convEvent(c, now, EvReplied, agent, "")
	ev.Since = c.Awaiting
	ev.First = c.FirstReply.IsZero() && !c.Outbound
	c.Awaiting = time.Time{}
	if c.FirstReply.IsZero() {
		c.FirstReply = now
	}
	return logEvent(tx, ev)
}

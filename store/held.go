package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The hold window. A reply is queued held (EnqueueReply with HoldUntil):
// the sender does not see it. The bot drives held replies on a durable
// timer, the job's HoldUntil: when it falls due, the bot reads the Slack
// message again (an edit or a deletion may have been missed while it was
// down) and calls ReleaseReply, which checks for collisions in the same
// transaction as the release. Nothing is released without that fresh look,
// so a restart inside the window neither sends early, nor sends the text
// from before an edit, nor loses the reply.
//
// Every transition is one transaction with the line or mark it shows in
// Slack (queued for the poster) and, for Slack events, the event's dedup
// mark: a redelivered edit does nothing twice.

// QuestionTTL is how long a held reply waits for its author's answer.
const QuestionTTL = 24 * time.Hour

// Errors of the hold window's transitions.
var (
	ErrNotHeld   = errors.New("the reply is not held any more")
	ErrNotAuthor = errors.New("not the reply's author")
)

// HeldJobs returns the outbox jobs that are held, oldest first. Like the
// sender, it reads the outbox a slice at a time, and it decodes in full
// only the held jobs: a backlog waiting for a dead SMTP server is not
// decoded at every wake-up of the hold window.
func (s *Store) HeldJobs() ([]MailJob, error) {
	var out []MailJob
	for seq, more := uint64(0), true; more; {
		err := s.db.View(func(tx *bolt.Tx) error {
			var err error
			seq, more, err = heldAfter(tx.Bucket(bToMail), seq, &out)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// heldAfter appends to out the held jobs among up to queueSlice outbox jobs
// after seq, and returns the last seq it read and whether more may follow.
func heldAfter(b *bolt.Bucket, seq uint64, out *[]MailJob) (uint64, bool, error) {
	c := b.Cursor()
	n := 0
	for k, v := c.Seek(u64(seq + 1)); k != nil; k, v = c.Next() {
		if n == queueSlice {
			return seq, true, nil
		}
		n++
		seq = getU64(k)
		var probe struct {
			Held bool `json:"held"`
		}
		if err := json.Unmarshal(v, &probe); err != nil {
			return seq, false, fmt.Errorf("mail job %d: %w", seq, err)
		}
		if !probe.Held {
			continue
		}
		var j MailJob
		if err := json.Unmarshal(v, &j); err != nil {
			return seq, false, fmt.Errorf("mail job %d: %w", seq, err)
		}
		*out = append(*out, j)
	}
	return seq, false, nil
}

// MailJob returns outbox job seq (ErrNotFound once it is gone).
func (s *Store) MailJob(seq uint64) (*MailJob, error) {
	var j MailJob
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := getJSON(tx.Bucket(bToMail), u64(seq), &j); err != nil {
			return fmt.Errorf("mail job %d: %w", seq, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// heldJob reads job seq in tx; it must be held (ErrNotHeld).
func heldJob(tx *bolt.Tx, seq uint64) (*MailJob, error) {
	var j MailJob
	err := getJSON(tx.Bucket(bToMail), u64(seq), &j)
	if errors.Is(err, ErrNotFound) || (err == nil && !j.Held) {
		return nil, ErrNotHeld
	}
	if err != nil {
		return nil, fmt.Errorf("mail job %d: %w", seq, err)
	}
	return &j, nil
}

// Look is what the bot saw of a held reply's Slack message when it read it
// again.
type Look struct {
	Text       string // the mail's text (signature included)
	Recipients Recipients
	Files      []MailFile // the files the message shares now
	EditedTS   string     // the message's edit, "" if never edited
	// QuestionTTL is how long the author has to answer if asked
	// (default QuestionTTL).
	QuestionTTL time.Duration
}

// ReleaseReply releases held reply seq to the sender, with the text and
// recipients of look unless an edit newer than look was applied meanwhile
// (EditReply). If something happened while the reply was held that its
// author did not know when they wrote it (the customer wrote again, or
// another agent's reply to the same mail was queued or sent after it), the
// reply is not released: the author is asked (the returned Question),
// and it stays held until they answer (SendNow, CancelReply) or the
// question expires. It fails with ErrNotHeld when the reply is not held,
// or waits for an answer; and with ErrBlocked, the reply cancelled, when
// its To is blocked.
func (s *Store) ReleaseReply(seq uint64, look Look) (*MailJob, *Question, error) {
	var job *MailJob
	var asked *Question
	var blocked error
	err := s.db.Update(func(tx *bolt.Tx) error {
		j, err := heldJob(tx, seq)
		if err != nil {
			return err
		}
		if j.Question != nil {
			return ErrNotHeld
		}
		now := s.now()
		if !TSBefore(look.EditedTS, j.EditedTS) {
			j.Text, j.Recipients, j.EditedTS = look.Text, look.Recipients, look.EditedTS
			j.Files, j.FilesReady = look.Files, false
		}
		unaddressed := *j
		_, err = updateConv(tx, j.Conv, func(c *Conversation) error {
			s.address(j, j.Recipients, c)
			if err := spare(tx, j); err != nil {
				return err
			}
			if why := clashes(c, j); len(why) > 0 {
				ttl := look.QuestionTTL
				if ttl <= 0 {
					ttl = QuestionTTL
				}
				asked = &Question{Asked: now, Expires: now.Add(ttl), Why: why}
				j.Question = asked
				return nil
			}
			j.Held = false
			j.NextAttempt = time.Time{}
			replied(c, now)
			if r := setReplyState(c, seq, ReplyQueued, "", now); r != nil {
				r.To, r.EditedTS = j.To.String(), j.EditedTS
			}
			s.addParticipants(c, append([]Address{j.To}, j.Cc...)...)
			return nil
		})
		if errors.Is(err, ErrBlocked) {
			// Blocked since it was written: never sent (a new reply to
			// someone else may be).
			blocked = err
			return s.cancelWhy(tx, &unaddressed, EventInvalid, "", err.Error())
		}
		if err != nil {
			return err
		}
		job = j
		return putJSON(tx.Bucket(bToMail), u64(seq), j)
	})
	if err != nil {
		return nil, nil, err
	}
	if blocked != nil {
		kick(s.slackKick)
		return nil, nil, blocked
	}
	if asked == nil {
		kick(s.mailKick)
	} else {
		kick(s.heldKick) // its expiry is a new time to wake at
	}
	return job, asked, nil
}

// clashes lists what happened while reply j was held that its author did
// not know of: what came after they wrote it, and after they last chose
// to send anyway.
func clashes(c *Conversation, j *MailJob) []Clash {
	own := replyRef(c, bySeq(j.Seq))
	if own == nil {
		return nil
	}
	since := own.Written
	if j.AckedUpTo.After(since) {
		since = j.AckedUpTo
	}
	var out []Clash
	if c.LastHumanAt.After(since) {
		out = append(out, Clash{Customer: true, Who: c.LastHumanFrom, At: c.LastHumanAt})
	}
	for _, r := range c.Replies {
		if r.Seq == j.Seq || r.Forward || r.AgentID == j.AgentID || r.InReplyTo != own.InReplyTo || !r.Written.After(since) {
			continue
		}
		switch r.State {
		case ReplyHeld, ReplyQueued, ReplySent, ReplyBounced:
			out = append(out, Clash{Who: r.AgentID, At: r.Written, State: r.State})
		}
	}
	return out
}

// QuestionShown records that the author of held reply seq was shown its
// question.
func (s *Store) QuestionShown(seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		j, err := heldJob(tx, seq)
		if err != nil || j.Question == nil {
			return err
		}
		j.Question.Notified = true
		return putJSON(tx.Bucket(bToMail), u64(seq), j)
	})
}

// SendNow ends held reply seq's window now, for its author by: the bot
// looks at it again and releases it at once. While the author is asked
// about a collision, it is their answer "send anyway": what they were
// shown no longer holds the reply back (something new would).
func (s *Store) SendNow(seq uint64, by string) (*MailJob, error) {
	j, err := s.byAuthor(seq, by, func(tx *bolt.Tx, j *MailJob) error {
		now := s.now()
		if j.Question != nil {
			j.AckedUpTo = now
			j.Question = nil
		}
		j.HoldUntil = now
		return putJSON(tx.Bucket(bToMail), u64(seq), j)
	})
	if err == nil {
		kick(s.heldKick)
	}
	return j, err
}

// CancelReply cancels held reply seq for its author by (the Cancel
// button): it is never sent.
func (s *Store) CancelReply(seq uint64, by string) (*MailJob, error) {
	j, err := s.byAuthor(seq, by, func(tx *bolt.Tx, j *MailJob) error {
		return s.cancel(tx, j, EventCancelled, by)
	})
	if err == nil {
		kick(s.slackKick)
	}
	return j, err
}

// byAuthor runs f on held reply seq in one transaction, for its author
// only (ErrNotAuthor).
func (s *Store) byAuthor(seq uint64, by string, f func(tx *bolt.Tx, j *MailJob) error) (*MailJob, error) {
	var out *MailJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		j, err := heldJob(tx, seq)
		if err != nil {
			return err
		}
		if j.AgentID != by {
			return ErrNotAuthor
		}
		out = j
		return f(tx, j)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ExpireQuestion cancels held reply seq if its question is unanswered past
// its expiry; it reports whether it did.
func (s *Store) ExpireQuestion(seq uint64) (bool, error) {
	done := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		j, err := heldJob(tx, seq)
		if err != nil || j.Question == nil || s.now().Before(j.Question.Expires) {
			return err
		}
		done = true
		return s.cancel(tx, j, EventExpired, "")
	})
	if errors.Is(err, ErrNotHeld) {
		err = nil
	}
	if done {
		kick(s.slackKick)
	}
	return done, err
}

// CancelHeld cancels held reply seq because of what the bot saw when it
// looked at its Slack message again (EventDeleted, EventNote, EventInvalid
// with why).
func (s *Store) CancelHeld(seq uint64, event, why string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		j, err := heldJob(tx, seq)
		if err != nil {
			return err
		}
		return s.cancelWhy(tx, j, event, "", why)
	})
	if err == nil {
		kick(s.slackKick)
	}
	return err
}

// cancel removes held job j for good: its Message-ID no longer threads
// anything, its fate is recorded, and its hold mark gives way to a line
// saying why it was not sent.
func (s *Store) cancel(tx *bolt.Tx, j *MailJob, event, by string) error {
	return s.cancelWhy(tx, j, event, by, "")
}

func (s *Store) cancelWhy(tx *bolt.Tx, j *MailJob, event, by, why string) error {
	if err := tx.Bucket(bToMail).Delete(u64(j.Seq)); err != nil {
		return err
	}
	if err := tx.Bucket(bMsgIDs).Delete([]byte(j.MessageID)); err != nil {
		return err
	}
	now := s.now()
	_, err := updateConv(tx, j.Conv, func(c *Conversation) error {
		c.Chain = slices.DeleteFunc(c.Chain, func(id string) bool { return id == j.MessageID })
		setReplyState(c, j.Seq, ReplyCancelled, event, now)
		return nil
	})
	if err != nil {
		return err
	}
	return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobCancelled, Conv: j.Conv, ReplyTS: j.SlackTS, Event: event, By: by,
		To: recipientsText(*j), Error: why, Created: now})
}

// Edit is an edit or deletion of an agent's Slack message in a
// conversation's thread.
type Edit struct {
	EventID  string // Slack event_id: a redelivery does nothing
	Conv     uint64
	SlackTS  string // the message
	EditedTS string // the edit ("" for a deletion)
	Deleted  bool
	// What the edited message now is: a note, or a mail with this text
	// and these recipients, or (Invalid) a mail whose recipients are not
	// addresses (the held mail is left as it was, and the thread says so).
	Note       bool
	Text       string
	Recipients Recipients
	Invalid    string
}

// EditReply applies an edit or deletion of a reply's Slack message. Inside
// the hold window the mail follows: an edit changes its text, an edit into
// a note or a deletion cancels it. After the window the thread is told the
// customer has the mail as it was. A message that is not a reply, or a
// reply that was cancelled or failed, is left alone. It returns the event
// recorded (Event*; "" nothing), or ErrDuplicate for a redelivery.
func (s *Store) EditReply(e Edit) (string, error) {
	event := ""
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if err := once(tx, now, e.EventID); err != nil {
			return err
		}
		c, err := getConv(tx, e.Conv)
		if err != nil {
			return err
		}
		ref := replyRef(c, byTS(e.SlackTS))
		if ref == nil {
			return nil
		}
		line := func(ev string, at time.Time, state string) error {
			event = ev
			return enqueue(tx.Bucket(bToSlack), &SlackJob{Kind: JobReplyLine, Conv: c.Num, ReplyTS: e.SlackTS, Event: ev,
				At: at, Error: state, To: ref.To, Created: now})
		}
		switch ref.State {
		case ReplyHeld:
			j, err := heldJob(tx, ref.Seq)
			if err != nil {
				return err
			}
			switch {
			case e.Deleted:
				event = EventDeleted
				return s.cancel(tx, j, EventDeleted, "")
			case e.Note:
				event = EventNote
				return s.cancel(tx, j, EventNote, "")
			case e.Invalid != "":
				return line(EventInvalid, time.Time{}, e.Invalid)
			case TSBefore(e.EditedTS, j.EditedTS) || e.EditedTS == j.EditedTS:
				return nil // an older edit than the one applied
			}
			j.Text, j.Recipients, j.EditedTS = e.Text, e.Recipients, e.EditedTS
			s.address(j, j.Recipients, c)
			if err := putJSON(tx.Bucket(bToMail), u64(j.Seq), j); err != nil {
				return err
			}
			return line(EventEdited, time.Time{}, "")
		case ReplyQueued, ReplySent, ReplyBounced:
			if !e.Deleted && !TSBefore(ref.EditedTS, e.EditedTS) {
				return nil // the mail has this edit (a redelivery after the release)
			}
			if e.Deleted {
				return line(EventDeletedLate, ref.At, ref.State)
			}
			// An edit, into a note or not: the customer has the original.
			return line(EventEditedLate, ref.At, ref.State)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if event != "" {
		kick(s.slackKick)
	}
	return event, nil
}

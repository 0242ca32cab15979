package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Replies written in the composer (a Slack modal). Slack does not deliver a
// view submission again, and its ack tells the agent "sent": the submission
// is recorded (ComposeReply) before it is acked, as a Slack job that posts
// the reply in the conversation's thread in the agent's name. Once that post
// is in Slack (exactly once, like every post: recorded before and after,
// looked up by its metadata after a crash), the same transaction queues it
// as a reply as if the agent had typed it (ComposedPosted). From there it
// takes the typed reply's path: the hold window from the post's time, its
// marks and preview, the collision guard, dedup by the message's ts.

// ComposedReply is a reply submitted in the composer.
type ComposedReply struct {
	// ViewID is the modal submitted: a second submission of the same
	// view (the agent pressing Send again when Slack did not see the
	// first ack in time) is refused with ErrDuplicate.
	ViewID    string `json:"view_id"`
	Conv      uint64 `json:"conv"`
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name"`
	IconURL   string `json:"icon_url,omitempty"` // the agent's picture, for the post
	// Shown is what the agent wrote (recipient lines included): the
	// Slack post shows it.
	Shown string `json:"shown"`
	// Text is the mail's text (signature included), Recipients the
	// reply's own changes of whom it goes to.
	Text       string     `json:"text"`
	Recipients Recipients `json:"recipients,omitzero"`
}

// ComposeReply records a reply submitted in the composer: a Slack job
// posts it, then queues it (ComposedPosted). It fails with ErrDuplicate for
// a view already submitted, ErrNotFound for an unknown conversation.
func (s *Store) ComposeReply(r ComposedReply) (*SlackJob, error) {
	if r.ViewID == "" {
		return nil, errors.New("composed reply without a view ID")
	}
	var job SlackJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if _, err := getConv(tx, r.Conv); err != nil {
			return err
		}
		dup, err := seen(tx, now, "view:"+r.ViewID)
		if err != nil {
			return err
		}
		if dup {
			return ErrDuplicate
		}
		job = SlackJob{Kind: JobComposed, Conv: r.Conv, Composed: &r, By: r.AgentID, Created: now}
		return enqueue(tx.Bucket(bToSlack), &job)
	})
	if err != nil {
		return nil, err
	}
	kick(s.slackKick)
	return &job, nil
}

// ComposedPosted records that the post of composed reply job seq (its part
// part) is in Slack as message ts of channel, and queues the reply, held
// until hold (zero: sent at once), with Message-ID messageID. A repeat for
// a post already recorded does nothing and returns nil.
func (s *Store) ComposedPosted(seq uint64, part int, channel, ts string, hold time.Time, messageID string) (*MailJob, error) {
	var job *MailJob
	err := s.db.Update(func(tx *bolt.Tx) error {
		was, err := slackPartDone(tx, seq, part, channel, "")
		if err != nil || was == nil {
			return err
		}
		cr := was.Composed
		if was.Kind != JobComposed || cr == nil {
			return fmt.Errorf("slack job %d is not a composed reply", seq)
		}
		job, err = s.enqueueReply(tx, Reply{
			EventID: fmt.Sprintf("composed:%d", seq), Conv: was.Conv, Channel: channel, SlackTS: ts,
			AgentID: cr.AgentID, AgentName: cr.AgentName, Text: cr.Text, Recipients: cr.Recipients,
			MessageID: messageID, HoldUntil: hold, Composed: true,
		})
		return err
	})
	if err != nil || job == nil {
		return nil, err
	}
	s.replyKicks(job)
	return job, nil
}

// ReplyRecipients is whom a reply to conversation num with the changes r
// would go to now (a reply is addressed again when it is released).
func (s *Store) ReplyRecipients(num uint64, r Recipients) (to Address, cc []Address, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c, err := getConv(tx, num)
		if err != nil {
			return err
		}
		var j MailJob
		s.address(&j, r, c)
		to, cc = j.To, j.Cc
		return nil
	})
	return to, cc, err
}

package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// recordBounce records a bounce (m.Report) of one of our mails against
// that mail: its Slack message gets :x: and a line with the reason (or a
// line saying delivery is delayed), the conversation's status does not
// change, and no conversation is opened. The mail is matched by the
// report's original Message-ID, then In-Reply-To, then References newest
// first. It returns 0 when the bounce is about none of our mails (it is
// then recorded like any automated mail).
func (s *Store) recordBounce(tx *bolt.Tx, m *InboundMail, now time.Time) (uint64, error) {
	ids := tx.Bucket(bMsgIDs)
	var ref msgRef
	id := ""
	for _, c := range append([]string{m.Report.OriginalMessageID}, threadIDs(m)...) {
		if c == "" {
			continue
		}
		found, err := lookup(ids, []byte(c), &ref)
		if err != nil {
			return 0, fmt.Errorf("Message-ID %s: %w", c, err)
		}
		if found && ref.Out {
			id = c
			break
		}
	}
	if id == "" {
		return 0, nil
	}
	r := m.Report
	job := SlackJob{Kind: JobBounced, Conv: ref.Conv, Error: r.Reason(), To: r.Recipient, Created: now}
	if !r.Failed() {
		job.Event = EventDelayed
		if r.Action != "delayed" {
			job.Event = r.Action
		}
	}
	_, err := updateConv(tx, ref.Conv, func(c *Conversation) error {
		rr := replyRef(c, func(r *ReplyRef) bool { return r.MessageID == id })
		if rr == nil {
			return errUnchanged
		}
		job.ReplyTS, job.Forward = rr.SlackTS, rr.Forward
		if job.To == "" {
			job.To = rr.To
		}
		if !r.Failed() {
			return errUnchanged // delayed: the reply's fate is not known yet
		}
		rr.State, rr.Why, rr.At = ReplyBounced, r.Reason(), now
		return nil
	})
	if err != nil {
		return 0, err
	}
	return ref.Conv, enqueue(tx.Bucket(bToSlack), &job)
}

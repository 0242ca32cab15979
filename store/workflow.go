package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Workflow actions, as recorded in a conversation's history.
const (
	ActClaim    = "claimed"
	ActUnclaim  = "unclaimed"
	ActAssign   = "assigned"
	ActUnassign = "unassigned"
	ActClose    = "closed"
	ActReopen   = "reopened"
	ActHold     = "hold"
	// ActKeptClosed: a customer's thank-you came to a closed
	// conversation, which stays closed (not an action of Act).
	ActKeptClosed = "kept_closed"
)

// Errors of Act, for answers to the person who acted.
var (
	ErrNoChange = errors.New("nothing to change")
	ErrNotOwner = errors.New("not the owner")
)

// Act applies a workflow action by user `by` to conversation num: the new
// state, its history entry and the activity line for the thread are
// recorded together. target is the assignee for ActAssign, and for
// ActHold when the conversation is to reopen by itself, the time
// (RFC 3339) it wakes at (a hold already on can be given a new one). eventID, when
// set, makes a redelivered Slack event a no-op (ErrDuplicate). It returns
// ErrNoChange when the conversation is already in that state.
func (s *Store) Act(num uint64, action, by, target, eventID string) (*Conversation, error) {
	var out Conversation
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if err := once(tx, now, eventID); err != nil {
			return err
		}
		c, err := updateConv(tx, num, func(c *Conversation) error {
			if err := notMerged(c); err != nil {
				return err
			}
			was := *c
			if err := apply(c, action, by, target, now); err != nil {
				return err
			}
			if err := logAct(tx, &was, c, action, by, now); err != nil {
				return err
			}
			return recordChange(tx, c, Change{At: now, By: by, Action: action, Target: target})
		})
		if err == nil {
			out = *c
		}
		return err
	})
	if err != nil {
		// A refused action must not count as handled: the event dedup
		// was in the same transaction and is rolled back with it.
		return nil, err
	}
	kick(s.slackKick)
	kick(s.timerKick)
	return &out, nil
}

func apply(c *Conversation, action, by, target string, now time.Time) error {
	switch action {
	case ActClaim:
		if c.Assignee == by {
			return fmt.Errorf("already yours: %w", ErrNoChange)
		}
		c.Assignee = by
	case ActUnclaim:
		if c.Assignee == "" {
			return fmt.Errorf("not assigned: %w", ErrNoChange)
		}
		if c.Assignee != by {
			return ErrNotOwner
		}
		c.Assignee = ""
	case ActAssign:
		if target == "" {
			return fmt.Errorf("assign to nobody")
		}
		if c.Assignee == target {
			return fmt.Errorf("already assigned to them: %w", ErrNoChange)
		}
		c.Assignee = target
	case ActUnassign:
		if c.Assignee == "" {
			return fmt.Errorf("not assigned: %w", ErrNoChange)
		}
		c.Assignee = ""
	case ActClose:
		if c.Status == StatusClosed {
			return fmt.Errorf("already closed: %w", ErrNoChange)
		}
		c.Status, c.ClosedAt = StatusClosed, now
	case ActReopen:
		if c.Status == StatusOpen {
			return fmt.Errorf("already open: %w", ErrNoChange)
		}
		c.Status, c.ClosedAt = StatusOpen, time.Time{}
	case ActHold:
		var wake time.Time
		if target != "" {
			var err error
			if wake, err = time.Parse(time.RFC3339, target); err != nil {
				return fmt.Errorf("hold until %q: %w", target, err)
			}
			if !wake.After(now) {
				return fmt.Errorf("hold until %s: that is not in the future", target)
			}
		}
		if c.Status == StatusHold && (wake.IsZero() || wake.Equal(c.WakeAt)) {
			return fmt.Errorf("already on hold: %w", ErrNoChange)
		}
		c.Status, c.ClosedAt, c.WakeAt = StatusHold, time.Time{}, wake
	default:
		return fmt.Errorf("unknown action %q", action)
	}
	return nil
}

// logAct logs a workflow action that changed was into c, and keeps the
// timing the event log needs: a close ends the customer's wait, a reopen
// after a close starts the resolution time again.
func logAct(tx *bolt.Tx, was, c *Conversation, action, by string, now time.Time) error {
	ev := convEvent(c, now, 0, by, string(was.Status))
	switch action {
	case ActClaim, ActAssign, ActUnclaim, ActUnassign:
		ev.Kind, ev.Target = EvAssigned, c.Assignee
	case ActClose:
		ev.Kind, ev.Since, ev.Wait = EvClosed, cycleStart(was), was.Awaiting
		ev.First = !was.Awaiting.IsZero() && was.FirstReply.IsZero() && !was.Outbound
		c.Awaiting = time.Time{}
	case ActReopen:
		ev.Kind = EvReopened
		if was.Status == StatusClosed {
			c.Reopened = now
		}
	case ActHold:
		ev.Kind = EvHold
	default:
		return nil
	}
	return logEvent(tx, ev)
}

// cycleStart is when conversation c was opened, or last reopened after a
// close: what its resolution time counts from.
func cycleStart(c *Conversation) time.Time {
	if c.Reopened.After(c.Created) {
		return c.Reopened
	}
	return c.Created
}

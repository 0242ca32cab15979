package store

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Merging conversation M into N: M is closed with a pointer to N (its
// card says so), N takes M's recipients, participants, threading chain and
// tags. M's Message-IDs stay mapped to M (a bounce of a reply sent from
// M's thread belongs on that reply), and whatever looks a conversation up
// by Message-ID follows the pointer: mail threaded to M lands in N.

// Merge changes, as recorded in the two conversations' histories (Target:
// the other conversation's number).
const (
	ActMerged   = "merged"    // this conversation was merged into Target
	ActMergedIn = "merged_in" // Target was merged into this one
)

// ErrMerged is returned for a change of a conversation that was merged
// into another: the change belongs there.
var ErrMerged = errors.New("merged into another conversation")

// maxMergeHops bounds the pointers followed (merges cannot make a cycle,
// see Merge; the bound keeps a damaged file from hanging the intake).
const maxMergeHops = 16

func notMerged(c *Conversation) error {
	if c.MergedInto != 0 {
		return fmt.Errorf("#%d was merged into #%d: %w", c.Num, c.MergedInto, ErrMerged)
	}
	return nil
}

// resolveMerged is the conversation that num's mail lands in: num, or the
// one it was merged into (and so on).
func resolveMerged(tx *bolt.Tx, num uint64) (uint64, error) {
	for range maxMergeHops {
		if num == 0 {
			return 0, nil
		}
		var c struct {
			MergedInto uint64 `json:"merged_into"`
		}
		if found, err := lookup(tx.Bucket(bConvs), u64(num), &c); err != nil {
			return 0, fmt.Errorf("conversation %d: %w", num, err)
		} else if !found || c.MergedInto == 0 {
			return num, nil
		}
		num = c.MergedInto
	}
	return num, nil
}

// Merge moves conversation m into n, for user by, in one transaction:
//   - n's replies go to everyone of both: m's reply address and Cc join
//     n's Cc, and stay in it whoever of them writes next (MergedCc); m's
//     participants become n's (their mail is not flagged as a
//     stranger's), m's Message-IDs join n's chain, m's tags n's;
//   - n is open if m was (m's customer is waiting for an answer);
//   - m is closed and points to n: mail threaded to m lands in n, and
//     nothing more is done in m (ErrMerged);
//   - both get a history entry, a line in their thread and a card refresh.
//
// Neither may be merged already (ErrMerged), so merges never make a cycle.
func (s *Store) Merge(n, m uint64, by string) (into, from *Conversation, err error) {
	if n == m {
		return nil, nil, fmt.Errorf("a conversation cannot be merged into itself: %w", ErrNoChange)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		mc, err := getConv(tx, m)
		if err != nil {
			return err
		}
		if err := notMerged(mc); err != nil {
			return err
		}
		into, err = updateConv(tx, n, func(c *Conversation) error {
			if err := notMerged(c); err != nil {
				return err
			}
			// Everyone of both, for good: whoever writes next, the
			// others stay in Cc.
			c.MergedCc = s.ccOf(c, Address{}, nil, c.MergedCc, []Address{replyTo(c)}, c.Cc, mc.MergedCc, []Address{replyTo(mc)}, mc.Cc)
			c.Cc = s.ccOf(c, replyTo(c), nil, c.Cc, c.MergedCc)
			for _, p := range mc.Participants {
				s.addParticipants(c, Address{Addr: p})
			}
			for _, id := range mc.Chain {
				c.Chain = appendID(c.Chain, id)
			}
			if c.LastInbound == "" {
				// Nothing received in n (an agent started it): its
				// replies answer m's latest mail.
				c.LastInbound, c.ParentRefs = mc.LastInbound, slices.Clone(mc.ParentRefs)
			}
			if c.Latest == nil {
				c.Latest = mc.Latest
			}
			if mc.LastHumanAt.After(c.LastHumanAt) {
				// A reply held in n was written without knowing of it.
				c.LastHumanAt, c.LastHumanFrom = mc.LastHumanAt, mc.LastHumanFrom
			}
			for _, t := range mc.Tags {
				if !slices.Contains(c.Tags, t) && len(c.Tags) < maxTags {
					c.Tags = append(c.Tags, t)
				}
			}
			slices.Sort(c.Tags)
			c.MergedFrom = append(c.MergedFrom, m)
			if mc.Status == StatusOpen && c.Status != StatusOpen {
				was := *c
				c.Status, c.ClosedAt = StatusOpen, time.Time{}
				if err := logAct(tx, &was, c, ActReopen, by, now); err != nil {
					return err
				}
			}
			// m's customer waits longest: for an answer here now, on the
			// response clock (timers.go) and for the stats alike.
			if k := mc.Clock; k.Running() && (!c.Clock.Running() || k.Start.Before(c.Clock.Start)) {
				c.Clock = k
			}
			if w := mc.Awaiting; !w.IsZero() && (c.Awaiting.IsZero() || w.Before(c.Awaiting)) {
				c.Awaiting = w
			}
			return recordChange(tx, c, Change{At: now, By: by, Action: ActMergedIn, Target: strconv.FormatUint(m, 10)})
		})
		if err != nil {
			return err
		}
		from, err = updateConv(tx, m, func(c *Conversation) error {
			c.MergedInto = n
			c.Awaiting = time.Time{} // the wait goes on in n
			if c.Status != StatusClosed {
				c.Status, c.ClosedAt = StatusClosed, now
			}
			return recordChange(tx, c, Change{At: now, By: by, Action: ActMerged, Target: strconv.FormatUint(n, 10)})
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	kick(s.slackKick)
	return into, from, nil
}

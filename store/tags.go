package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Tags: any number per conversation (up to maxTags), kept sorted on the
// summary and in idx_tags, one key per tag, so that a list by tag and the
// counts per tag read index keys only.

const (
	maxTags   = 20
	maxTagLen = 40
)

// Tag changes, as recorded in a conversation's history (Target: the tags,
// comma-separated).
const (
	ActTag   = "tagged"
	ActUntag = "untagged"
)

// ErrBadTag is returned for a tag that cannot be one.
var ErrBadTag = errors.New("not a tag")

// NormTag returns a tag as it is kept: lower case, without a leading '#'.
// A tag is letters, digits and - _ . / + only (it is shown in Slack and
// typed after "tag:"), at most 40 characters.
func NormTag(s string) (string, error) {
	t := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "#"))
	if t == "" || utf8.RuneCountInString(t) > maxTagLen {
		return "", fmt.Errorf("%q: a tag has 1 to %d characters: %w", s, maxTagLen, ErrBadTag)
	}
	for _, r := range t {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_./+", r) {
			return "", fmt.Errorf("%q: a tag is letters, digits and - _ . / + only: %w", s, ErrBadTag)
		}
	}
	return t, nil
}

func tagKeys(c *Conversation) [][]byte {
	out := make([][]byte, 0, len(c.Tags))
	for _, t := range c.Tags {
		out = append(out, key([]byte(c.Inbox), []byte(t), u64(c.Num)))
	}
	return out
}

// Tag adds tags to conversation num (action ActTag) or takes them off
// (ActUntag), for user by. The change, its history entry and its line in
// the thread are recorded together; it returns the conversation and the
// tags that changed (ErrNoChange when none would). eventID, when set,
// makes a redelivered Slack event a no-op (ErrDuplicate).
func (s *Store) Tag(num uint64, action string, tags []string, by, eventID string) (*Conversation, []string, error) {
	var want []string
	for _, t := range tags {
		n, err := NormTag(t)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	if action != ActTag && action != ActUntag {
		return nil, nil, fmt.Errorf("unknown tag change %q", action)
	}
	var out *Conversation
	var changed []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		now := s.now()
		if err := once(tx, now, eventID); err != nil {
			return err
		}
		c, err := updateConv(tx, num, func(c *Conversation) error {
			if err := notMerged(c); err != nil {
				return err
			}
			next := c.Tags
			for _, t := range want {
				has := slices.Contains(next, t)
				switch {
				case action == ActTag && !has:
					next = append(next, t)
				case action == ActUntag && has:
					next = slices.DeleteFunc(next, func(x string) bool { return x == t })
				default:
					continue
				}
				changed = append(changed, t)
			}
			if len(changed) == 0 {
				if action == ActTag {
					return fmt.Errorf("#%d has those tags already: %w", num, ErrNoChange)
				}
				return fmt.Errorf("#%d has none of those tags: %w", num, ErrNoChange)
			}
			if len(next) > maxTags {
				return fmt.Errorf("a conversation has at most %d tags: %w", maxTags, ErrBadTag)
			}
			slices.Sort(next)
			c.Tags = next
			if action == ActTag {
				for _, t := range changed {
					if err := logEvent(tx, convEvent(c, now, EvTagged, by, t)); err != nil {
						return err
					}
				}
			}
			return recordChange(tx, c, Change{At: now, By: by, Action: action, Target: strings.Join(changed, ", ")})
		})
		out = c
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	kick(s.slackKick)
	return out, changed, nil
}

// tagSet is the set of conversations of inboxes that have tag.
func tagSet(tx *bolt.Tx, inboxes []string, tag string) map[uint64]bool {
	set := map[uint64]bool{}
	c := tx.Bucket(bIdxTags).Cursor()
	for _, inbox := range inboxes {
		prefix := key([]byte(inbox), []byte(tag), nil)
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			set[keyNum(k)] = true
		}
	}
	return set
}

// TagCounts counts the conversations of inboxes per tag, whatever their
// status, from the tag index.
func (s *Store) TagCounts(inboxes []string) (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bIdxTags).Cursor()
		for _, inbox := range inboxes {
			prefix := key([]byte(inbox), nil)
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				out[keyPart(k, prefix)]++
			}
		}
		return nil
	})
	return out, err
}

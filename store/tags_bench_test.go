package store

import (
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// taggedStore is a seeded store (see seed) where one conversation in ten
// is tagged billing, tagged through putConv as Tag would.
func taggedStore(b *testing.B, n int) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "tagged.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	seed(b, s, n)
	for lo := 1; lo <= n; lo += 5000 {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for num := lo; num < lo+5000 && num <= n; num++ {
				if num%10 != 0 {
					continue
				}
				old, err := getConv(tx, uint64(num))
				if err != nil {
					return err
				}
				c := *old
				c.Tags = []string{"billing"}
				if err := putConv(tx, old, &c, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkTagsAndHistory is /inbox list tag:billing (open; closed, newest
// first), the counts per tag, and /inbox history of a customer with
// n/5000 conversations.
func BenchmarkTagsAndHistory(b *testing.B) {
	inboxes := []string{"support@acme.test"}
	for _, n := range []int{10_000, 100_000} {
		s := taggedStore(b, n)
		for _, tc := range []struct {
			name string
			f    func() error
		}{
			{"list-open-tag", func() error {
				_, _, err := s.List(ListQuery{Inboxes: inboxes, Statuses: []Status{StatusOpen}, Tag: "billing", Limit: 40})
				return err
			}},
			{"list-closed-tag", func() error {
				_, _, err := s.List(ListQuery{Inboxes: inboxes, Statuses: []Status{StatusClosed}, Tag: "billing", Limit: 40, Newest: true})
				return err
			}},
			{"tag-counts", func() error { _, err := s.TagCounts(inboxes); return err }},
			{"history", func() error { _, _, err := s.History("carl7@example.com", inboxes, 40); return err }},
		} {
			b.Run(fmt.Sprintf("%s/%d", tc.name, n), func(b *testing.B) {
				for range b.N {
					if err := tc.f(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

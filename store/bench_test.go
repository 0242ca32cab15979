package store

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// seed fills a store with n conversations as a year of a busy inbox leaves
// them: most closed, some open, waiting or on hold, spread over 20 agents,
// each with a first mail, a preview, a chain of a few Message-IDs, a thread
// and a short history. It writes through putConv (indexes included) in
// large transactions, as the real code would over a year.
func seed(tb testing.TB, s *Store, n int) {
	tb.Helper()
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	text := strings.Repeat("Hello, my printer is on fire again and the manual does not say what to do. ", 20)
	const batch = 5000
	for lo := 1; lo <= n; lo += batch {
		err := s.db.Update(func(tx *bolt.Tx) error {
			for num := lo; num < lo+batch && num <= n; num++ {
				at := start.Add(time.Duration(num) * (365 * 24 * time.Hour) / time.Duration(n))
				c := &Conversation{
					Num: uint64(num), Inbox: "support@acme.test", Channel: "CINBOX",
					RootTS: fmt.Sprintf("%d.%06d", at.Unix(), num%1000000), Subject: fmt.Sprintf("Printer trouble %d", num),
					Customer: Address{Name: "Carl Customer", Addr: fmt.Sprintf("carl%d@example.com", num%5000)},
					Created:  at, Updated: at.Add(time.Hour), Status: StatusClosed, ClosedAt: at.Add(2 * time.Hour),
					Assignee: fmt.Sprintf("UAGENT%02d", num%20),
				}
				c.ReplyTo = c.Customer
				switch num % 100 {
				case 0, 1, 2, 3:
					c.Status, c.ClosedAt = StatusOpen, time.Time{}
					if num%2 == 0 {
						c.Assignee = ""
					}
				case 4, 5, 6, 7, 8:
					c.Status, c.ClosedAt = StatusWaiting, time.Time{}
				case 9:
					c.Status, c.ClosedAt = StatusHold, time.Time{}
				}
				first := &InboundMail{MessageID: fmt.Sprintf("m%d@example.com", num), From: c.Customer,
					Subject: c.Subject, Date: at, Attachments: []Attachment{{Name: "photo.jpg", Type: "image/jpeg", Size: 123456}}}
				c.ConvText = ConvText{Preview: text, First: first, LastInbound: first.MessageID,
					Chain: []string{first.MessageID, fmt.Sprintf("inboxbot.%d.0123456789abcdef0123456789abcdef@acme.test", num),
						fmt.Sprintf("m%d-2@example.com", num)},
					History: []Change{{At: at, By: c.Assignee, Action: ActClaim}, {At: at.Add(2 * time.Hour), By: c.Assignee, Action: ActClose}}}
				if err := putConv(tx, nil, c, true); err != nil {
					return err
				}
				for _, id := range c.Chain {
					if err := putJSON(tx.Bucket(bMsgIDs), []byte(id), msgRef{Conv: c.Num, Out: strings.HasPrefix(id, "inboxbot.")}); err != nil {
						return err
					}
				}
				if err := tx.Bucket(bThreads).Put(key([]byte(c.Channel), []byte(c.RootTS)), u64(c.Num)); err != nil {
					return err
				}
			}
			return tx.Bucket(bMeta).Put(kNextConv, u64(uint64(min(lo+batch-1, n))))
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

var seeded = map[int]*Store{}

func seededStore(b *testing.B, n int) *Store {
	b.Helper()
	if s := seeded[n]; s != nil {
		return s
	}
	s, err := Open(filepath.Join(b.TempDir(), "seed.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	seed(b, s, n)
	seeded[n] = s
	return s
}

var sizes = []int{10_000, 100_000, 1_000_000}

// BenchmarkCount is /inbox status: counts by status, and closed today.
func BenchmarkCount(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := seededStore(b, n)
			today := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for range b.N {
				if _, err := s.Count([]string{"support@acme.test"}, today); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkList is /inbox list (open; mine; closed, newest first) and the
// Home tab's three sections.
func BenchmarkList(b *testing.B) {
	me := "UAGENT03"
	for _, n := range sizes {
		for _, q := range []struct {
			name string
			q    ListQuery
		}{
			{"open", ListQuery{Statuses: []Status{StatusOpen}, Limit: 40}},
			{"mine", ListQuery{Statuses: []Status{StatusOpen, StatusWaiting}, Assignee: &me, Limit: 40}},
			{"closed", ListQuery{Statuses: []Status{StatusClosed}, Limit: 40, Newest: true}},
		} {
			b.Run(fmt.Sprintf("%s/%d", q.name, n), func(b *testing.B) {
				s := seededStore(b, n)
				q.q.Inboxes = []string{"support@acme.test"}
				b.ResetTimer()
				for range b.N {
					if _, _, err := s.List(q.q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDBSize reports the file's size per 10,000 conversations.
func BenchmarkDBSize(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				s, err := Open(filepath.Join(b.TempDir(), "size.db"), Options{})
				if err != nil {
					b.Fatal(err)
				}
				seed(b, s, n)
				size, _ := s.Size()
				s.Close()
				b.ReportMetric(float64(size)/float64(n)*10_000/(1<<20), "MB/10k-convs")
				b.ReportMetric(float64(size)/float64(n), "bytes/conv")
			}
		})
	}
}

// BenchmarkConvCounts is a scrape of the metrics: every inbox's
// conversations per status.
func BenchmarkConvCounts(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := seededStore(b, n)
			b.ResetTimer()
			for range b.N {
				if _, err := s.ConvCounts(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package bot

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// BenchmarkStatusListHome times the answers of /inbox status, /inbox list
// and the Home tab's view with n conversations in the store, membership
// cached: a store as years of work leave it (all but 1 in 20 closed), and
// the worst case (every one of them open, so in the lists).
func BenchmarkStatusListHome(b *testing.B) {
	for _, tc := range []struct {
		n      int
		closed bool
	}{{10_000, true}, {100_000, true}, {10_000, false}, {100_000, false}} {
		n := tc.n
		st, err := store.Open(filepath.Join(b.TempDir(), "s.db"), store.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		st.SetWatermark(inboxA.ID, "INBOX", store.Watermark{UIDValidity: 1})
		for lo := 1; lo <= n; lo += 5000 {
			var mails []store.Inbound
			for i := lo; i < lo+5000 && i <= n; i++ {
				mails = append(mails, store.Inbound{UID: uint32(i), Mail: &store.InboundMail{
					MessageID: fmt.Sprintf("m%d@x", i), Subject: fmt.Sprintf("Subject %d", i),
					From: store.Address{Addr: "c@x"}, Text: "text"}})
			}
			if _, err := st.RecordInbound(inboxA.ID, "INBOX", 1, mails); err != nil {
				b.Fatal(err)
			}
		}
		if tc.closed {
			for i := 1; i <= n; i++ {
				if i%20 != 0 {
					if _, err := st.Act(uint64(i), store.ActClose, "UA", "", ""); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		mix := "open"
		if tc.closed {
			mix = "closed"
		}
		bot := New(Config{Inboxes: []Inbox{inboxA}}, slack.New("xoxb-x"), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
		inboxes := []*Inbox{&bot.cfg.Inboxes[0]}
		for _, c := range []struct {
			name string
			f    func() error
		}{
			{"status", func() error { _, err := bot.statusText(inboxes); return err }},
			{"list", func() error { _, err := bot.listText(inboxes, "UA", "open", ""); return err }},
			{"home", func() error { _, err := bot.homeView(inboxes, "UA"); return err }},
		} {
			b.Run(fmt.Sprintf("%s/%d-%s", c.name, n, mix), func(b *testing.B) {
				for range b.N {
					if err := c.f(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/answer")
			})
		}
		st.Close()
	}
}

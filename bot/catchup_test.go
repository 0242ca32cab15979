package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// postedInbox is a store and a fake channel with n conversations whose
// roots are posted and recorded, as after weeks of work.
func postedInbox(tb testing.TB, n int) (*store.Store, *slackfake.Server, *slack.Client) {
	tb.Helper()
	st, err := store.Open(filepath.Join(tb.TempDir(), "c.db"), store.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	f := slackfake.New()
	tb.Cleanup(f.Close)
	f.EchoBotMessages = false
	f.AddUser("UALICE", "alice", "Alice Agent")
	f.AddChannel("CA", "UALICE", slackfake.BotUserID)
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()))
	st.SetWatermark(inboxA.ID, "INBOX", store.Watermark{UIDValidity: 1})
	for lo := 1; lo <= n; lo += 1000 {
		var mails []store.Inbound
		for i := lo; i < lo+1000 && i <= n; i++ {
			mails = append(mails, store.Inbound{UID: uint32(i), Mail: &store.InboundMail{
				MessageID: fmt.Sprintf("m%d@x", i), Subject: "s", From: store.Address{Addr: "c@x"}, Text: "t"}})
		}
		if _, err := st.RecordInbound(inboxA.ID, "INBOX", 1, mails); err != nil {
			tb.Fatal(err)
		}
	}
	jobs, _ := st.SlackJobs()
	for _, j := range jobs {
		_, ts, err := api.PostMessage("CA", slack.MsgOptionText(fmt.Sprintf("#%d", j.Conv), false))
		if err != nil {
			tb.Fatal(err)
		}
		st.BeginSlackPart(j.Seq, 0, "CA", true)
		st.SlackPartDone(j.Seq, 0, "CA", ts)
		st.FinishSlackJob(j.Seq)
	}
	return st, f, api
}

// catchUpAfterDowntime marks the channel alive until an hour ago, lets
// Alice reply in `replied` threads (Slack gave up on those events), runs one
// catch-up and returns the Slack reads it made.
func catchUpAfterDowntime(tb testing.TB, st *store.Store, f *slackfake.Server, api *slack.Client, replied int) (history, replies int) {
	tb.Helper()
	st.SetAlive("CA", time.Now().Add(-time.Hour))
	convs, _, _ := st.List(store.ListQuery{Inboxes: []string{inboxA.ID}, Statuses: []store.Status{store.StatusOpen}, Limit: replied})
	for _, c := range convs {
		f.UserPost("CA", "UALICE", c.RootTS, "typed while inboxbot was down")
	}
	f.DropPending()
	b := New(Config{Inboxes: []Inbox{inboxA}, ReadRate: 1000}, api, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := b.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	h0, r0 := f.Calls("conversations.history"), f.Calls("conversations.replies")
	b.catchUpOnce(ctx, "CA")
	return f.Calls("conversations.history") - h0, f.Calls("conversations.replies") - r0
}

// The catch-up reads the channel's roots once and only the threads with a
// reply after the alive mark, not one thread per conversation; and it
// finds those replies.
func TestCatchUpReadsOnlyWhatCouldBeMissed(t *testing.T) {
	const n, replied = 1200, 3
	st, f, api := postedInbox(t, n)
	history, replies := catchUpAfterDowntime(t, st, f, api, replied)
	if want := (n + 998) / 999; history != want || replies != replied {
		t.Errorf("%d history and %d replies calls for %d conversations, %d replied; want %d and %d",
			history, replies, n, replied, want, replied)
	}
	if jobs, _ := st.MailJobs(); len(jobs) != replied {
		t.Errorf("%d replies queued, want %d", len(jobs), replied)
	}
}

// BenchmarkCatchUp reports the Slack reads of one catch-up after an hour's
// downtime in which 5 threads got a reply, by number of conversations whose
// roots are in the last week.
func BenchmarkCatchUp(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			st, f, api := postedInbox(b, n)
			b.ResetTimer()
			for range b.N {
				history, replies := catchUpAfterDowntime(b, st, f, api, 5)
				b.ReportMetric(float64(history+replies), "slack-calls/start")
			}
		})
	}
}

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
	"golang.org/x/time/rate"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

// idle is a transport that brings no events.
type idle struct{}

func (idle) Serve(ctx context.Context, _ *Bot) error { <-ctx.Done(); return nil }

// backlog fills a store with n new conversations per inbox, as mail that
// arrived while the bot was down.
func backlog(t testing.TB, n int, inboxes ...Inbox) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "b.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, in := range inboxes {
		st.SetWatermark(in.ID, "INBOX", store.Watermark{UIDValidity: 1})
		var mails []store.Inbound
		for i := 1; i <= n; i++ {
			mails = append(mails, store.Inbound{UID: uint32(i), Mail: &store.InboundMail{
				MessageID: fmt.Sprintf("%d-%s", i, in.ID), Subject: fmt.Sprintf("Mail %d", i),
				From: store.Address{Addr: "c@example.com"}, Text: "short"}})
		}
		if _, err := st.RecordInbound(in.ID, "INBOX", 1, mails); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func pacedSlack(t testing.TB, channels ...string) *slackfake.Server {
	f := slackfake.New()
	t.Cleanup(f.Close)
	for _, c := range channels {
		f.AddChannel(c, slackfake.BotUserID)
	}
	return f
}

func runBot(t testing.TB, cfg Config, f *slackfake.Server, st *store.Store) {
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()))
	b := New(cfg, api, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, idle{}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
	})
}

func waitPosts(t testing.TB, f *slackfake.Server, channel string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := f.WaitFor(ctx, func(s *slackfake.Server) bool { return len(s.Messages(channel)) >= n }); err != nil {
		t.Fatalf("%s: %d of %d posts: %v", channel, len(f.Messages(channel)), n, err)
	}
}

var (
	inboxA = Inbox{ID: "a@acme.test", Address: "a@acme.test", Name: "A", Channel: "CA"}
	inboxB = Inbox{ID: "b@acme.test", Address: "b@acme.test", Name: "B", Channel: "CB"}
)

// A backlog is posted at Slack's per-channel pace with (almost) no refused
// calls, and a 429 in one channel holds back only that channel.
func TestBacklogPacedPerChannel(t *testing.T) {
	const perSecond, burst, n = 40, 4, 40
	st := backlog(t, n, inboxA)
	f := pacedSlack(t, "CA", "CB")
	f.SetPostLimit(perSecond, burst)
	// The bot believes Slack is faster than it is: the 429s it then gets
	// must hold the whole channel back, not one conversation.
	cfg := Config{Inboxes: []Inbox{inboxA, inboxB}, PostRate: perSecond * 2, PostBurst: burst * 2}
	runBot(t, cfg, f, st)
	waitPosts(t, f, "CA", n)
	accepted := f.Calls("chat.postMessage") - f.Refused("chat.postMessage")
	if refused := f.Refused("chat.postMessage"); refused*10 > accepted {
		t.Errorf("%d refused posts for %d accepted: the channel was not held back after a 429", refused, accepted)
	}
	t.Logf("refused %d, accepted %d", f.Refused("chat.postMessage"), accepted)
}

func TestOtherChannelNotHeldBack(t *testing.T) {
	const n = 30
	st := backlog(t, n, inboxA)
	f := pacedSlack(t, "CA", "CB")
	f.SetPostLimit(10, 1)
	runBot(t, Config{Inboxes: []Inbox{inboxA, inboxB}, PostRate: 10, PostBurst: 1}, f, st)
	waitPosts(t, f, "CA", 3) // A's backlog is being paced
	st.SetWatermark(inboxB.ID, "INBOX", store.Watermark{UIDValidity: 1})
	if _, err := st.RecordInbound(inboxB.ID, "INBOX", 1, []store.Inbound{{UID: 1, Mail: &store.InboundMail{
		Subject: "B's mail", From: store.Address{Addr: "c@example.com"}, Text: "x"}}}); err != nil {
		t.Fatal(err)
	}
	waitPosts(t, f, "CB", 1)
	if done := len(f.Messages("CA")); done >= n {
		t.Errorf("B's mail waited for A's whole backlog (%d of %d posted before it)", done, n)
	}
}

// BenchmarkBacklog posts a backlog of 100 mails into one channel limited
// like Slack (1/s, scaled up here to 50/s) and reports the refused calls per
// accepted post and the elapsed time over the ideal (n/rate).
func BenchmarkBacklog(b *testing.B) {
	const perSecond, burst, n = 50, 4, 100
	for range b.N {
		b.StopTimer()
		st := backlog(b, n, inboxA)
		f := pacedSlack(b, "CA")
		f.SetPostLimit(perSecond, burst)
		start := time.Now()
		b.StartTimer()
		runBot(b, Config{Inboxes: []Inbox{inboxA}, PostRate: rate.Limit(perSecond), PostBurst: burst}, f, st)
		waitPosts(b, f, "CA", n)
		b.StopTimer()
		elapsed := time.Since(start)
		ideal := time.Duration(float64(n-burst) / perSecond * float64(time.Second))
		b.ReportMetric(float64(f.Refused("chat.postMessage"))/float64(n), "refused/accepted")
		b.ReportMetric(elapsed.Seconds()/ideal.Seconds(), "elapsed/ideal")
	}
}

package slackfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// request is what an app got from Slack over either transport.
type request struct {
	kind    string // "events_api", "interactive", "slash_commands"
	event   slackevents.EventsAPIEvent
	cb      slack.InteractionCallback
	cmd     slack.SlashCommand
	headers http.Header // HTTP only
}

// handler answers a request; the answer is the ack payload (nil: none).
type handler func(r request) any

// runSocketApp serves handle over Socket Mode.
func runSocketApp(t *testing.T, f *slackfake.Server, handle handler) {
	c := startClient(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-c.sm.Events:
				var r request
				switch ev.Type {
				case socketmode.EventTypeEventsAPI:
					r = request{kind: "events_api", event: ev.Data.(slackevents.EventsAPIEvent)}
				case socketmode.EventTypeInteractive:
					r = request{kind: "interactive", cb: ev.Data.(slack.InteractionCallback)}
				case socketmode.EventTypeSlashCommand:
					r = request{kind: "slash_commands", cmd: ev.Data.(slack.SlashCommand)}
				default:
					continue
				}
				if p := handle(r); p != nil {
					c.sm.Ack(*ev.Request, p)
				} else {
					c.sm.Ack(*ev.Request)
				}
			}
		}
	}()
}

// httpApp is an app served over HTTP, checking requests with slack-go's
// SecretsVerifier like a real one.
type httpApp struct {
	srv    *httptest.Server
	handle handler
	// status, when set, answers instead of handling (e.g. 500).
	mu       sync.Mutex
	failNext []int
	block    chan struct{} // when set, the next request waits for it to close
	noRetry  bool          // failures carry X-Slack-No-Retry: 1
	rejected int
	seen     []http.Header
}

func newHTTPApp(t *testing.T, secret string, handle handler) *httpApp {
	a := &httpApp{handle: handle}
	mux := http.NewServeMux()
	mux.HandleFunc("/slack/events", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, secret, "events_api") })
	mux.HandleFunc("/slack/interactivity", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, secret, "interactive") })
	mux.HandleFunc("/slack/commands", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, secret, "slash_commands") })
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *httpApp) config() slackfake.HTTPConfig {
	return slackfake.HTTPConfig{
		EventsURL:        a.srv.URL + "/slack/events",
		InteractivityURL: a.srv.URL + "/slack/interactivity",
		CommandsURL:      a.srv.URL + "/slack/commands",
		SigningSecret:    signingSecret,
	}
}

func (a *httpApp) serve(w http.ResponseWriter, r *http.Request, secret, kind string) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Clone())
	block, noRetry := a.block, a.noRetry
	a.block = nil
	var fail int
	if len(a.failNext) > 0 {
		fail, a.failNext = a.failNext[0], a.failNext[1:]
	}
	a.mu.Unlock()
	if block != nil {
		<-block
	}
	sv, err := slack.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		a.mu.Lock()
		a.rejected++
		a.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if fail != 0 {
		if noRetry {
			w.Header().Set("X-Slack-No-Retry", "1")
		}
		http.Error(w, "failing", fail)
		return
	}
	req := request{kind: kind, headers: r.Header.Clone()}
	switch kind {
	case "events_api":
		ev, err := slackevents.ParseEvent(body, slackevents.OptionNoVerifyToken())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if ev.Type == slackevents.URLVerification {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, ev.Data.(*slackevents.EventsAPIURLVerificationEvent).Challenge)
			return
		}
		req.event = ev
	case "interactive":
		r.Body = io.NopCloser(bytes.NewReader(body))
		cb, err := slack.InteractionCallbackParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.cb = cb
	case "slash_commands":
		r.Body = io.NopCloser(bytes.NewReader(body))
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.cmd = cmd
	}
	switch p := a.handle(req).(type) {
	case nil:
	case string:
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, p)
	default:
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p)
	}
}

// TestTransportsAgree runs one scenario over Socket Mode and HTTP: the
// same helpers and the same WaitAck/WaitViewAck results.
func TestTransportsAgree(t *testing.T) {
	for _, mode := range []string{"socket", "http"} {
		t.Run(mode, func(t *testing.T) {
			f := newFake(t)
			f.EchoBotMessages = false
			ctx := ctxT(t)
			api := newAPI(f)
			got := make(chan request, 10)
			handle := func(r request) any {
				got <- r
				switch {
				case r.kind == "slash_commands":
					return map[string]any{"text": "Working on " + r.cmd.Text}
				case r.kind == "interactive" && r.cb.Type == slack.InteractionTypeViewSubmission:
					return slack.NewErrorsViewSubmissionResponse(map[string]string{"note_b": "Too vague"})
				}
				return nil
			}
			if mode == "socket" {
				runSocketApp(t, f, handle)
			} else {
				app := newHTTPApp(t, signingSecret, handle)
				f.UseHTTP(app.config())
				if err := f.VerifyURL(ctx); err != nil {
					t.Fatal(err)
				}
			}
			next := func() request {
				t.Helper()
				select {
				case r := <-got:
					return r
				case <-ctx.Done():
					t.Fatal("no request")
				}
				return request{}
			}

			ts, envID := f.UserPost("C1", "U1", "", "hello")
			r := next()
			if msg, ok := r.event.InnerEvent.Data.(*slackevents.MessageEvent); !ok || msg.Text != "hello" || msg.TimeStamp != ts {
				t.Errorf("event: %+v", r.event.InnerEvent.Data)
			}
			if p, err := f.WaitAck(ctx, envID); err != nil || len(p) != 0 {
				t.Errorf("event ack: %s %v", p, err)
			}

			envID = f.SlashCommand("U1", "C1", "reply 42")
			r = next()
			if r.cmd.Command != "/inbox" || r.cmd.Text != "reply 42" || r.cmd.UserID != "U1" || r.cmd.ResponseURL == "" || r.cmd.TriggerID == "" {
				t.Errorf("command: %+v", r.cmd)
			}
			if p, err := f.WaitAck(ctx, envID); err != nil || !strings.Contains(string(p), "Working on reply 42") {
				t.Errorf("command ack: %s %v", p, err)
			}
			if e := f.Ephemerals(); len(e) != 1 || e[0].Text != "Working on reply 42" || e[0].Via != "ack" {
				t.Errorf("ack shown: %+v", e)
			}
			resp, err := api.OpenViewContext(ctx, r.cmd.TriggerID, replyModal("Reply"))
			if err != nil {
				t.Fatal(err)
			}
			envID, err = f.SubmitView("U1", resp.View.ID, map[string]string{"note": "hm", "prio": "low"})
			if err != nil {
				t.Fatal(err)
			}
			r = next()
			if r.cb.Type != slack.InteractionTypeViewSubmission || r.cb.View.State.Values["note_b"]["note"].Value != "hm" {
				t.Errorf("submission: %+v", r.cb)
			}
			a, err := f.WaitViewAck(ctx, envID)
			if err != nil || a.ResponseAction != "errors" || a.Errors["note_b"] != "Too vague" {
				t.Errorf("view ack: %+v %v", a, err)
			}
			if v, _ := f.View(resp.View.ID); !v.Open || v.Errors["note_b"] != "Too vague" {
				t.Errorf("view: %+v", v)
			}
			envID = f.BlockAction("U1", "C1", ts, "", "claim", "42", "")
			if r = next(); r.cb.Type != slack.InteractionTypeBlockActions || r.cb.ActionCallback.BlockActions[0].Value != "42" {
				t.Errorf("block action: %+v", r.cb)
			}
			if _, err := f.WaitAck(ctx, envID); err != nil {
				t.Error(err)
			}
			if mode == "http" {
				for _, d := range f.Deliveries() {
					if !d.Acked && d.Type != "url_verification" {
						t.Errorf("delivery not acked: %+v", d)
					}
				}
			}
		})
	}
}

func TestHTTPSigning(t *testing.T) {
	f := newFake(t)
	f.EchoBotMessages = false
	ctx := ctxT(t)
	var mu sync.Mutex
	events := map[string]int{} // event_id -> times handled
	app := newHTTPApp(t, signingSecret, func(r request) any {
		if cb, ok := r.event.Data.(*slackevents.EventsAPICallbackEvent); ok {
			mu.Lock()
			events[cb.EventID]++
			mu.Unlock()
		}
		return nil
	})
	cfg := app.config()
	f.UseHTTP(cfg)
	if err := f.VerifyURL(ctx); err != nil {
		t.Fatalf("url_verification: %v", err)
	}

	for _, tamper := range []slackfake.Tamper{slackfake.TamperSignature, slackfake.TamperStale, slackfake.TamperUnsigned} {
		f.TamperNext(tamper)
		_, envID := f.UserPost("C1", "U1", "", "forged")
		d, err := f.WaitDelivery(ctx, envID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != http.StatusUnauthorized || d.Acked || d.Tamper != tamper || f.Acked(envID) {
			t.Errorf("tamper %d: %+v", tamper, d)
		}
	}
	app.mu.Lock()
	if app.rejected != 3 || len(events) != 0 {
		t.Errorf("rejected %d, handled %v", app.rejected, events)
	}
	app.mu.Unlock()
	// The app refused them, so Slack retries them, properly signed.
	if n := f.RetryFailed(); n != 3 {
		t.Errorf("retries started: %d", n)
	}
	if err := f.WaitFor(ctx, func(s *slackfake.Server) bool { mu.Lock(); defer mu.Unlock(); return len(events) == 3 }); err != nil {
		t.Fatal(err)
	}

	// A captured request replayed verbatim passes the signature check: the
	// app has to deduplicate by event_id.
	_, envID := f.UserPost("C1", "U1", "", "once")
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}
	status, _, err := f.Replay(ctx, envID)
	if err != nil || status != http.StatusOK {
		t.Fatalf("replay: %d %v", status, err)
	}
	mu.Lock()
	if n := events[f.EventID(envID)]; n != 2 {
		t.Errorf("replayed event handled %d times (the test app does not deduplicate)", n)
	}
	mu.Unlock()
	app.mu.Lock()
	seen := app.seen[len(app.seen)-2:]
	app.mu.Unlock()
	if seen[0].Get("X-Slack-Signature") != seen[1].Get("X-Slack-Signature") || seen[0].Get("X-Slack-Request-Timestamp") != seen[1].Get("X-Slack-Request-Timestamp") {
		t.Errorf("replay differs: %v / %v", seen[0], seen[1])
	}

	// An app with another secret refuses the URL.
	other := newHTTPApp(t, "another-secret", func(request) any { return nil })
	cfg2 := other.config()
	f.UseHTTP(cfg2)
	if err := f.VerifyURL(ctx); err == nil {
		t.Error("url_verification passed with the wrong secret")
	}
	// Signature is what slack-go's verifier checks.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	hdr := http.Header{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {slackfake.Signature("secret", ts, []byte("body"))}}
	sv, err := slack.NewSecretsVerifier(hdr, "secret")
	if err == nil {
		_, _ = sv.Write([]byte("body"))
		err = sv.Ensure()
	}
	if err != nil {
		t.Errorf("Signature: %v", err)
	}
}

func TestHTTPRetries(t *testing.T) {
	f := newFake(t)
	f.EchoBotMessages = false
	ctx := ctxT(t)
	app := newHTTPApp(t, signingSecret, func(r request) any {
		if r.kind == "slash_commands" {
			return "plain answer"
		}
		return nil
	})
	cfg := app.config()
	cfg.Timeout = 300 * time.Millisecond
	f.UseHTTP(cfg)

	// A 500 is retried when the test says so, with Slack's headers.
	app.mu.Lock()
	app.failNext = []int{500}
	app.mu.Unlock()
	_, envID := f.UserPost("C1", "U1", "", "x")
	d, err := f.WaitDelivery(ctx, envID, 0)
	if err != nil || d.Status != 500 || d.Acked || f.Acked(envID) {
		t.Fatalf("first attempt: %+v %v", d, err)
	}
	if n := f.RetryFailed(); n != 1 {
		t.Fatalf("retries: %d", n)
	}
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}
	d, _ = f.WaitDelivery(ctx, envID, 1)
	app.mu.Lock()
	h := app.seen[len(app.seen)-1]
	app.mu.Unlock()
	if !d.Acked || d.RetryReason != slackfake.RetryReasonHTTPError || h.Get("X-Slack-Retry-Num") != "1" || h.Get("X-Slack-Retry-Reason") != "http_error" {
		t.Errorf("retry: %+v headers %v", d, h)
	}

	// No answer in time: the ack is lost even if the app finishes later;
	// AutoRetry retries at once with reason http_timeout.
	cfg.AutoRetry = true
	f.UseHTTP(cfg)
	block := make(chan struct{})
	app.mu.Lock()
	app.block = block
	app.mu.Unlock()
	_, envID = f.UserPost("C1", "U1", "", "slow")
	d, err = f.WaitDelivery(ctx, envID, 0)
	if err != nil || d.Err != "timeout" || d.Status != 0 {
		t.Fatalf("timeout: %+v %v", d, err)
	}
	close(block)
	if _, err := f.WaitAck(ctx, envID); err != nil {
		t.Fatal(err)
	}
	if d, _ := f.WaitDelivery(ctx, envID, 1); d.RetryReason != slackfake.RetryReasonTimeout || !d.Acked {
		t.Errorf("retry after timeout: %+v", d)
	}

	// At most 3 retries; X-Slack-No-Retry stops them.
	app.mu.Lock()
	app.failNext = []int{503, 503, 503, 503}
	app.mu.Unlock()
	_, envID = f.UserPost("C1", "U1", "", "down")
	if _, err := f.WaitDelivery(ctx, envID, 3); err != nil {
		t.Fatal(err)
	}
	if f.RetryFailed() != 0 || f.Acked(envID) {
		t.Error("retried more than 3 times, or acked")
	}
	app.mu.Lock()
	app.failNext, app.noRetry = []int{500}, true
	app.mu.Unlock()
	_, envID = f.UserPost("C1", "U1", "", "no retry please")
	if d, err := f.WaitDelivery(ctx, envID, 0); err != nil || d.Status != 500 || d.Header.Get("X-Slack-No-Retry") != "1" {
		t.Fatalf("no-retry answer: %+v %v", d, err)
	}
	if f.RetryFailed() != 0 {
		t.Error("retried despite X-Slack-No-Retry")
	}
	app.mu.Lock()
	app.noRetry = false
	app.mu.Unlock()

	// Commands are not retried; a plain-text answer is the message text.
	app.mu.Lock()
	app.failNext = []int{500}
	app.mu.Unlock()
	envID = f.SlashCommand("U1", "C1", "status")
	if d, err := f.WaitDelivery(ctx, envID, 0); err != nil || d.Status != 500 {
		t.Fatalf("command: %+v %v", d, err)
	}
	if f.RetryFailed() != 0 {
		t.Error("command retried")
	}
	envID = f.SlashCommand("U1", "C1", "status")
	if p, err := f.WaitAck(ctx, envID); err != nil || string(p) != `{"text":"plain answer"}` {
		t.Errorf("plain ack: %s %v", p, err)
	}

	// Nobody listening: connection_failed.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cfg.EventsURL = dead.URL
	cfg.AutoRetry = false
	f.UseHTTP(cfg)
	_, envID = f.UserPost("C1", "U1", "", "into the void")
	d, err = f.WaitDelivery(ctx, envID, 0)
	if err != nil || d.Status != 0 || d.Err == "" {
		t.Fatalf("dead app: %+v %v", d, err)
	}
	cfg.EventsURL = app.srv.URL + "/slack/events"
	f.UseHTTP(cfg)
	f.RetryFailed()
	if d, err := f.WaitDelivery(ctx, envID, 1); err != nil || d.RetryReason != slackfake.RetryReasonConnFailed || !d.Acked {
		t.Errorf("retry after connection failure: %+v %v", d, err)
	}
}

// While the app is down, HTTP deliveries fail and wait for a retry:
// HTTPInFlight tells when they have all failed, DropPending and
// DropEnvelope make Slack give up on them (as DropPending does with the
// Socket Mode queue).
func TestHTTPAppDown(t *testing.T) {
	f := newFake(t)
	f.EchoBotMessages = false
	ctx := ctxT(t)
	app := newHTTPApp(t, signingSecret, func(request) any { return nil })
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	down := app.config()
	down.EventsURL = dead.URL + "/slack/events"
	f.UseHTTP(down)
	var envs []string
	for _, text := range []string{"a", "b", "c"} {
		_, e := f.UserPost("C1", "U1", "", text)
		envs = append(envs, e)
	}
	if err := f.WaitFor(ctx, func(s *slackfake.Server) bool { return s.HTTPInFlight() == 0 }); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Deliveries()); n != 3 {
		t.Fatalf("%d deliveries recorded once nothing is in flight, want 3", n)
	}
	if !f.DropEnvelope(envs[0]) || f.DropEnvelope(envs[0]) {
		t.Error("DropEnvelope of a failed delivery")
	}
	f.UseHTTP(app.config())
	if n := f.RetryFailed(); n != 2 {
		t.Fatalf("%d retries, want 2", n)
	}
	for _, e := range envs[1:] {
		if _, err := f.WaitAck(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if f.Acked(envs[0]) {
		t.Error("a dropped envelope was delivered")
	}
	f.UseHTTP(down)
	f.UserPost("C1", "U1", "", "d")
	f.UserPost("C1", "U1", "", "e")
	if err := f.WaitFor(ctx, func(s *slackfake.Server) bool { return s.HTTPInFlight() == 0 }); err != nil {
		t.Fatal(err)
	}
	if n := f.DropPending(); n != 2 {
		t.Errorf("DropPending dropped %d, want 2", n)
	}
	if n := f.RetryFailed(); n != 0 {
		t.Errorf("%d retries after DropPending", n)
	}
}

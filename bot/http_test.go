package bot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
	"github.com/inboxbot/inboxbot/store"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// stubHandler records what the transport hands it and answers as told.
type stubHandler struct {
	mu      sync.Mutex
	got     []Event
	err     error
	payload any
	block   chan struct{} // when set, Handle closes it and waits for ctx
}

func (s *stubHandler) Handle(ctx context.Context, ev Event) (any, error) {
	s.mu.Lock()
	s.got = append(s.got, ev)
	err, payload, block := s.err, s.payload, s.block
	s.mu.Unlock()
	if block != nil {
		close(block)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return payload, err
}

func (s *stubHandler) handled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

func (s *stubHandler) set(payload any, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payload, s.err = payload, err
}

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestHTTP returns a transport logging to the returned buffer.
func newTestHTTP() (*HTTP, *logBuffer) {
	logs := &logBuffer{}
	return NewHTTP(testSecret, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))), logs
}

// serveStub serves h with t until the returned stop is called (or the test
// ends); stop returns once Serve did.
func serveStub(t *testing.T, tr *HTTP, h handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	connected := make(chan struct{})
	go func() { done <- tr.serve(ctx, h, func(context.Context) { close(connected) }) }()
	<-connected
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// servingStub returns the handler of a transport serving a stubHandler.
func servingStub(t *testing.T) (http.Handler, *stubHandler, *logBuffer) {
	t.Helper()
	tr, logs := newTestHTTP()
	stub := &stubHandler{}
	serveStub(t, tr, stub)
	return tr.Handler(), stub, logs
}

// slackRequest is a request as Slack would send it, signed at at with secret.
type slackRequest struct {
	path, contentType string
	body              []byte
	at                time.Time
	secret            string
	header            map[string]string // extra headers; "" removes one
}

func (q slackRequest) send(h http.Handler) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, q.path, bytes.NewReader(q.body))
	r.Header.Set("Content-Type", q.contentType)
	at, secret := q.at, q.secret
	if at.IsZero() {
		at = time.Now()
	}
	if secret == "" {
		secret = testSecret
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	r.Header.Set("X-Slack-Request-Timestamp", ts)
	r.Header.Set("X-Slack-Signature", slackfake.Signature(secret, ts, q.body))
	for k, v := range q.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func eventRequest(eventID string, inner map[string]any) slackRequest {
	body, _ := json.Marshal(map[string]any{
		"token": "t", "team_id": slackfake.TeamID, "api_app_id": slackfake.AppID, "type": "event_callback",
		"event_id": eventID, "event_time": time.Now().Unix(), "event": inner,
	})
	return slackRequest{path: EventsPath, contentType: "application/json", body: body}
}

func signedReaction(eventID, user, channel, ts, name string) slackRequest {
	return eventRequest(eventID, map[string]any{
		"type": "reaction_added", "user": user, "reaction": name, "event_ts": "1700000000.000100",
		"item": map[string]any{"type": "message", "channel": channel, "ts": ts},
	})
}

func commandRequest(text, triggerID string) slackRequest {
	form := url.Values{"command": {"/inbox"}, "text": {text}, "user_id": {"UALICE"}, "channel_id": {"CA"},
		"trigger_id": {triggerID}, "response_url": {"https://hooks.slack.test/commands/1"}}
	return slackRequest{path: CommandsPath, contentType: "application/x-www-form-urlencoded", body: []byte(form.Encode())}
}

func clickRequest(actionTS string) slackRequest {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "UALICE"}, "trigger_id": "trig-" + actionTS,
		"channel": map[string]any{"id": "CA"},
		"actions": []map[string]any{{"block_id": "card", "action_id": "claim", "value": "1", "type": "button", "action_ts": actionTS}},
	})
	form := url.Values{"payload": {string(payload)}}
	return slackRequest{path: InteractivityPath, contentType: "application/x-www-form-urlencoded", body: []byte(form.Encode())}
}

func TestHTTPSignatures(t *testing.T) {
	h, stub, logs := servingStub(t)
	now := time.Now()
	ev := signedReaction("Ev1", "UBOB", "CA", "1.000001", "eyes")
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, tc := range []struct {
		name   string
		change func(q *slackRequest)
		status int
	}{
		{"valid", func(*slackRequest) {}, http.StatusOK},
		{"valid, 4 minutes old", func(q *slackRequest) { q.at = now.Add(-4 * time.Minute) }, http.StatusOK},
		{"wrong secret", func(q *slackRequest) { q.secret = "not-" + testSecret }, http.StatusUnauthorized},
		{"stale: 6 minutes old", func(q *slackRequest) { q.at = now.Add(-6 * time.Minute) }, http.StatusUnauthorized},
		{"6 minutes in the future", func(q *slackRequest) { q.at = now.Add(6 * time.Minute) }, http.StatusUnauthorized},
		{"unsigned", func(q *slackRequest) {
			q.header = map[string]string{"X-Slack-Signature": "", "X-Slack-Request-Timestamp": ""}
		}, http.StatusUnauthorized},
		{"no timestamp", func(q *slackRequest) { q.header = map[string]string{"X-Slack-Request-Timestamp": ""} }, http.StatusUnauthorized},
		{"timestamp changed", func(q *slackRequest) {
			q.header = map[string]string{"X-Slack-Request-Timestamp": strconv.FormatInt(now.Unix()-1, 10)}
		}, http.StatusUnauthorized},
		{"body changed after signing", func(q *slackRequest) {
			q.header = map[string]string{"X-Slack-Signature": slackfake.Signature(testSecret, ts, append(bytes.Clone(q.body), ' '))}
			q.at = now
		}, http.StatusUnauthorized},
		{"signature not hex", func(q *slackRequest) { q.header = map[string]string{"X-Slack-Signature": "v0=zz"} }, http.StatusUnauthorized},
		{"other version", func(q *slackRequest) {
			q.header = map[string]string{"X-Slack-Signature": "v1=" + strings.TrimPrefix(slackfake.Signature(testSecret, ts, q.body), "v0=")}
			q.at = now
		}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := ev
			tc.change(&q)
			before := stub.handled()
			w := q.send(h)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			handled := stub.handled() - before
			if want := map[bool]int{true: 1, false: 0}[tc.status == http.StatusOK]; handled != want {
				t.Errorf("handled %d times, want %d", handled, want)
			}
		})
	}
	if !strings.Contains(logs.String(), "check SLACK_SIGNING_SECRET") || !strings.Contains(logs.String(), "more than 5 minutes") {
		t.Errorf("refusals not explained in the log:\n%s", logs)
	}
	if strings.Contains(logs.String(), testSecret) {
		t.Error("the signing secret is in the log")
	}
}

func TestHTTPBodyLimit(t *testing.T) {
	tr, _ := newTestHTTP()
	stub := &stubHandler{}
	serveStub(t, tr, stub)
	q := eventRequest("EvBig", map[string]any{"type": "message", "channel": "CA", "user": "UBOB",
		"text": strings.Repeat("x", maxRequestBody), "ts": "1.000002", "thread_ts": "1.000001"})
	if w := q.send(tr.Handler()); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", w.Code)
	}
	q = eventRequest("EvFits", map[string]any{"type": "message", "channel": "CA", "user": "UBOB",
		"text": strings.Repeat("x", maxRequestBody-1000), "ts": "1.000002", "thread_ts": "1.000001"})
	if w := q.send(tr.Handler()); w.Code != http.StatusOK {
		t.Errorf("body under the limit: status %d", w.Code)
	}
	if n := stub.handled(); n != 1 {
		t.Errorf("handled %d, want only the one under the limit", n)
	}
}

// A body that trickles in is cut off: it does not hold the connection.
func TestHTTPSlowBody(t *testing.T) {
	tr, _ := newTestHTTP()
	tr.bodyTimeout = 100 * time.Millisecond
	stub := &stubHandler{}
	serveStub(t, tr, stub)
	srv := httptest.NewServer(tr.Handler())
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"type\":", EventsPath)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || stub.handled() != 0 {
		t.Errorf("stalled body: %d, handled %d", resp.StatusCode, stub.handled())
	}
}

func TestHTTPURLVerification(t *testing.T) {
	tr, _ := newTestHTTP() // not serving yet: the URL can be verified anyway
	body := []byte(`{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	q := slackRequest{path: EventsPath, contentType: "application/json", body: body}
	w := q.send(tr.Handler())
	var got struct{ Challenge string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &got) != nil ||
		got.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %s", w.Code, w.Body)
	}
	q.secret = "wrong"
	if w := q.send(tr.Handler()); w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "3eZbrw") {
		t.Errorf("url_verification with a wrong signature: %d %s", w.Code, w.Body)
	}
}

func TestHTTPAnswers(t *testing.T) {
	h, stub, logs := servingStub(t)

	stub.set(ephemeralAck("Done: claimed #1"), nil)
	w := commandRequest("claim 1", "trig-1").send(h)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" ||
		strings.TrimSpace(w.Body.String()) != `{"response_type":"ephemeral","text":"Done: claimed #1"}` {
		t.Errorf("command answer: %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	stub.set(nil, nil)
	if w := clickRequest("1.1").send(h); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("click answer: %d %s", w.Code, w.Body)
	}
	if w := signedReaction("Ev2", "UBOB", "CA", "1.000001", "eyes").send(h); w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("event answer: %d %s", w.Code, w.Body)
	}
	stub.mu.Lock()
	got := stub.got
	stub.mu.Unlock()
	if len(got) != 3 || got[0].Command == nil || got[0].Command.Text != "claim 1" || got[0].Command.UserID != "UALICE" ||
		got[1].Interaction == nil || got[1].Interaction.Type != slack.InteractionTypeBlockActions ||
		got[1].Interaction.ActionCallback.BlockActions[0].ActionID != "claim" ||
		got[2].EventsAPI == nil || got[2].EventsAPI.InnerEvent.Type != "reaction_added" {
		t.Fatalf("events handed over: %+v", got)
	}

	// Slack's certificate check of the command URL runs nothing.
	ssl := slackRequest{path: CommandsPath, contentType: "application/x-www-form-urlencoded", body: []byte("ssl_check=1&token=t")}
	if w := ssl.send(h); w.Code != http.StatusOK {
		t.Errorf("ssl_check: %d", w.Code)
	}

	// What cannot be acted on is answered without Handle: an event type
	// slack-go does not know (200), a payload that does not parse (400,
	// not to be retried), the wrong method.
	if w := eventRequest("Ev3", map[string]any{"type": "some_future_event"}).send(h); w.Code != http.StatusOK {
		t.Errorf("unknown event type: %d", w.Code)
	}
	bad := slackRequest{path: EventsPath, contentType: "application/json", body: []byte(`{"type":"event_callback","event":`)}
	if w := bad.send(h); w.Code != http.StatusBadRequest || w.Header().Get("X-Slack-No-Retry") != "1" {
		t.Errorf("malformed event: %d %v", w.Code, w.Header())
	}
	bad = slackRequest{path: InteractivityPath, contentType: "application/x-www-form-urlencoded", body: []byte("payload=%7Bnot+json")}
	if w := bad.send(h); w.Code != http.StatusBadRequest {
		t.Errorf("malformed interaction: %d", w.Code)
	}
	if w := httptest.NewRecorder(); func() bool {
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, EventsPath, nil))
		return w.Code != http.StatusMethodNotAllowed
	}() {
		t.Errorf("GET %s: %d", EventsPath, w.Code)
	}
	if n := stub.handled(); n != 3 {
		t.Errorf("handled %d, want 3", n)
	}
	if !strings.Contains(logs.String(), "not understood") {
		t.Errorf("malformed requests not logged:\n%s", logs)
	}
}

// A Handle error is not an ack: the answer is a 5xx and Slack retries;
// the retry is answered 200 once handled.
func TestHTTPHandleErrorIsNotAcked(t *testing.T) {
	h, stub, logs := servingStub(t)
	stub.set(nil, errors.New("database is busy"))
	ev := signedReaction("Ev4", "UBOB", "CA", "1.000001", "eyes")
	if w := ev.send(h); w.Code < 500 {
		t.Fatalf("failed event answered %d", w.Code)
	}
	stub.set(nil, nil)
	ev.header = map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
	if w := ev.send(h); w.Code != http.StatusOK {
		t.Fatalf("retry answered %d", w.Code)
	}
	if !strings.Contains(logs.String(), "retry=1 reason=http_error") || !strings.Contains(logs.String(), "database is busy") {
		t.Errorf("log:\n%s", logs)
	}
	// A command whose Handle failed may come again with the same
	// signature (a proxy retrying): it is not taken for a replay.
	stub.set(nil, errors.New("once"))
	cmd := commandRequest("status", "trig-2")
	cmd.at = time.Now()
	if w := cmd.send(h); w.Code < 500 {
		t.Fatalf("failed command answered %d", w.Code)
	}
	stub.set(ephemeralAck("1 open"), nil)
	if w := cmd.send(h); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "1 open") {
		t.Errorf("command again: %d %s", w.Code, w.Body)
	}
}

// A command or click sent again verbatim (a captured request replayed
// within the 5 minutes its timestamp is accepted) acts once. Events go to
// Handle again: the store deduplicates them by event ID, durably.
func TestHTTPReplayedCommandActsOnce(t *testing.T) {
	h, stub, logs := servingStub(t)
	at := time.Now()
	for _, q := range []slackRequest{commandRequest("close 1", "trig-3"), clickRequest("2.2")} {
		q.at = at
		for range 2 {
			if w := q.send(h); w.Code != http.StatusOK {
				t.Errorf("%s: %d", q.path, w.Code)
			}
		}
	}
	if n := stub.handled(); n != 2 {
		t.Errorf("handled %d, want 2 (one command, one click)", n)
	}
	// The same command signed at another second is another request.
	q := commandRequest("close 1", "trig-3")
	q.at = at.Add(-time.Second)
	q.send(h)
	if n := stub.handled(); n != 3 {
		t.Errorf("handled %d, want 3", n)
	}
	ev := signedReaction("Ev5", "UBOB", "CA", "1.000001", "eyes")
	ev.at = at
	ev.send(h)
	ev.send(h)
	if n := stub.handled(); n != 5 {
		t.Errorf("handled %d, want 5: events are deduplicated by the store", n)
	}
	if !strings.Contains(logs.String(), "replayed request") {
		t.Errorf("replay not logged:\n%s", logs)
	}

	// Signatures are forgotten once their timestamp is refused anyway.
	var g replayGuard
	g.seen = map[string]time.Time{}
	if !g.first("s1", at, at) || g.first("s1", at, at.Add(4*time.Minute)) {
		t.Fatal("replay guard")
	}
	g.first("s2", at.Add(7*time.Minute), at.Add(7*time.Minute))
	if _, kept := g.seen["s1"]; kept || len(g.seen) != 1 {
		t.Errorf("old signatures kept: %v", g.seen)
	}
}

// Before Serve and after it returns, requests are refused with 503 (Slack
// retries events); Serve waits for the requests being handled.
func TestHTTPServeLifetime(t *testing.T) {
	tr, _ := newTestHTTP()
	h := tr.Handler()
	ev := signedReaction("Ev6", "UBOB", "CA", "1.000001", "eyes")
	if w := ev.send(h); w.Code != http.StatusServiceUnavailable {
		t.Errorf("before Serve: %d", w.Code)
	}
	inside := make(chan struct{})
	stub := &stubHandler{block: inside}
	stop := serveStub(t, tr, stub)
	if err := tr.serve(context.Background(), stub, func(context.Context) {}); err == nil {
		t.Error("a second Serve at the same time")
	}
	answered := make(chan int, 1)
	go func() { answered <- ev.send(h).Code }()
	<-inside
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	if code := <-answered; code != http.StatusServiceUnavailable {
		t.Errorf("request handled while stopping: %d", code)
	}
	<-stopped
	if w := ev.send(h); w.Code != http.StatusServiceUnavailable {
		t.Errorf("after Serve: %d", w.Code)
	}
}

// With the real bot: a reaction that closes a conversation acts once,
// and Slack's retry of it (a new request, X-Slack-Retry-Num) is answered
// 200 without acting again.
func TestHTTPRetriedEventActsOnce(t *testing.T) {
	st := backlog(t, 1, inboxA)
	f := pacedSlack(t, "CA")
	f.AddUser("UBOB", "bob", "Bob Builder")
	f.AddChannel("CA", slackfake.BotUserID, "UBOB")
	tr, _ := newTestHTTP()
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()))
	b := New(Config{Inboxes: []Inbox{inboxA}}, api, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx, tr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot: %v", err)
		}
	})
	waitPosts(t, f, "CA", 1)
	var conv *store.Conversation
	deadline := time.Now().Add(10 * time.Second)
	for conv == nil || conv.RootTS == "" {
		if time.Now().After(deadline) {
			t.Fatal("root never recorded")
		}
		time.Sleep(10 * time.Millisecond)
		conv, _ = st.Conv(1)
	}
	h := tr.Handler()
	ev := signedReaction("EvClose", "UBOB", "CA", conv.RootTS, "white_check_mark")
	if w := ev.send(h); w.Code != http.StatusOK {
		t.Fatalf("first delivery: %d", w.Code)
	}
	// Acked means committed.
	if c, _ := st.Conv(1); c.Status != store.StatusClosed || len(c.History) != 1 {
		t.Fatalf("after the event: %s, %d changes", c.Status, len(c.History))
	}
	if _, err := st.Act(1, "reopened", "UALICE", "", ""); err != nil {
		t.Fatal(err)
	}
	ev.at = time.Now().Add(time.Second)
	ev.header = map[string]string{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
	if w := ev.send(h); w.Code != http.StatusOK {
		t.Fatalf("retry: %d", w.Code)
	}
	if c, _ := st.Conv(1); c.Status != store.StatusOpen || len(c.History) != 2 {
		t.Errorf("the retry acted again: %s, %d changes", c.Status, len(c.History))
	}
}

// manifest-http.yaml is manifest.yaml with the three request URLs (on the
// paths Handler serves) and Socket Mode off: scopes and events never drift.
func TestHTTPManifest(t *testing.T) {
	read := func(name string) []string {
		b, err := os.ReadFile("../" + name)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	socket, httpMode := read("manifest.yaml"), read("manifest-http.yaml")
	urls := map[string]string{}
	var rest []string
	for _, l := range httpMode {
		k, v, _ := strings.Cut(strings.TrimSpace(l), ": ")
		switch k {
		case "url", "request_url":
			u, err := url.Parse(v)
			if err != nil || u.Scheme != "https" {
				t.Errorf("request URL %q is not https", v)
				continue
			}
			urls[u.Path] = k
			continue
		case "socket_mode_enabled":
			l = strings.Replace(l, "false", "true", 1)
		}
		rest = append(rest, l)
	}
	for _, p := range []string{EventsPath, InteractivityPath, CommandsPath} {
		if urls[p] == "" {
			t.Errorf("manifest-http.yaml has no request URL for %s (has %v)", p, urls)
		}
	}
	if got, want := strings.Join(rest, "\n"), strings.Join(socket, "\n"); got != want {
		t.Errorf("manifest-http.yaml differs from manifest.yaml beyond the request URLs and socket_mode_enabled:\n%s\n---\n%s", got, want)
	}
}

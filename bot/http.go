package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// The request URLs' paths (manifest-http.yaml) in HTTP mode.
const (
	EventsPath        = "/slack/events"
	InteractivityPath = "/slack/interactivity"
	CommandsPath      = "/slack/commands"
)

// maxRequestBody bounds a request from Slack. The largest Slack sends are
// interactive payloads carrying the whole message with its blocks (a few
// tens of KB at Slack's own limits); 1 MiB leaves room and still stops a
// sender from making the server hold anything large before the signature
// is checked.
const maxRequestBody = 1 << 20

// bodyTimeout bounds the reading of a request's body.
const bodyTimeout = 10 * time.Second

// replayWindow is how long a signed request stays acceptable: slack-go's
// SecretsVerifier takes timestamps up to 5 minutes off either way.
const replayWindow = 5 * time.Minute

// handler is what the HTTP transport hands events to (*Bot; a stand-in in
// tests).
type handler interface {
	Handle(ctx context.Context, ev Event) (any, error)
}

// HTTP is the transport for workspaces that do not allow Socket Mode: Slack
// POSTs events, interactive payloads and slash commands to request URLs
// served by Handler, each signed with the app's signing secret. The
// answer is the ack: 200 (with a slash command's answer as JSON) once
// Handle returned nil, so, as with Socket Mode acks, only after what the
// event caused is committed; a 5xx otherwise, so that Slack retries.
//
// Handler may be mounted on a server that starts before Serve: until Serve
// runs (and after it returns), requests other than url_verification are
// answered 503 and Slack tries events again later.
type HTTP struct {
	secret      string
	log         *slog.Logger
	maxBody     int64
	bodyTimeout time.Duration
	replays     replayGuard

	mu      sync.Mutex
	h       handler         // nil while not serving
	ctx     context.Context // Serve's
	handles sync.WaitGroup  // requests inside Handle
}

// NewHTTP returns the HTTP transport checking requests with signingSecret
// (Basic Information → App Credentials → Signing Secret).
func NewHTTP(signingSecret string, log *slog.Logger) *HTTP {
	return &HTTP{secret: signingSecret, log: log.With("component", "slack", "transport", "http"),
		maxBody: maxRequestBody, bodyTimeout: bodyTimeout, replays: replayGuard{seen: map[string]time.Time{}}}
}

// Handler serves the three request URLs (EventsPath, InteractivityPath,
// CommandsPath); mount it at "/slack/".
func (t *HTTP) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+EventsPath, func(w http.ResponseWriter, r *http.Request) { t.serveHTTP(w, r, t.events) })
	mux.HandleFunc("POST "+InteractivityPath, func(w http.ResponseWriter, r *http.Request) { t.serveHTTP(w, r, t.interaction) })
	mux.HandleFunc("POST "+CommandsPath, func(w http.ResponseWriter, r *http.Request) { t.serveHTTP(w, r, t.command) })
	return mux
}

// Serve hands requests to b until ctx is done, then waits for those being
// handled. Events flow as long as it serves: b.Connected is called once,
// with ctx.
func (t *HTTP) Serve(ctx context.Context, b *Bot) error {
	return t.serve(ctx, b, b.Connected)
}

func (t *HTTP) serve(ctx context.Context, h handler, connected func(context.Context)) error {
	t.mu.Lock()
	if t.h != nil {
		t.mu.Unlock()
		return errors.New("slack http transport: already serving")
	}
	t.h, t.ctx = h, ctx
	t.mu.Unlock()
	t.log.Info("taking Slack's requests (HTTP mode)", "paths", []string{EventsPath, InteractivityPath, CommandsPath})
	connected(ctx)
	<-ctx.Done()
	t.mu.Lock()
	t.h, t.ctx = nil, nil
	t.mu.Unlock()
	t.handles.Wait()
	return nil
}

// begin returns the handler to use for one request, or nil when not
// serving; end must follow a non-nil begin.
func (t *HTTP) begin() (handler, context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.h == nil {
		return nil, nil
	}
	t.handles.Add(1)
	return t.h, t.ctx
}

func (t *HTTP) end() { t.handles.Done() }

// request is one verified request, parsed by a path's parse function.
type request struct {
	r    *http.Request // its Body reads the verified body again
	body []byte
}

// parsed is what a path's parse function made of a request: an event for
// Handle, or an answer of its own (url_verification, something to ignore).
type parsed struct {
	ev Event
	// replayable: commands and clicks, which carry no ID to deduplicate
	// durably and are never retried by Slack, so a second request with
	// the same signature can only be a replay.
	replayable bool
	// status, when not 0, answers at once with body.
	status int
	body   any
	// noRetry asks Slack not to retry (X-Slack-No-Retry): a request that
	// cannot be understood will not be understood the next time.
	noRetry bool
	why     string // logged with status
}

func (t *HTTP) serveHTTP(w http.ResponseWriter, r *http.Request, parse func(request) parsed) {
	// Slack sends a few KB at once: a body trickling in is not Slack, and
	// must not hold a connection (the server has no read timeout, for
	// the sake of its other paths).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(t.bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			t.log.Warn("refused a request: body too large", "path", r.URL.Path, "limit", tooBig.Limit, "remote", r.RemoteAddr)
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		t.log.Debug("reading a request failed", "path", r.URL.Path, "err", err)
		http.Error(w, "cannot read the request", http.StatusBadRequest)
		return
	}
	// Read in time: the deadline must not go on running while Handle
	// works (the server reads on in the background to notice a client
	// going away, and would take the deadline for that).
	_ = rc.SetReadDeadline(time.Time{})
	if err := t.verify(r.Header, body); err != nil {
		t.refused(r, err)
		http.Error(w, "the request is not signed by Slack", http.StatusUnauthorized)
		return
	}
	if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
		t.log.Debug("Slack retries a request", "path", r.URL.Path, "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	p := parse(request{r: r, body: body})
	if p.status != 0 {
		if p.why != "" {
			t.log.Warn(p.why, "path", r.URL.Path)
		}
		if p.noRetry {
			w.Header().Set("X-Slack-No-Retry", "1")
		}
		writeAnswer(w, p.status, p.body)
		return
	}
	sig := r.Header.Get("X-Slack-Signature")
	if p.replayable && !t.replays.first(sig, requestTime(r.Header), time.Now()) {
		t.log.Warn("ignored a replayed request (same signature as one already taken)", "path", r.URL.Path, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusOK)
		return
	}
	h, ctx := t.begin()
	if h == nil {
		if p.replayable {
			t.replays.forget(sig)
		}
		w.Header().Set("Retry-After", "10")
		http.Error(w, "inboxbot is not taking Slack's requests yet", http.StatusServiceUnavailable)
		return
	}
	defer t.end()
	payload, err := h.Handle(ctx, p.ev)
	if err != nil {
		if p.replayable {
			t.replays.forget(sig)
		}
		status := http.StatusInternalServerError
		if ctx.Err() != nil {
			status = http.StatusServiceUnavailable // stopping
		} else {
			// Not acked: Slack retries events, and the event dedup makes
			// sure nothing happens twice.
			t.log.Error("request not handled; leaving it to Slack's retry", "path", r.URL.Path, "err", err)
		}
		http.Error(w, "not handled", status)
		return
	}
	writeAnswer(w, http.StatusOK, payload)
}

// writeAnswer writes status with body as JSON (nothing when body is nil).
func writeAnswer(w http.ResponseWriter, status int, body any) {
	if body == nil {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// verify checks the request's signature (v0, HMAC-SHA256 over version,
// timestamp and body; compared in constant time) and that its timestamp is
// within 5 minutes of now, with slack-go's SecretsVerifier.
func (t *HTTP) verify(header http.Header, body []byte) error {
	sv, err := slack.NewSecretsVerifier(header, t.secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

func (t *HTTP) refused(r *http.Request, err error) {
	msg := "refused a request not signed by Slack"
	switch {
	case errors.Is(err, slack.ErrExpiredTimestamp):
		msg = "refused a request stamped more than 5 minutes from now (a replay, or this machine's clock is off)"
	case errors.Is(err, slack.ErrInvalidSignature):
		msg = "refused a request with a wrong signature (if all are refused, check SLACK_SIGNING_SECRET)"
	}
	t.log.Warn(msg, "path", r.URL.Path, "err", err, "remote", r.RemoteAddr)
}

func requestTime(h http.Header) time.Time {
	ts, _ := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
	return time.Unix(ts, 0)
}

func badRequest(why string, err error) parsed {
	return parsed{status: http.StatusBadRequest, body: map[string]string{"error": why}, noRetry: true,
		why: fmt.Sprintf("a request from Slack not understood: %s: %v", why, err)}
}

// events parses an Events API request.
func (t *HTTP) events(req request) parsed {
	ev, err := slackevents.ParseEvent(req.body, slackevents.OptionNoVerifyToken())
	if err != nil {
		if typ, ok := unknownInnerType(req.body); ok {
			// Nothing inboxbot subscribes to, so nothing to do (Socket
			// Mode drops these too).
			t.log.Debug("event of a type slack-go does not know ignored", "type", typ)
			return parsed{status: http.StatusOK}
		}
		return badRequest("events payload", err)
	}
	switch d := ev.Data.(type) {
	case *slackevents.EventsAPIURLVerificationEvent:
		t.log.Info("answered Slack's URL verification")
		return parsed{status: http.StatusOK, body: map[string]string{"challenge": d.Challenge}}
	case *slackevents.EventsAPIAppRateLimited:
		t.log.Warn("Slack is holding back events: more than 30,000 in an hour (app_rate_limited)", "minute", time.Unix(int64(d.MinuteRateLimited), 0).UTC())
		return parsed{status: http.StatusOK}
	case *slackevents.EventsAPICallbackEvent:
		return parsed{ev: Event{EventsAPI: &ev}}
	}
	t.log.Debug("events request of an unknown type ignored", "type", ev.Type)
	return parsed{status: http.StatusOK}
}

// unknownInnerType tells an event_callback whose inner event type slack-go
// has no struct for (ParseEvent fails on it as on a malformed payload).
func unknownInnerType(body []byte) (string, bool) {
	var outer struct {
		Type  string `json:"type"`
		Event struct {
			Type string `json:"type"`
		} `json:"event"`
	}
	if json.Unmarshal(body, &outer) != nil || outer.Type != slackevents.CallbackEvent || outer.Event.Type == "" {
		return "", false
	}
	if _, known := slackevents.EventsAPIInnerEventMapping[slackevents.EventsAPIType(outer.Event.Type)]; known {
		return "", false
	}
	if _, known := slack.EventMapping[outer.Event.Type]; known {
		return "", false
	}
	return outer.Event.Type, true
}

// command parses a slash command request (a form).
func (t *HTTP) command(req request) parsed {
	cmd, err := slack.SlashCommandParse(req.r)
	if err != nil {
		return badRequest("slash command form", err)
	}
	if req.r.PostForm.Get("ssl_check") == "1" {
		// Slack checking the URL's certificate; no command to run.
		return parsed{status: http.StatusOK}
	}
	return parsed{ev: Event{Command: &cmd}, replayable: true}
}

// interaction parses an interactivity request (a form whose payload field
// is the JSON).
func (t *HTTP) interaction(req request) parsed {
	cb, err := slack.InteractionCallbackParse(req.r)
	if err != nil {
		return badRequest("interaction payload", err)
	}
	return parsed{ev: Event{Interaction: &cb}, replayable: true}
}

// replayGuard remembers the signatures of commands and clicks taken while
// they could still be accepted, so that a captured request sent again acts
// at most once. It is in memory: a replay right after a restart would pass,
// which is why events, which Slack retries, rely on the store's dedup by
// event ID instead.
type replayGuard struct {
	mu        sync.Mutex
	seen      map[string]time.Time // signature -> until when it matters
	lastPrune time.Time
}

// first records sig, of a request stamped at, and reports whether it is
// new.
func (g *replayGuard) first(sig string, at, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.lastPrune) > time.Minute {
		for s, until := range g.seen {
			if now.After(until) {
				delete(g.seen, s)
			}
		}
		g.lastPrune = now
	}
	if _, dup := g.seen[sig]; dup {
		return false
	}
	g.seen[sig] = at.Add(replayWindow + time.Minute)
	return true
}

// forget drops sig again: its request was not acted on, so the same
// request may be tried again.
func (g *replayGuard) forget(sig string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.seen, sig)
}

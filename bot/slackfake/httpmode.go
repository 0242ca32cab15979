package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HTTPConfig makes the fake deliver events, interactive payloads and slash
// commands as HTTP POSTs to the app's request URLs, as Slack does for apps
// not in Socket Mode (see UseHTTP).
type HTTPConfig struct {
	// The request URLs of the app manifest: Event Subscriptions,
	// Interactivity & Shortcuts, and the slash command's.
	EventsURL, InteractivityURL, CommandsURL string
	// SigningSecret signs every request (X-Slack-Signature).
	SigningSecret string
	// Timeout is how long an answer may take (Slack: 3 s; default).
	Timeout time.Duration
	// AutoRetry retries a failed events delivery at once, up to 3 times,
	// as Slack does (after about 0 s, 1 min and 5 min). Without it failed
	// deliveries wait for RetryFailed, so tests decide when retries come.
	AutoRetry bool
}

// Tamper spoils the signing of the next HTTP delivery (TamperNext).
type Tamper int

const (
	// TamperSignature signs with the wrong secret.
	TamperSignature Tamper = iota + 1
	// TamperStale stamps and validly signs the request as of 6 minutes ago:
	// what an attacker replaying a captured old request sends.
	TamperStale
	// TamperUnsigned leaves out X-Slack-Signature and X-Slack-Request-Timestamp.
	TamperUnsigned
)

// Slack's X-Slack-Retry-Reason values the fake sends.
const (
	RetryReasonTimeout    = "http_timeout"
	RetryReasonHTTPError  = "http_error"
	RetryReasonConnFailed = "connection_failed"
)

// maxHTTPRetries is how often Slack retries an events delivery.
const maxHTTPRetries = 3

// Delivery is one HTTP request the fake made in HTTP mode.
type Delivery struct {
	EnvelopeID string
	Type       string // "events_api", "interactive", "slash_commands"
	URL        string
	// Attempt is 0 for the first request and the X-Slack-Retry-Num of a
	// retry; RetryReason is its X-Slack-Retry-Reason.
	Attempt     int
	RetryReason string
	Tamper      Tamper
	// Replay is set for requests sent again verbatim by Replay.
	Replay bool
	// Status is the HTTP status of the answer; 0 if none came (Err says why).
	Status int
	Header http.Header
	Body   []byte
	Err    string
	// Acked: a 2xx answer in time, which counts as the envelope's ack.
	Acked bool
}

type sentRequest struct {
	url    string
	header http.Header
	body   []byte
}

type httpDelivery struct {
	cfg        HTTPConfig
	client     *http.Client
	ctx        context.Context
	cancel     context.CancelFunc
	tamper     []Tamper
	deliveries []*Delivery
	first      map[string]*sentRequest // envelope ID -> its first request, for Replay
	due        []dueRetry              // failed events deliveries waiting for RetryFailed
	inFlight   int                     // deliveries started and not yet recorded
}

type dueRetry struct {
	env     *envelope
	attempt int
	reason  string
}

// UseHTTP switches the fake to HTTP delivery: from now on everything it
// would put on the Socket Mode websocket (queued envelopes included) is
// POSTed to the request URLs of cfg, signed with cfg.SigningSecret:
//
//   - events_api: the event_callback JSON (application/json) to EventsURL;
//   - interactive: payload=<json> (application/x-www-form-urlencoded) to
//     InteractivityURL;
//   - slash_commands: the command's fields as a form to CommandsURL.
//
// A 2xx answer within cfg.Timeout is the ack: WaitAck, Acked and WaitViewAck
// work as in Socket Mode, with the answer body as the ack payload (a
// non-JSON body of a slash command becomes {"text": body}; only an
// application/json body counts as JSON). Any other outcome fails the
// delivery: events are retried (AutoRetry or RetryFailed) with
// X-Slack-Retry-Num and X-Slack-Retry-Reason, unless the answer carried
// X-Slack-No-Retry: 1; commands and interactive payloads are not retried,
// as with Slack. Envelope IDs stay the fake's handle for each delivery
// (retries keep the ID; Resend makes a new one, as in Socket Mode).
// Deliveries records every request. Calling UseHTTP again replaces cfg.
// There is no connection in HTTP mode: WaitConnected means nothing there;
// VerifyURL tells when the app's endpoint answers.
func (s *Server) UseHTTP(cfg HTTPConfig) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	client := &http.Client{
		Timeout: cfg.Timeout,
		// Slack does not follow redirects: a 3xx is a failed delivery.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.http != nil {
		s.http.cfg, s.http.client = cfg, client
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.http = &httpDelivery{cfg: cfg, client: client, ctx: ctx, cancel: cancel, first: map[string]*sentRequest{}}
	s.wg.Add(1)
	go s.httpDispatch()
	s.notifyLocked()
}

func (s *Server) stopHTTP() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		s.http.cancel()
	}
}

// httpDispatch takes envelopes from the outbox and delivers each in its own
// goroutine (Slack sends concurrently; the app orders work itself).
func (s *Server) httpDispatch() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		for _, env := range s.outbox {
			if env.id != "" { // "disconnect" frames are Socket Mode only
				s.goDeliverLocked(env, env.retry, retryReasonFor(env.retry))
			}
		}
		s.outbox = nil
		ch := s.changed
		s.mu.Unlock()
		<-ch
	}
}

func retryReasonFor(attempt int) string {
	if attempt == 0 {
		return ""
	}
	return RetryReasonTimeout
}

func (s *Server) goDeliverLocked(env *envelope, attempt int, reason string) {
	if s.closed {
		return
	}
	s.wg.Add(1)
	s.http.inFlight++
	go func() {
		defer s.wg.Done()
		s.deliver(env, attempt, reason)
		s.mu.Lock()
		s.http.inFlight--
		s.notifyLocked()
		s.mu.Unlock()
	}()
}

// HTTPInFlight is the number of envelopes on their way in HTTP mode:
// queued, or sent and not answered yet. When it is 0, every envelope sent
// so far was acked or failed (and a failed events delivery waits for
// RetryFailed, unless AutoRetry), so a test can tell a delivery the app
// never got from one still under way.
func (s *Server) HTTPInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http == nil {
		return 0
	}
	return len(s.outbox) + s.http.inFlight
}

// dropDueLocked discards failed events deliveries waiting for a retry
// (all, or those of one envelope) and returns how many.
func (s *Server) dropDueLocked(envelopeID string) int {
	if s.http == nil {
		return 0
	}
	n := 0
	kept := s.http.due[:0]
	for _, d := range s.http.due {
		if envelopeID == "" || d.env.id == envelopeID {
			n++
			continue
		}
		kept = append(kept, d)
	}
	s.http.due = kept
	return n
}

// TamperNext spoils the signing of the next HTTP delivery; tampers queue
// up and are used one per request.
func (s *Server) TamperNext(t Tamper) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		s.http.tamper = append(s.http.tamper, t)
	}
}

// Deliveries returns every HTTP request made in HTTP mode, in the order
// their answers (or failures) came.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http == nil {
		return nil
	}
	out := make([]Delivery, len(s.http.deliveries))
	for i, d := range s.http.deliveries {
		out[i] = *d
		out[i].Header = d.Header.Clone()
		out[i].Body = bytes.Clone(d.Body)
	}
	return out
}

// WaitDelivery waits for the outcome of an attempt (0 = first request) to
// deliver an envelope over HTTP.
func (s *Server) WaitDelivery(ctx context.Context, envelopeID string, attempt int) (Delivery, error) {
	var got Delivery
	err := s.WaitFor(ctx, func(s *Server) bool {
		for _, d := range s.Deliveries() {
			if d.EnvelopeID == envelopeID && d.Attempt == attempt && !d.Replay {
				got = d
				return true
			}
		}
		return false
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("slackfake: no delivery %d of %s: %w", attempt, envelopeID, err)
	}
	return got, nil
}

// RetryFailed sends the next retry of every failed events delivery (as
// Slack does on its own schedule) and returns how many it started.
func (s *Server) RetryFailed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http == nil {
		return 0
	}
	due := s.http.due
	s.http.due = nil
	for _, d := range due {
		s.goDeliverLocked(d.env, d.attempt, d.reason)
	}
	return len(due)
}

// deliver makes one HTTP request for env and records the outcome.
func (s *Server) deliver(env *envelope, attempt int, reason string) {
	s.mu.Lock()
	h := s.http
	cfg, client := h.cfg, h.client
	var tamper Tamper
	if len(h.tamper) > 0 {
		tamper, h.tamper = h.tamper[0], h.tamper[1:]
	}
	now := s.nowLocked()
	s.mu.Unlock()

	d := &Delivery{EnvelopeID: env.id, Type: env.typ, Attempt: attempt, RetryReason: reason, Tamper: tamper}
	req, err := buildDelivery(cfg, env)
	if err != nil {
		d.Err = err.Error()
		s.recordDelivery(d, nil)
		return
	}
	d.URL = req.url
	if attempt > 0 {
		req.header.Set("X-Slack-Retry-Num", strconv.Itoa(attempt))
		req.header.Set("X-Slack-Retry-Reason", reason)
	}
	sign(req, cfg.SigningSecret, now, tamper)
	s.mu.Lock()
	if _, ok := h.first[env.id]; !ok {
		h.first[env.id] = req
	}
	s.mu.Unlock()
	s.send(h.ctx, client, req, d)
	if d.Acked {
		s.recordAck(env.id, ackPayload(env.typ, d.Header.Get("Content-Type"), d.Body))
		s.recordDelivery(d, nil)
		return
	}
	next := failureReason(d)
	if env.typ != "events_api" || attempt >= maxHTTPRetries || d.Header.Get("X-Slack-No-Retry") == "1" || h.ctx.Err() != nil {
		s.recordDelivery(d, nil)
		return
	}
	if cfg.AutoRetry {
		s.recordDelivery(d, nil)
		s.deliver(env, attempt+1, next)
		return
	}
	s.recordDelivery(d, &dueRetry{env: env, attempt: attempt + 1, reason: next})
}

func failureReason(d *Delivery) string {
	switch {
	case d.Status != 0:
		return RetryReasonHTTPError
	case d.Err == "timeout":
		return RetryReasonTimeout
	default:
		return RetryReasonConnFailed
	}
}

func (s *Server) recordDelivery(d *Delivery, due *dueRetry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.http.deliveries = append(s.http.deliveries, d)
	if due != nil {
		s.http.due = append(s.http.due, *due)
	}
	s.notifyLocked()
}

// send makes the request and fills in the outcome of d.
func (s *Server) send(ctx context.Context, client *http.Client, sr *sentRequest, d *Delivery) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sr.url, bytes.NewReader(sr.body))
	if err != nil {
		d.Err = err.Error()
		return
	}
	req.Header = sr.header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			d.Err = "timeout"
		} else {
			d.Err = err.Error()
		}
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	d.Status, d.Header, d.Body = resp.StatusCode, resp.Header, body
	if err != nil {
		d.Err = "timeout" // the answer did not finish in time
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			d.Err = err.Error()
		}
		return
	}
	d.Acked = resp.StatusCode >= 200 && resp.StatusCode < 300
}

// buildDelivery makes the unsigned request for an envelope.
func buildDelivery(cfg HTTPConfig, env *envelope) (*sentRequest, error) {
	r := &sentRequest{header: http.Header{}}
	r.header.Set("User-Agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
	switch env.typ {
	case "events_api":
		r.url, r.body = cfg.EventsURL, bytes.Clone(env.payload)
		r.header.Set("Content-Type", "application/json")
	case "interactive":
		r.url, r.body = cfg.InteractivityURL, []byte(url.Values{"payload": {string(env.payload)}}.Encode())
		r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "slash_commands":
		var fields map[string]any
		if err := json.Unmarshal(env.payload, &fields); err != nil {
			return nil, err
		}
		form := url.Values{}
		for k, v := range fields {
			switch v := v.(type) {
			case string:
				form.Set(k, v)
			case nil:
			default:
				form.Set(k, fmt.Sprint(v))
			}
		}
		r.url, r.body = cfg.CommandsURL, []byte(form.Encode())
		r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	default:
		return nil, fmt.Errorf("slackfake: %s cannot be delivered over HTTP", env.typ)
	}
	if r.url == "" {
		return nil, fmt.Errorf("slackfake: no request URL for %s", env.typ)
	}
	return r, nil
}

// sign adds Slack's signature headers (v0=hex(hmac_sha256(secret, "v0:ts:body"))).
func sign(r *sentRequest, secret string, now time.Time, t Tamper) {
	if t == TamperUnsigned {
		return
	}
	if t == TamperStale {
		now = now.Add(-6 * time.Minute)
	}
	if t == TamperSignature {
		secret = "not-" + secret
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	r.header.Set("X-Slack-Request-Timestamp", ts)
	r.header.Set("X-Slack-Signature", Signature(secret, ts, r.body))
}

// Signature is Slack's request signature of body sent at timestamp ts
// (Unix seconds as text): "v0=" + hex(HMAC-SHA256(secret, "v0:"+ts+":"+body)).
func Signature(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// ackPayload turns an HTTP answer body into the ack payload.
func ackPayload(typ, contentType string, body []byte) json.RawMessage {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return json.RawMessage{}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" && json.Valid(trimmed) {
		return json.RawMessage(trimmed)
	}
	if typ == "slash_commands" { // Slack shows a plain-text answer as the message text
		return mustJSON(obj{"text": string(body)})
	}
	return mustJSON(string(body))
}

// Replay sends the first request made for an envelope again, byte for byte
// (same timestamp, signature and body), as an attacker who captured it
// would, and returns the app's answer. The answer is recorded in
// Deliveries (Replay set) but never counts as an ack. For a replay of an
// old request (older than 5 minutes), use TamperStale.
func (s *Server) Replay(ctx context.Context, envelopeID string) (status int, body []byte, err error) {
	s.mu.Lock()
	h := s.http
	var sr *sentRequest
	if h != nil {
		sr = h.first[envelopeID]
	}
	s.mu.Unlock()
	if sr == nil {
		return 0, nil, fmt.Errorf("slackfake: no HTTP request was made for %s", envelopeID)
	}
	s.mu.Lock()
	env := s.envelopes[envelopeID]
	client := h.client
	s.mu.Unlock()
	d := &Delivery{EnvelopeID: envelopeID, Type: env.typ, URL: sr.url, Replay: true}
	s.send(ctx, client, sr, d)
	d.Acked = false
	s.recordDelivery(d, nil)
	if d.Status == 0 {
		return 0, nil, fmt.Errorf("slackfake: replay of %s: %s", envelopeID, d.Err)
	}
	return d.Status, d.Body, nil
}

// VerifyURL sends Slack's url_verification request to the events URL, as
// Slack does when the URL is saved in the app's settings, and checks that
// the app answers with the challenge (as plain text, JSON {"challenge":…}
// or a form). It also tells a test that the app's HTTP endpoint is up.
func (s *Server) VerifyURL(ctx context.Context) error {
	s.mu.Lock()
	h := s.http
	if h == nil {
		s.mu.Unlock()
		return errors.New("slackfake: VerifyURL needs UseHTTP")
	}
	challenge := s.nextIDLocked("challenge-") + "-3JMv0bkzkQz2"
	cfg, client, now := h.cfg, h.client, s.nowLocked()
	var tamper Tamper
	if len(h.tamper) > 0 {
		tamper, h.tamper = h.tamper[0], h.tamper[1:]
	}
	s.mu.Unlock()
	if cfg.EventsURL == "" {
		return errors.New("slackfake: no events URL")
	}
	sr := &sentRequest{url: cfg.EventsURL, header: http.Header{}, body: mustJSON(obj{
		"token": VerificationToken, "challenge": challenge, "type": "url_verification",
	})}
	sr.header.Set("Content-Type", "application/json")
	sign(sr, cfg.SigningSecret, now, tamper)
	d := &Delivery{Type: "url_verification", URL: sr.url, Tamper: tamper}
	s.send(ctx, client, sr, d)
	d.Acked = false
	s.recordDelivery(d, nil)
	if d.Status != http.StatusOK {
		return fmt.Errorf("slackfake: url_verification: status %d %s", d.Status, d.Err)
	}
	got := strings.TrimSpace(string(d.Body))
	var j struct {
		Challenge string `json:"challenge"`
	}
	if json.Unmarshal(d.Body, &j) == nil && j.Challenge != "" {
		got = j.Challenge
	} else if f, err := url.ParseQuery(got); err == nil && f.Get("challenge") != "" {
		got = f.Get("challenge")
	}
	if got != challenge {
		return fmt.Errorf("slackfake: url_verification answered %q, want the challenge %q", d.Body, challenge)
	}
	return nil
}

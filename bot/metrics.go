package bot

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Metrics are the Slack side's Prometheus metrics. It also watches Web API
// answers for a bot token Slack no longer takes (see TokenRejected).
type Metrics struct {
	Calls       *prometheus.CounterVec // by method
	Failures    *prometheus.CounterVec // by method: transport errors, HTTP errors, "ok": false
	RateLimited *prometheus.CounterVec // by method: HTTP 429
	MailsPosted prometheus.Counter
	// IngestToPost is from a mail being recorded to its job being done in Slack.
	IngestToPost     prometheus.Histogram
	SocketReconnects prometheus.Counter

	rejected chan error
}

// NewMetrics creates the metrics and registers them with reg; with a nil
// reg they work but are registered nowhere (tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inboxbot_slack_api_calls_total", Help: "Slack Web API calls, by method.",
		}, []string{"method"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inboxbot_slack_api_failures_total", Help: "Slack Web API calls that failed (no answer, HTTP error or ok=false), by method.",
		}, []string{"method"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inboxbot_slack_ratelimited_total", Help: "Slack Web API calls answered 429 (rate limited), by method.",
		}, []string{"method"}),
		MailsPosted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_mails_posted_total", Help: "Mails posted in Slack (all their parts).",
		}),
		IngestToPost: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "inboxbot_ingest_to_post_seconds",
			Help:    "Time from a mail being recorded to it being posted in Slack.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}),
		SocketReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_socketmode_reconnects_total", Help: "Socket Mode connections made after the first.",
		}),
		rejected: make(chan error, 1),
	}
	if reg != nil {
		reg.MustRegister(m.Calls, m.Failures, m.RateLimited, m.MailsPosted, m.IngestToPost, m.SocketReconnects)
	}
	return m
}

// HTTPClient is the client to give slack-go (slack.OptionHTTPClient): it
// counts every Web API call and notices a rejected bot token. base may be
// nil (http.DefaultTransport).
func (m *Metrics) HTTPClient(base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &countingTransport{base: base, m: m}}
}

// TokenRejected delivers the first Web API answer saying the bot token is
// not (or no longer) valid: invalid_auth, token_revoked and the like.
// apps.connections.open is not watched: it uses the app token, and Socket
// Mode reports its own failure.
func (m *Metrics) TokenRejected() <-chan error { return m.rejected }

// mailPosted counts a mail job done and logs it (the conversation number,
// nothing of the mail).
func (b *Bot) mailPosted(j *store.SlackJob) {
	b.metrics.MailsPosted.Inc()
	b.metrics.IngestToPost.Observe(time.Since(j.Created).Seconds())
	b.log.Info("mail posted", "conv", j.Conv, "job", j.Seq, "new_conv", j.NewConv)
}

type countingTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	t.m.Calls.WithLabelValues(method).Inc()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.m.Failures.WithLabelValues(method).Inc()
		return resp, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		t.m.RateLimited.WithLabelValues(method).Inc()
	}
	if resp.StatusCode/100 != 2 {
		t.m.Failures.WithLabelValues(method).Inc()
		return resp, nil
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, nil
	}
	// Answers are small JSON documents that slack-go reads whole anyway.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		t.m.Failures.WithLabelValues(method).Inc()
		return resp, nil
	}
	var r struct {
		OK    *bool  `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &r) != nil || r.OK == nil || *r.OK {
		return resp, nil
	}
	t.m.Failures.WithLabelValues(method).Inc()
	if tokenError(r.Error) && method != "apps.connections.open" {
		select {
		case t.m.rejected <- slack.SlackErrorResponse{Err: r.Error}:
		default:
		}
	}
	return resp, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inboxbot/inboxbot/store"
)

func (m *Main) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, lines := m.readiness(time.Now())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	if m.slackIn != nil {
		mux.Handle("/slack/", m.slackIn)
	}
	return mux
}

// partState is bot.State or mailbridge.State.
type partState struct {
	Up        bool
	Since     time.Time
	Err       string
	Permanent bool
	Fix       string
}

type namedState struct {
	name string
	s    partState
}

// partStates are the states of Slack and of each inbox's IMAP and SMTP.
func (m *Main) partStates() []namedState {
	out := []namedState{{"slack", partState(m.bot.State())}}
	for _, ms := range m.mail {
		out = append(out, namedState{m.partName("imap", ms.inbox), partState(ms.watcher.State())},
			namedState{m.partName("smtp", ms.inbox), partState(ms.sender.State())})
	}
	return out
}

// readiness says whether inboxbot works end to end, with one line per
// part: Slack connected, IMAP logged in and idling, SMTP last known good,
// and no due job waiting longer than QueueStuck in either queue.
func (m *Main) readiness(now time.Time) (bool, []string) {
	ready := true
	var lines []string
	m.mu.Lock()
	started := map[string]bool{}
	for k, v := range m.started {
		started[k] = v
	}
	m.mu.Unlock()
	for _, p := range m.partStates() {
		switch {
		case !started[p.name]:
			ready = false
			lines = append(lines, p.name+": starting (start-up checks not passed yet, see the log)")
		case p.s.Up:
			lines = append(lines, fmt.Sprintf("%s: ok since %s", p.name, p.s.Since.UTC().Format(time.RFC3339)))
		default:
			ready = false
			line := fmt.Sprintf("%s: down since %s: %s", p.name, p.s.Since.UTC().Format(time.RFC3339), p.s.Err)
			if p.s.Fix != "" {
				line += " (fix: " + p.s.Fix + ")"
			}
			lines = append(lines, line)
		}
	}
	toSlack, toMail, err := m.st.Stats(now)
	if err != nil {
		return false, append(lines, "store: "+err.Error())
	}
	bound := m.QueueStuck
	if bound <= 0 {
		bound = 10 * time.Minute
	}
	for _, q := range []struct {
		name string
		s    store.QueueStats
	}{{"queue mail→slack", toSlack}, {"queue slack→mail", toMail}} {
		line := fmt.Sprintf("%s: %d jobs", q.name, q.s.Depth)
		if !q.s.OldestDue.IsZero() {
			age := now.Sub(q.s.OldestDue)
			line += fmt.Sprintf(", oldest due for %v", age.Round(time.Second))
			if age > bound {
				ready = false
				line += fmt.Sprintf(" (stuck: more than %v)", bound)
			}
		}
		lines = append(lines, line)
	}
	return ready, lines
}

// storeCollector reads queue and conversation figures from the store at
// each scrape.
type storeCollector struct{ m *Main }

var (
	descQueueDepth = prometheus.NewDesc("inboxbot_queue_depth", "Jobs in a queue.", []string{"queue"}, nil)
	descQueueAge   = prometheus.NewDesc("inboxbot_queue_oldest_job_age_seconds", "Age of the oldest job in a queue (0 when empty).", []string{"queue"}, nil)
	descConvs      = prometheus.NewDesc("inboxbot_conversations", "Conversations by status.", []string{"status"}, nil)
	descUp         = prometheus.NewDesc("inboxbot_up", "1 when a part works (slack: Socket Mode connected, or in HTTP mode taking requests; imap: logged in; smtp: last session good).", []string{"part"}, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descQueueDepth
	ch <- descQueueAge
	ch <- descConvs
	ch <- descUp
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	now := time.Now()
	if toSlack, toMail, err := m.st.Stats(now); err == nil {
		for name, q := range map[string]store.QueueStats{"toslack": toSlack, "tomail": toMail} {
			ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(q.Depth), name)
			age := 0.0
			if !q.Oldest.IsZero() {
				age = now.Sub(q.Oldest).Seconds()
			}
			ch <- prometheus.MustNewConstMetric(descQueueAge, prometheus.GaugeValue, age, name)
		}
	}
	if counts, err := m.st.ConvCounts(); err == nil {
		for _, s := range []store.Status{store.StatusOpen, store.StatusWaiting, store.StatusHold, store.StatusClosed} {
			ch <- prometheus.MustNewConstMetric(descConvs, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	for _, p := range m.partStates() {
		v := 0.0
		if p.s.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, v, p.name)
	}
}

// healthCommand asks the inboxbot serving HTTP_ADDR on this machine for
// /healthz: the container's HEALTHCHECK (the image has no shell or curl).
func healthCommand(getenv func(string) string, stdout, stderr io.Writer) int {
	addr := unquote(strings.TrimSpace(getenv("HTTP_ADDR")))
	if addr == "" {
		fmt.Fprintln(stderr, "inboxbot health: HTTP_ADDR is not set, so inboxbot serves no health endpoint")
		return exitConfig
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(stderr, "inboxbot health: HTTP_ADDR:", err)
		return exitConfig
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "inboxbot health:", err)
		return exitFailed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(stdout, string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "inboxbot health:", resp.Status)
		return exitFailed
	}
	return exitOK
}

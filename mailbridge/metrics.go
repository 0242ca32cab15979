package mailbridge

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the mail side's Prometheus metrics.
type Metrics struct {
	Ingested       prometheus.Counter
	IMAPReconnects prometheus.Counter
	RepliesSent    prometheus.Counter
	RepliesFailed  prometheus.Counter
	ReplyRetries   prometheus.Counter
	// ReplyLatency is from the reply being queued to the SMTP server taking it.
	ReplyLatency prometheus.Histogram
}

// NewMetrics creates the metrics and registers them with reg; with a nil
// reg they work but are registered nowhere (tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Ingested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_mails_ingested_total", Help: "Mails read from IMAP and recorded (duplicates skipped are not counted).",
		}),
		IMAPReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_imap_reconnects_total", Help: "IMAP sessions that ended and were dialled again.",
		}),
		RepliesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_replies_sent_total", Help: "Replies the SMTP server accepted.",
		}),
		RepliesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_replies_failed_total", Help: "Replies given up on (refused for good, or out of attempts).",
		}),
		ReplyRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "inboxbot_reply_retries_total", Help: "Failed reply attempts that will be retried.",
		}),
		ReplyLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "inboxbot_reply_to_smtp_seconds",
			Help:    "Time from a Slack reply being queued to the SMTP server accepting it.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 10800},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Ingested, m.IMAPReconnects, m.RepliesSent, m.RepliesFailed, m.ReplyRetries, m.ReplyLatency)
	}
	return m
}

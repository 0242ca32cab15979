package main

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkMailToSlack measures the time from a mail being appended to the
// mailbox to its root message being in Slack, on the in-process stack (IMAP
// IDLE, the real store, the Slack fake over HTTP). Target: p50 ≤ 150 ms.
func BenchmarkMailToSlack(b *testing.B) {
	h := newHarness(b)
	h.start()
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		raw := customerMail{Subject: fmt.Sprintf("Bench %d", i), MessageID: fmt.Sprintf("bench%d@example.com", i), Body: "x"}.raw()
		start := time.Now()
		h.deliver(raw)
		h.waitRoots(i + 1)
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

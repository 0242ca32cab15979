package bot

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// Keys of the pacer: what one of Slack's rate limits applies to.
func postKey(channel string) string { return "post:" + channel } // chat.postMessage: per channel

const (
	updateKey = "update" // chat.update
	reactKey  = "react"  // reactions.add
	readKey   = "read"   // conversations.history and .replies
	uploadKey = "upload" // files.getUploadURLExternal and files.completeUploadExternal (sharing files in threads)
)

// pacer keeps the bot under Slack's rate limits: a token bucket per key
// spaces calls out before Slack has to refuse them, and after a 429 no call
// with that key is made before the time Slack gave, whichever conversation
// it is for. Keys are independent, so one channel's backlog or a burst of
// card updates never holds up another channel's posts.
//
// Slack's limits are approximate ("about one per second, short bursts"), so
// a bucket adapts: a 429 halves its rate and empties it (no burst when the
// pause ends), and each call that goes through wins a little of the
// configured rate back.
type pacer struct {
	cfg Config
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	paused  map[string]time.Time // key -> no calls before
	limited map[string]int       // 429s per key since the last report
	report  time.Time            // when 429s were last reported
}

func newPacer(cfg Config, log *slog.Logger) *pacer {
	return &pacer{cfg: cfg, log: log, now: time.Now, buckets: map[string]*rate.Limiter{},
		paused: map[string]time.Time{}, limited: map[string]int{}}
}

// limits is the configured rate and burst of key.
func (p *pacer) limits(key string) (rate.Limit, int) {
	switch key {
	case updateKey, reactKey:
		return p.cfg.UpdateRate, p.cfg.UpdateBurst
	case readKey:
		return p.cfg.ReadRate, 10
	}
	return p.cfg.PostRate, p.cfg.PostBurst
}

func (p *pacer) bucket(key string) *rate.Limiter {
	l := p.buckets[key]
	if l == nil {
		l = rate.NewLimiter(p.limits(key))
		p.buckets[key] = l
	}
	return l
}

// take claims a call with key: it returns the zero time when the call may
// be made now, else the time to come back.
func (p *pacer) take(key string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if until := p.paused[key]; until.After(now) {
		return until
	}
	l := p.bucket(key)
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return now.Add(d)
	}
	if limit, _ := p.limits(key); l.Limit() < limit {
		l.SetLimitAt(now, min(limit, l.Limit()+limit/50))
	}
	return time.Time{}
}

// limitedUntil records a 429 for key and returns when calls may resume.
func (p *pacer) limitedUntil(key string, retryAfter time.Duration) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	until := now.Add(max(retryAfter, time.Second))
	if until.After(p.paused[key]) {
		p.paused[key] = until
	}
	l := p.bucket(key)
	limit, burst := p.limits(key)
	l.SetLimitAt(now, max(l.Limit()/2, limit/8))
	l.ReserveN(until, burst) // empty when the pause ends: no burst into the limit
	p.limited[key]++
	// One line per minute at most, with counts, however many calls Slack
	// refused meanwhile.
	if now.Sub(p.report) >= time.Minute {
		p.log.Warn("slack rate limit: holding back calls", "refused", fmtCounts(p.limited), "retry_after", retryAfter)
		p.limited, p.report = map[string]int{}, now
	}
	return p.paused[key]
}

func fmtCounts(m map[string]int) string {
	s := ""
	for k, n := range m {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s: %d", k, n)
	}
	return s
}

// notYet is the error of a call that was not made (or was refused with a
// 429): it may be made at until. It is not a failure of the job.
type notYet struct {
	key   string
	until time.Time
	err   error // the 429, when Slack refused it
}

func (e *notYet) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: rate limited until %s: %v", e.key, e.until.Format(time.TimeOnly), e.err)
	}
	return fmt.Sprintf("%s: paced until %s", e.key, e.until.Format(time.TimeOnly))
}

func (e *notYet) Unwrap() error { return e.err }

// do makes the call f under key's pacing, or returns a *notYet without
// making it.
func (p *pacer) do(key string, f func() error) error {
	if until := p.take(key); !until.IsZero() {
		return &notYet{key: key, until: until}
	}
	err := f()
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &notYet{key: key, until: p.limitedUntil(key, rl.RetryAfter), err: err}
	}
	return err
}

package slackfake

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/time/rate"
)

// Slack's posting limit: about one message per second per channel, with
// short bursts; a call over it gets HTTP 429 with Retry-After (whole
// seconds) and does nothing.

// SetPostLimit makes chat.postMessage limited per channel to perSecond
// messages with bursts of burst (perSecond <= 0 turns the limit off, the
// default). Refused calls are counted (see Refused).
func (s *Server) SetPostLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.postRate, s.postBurst = perSecond, burst
	s.postLimiters = map[string]*rate.Limiter{}
}

// Refused counts the calls of method answered with 429 by a limit or a
// block (not by RateLimitNext).
func (s *Server) Refused(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused[method]
}

// BlockMethod answers every call of method with 429 and the given
// Retry-After until UnblockMethod.
func (s *Server) BlockMethod(method string, retryAfterSec int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[method] = retryAfterSec
}

// UnblockMethod lifts BlockMethod.
func (s *Server) UnblockMethod(method string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, method)
	s.notifyLocked()
}

// limitedLocked decides whether a call of method (to channel, for posts) is
// refused now; if so it returns the 429 answer.
func (s *Server) limitedLocked(method, channel string) (answer, bool) {
	refuse := func(retry int) (answer, bool) {
		s.refused[method]++
		s.notifyLocked()
		return answer{
			status: http.StatusTooManyRequests,
			header: map[string]string{"Retry-After": strconv.Itoa(retry)},
			body:   obj{"ok": false, "error": "ratelimited"},
		}, true
	}
	if retry, ok := s.blocked[method]; ok {
		return refuse(retry)
	}
	if method != "chat.postMessage" || s.postRate <= 0 {
		return answer{}, false
	}
	l := s.postLimiters[channel]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.postRate), s.postBurst)
		s.postLimiters[channel] = l
	}
	now := time.Now()
	r := l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return refuse(max(1, int(math.Ceil(d.Seconds()))))
	}
	return answer{}, false
}

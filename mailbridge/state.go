package mailbridge

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/inboxbot/inboxbot/store"
)

// State is what a part of the mail side last knew about its server, for
// health checks.
type State struct {
	Up    bool      // logged in and working (the watcher: idling or polling; the sender: last session good)
	Since time.Time // when Up last changed; zero before the first attempt
	Err   string    // the last failure, while down
	// Permanent says the failure cannot pass without a change (see ConnError).
	Permanent bool
	Fix       string
}

// health tracks a State and tells the inbox channel, through the store,
// when the part stops for good and when it works again: once per outage,
// however often the part retries meanwhile.
type health struct {
	part  string // "IMAP" or "SMTP"
	inbox string // whose channel hears about it
	st    *store.Store
	log   *slog.Logger

	mu       sync.Mutex
	s        State
	notified bool // the current outage was posted
}

func (h *health) state() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

func (h *health) up() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.s.Up {
		return
	}
	if h.notified {
		h.notice(store.Notice{Part: h.part, Since: h.s.Since, Resolved: true})
		h.log.Info(h.part + " works again")
	}
	h.s = State{Up: true, Since: time.Now()}
	h.notified = false
}

// down records a failure. A permanent one is logged at error level and
// posted in the channel (once per outage); others are the caller's to log.
func (h *health) down(problem string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ce *ConnError
	errors.As(err, &ce)
	if h.s.Up || h.s.Since.IsZero() {
		h.s.Since = time.Now()
	}
	h.s.Up, h.s.Err = false, err.Error()
	h.s.Permanent, h.s.Fix = ce != nil && ce.Permanent, ""
	if ce != nil && ce.Fix != "" {
		h.s.Fix = ce.Var + ": " + ce.Fix
	}
	if !h.s.Permanent {
		return
	}
	h.log.Error(problem+"; retrying, but this needs a change", "err", err, "fix", h.s.Fix)
	if !h.notified {
		h.notified = true
		h.notice(store.Notice{Part: h.part, Problem: problem, Since: h.s.Since, Error: h.s.Err, Fix: h.s.Fix})
	}
}

func (h *health) notice(n store.Notice) {
	if h.st == nil {
		return
	}
	n.Inbox = h.inbox
	if err := h.st.EnqueueNotice(n); err != nil {
		h.log.Error("queueing a notice for the channel", "err", err)
	}
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/store"
)

// State is what the bot last knew about its Socket Mode connection, for
// health checks.
type State struct {
	Up    bool      // connected: events reach the bot
	Since time.Time // when Up last changed; zero before the first attempt
	Err   string    // the last failure, while down
	// Permanent says the failure cannot pass without a change (IsPermanent).
	Permanent bool
	Fix       string
}

// State says whether Socket Mode is connected.
func (b *Bot) State() State {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	return b.state
}

func (b *Bot) setUp() {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if b.state.Up {
		return
	}
	if b.noticeSent {
		b.notice(store.Notice{Part: "Slack Socket Mode", Since: b.state.Since, Resolved: true})
		b.noticeSent = false
	}
	b.state = State{Up: true, Since: time.Now()}
}

func (b *Bot) setDown(err error, fix string) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if b.state.Up || b.state.Since.IsZero() {
		b.state.Since = time.Now()
	}
	b.state.Up = false
	b.state.Err, b.state.Permanent, b.state.Fix = "", IsPermanent(err), ""
	if err != nil {
		b.state.Err = err.Error()
	}
	if b.state.Permanent {
		b.state.Fix = fix
	}
	if b.state.Permanent && !b.noticeSent {
		// The bot token still works (or Run would have stopped): the
		// channel can be told.
		b.noticeSent = true
		b.notice(store.Notice{Part: "Slack Socket Mode", Since: b.state.Since, Error: b.state.Err, Fix: fix,
			Problem: "Cannot receive thread replies, reactions, buttons or /inbox from Slack"})
	}
}

func (b *Bot) notice(n store.Notice) {
	if err := b.st.EnqueueNotice(n); err != nil {
		b.log.Error("queueing a notice for the channel", "err", err)
	}
}

const appTokenFix = "SLACK_APP_TOKEN: Slack refused the app-level token: generate a new one with connections:write (Basic Information → App-Level Tokens), make sure Socket Mode is on, and restart"

// runSocket serves Socket Mode until ctx is done. slack-go reconnects by
// itself after drops; its Run returns only when Slack refuses the app
// token (or the app), which is logged at error level, reported in State
// and posted once in the channel; then it is tried again every
// SocketRetry, while mail keeps being posted.
func (b *Bot) runSocket(ctx context.Context) {
	for {
		sm := socketmode.New(b.api)
		var wg sync.WaitGroup
		evCtx, stopEvents := context.WithCancel(ctx)
		wg.Go(func() {
			for {
				select {
				case <-evCtx.Done():
					return
				case ev := <-sm.Events:
					if !b.connEvent(ev) {
						b.dispatch(ctx, sm, ev)
					}
				}
			}
		})
		err := sm.RunContext(ctx)
		stopEvents()
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("socket mode stopped")
		}
		err = fmt.Errorf("socket mode: %w", err)
		b.setDown(err, appTokenFix)
		b.log.Error("Socket Mode stopped: thread replies, reactions and commands do not reach inboxbot", "err", err, "retry_in", b.cfg.SocketRetry, "fix", appTokenFix)
		select {
		case <-ctx.Done():
			return
		case <-time.After(b.cfg.SocketRetry):
		}
	}
}

// connEvent logs and tracks the connection events of socketmode; it
// reports false for the events to dispatch.
func (b *Bot) connEvent(ev socketmode.Event) bool {
	switch ev.Type {
	case socketmode.EventTypeConnecting:
		if ce, ok := ev.Data.(*slack.ConnectingEvent); ok {
			b.log.Debug("Socket Mode connecting", "attempt", ce.Attempt, "connection", ce.ConnectionCount)
		}
		b.stateMu.Lock()
		up := b.state.Up
		b.stateMu.Unlock()
		if up {
			b.setDown(errors.New("reconnecting"), "")
		}
	case socketmode.EventTypeConnectionError:
		err := errors.New("connection error")
		var backoff time.Duration
		if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok && ce.ErrorObj != nil {
			err, backoff = ce.ErrorObj, ce.Backoff
		}
		b.setDown(err, appTokenFix)
		b.log.Warn("Socket Mode connection failed; retrying", "err", err, "in", backoff)
	case socketmode.EventTypeConnected:
		n := 0
		if ce, ok := ev.Data.(*socketmode.ConnectedEvent); ok {
			n = ce.ConnectionCount
		}
		if n > 0 {
			b.metrics.SocketReconnects.Inc()
		}
		b.log.Info("Socket Mode connected", "connection", n)
		b.setUp()
	case socketmode.EventTypeHello:
		b.log.Debug("Socket Mode hello")
	case socketmode.EventTypeDisconnect:
		reason := ""
		if ev.Request != nil {
			reason = ev.Request.Reason
		}
		b.log.Info("Slack asked to reconnect", "reason", reason)
	case socketmode.EventTypeIncomingError:
		if ie, ok := ev.Data.(*slack.IncomingEventError); ok {
			b.log.Warn("Socket Mode read error", "err", ie.ErrorObj)
		}
	case socketmode.EventTypeInvalidAuth:
		b.log.Error("Socket Mode: Slack refused the app token", "fix", appTokenFix)
	case socketmode.EventTypeErrorBadMessage, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn("Socket Mode", "event", ev.Type, "data", ev.Data)
	default:
		return false
	}
	return true
}

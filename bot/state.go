package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/inboxbot/inboxbot/store"
)

// State is what the bot last knew about its transport, for health checks.
type State struct {
	Up    bool      // events reach the bot
	Since time.Time // when Up last changed; zero before the first attempt
	Err   string    // the last failure, while down
	// Permanent says the failure cannot pass without a change (IsPermanent).
	Permanent bool
	Fix       string
}

// State says whether events reach the bot.
func (b *Bot) State() State {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	return b.state
}

func (b *Bot) setUp() {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	b.connects++
	if b.connects > 1 {
		b.metrics.SocketReconnects.Inc()
	}
	if b.state.Up {
		return
	}
	b.state = State{Up: true, Since: time.Now()}
}

// Disconnected is called by a transport when events stop flowing (a
// reconnect, a failed connection attempt).
func (b *Bot) Disconnected(err error) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if b.state.Up || b.state.Since.IsZero() {
		b.state.Since = time.Now()
	}
	b.state.Up = false
	if err != nil {
		b.state.Err = err.Error()
	}
	b.state.Permanent, b.state.Fix = false, ""
}

const appTokenFix = "SLACK_APP_TOKEN: Slack refused the app-level token: generate a new one with connections:write (Basic Information → App-Level Tokens), make sure Socket Mode is on, and restart"

// transportFailed records that events can no longer reach the bot, and
// tells the channel (the bot token still works), waiting a little for that
// post: the process is about to stop.
func (b *Bot) transportFailed(ctx context.Context, err error) {
	b.stateMu.Lock()
	if b.state.Up || b.state.Since.IsZero() {
		b.state.Since = time.Now()
	}
	b.state = State{Since: b.state.Since, Err: err.Error(), Permanent: IsPermanent(err)}
	if b.state.Permanent {
		b.state.Fix = appTokenFix
	}
	st := b.state
	first := !b.noticeSent
	b.noticeSent = true
	b.stateMu.Unlock()
	b.log.Error("events from Slack stopped for good: thread replies, reactions and commands no longer reach inboxbot", "err", err, "fix", st.Fix)
	if !first {
		return
	}
	if err := b.st.EnqueueNotice(store.Notice{Part: transportPart, Since: st.Since, Error: st.Err, Fix: st.Fix,
		Problem: "Cannot receive thread replies, reactions, buttons or /inbox from Slack; inboxbot stops"}); err != nil {
		b.log.Error("queueing a notice for the channel", "err", err)
		return
	}
	t := time.NewTimer(b.cfg.NoticeWait)
	defer t.Stop()
	for {
		select {
		case since := <-b.transportNoticed:
			if since.Equal(st.Since) {
				return
			}
			// A notice an earlier run left in the queue.
		case <-ctx.Done():
			return
		case <-t.C:
			b.log.Warn("the notice that events stopped is not posted yet; it is posted at the next start", "waited", b.cfg.NoticeWait)
			return
		}
	}
}

// transportPart names the transport in its notices.
const transportPart = "Slack Socket Mode"

// noticePosted tells transportFailed, which may be waiting for it, that a
// notice of the transport's failure was posted.
func (b *Bot) noticePosted(n *store.Notice) {
	if n.Part != transportPart || n.Resolved {
		return
	}
	select {
	case b.transportNoticed <- n.Since:
	default:
	}
}

// tokenRejected records that Slack no longer takes the bot token: nothing
// can work, and nothing can be posted to say so.
func (b *Bot) tokenRejected(err error) error {
	const fix = "SLACK_BOT_TOKEN: copy the Bot User OAuth Token again from OAuth & Permissions, reinstall the app if it was removed, and restart"
	b.stateMu.Lock()
	b.state = State{Since: time.Now(), Err: err.Error(), Permanent: true, Fix: fix}
	b.stateMu.Unlock()
	return fmt.Errorf("the bot token was refused (%w): %s", err, fix)
}

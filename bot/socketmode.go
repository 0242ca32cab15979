package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

// SocketMode is the default transport: inboxbot connects out to Slack over
// a websocket, so it needs no public URL.
type SocketMode struct {
	client *slack.Client // built with the app-level token too
	log    *slog.Logger
}

// NewSocketMode returns the Socket Mode transport of client.
func NewSocketMode(client *slack.Client, log *slog.Logger) *SocketMode {
	return &SocketMode{client: client, log: log.With("component", "slack", "transport", "socket")}
}

// Serve connects and hands envelopes to b until ctx is done, or until Slack
// refuses the app token for good (an error: nothing would reach the bot).
// Each envelope is handled in a goroutine of its own, so a slow Slack call
// never holds up the socket, and acked only once what it caused is
// committed: an unacked envelope is redelivered.
func (t *SocketMode) Serve(ctx context.Context, b *Bot) error {
	sm := socketmode.New(t.client)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	errc := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- sm.RunContext(ctx)
		cancel()
	}()
	// Each connection gets a context of its own, cancelled when it drops:
	// what Connected starts for it (catch-up, alive mark) ends with it.
	connCancel := func() {}
	defer func() { connCancel() }()
	newConn := func() context.Context {
		c, cancel := context.WithCancel(ctx)
		connCancel = cancel
		return c
	}
	for {
		select {
		case <-ctx.Done():
			err := <-errc
			if err == nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case ev := <-sm.Events:
			switch ev.Type {
			case socketmode.EventTypeConnecting:
				connCancel()
				b.Disconnected(errors.New("connecting"))
				t.log.Debug("socket mode connecting")
			case socketmode.EventTypeConnectionError:
				connCancel()
				var detail any = ev.Data
				if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
					detail = ce.ErrorObj
					b.Disconnected(ce.ErrorObj)
				}
				t.log.Warn("socket mode connection failed; retrying", "err", detail)
			case socketmode.EventTypeInvalidAuth:
				t.log.Error("socket mode: Slack refused the app token (SLACK_APP_TOKEN)")
			case socketmode.EventTypeHello:
				connCancel()
				t.log.Info("slack connected (socket mode)")
				b.Connected(newConn())
			case socketmode.EventTypeDisconnect:
				connCancel()
				b.Disconnected(errors.New("Slack asked to reconnect"))
				t.log.Info("slack asked to reconnect")
			case socketmode.EventTypeIncomingError:
				t.log.Warn("socket mode: bad frame", "err", ev.Data)
			case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand, socketmode.EventTypeInteractive:
				if ev.Request == nil {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					t.handle(ctx, sm, b, ev)
				}()
			}
		}
	}
}

func (t *SocketMode) handle(ctx context.Context, sm *socketmode.Client, b *Bot, ev socketmode.Event) {
	var in Event
	switch d := ev.Data.(type) {
	case slackevents.EventsAPIEvent:
		in.EventsAPI = &d
	case slack.SlashCommand:
		in.Command = &d
	case slack.InteractionCallback:
		in.Interaction = &d
	default:
		t.log.Warn("envelope not understood; acking it", "type", ev.Type)
		sm.AckCtx(ctx, ev.Request.EnvelopeID, nil)
		return
	}
	payload, err := b.Handle(ctx, in)
	if err != nil {
		if ctx.Err() == nil {
			// Not acked: Slack delivers it again, and the event dedup
			// makes sure nothing happens twice.
			t.log.Error("event not handled; leaving it to redelivery", "type", ev.Type, "err", err)
		}
		return
	}
	if err := sm.AckCtx(ctx, ev.Request.EnvelopeID, payload); err != nil {
		t.log.Warn("ack failed", "err", err)
	}
}

package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Event is one thing Slack sent, as a transport parsed it: exactly one of
// the fields is set.
type Event struct {
	EventsAPI   *slackevents.EventsAPIEvent
	Command     *slack.SlashCommand
	Interaction *slack.InteractionCallback
}

// Handle acts on one event and returns the payload of its acknowledgement
// (the answer to a slash command, or nil). An error means the event was not
// acted on: the transport must not ack it, so that Slack delivers it again
// (events are deduplicated by ID, so a redelivery never acts twice). Events
// are acknowledged only once what they caused is committed; commands and
// clicks, which Slack does not redeliver, are acknowledged within
// AckBudget whatever the work behind them, their answer following through
// response_url when it is slow.
func (b *Bot) Handle(ctx context.Context, ev Event) (any, error) {
	switch {
	case ev.EventsAPI != nil:
		return nil, b.handleEventsAPI(ctx, ev.EventsAPI)
	case ev.Command != nil:
		cmd := *ev.Command
		return b.answerWithin(ctx, cmd.ResponseURL, cmd.UserID, true, func(ctx context.Context) (string, error) {
			return b.command(ctx, cmd)
		})
	case ev.Interaction != nil:
		cb := *ev.Interaction
		switch cb.Type {
		case slack.InteractionTypeViewSubmission:
			// Not within a budget: its ack says the reply is recorded.
			return b.viewSubmission(ctx, cb)
		case slack.InteractionTypeBlockActions:
		default:
			return nil, nil
		}
		return b.answerWithin(ctx, cb.ResponseURL, cb.User.ID, false, func(ctx context.Context) (string, error) {
			return b.blockAction(ctx, cb)
		})
	}
	return nil, nil
}

func (b *Bot) handleEventsAPI(ctx context.Context, api *slackevents.EventsAPIEvent) error {
	var eventID string
	if cb, ok := api.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	switch e := api.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		return b.handleMessage(ctx, eventID, e)
	case *slackevents.ReactionAddedEvent:
		return b.handleReaction(ctx, reactionEvent{EventID: eventID, User: e.User, Reaction: e.Reaction,
			Channel: e.Item.Channel, TS: e.Item.Timestamp, Added: true})
	case *slackevents.ReactionRemovedEvent:
		return b.handleReaction(ctx, reactionEvent{EventID: eventID, User: e.User, Reaction: e.Reaction,
			Channel: e.Item.Channel, TS: e.Item.Timestamp})
	case *slackevents.AppHomeOpenedEvent:
		return b.handleHome(ctx, e)
	}
	return nil
}

// answerWithin runs f, the work behind a command or a click, and returns
// the ack payload, carrying f's answer when inAck (a slash command's answer
// can ride on its ack; a click's cannot, it goes to responseURL). When f
// takes longer than the budget, the ack is returned at once, empty: f goes
// on, and its answer goes to responseURL (or, failing that, to the user)
// when it comes.
func (b *Bot) answerWithin(ctx context.Context, responseURL, user string, inAck bool, f func(context.Context) (string, error)) (any, error) {
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		text, err := f(ctx)
		if err != nil && ctx.Err() == nil {
			b.log.Error("command or click failed", "user", user, "err", err)
			text = fmt.Sprintf("Sorry, that did not work: %v. Please try again.", err)
		}
		done <- result{text, err}
	}()
	t := time.NewTimer(b.cfg.AckBudget)
	defer t.Stop()
	select {
	case r := <-done:
		switch {
		case r.text == "":
			return nil, nil
		case inAck:
			return ephemeralAck(r.text), nil
		}
		b.respond(ctx, responseURL, user, r.text)
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	b.log.Info("slow answer: acknowledged first, answering through response_url", "user", user)
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		select {
		case r := <-done:
			if r.text != "" {
				b.respond(ctx, responseURL, user, r.text)
			}
		case <-ctx.Done():
		}
	}()
	return nil, nil
}

func ephemeralAck(text string) map[string]any {
	return map[string]any{"response_type": "ephemeral", "text": text}
}

// respond answers the user who typed a command or clicked: through the
// interaction's response_url if there is one, else as an ephemeral message
// (or a DM when they cannot see one in the inbox channel).
func (b *Bot) respond(ctx context.Context, responseURL, user, text string) {
	if responseURL != "" {
		_, _, err := b.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, slack.ResponseTypeEphemeral),
			slack.MsgOptionText(text, false))
		if err == nil {
			return
		}
		b.log.Warn("response_url answer failed", "err", err)
	}
	if len(b.cfg.Inboxes) > 0 {
		b.ephemeral(ctx, b.cfg.Inboxes[0].Channel, user, text)
	}
}

// ephemeral tells one user something in channel, or in a direct message
// when they are not in it (in a public channel anyone can react, but only
// members can see an ephemeral message there).
func (b *Bot) ephemeral(ctx context.Context, channel, user, text string) {
	_, err := b.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false))
	var se slack.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "user_not_in_channel" {
		_, _, err = b.api.PostMessageContext(ctx, user, slack.MsgOptionText(text, false))
	}
	if err != nil {
		b.log.Warn("answer to user failed", "user", user, "err", err)
	}
}

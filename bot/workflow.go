package bot

import (
	"context"

	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func (b *Bot) handleReaction(ctx context.Context, eventID, user, reaction, channel, ts string, added bool) error {
	return nil
}

func (b *Bot) handleSlash(ctx context.Context, ev socketmode.Event) (any, error) {
	return map[string]any{"response_type": "ephemeral", "text": "Usage: /inbox help"}, nil
}

func (b *Bot) handleInteractive(ctx context.Context, ev socketmode.Event) (any, error) {
	return nil, nil
}

func (b *Bot) handleHome(ctx context.Context, e *slackevents.AppHomeOpenedEvent) error {
	return nil
}

package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// failing is a transport that fails for good at once.
type failing struct{ err error }

func (f failing) Serve(context.Context, *Bot) error { return f.err }

// A transport failing for good: Run returns its error only once the notice
// saying so is in the channel (the process stops right after).
func TestTransportFailureNoticedBeforeRunReturns(t *testing.T) {
	st := backlog(t, 0, inboxA)
	f := pacedSlack(t, "CA")
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()))
	b := New(Config{Inboxes: []Inbox{inboxA}}, api, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	refused := slack.SlackErrorResponse{Err: "invalid_auth"}
	var se slack.SlackErrorResponse
	if err := b.Run(context.Background(), failing{refused}); !errors.As(err, &se) || se.Err != refused.Err {
		t.Fatalf("Run: %v", err)
	}
	msgs := f.Messages("CA")
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Cannot receive thread replies") || !strings.Contains(msgs[0].Text, "SLACK_APP_TOKEN") {
		t.Errorf("want the notice posted before Run returned, got %+v", msgs)
	}
	if s := b.State(); s.Up || !s.Permanent || s.Fix != appTokenFix {
		t.Errorf("state %+v", s)
	}
}

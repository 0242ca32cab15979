package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Scopes are the bot scopes manifest.yaml asks for (a test keeps the two
// the same): a token missing one of them fails CheckSlack.
var Scopes = []string{
	"chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
	"reactions:read", "reactions:write", "files:read", "files:write", "users:read", "commands",
	// Replies written in the composer are posted by the bot in the
	// agent's name ("Alice via inboxbot").
	"chat:write.customize",
}

// Check is the outcome of one check of the Slack installation: what was
// checked, what was found, and on failure what to change and whether it
// can pass without a change.
type Check struct {
	Name      string
	OK        bool
	Detail    string
	Fix       string // "VAR: what to do"
	Permanent bool
}

// tokenError reports whether a Slack error code says the token itself is
// no good (as opposed to this call).
func tokenError(code string) bool {
	switch code {
	case "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "not_allowed_token_type":
		return true
	}
	return false
}

// IsPermanent reports whether a Slack failure cannot pass without a change
// of configuration or of the app: a token Slack does not take, a channel
// that does not exist or that the bot is not in, a missing scope. Network
// failures, timeouts and Slack's 5xx answers may pass by themselves.
func IsPermanent(err error) bool {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "not_in_channel", "channel_not_found", "missing_scope", "is_archived", "no_permission",
			"team_access_not_granted", "ekm_access_denied":
			return true
		}
		return tokenError(se.Err)
	}
	var sc slack.StatusCodeError
	// apps.connections.open answers 404 to an app token it does not know.
	return errors.As(err, &sc) && (sc.Code == http.StatusNotFound || sc.Code == http.StatusUnauthorized || sc.Code == http.StatusForbidden)
}

func failedCheck(name string, err error, fix string) Check {
	c := Check{Name: name, Detail: err.Error(), Permanent: IsPermanent(err)}
	if c.Permanent {
		c.Fix = fix
	} else {
		c.Fix = "Slack could not be reached or answered with an error; retried automatically (check this machine's network and https://slack-status.com)"
	}
	return c
}

// CheckSlack checks the installation without posting anything: the bot
// token (auth.test) and its scopes, the app token, and the channel (it
// exists, and the bot is a member), for each inbox channel. With
// ConnectSocket a real Socket Mode connection is opened and Slack's hello
// awaited; with OpenSocket the app token is only exchanged for a connection
// URL (apps.connections.open), which is enough to
// know Slack takes it. It stops after a failed bot token check.
func CheckSlack(ctx context.Context, api *slack.Client, channels []string, app AppTokenCheck) []Check {
	var out []Check
	name := "Slack bot token (auth.test)"
	auth, err := api.AuthTestContext(ctx)
	if err != nil {
		return append(out, failedCheck(name, err,
			"SLACK_BOT_TOKEN: Slack does not take this token: copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions, and reinstall the app if it was removed"))
	}
	out = append(out, Check{Name: name, OK: true, Detail: fmt.Sprintf("workspace %s, bot @%s (%s)", auth.Team, auth.User, auth.UserID)})
	out = append(out, checkScopes(auth))
	if app != NoAppToken {
		out = append(out, checkAppToken(ctx, api, app == ConnectSocket))
	}
	for _, ch := range channels {
		out = append(out, checkChannel(ctx, api, ch))
	}
	return out
}

// AppTokenCheck says how CheckSlack checks the app-level token.
type AppTokenCheck int

const (
	OpenSocket    AppTokenCheck = iota // exchange it for a connection URL (apps.connections.open)
	ConnectSocket                      // open a real Socket Mode connection and wait for hello
	NoAppToken                         // HTTP mode: there is none
)

func checkScopes(auth *slack.AuthTestResponse) Check {
	name := "Slack bot scopes"
	header := auth.Header.Get("X-OAuth-Scopes")
	if header == "" {
		return Check{Name: name, OK: true, Detail: "Slack did not list the token's scopes; not checked"}
	}
	var have []string
	for s := range strings.SplitSeq(header, ",") {
		have = append(have, strings.TrimSpace(s))
	}
	var missing []string
	for _, s := range Scopes {
		if !slices.Contains(have, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return Check{Name: name, Permanent: true, Detail: "missing " + strings.Join(missing, ", "),
			Fix: "SLACK_BOT_TOKEN: the app lacks scopes manifest.yaml asks for: update the app's manifest (or OAuth & Permissions → Scopes), then reinstall the app to the workspace"}
	}
	return Check{Name: name, OK: true, Detail: "all " + fmt.Sprint(len(Scopes)) + " the manifest asks for"}
}

func checkAppToken(ctx context.Context, api *slack.Client, connect bool) Check {
	name := "Slack app token (Socket Mode)"
	fix := "SLACK_APP_TOKEN: Slack does not take this token: generate an app-level token with the connections:write scope (Basic Information → App-Level Tokens), and make sure Socket Mode is on"
	sm := socketmode.New(api)
	if !connect {
		if _, _, err := sm.OpenContext(ctx); err != nil {
			return failedCheck(name, err, fix)
		}
		return Check{Name: name, OK: true, Detail: "accepted (apps.connections.open)"}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sm.RunContext(ctx) }()
	defer func() {
		cancel()
		// RunContext delivers its last events before it returns.
		for {
			select {
			case <-sm.Events:
			case <-done:
				return
			}
		}
	}()
	for {
		select {
		case err := <-done:
			done <- err // for the deferred drain
			if err == nil || ctx.Err() != nil {
				err = fmt.Errorf("no Socket Mode connection within 30 s: %w", context.Cause(ctx))
			}
			return failedCheck(name, err, fix)
		case ev := <-sm.Events:
			switch ev.Type {
			case socketmode.EventTypeHello:
				return Check{Name: name, OK: true, Detail: "Socket Mode connected, Slack said hello"}
			case socketmode.EventTypeConnectionError:
				if ce, ok := ev.Data.(*slack.ConnectionErrorEvent); ok {
					return failedCheck(name, ce.ErrorObj, fix)
				}
			case socketmode.EventTypeInvalidAuth:
				return failedCheck(name, slack.SlackErrorResponse{Err: "invalid_auth"}, fix)
			}
		}
	}
}

func checkChannel(ctx context.Context, api *slack.Client, channel string) Check {
	name := "Slack channel " + channel
	ch, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: channel})
	if err != nil {
		fix := "INBOX_CHANNEL: Slack cannot use this channel: check the ID (channel details, at the bottom)"
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && se.Err == "channel_not_found" {
			fix = "INBOX_CHANNEL: no channel with this ID is visible to the bot: check the ID (channel details, at the bottom); a private channel is visible only after /invite @inboxbot in it"
		}
		return failedCheck(name, err, fix)
	}
	switch {
	case ch.IsArchived:
		return Check{Name: name, Permanent: true, Detail: "#" + ch.Name + " is archived",
			Fix: "INBOX_CHANNEL: unarchive the channel, or use another one"}
	case !ch.IsMember:
		return Check{Name: name, Permanent: true, Detail: "the bot is not a member of #" + ch.Name,
			Fix: "INBOX_CHANNEL: type /invite @inboxbot in #" + ch.Name}
	}
	return Check{Name: name, OK: true, Detail: "#" + ch.Name + ", the bot is a member"}
}

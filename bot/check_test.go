package bot

import (
	"bufio"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// manifestBotScopes reads oauth_config.scopes.bot from manifest.yaml (a
// list of "- scope" lines under "bot:" under "scopes:").
func manifestBotScopes(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var scopes []string
	inScopes, inBot := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "scopes:":
			inScopes = true
		case inScopes && line == "bot:":
			inBot = true
		case inBot && strings.HasPrefix(line, "- "):
			scopes = append(scopes, strings.TrimSpace(strings.TrimPrefix(line, "- ")))
		case inBot:
			return scopes
		}
	}
	return scopes
}

func TestScopesMatchManifest(t *testing.T) {
	got := manifestBotScopes(t)
	if len(got) == 0 {
		t.Fatal("no bot scopes found in manifest.yaml")
	}
	want := slices.Clone(Scopes)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("manifest.yaml asks for %v, bot.Scopes has %v: keep them the same", got, want)
	}
	fake := slices.Clone(slackfake.DefaultScopes)
	slices.Sort(fake)
	if !slices.Equal(fake, want) {
		t.Errorf("slackfake.DefaultScopes %v differs from bot.Scopes %v", fake, want)
	}
}

func fakeSlack(t *testing.T) (*slackfake.Server, *slack.Client) {
	t.Helper()
	f := slackfake.New()
	t.Cleanup(f.Close)
	f.AddChannel("CINBOX", "UALICE", slackfake.BotUserID)
	f.AddChannel("COTHER", "UALICE")
	return f, slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()), slack.OptionAppLevelToken(slackfake.AppToken))
}

func checkCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func find(t *testing.T, cs []Check, prefix string) Check {
	t.Helper()
	for _, c := range cs {
		if strings.HasPrefix(c.Name, prefix) {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", prefix, cs)
	return Check{}
}

func appCheck(connect bool) AppTokenCheck {
	if connect {
		return ConnectSocket
	}
	return OpenSocket
}

func TestCheckSlackPasses(t *testing.T) {
	for _, connect := range []bool{false, true} {
		f, api := fakeSlack(t)
		cs := CheckSlack(checkCtx(t), api, []string{"CINBOX"}, appCheck(connect))
		if len(cs) != 4 {
			t.Fatalf("%d checks: %+v", len(cs), cs)
		}
		for _, c := range cs {
			if !c.OK {
				t.Errorf("connect=%v: %+v failed", connect, c)
			}
		}
		if connect && f.Connects() != 1 {
			t.Errorf("connect=true made %d Socket Mode connections", f.Connects())
		}
		if !connect && f.Connects() != 0 {
			t.Errorf("connect=false made %d Socket Mode connections", f.Connects())
		}
		if n := f.Calls("chat.postMessage"); n != 0 {
			t.Errorf("a check posted %d messages", n)
		}
	}
}

func TestCheckSlackFailures(t *testing.T) {
	t.Run("bot token", func(t *testing.T) {
		f, api := fakeSlack(t)
		f.RejectBotToken("invalid_auth")
		cs := CheckSlack(checkCtx(t), api, []string{"CINBOX"}, OpenSocket)
		c := find(t, cs, "Slack bot token")
		if len(cs) != 1 || c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SLACK_BOT_TOKEN: ") {
			t.Errorf("%+v", cs)
		}
	})
	for _, connect := range []bool{false, true} {
		f, api := fakeSlack(t)
		f.RejectAppToken("invalid_auth")
		c := find(t, CheckSlack(checkCtx(t), api, []string{"CINBOX"}, appCheck(connect)), "Slack app token")
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SLACK_APP_TOKEN: ") {
			t.Errorf("connect=%v: %+v", connect, c)
		}
	}
	t.Run("scopes", func(t *testing.T) {
		f, api := fakeSlack(t)
		f.SetScopes("chat:write", "channels:history")
		c := find(t, CheckSlack(checkCtx(t), api, []string{"CINBOX"}, OpenSocket), "Slack bot scopes")
		if c.OK || !c.Permanent || !strings.Contains(c.Detail, "reactions:write") ||
			slices.Contains(strings.Split(strings.TrimPrefix(c.Detail, "missing "), ", "), "chat:write") {
			t.Errorf("%+v", c)
		}
	})
	t.Run("channel not found", func(t *testing.T) {
		_, api := fakeSlack(t)
		c := find(t, CheckSlack(checkCtx(t), api, []string{"CNOPE"}, OpenSocket), "Slack channel")
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "INBOX_CHANNEL: ") || !strings.Contains(c.Detail, "channel_not_found") {
			t.Errorf("%+v", c)
		}
	})
	t.Run("not a member", func(t *testing.T) {
		_, api := fakeSlack(t)
		c := find(t, CheckSlack(checkCtx(t), api, []string{"COTHER"}, OpenSocket), "Slack channel")
		if c.OK || !c.Permanent || !strings.Contains(c.Fix, "/invite @inboxbot") {
			t.Errorf("%+v", c)
		}
	})
	t.Run("Slack down", func(t *testing.T) {
		f, api := fakeSlack(t)
		f.HTTPErrorNext("auth.test", 503)
		c := find(t, CheckSlack(checkCtx(t), api, []string{"CINBOX"}, OpenSocket), "Slack bot token")
		if c.OK || c.Permanent {
			t.Errorf("%+v, want a temporary failure", c)
		}
	})
}

// The Web API metrics count calls, failures and rate limits by method,
// and a rejected bot token is reported once.
func TestMetricsTransport(t *testing.T) {
	f, _ := fakeSlack(t)
	m := NewMetrics(nil)
	api := slack.New(slackfake.BotToken, slack.OptionAPIURL(f.URL()), slack.OptionHTTPClient(m.HTTPClient(nil)))
	ctx := checkCtx(t)
	if _, err := api.AuthTestContext(ctx); err != nil {
		t.Fatal(err)
	}
	f.RateLimitNext("auth.test", 1)
	if _, err := api.AuthTestContext(ctx); err == nil {
		t.Fatal("rate limit not seen")
	}
	select {
	case err := <-m.TokenRejected():
		t.Fatalf("token rejected: %v", err)
	default:
	}
	f.RejectBotToken("token_revoked")
	api.AuthTestContext(ctx)
	api.AuthTestContext(ctx)
	if got := counter(t, m.Calls.WithLabelValues("auth.test")); got != 4 {
		t.Errorf("%v calls counted, want 4", got)
	}
	if got := counter(t, m.Failures.WithLabelValues("auth.test")); got != 3 {
		t.Errorf("%v failures counted, want 3", got)
	}
	if got := counter(t, m.RateLimited.WithLabelValues("auth.test")); got != 1 {
		t.Errorf("%v rate limits counted, want 1", got)
	}
	select {
	case err := <-m.TokenRejected():
		if !strings.Contains(err.Error(), "token_revoked") {
			t.Errorf("rejection %v", err)
		}
	default:
		t.Error("revoked token not reported")
	}
}

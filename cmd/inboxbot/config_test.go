package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validEnv() map[string]string {
	return map[string]string{
		"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "INBOX_CHANNEL": "C0123ABC",
		"INBOX_ADDRESS": "support@acme.test", "INBOX_NAME": "Acme Support",
		"IMAP_ADDR": "imap.acme.test:993", "IMAP_USERNAME": "support", "IMAP_PASSWORD": "secret",
		"SMTP_ADDR": "smtp.acme.test:587",
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	env := validEnv()
	env["INBOX_NAME"] = `"Acme Support"` // as docker --env-file passes it
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		SlackBotToken: "xoxb-1", SlackAppToken: "xapp-1", SlackAPIURL: "https://slack.com/api/", SlackMode: "socket",
		DBPath: "inboxbot.db", LogFormat: "text", LogLevel: "info",
		Inboxes: []InboxConfig{{
			Address: "support@acme.test", Name: "Acme Support", Channel: "C0123ABC",
			IMAP:      Account{Addr: "imap.acme.test:993", Username: "support", Password: "secret", TLS: "implicit"},
			Mailbox:   "INBOX",
			SMTP:      Account{Addr: "smtp.acme.test:587", TLS: "starttls"},
			SendDelay: 10 * time.Second, AttachMax: 25_000_000, Hours: BusinessHours{Days: "mon-fri"},
		}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("config\n%+v\nwant\n%+v", c, want)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range []struct{ key, value, want string }{
		{"SLACK_BOT_TOKEN", "", "SLACK_BOT_TOKEN: is required"},
		{"SLACK_BOT_TOKEN", "xapp-wrong", `SLACK_BOT_TOKEN: must be the bot token`},
		{"SLACK_APP_TOKEN", "xoxb-wrong", `SLACK_APP_TOKEN: must be an app-level token`},
		{"SLACK_API_URL", "https://slack.com/api", "SLACK_API_URL: must be an http(s) URL ending in /"},
		{"SLACK_API_URL", "ftp://x/", "SLACK_API_URL: must be an http(s) URL"},
		{"INBOX_CHANNEL", "#support", "INBOX_CHANNEL: must be a channel ID"},
		{"INBOX_ADDRESS", "Support <support@acme.test>", "INBOX_ADDRESS: must be the shared address"},
		{"INBOX_ADDRESS", "", "INBOX_ADDRESS: is required"},
		{"INBOX_NAME", "", "INBOX_NAME: is required"},
		{"IMAP_ADDR", "imap.acme.test", "IMAP_ADDR: must be host:port"},
		{"IMAP_PASSWORD", "", "IMAP_PASSWORD: is required"},
		{"IMAP_TLS", "ssl", `IMAP_TLS: must be one of implicit, starttls, none (got "ssl")`},
		{"SMTP_TLS", "yes", `SMTP_TLS: must be one of implicit, starttls, none (got "yes")`},
		{"SMTP_ADDR", "", "SMTP_ADDR: is required"},
		{"SMTP_TLS", "none", "SMTP_TLS: must be starttls or implicit when SMTP_USERNAME is set"},
		{"SMTP_USERNAME", "bot", "SMTP_PASSWORD: is required when SMTP_USERNAME is set"},
		{"SEND_DELAY", "soon", `SEND_DELAY: must be a duration like 10s`},
		{"ATTACH_MAX", "big", `ATTACH_MAX: must be a size like 25MB`},
		{"IMAP_AUTH", "token", `IMAP_AUTH: must be password or oauth`},
		{"SLACK_MODE", "http", `SLACK_SIGNING_SECRET: is required when SLACK_MODE=http`},
		{"BUSINESS_HOURS", "9-5", `BUSINESS_HOURS: hours "9-5": want HH:MM-HH:MM`},
		{"BUSINESS_TIMEZONE", "Mars/Olympus", `BUSINESS_TIMEZONE: must be a time zone`},
		{"FIRST_RESPONSE_TARGET", "an hour", `FIRST_RESPONSE_TARGET: must be a duration`},
		{"ON_DUTY_GROUP", "@support", `ON_DUTY_GROUP: must be a user group ID`},
		{"DIGEST", "monday", `DIGEST: must be a weekday and a time`},
		{"REACTION_TAGS", "moneybag", `REACTION_TAGS: must be reaction=tag pairs`},
		{"REACTION_TAGS", "moneybag=<!channel>", `REACTION_TAGS: must be reaction=tag pairs`},
		{"AI_URL", "localhost:11434", `AI_URL: must be the chat-completions endpoint`},
		{"OAUTH_TOKEN_URL", "login.acme.test/token", `OAUTH_TOKEN_URL: must be the token endpoint's URL`},
	} {
		env := validEnv()
		env[tc.key] = tc.value
		if strings.HasPrefix(tc.key, "OAUTH_") {
			env["IMAP_AUTH"], env["OAUTH_CLIENT_ID"], env["OAUTH_REFRESH_TOKEN"] = "oauth", "cid", "rt"
			delete(env, "IMAP_PASSWORD")
		}
		if tc.key == "SLACK_MODE" {
			env["HTTP_ADDR"] = ":8080"
		}
		if tc.key == "SMTP_TLS" && tc.value == "none" {
			env["SMTP_USERNAME"], env["SMTP_PASSWORD"] = "bot", "pw"
		}
		_, err := LoadConfig(func(k string) string { return env[k] })
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s=%q: %v, want %q", tc.key, tc.value, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", tc.key, err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows a secret: %q", tc.key, err)
		}
	}
}

func TestLoadConfigSingleInboxExtras(t *testing.T) {
	env := validEnv()
	env["SEND_DELAY"], env["SIGNATURE"], env["ATTACH_MAX"] = "0", `-- \n{agent}, Acme`, "5 MiB"
	delete(env, "IMAP_PASSWORD")
	env["IMAP_AUTH"], env["SMTP_AUTH"] = "oauth", "oauth"
	env["OAUTH_PROVIDER"], env["OAUTH_CLIENT_ID"], env["OAUTH_REFRESH_TOKEN"] = "google", "cid", "rt"
	env["SMTP_USERNAME"] = "support@acme.test"
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	in := c.Inboxes[0]
	if in.SendDelay != 0 || in.Signature != "-- \n{agent}, Acme" || in.AttachMax != 5<<20 {
		t.Errorf("extras: %+v", in)
	}
	want := &OAuth{Provider: "google", ClientID: "cid", RefreshToken: "rt"}
	if !reflect.DeepEqual(in.IMAP.OAuth, want) || !reflect.DeepEqual(in.SMTP.OAuth, want) {
		t.Errorf("oauth %+v %+v", in.IMAP.OAuth, in.SMTP.OAuth)
	}
}

const twoInboxes = `# Two shared addresses, each in its own channel.
slack:
  bot_token: ${TEST_BOT_TOKEN}
  app_token_file: %s
db_path: /data/inboxbot.db
http_addr: ":8080"
inboxes:
  - address: support@acme.test
    name: Acme Support
    channel: C0SUPPORT
    send_delay: 30s
    signature: "Best,\n{agent}"
    imap:
      addr: imap.acme.test:993
      username: support@acme.test
      password: ${TEST_IMAP_PASSWORD}
    smtp:
      addr: smtp.acme.test:587
      username: support@acme.test
      password: ${TEST_IMAP_PASSWORD}
  - address: billing@acme.test
    name: Acme Billing
    channel: C0BILLING
    attach_max: 10MB
    imap:
      addr: outlook.office365.com:993
      username: billing@acme.test
      mailbox: Invoices
      oauth:
        provider: microsoft
        tenant: 0000-tenant
        client_id: cid
        client_secret: ${TEST_CLIENT_SECRET}
        scopes: [https://outlook.office365.com/.default]
    smtp:
      addr: smtp.office365.com:587
      username: billing@acme.test
      oauth:
        provider: microsoft
        tenant: 0000-tenant
        client_id: cid
        client_secret: ${TEST_CLIENT_SECRET}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigFile(t *testing.T) {
	appToken := writeFile(t, "app-token", "xapp-from-file\n")
	path := writeFile(t, "inboxbot.yaml", strings.Replace(twoInboxes, "%s", appToken, 1))
	env := map[string]string{"CONFIG_FILE": path, "TEST_BOT_TOKEN": "xoxb-env", "TEST_IMAP_PASSWORD": "pw",
		"TEST_CLIENT_SECRET": "cs", "DB_PATH": "/elsewhere/inboxbot.db"}
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.SlackBotToken != "xoxb-env" || c.SlackAppToken != "xapp-from-file" || c.DBPath != "/elsewhere/inboxbot.db" ||
		c.HTTPAddr != ":8080" || c.SlackMode != "socket" || len(c.Inboxes) != 2 {
		t.Fatalf("config %+v", c)
	}
	s, b := c.Inboxes[0], c.Inboxes[1]
	if s.SendDelay != 30*time.Second || s.Signature != "Best,\n{agent}" || s.IMAP.Password != "pw" || s.Mailbox != "INBOX" || s.AttachMax != 25_000_000 {
		t.Errorf("support inbox %+v", s)
	}
	wantOAuth := &OAuth{Provider: "microsoft", Tenant: "0000-tenant", ClientID: "cid", ClientSecret: "cs",
		Scopes: []string{"https://outlook.office365.com/.default"}}
	if b.Mailbox != "Invoices" || b.AttachMax != 10_000_000 || b.SendDelay != 10*time.Second || !reflect.DeepEqual(b.IMAP.OAuth, wantOAuth) ||
		b.SMTP.OAuth == nil || b.SMTP.OAuth.ClientSecret != "cs" {
		t.Errorf("billing inbox %+v %+v", b, b.IMAP.OAuth)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	path := writeFile(t, "bad.yaml", `slack:
  bot_token: xoxb-1
  app_token: xapp-1
  colour: blue
inboxes:
  - address: support@acme.test
    name: Acme Support
    channel: C0SUPPORT
    imap: {addr: imap.acme.test, username: u, password: p, tsl: implicit}
    smtp: {addr: smtp.acme.test:587}
  - address: support@acme.test
    channel: "#billing"
    imap:
      addr: imap.acme.test:993
      username: u
      password: ${NOT_SET}
    smtp: {addr: smtp.acme.test:587}
`)
	_, err := LoadConfig(func(k string) string { return map[string]string{"CONFIG_FILE": path}[k] })
	if err == nil {
		t.Fatal("bad file accepted")
	}
	got := err.Error()
	for _, want := range []string{
		"slack.colour: is not a setting (line 4 of " + path + ")",
		"inboxes[0] (support@acme.test).imap.tsl: is not a setting (did you mean imap.tls?) (line 9 of " + path + ")",
		"inboxes[0] (support@acme.test).imap.addr: must be host:port",
		"inboxes[1] (support@acme.test).name: is required",
		`inboxes[1] (support@acme.test).channel: must be a channel ID`,
		"inboxes[1] (support@acme.test).imap.password: refers to the environment variable NOT_SET, which is not set (line 16 of " + path + ")",
		"inboxes[1] (support@acme.test).address: is the same as support@acme.test's",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if strings.Count(got, "imap.password") != 1 {
		t.Errorf("the missing password is reported twice:\n%s", got)
	}
	if strings.Contains(got, "\n\n") {
		t.Errorf("blank line in errors:\n%s", got)
	}
}

// The example in README.md is a configuration that loads.
func TestReadmeConfigExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml example in README.md")
	}
	secret := writeFile(t, "secret", "s3cret")
	example = strings.ReplaceAll(example, "/run/secrets/slack-app-token", writeFile(t, "app", "xapp-1"))
	example = strings.ReplaceAll(example, "/run/secrets/billing", secret)
	path := writeFile(t, "inboxbot.yaml", example)
	env := map[string]string{"CONFIG_FILE": path, "SLACK_BOT_TOKEN": "xoxb-1", "SUPPORT_PASSWORD": "pw"}
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if len(c.Inboxes) != 2 || c.Inboxes[1].IMAP.Password != "s3cret" || c.Inboxes[0].SendDelay != 30*time.Second {
		t.Errorf("README example read as %+v", c)
	}
}

func TestLoadConfigTeamSettings(t *testing.T) {
	env := validEnv()
	for k, v := range map[string]string{
		"BUSINESS_TIMEZONE": "Europe/Berlin", "BUSINESS_DAYS": "mon-fri", "BUSINESS_HOURS": "09:00-17:30",
		"BUSINESS_HOLIDAYS": "2026-12-25, 2026-12-26", "FIRST_RESPONSE_TARGET": "4h", "NEXT_RESPONSE_TARGET": "8h",
		"ON_DUTY_GROUP": "S0123ABCD", "AUTO_CLOSE_AFTER": "168h", "DIGEST": "mon 09:00",
		"REACTION_TAGS": ":moneybag:=billing, bug=Bug", "AI_URL": "http://localhost:11434/v1/chat/completions", "AI_MODEL": "llama3",
	} {
		env[k] = v
	}
	c, err := LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	in := c.Inboxes[0]
	if in.FirstResponse != 4*time.Hour || in.NextResponse != 8*time.Hour || in.OnDutyGroup != "S0123ABCD" ||
		in.AutoCloseAfter != 168*time.Hour || in.Digest != "mon 09:00" ||
		!reflect.DeepEqual(in.ReactionTags, map[string]string{"moneybag": "billing", "bug": "bug"}) ||
		!reflect.DeepEqual(in.Hours, BusinessHours{Zone: "Europe/Berlin", Days: "mon-fri", Hours: "09:00-17:30", Holidays: []string{"2026-12-25", "2026-12-26"}}) ||
		c.AIURL == "" || c.AIModel != "llama3" {
		t.Errorf("team settings %+v %+v", in, c)
	}
	cal, err := in.Calendar()
	if err != nil || cal.Location().String() != "Europe/Berlin" {
		t.Errorf("calendar %v %v", cal, err)
	}
}

// Every variable .env.example names (set or commented out) is one inboxbot
// reads: a misspelt name there would be silently ignored.
func TestEnvExampleNamesKnownVariables(t *testing.T) {
	data, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"CONFIG_FILE": true, "IMAP_AUTH": true, "SMTP_AUTH": true}
	for _, s := range globalSettings {
		known[s.env] = true
	}
	for _, s := range inboxSettings {
		known[s.env] = true
	}
	for _, o := range envOAuth {
		known[o.env] = true
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		name, _, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(name, " ,.") || name != strings.ToUpper(name) {
			continue
		}
		if !known[name] {
			t.Errorf(".env.example names %s, which inboxbot does not read", name)
		}
	}
}

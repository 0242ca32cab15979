package main

import (
	"errors"
	"strings"
	"testing"
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
		SlackBotToken: "xoxb-1", SlackAppToken: "xapp-1", SlackAPIURL: "https://slack.com/api/", Channel: "C0123ABC",
		InboxAddress: "support@acme.test", InboxName: "Acme Support",
		IMAPAddr: "imap.acme.test:993", IMAPUsername: "support", IMAPPassword: "secret", IMAPTLS: "implicit", IMAPMailbox: "INBOX",
		SMTPAddr: "smtp.acme.test:587", SMTPTLS: "starttls", DBPath: "inboxbot.db",
		LogFormat: "text", LogLevel: "info",
	}
	if c != want {
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
	} {
		env := validEnv()
		env[tc.key] = tc.value
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

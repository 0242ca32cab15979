package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

// Config is the whole configuration, read from the environment.
type Config struct {
	SlackBotToken string
	SlackAppToken string
	SlackAPIURL   string
	Channel       string
	InboxAddress  string
	InboxName     string

	IMAPAddr, IMAPUsername, IMAPPassword, IMAPTLS, IMAPMailbox string
	SMTPAddr, SMTPUsername, SMTPPassword, SMTPTLS              string

	DBPath string
}

// LogValue keeps secrets out of logs even if a Config is logged whole.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("slack_api_url", c.SlackAPIURL), slog.String("channel", c.Channel),
		slog.String("inbox", c.InboxAddress), slog.String("imap", c.IMAPAddr),
		slog.String("smtp", c.SMTPAddr), slog.String("db", c.DBPath),
	)
}

// ConfigError names the variable at fault and what it expects.
type ConfigError struct {
	Var, Want string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Want }

var channelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)

// LoadConfig reads the configuration through getenv (os.Getenv in main). It
// stops at the first variable that is missing or malformed.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	type check struct {
		name, def string
		dst       *string
		valid     func(string) string // "" when fine, else what is expected
	}
	required := func(want string) func(string) string {
		return func(v string) string {
			if v == "" {
				return "is required: " + want
			}
			return ""
		}
	}
	prefixed := func(p, what string) func(string) string {
		return func(v string) string {
			if !strings.HasPrefix(v, p) {
				return fmt.Sprintf("must be %s, starting with %q", what, p)
			}
			return ""
		}
	}
	hostPort := func(v string) string {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return "must be host:port, e.g. mail.example.com:993"
		}
		return ""
	}
	oneOf := func(opts ...string) func(string) string {
		return func(v string) string {
			for _, o := range opts {
				if v == o {
					return ""
				}
			}
			return fmt.Sprintf("must be one of %s (got %q)", strings.Join(opts, ", "), v)
		}
	}
	checks := []check{
		{"SLACK_BOT_TOKEN", "", &c.SlackBotToken, prefixed("xoxb-", "the bot token (OAuth & Permissions)")},
		{"SLACK_APP_TOKEN", "", &c.SlackAppToken, prefixed("xapp-", "an app-level token with connections:write (Basic Information)")},
		{"SLACK_API_URL", "https://slack.com/api/", &c.SlackAPIURL, func(v string) string {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(v, "/") {
				return "must be an http(s) URL ending in /, e.g. https://slack.com/api/"
			}
			return ""
		}},
		{"INBOX_CHANNEL", "", &c.Channel, func(v string) string {
			if !channelID.MatchString(v) {
				return "must be a channel ID like C0123456789 (channel details, bottom), not a name"
			}
			return ""
		}},
		{"INBOX_ADDRESS", "", &c.InboxAddress, func(v string) string {
			if a, err := mail.ParseAddress(v); err != nil || a.Name != "" || a.Address != v {
				return "must be the shared address, e.g. support@example.com"
			}
			return ""
		}},
		{"INBOX_NAME", "", &c.InboxName, required("the team's display name, e.g. Acme Support")},
		{"IMAP_ADDR", "", &c.IMAPAddr, hostPort},
		{"IMAP_USERNAME", "", &c.IMAPUsername, required("the IMAP login")},
		{"IMAP_PASSWORD", "", &c.IMAPPassword, required("the IMAP password")},
		{"IMAP_TLS", "implicit", &c.IMAPTLS, oneOf("implicit", "starttls", "none")},
		{"IMAP_MAILBOX", "INBOX", &c.IMAPMailbox, nil},
		{"SMTP_ADDR", "", &c.SMTPAddr, hostPort},
		{"SMTP_USERNAME", "", &c.SMTPUsername, nil},
		{"SMTP_PASSWORD", "", &c.SMTPPassword, nil},
		{"SMTP_TLS", "starttls", &c.SMTPTLS, oneOf("implicit", "starttls", "none")},
		{"DB_PATH", "inboxbot.db", &c.DBPath, nil},
	}
	for _, ch := range checks {
		v := unquote(strings.TrimSpace(getenv(ch.name)))
		if v == "" {
			v = ch.def
		}
		if v == "" && ch.valid != nil {
			// Say what a missing variable is, not how it is malformed.
			return c, &ConfigError{ch.name, "is required: " + describe(ch.valid(v))}
		}
		if ch.valid != nil {
			if want := ch.valid(v); want != "" {
				return c, &ConfigError{ch.name, want}
			}
		}
		*ch.dst = v
	}
	if c.SMTPUsername != "" && c.SMTPPassword == "" {
		return c, &ConfigError{"SMTP_PASSWORD", "is required when SMTP_USERNAME is set"}
	}
	if host, _, _ := net.SplitHostPort(c.SMTPAddr); c.SMTPUsername != "" && c.SMTPTLS == "none" && !isLoopback(host) {
		// The password would travel in clear text; go-mail refuses to,
		// and every reply would fail after hours of retries.
		return c, &ConfigError{"SMTP_TLS", "must be starttls or implicit when SMTP_USERNAME is set (none sends the password in clear text)"}
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// unquote drops one pair of matching outer quotes: `docker run --env-file`
// keeps the quotes a shell-sourceable .env needs (INBOX_NAME="Acme Support"),
// and nobody means them as part of a value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// describe turns "must be X" into "X" for the message of a missing variable.
func describe(want string) string {
	want = strings.TrimPrefix(want, "is required: ")
	return strings.TrimPrefix(want, "must be ")
}

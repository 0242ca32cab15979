package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
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

	HTTPAddr  string // health and metrics; "" = off
	LogFormat string // text or json
	LogLevel  string // debug, info, warn or error
}

// LogValue keeps secrets out of logs even if a Config is logged whole.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("slack_api_url", c.SlackAPIURL), slog.String("channel", c.Channel),
		slog.String("inbox", c.InboxAddress), slog.String("imap", c.IMAPAddr),
		slog.String("smtp", c.SMTPAddr), slog.String("db", c.DBPath), slog.String("http", c.HTTPAddr),
	)
}

// ConfigError names the variable at fault and what it expects.
type ConfigError struct {
	Var, Want string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Want }

var channelID = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)

// placeholders are the values of .env.example that must be replaced: a
// configuration still holding one was copied and not filled in.
var placeholders = map[string]bool{
	"xoxb-...": true, "xapp-...": true, "C0123456789": true, "change-me": true,
}

// exampleDomain reports whether a host or address is under a domain
// reserved for documentation (RFC 2606): no real server lives there.
func exampleDomain(v string) bool {
	v = strings.ToLower(v)
	if host, _, err := net.SplitHostPort(v); err == nil {
		v = host
	}
	if i := strings.LastIndexByte(v, '@'); i >= 0 {
		v = v[i+1:]
	}
	for _, d := range []string{"example.com", "example.org", "example.net"} {
		if v == d || strings.HasSuffix(v, "."+d) {
			return true
		}
	}
	return false
}

// LoadConfig reads the configuration through getenv (os.Getenv in main). It
// checks every variable and reports all the problems at once, as a
// ConfigError each, joined (errors.Join).
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
		{"HTTP_ADDR", "", &c.HTTPAddr, func(v string) string {
			if v == "" {
				return ""
			}
			if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
				return "must be [host]:port to serve health and metrics on, e.g. :8080, or empty"
			}
			return ""
		}},
		{"LOG_FORMAT", "text", &c.LogFormat, oneOf("text", "json")},
		{"LOG_LEVEL", "info", &c.LogLevel, oneOf("debug", "info", "warn", "error")},
	}
	var errs []error
	for _, ch := range checks {
		v := unquote(strings.TrimSpace(getenv(ch.name)))
		if v == "" {
			v = ch.def
		}
		*ch.dst = v
		valid := ch.valid
		if valid == nil {
			valid = func(string) string { return "" }
		}
		switch {
		case v == "" && valid(v) != "":
			// Say what a missing variable is, not how it is malformed.
			errs = append(errs, &ConfigError{ch.name, "is required: " + describe(valid(v))})
		case v != "" && (placeholders[v] || exampleDomain(v)):
			errs = append(errs, &ConfigError{ch.name, "is still the placeholder from .env.example (" + v + "): put in the real value"})
		default:
			if want := valid(v); want != "" {
				errs = append(errs, &ConfigError{ch.name, want})
			}
		}
	}
	if strings.HasPrefix(c.SlackBotToken, "xapp-") && strings.HasPrefix(c.SlackAppToken, "xoxb-") {
		// Two errors saying each is the wrong kind would hide the point.
		errs = slices.DeleteFunc(errs, func(e error) bool {
			var ce *ConfigError
			return errors.As(e, &ce) && (ce.Var == "SLACK_BOT_TOKEN" || ce.Var == "SLACK_APP_TOKEN")
		})
		errs = append([]error{&ConfigError{"SLACK_BOT_TOKEN", "and SLACK_APP_TOKEN are swapped: the bot token starts with xoxb-, the app-level token with xapp-"}}, errs...)
	}
	if c.SMTPUsername != "" && c.SMTPPassword == "" {
		errs = append(errs, &ConfigError{"SMTP_PASSWORD", "is required when SMTP_USERNAME is set"})
	}
	if host, _, _ := net.SplitHostPort(c.SMTPAddr); c.SMTPUsername != "" && c.SMTPTLS == "none" && !isLoopback(host) {
		// The password would travel in clear text; go-mail refuses to,
		// and every reply would fail after hours of retries.
		errs = append(errs, &ConfigError{"SMTP_TLS", "must be starttls or implicit when SMTP_USERNAME is set (none sends the password in clear text)"})
	}
	return c, errors.Join(errs...)
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

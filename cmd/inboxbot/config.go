package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/inboxbot/inboxbot/bot/workhours"
)

// Config is the whole configuration: the Slack app, the database, and one or
// more inboxes. It comes from the environment (one inbox) or from the YAML
// file CONFIG_FILE names (any number), the environment's Slack settings and
// DB_PATH winning over the file's.
type Config struct {
	SlackBotToken      string
	SlackAppToken      string
	SlackAPIURL        string
	SlackMode          string // socket or http
	SlackSigningSecret string // http mode

	DBPath    string
	HTTPAddr  string // health, metrics and (http mode) Slack's requests; "" = off
	LogFormat string // text or json
	LogLevel  string // debug, info, warn or error

	Inboxes []InboxConfig

	// An OpenAI-compatible chat-completions endpoint for summaries and
	// draft replies; off when AIURL is "".
	AIURL, AIModel, AIKey string
}

// InboxConfig is one shared address: where its mail is read and sent, and
// the channel it is worked in.
type InboxConfig struct {
	Address string // support@example.com
	Name    string // the team's display name
	Channel string // Slack channel ID

	IMAP    Account
	Mailbox string // IMAP folder to watch
	SMTP    Account

	SendDelay time.Duration // replies are held this long (undo window)
	Signature string        // appended to replies; {agent} is the agent's name
	AttachMax int64         // bytes; larger attachments are not uploaded to Slack

	// Working the inbox like a support team (all off by default).
	Hours          BusinessHours
	FirstResponse  time.Duration     // target for the first answer (business time)
	NextResponse   time.Duration     // target for each later answer
	OnDutyGroup    string            // user group (S…) reminded of unassigned conversations
	AutoCloseAfter time.Duration     // a conversation waiting this long on the customer is closed
	Digest         string            // weekly digest: "mon 09:00" (the inbox's time zone)
	ReactionTags   map[string]string // reaction name → tag, e.g. moneybag → billing
}

// BusinessHours is when a team works: response targets count only this
// time. The zero value counts every hour.
type BusinessHours struct {
	Zone     string   // IANA name; "" : UTC
	Days     string   // "mon-fri"
	Hours    string   // "09:00-17:00"
	Holidays []string // "2026-12-25"
}

// Calendar is the inbox's working time (every hour when no hours are set).
func (in InboxConfig) Calendar() (*workhours.Calendar, error) {
	h := in.Hours
	if h.Hours == "" {
		if len(h.Holidays) > 0 {
			return nil, fmt.Errorf("holidays need working hours (hours: 09:00-17:00)")
		}
		return workhours.Always(), nil
	}
	return workhours.New(cmp.Or(h.Zone, "UTC"), cmp.Or(h.Days, "mon-fri"), h.Hours, h.Holidays)
}

// ID is the inbox's key in the store: its address, lower case.
func (in InboxConfig) ID() string { return strings.ToLower(in.Address) }

// Account is a login to an IMAP or SMTP server.
type Account struct {
	Addr     string // host:port
	Username string
	Password string
	TLS      string // implicit, starttls or none
	OAuth    *OAuth // instead of Password
}

// OAuth is how an account gets access tokens (XOAUTH2): from a refresh
// token, or (Microsoft 365 app-only) from client credentials.
type OAuth struct {
	Provider     string // google, microsoft, or "" with TokenURL
	TokenURL     string
	ClientID     string
	ClientSecret string
	RefreshToken string // "" : client credentials
	Tenant       string // microsoft
	Scopes       []string
}

// LogValue keeps secrets out of logs even if a Config is logged whole.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("slack_api_url", c.SlackAPIURL), slog.String("slack_mode", c.SlackMode),
		slog.String("db", c.DBPath), slog.String("http", c.HTTPAddr)}
	for _, in := range c.Inboxes {
		attrs = append(attrs, slog.Group(in.Address, slog.String("channel", in.Channel),
			slog.String("imap", in.IMAP.Addr), slog.String("smtp", in.SMTP.Addr)))
	}
	return slog.GroupValue(attrs...)
}

// ConfigError names the setting at fault (a variable, or a path in the
// file) and what it expects.
type ConfigError struct {
	Var, Want string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Want }

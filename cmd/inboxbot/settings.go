package main

import (
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/inboxbot/inboxbot/bot/workhours"
)

// setting is one configuration value: its variable (single-inbox form),
// its key in the file (dotted within its scope), its default, how it is
// checked and where it goes.
type setting[T any] struct {
	env, key, def string
	secret        bool                // may be ${VAR} or given by key_file
	text          bool                // free text: never taken for a placeholder
	valid         func(string) string // "" when fine, else what is expected
	set           func(t *T, v string)
}

var globalSettings = []setting[Config]{
	{env: "SLACK_BOT_TOKEN", key: "slack.bot_token", secret: true, valid: prefixed("xoxb-", "the bot token (OAuth & Permissions)"),
		set: func(c *Config, v string) { c.SlackBotToken = v }},
	{env: "SLACK_APP_TOKEN", key: "slack.app_token", secret: true, valid: optional(prefixed("xapp-", "an app-level token with connections:write (Basic Information)")),
		set: func(c *Config, v string) { c.SlackAppToken = v }},
	{env: "SLACK_API_URL", key: "slack.api_url", def: "https://slack.com/api/", valid: func(v string) string {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !strings.HasSuffix(v, "/") {
			return "must be an http(s) URL ending in /, e.g. https://slack.com/api/"
		}
		return ""
	}, set: func(c *Config, v string) { c.SlackAPIURL = v }},
	{env: "SLACK_MODE", key: "slack.mode", def: "socket", valid: oneOf("socket", "http"),
		set: func(c *Config, v string) { c.SlackMode = v }},
	{env: "SLACK_SIGNING_SECRET", key: "slack.signing_secret", secret: true,
		set: func(c *Config, v string) { c.SlackSigningSecret = v }},
	{env: "DB_PATH", key: "db_path", def: "inboxbot.db", set: func(c *Config, v string) { c.DBPath = v }},
	{env: "HTTP_ADDR", key: "http_addr", valid: optional(func(v string) string {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			return "must be [host]:port to serve health and metrics on, e.g. :8080, or empty"
		}
		return ""
	}), set: func(c *Config, v string) { c.HTTPAddr = v }},
	{env: "LOG_FORMAT", key: "log_format", def: "text", valid: oneOf("text", "json"),
		set: func(c *Config, v string) { c.LogFormat = v }},
	{env: "LOG_LEVEL", key: "log_level", def: "info", valid: oneOf("debug", "info", "warn", "error"),
		set: func(c *Config, v string) { c.LogLevel = v }},
	{env: "AI_URL", key: "ai.url", valid: optional(httpURL("the chat-completions endpoint, e.g. http://localhost:11434/v1/chat/completions")),
		set: func(c *Config, v string) { c.AIURL = v }},
	{env: "AI_MODEL", key: "ai.model", text: true, set: func(c *Config, v string) { c.AIModel = v }},
	{env: "AI_API_KEY", key: "ai.api_key", secret: true, set: func(c *Config, v string) { c.AIKey = v }},
}

// fromEnvAlways are the settings the environment gives even when a file is
// used (and then wins over the file).
var fromEnvAlways = []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_API_URL", "SLACK_MODE", "SLACK_SIGNING_SECRET", "DB_PATH"}

var (
	channelID   = regexp.MustCompile(`^[CG][A-Z0-9]{2,}$`)
	userGroupID = regexp.MustCompile(`^S[A-Z0-9]{2,}$`)
)

func accountSettings(env, key, tlsDef string, acct func(*InboxConfig) *Account) []setting[InboxConfig] {
	return []setting[InboxConfig]{
		{env: env + "_ADDR", key: key + ".addr", valid: hostPort, set: func(in *InboxConfig, v string) { acct(in).Addr = v }},
		{env: env + "_USERNAME", key: key + ".username", set: func(in *InboxConfig, v string) { acct(in).Username = v }},
		{env: env + "_PASSWORD", key: key + ".password", secret: true, set: func(in *InboxConfig, v string) { acct(in).Password = v }},
		{env: env + "_TLS", key: key + ".tls", def: tlsDef, valid: oneOf("implicit", "starttls", "none"),
			set: func(in *InboxConfig, v string) { acct(in).TLS = v }},
		{key: key + ".oauth.provider", valid: optional(oneOf("google", "microsoft")), set: func(in *InboxConfig, v string) { oauthOf(acct(in)).Provider = v }},
		{key: key + ".oauth.token_url", valid: optional(httpURL("the token endpoint's URL, https://…")), set: func(in *InboxConfig, v string) { oauthOf(acct(in)).TokenURL = v }},
		{key: key + ".oauth.client_id", set: func(in *InboxConfig, v string) { oauthOf(acct(in)).ClientID = v }},
		{key: key + ".oauth.client_secret", secret: true, set: func(in *InboxConfig, v string) { oauthOf(acct(in)).ClientSecret = v }},
		{key: key + ".oauth.refresh_token", secret: true, set: func(in *InboxConfig, v string) { oauthOf(acct(in)).RefreshToken = v }},
		{key: key + ".oauth.tenant", set: func(in *InboxConfig, v string) { oauthOf(acct(in)).Tenant = v }},
		{key: key + ".oauth.scopes", text: true, set: func(in *InboxConfig, v string) { oauthOf(acct(in)).Scopes = strings.Fields(v) }},
	}
}

func oauthOf(a *Account) *OAuth {
	if a.OAuth == nil {
		a.OAuth = &OAuth{}
	}
	return a.OAuth
}

var inboxSettings = slices.Concat([]setting[InboxConfig]{
	{env: "INBOX_ADDRESS", key: "address", valid: func(v string) string {
		if a, err := mail.ParseAddress(v); err != nil || a.Name != "" || a.Address != v {
			return "must be the shared address, e.g. support@example.com"
		}
		return ""
	}, set: func(in *InboxConfig, v string) { in.Address = v }},
	{env: "INBOX_NAME", key: "name", text: true, valid: required("the team's display name, e.g. Acme Support"),
		set: func(in *InboxConfig, v string) { in.Name = v }},
	{env: "INBOX_CHANNEL", key: "channel", valid: func(v string) string {
		if !channelID.MatchString(v) {
			return "must be a channel ID like C0123456789 (channel details, bottom), not a name"
		}
		return ""
	}, set: func(in *InboxConfig, v string) { in.Channel = v }},
	{env: "IMAP_MAILBOX", key: "imap.mailbox", def: "INBOX", text: true, set: func(in *InboxConfig, v string) { in.Mailbox = v }},
	{env: "SEND_DELAY", key: "send_delay", def: "10s", valid: duration,
		set: func(in *InboxConfig, v string) { in.SendDelay, _ = time.ParseDuration(v) }},
	{env: "SIGNATURE", key: "signature", text: true, set: func(in *InboxConfig, v string) {
		in.Signature = strings.ReplaceAll(v, `\n`, "\n")
	}},
	{env: "ATTACH_MAX", key: "attach_max", def: "25MB", valid: byteSize,
		set: func(in *InboxConfig, v string) { in.AttachMax, _ = parseBytes(v) }},
	{env: "BUSINESS_TIMEZONE", key: "business_hours.timezone", valid: optional(zone),
		set: func(in *InboxConfig, v string) { in.Hours.Zone = v }},
	{env: "BUSINESS_DAYS", key: "business_hours.days", def: "mon-fri", text: true,
		set: func(in *InboxConfig, v string) { in.Hours.Days = v }},
	{env: "BUSINESS_HOURS", key: "business_hours.hours", text: true,
		set: func(in *InboxConfig, v string) { in.Hours.Hours = v }},
	{env: "BUSINESS_HOLIDAYS", key: "business_hours.holidays", text: true,
		set: func(in *InboxConfig, v string) { in.Hours.Holidays = strings.FieldsFunc(v, isListSep) }},
	{env: "FIRST_RESPONSE_TARGET", key: "targets.first_response", valid: optional(duration),
		set: func(in *InboxConfig, v string) { in.FirstResponse, _ = time.ParseDuration(v) }},
	{env: "NEXT_RESPONSE_TARGET", key: "targets.next_response", valid: optional(duration),
		set: func(in *InboxConfig, v string) { in.NextResponse, _ = time.ParseDuration(v) }},
	{env: "ON_DUTY_GROUP", key: "targets.on_duty_group", valid: optional(func(v string) string {
		if !userGroupID.MatchString(v) {
			return "must be a user group ID like S0123ABCD (the group's profile, or usergroups.list)"
		}
		return ""
	}), set: func(in *InboxConfig, v string) { in.OnDutyGroup = v }},
	{env: "AUTO_CLOSE_AFTER", key: "auto_close_after", valid: optional(duration),
		set: func(in *InboxConfig, v string) { in.AutoCloseAfter, _ = time.ParseDuration(v) }},
	{env: "DIGEST", key: "digest", text: true, valid: optional(parsedBy(workhours.ParseWeekly)),
		set: func(in *InboxConfig, v string) { in.Digest = v }},
	{env: "REACTION_TAGS", key: "reaction_tags", text: true, valid: optional(parsedBy(parseReactionTags)),
		set: func(in *InboxConfig, v string) { in.ReactionTags, _ = parseReactionTags(v) }},
}, accountSettings("IMAP", "imap", "implicit", func(in *InboxConfig) *Account { return &in.IMAP }),
	accountSettings("SMTP", "smtp", "starttls", func(in *InboxConfig) *Account { return &in.SMTP }))

func inboxSetting(key string) setting[InboxConfig] {
	for _, s := range inboxSettings {
		if s.key == key {
			return s
		}
	}
	panic("no inbox setting " + key)
}

// The single-inbox form names OAuth once for both accounts.
var envOAuth = []struct{ env, key string }{
	{"OAUTH_PROVIDER", "provider"}, {"OAUTH_TOKEN_URL", "token_url"}, {"OAUTH_CLIENT_ID", "client_id"},
	{"OAUTH_CLIENT_SECRET", "client_secret"}, {"OAUTH_REFRESH_TOKEN", "refresh_token"},
	{"OAUTH_TENANT", "tenant"}, {"OAUTH_SCOPES", "scopes"},
}

// placeholders are the values of .env.example that must be replaced: a
// configuration still holding one was copied and not filled in.
var placeholders = map[string]bool{
	"xoxb-...": true, "xapp-...": true, "C0123456789": true, "change-me": true,
}

package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/inboxbot/inboxbot/bot/workhours"
	"github.com/inboxbot/inboxbot/store"
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

// LoadConfig reads the configuration through getenv (os.Getenv in main): from
// the file CONFIG_FILE names if set, else from the environment. It checks
// everything and reports all the problems at once, as a ConfigError each,
// joined (errors.Join).
func LoadConfig(getenv func(string) string) (Config, error) {
	env := func(k string) string { return unquote(strings.TrimSpace(getenv(k))) }
	l := &loader{getenv: env}
	var c Config
	if path := env("CONFIG_FILE"); path != "" {
		l.file(path, &c)
	} else {
		l.env(&c)
	}
	l.check(&c)
	return c, errors.Join(l.errs...)
}

type loader struct {
	getenv func(string) string
	errs   []error
}

func (l *loader) fail(name, want string) { l.errs = append(l.errs, &ConfigError{name, want}) }

// value checks one value and stores it (even when it is wrong: the checks
// of settings together look at what was given); name is how the user knows
// it.
func value[T any](l *loader, s setting[T], name, v string, dst *T) {
	if v == "" {
		v = s.def
	}
	if v != "" {
		s.set(dst, v)
	}
	valid := s.valid
	if valid == nil {
		valid = func(string) string { return "" }
	}
	switch {
	case v == "" && valid(v) != "":
		// Say what a missing value is, not how it is malformed.
		l.fail(name, "is required: "+describe(valid(v)))
	case v != "" && !s.text && (placeholders[v] || exampleDomain(v)):
		l.fail(name, "is still the placeholder from .env.example ("+v+"): put in the real value")
	default:
		if want := valid(v); want != "" {
			l.fail(name, want)
		}
	}
}

// failed reports whether an error names one of names already.
func (l *loader) failed(names ...string) bool {
	return slices.ContainsFunc(l.errs, func(e error) bool {
		var ce *ConfigError
		return errors.As(e, &ce) && slices.Contains(names, ce.Var)
	})
}

// env reads the single-inbox form.
func (l *loader) env(c *Config) {
	for _, s := range globalSettings {
		value(l, s, s.env, l.getenv(s.env), c)
	}
	var in InboxConfig
	for _, s := range inboxSettings {
		if s.env != "" {
			value(l, s, s.env, l.getenv(s.env), &in)
		}
	}
	for _, acct := range []struct{ env, key string }{{"IMAP_AUTH", "imap"}, {"SMTP_AUTH", "smtp"}} {
		switch auth := l.getenv(acct.env); auth {
		case "", "password":
		case "oauth":
			for _, e := range envOAuth {
				s := inboxSetting(acct.key + ".oauth." + e.key)
				value(l, s, e.env, l.getenv(e.env), &in)
			}
		default:
			l.fail(acct.env, fmt.Sprintf("must be password or oauth (got %q)", auth))
		}
	}
	c.Inboxes = []InboxConfig{in}
}

// file reads the YAML form: Slack settings, database and server settings at
// the top, inboxes in a list. Unknown keys are errors; secrets may be
// ${VAR} or come from a key_file; the environment's Slack settings and
// DB_PATH win.
func (l *loader) file(path string, c *Config) {
	data, err := os.ReadFile(path)
	if err != nil {
		l.fail("CONFIG_FILE", fmt.Sprintf("cannot read %s: %v", path, err))
		return
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.fail(path, "is not valid YAML: "+err.Error())
		return
	}
	if len(root.Content) == 0 {
		l.fail(path, "is empty")
		return
	}
	top := flatten(l, path, root.Content[0], "")
	inboxes := top["inboxes"]
	delete(top, "inboxes")
	for _, s := range globalSettings {
		name, v := s.key, l.fileValue(top, "", s.key, s.secret, path)
		if e := l.getenv(s.env); e != "" && slices.Contains(fromEnvAlways, s.env) {
			name, v = s.env, e
		}
		value(l, s, name, v, c)
	}
	reportUnknown(l, top, path, "", globalSettings)
	if inboxes == nil || inboxes.node.Kind != yaml.SequenceNode || len(inboxes.node.Content) == 0 {
		l.fail(path+": inboxes", "is required: a list of at least one inbox (address, name, channel, imap, smtp)")
		return
	}
	for i, n := range inboxes.node.Content {
		if n.Kind != yaml.MappingNode {
			l.fail(fmt.Sprintf("%s: inboxes[%d] (line %d)", path, i, n.Line), "must be a mapping of the inbox's settings")
			continue
		}
		fields := flatten(l, path, n, "")
		label := fmt.Sprintf("inboxes[%d]", i)
		if a := fields["address"]; a != nil && a.value != "" {
			label += " (" + a.value + ")"
		}
		var in InboxConfig
		for _, s := range inboxSettings {
			value(l, s, label+"."+s.key, l.fileValue(fields, label+".", s.key, s.secret, path), &in)
		}
		reportUnknown(l, fields, path, label+".", inboxSettings)
		c.Inboxes = append(c.Inboxes, in)
	}
}

// leaf is a scalar of the file (or, for inboxes, the list node).
type leaf struct {
	value string
	line  int
	node  *yaml.Node
	used  bool
}

// flatten turns a mapping into dotted keys ("imap.oauth.client_id"); a
// list of scalars becomes one space-separated value (oauth scopes).
func flatten(l *loader, path string, n *yaml.Node, prefix string) map[string]*leaf {
	out := map[string]*leaf{}
	if n.Kind != yaml.MappingNode {
		l.fail(fmt.Sprintf("%s: %s (line %d)", path, strings.TrimSuffix(prefix, "."), n.Line), "must be a mapping")
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := prefix+n.Content[i].Value, n.Content[i+1]
		switch {
		case k == "inboxes":
			out[k] = &leaf{node: v, line: v.Line}
		case v.Kind == yaml.MappingNode:
			for kk, vv := range flatten(l, path, v, k+".") {
				out[kk] = vv
			}
		case v.Kind == yaml.SequenceNode:
			var parts []string
			for _, e := range v.Content {
				parts = append(parts, e.Value)
			}
			out[k] = &leaf{value: strings.Join(parts, " "), line: v.Line}
		default:
			out[k] = &leaf{value: v.Value, line: v.Line}
		}
	}
	return out
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// fileValue is the value of key: inline, or for a secret ${VAR} or the
// contents of key_file.
func (l *loader) fileValue(fields map[string]*leaf, prefix, key string, secret bool, path string) string {
	f := fields[key]
	ff := fields[key+"_file"]
	if f != nil {
		f.used = true
	}
	if ff != nil && secret {
		ff.used = true
		if f != nil {
			l.fail(prefix+key, fmt.Sprintf("give either %s or %s_file, not both (line %d of %s)", key, key, f.line, path))
			return ""
		}
		data, err := os.ReadFile(ff.value)
		if err != nil {
			l.fail(prefix+key+"_file", fmt.Sprintf("cannot read the file (line %d of %s): %v", ff.line, path, err))
			return ""
		}
		return strings.TrimSpace(string(data))
	}
	if f == nil {
		return ""
	}
	if m := envRef.FindStringSubmatch(f.value); m != nil && secret {
		v := l.getenv(m[1])
		if v == "" {
			l.fail(prefix+key, fmt.Sprintf("refers to the environment variable %s, which is not set (line %d of %s)", m[1], f.line, path))
		}
		return v
	}
	return strings.TrimSpace(f.value)
}

// reportUnknown reports the keys of a mapping that are no setting.
func reportUnknown[T any](l *loader, fields map[string]*leaf, path, prefix string, known []setting[T]) {
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if fields[k].used {
			continue
		}
		hint := ""
		for _, s := range known {
			if editDistance(s.key, k) <= 2 {
				hint = " (did you mean " + s.key + "?)"
				break
			}
		}
		l.fail(prefix+k, fmt.Sprintf("is not a setting%s (line %d of %s)", hint, fields[k].line, path))
	}
}

// editDistance is the Levenshtein distance of a and b, for "did you mean".
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// check looks at settings together, once each is valid on its own.
func (l *loader) check(c *Config) {
	if strings.HasPrefix(c.SlackBotToken, "xapp-") && strings.HasPrefix(c.SlackAppToken, "xoxb-") {
		// Two errors saying each is the wrong kind would hide the point.
		l.errs = slices.DeleteFunc(l.errs, func(e error) bool {
			var ce *ConfigError
			return errors.As(e, &ce) && (ce.Var == "SLACK_BOT_TOKEN" || ce.Var == "SLACK_APP_TOKEN" ||
				ce.Var == "slack.bot_token" || ce.Var == "slack.app_token")
		})
		l.errs = append([]error{&ConfigError{"SLACK_BOT_TOKEN", "and SLACK_APP_TOKEN are swapped: the bot token starts with xoxb-, the app-level token with xapp-"}}, l.errs...)
	}
	switch c.SlackMode {
	case "socket":
		if c.SlackAppToken == "" && !l.failed("SLACK_APP_TOKEN", "slack.app_token") {
			l.fail("SLACK_APP_TOKEN", "is required in Socket Mode: an app-level token with connections:write (Basic Information)")
		}
	case "http":
		if c.SlackSigningSecret == "" && !l.failed("SLACK_SIGNING_SECRET", "slack.signing_secret") {
			l.fail("SLACK_SIGNING_SECRET", "is required when SLACK_MODE=http: the Signing Secret (Basic Information → App Credentials)")
		}
		if c.HTTPAddr == "" && !l.failed("HTTP_ADDR", "http_addr") {
			l.fail("HTTP_ADDR", "is required when SLACK_MODE=http: where Slack's requests come in, e.g. :8080")
		}
	}
	seen := map[string]string{}
	for i, in := range c.Inboxes {
		label := "inboxes[" + strconv.Itoa(i) + "]"
		if len(c.Inboxes) == 1 {
			label = ""
		}
		name := func(env, key string) string {
			if label == "" {
				return env
			}
			return label + " (" + in.Address + ")." + key
		}
		for _, f := range []struct{ what, v string }{{"address", in.ID()}, {"channel", in.Channel}} {
			what, v := f.what, f.v
			if v == "" {
				continue
			}
			if other, dup := seen[what+v]; dup {
				l.fail(name("INBOX_"+strings.ToUpper(what), what), fmt.Sprintf("is the same as %s's: each inbox needs its own", other))
			}
			seen[what+v] = cmp.Or(in.Address, label)
		}
		for _, a := range []struct {
			env, key string
			acct     Account
		}{{"IMAP", "imap", in.IMAP}, {"SMTP", "smtp", in.SMTP}} {
			l.checkAccount(a.acct, a.env, a.key, name)
		}
		if _, err := in.Calendar(); err != nil && !l.failed(name("BUSINESS_TIMEZONE", "business_hours.timezone")) {
			l.fail(name("BUSINESS_HOURS", "business_hours"), err.Error())
		}
	}
}

func (l *loader) checkAccount(a Account, env, key string, name func(env, key string) string) {
	if a.OAuth != nil {
		o := a.OAuth
		if a.Password != "" {
			l.fail(name(env+"_PASSWORD", key+".password"), "give a password or oauth, not both")
		}
		if a.Username == "" {
			l.fail(name(env+"_USERNAME", key+".username"), "is required with OAuth: the mailbox's address the token is for")
		}
		if o.Provider == "" && o.TokenURL == "" {
			l.fail(name("OAUTH_PROVIDER", key+".oauth.provider"), "is required with OAuth: google or microsoft (or give token_url)")
		}
		if o.ClientID == "" {
			l.fail(name("OAUTH_CLIENT_ID", key+".oauth.client_id"), "is required with OAuth: the app registration's client ID")
		}
		if o.RefreshToken == "" && !(o.Provider == "microsoft" && o.ClientSecret != "" && o.Tenant != "") {
			l.fail(name("OAUTH_REFRESH_TOKEN", key+".oauth.refresh_token"),
				"is required with OAuth, except for Microsoft 365 app-only access (client_secret and tenant)")
		}
		if o.Provider == "microsoft" && o.Tenant == "" && o.TokenURL == "" {
			l.fail(name("OAUTH_TENANT", key+".oauth.tenant"), "is required for Microsoft: the directory (tenant) ID")
		}
		return
	}
	switch {
	case env == "IMAP" && a.Username == "":
		l.fail(name("IMAP_USERNAME", "imap.username"), "is required: the IMAP login")
	case env == "IMAP" && a.Password == "" && !l.failed(name("IMAP_PASSWORD", "imap.password")):
		l.fail(name("IMAP_PASSWORD", "imap.password"), "is required: the IMAP password (or oauth)")
	case env == "SMTP" && a.Username != "" && a.Password == "" && !l.failed(name("SMTP_PASSWORD", "smtp.password")):
		l.fail(name("SMTP_PASSWORD", "smtp.password"), "is required when SMTP_USERNAME is set")
	}
	if host, _, _ := net.SplitHostPort(a.Addr); env == "SMTP" && a.Username != "" && a.TLS == "none" && !isLoopback(host) {
		// The password would travel in clear text; go-mail refuses to,
		// and every reply would fail after hours of retries.
		l.fail(name("SMTP_TLS", "smtp.tls"), "must be starttls or implicit when SMTP_USERNAME is set (none sends the password in clear text)")
	}
}

// ---- value checks ------------------------------------------------------------

func required(want string) func(string) string {
	return func(v string) string {
		if v == "" {
			return "is required: " + want
		}
		return ""
	}
}

// optional accepts "" and checks anything else with valid.
func optional(valid func(string) string) func(string) string {
	return func(v string) string {
		if v == "" {
			return ""
		}
		return valid(v)
	}
}

func prefixed(p, what string) func(string) string {
	return func(v string) string {
		if !strings.HasPrefix(v, p) {
			return fmt.Sprintf("must be %s, starting with %q", what, p)
		}
		return ""
	}
}

func hostPort(v string) string {
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return "must be host:port, e.g. mail.example.com:993"
	}
	return ""
}

func httpURL(what string) func(string) string {
	return func(v string) string {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "must be " + what
		}
		return ""
	}
}

func zone(v string) string {
	if _, err := time.LoadLocation(v); err != nil {
		return fmt.Sprintf("must be a time zone like Europe/Berlin or America/New_York, got %q", v)
	}
	return ""
}

func isListSep(r rune) bool { return r == ',' || r == ' ' || r == ';' }

// parsedBy checks a value with the parser that will read it: its error
// says what is expected.
func parsedBy[T any](parse func(string) (T, error)) func(string) string {
	return func(v string) string {
		if _, err := parse(v); err != nil {
			return err.Error()
		}
		return ""
	}
}

// parseReactionTags reads "moneybag=billing, bug=bug" (reaction names
// without colons).
func parseReactionTags(v string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }) {
		name, tag, ok := strings.Cut(strings.TrimSpace(pair), "=")
		name = strings.Trim(strings.TrimSpace(name), ":")
		tag, err := store.NormTag(tag) // the form /inbox tag keeps
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("must be reaction=tag pairs, e.g. moneybag=billing, bug=bug (a tag is letters, digits and - _ . / +), got %q", v)
		}
		out[name] = tag
	}
	return out, nil
}

func oneOf(opts ...string) func(string) string {
	return func(v string) string {
		if slices.Contains(opts, v) {
			return ""
		}
		return fmt.Sprintf("must be one of %s (got %q)", strings.Join(opts, ", "), v)
	}
}

func duration(v string) string {
	if d, err := time.ParseDuration(v); err != nil || d < 0 {
		return fmt.Sprintf("must be a duration like 10s, 30m or 72h, got %q", v)
	}
	return ""
}

func byteSize(v string) string {
	if _, err := parseBytes(v); err != nil {
		return fmt.Sprintf("must be a size like 25MB or 500KB, got %q", v)
	}
	return ""
}

// parseBytes reads "25MB", "500 KB", "1GiB" or a plain number of bytes.
func parseBytes(v string) (int64, error) {
	s := strings.ToUpper(strings.ReplaceAll(v, " ", ""))
	units := []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", v)
	}
	return int64(n * float64(mult)), nil
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

// describe turns "must be X" into "X" for the message of a missing value.
func describe(want string) string {
	want = strings.TrimPrefix(want, "is required: ")
	return strings.TrimPrefix(want, "must be ")
}

package main

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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

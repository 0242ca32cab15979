package mailbridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/wneessen/go-mail"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/inboxbot/inboxbot/store"
)

// OAuth providers with presets (token endpoint and scopes).
const (
	ProviderGoogle    = "google"
	ProviderMicrosoft = "microsoft"
)

// Presets. Microsoft's delegated scopes name both IMAP and SMTP, so one
// refresh token serves both accounts; offline_access is what makes
// Microsoft issue refresh tokens at all.
const (
	googleTokenURL    = "https://oauth2.googleapis.com/token"
	googleScope       = "https://mail.google.com/"
	microsoftTokenURL = "https://login.microsoftonline.com/%s/oauth2/v2.0/token"
	microsoftIMAP     = "https://outlook.office.com/IMAP.AccessAsUser.All"
	microsoftSMTP     = "https://outlook.office.com/SMTP.Send"
	microsoftOffline  = "offline_access"
	microsoftAppOnly  = "https://outlook.office365.com/.default"
)

// OAuth says how an account gets its OAuth2 access tokens, which it then
// presents to the server with SASL XOAUTH2 (or OAUTHBEARER on IMAP where
// the server offers it) instead of a password.
type OAuth struct {
	Provider     string   // ProviderGoogle, ProviderMicrosoft, or "" with TokenURL
	TokenURL     string   // the token endpoint; overrides the provider's
	ClientID     string   // the app registration's client ID
	ClientSecret string   // empty for a public client
	RefreshToken string   // empty: client credentials (Microsoft 365 app-only access)
	Tenant       string   // Microsoft: the directory (tenant) ID
	Scopes       []string // override the provider's

	// HTTPClient talks to the token endpoint (nil: one with a 30-second
	// timeout that honours the proxy environment variables).
	HTTPClient *http.Client
	// EarlyRefresh is how long before its expiry a token is replaced, and
	// an IMAP session logged in with it renewed (servers such as
	// Microsoft 365 end a session whose token expired).
	EarlyRefresh time.Duration // default 5 minutes
}

// tokens hands out access tokens for one account, refreshing them before
// they expire and on demand (invalidate) after a server refused one.
type tokens struct {
	server string // "IMAP" or "SMTP": whose errors these are
	host   string // the token endpoint's host, for messages
	early  time.Duration
	client *http.Client
	log    *slog.Logger
	// source makes a token source for one call, starting from the current
	// token. A source made by x/oauth2 keeps the context it was made with
	// for every later request; making one per call lets each caller's
	// context cancel its own request.
	source func(ctx context.Context, cur *oauth2.Token) oauth2.TokenSource

	mu  sync.Mutex // one refresh at a time; guards cur
	cur *oauth2.Token

	// kept stores the refresh token as the provider rotates it, under
	// key; nil keeps it in memory only.
	kept refreshTokens
	key  string
}

// refreshTokens keeps refresh tokens across restarts (the store).
type refreshTokens interface {
	OAuthRefresh(key string) (string, error)
	SetOAuthRefresh(key, token string) error
}

// keptIn is where refresh tokens are kept: the store, if there is one.
func keptIn(st *store.Store) refreshTokens {
	if st == nil {
		return nil
	}
	return st
}

func newTokens(server string, o OAuth, log *slog.Logger, kept refreshTokens) *tokens {
	tokenURL, scopes := o.TokenURL, o.Scopes
	style := oauth2.AuthStyleAutoDetect
	switch o.Provider {
	case ProviderGoogle:
		tokenURL = cmp.Or(tokenURL, googleTokenURL)
		if len(scopes) == 0 {
			scopes = []string{googleScope}
		}
		style = oauth2.AuthStyleInParams
	case ProviderMicrosoft:
		tokenURL = cmp.Or(tokenURL, fmt.Sprintf(microsoftTokenURL, url.PathEscape(o.Tenant)))
		switch {
		case len(scopes) > 0:
		case o.RefreshToken == "":
			scopes = []string{microsoftAppOnly}
		default:
			scopes = []string{microsoftIMAP, microsoftSMTP, microsoftOffline}
		}
		style = oauth2.AuthStyleInParams
	}
	t := &tokens{server: server, early: o.EarlyRefresh, client: o.HTTPClient, log: log,
		cur: &oauth2.Token{RefreshToken: o.RefreshToken}}
	if kept != nil && o.RefreshToken != "" {
		t.kept, t.key = kept, store.OAuthKey(o.Provider, tokenURL, o.ClientID, o.RefreshToken)
		if rt, err := kept.OAuthRefresh(t.key); err != nil {
			log.Warn("reading the kept OAuth refresh token; using the configured one", "server", server, "err", err)
		} else if rt != "" {
			t.cur.RefreshToken = rt // rotated since it was configured
		}
	}
	if u, err := url.Parse(tokenURL); err == nil {
		t.host = u.Host
	}
	if t.early <= 0 {
		t.early = 5 * time.Minute
	}
	if t.client == nil {
		t.client = &http.Client{Timeout: 30 * time.Second}
	}
	switch {
	case o.RefreshToken == "":
		// Microsoft 365 app-only access: the app's own credentials.
		cc := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret,
			TokenURL: tokenURL, Scopes: scopes, AuthStyle: style}
		t.source = func(ctx context.Context, _ *oauth2.Token) oauth2.TokenSource { return cc.TokenSource(ctx) }
	case o.Provider == ProviderMicrosoft:
		// x/oauth2's refresher (Config.TokenSource) sends no scope, and
		// Microsoft then issues a token for whichever resource the
		// refresh token was first granted for (Microsoft Graph, often),
		// which IMAP and SMTP refuse (golang/oauth2 #540, #621).
		// clientcredentials sends the scopes and lets the grant type be
		// set, which makes it the same refresh request with scope.
		t.source = func(ctx context.Context, cur *oauth2.Token) oauth2.TokenSource {
			// Made anew each time: Microsoft rotates refresh tokens.
			cc := &clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret,
				TokenURL: tokenURL, Scopes: scopes, AuthStyle: style,
				EndpointParams: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur.RefreshToken}}}
			return cc.TokenSource(ctx)
		}
	default:
		oc := &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, Scopes: scopes,
			Endpoint: oauth2.Endpoint{TokenURL: tokenURL, AuthStyle: style}}
		t.source = func(ctx context.Context, cur *oauth2.Token) oauth2.TokenSource { return oc.TokenSource(ctx, cur) }
	}
	return t
}

// token returns a token that is valid for at least the early-refresh
// margin, refreshing it if needed; fresh says it was just obtained (so a
// server refusing it is not about expiry). Errors are ConnErrors and never
// hold a secret.
func (t *tokens) token(ctx context.Context) (tok *oauth2.Token, fresh bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, t.client)
	// ReuseTokenSourceWithExpiry gives the current token back while it is
	// valid for longer than the margin, and refreshes it otherwise; the
	// refresh token (rotated or not) comes back in the new token.
	tok, err = oauth2.ReuseTokenSourceWithExpiry(t.cur, t.source(ctx, t.cur), t.early).Token()
	if err != nil && ctx.Err() == nil && t.adoptKept() {
		// Another account of the same grant (IMAP and SMTP share one
		// refresh token) rotated it meanwhile: go on from its newest.
		tok, err = oauth2.ReuseTokenSourceWithExpiry(t.cur, t.source(ctx, t.cur), t.early).Token()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, t.fail(err)
	}
	if tok == t.cur {
		return tok, false, nil
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = t.cur.RefreshToken
	}
	if tok.RefreshToken != t.cur.RefreshToken && t.kept != nil {
		// Rotated: the old one may lapse; keep the new one for restarts.
		if err := t.kept.SetOAuthRefresh(t.key, tok.RefreshToken); err != nil {
			t.log.Warn("keeping the rotated OAuth refresh token", "server", t.server, "err", err)
		}
	}
	t.cur = tok
	if tok.Expiry.IsZero() {
		t.log.Info("OAuth token obtained", "server", t.server, "endpoint", t.host)
	} else {
		t.log.Info("OAuth token obtained", "server", t.server, "endpoint", t.host, "valid_for", time.Until(tok.Expiry).Round(time.Second))
	}
	return tok, true, nil
}

// adoptKept takes the refresh token kept in the store when it is not the
// one in hand, and reports whether it did.
func (t *tokens) adoptKept() bool {
	if t.kept == nil {
		return false
	}
	rt, err := t.kept.OAuthRefresh(t.key)
	if err != nil || rt == "" || rt == t.cur.RefreshToken {
		return false
	}
	t.cur = &oauth2.Token{RefreshToken: rt}
	return true
}

// invalidate drops tok if it is still the current token: a server refused
// it, so the next call to token gets a new one.
func (t *tokens) invalidate(tok *oauth2.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur.AccessToken == tok.AccessToken {
		t.cur = &oauth2.Token{RefreshToken: t.cur.RefreshToken}
	}
}

// renewAt is when a session logged in with tok should be renewed: when the
// token enters its early-refresh margin, but no sooner than halfway
// through its life (a provider whose tokens live shorter than the margin
// must not make the watcher reconnect without pause). Zero: never.
func (t *tokens) renewAt(tok *oauth2.Token) time.Time {
	if tok.Expiry.IsZero() {
		return time.Time{}
	}
	now := time.Now()
	half := now.Add(tok.Expiry.Sub(now) / 2)
	if at := tok.Expiry.Add(-t.early); at.After(half) {
		return at
	}
	return half
}

// tokenError is a refusal of the token endpoint, described without the
// response body (which x/oauth2's RetrieveError quotes whole).
type tokenError struct {
	host        string
	status      int
	code        string // RFC 6749 error code
	description string // its first line
}

func (e *tokenError) Error() string {
	s := fmt.Sprintf("the token endpoint %s answered HTTP %d", e.host, e.status)
	if e.code != "" {
		s += " " + e.code
	}
	if e.description != "" {
		s += ": " + e.description
	}
	return s
}

// tokenFixes are the refusals that need a person, by RFC 6749 error code:
// the variable to change and how.
var tokenFixes = map[string][2]string{
	"invalid_grant": {"OAUTH_REFRESH_TOKEN", "the refresh token was refused: it expired or was revoked (a changed password, " +
		"consent withdrawn, an admin's sign-out, or months unused). Get a new one as the README describes (Gmail and Microsoft 365 (OAuth))"},
	"invalid_client": {"OAUTH_CLIENT_SECRET", "the token endpoint does not accept this client: check OAUTH_CLIENT_ID and " +
		"OAUTH_CLIENT_SECRET (client secrets expire in Microsoft Entra; make a new one under Certificates & secrets)"},
	"unauthorized_client": {"OAUTH_CLIENT_ID", "the app may not get tokens this way: check the app registration against the README " +
		"(a refresh token belongs to the client it was issued to)"},
	"invalid_scope": {"OAUTH_SCOPES", "the scopes are not granted to the app: leave OAUTH_SCOPES empty for the provider's, " +
		"or grant them in the app registration"},
	"unsupported_grant_type": {"OAUTH_TOKEN_URL", "the endpoint does not issue tokens this way: check OAUTH_TOKEN_URL"},
}

// fail classifies a failure to get a token: a refusal by the endpoint
// needs a person, anything else (the endpoint unreachable, a 5xx, a
// throttling 429) is retried.
func (t *tokens) fail(err error) error {
	e := &ConnError{Server: t.server, Step: "token", Err: err}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		var ue *url.Error
		if errors.As(err, &ue) {
			// "Post <url>: <cause>": the URL holds no secret, but
			// the cause alone reads better.
			e.Err = fmt.Errorf("token endpoint %s: %w", t.host, ue.Err)
		}
		e.Var, e.Fix = netHint(err, "OAUTH_TOKEN_URL", t.host)
		return e
	}
	te := &tokenError{host: t.host, code: re.ErrorCode}
	if re.Response != nil {
		te.status = re.Response.StatusCode
	}
	te.description, _, _ = strings.Cut(strings.TrimSpace(re.ErrorDescription), "\n")
	te.description = strings.TrimSpace(te.description)
	e.Err = te
	fix, known := tokenFixes[te.code]
	switch {
	case strings.Contains(te.description, "AADSTS90002") || strings.Contains(te.description, "AADSTS900023"):
		e.Permanent, e.Var = true, "OAUTH_TENANT"
		e.Fix = "Microsoft does not know this tenant: use the Directory (tenant) ID from the app registration's overview"
	case known:
		e.Permanent, e.Var, e.Fix = true, fix[0], fix[1]
	case te.status == http.StatusBadRequest || te.status == http.StatusUnauthorized || te.status == http.StatusForbidden:
		e.Permanent, e.Var = true, "OAUTH_CLIENT_ID"
		e.Fix = "the token endpoint refused the request: check the OAUTH_* settings against the app registration (README)"
	default:
		e.Var, e.Fix = "OAUTH_TOKEN_URL", "the token endpoint failed; retried automatically"
	}
	return e
}

// oauthRefused is the error for a server that refused a token it was just
// given: not an expiry, so the account or the app's permissions are wrong.
func oauthRefused(server, user string, err error) error {
	v := server + "_USERNAME"
	return &ConnError{Server: server, Step: "login", Permanent: true, Var: v, Err: err,
		Fix: "the server refused a fresh OAuth token for " + v + "=" + user + ": it must be the address of the mailbox the token's " +
			"account may use, and the app needs the " + server + " permission (README: Gmail and Microsoft 365 (OAuth); for " +
			"Microsoft 365 app-only access, the service principal needs access to the mailbox)"}
}

// cleartextToken refuses to send a token without TLS to another host: it
// would be as good as a password to anyone listening.
func cleartextToken(server, mode, addr string) error {
	host, _, _ := net.SplitHostPort(addr)
	if mode != TLSNone || isLoopback(host) {
		return nil
	}
	v := server + "_TLS"
	return &ConnError{Server: server, Step: "login", Permanent: true, Var: v,
		Err: errors.New("an OAuth token would be sent without TLS"),
		Fix: "OAuth needs TLS: set " + v + " to implicit or starttls (none only for a server on this host)"}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// login logs in to the IMAP server with the password, or with an OAuth
// token; renew is when an OAuth session should be renewed (zero: never).
// A token the server refuses is replaced once (it may have expired early,
// or been revoked) before the refusal counts.
func (w *Watcher) login(ctx context.Context, c *imapclient.Client) (renew time.Time, err error) {
	if w.tokens == nil {
		if err := w.timed(c, func() error { return c.Login(w.cfg.Username, w.cfg.Password).Wait() }); err != nil {
			return renew, imapError("login", &w.cfg, fmt.Errorf("login as %s: %w", w.cfg.Username, err))
		}
		return renew, nil
	}
	if err := cleartextToken("IMAP", w.cfg.TLS, w.cfg.Addr); err != nil {
		return renew, err
	}
	var caps imap.CapSet
	if err := w.timed(c, func() error { caps = c.Caps(); return nil }); err != nil || caps == nil {
		return renew, imapError("login", &w.cfg, fmt.Errorf("no capabilities from %s: %w", w.cfg.Addr, cmp.Or(err, net.ErrClosed)))
	}
	mech := tokenMech(caps.AuthMechanisms())
	if mech == "" {
		return renew, &ConnError{Server: "IMAP", Step: "login", Permanent: true, Var: "IMAP_AUTH",
			Err: fmt.Errorf("%s offers neither AUTH=XOAUTH2 nor AUTH=OAUTHBEARER", w.cfg.Addr),
			Fix: "this server takes no OAuth tokens: log in with a password (IMAP_AUTH=password, IMAP_PASSWORD)"}
	}
	for {
		tok, fresh, err := w.tokens.token(ctx)
		if err != nil {
			return renew, err
		}
		sc := newTokenClient(mech, w.cfg.Username, tok.AccessToken)
		err = w.timed(c, func() error { return c.Authenticate(sc) })
		if err == nil {
			return w.tokens.renewAt(tok), nil
		}
		err = fmt.Errorf("%s as %s: %w", mech, w.cfg.Username, err)
		var ie *imap.Error
		refused := sc.refused() || errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo && ie.Code != imap.ResponseCodePrivacyRequired
		switch {
		case !refused:
			return renew, imapError("login", &w.cfg, err)
		case fresh:
			return renew, oauthRefused("IMAP", w.cfg.Username, err)
		}
		w.log.Info("IMAP refused the OAuth token; getting a new one")
		w.tokens.invalidate(tok)
	}
}

// dial connects to the SMTP server and logs in, with an OAuth token where
// configured: a token the server refuses is replaced once before the
// refusal counts. Every session gets a token valid for at least the
// early-refresh margin.
func (s *Sender) dial(ctx context.Context) (*session, func(), error) {
	if s.tokens == nil {
		return s.connect(ctx, "")
	}
	if err := cleartextToken("SMTP", s.cfg.TLS, s.cfg.Addr); err != nil {
		return nil, nil, err
	}
	for {
		tok, fresh, err := s.tokens.token(ctx)
		if err != nil {
			return nil, nil, err
		}
		client, done, err := s.connect(ctx, tok.AccessToken)
		var ce *ConnError
		var te *textproto.Error
		switch {
		case err == nil:
			return client, done, nil
		case errors.Is(err, mail.ErrXOauth2AuthNotSupported) || errors.As(err, &ce) && ce.Var == "SMTP_USERNAME":
			return nil, nil, &ConnError{Server: "SMTP", Step: "login", Permanent: true, Var: "SMTP_AUTH", Err: err,
				Fix: "the server at " + s.cfg.Addr + " offers no XOAUTH2 login: log in with a password (SMTP_AUTH=password, SMTP_PASSWORD)"}
		case !errors.As(err, &te) || (te.Code != 535 && te.Code != 534 && te.Code != 538):
			return nil, nil, err
		case fresh:
			return nil, nil, oauthRefused("SMTP", s.cfg.Username, errors.Unwrap(err))
		}
		s.log.Info("SMTP refused the OAuth token; getting a new one")
		s.tokens.invalidate(tok)
	}
}

// check gets a token, for CheckIMAP and CheckSMTP.
func (t *tokens) check(ctx context.Context) Check {
	name := t.server + " OAuth token from " + t.host
	tok, _, err := t.token(ctx)
	if err != nil {
		return failedCheck(name, err)
	}
	detail := "obtained"
	if !tok.Expiry.IsZero() {
		detail += ", valid for " + time.Until(tok.Expiry).Round(time.Second).String()
	}
	return Check{Name: name, OK: true, Detail: detail}
}

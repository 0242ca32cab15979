package mailbridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/store"
)

// oauthFor is an account's OAuth settings for the token server's client.
func oauthFor(ts *mailtest.TokenServer) *OAuth {
	return &OAuth{TokenURL: ts.URL, ClientID: ts.ClientID, ClientSecret: ts.ClientSecret, RefreshToken: ts.RefreshToken()}
}

func oauthIMAPConfig(srv *mailtest.IMAPServer, ts *mailtest.TokenServer) IMAPConfig {
	cfg := testIMAPConfig(srv)
	cfg.Password, cfg.OAuth = "", oauthFor(ts)
	return cfg
}

func oauthSMTPConfig(srv *mailtest.SMTPServer, ts *mailtest.TokenServer) SMTPConfig {
	cfg := testSMTPConfig(srv.Addr)
	cfg.Username, cfg.OAuth = ts.User, oauthFor(ts)
	return cfg
}

// noSecrets fails the test if any secret the token server knows of (client
// secret, refresh and access tokens) appears in one of texts.
func noSecrets(t testing.TB, ts *mailtest.TokenServer, texts map[string]string) {
	t.Helper()
	for _, secret := range ts.Secrets() {
		for what, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("a secret (%.5s…) appears in %s", secret, what)
			}
		}
	}
}

// oauthLogins are the server's logins by token (the test's own APPENDs
// log in with the password).
func oauthLogins(srv *mailtest.IMAPServer) []string {
	return slices.DeleteFunc(srv.Logins(), func(m string) bool { return m == "LOGIN" })
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recorder is a token endpoint in an http.RoundTripper: it records the
// requests and answers each with answer.
type recorder struct {
	mu     sync.Mutex
	urls   []string
	forms  []url.Values
	basic  []bool // client credentials in the Authorization header
	status int
	body   string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	_, _, basic := req.BasicAuth()
	r.urls, r.forms, r.basic = append(r.urls, req.URL.String()), append(r.forms, form), append(r.basic, basic)
	status, answer := r.status, r.body
	r.mu.Unlock()
	if status == 0 {
		status, answer = 200, `{"access_token":"at-1","token_type":"Bearer","expires_in":3600}`
	}
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Request: req,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(answer))}, nil
}

// The presets ask the right endpoint for the right scopes; Microsoft's
// refresh carries its scopes (x/oauth2's own refresher sends none).
func TestOAuthPresets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     OAuth
		url   string
		grant string
		scope string // "" : none sent
		basic bool   // client credentials as HTTP Basic (RFC 6749's must), else in the form
	}{
		{"google", OAuth{Provider: ProviderGoogle, ClientID: "id", ClientSecret: "s", RefreshToken: "rt"},
			"https://oauth2.googleapis.com/token", "refresh_token", "", false},
		{"microsoft delegated", OAuth{Provider: ProviderMicrosoft, Tenant: "contoso.onmicrosoft.com", ClientID: "id", RefreshToken: "rt"},
			"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", "refresh_token",
			"https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access", false},
		{"microsoft app-only", OAuth{Provider: ProviderMicrosoft, Tenant: "7f3c", ClientID: "id", ClientSecret: "s"},
			"https://login.microsoftonline.com/7f3c/oauth2/v2.0/token", "client_credentials", "https://outlook.office365.com/.default", false},
		{"microsoft own scopes", OAuth{Provider: ProviderMicrosoft, Tenant: "t", ClientID: "id", RefreshToken: "rt",
			Scopes: []string{"https://outlook.office.com/IMAP.AccessAsUser.All"}},
			"https://login.microsoftonline.com/t/oauth2/v2.0/token", "refresh_token", "https://outlook.office.com/IMAP.AccessAsUser.All", false},
		{"own endpoint", OAuth{TokenURL: "https://idp.example.com/oauth/token", ClientID: "id", ClientSecret: "s", RefreshToken: "rt"},
			"https://idp.example.com/oauth/token", "refresh_token", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			tc.o.HTTPClient = &http.Client{Transport: rec}
			tk := newTokens("IMAP", tc.o, discardLog(), nil)
			tok, fresh, err := tk.token(context.Background())
			if err != nil || !fresh || tok.AccessToken != "at-1" {
				t.Fatalf("token: %v, fresh %v, %+v", err, fresh, tok)
			}
			if len(rec.urls) != 1 || rec.urls[0] != tc.url {
				t.Fatalf("requests to %q, want one to %s", rec.urls, tc.url)
			}
			f := rec.forms[0]
			if f.Get("grant_type") != tc.grant || f.Get("scope") != tc.scope || rec.basic[0] != tc.basic || (f.Get("client_id") == "id") == tc.basic {
				t.Errorf("form %v (basic %v), want grant_type %s, scope %q, client_id as Basic %v", f, rec.basic[0], tc.grant, tc.scope, tc.basic)
			}
			if want := tc.o.RefreshToken; f.Get("refresh_token") != want {
				t.Errorf("refresh_token %q, want %q", f.Get("refresh_token"), want)
			}
		})
	}
}

// A token is reused while it is valid for longer than the margin, replaced
// after a server refused it, and refreshed before it expires; a rotated
// refresh token is the one used next.
func TestOAuthTokenLifecycle(t *testing.T) {
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{Lifetime: 5 * time.Second, RotateRefreshTokens: true})
	o := oauthFor(ts)
	o.EarlyRefresh = 3 * time.Second
	tk := newTokens("IMAP", *o, discardLog(), nil)
	ctx := checkCtx(t)
	a, fresh, err := tk.token(ctx)
	if err != nil || !fresh {
		t.Fatalf("first token: %v, fresh %v", err, fresh)
	}
	b, fresh, err := tk.token(ctx)
	if err != nil || fresh || b.AccessToken != a.AccessToken || ts.Grants() != 1 {
		t.Fatalf("second call: %v, fresh %v, same %v, %d grants; want the cached token", err, fresh, b.AccessToken == a.AccessToken, ts.Grants())
	}
	tk.invalidate(a)
	c, fresh, err := tk.token(ctx)
	if err != nil || !fresh || c.AccessToken == a.AccessToken {
		t.Fatalf("after invalidate: %v, fresh %v; want a new token (with the rotated refresh token)", err, fresh)
	}
	tk.invalidate(a) // stale: c stays
	if d, fresh, _ := tk.token(ctx); fresh || d.AccessToken != c.AccessToken {
		t.Errorf("invalidating an old token dropped the current one")
	}
	waitFor(t, 5*time.Second, "the token to enter its margin", func() bool { return time.Until(c.Expiry) < 3*time.Second })
	d, fresh, err := tk.token(ctx)
	if err != nil || !fresh || d.AccessToken == c.AccessToken {
		t.Fatalf("in the margin: %v, fresh %v; want a new token", err, fresh)
	}
	if _, ok := ts.Valid(c.AccessToken); !ok {
		t.Errorf("the old token had expired before it was replaced")
	}
	if ts.Grants() != 3 {
		t.Errorf("%d grants, want 3", ts.Grants())
	}
}

func TestOAuthRenewAt(t *testing.T) {
	tk := newTokens("IMAP", OAuth{TokenURL: "https://x/token", RefreshToken: "rt"}, discardLog(), nil)
	if d := time.Until(tk.renewAt(&oauth2.Token{Expiry: time.Now().Add(time.Hour)})); d < 54*time.Minute || d > 55*time.Minute {
		t.Errorf("an hour's token renewed in %v, want 55 min (5 min early)", d)
	}
	if d := time.Until(tk.renewAt(&oauth2.Token{Expiry: time.Now().Add(2 * time.Minute)})); d < 59*time.Second || d > time.Minute {
		t.Errorf("a 2-minute token renewed in %v, want halfway", d)
	}
	if !tk.renewAt(&oauth2.Token{}).IsZero() {
		t.Errorf("a token without expiry is renewed")
	}
}

// Failures to get a token: a refusal needs a person and names the variable;
// an endpoint that is down is retried. No secret reaches the message.
func TestOAuthTokenErrors(t *testing.T) {
	closed := "http://" + closedAddr(t) + "/token"
	for _, tc := range []struct {
		name      string
		setup     func(ts *mailtest.TokenServer, o *OAuth)
		permanent bool
		fix       string // prefix of Var: Fix
		in        string
	}{
		{"revoked", func(ts *mailtest.TokenServer, o *OAuth) { ts.Revoke() }, true, "OAUTH_REFRESH_TOKEN: ", "invalid_grant"},
		{"wrong secret", func(ts *mailtest.TokenServer, o *OAuth) { o.ClientSecret = "wrong" }, true, "OAUTH_CLIENT_SECRET: ", "HTTP 401 invalid_client"},
		{"bad request", func(ts *mailtest.TokenServer, o *OAuth) { ts.FailNext(400, 400) }, true, "OAUTH_CLIENT_ID: ", "HTTP 400"},
		{"down", func(ts *mailtest.TokenServer, o *OAuth) { ts.FailNext(503, 503) }, false, "OAUTH_TOKEN_URL: ", "HTTP 503"},
		{"throttled", func(ts *mailtest.TokenServer, o *OAuth) { ts.FailNext(429, 429) }, false, "OAUTH_TOKEN_URL: ", "HTTP 429"},
		{"unreachable", func(ts *mailtest.TokenServer, o *OAuth) { o.TokenURL = closed }, false, "OAUTH_TOKEN_URL: nothing accepts", "refused"},
		{"unknown tenant", func(ts *mailtest.TokenServer, o *OAuth) {
			o.HTTPClient = &http.Client{Transport: &recorder{status: 400, body: `{"error":"invalid_request",` +
				`"error_description":"AADSTS90002: Tenant 'contoso' not found.\r\nTrace ID: 5\r\nTimestamp: 2026"}`}}
		}, true, "OAUTH_TENANT: ", "AADSTS90002: Tenant 'contoso' not found."},
	} {
		// A token endpoint of one's own gets a second try with the client
		// credentials in the form after any failure (x/oauth2's
		// auto-detection): hence two statuses for each failure.
		t.Run(tc.name, func(t *testing.T) {
			ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
			o := oauthFor(ts)
			tc.setup(ts, o)
			_, _, err := newTokens("SMTP", *o, discardLog(), nil).token(checkCtx(t))
			var ce *ConnError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a ConnError", err)
			}
			got := ce.Var + ": " + ce.Fix
			if ce.Permanent != tc.permanent || !strings.HasPrefix(got, tc.fix) || !strings.Contains(err.Error(), tc.in) ||
				ce.Server != "SMTP" || ce.Step != "token" {
				t.Errorf("%v (permanent %v, fix %q); want permanent %v, fix %q…, containing %q", err, ce.Permanent, got, tc.permanent, tc.fix, tc.in)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Errorf("error spans lines: %q", err)
			}
			noSecrets(t, ts, map[string]string{"the error": err.Error(), "the fix": got})
		})
	}
}

func TestCleartextToken(t *testing.T) {
	for _, tc := range []struct {
		mode, addr string
		refused    bool
	}{
		{TLSNone, "mail.example.com:143", true},
		{TLSNone, "10.0.0.5:25", true},
		{TLSNone, "127.0.0.1:143", false},
		{TLSNone, "[::1]:143", false},
		{TLSNone, "localhost:25", false},
		{TLSStartTLS, "mail.example.com:587", false},
		{TLSImplicit, "mail.example.com:993", false},
	} {
		err := cleartextToken("IMAP", tc.mode, tc.addr)
		if (err != nil) != tc.refused || tc.refused && (!IsPermanent(err) || !strings.Contains(err.(*ConnError).Var, "IMAP_TLS")) {
			t.Errorf("%s %s: %v, want refused %v (naming IMAP_TLS)", tc.mode, tc.addr, err, tc.refused)
		}
	}
}

// The watcher logs in with a token, by OAUTHBEARER where the server offers
// it (Gmail) and XOAUTH2 where it offers only that (Microsoft 365).
func TestWatcherOAuth(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mechs []string
		want  string
	}{
		{"both offered", nil, "OAUTHBEARER"},
		{"XOAUTH2 only", []string{mailtest.XOAuth2}, "XOAUTH2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewIMAPServer(t)
			ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
			srv.AcceptOAuth(ts, tc.mechs...)
			st := openStore(t)
			log, logs := testLog(t)
			w := NewWatcher(oauthIMAPConfig(srv, ts), st, log)
			runWatcher(t, w)
			waitWatermark(t, st)
			srv.Append(t, "INBOX", customerMail(1, "m1@example.com"))
			waitMailJobs(t, st, 1, 10*time.Second)
			if got := oauthLogins(srv); len(got) != 1 || got[0] != tc.want {
				t.Errorf("logins %q, want one by %s", got, tc.want)
			}
			if ts.Grants() != 1 {
				t.Errorf("%d tokens issued, want 1", ts.Grants())
			}
			noSecrets(t, ts, map[string]string{"the log": logs.String()})
		})
	}
}

// A token the server stops accepting before the client expected (its clock,
// a policy) ends the session; the watcher's next login with the cached
// token is refused, so it gets a new one and goes on importing, without
// counting it a failure.
func TestWatcherOAuthTokenExpiresMidSession(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
	srv.AcceptOAuth(ts)
	st := openStore(t)
	log, logs := testLog(t)
	w := NewWatcher(oauthIMAPConfig(srv, ts), st, log)
	runWatcher(t, w)
	waitWatermark(t, st)
	waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })

	ts.ExpireTokens()
	waitFor(t, 10*time.Second, "the server to end the session", func() bool { return srv.TokenCuts() == 1 })
	srv.Append(t, "INBOX", customerMail(1, "m1@example.com"))
	waitMailJobs(t, st, 1, 10*time.Second)
	if got := oauthLogins(srv); len(got) != 2 {
		t.Errorf("logins %q, want 2", got)
	}
	if ts.Grants() != 2 {
		t.Errorf("%d tokens issued, want 2", ts.Grants())
	}
	if !strings.Contains(logs.String(), "IMAP refused the OAuth token; getting a new one") {
		t.Errorf("the refused token is not logged")
	}
	if n := len(mustSlackJobs(t, st)); n != 1 {
		t.Errorf("%d jobs for Slack, want the mail alone (no notice)", n)
	}
	noSecrets(t, ts, map[string]string{"the log": logs.String()})
}

// A session is renewed before its token expires: the server never has to
// end one, and mail keeps coming in. (The margin is wide: a machine busy
// enough to stall the watcher for seconds would otherwise fail the test.)
func TestWatcherOAuthRenewsBeforeExpiry(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{Lifetime: 8 * time.Second})
	srv.AcceptOAuth(ts, mailtest.XOAuth2)
	st := openStore(t)
	log, logs := testLog(t)
	cfg := oauthIMAPConfig(srv, ts)
	cfg.OAuth.EarlyRefresh = 4 * time.Second
	w := NewWatcher(cfg, st, log)
	runWatcher(t, w)
	waitWatermark(t, st)
	waitFor(t, 15*time.Second, "a second token", func() bool { return ts.Grants() >= 2 })
	srv.Append(t, "INBOX", customerMail(1, "m1@example.com"))
	waitMailJobs(t, st, 1, 10*time.Second)
	if n := srv.TokenCuts(); n != 0 {
		t.Errorf("the server ended %d sessions for an expired token", n)
	}
	if !strings.Contains(logs.String(), "renewing the IMAP session") || strings.Contains(logs.String(), "IMAP session ended") {
		t.Errorf("renewals not logged as such")
	}
	if !w.State().Up {
		t.Errorf("state %+v", w.State())
	}
}

// A revoked grant is one outage: logged at error level, in State with the
// variable to fix, one notice; when access is granted again, it recovers.
func TestWatcherOAuthRevoked(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
	srv.AcceptOAuth(ts)
	st := openStore(t)
	log, logs := testLog(t)
	cfg := oauthIMAPConfig(srv, ts)
	cfg.AuthRetry = 20 * time.Millisecond
	w := NewWatcher(cfg, st, log)
	runWatcher(t, w)
	waitWatermark(t, st)
	waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })

	ts.Revoke()
	waitFor(t, 10*time.Second, "several failed refreshes", func() bool {
		return strings.Count(logs.String(), "Cannot get an OAuth token for IMAP") >= 3
	})
	s := w.State()
	if s.Up || !s.Permanent || !strings.HasPrefix(s.Fix, "OAUTH_REFRESH_TOKEN: ") || !strings.Contains(s.Err, "invalid_grant") {
		t.Errorf("state %+v, want down for good naming OAUTH_REFRESH_TOKEN", s)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("not logged at error level")
	}
	down, up := notices(t, st, "IMAP")
	if len(down) != 1 || len(up) != 0 || !strings.HasPrefix(down[0].Fix, "OAUTH_REFRESH_TOKEN: ") {
		t.Errorf("notices %+v / %+v, want one naming OAUTH_REFRESH_TOKEN", down, up)
	}

	ts.Restore()
	waitFor(t, 10*time.Second, "the watcher to be up again", func() bool { return w.State().Up })
	srv.Append(t, "INBOX", customerMail(1, "m1@example.com"))
	waitFor(t, 10*time.Second, "the mail and the all-clear", func() bool {
		down, up = notices(t, st, "IMAP")
		return len(up) == 1 && len(mailJobs(t, st)) == 1
	})
	if len(down) != 1 {
		t.Errorf("%d notices of the outage, want 1", len(down))
	}
	texts := map[string]string{"the log": logs.String(), "the state": s.Err + s.Fix}
	for _, n := range down {
		texts["the notice"] = n.Problem + n.Error + n.Fix
	}
	noSecrets(t, ts, texts)
}

// notices returns the channel notices about part: outages and all-clears.
func notices(t testing.TB, st *store.Store, part string) (down, up []store.Notice) {
	t.Helper()
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobNotice && j.Notice.Part == part {
			if j.Notice.Resolved {
				up = append(up, *j.Notice)
			} else {
				down = append(down, *j.Notice)
			}
		}
	}
	return down, up
}

// Every SMTP session has a valid token: one past its margin is replaced
// before the next send.
func TestSenderOAuth(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{RequireAuth: true})
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{Lifetime: 2 * time.Second})
	srv.AcceptOAuth(ts)
	st := openStore(t)
	log, logs := testLog(t)
	cfg := oauthSMTPConfig(srv, ts)
	cfg.OAuth.EarlyRefresh = time.Second
	runSender(t, NewSender(cfg, st, log))

	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "One")
	if got := waitSMTP(t, srv, 1); got[0].Authed != ts.User {
		t.Errorf("authenticated as %q, want %q", got[0].Authed, ts.User)
	}
	first := srv.TokensUsed()[0]
	waitFor(t, 5*time.Second, "the first token to expire", func() bool { _, ok := ts.Valid(first); return !ok })
	queueReply(t, st, inboundFrom("carol@example.com", "c2@example.com"), "Alice", "Two")
	waitSMTP(t, srv, 2)
	if used := srv.TokensUsed(); len(used) != 2 || used[1] == first {
		t.Errorf("the second send did not use a new token (%d logins)", len(used))
	}
	if strings.Contains(logs.String(), "refused the OAuth token") || ts.Grants() != 2 {
		t.Errorf("a token was refused, or %d tokens issued: it should have been replaced before, once", ts.Grants())
	}
	noSecrets(t, ts, map[string]string{"the log": logs.String()})
}

// A token the server stops accepting before the client expected (its clock,
// a policy) is replaced, and the reply goes out in the same attempt.
func TestSenderOAuthTokenRefused(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{RequireAuth: true})
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
	srv.AcceptOAuth(ts)
	st := openStore(t)
	log, logs := testLog(t)
	runSender(t, NewSender(oauthSMTPConfig(srv, ts), st, log))
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "One")
	waitSMTP(t, srv, 1)

	ts.ExpireTokens()
	queueReply(t, st, inboundFrom("carol@example.com", "c2@example.com"), "Alice", "Two")
	waitSMTP(t, srv, 2)
	if !strings.Contains(logs.String(), "SMTP refused the OAuth token; getting a new one") {
		t.Errorf("the refused token is not logged")
	}
	if used := srv.TokensUsed(); ts.Grants() != 2 || len(used) != 2 || used[0] == used[1] {
		t.Errorf("%d tokens issued, %d logins; want a second token", ts.Grants(), len(used))
	}
	if strings.Contains(logs.String(), "will retry") || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the refusal counted as a failure")
	}
	noSecrets(t, ts, map[string]string{"the log": logs.String()})
}

// A revoked grant stops replies without failing them: one notice, State
// naming the variable; they go out once access is granted again.
func TestSenderOAuthRevoked(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{RequireAuth: true})
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
	srv.AcceptOAuth(ts)
	ts.Revoke()
	st := openStore(t)
	log, logs := testLog(t)
	cfg := oauthSMTPConfig(srv, ts)
	cfg.RetryBase = 10 * time.Millisecond
	s := NewSender(cfg, st, log)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	runSender(t, s)
	waitFor(t, 10*time.Second, "a few failed refreshes", func() bool {
		return strings.Count(logs.String(), "Cannot get an OAuth token for SMTP") >= 3
	})
	state := s.State()
	if state.Up || !state.Permanent || !strings.HasPrefix(state.Fix, "OAUTH_REFRESH_TOKEN: ") {
		t.Errorf("state %+v", state)
	}
	if down, _ := notices(t, st, "SMTP"); len(down) != 1 {
		t.Errorf("%d notices, want 1", len(down))
	}
	ts.Restore()
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
	if _, up := notices(t, st, "SMTP"); len(up) != 1 || !s.State().Up {
		t.Errorf("%d all-clears, state %+v", len(up), s.State())
	}
	noSecrets(t, ts, map[string]string{"the log": logs.String(), "the state": state.Err + state.Fix})
}

func TestCheckOAuth(t *testing.T) {
	imapSrv := mailtest.NewIMAPServer(t)
	smtpSrv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{RequireAuth: true})
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{})
	imapSrv.AcceptOAuth(ts)
	smtpSrv.AcceptOAuth(ts)

	cs := CheckIMAP(checkCtx(t), oauthIMAPConfig(imapSrv, ts))
	if len(cs) != 5 || !strings.HasPrefix(cs[1].Name, "IMAP OAuth token from 127.0.0.1:") || !strings.Contains(cs[1].Detail, "valid for") {
		t.Fatalf("checks %+v, want connection, token, login, mailbox, IDLE", cs)
	}
	for _, c := range cs {
		if !c.OK {
			t.Errorf("%+v failed", c)
		}
	}
	cs = CheckSMTP(checkCtx(t), oauthSMTPConfig(smtpSrv, ts))
	if len(cs) != 2 || !cs[0].OK || !cs[1].OK || !strings.Contains(cs[1].Detail, "XOAUTH2") {
		t.Errorf("checks %+v, want token and login", cs)
	}
	if n := len(smtpSrv.Messages()); n != 0 {
		t.Errorf("the check sent %d messages", n)
	}

	t.Run("endpoint down", func(t *testing.T) {
		ts.FailNext(503, 503) // x/oauth2 tries the other client authentication after a failure
		c := lastCheck(t, CheckIMAP(checkCtx(t), oauthIMAPConfig(imapSrv, ts)))
		if c.OK || c.Permanent || !strings.Contains(c.Name, "OAuth token") || !strings.HasPrefix(c.Fix, "OAUTH_TOKEN_URL: ") {
			t.Errorf("%+v, want a temporary token failure", c)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		cfg := oauthSMTPConfig(smtpSrv, ts)
		cfg.OAuth.ClientSecret = "wrong"
		cs := CheckSMTP(checkCtx(t), cfg)
		if len(cs) != 1 || cs[0].OK || !cs[0].Permanent || !strings.HasPrefix(cs[0].Fix, "OAUTH_CLIENT_SECRET: ") {
			t.Errorf("%+v, want a permanent token failure naming OAUTH_CLIENT_SECRET", cs)
		}
	})
	t.Run("token for another mailbox", func(t *testing.T) {
		cfg := oauthIMAPConfig(imapSrv, ts)
		cfg.Username = "other@example.test"
		c := lastCheck(t, CheckIMAP(checkCtx(t), cfg))
		if c.OK || !c.Permanent || !strings.Contains(c.Name, "login") || !strings.HasPrefix(c.Fix, "IMAP_USERNAME: ") {
			t.Errorf("%+v, want a permanent login failure naming IMAP_USERNAME", c)
		}
		scfg := oauthSMTPConfig(smtpSrv, ts)
		scfg.Username = "other@example.test"
		c = lastCheck(t, CheckSMTP(checkCtx(t), scfg))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SMTP_USERNAME: ") {
			t.Errorf("%+v, want a permanent login failure naming SMTP_USERNAME", c)
		}
	})
	t.Run("server without OAuth", func(t *testing.T) {
		c := lastCheck(t, CheckIMAP(checkCtx(t), oauthIMAPConfig(mailtest.NewIMAPServer(t), ts)))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "IMAP_AUTH: ") {
			t.Errorf("%+v, want a permanent failure naming IMAP_AUTH", c)
		}
		c = lastCheck(t, CheckSMTP(checkCtx(t), oauthSMTPConfig(mailtest.NewSMTPServer(t), ts)))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "SMTP_AUTH: ") {
			t.Errorf("%+v, want a permanent failure naming SMTP_AUTH", c)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		ts.Revoke()
		c := lastCheck(t, CheckIMAP(checkCtx(t), oauthIMAPConfig(imapSrv, ts)))
		if c.OK || !c.Permanent || !strings.HasPrefix(c.Fix, "OAUTH_REFRESH_TOKEN: ") || !strings.Contains(c.Detail, "invalid_grant") {
			t.Errorf("%+v, want a permanent failure naming OAUTH_REFRESH_TOKEN", c)
		}
	})
}

// A provider that rotates refresh tokens retires the configured one at the
// first refresh: the rotated token is kept in the store, so a restart still
// gets tokens; a newly configured token is used as given.
func TestOAuthRotatedRefreshTokenSurvivesRestart(t *testing.T) {
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{RotateRefreshTokens: true})
	st := openStore(t)
	o := *oauthFor(ts)
	ctx := checkCtx(t)
	if _, _, err := newTokens("IMAP", o, discardLog(), st).token(ctx); err != nil {
		t.Fatal(err)
	}
	// Restarted with the same configuration: the configured token is dead.
	if _, _, err := newTokens("IMAP", o, discardLog(), nil).token(ctx); err == nil {
		t.Fatal("the configured refresh token still works: the test proves nothing")
	}
	if _, _, err := newTokens("IMAP", o, discardLog(), st).token(ctx); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	// The operator configures a new token (say after a revocation).
	o.RefreshToken = ts.Reissue()
	if _, _, err := newTokens("IMAP", o, discardLog(), st).token(ctx); err != nil {
		t.Fatalf("with a newly configured token: %v", err)
	}
}

// IMAP and SMTP of one inbox share one refresh token (the environment form
// names it once). With a provider that retires a refresh token when it
// issues the next, the account that refreshes second must go on from the
// token the first one got, not fail with invalid_grant.
func TestOAuthSharedGrantWithRotation(t *testing.T) {
	ts := mailtest.NewTokenServer(t, mailtest.TokenOptions{RotateRefreshTokens: true})
	st := openStore(t)
	o := *oauthFor(ts)
	imap, smtp := newTokens("IMAP", o, discardLog(), st), newTokens("SMTP", o, discardLog(), st)
	ctx := checkCtx(t)
	for i, tk := range []*tokens{imap, smtp, smtp, imap} {
		tk.cur.AccessToken, tk.cur.Expiry = "", time.Time{} // force a refresh each time
		if _, _, err := tk.token(ctx); err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
}

package mailtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenOptions configures NewTokenServer.
type TokenOptions struct {
	// Lifetime of the access tokens issued (default an hour). The token
	// endpoint reports it in whole seconds (expires_in, rounded up); the
	// servers that accept the tokens enforce it exactly.
	Lifetime time.Duration
	// User is the account the tokens are for (default the IMAP server's
	// user, bot@example.test).
	User string
	// RotateRefreshTokens makes each refresh issue a new refresh token and
	// retire the one it was made with, as some providers do: a client must
	// use the newest.
	RotateRefreshTokens bool
}

// TokenServer is a local OAuth2 token endpoint (RFC 6749 section 5, on
// httptest) for one client and one user: it answers the refresh_token grant
// for RefreshToken and the client_credentials grant, accepting the client's
// credentials in the form or as HTTP Basic, and issues short-lived access
// tokens that IMAPServer and SMTPServer accept once AcceptOAuth is called.
// Refusals come as the RFC's JSON errors with status 400 (invalid_grant)
// or 401 (invalid_client).
type TokenServer struct {
	URL          string // the token endpoint, http://127.0.0.1:port/token
	ClientID     string
	ClientSecret string
	User         string

	srv  *httptest.Server
	opts TokenOptions

	mu       sync.Mutex
	refresh  string               // the refresh token that works now ("" when revoked)
	current  string               // the refresh token to hand out (RefreshToken)
	tokens   map[string]time.Time // access token → expiry
	grants   int
	requests int
	fails    []int    // statuses for the next requests
	scopes   []string // of the last request
	issued   []string // every access and refresh token ever issued
	changed  broadcast
}

// NewTokenServer starts a token endpoint; it is closed by t.Cleanup.
func NewTokenServer(t testing.TB, o TokenOptions) *TokenServer {
	t.Helper()
	if o.Lifetime <= 0 {
		o.Lifetime = time.Hour
	}
	if o.User == "" {
		o.User = "bot@example.test"
	}
	s := &TokenServer{
		ClientID: "client-" + randomHex(4), ClientSecret: "secret-" + randomHex(8), User: o.User,
		opts: o, tokens: map[string]time.Time{},
	}
	s.refresh = "rt-" + randomHex(12)
	s.current = s.refresh
	s.issued = append(s.issued, s.refresh, s.ClientSecret)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/token"
	t.Cleanup(s.srv.Close)
	return s
}

// RefreshToken is the refresh token a client should be configured with:
// the one issued at start, or by Reissue.
func (s *TokenServer) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Grants is how many access tokens have been issued.
func (s *TokenServer) Grants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants
}

// Requests is how many requests the endpoint has answered, failed ones
// included.
func (s *TokenServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Scopes are those of the last request (its scope parameter).
func (s *TokenServer) Scopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.scopes...)
}

// Secrets lists every secret the server knows of: the client secret and
// each refresh and access token issued, for tests that check none leaks.
func (s *TokenServer) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Revoke withdraws the grant, as a user removing the app's access or an
// admin signing the account out does: the refresh token is refused
// (invalid_grant) and every access token issued stops working, so
// sessions logged in with one are ended.
func (s *TokenServer) Revoke() {
	s.mu.Lock()
	s.refresh = ""
	clear(s.tokens)
	s.mu.Unlock()
	s.changed.notify()
}

// Reissue grants access again with a new refresh token (what a person does
// after a revocation) and returns it.
func (s *TokenServer) Reissue() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = "rt-" + randomHex(12)
	s.current = s.refresh
	s.issued = append(s.issued, s.refresh)
	return s.refresh
}

// Restore makes the refresh token that was revoked work again.
func (s *TokenServer) Restore() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh = s.current
}

// ExpireTokens makes every access token issued so far expire now, earlier
// than the client was told (the server's clock, or a policy, decides):
// sessions logged in with one are ended and the tokens are refused.
func (s *TokenServer) ExpireTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
	s.changed.notify()
}

// FailNext makes the next requests fail with the given HTTP statuses, in
// order (503: the endpoint is down).
func (s *TokenServer) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails = append(s.fails, statuses...)
}

// Valid reports whether token is an access token of this server that has
// not expired, and until when it is valid.
func (s *TokenServer) Valid(token string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[token]
	return exp, ok && time.Now().Before(exp)
}

// watch returns a channel closed at the next Revoke or ExpireTokens.
func (s *TokenServer) watch() <-chan struct{} { return s.changed.wait() }

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if len(s.fails) > 0 {
		status := s.fails[0]
		s.fails = s.fails[1:]
		http.Error(w, http.StatusText(status), status)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "unparsable form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.ClientID || secret != s.ClientSecret {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1")
		return
	}
	s.scopes = strings.Fields(r.PostForm.Get("scope"))
	resp := map[string]any{"token_type": "Bearer", "expires_in": int((s.opts.Lifetime + time.Second - 1) / time.Second)}
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		if s.refresh == "" || r.PostForm.Get("refresh_token") != s.refresh {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "AADSTS70008: The refresh token has expired or is invalid.\r\nTrace ID: 2")
			return
		}
		if s.opts.RotateRefreshTokens {
			s.refresh = "rt-" + randomHex(12)
			s.current = s.refresh
			s.issued = append(s.issued, s.refresh)
			resp["refresh_token"] = s.refresh
		}
	case "client_credentials":
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	tok := "at-" + randomHex(16)
	s.tokens[tok] = time.Now().Add(s.opts.Lifetime)
	s.issued = append(s.issued, tok)
	s.grants++
	resp["access_token"] = tok
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

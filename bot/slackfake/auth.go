package slackfake

import (
	"slices"
	"strings"
)

// DefaultScopes are the bot scopes the fake reports in X-OAuth-Scopes
// until SetScopes changes them: those inboxbot's manifest asks for.
var DefaultScopes = []string{
	"chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
	"reactions:read", "reactions:write", "files:read", "files:write", "users:read", "commands", "chat:write.customize",
}

// authState is the fake's view of the tokens (guarded by Server.mu).
type authState struct {
	botErr string // answer to every bot-token call ("" = token works)
	appErr string // answer to apps.connections.open ("" = token works)
	scopes []string
	custom bool // SetScopes was called
}

// RejectBotToken makes every call with the bot token answer
// {"ok":false,"error":code}, auth.test included: "invalid_auth" for a wrong
// token, "token_revoked" for one revoked while the bot runs. "" restores it.
func (s *Server) RejectBotToken(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.botErr = code
	s.notifyLocked()
}

// RejectAppToken makes apps.connections.open answer code ("invalid_auth",
// say); "" restores it. Open sockets are left alone: see RevokeAppToken.
func (s *Server) RejectAppToken(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.appErr = code
	s.notifyLocked()
}

// RevokeAppToken does what Slack does when the app-level token is revoked
// while connected: apps.connections.open answers token_revoked, and the
// open socket gets a "disconnect" (reason link_disabled), after which the
// client's reconnection fails.
func (s *Server) RevokeAppToken() {
	s.RejectAppToken("token_revoked")
	s.SendDisconnect("link_disabled")
}

// SetScopes sets the scopes listed in the X-OAuth-Scopes header of answers
// to bot-token calls (DefaultScopes until called).
func (s *Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auth.scopes, s.auth.custom = append([]string(nil), scopes...), true
}

// hasScopeLocked reports whether the bot token has scope.
func (s *Server) hasScopeLocked(scope string) bool {
	scopes := DefaultScopes
	if s.auth.custom {
		scopes = s.auth.scopes
	}
	return slices.Contains(scopes, scope)
}

// authCheck answers a call whose token is missing, wrong or rejected;
// refused is false when the call may go on.
func (s *Server) authCheck(method, tok string) (a answer, refused bool) {
	want := BotToken
	if method == "apps.connections.open" {
		want = AppToken
	}
	switch {
	case tok == "":
		return errAnswer("not_authed"), true
	case tok != want:
		if method == "apps.connections.open" && tok == BotToken {
			return errAnswer("not_allowed_token_type"), true
		}
		return errAnswer("invalid_auth"), true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	code := s.auth.botErr
	if method == "apps.connections.open" {
		code = s.auth.appErr
	}
	if code != "" {
		return errAnswer(code), true
	}
	return answer{}, false
}

// withScopes adds X-OAuth-Scopes to an answer to a bot-token call, as
// Slack does.
func (s *Server) withScopes(method string, a answer) answer {
	if method == "apps.connections.open" {
		return a
	}
	s.mu.Lock()
	scopes := DefaultScopes
	if s.auth.custom {
		scopes = s.auth.scopes
	}
	s.mu.Unlock()
	h := map[string]string{"X-OAuth-Scopes": strings.Join(scopes, ",")}
	for k, v := range a.header {
		h[k] = v
	}
	a.header = h
	return a
}

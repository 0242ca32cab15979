package mailtest

import (
	"bytes"
	"strings"

	"github.com/emersion/go-sasl"
)

// XOAuth2 is the SASL mechanism of Google and Microsoft for OAuth tokens.
const XOAuth2 = "XOAUTH2"

// tokenCheck accepts user's token or returns the protocol's refusal.
type tokenCheck func(user, token string) error

// xoauth2Server is the server side of XOAUTH2: one response
// "user=U\x01auth=Bearer T\x01\x01". A refused token gets a JSON error
// challenge, which the client answers with an empty response; then the
// exchange fails.
type xoauth2Server struct {
	check  tokenCheck
	failed error
}

// xoauth2Refusal is what Gmail sends for a token it does not accept.
var xoauth2Refusal = []byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`)

func (a *xoauth2Server) Next(resp []byte) (challenge []byte, done bool, err error) {
	if a.failed != nil {
		return nil, true, a.failed
	}
	if resp == nil { // no initial response: ask for it
		return []byte{}, false, nil
	}
	user, token, ok := parseXOAuth2(resp)
	if !ok {
		a.failed = sasl.ErrUnexpectedClientResponse
		return xoauth2Refusal, false, nil
	}
	if err := a.check(user, token); err != nil {
		a.failed = err
		return xoauth2Refusal, false, nil
	}
	return nil, true, nil
}

func parseXOAuth2(resp []byte) (user, token string, ok bool) {
	if !bytes.HasSuffix(resp, []byte("\x01\x01")) {
		return "", "", false
	}
	fields := strings.Split(string(resp[:len(resp)-2]), "\x01")
	if len(fields) != 2 {
		return "", "", false
	}
	user, okUser := strings.CutPrefix(fields[0], "user=")
	auth, okAuth := strings.CutPrefix(fields[1], "auth=")
	scheme, token, okToken := strings.Cut(auth, " ")
	if !okUser || !okAuth || !okToken || !strings.EqualFold(scheme, "Bearer") || user == "" || token == "" {
		return "", "", false
	}
	return user, token, true
}

// oauthBearerServer is go-sasl's OAUTHBEARER server with check deciding,
// and its refusal reported as fail (go-sasl's own error would reach the
// client as an internal server error).
func oauthBearerServer(check tokenCheck, fail error) sasl.Server {
	return &mappedServer{Server: sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if err := check(o.Username, o.Token); err != nil {
			return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
		}
		return nil
	}), fail: fail}
}

type mappedServer struct {
	sasl.Server
	fail error
}

func (m *mappedServer) Next(resp []byte) ([]byte, bool, error) {
	challenge, done, err := m.Server.Next(resp)
	if err != nil {
		return nil, true, m.fail
	}
	return challenge, done, nil
}

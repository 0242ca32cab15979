package mailbridge

import (
	"errors"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"
)

// XOAuth2 is the name of Google's and Microsoft's bearer-token SASL
// mechanism.
const XOAuth2 = "XOAUTH2"

// tokenClient is a SASL client that logs in with an OAuth token and
// remembers whether the server refused it.
type tokenClient interface {
	sasl.Client
	refused() bool
}

// newTokenClient returns the SASL client for mech (XOAuth2 or
// sasl.OAuthBearer).
func newTokenClient(mech, user, token string) tokenClient {
	if mech == sasl.OAuthBearer {
		return &oauthBearer{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token})}
	}
	return &xoauth2{user: user, token: token}
}

// tokenMech picks the mechanism among those a server advertises: the
// standard OAUTHBEARER (RFC 7628) where offered, else XOAUTH2, which
// Microsoft 365 offers alone; "" when neither is.
func tokenMech(offered []string) string {
	has := func(m string) bool {
		return slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) })
	}
	switch {
	case has(sasl.OAuthBearer):
		return sasl.OAuthBearer
	case has(XOAuth2):
		return XOAuth2
	}
	return ""
}

// xoauth2 is the XOAUTH2 client, which go-sasl lacks
// (https://developers.google.com/gmail/imap/xoauth2-protocol).
type xoauth2 struct {
	user, token string
	refusal     []byte // the server's error challenge
}

func (a *xoauth2) Start() (string, []byte, error) {
	return XOAuth2, []byte("user=" + a.user + "\x01auth=Bearer " + a.token + "\x01\x01"), nil
}

// Next answers the one challenge XOAUTH2 has, the server's refusal (a
// JSON status), with the empty response the protocol asks for; the server
// then ends the exchange with NO. Returning an error instead would leave
// the command unanswered in go-imap's client.
func (a *xoauth2) Next(challenge []byte) ([]byte, error) {
	if a.refusal != nil {
		return nil, errors.New("XOAUTH2: unexpected challenge after the refusal")
	}
	a.refusal = append([]byte{}, challenge...)
	return []byte{}, nil
}

func (a *xoauth2) refused() bool { return a.refusal != nil }

// oauthBearer is go-sasl's OAUTHBEARER client answering a refusal the way
// RFC 7628 (3.2.3) says, with a single 0x01, instead of with an error
// (which would leave the command unanswered in go-imap's client).
type oauthBearer struct {
	sasl.Client
	refusal []byte
}

func (a *oauthBearer) Next(challenge []byte) ([]byte, error) {
	if a.refusal != nil {
		return nil, errors.New("OAUTHBEARER: unexpected challenge after the refusal")
	}
	a.refusal = append([]byte{}, challenge...)
	return []byte{0x01}, nil
}

func (a *oauthBearer) refused() bool { return a.refusal != nil }

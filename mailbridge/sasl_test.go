package mailbridge

import (
	"bytes"
	"testing"

	"github.com/emersion/go-sasl"
)

func TestXOAuth2Client(t *testing.T) {
	for _, tc := range []struct {
		user, token, want string
	}{
		{"support@acme.com", "ya29.a0AfH6", "user=support@acme.com\x01auth=Bearer ya29.a0AfH6\x01\x01"},
		{"Support@Acme.COM", "eyJ0eXAi.eyJhdWQi.sig-_=", "user=Support@Acme.COM\x01auth=Bearer eyJ0eXAi.eyJhdWQi.sig-_=\x01\x01"},
		{"", "t", "user=\x01auth=Bearer t\x01\x01"},
	} {
		c := newTokenClient(XOAuth2, tc.user, tc.token)
		mech, ir, err := c.Start()
		if err != nil || mech != "XOAUTH2" || string(ir) != tc.want {
			t.Errorf("Start(%q, %q) = %q, %q, %v; want XOAUTH2, %q", tc.user, tc.token, mech, ir, err, tc.want)
		}
		if c.refused() {
			t.Errorf("refused before any challenge")
		}
		// A refusal is a JSON challenge, answered with an empty response.
		resp, err := c.Next([]byte(`{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}`))
		if err != nil || resp == nil || len(resp) != 0 || !c.refused() {
			t.Errorf("Next(refusal) = %q, %v, refused %v; want an empty response", resp, err, c.refused())
		}
		if _, err := c.Next([]byte("again")); err == nil {
			t.Errorf("a second challenge was answered")
		}
	}
}

func TestOAuthBearerClient(t *testing.T) {
	c := newTokenClient(sasl.OAuthBearer, "support@acme.com", "tok")
	mech, ir, err := c.Start()
	if want := "n,a=support@acme.com,\x01auth=Bearer tok\x01\x01"; err != nil || mech != sasl.OAuthBearer || string(ir) != want {
		t.Errorf("Start = %q, %q, %v; want %q", mech, ir, err, want)
	}
	resp, err := c.Next([]byte(`{"status":"invalid_token","schemes":"bearer"}`))
	if err != nil || !bytes.Equal(resp, []byte{1}) || !c.refused() {
		t.Errorf("Next(refusal) = %q, %v; want the single 0x01 of RFC 7628", resp, err)
	}
}

func TestTokenMech(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, "OAUTHBEARER"}, // Gmail
		{[]string{"PLAIN", "XOAUTH2"}, "XOAUTH2"},                    // Microsoft 365
		{[]string{"xoauth2"}, "XOAUTH2"},
		{[]string{"PLAIN", "LOGIN"}, ""},
		{nil, ""},
	} {
		if got := tokenMech(tc.offered); got != tc.want {
			t.Errorf("tokenMech(%q) = %q, want %q", tc.offered, got, tc.want)
		}
	}
}

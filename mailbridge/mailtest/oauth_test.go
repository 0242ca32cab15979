package mailtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseXOAuth2(t *testing.T) {
	for _, tc := range []struct {
		resp, user, token string
		ok                bool
	}{
		{"user=a@b.c\x01auth=Bearer tok\x01\x01", "a@b.c", "tok", true},
		{"user=a@b.c\x01auth=bearer tok\x01\x01", "a@b.c", "tok", true},
		{"user=a@b.c\x01auth=Bearer tok\x01", "", "", false},
		{"user=a@b.c\x01auth=Basic tok\x01\x01", "", "", false},
		{"user=\x01auth=Bearer tok\x01\x01", "", "", false},
		{"auth=Bearer tok\x01user=a@b.c\x01\x01", "", "", false},
		{"user=a@b.c\x01auth=Bearer \x01\x01", "", "", false},
		{"", "", "", false},
	} {
		user, token, ok := parseXOAuth2([]byte(tc.resp))
		if user != tc.user || token != tc.token || ok != tc.ok {
			t.Errorf("parseXOAuth2(%q) = %q, %q, %v", tc.resp, user, token, ok)
		}
	}
}

func TestTokenServer(t *testing.T) {
	ts := NewTokenServer(t, TokenOptions{Lifetime: 1500 * time.Millisecond, RotateRefreshTokens: true})
	post := func(form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := http.PostForm(ts.URL, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	refresh := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {ts.ClientID},
			"client_secret": {ts.ClientSecret}, "scope": {"a b"}}
	}
	first := ts.RefreshToken()
	status, body := post(refresh(first))
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" || body["expires_in"] != 2.0 || body["refresh_token"] == first {
		t.Fatalf("refresh: %d %v; want a token for 2 s (rounded up) and a new refresh token", status, body)
	}
	if exp, ok := ts.Valid(tok); !ok || time.Until(exp) > 1500*time.Millisecond {
		t.Errorf("token valid %v until %v", ok, exp)
	}
	if got := strings.Join(ts.Scopes(), " "); got != "a b" {
		t.Errorf("scopes %q", got)
	}
	if status, body := post(refresh(first)); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("the retired refresh token: %d %v, want invalid_grant", status, body)
	}
	bad := refresh(ts.RefreshToken())
	bad.Set("client_secret", "wrong")
	if status, body := post(bad); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("a wrong secret: %d %v, want invalid_client", status, body)
	}
	cc := url.Values{"grant_type": {"client_credentials"}, "client_id": {ts.ClientID}, "client_secret": {ts.ClientSecret}}
	if status, _ := post(cc); status != 200 {
		t.Errorf("client credentials: %d", status)
	}
	ts.Revoke()
	if _, ok := ts.Valid(tok); ok {
		t.Errorf("a token survived the revocation")
	}
	if status, body := post(refresh(ts.RefreshToken())); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("after Revoke: %d %v, want invalid_grant", status, body)
	}
	ts.Restore()
	if status, _ := post(refresh(ts.RefreshToken())); status != 200 {
		t.Errorf("after Restore: %d", status)
	}
	if ts.Grants() != 3 || ts.Requests() != 6 {
		t.Errorf("%d grants in %d requests, want 3 in 6", ts.Grants(), ts.Requests())
	}
}

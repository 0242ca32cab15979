package main

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inboxbot/inboxbot/store"
)

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

package bot

import (
	"fmt"
	netmail "net/mail"
	"strings"

	"github.com/inboxbot/inboxbot/store"
)

// A reply may start with lines that change who it goes to, for this reply
// only:
//
//	to: Pat <pat@example.com>        instead of the conversation's reply address
//	cc: dan@example.com, -old@example.com, +new@example.com
//
// An address without a sign is added to Cc, one with "-" is taken out. The
// lines are not part of the mail. An address that does not parse refuses
// the whole reply: nothing is sent that its author did not mean.

// parseRecipients splits a reply's plain text into its recipient lines and
// its body. bad, when not empty, says what is wrong.
func parseRecipients(text string) (body string, r store.Recipients, bad string) {
	lines := strings.Split(text, "\n")
	i := 0
	for ; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		field, value, ok := strings.Cut(line, ":")
		if !ok {
			break
		}
		switch strings.ToLower(strings.TrimSpace(field)) {
		case "to":
			as, err := netmail.ParseAddressList(value)
			switch {
			case err != nil:
				return "", r, fmt.Sprintf("`to: %s` is not an email address (%v)", strings.TrimSpace(value), err)
			case len(as) != 1:
				return "", r, "`to:` takes one address; put the others in `cc:`"
			}
			r.To = &store.Address{Name: as[0].Name, Addr: as[0].Address}
		case "cc":
			for _, item := range strings.Split(value, ",") {
				item = strings.TrimSpace(item)
				if item == "" {
					continue
				}
				remove := strings.HasPrefix(item, "-")
				a, err := netmail.ParseAddress(strings.TrimSpace(strings.TrimLeft(item, "+-")))
				if err != nil {
					return "", r, fmt.Sprintf("`%s` in `cc:` is not an email address (%v)", item, err)
				}
				if remove {
					r.NoCc = append(r.NoCc, a.Address)
				} else {
					r.Cc = append(r.Cc, store.Address{Name: a.Name, Addr: a.Address})
				}
			}
		case "bcc":
			return "", r, "`bcc:` is not supported: a reply goes to the people it shows"
		default:
			return strings.TrimSpace(strings.Join(lines[i:], "\n")), r, ""
		}
	}
	return strings.TrimSpace(strings.Join(lines[i:], "\n")), r, ""
}

// parseAddress reads one address typed in a command (Slack sends an email
// address as a mailto link).
func parseAddress(s string) (store.Address, error) {
	a, err := netmail.ParseAddress(slackToPlain(s, func(string) string { return "" }))
	if err != nil {
		return store.Address{}, fmt.Errorf("`%s` is not an email address", escape(s))
	}
	return store.Address{Name: a.Name, Addr: a.Address}, nil
}

// signed appends the inbox's signature, if it has one, below the
// standard signature separator.
func signed(in *Inbox, text, agent string) string {
	if in == nil || strings.TrimSpace(in.Signature) == "" {
		return text
	}
	sig := "-- \n" + strings.ReplaceAll(in.Signature, "{agent}", agent)
	if text == "" {
		return sig // a reply of files only
	}
	return text + "\n\n" + sig
}

// recipientsLine says whom a mail goes to.
func recipientsLine(to store.Address, cc []store.Address) string {
	s := "To: " + to.String()
	if len(cc) > 0 {
		var parts []string
		for _, a := range cc {
			parts = append(parts, a.String())
		}
		s += " · Cc: " + strings.Join(parts, ", ")
	}
	return s
}

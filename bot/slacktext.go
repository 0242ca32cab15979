package bot

import (
	"context"
	"strings"
)

// isNote reports whether a thread reply is an internal note: it starts with
// "note:" (any case) or "//". Leading white space and Slack's bold/italic
// markers are ignored, so "*Note:*" is a note too: a slip towards "internal"
// is cheap, one towards the customer is not.
func isNote(text string) bool {
	t := strings.TrimLeft(text, " \t\n*_~")
	return strings.HasPrefix(strings.ToLower(t), "note:") || strings.HasPrefix(t, "//")
}

// slackToPlain turns a Slack message's text into the plain text of an email:
// mentions become names, links "label (url)", escapes are undone.
func slackToPlain(text string, userName func(id string) string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(text, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(text[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(unescape(text[:i]))
		b.WriteString(slackToken(text[i+1:i+j], userName))
		text = text[i+j+1:]
	}
	b.WriteString(unescape(text))
	return strings.TrimSpace(b.String())
}

func slackToken(tok string, userName func(id string) string) string {
	target, label, hasLabel := strings.Cut(tok, "|")
	label = unescape(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if name := userName(target[1:]); name != "" {
			return "@" + name
		}
		if hasLabel {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return target
	case strings.HasPrefix(target, "#"):
		if hasLabel {
			return "#" + label
		}
		return target
	case strings.HasPrefix(target, "!"):
		if hasLabel {
			return label
		}
		name, _, _ := strings.Cut(target[1:], "^")
		return "@" + name
	}
	target = unescape(target)
	if strings.HasPrefix(target, "mailto:") {
		target = strings.TrimPrefix(target, "mailto:")
	}
	if !hasLabel || label == target || strings.TrimPrefix(strings.TrimPrefix(target, "https://"), "http://") == label {
		return target
	}
	return label + " (" + target + ")"
}

func unescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// plainText is a message's Slack text as plain text, mentions as names.
func (b *Bot) plainText(ctx context.Context, text string) string {
	return slackToPlain(text, func(id string) string { return b.userName(ctx, id) })
}

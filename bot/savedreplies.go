package bot

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Saved replies: /inbox replies lists an inbox's; add, edit and remove
// change them. Typed in an inbox's channel they are that inbox's;
// elsewhere, those of the inbox whose channel the user is in (with
// several, they are asked to type it in the right channel). Only members
// of an inbox's channel see or change its saved replies. The composer
// offers them; picking one fills in its placeholders.

// Placeholders of saved replies.
const placeholders = "{customer} (the customer's name), {customer_first} (their first name), {agent} (your name), {number} (the conversation's number)"

// savedName is what a saved reply's name may be: one word.
var savedName = regexp.MustCompile(`^[\p{L}\p{N}._-]{1,30}$`)

// maxSavedText leaves room in the composer's editor for what the
// placeholders become.
const maxSavedText = 2500

// fillSaved replaces a saved reply's placeholders for conversation c,
// written by agent.
func fillSaved(text string, c *store.Conversation, agent string) string {
	to := replyAddr(c)
	full := firstNonEmpty(to.Name, c.Customer.Name)
	first := full
	if before, after, ok := strings.Cut(full, ","); ok && strings.TrimSpace(after) != "" {
		first = after // "Doe, Jane"
		full = strings.TrimSpace(after) + " " + strings.TrimSpace(before)
	}
	if f := strings.Fields(first); len(f) > 0 {
		first = f[0]
	}
	if full == "" {
		full, first = to.Addr, to.Addr
	}
	return strings.NewReplacer(
		"{customer}", full, "{customer_first}", first, "{agent}", agent, "{number}", convValue(c.Num),
	).Replace(text)
}

// restAfter is text without its first n words, line breaks inside kept.
func restAfter(text string, n int) string {
	s := text
	for range n {
		s = strings.TrimLeft(s, " \t\n")
		i := strings.IndexAny(s, " \t\n")
		if i < 0 {
			return ""
		}
		s = s[i:]
	}
	return strings.TrimSpace(s)
}

// repliesCommand answers /inbox replies [add NAME TEXT | edit NAME TEXT | remove NAME].
func (b *Bot) repliesCommand(ctx context.Context, cmd slack.SlashCommand, args []string) (string, error) {
	inboxes, err := b.scope(ctx, cmd.UserID, cmd.ChannelID)
	if err != nil {
		return "", err
	}
	if len(inboxes) == 0 {
		if b.byChannel[cmd.ChannelID] != nil {
			return refusal(cmd.ChannelID), nil
		}
		return refusal(), nil
	}
	if len(args) == 1 {
		return b.savedList(inboxes)
	}
	op := strings.ToLower(args[1])
	want := map[string]int{"add": 4, "edit": 4, "remove": 3}[op]
	if want == 0 || len(args) < want || (op == "remove" && len(args) != want) {
		return usageOf("replies"), nil
	}
	if len(inboxes) > 1 {
		var chans []string
		for _, in := range inboxes {
			chans = append(chans, "<#"+in.Channel+">")
		}
		return fmt.Sprintf("Which inbox? Type it in that inbox's channel: %s.", strings.Join(chans, ", ")), nil
	}
	in := inboxes[0]
	name := args[2]
	if !savedName.MatchString(name) {
		return fmt.Sprintf("`%s` cannot be a name: one word of letters, digits, `.`, `-` or `_`, at most 30. %s",
			escape(cut(name, 40)), usageOf("replies")), nil
	}
	if op == "remove" {
		err := b.st.RemoveSavedReply(in.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Sprintf("%s has no saved reply `%s`.", escape(in.Name), name), nil
		} else if err != nil {
			return "", err
		}
		b.log.Info("saved reply removed", "inbox", in.ID, "name", name, "by", cmd.UserID)
		return fmt.Sprintf("Removed the saved reply `%s` of %s.", name, escape(in.Name)), nil
	}
	text := b.plainText(ctx, restAfter(cmd.Text, 3))
	if n := utf8.RuneCountInString(text); n > maxSavedText {
		return fmt.Sprintf("That text has %d characters; a saved reply has at most %d.", n, maxSavedText), nil
	}
	if op == "add" {
		err = b.st.AddSavedReply(in.ID, store.SavedReply{Name: name, Text: text, By: cmd.UserID})
	} else {
		err = b.st.EditSavedReply(in.ID, name, text, cmd.UserID)
	}
	switch {
	case errors.Is(err, store.ErrExists):
		return fmt.Sprintf("%s has a saved reply `%s` already: `/inbox replies edit %s TEXT` changes it.", escape(in.Name), name, name), nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Sprintf("%s has no saved reply `%s`: `/inbox replies add %s TEXT` adds it.", escape(in.Name), name, name), nil
	case errors.Is(err, store.ErrTooMany):
		return fmt.Sprintf("%s has %d saved replies, as many as it may: remove one first.", escape(in.Name), store.MaxSavedReplies), nil
	case err != nil:
		return "", err
	}
	b.log.Info("saved reply written", "op", op, "inbox", in.ID, "name", name, "by", cmd.UserID)
	verb := map[string]string{"add": "Saved", "edit": "Changed"}[op]
	return fmt.Sprintf("%s the reply `%s` of %s. The Reply button on a card offers it.", verb, name, escape(in.Name)), nil
}

// savedList lists the saved replies of inboxes.
func (b *Bot) savedList(inboxes []*Inbox) (string, error) {
	var out []string
	for _, in := range inboxes {
		rs, err := b.st.SavedReplies(in.ID)
		if err != nil {
			return "", err
		}
		if len(rs) == 0 {
			out = append(out, fmt.Sprintf("*%s* has no saved replies.", escape(in.Name)))
			continue
		}
		lines := []string{fmt.Sprintf("*Saved replies of %s* (%d):", escape(in.Name), len(rs))}
		for _, r := range rs {
			first, _, _ := strings.Cut(r.Text, "\n")
			lines = append(lines, fmt.Sprintf("• `%s`: %s", r.Name, escape(cut(first, 80))))
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	out = append(out, "`/inbox replies add NAME TEXT` saves one; "+placeholders+" are filled in when the composer (the Reply button) inserts it.")
	return strings.Join(out, "\n\n"), nil
}

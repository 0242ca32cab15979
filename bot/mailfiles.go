package bot

import (
	"cmp"
	"fmt"
	"mime"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/inboxbot/inboxbot/store"
)

// The files of a mail, in its thread right after its text: each attachment
// and inline image (uploaded from the spool, where the watcher stored it),
// a line naming those that were not uploaded and why, and, when the text
// shown is not the whole mail (quoted history folded, or too long for
// Slack), the whole mail as a text file.

// fullMailName is the name of the file holding a whole mail.
const fullMailName = "full-mail.txt"

// upload is a file a post uploads into the thread.
type upload struct {
	ref     string // its spool name; "" : content
	content string
	name    string // the file's name in Slack
	title   string
	size    int64
}

// attachMax is ATTACH_MAX of a conversation's inbox (0: no bound).
func (b *Bot) attachMax(c *store.Conversation) int64 {
	if c == nil {
		return 0
	}
	if in := b.inboxOf(c); in != nil {
		return in.AttachMax
	}
	return 0
}

// filePosts renders the files of a mail job; first is the number of the
// first of these parts in the job. A part whose upload was given up
// (SlackJob.FileErrors) is a line saying so.
func filePosts(c *store.Conversation, j *store.SlackJob, first int, attachMax int64) []post {
	m := j.Mail
	var posts []post
	var skipped []string
	cids := map[string]bool{}
	for i, a := range m.Attachments {
		if a.Shown && a.Inline {
			continue // its text is the mail's text
		}
		if cid := strings.ToLower(a.ContentID); cid != "" {
			if cids[cid] {
				continue // the same image twice: shown once
			}
			cids[cid] = true
		}
		name := uploadName(a, i)
		why := ""
		switch {
		case a.Error != "":
			why = "inboxbot could not store it: " + a.Error
		case attachMax > 0 && a.Size > attachMax:
			why = fmt.Sprintf("larger than ATTACH_MAX (%s)", humanSize(attachMax))
		case a.Size == 0:
			why = "it is empty"
		case a.Ref == "":
			why = "inboxbot did not keep it"
		}
		if why != "" {
			skipped = append(skipped, fmt.Sprintf("%s (%s): %s", name, humanSize(a.Size), why))
			continue
		}
		posts = append(posts, post{file: &upload{ref: a.Ref, name: name, title: cmp.Or(a.Name, name), size: a.Size}})
	}
	if len(skipped) > 0 {
		if len(skipped) > maxListed {
			skipped = append(skipped[:maxListed], fmt.Sprintf("and %d more", len(skipped)-maxListed))
		}
		posts = append(posts, post{text: escape(cut("⚠️ Not uploaded to Slack: "+strings.Join(skipped, " · "), sectionMax))})
	}
	if fullMailNeeded(c, j) {
		text := fullMail(m)
		posts = append(posts, post{file: &upload{content: text, name: fullMailName,
			title: "Whole mail (quoted history included)", size: int64(len(text))}})
	}
	for i := range posts {
		if why, ok := j.FileErrors[first+i]; ok && posts[i].file != nil {
			posts[i] = post{text: escape(cut(fmt.Sprintf("⚠️ %s could not be uploaded to Slack: %s", posts[i].file.name, why), sectionMax))}
		}
	}
	return posts
}

// fullMailNeeded reports whether the thread shows less than the whole mail:
// its quoted history folded, or its text longer than Slack is shown.
func fullMailNeeded(c *store.Conversation, j *store.SlackJob) bool {
	m := j.Mail
	if m.QuoteAt > 0 {
		return true
	}
	if j.NewConv && !previewCut(c) {
		return false
	}
	return len(chunks(m.NewText(), sectionMax)) > sectionsPer*maxTextMsgs
}

// fullMail is the whole text of a mail with its header fields.
func fullMail(m *store.InboundMail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\n", m.From)
	if len(m.To) > 0 {
		fmt.Fprintf(&b, "To: %s\n", addrList(m.To))
	}
	if len(m.Cc) > 0 {
		fmt.Fprintf(&b, "Cc: %s\n", addrList(m.Cc))
	}
	if !m.Date.IsZero() {
		fmt.Fprintf(&b, "Date: %s\n", m.Date.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, "Subject: %s\n\n", m.Subject)
	b.WriteString(m.Text)
	if m.Truncated {
		b.WriteString("\n\n[The mail was longer than inboxbot keeps; the end is cut.]")
	}
	b.WriteString("\n")
	return b.String()
}

func addrList(as []store.Address) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// uploadName is the name of an attachment in Slack: its name in the mail,
// made safe, with an extension for its type when it has none (Slack tells
// a file's type by it). Unnamed parts are named by their number.
func uploadName(a store.Attachment, i int) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\':
			return '_'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, a.Name)
	name = strings.Trim(strings.TrimSpace(name), ".")
	if name == "" {
		base := "attachment"
		if strings.HasPrefix(a.Type, "image/") {
			base = "image"
		}
		name = fmt.Sprintf("%s-%d", base, i+1)
	}
	if path.Ext(name) == "" {
		name += extensionOf(a.Type)
	}
	if r := []rune(name); len(r) > 200 {
		ext := path.Ext(name)
		if len([]rune(ext)) > 20 {
			ext = ""
		}
		name = string(r[:200-len([]rune(ext))]) + ext
	}
	return name
}

// extensions are the file name extensions of the common types, so that the
// name does not depend on the machine's MIME tables.
var extensions = map[string]string{
	"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp", "image/heic": ".heic",
	"application/pdf": ".pdf", "text/plain": ".txt", "text/html": ".html", "text/csv": ".csv", "text/calendar": ".ics",
	"application/zip": ".zip", "message/rfc822": ".eml", "application/json": ".json",
	"application/msword":       ".doc",
	"application/vnd.ms-excel": ".xls",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       ".xlsx",
}

func extensionOf(mediaType string) string {
	if e, ok := extensions[mediaType]; ok {
		return e
	}
	if es, err := mime.ExtensionsByType(mediaType); err == nil && len(es) > 0 {
		return es[0]
	}
	return ""
}

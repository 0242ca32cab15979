// This file reads bounces: delivery status notifications (RFC 3464,
// multipart/report; report-type=delivery-status) and the less formal
// failure notices of mailer daemons. What it finds (the Message-ID of the
// returned message, the failed recipient, the status and diagnostic) lets
// the store put the bounce on the reply it concerns instead of opening a
// conversation. It moves with the mail format into mailbridge/message.

package mailbridge

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/inboxbot/inboxbot/store"
)

// reportPartMax is how much of a report's machine-readable parts is read.
const reportPartMax = 64 << 10

// reportParts collects the parts of a mail that say what bounced.
type reportParts struct {
	top      string // media type of the whole mail
	reportTy string // its report-type parameter
	status   []byte // message/delivery-status
	original []byte // header (at least) of the returned message
}

// isReportPart reports whether parts of media type mt are kept for reading.
func isReportPart(mt string) bool {
	switch mt {
	case "message/delivery-status", "message/global-delivery-status",
		"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		return true
	}
	return false
}

// capture returns body, keeping the beginning of what is read from it when
// it is a part of a report.
func (r *reportParts) capture(mt string, body io.Reader) io.Reader {
	if !isReportPart(mt) {
		return body
	}
	dst := &r.original
	if strings.HasSuffix(mt, "delivery-status") {
		dst = &r.status
	}
	if *dst != nil {
		return body // the first of each kind is the one
	}
	*dst = []byte{}
	return io.TeeReader(body, &limitWriter{dst: dst, max: reportPartMax})
}

type limitWriter struct {
	dst *[]byte
	max int
}

func (w *limitWriter) Write(b []byte) (int, error) {
	if room := w.max - len(*w.dst); room > 0 {
		*w.dst = append(*w.dst, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// report makes the DeliveryReport of a parsed mail, nil when it is not a
// bounce: a delivery-status report, or (informal) a mail from a mailer
// daemon.
func (r *reportParts) report(m *Message) *store.DeliveryReport {
	formal := r.top == "multipart/report" && (r.reportTy == "" || r.reportTy == "delivery-status") && r.status != nil
	if !formal && !fromDaemon(m.From.Addr) {
		return nil
	}
	rep := &store.DeliveryReport{}
	if formal {
		readDeliveryStatus(r.status, rep)
	}
	if r.original != nil {
		rep.OriginalMessageID = headerMessageID(r.original)
	}
	if rep.OriginalMessageID == "" {
		// Informal notices quote the original's header in their text.
		if sm := quotedMessageID.FindStringSubmatch(m.Text); sm != nil {
			rep.OriginalMessageID = store.CanonMsgID(sm[1])
		}
	}
	if rep.Diagnostic == "" {
		// The human-readable part often quotes the server's answer.
		rep.Diagnostic = smtpReplyLine(m.Text)
	}
	return rep
}

// fromDaemon reports whether addr is a mailer daemon's.
func fromDaemon(addr string) bool {
	local, _, _ := strings.Cut(strings.ToLower(addr), "@")
	local = strings.Trim(local, `"`)
	return local == "mailer-daemon" || local == "postmaster"
}

// readDeliveryStatus reads the per-message and per-recipient field groups
// of a message/delivery-status part: the first recipient that failed (else
// the first) is the one reported.
func readDeliveryStatus(data []byte, rep *store.DeliveryReport) {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))))
	var groups []textproto.MIMEHeader
	for len(groups) < 100 {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			groups = append(groups, h)
		}
		if err != nil {
			break
		}
	}
	var pick textproto.MIMEHeader
	for i, g := range groups {
		if i == 0 && g.Get("Action") == "" {
			continue // the per-message group
		}
		if pick == nil || (strings.EqualFold(strings.TrimSpace(g.Get("Action")), "failed") &&
			!strings.EqualFold(strings.TrimSpace(pick.Get("Action")), "failed")) {
			pick = g
		}
	}
	if pick == nil {
		return
	}
	rep.Recipient = typedValue(pick.Get("Final-Recipient"))
	if rep.Recipient == "" {
		rep.Recipient = typedValue(pick.Get("Original-Recipient"))
	}
	rep.Action = strings.ToLower(headerToken(pick.Get("Action")))
	rep.Status = headerToken(pick.Get("Status"))
	rep.Diagnostic = clip(collapseSpace(validUTF8(typedValue(pick.Get("Diagnostic-Code")))), 300)
}

// typedValue strips the type of a "rfc822; x@y" or "smtp; 550 ..." field.
func typedValue(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		v = rest
	}
	return strings.TrimSpace(v)
}

// headerMessageID reads the Message-ID of a returned message's header.
func headerMessageID(data []byte) string {
	tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")))))
	h, _ := tr.ReadMIMEHeader()
	if id := h.Get("Message-Id"); id != "" {
		if ids, _ := lenientMsgIDs(id); len(ids) > 0 {
			return store.CanonMsgID(ids[0])
		}
	}
	return ""
}

var (
	quotedMessageID = regexp.MustCompile(`(?im)^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)`)
	// An SMTP reply with an enhanced status code, "550 5.1.1 ...", or a
	// permanent reply code on its own.
	smtpEnhanced = regexp.MustCompile(`\b[45][0-9][0-9][ -]+[45]\.[0-9]{1,3}\.[0-9]{1,3}\b`)
	smtpPlain    = regexp.MustCompile(`\b5[0-9][0-9]\b`)
)

// smtpReplyLine finds the line of an informal notice that quotes the
// server's refusal.
func smtpReplyLine(text string) string {
	for _, re := range []*regexp.Regexp{smtpEnhanced, smtpPlain} {
		for line := range strings.SplitSeq(text, "\n") {
			if loc := re.FindStringIndex(line); loc != nil {
				return clip(collapseSpace(line[loc[0]:]), 300)
			}
		}
	}
	return ""
}

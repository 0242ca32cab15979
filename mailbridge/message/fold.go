package message

import (
	"regexp"
	"strings"
	"unicode"
)

// FoldQuote splits the text of a mail (Message.Text form: \n newlines)
// into what the sender wrote and the history after it. It returns n:
// text[:n] is the new part (no trailing whitespace), text[n:] what can be
// folded away: the quoted history with the line that introduces it
// ("On … wrote:" and its translations, also when wrapped over two lines),
// Outlook's "From:/Sent:/To:/Subject:" block and "-----Original
// Message-----" line, forwarded-message headers and what follows them, a
// signature ("-- " or "Sent from my iPhone"). n == len(text) when nothing
// is folded.
//
// It never folds everything: the new part must have a line that is not one
// of those markers, so a mail that is only a quote keeps it, and a forward
// with nothing written above it keeps the forwarded message (only that
// message's own history and signature are folded). Quoted lines that an
// answer follows are an inline reply: they are not folded there.
func FoldQuote(text string) int {
	lines := splitLines(text)
	n := len(lines)
	kind := make([]lineKind, n)
	for i := range lines {
		kind[i] = classify(lines, i)
	}
	regions := markRegions(lines, kind)

	// hist[i]: everything from line i on is history (can be folded).
	hist := make([]bool, n+1)
	hist[n] = true
	for i := n - 1; i >= 0; i-- {
		switch r := regions[i]; {
		case r.start && r.strong:
			hist[i] = true
		case r.start && r.kind == markAttribution:
			// It introduces a quote block: history if the block is.
			hist[i] = hist[r.end]
		case r.in:
			hist[i] = hist[i+1]
		case kind[i] == lineBlank || kind[i] == lineQuoted:
			hist[i] = hist[i+1]
		default:
			hist[i] = false
		}
	}

	content := false // a line of the new part that is not a marker
	for i := 0; i < n; i++ {
		r := regions[i]
		cutStart := r.start || (kind[i] == lineQuoted && !r.in && (i == 0 || !quoteContinues(kind, i)))
		if cutStart && hist[i] && content {
			return endBefore(text, lines, i)
		}
		if kind[i] != lineBlank && !r.in {
			content = true
		}
	}
	return len(text)
}

// line is one line of the text: text[off:off+len(s)] == s.
type line struct {
	s   string
	off int
}

func splitLines(text string) []line {
	out := make([]line, 0, strings.Count(text, "\n")+1)
	off := 0
	for {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return append(out, line{text[off:], off})
		}
		out = append(out, line{text[off : off+i], off})
		off += i + 1
	}
}

// endBefore returns the offset where the new part ends when line i starts
// the history: after the last non-blank line before it.
func endBefore(text string, lines []line, i int) int {
	for j := i - 1; j >= 0; j-- {
		if strings.TrimSpace(lines[j].s) != "" {
			return lines[j].off + len(strings.TrimRightFunc(lines[j].s, unicode.IsSpace))
		}
	}
	return len(text)
}

type lineKind uint8

const (
	lineText lineKind = iota
	lineBlank
	lineQuoted
)

func classify(lines []line, i int) lineKind {
	s := lines[i].s
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return lineBlank
	case strings.HasPrefix(strings.TrimLeft(s, " "), ">") && len(s)-len(strings.TrimLeft(s, " ")) <= 3:
		return lineQuoted
	}
	return lineText
}

// quoteContinues reports whether quoted line i continues a quote block
// (only blank lines since the previous quoted line).
func quoteContinues(kind []lineKind, i int) bool {
	for j := i - 1; j >= 0; j-- {
		switch {
		case kind[j] == lineQuoted:
			return true
		case kind[j] != lineBlank:
			return false
		}
	}
	return false
}

type markKind uint8

const (
	markNone        markKind = iota
	markAttribution          // "On … wrote:"
	markHeaders              // Outlook's From/Sent/To/Subject block, with its separator line
	markForward              // forwarded-message line with its headers
	markSignature            // "-- ", "Sent from my iPhone"
)

// region says what part of a marker a line is.
type region struct {
	kind   markKind
	start  bool // the first line of the marker
	in     bool // a line of the marker (the first included)
	strong bool // everything after the marker is history
	end    int  // (start only) the line after the marker
}

// markRegions finds the markers of the text.
func markRegions(lines []line, kind []lineKind) []region {
	regions := make([]region, len(lines))
	mark := func(k markKind, from, to int, strong bool) {
		for j := from; j < to; j++ {
			regions[j] = region{kind: k, in: true}
		}
		regions[from] = region{kind: k, start: true, in: true, strong: strong, end: to}
	}
	for i := 0; i < len(lines); i++ {
		if kind[i] != lineText || regions[i].in {
			continue
		}
		t := strings.TrimSpace(lines[i].s)
		if len(t) > 400 {
			continue // no marker is that long (and long lines are costly to match)
		}
		dashOrColon := strings.HasPrefix(t, "-") || strings.HasSuffix(t, ":")
		switch {
		case isSignature(t):
			mark(markSignature, i, i+1, true)
		case dashOrColon && reForward.MatchString(t):
			mark(markForward, i, headersEnd(lines, i+1), true)
		case dashOrColon && reOriginal.MatchString(t) || isUnderscores(t):
			if end, ok := outlookBlock(lines, nextText(lines, kind, i+1)); ok {
				mark(markHeaders, i, end, true)
			} else if !isUnderscores(t) {
				mark(markHeaders, i, i+1, true)
			}
		default:
			if end, ok := outlookBlock(lines, i); ok {
				mark(markHeaders, i, end, true)
			} else if end, strong, ok := attribution(lines, kind, i); ok {
				mark(markAttribution, i, end, strong)
			}
		}
		if regions[i].in {
			i = regions[i].end - 1
		}
	}
	return regions
}

// nextText returns the first line from i on that is not blank (len(lines)
// if none).
func nextText(lines []line, kind []lineKind, i int) int {
	for i < len(lines) && kind[i] == lineBlank {
		i++
	}
	return i
}

// attribution recognises the line (or two lines, when a client wrapped it)
// that introduces a quote, at line i. It is strong (the rest is history
// even when no ">" block follows, as in text converted from HTML) when it
// has the "On <date>, <name> wrote:" form; a bare "<name> wrote:" counts
// only right before a ">" block.
func attribution(lines []line, kind []lineKind, i int) (end int, strong, ok bool) {
	t := strings.TrimSpace(lines[i].s)
	end = i + 1
	if !strings.HasSuffix(t, ":") || !reAttribEnd.MatchString(t) {
		if !reAttribStart.MatchString(t) || i+1 >= len(lines) || kind[i+1] != lineText || len(t) > 200 {
			return 0, false, false
		}
		t += " " + strings.TrimSpace(lines[i+1].s)
		if !strings.HasSuffix(t, ":") || !reAttribEnd.MatchString(t) {
			return 0, false, false
		}
		end = i + 2
	}
	if len(t) > 300 {
		return 0, false, false
	}
	quoteFollows := nextText(lines, kind, end) < len(lines) && kind[nextText(lines, kind, end)] == lineQuoted
	strong = reAttribStart.MatchString(t) && strings.ContainsFunc(t, unicode.IsDigit)
	if quoteFollows {
		// Whether it is history depends on the quote block (an inline
		// reply may follow it).
		return end, false, true
	}
	return end, strong, strong
}

// outlookBlock recognises a block of headers of the quoted mail at line i
// ("From: …" then "Sent:/Date:", "To:", "Subject:"…, in a few languages):
// it returns the line after it.
func outlookBlock(lines []line, i int) (end int, ok bool) {
	if i >= len(lines) || headerKey(lines[i].s) != keyFrom {
		return 0, false
	}
	seen := map[headerKind]bool{}
	end = i + 1
	for j := i + 1; j < len(lines) && j <= i+8; j++ {
		t := strings.TrimSpace(lines[j].s)
		if t == "" {
			break
		}
		if k := headerKey(lines[j].s); k != keyNone && k != keyFrom {
			seen[k] = true
			end = j + 1
		}
	}
	if (seen[keySent] || seen[keySubject]) && len(seen) >= 2 {
		return end, true
	}
	return 0, false
}

// headersEnd returns the line after the "Key: value" lines from i on (the
// headers a forwarded-message line is followed by).
func headersEnd(lines []line, i int) int {
	for i < len(lines) && reHeaderLine.MatchString(strings.TrimSpace(lines[i].s)) {
		i++
	}
	return i
}

type headerKind uint8

const (
	keyNone headerKind = iota
	keyFrom
	keySent
	keyTo
	keyCc
	keySubject
)

// headerKeys are the quoted-header names of Outlook and other clients, in
// the languages they are most often seen in.
var headerKeys = map[string]headerKind{
	"from": keyFrom, "von": keyFrom, "de": keyFrom, "van": keyFrom, "da": keyFrom, "fra": keyFrom, "från": keyFrom, "od": keyFrom,
	"sent": keySent, "date": keySent, "gesendet": keySent, "datum": keySent, "envoyé": keySent, "enviado": keySent,
	"verzonden": keySent, "inviato": keySent, "data": keySent, "sendt": keySent, "skickat": keySent, "wysłano": keySent,
	"to": keyTo, "an": keyTo, "à": keyTo, "a": keyTo, "para": keyTo, "aan": keyTo, "til": keyTo, "till": keyTo, "do": keyTo,
	"cc": keyCc, "kopie": keyCc,
	"subject": keySubject, "betreff": keySubject, "objet": keySubject, "asunto": keySubject, "onderwerp": keySubject,
	"oggetto": keySubject, "assunto": keySubject, "emne": keySubject, "ämne": keySubject, "temat": keySubject,
}

// headerKey returns which quoted header s is ("From: x", "*From:* x",
// "De : x").
func headerKey(s string) headerKind {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i < 1 || i > 40 {
		return keyNone
	}
	m := reHeaderLine.FindStringSubmatch(s)
	if m == nil {
		return keyNone
	}
	return headerKeys[strings.ToLower(m[1])]
}

func isSignature(t string) bool {
	if t == "--" || t == "-- " {
		return true
	}
	if len(t) > 64 {
		return false
	}
	for _, p := range mobileSigs {
		if strings.HasPrefix(t, p) && len(t) > len(p) {
			return p != "Von meinem " || strings.HasSuffix(t, " gesendet")
		}
	}
	return false
}

// mobileSigs start the signatures mobile mail apps add.
var mobileSigs = [...]string{"Sent from my ", "Get Outlook for ", "Von meinem ", "Envoyé de mon ", "Enviado desde mi ", "Inviato da "}

func isUnderscores(t string) bool {
	return len(t) >= 8 && strings.Trim(t, "_") == ""
}

const sp = `[\s\x{00A0}\x{202F}]` // spaces, the no-break ones French puts before ':' included

var (
	reAttribStart = regexp.MustCompile(`^(On|Am|Le|El|Il|Em|Op|Den|På)` + sp)
	reAttribEnd   = regexp.MustCompile(`(?i)(wrote|schrieb|a` + sp + `+écrit|escribió|ha` + sp + `+scritto|escreveu|schreef|skrev)[^:]{0,120}:$`)
	reHeaderLine  = regexp.MustCompile(`^\*?([\p{L}][\p{L}.'-]{0,24})` + sp + `*:\*?(` + sp + `|$)`)
	reOriginal    = regexp.MustCompile(`(?i)^-{3,}` + sp + `*(original message|ursprüngliche nachricht|message d'origine|mensaje original|oorspronkelijk bericht|messaggio originale|mensagem original|opprinnelig melding|ursprungligt meddelande|oprindelig meddelelse)` + sp + `*-{3,}$`)
	reForward     = regexp.MustCompile(`(?i)^(-{2,}` + sp + `*(forwarded message|original message|weitergeleitete nachricht|message transféré|mensaje reenviado|doorgestuurd bericht|messaggio inoltrato|mensagem encaminhada|videresendt meddelelse|vidarebefordrat meddelande)` + sp + `*-{2,}|begin forwarded message:|anfang der weitergeleiteten nachricht:|début du message réexpédié` + sp + `*:|inicio del mensaje reenviado:)$`)
)

package message

import (
	"strings"
	"unicode"
)

// thankWords are words a thank-you is made of, in the languages mail to a
// support inbox commonly comes in.
var thankWords = map[string]bool{
	"thanks": true, "thank": true, "thx": true, "ty": true, "tnx": true, "cheers": true, "appreciated": true,
	"danke": true, "dank": true, "merci": true, "gracias": true, "grazie": true, "tack": true, "bedankt": true,
	"obrigado": true, "obrigada": true, "dziękuję": true, "takk": true, "kiitos": true,
}

// fillerWords may stand beside them without making the mail more than a
// thank-you.
var fillerWords = map[string]bool{
	"you": true, "so": true, "very": true, "much": true, "many": true, "a": true, "lot": true, "again": true,
	"for": true, "the": true, "your": true, "help": true, "quick": true, "reply": true, "answer": true,
	"great": true, "perfect": true, "awesome": true, "ok": true, "okay": true, "all": true, "good": true,
	"now": true, "it": true, "works": true, "got": true, "and": true, "best": true, "regards": true,
	"kind": true, "br": true, "vielen": true, "schön": true, "super": true, "beaucoup": true, "muchas": true,
	"mille": true, "de": true, "nada": true, "sehr": true, "gut": true, "prima": true, "bien": true,
}

// IsThanks reports whether a mail's new text (NewText: without the quoted
// history) is only a thank-you: a few words, one of them a thank, and at
// most three others (a name under it). Such a mail to a closed
// conversation needs no answer, and reopening for it would restart a
// response clock for nothing.
func IsThanks(text string) bool {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(words) == 0 || len(words) > 14 {
		return false
	}
	thanked, other := false, 0
	for _, w := range words {
		switch {
		case thankWords[w]:
			thanked = true
		case fillerWords[w]:
		default:
			other++
		}
	}
	return thanked && other <= 3
}

package message

import "testing"

func TestIsThanks(t *testing.T) {
	for text, want := range map[string]bool{
		"Thanks!":                                  true,
		"Thank you so much!\n\nCarl":               true,
		"thx, works now :)\n-- \nCarl Customer":    true,
		"Great, thanks a lot for the quick reply!": true,
		"Vielen Dank!\nGrüße, Carl":                true,
		"Merci beaucoup":                           true,
		"Thanks, but it is still broken.":          false,
		"Thanks. Can you also reset my password?":  false,
		"":   false,
		"OK": false, // no thank: could be anything
		"Thanks for the reply. I tried again this morning and the printer still shows error 42 after the update.": false,
	} {
		if got := IsThanks(text); got != want {
			t.Errorf("IsThanks(%q) = %v, want %v", text, got, want)
		}
	}
}

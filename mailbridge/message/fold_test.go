package message

import (
	"strings"
	"testing"
)

// In each case, "⟪" marks where the history starts (the new part is
// what comes before it, without trailing whitespace); no mark: nothing
// is folded.
func TestFoldQuote(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"gmail", "Thanks, that fixed it!\n\n⟪On Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Could you try the export again?\n>\n> Best,\n> Support"},
		{"gmail attribution wrapped", "Thanks, that fixed it!\n\n⟪On Tue, Mar 12, 2024 at 9:00 AM Support Team of Example Corporation <\nsupport@inboxbot.test> wrote:\n\n> Could you try the export again?"},
		{"gmail converted from HTML", "Thanks!\n\n⟪On Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n\nCould you try the export again?\n\nBest,\nSupport"},
		{"apple mail", "Sounds good, see you then.\n\nErin\n\n⟪> On 12 Mar 2024, at 09:00, Support <support@inboxbot.test> wrote:\n>\n> Could you try the export again?"},
		{"iphone", "Yes, tomorrow works.\n\n⟪Sent from my iPhone\n\n> On Mar 12, 2024, at 09:00, Support <support@inboxbot.test> wrote:\n>\n> Does tomorrow work?"},
		{"thunderbird", "Done.\n\n⟪On 3/12/24 09:00, Support wrote:\n> Please confirm."},
		{"yahoo", "Confirmed.\n\n⟪On Tuesday, March 12, 2024, 09:00:00 AM GMT+1, Support <support@inboxbot.test> wrote:\n\n\nPlease confirm."},
		{"bare attribution before a quote", "Agreed.\n\n⟪Support wrote:\n> Shall we close this?"},
		{"outlook", "Hi,\n\nplease see the attached invoice.\n\nKind regards\nJohn Doe\nACME Corp | +1 555 0100\n\n⟪From: Support <support@inboxbot.test>\nSent: Tuesday, March 12, 2024 9:00 AM\nTo: John Doe <john@acme.example>\nCc: Billing <billing@acme.example>\nSubject: RE: [#12] Invoice\n\nHello John,\n\ncould you send the invoice again?\n\nFrom: John Doe <john@acme.example>\nSent: Monday, March 11, 2024 5:00 PM\nTo: Support <support@inboxbot.test>\nSubject: [#12] Invoice\n\nHi, the invoice is missing."},
		{"outlook original message", "Approved.\n\n⟪-----Original Message-----\nFrom: Support <support@inboxbot.test>\nSent: Tuesday, March 12, 2024 9:00 AM\nTo: John Doe <john@acme.example>\nSubject: Approval needed\n\nPlease approve."},
		{"original message line alone", "Approved.\n\n⟪-----Original Message-----\nPlease approve."},
		{"outlook web", "Ok, thanks.\n\n⟪________________________________\nFrom: Support <support@inboxbot.test>\nSent: Tuesday, 12 March 2024 09:00\nTo: John Doe <john@acme.example>\nSubject: Re: Access\n\nYour access is ready."},
		{"outlook quoted by gmail", "Works now.\n\n⟪*From:* Support <support@inboxbot.test>\n*Sent:* Tuesday, March 12, 2024 9:00 AM\n*To:* John Doe <john@acme.example>\n*Subject:* RE: Access\n\nYour access is ready."},
		{"outlook mac", "Thanks!\n\n⟪From: Support <support@inboxbot.test>\nDate: Tuesday, 12 March 2024 at 09:00\nTo: John Doe <john@acme.example>\nSubject: Re: Access\n\nYour access is ready."},
		{"german gmail", "Danke, passt!\n\n⟪Am Di., 12. März 2024 um 09:00 Uhr schrieb Support <support@inboxbot.test>:\n> Können Sie es noch einmal versuchen?"},
		{"german apple", "Danke!\n\n⟪Am 12.03.2024 um 09:00 schrieb Support <support@inboxbot.test>:\n\n> Können Sie es noch einmal versuchen?"},
		{"german outlook", "Hallo,\n\nanbei die Rechnung.\n\n⟪Von: Support <support@inboxbot.test>\nGesendet: Dienstag, 12. März 2024 09:00\nAn: Jürgen Müller <juergen@example.de>\nBetreff: AW: Rechnung\n\nBitte senden Sie die Rechnung."},
		{"german original message", "Erledigt.\n\n⟪-----Ursprüngliche Nachricht-----\nVon: Support <support@inboxbot.test>\nGesendet: Dienstag, 12. März 2024 09:00\nAn: Jürgen <juergen@example.de>\nBetreff: Frage"},
		{"french gmail", "Merci beaucoup !\n\n⟪Le mar. 12 mars 2024 à 09:00, Support <support@inboxbot.test> a écrit :\n> Pouvez-vous réessayer ?"},
		{"french no-break space", "Merci !\n\n⟪Le mar. 12 mars 2024 à 09:00, Support <support@inboxbot.test> a écrit\u00a0:\n> Pouvez-vous réessayer ?"},
		{"french outlook", "Bonjour,\n\nc'est réglé.\n\n⟪De : Support <support@inboxbot.test>\nEnvoyé : mardi 12 mars 2024 09:00\nÀ : Marie <marie@example.fr>\nObjet : RE: Accès\n\nVotre accès est prêt."},
		{"spanish gmail", "¡Gracias!\n\n⟪El mar, 12 mar 2024 a las 9:00, Support (<support@inboxbot.test>) escribió:\n> ¿Puede intentarlo de nuevo?"},
		{"forward with a note", "FYI, see below: the customer cannot log in.\n\n⟪---------- Forwarded message ---------\nFrom: Alice <alice@example.org>\nDate: Mon, Mar 11, 2024 at 4:00 PM\nSubject: Login broken\nTo: Bob <bob@example.org>\n\nHi Bob, I cannot log in since this morning."},
		{"forward alone is kept", "---------- Forwarded message ---------\nFrom: Alice <alice@example.org>\nDate: Mon, Mar 11, 2024 at 4:00 PM\nSubject: Login broken\nTo: Bob <bob@example.org>\n\nHi Bob, I cannot log in since this morning."},
		{"forward alone folds its own history", "---------- Forwarded message ---------\nFrom: Alice <alice@example.org>\nDate: Mon, Mar 11, 2024 at 4:00 PM\nSubject: Re: Login broken\nTo: Bob <bob@example.org>\n\nStill broken, see below.\n\n⟪On Mon, Mar 11, 2024 at 9:00 AM Bob <bob@example.org> wrote:\n> Did you clear the cookies?"},
		{"apple forward", "Please handle this one.\n\n⟪Begin forwarded message:\n\nFrom: Alice <alice@example.org>\nSubject: Login broken\nDate: 11 March 2024 at 16:00:00 CET\nTo: Bob <bob@example.org>\n\nHi Bob, I cannot log in."},
		{"thunderbird forward alone", "-------- Forwarded Message --------\nSubject: \tLogin broken\nDate: \tMon, 11 Mar 2024 16:00:00 +0100\nFrom: \tAlice <alice@example.org>\nTo: \tBob <bob@example.org>\n\nHi Bob, I cannot log in."},
		{"signature", "Yes, tomorrow at 10 works for me.\n\n⟪--\nJane Doe\nExample Ltd | +44 20 7946 0000"},
		{"signature then quote", "Yes.\n\n⟪--\nJane\n\nOn Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Tomorrow?"},
		{"outlook mobile", "On my way.\n\n⟪Get Outlook for iOS\n________________________________\nFrom: Support <support@inboxbot.test>\nSent: Tuesday, March 12, 2024 9:00:00 AM\nTo: Jane <jane@example.org>\nSubject: Visit\n\nWhen will you arrive?"},
		{"inline answers are not folded", "Hi,\n\nanswers inline.\n\nOn Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Which version do you use?\n3.2\n\n> Which browser?\nFirefox\n\n⟪--\nJane"},
		{"bottom post is not folded", "On Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Which version do you use?\n\nVersion 3.2, on Windows."},
		{"only a quote", "> Which version do you use?\n> And which browser?"},
		{"only an attribution and a quote", "On Tue, Mar 12, 2024 at 9:00 AM Support <support@inboxbot.test> wrote:\n> Which version do you use?"},
		{"only a quote and a signature", "> Which version do you use?\n\n⟪--\nJane"},
		{"quote inside the text", "See this line of the log:\n> ERROR connection reset\nWhat does it mean?"},
		{"nothing to fold", "Hello,\n\nplease reset my password.\n\nThanks, Jane"},
		{"a sentence with wrote", "On Monday I wrote: the draft is ready.\nPlease review it."},
		{"a sentence with from", "From: our side everything is fine.\nTo be honest, I think the problem is on yours."},
		{"empty", ""},
	} {
		text := strings.Replace(tc.text, "⟪", "", 1)
		want := len(text)
		if i := strings.Index(tc.text, "⟪"); i >= 0 {
			want = len(strings.TrimRight(tc.text[:i], " \n"))
		}
		if got := FoldQuote(text); got != want {
			t.Errorf("%s: new part\n%q\nwant\n%q", tc.name, text[:got], text[:want])
		}
	}
}

func TestMessageNewText(t *testing.T) {
	m := &Message{Text: "Yes.\n\n--\nJane", QuoteAt: 4}
	if m.NewText() != "Yes." || m.Quoted() != "--\nJane" {
		t.Errorf("NewText %q Quoted %q", m.NewText(), m.Quoted())
	}
	// Records from before QuoteAt existed, or a bad offset: all is new.
	for _, at := range []int{0, 99, -1} {
		m := &Message{Text: "Yes.", QuoteAt: at}
		if m.NewText() != "Yes." || m.Quoted() != "" {
			t.Errorf("QuoteAt %d: NewText %q Quoted %q", at, m.NewText(), m.Quoted())
		}
	}
}

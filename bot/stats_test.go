package bot

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/workhours"
	"github.com/inboxbot/inboxbot/store"
)

// history is a store filled through its real operations, each at a time
// the test sets.
type history struct {
	t     testing.TB
	st    *store.Store
	now   time.Time
	loc   *time.Location
	uid   uint32
	seq   int
	first map[uint64]string // conversation → its first mail's Message-ID
}

func newHistory(t testing.TB, inbox string) *history {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	h := &history{t: t, loc: loc, first: map[uint64]string{}}
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{NoSync: true, Now: func() time.Time { return h.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetWatermark(inbox, "INBOX", store.Watermark{UIDValidity: 1})
	h.st = st
	return h
}

// at sets the clock to a time in Berlin, "Tue 2026-12-01 09:30".
func (h *history) at(when string) {
	h.t.Helper()
	t, err := time.ParseInLocation("Mon 2006-01-02 15:04", when, h.loc)
	if err != nil {
		h.t.Fatal(err)
	}
	h.now = t
}

// mail records a customer mail (answering conversation conv, 0: a new one)
// and returns its conversation.
func (h *history) mail(inbox string, conv uint64, auto bool) uint64 {
	h.t.Helper()
	h.uid++
	m := &store.InboundMail{MessageID: fmt.Sprintf("m%d@example.com", h.uid), Subject: "Help", Auto: auto,
		From: store.Address{Addr: "carl@example.com"}, Text: "help"}
	if conv != 0 {
		m.InReplyTo = []string{h.first[conv]}
	}
	r, err := h.st.RecordInbound(inbox, "INBOX", 1, []store.Inbound{{UID: h.uid, Mail: m}})
	if err != nil || r[0].Conv == 0 {
		h.t.Fatalf("mail: %+v %v", r, err)
	}
	if conv == 0 {
		h.first[r[0].Conv] = m.MessageID // later mails answer it
	}
	return r[0].Conv
}

// reply sends agent's reply to conv.
func (h *history) reply(conv uint64, agent string) {
	h.t.Helper()
	h.seq++
	job, err := h.st.EnqueueReply(store.Reply{EventID: fmt.Sprintf("Ev%d", h.seq), Conv: conv, Channel: "C", SlackTS: fmt.Sprintf("%d.%06d", h.now.Unix(), h.seq),
		AgentID: agent, MessageID: fmt.Sprintf("out%d@acme.test", h.seq)})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.MailDone(job.Seq, ""); err != nil {
		h.t.Fatal(err)
	}
}

func (h *history) act(conv uint64, action, by string) {
	h.t.Helper()
	if _, err := h.st.Act(conv, action, by, "", ""); err != nil {
		h.t.Fatal(err)
	}
}

var statsInbox = Inbox{ID: "support@acme.test", Address: "support@acme.test", Name: "Acme Support", Channel: "CA",
	FirstResponse: 4 * time.Hour, NextResponse: 8 * time.Hour}

// seedWeek is a week of an inbox worked Monday to Friday, 9 to 5 in
// Berlin, with answers known by hand (see the comments: working time).
func seedWeek(t *testing.T) (*history, Inbox) {
	in := statsInbox
	cal, err := workhours.New("Europe/Berlin", "mon-fri", "09:00-17:00", nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Calendar = cal
	h := newHistory(t, in.ID)
	const alice, bob = "UALICE", "UBOB"
	h.at("Fri 2026-11-27 15:00")
	c1 := h.mail(in.ID, 0, false)
	h.at("Tue 2026-12-01 08:00")
	c2 := h.mail(in.ID, 0, false)
	h.at("Tue 2026-12-01 09:00")
	h.reply(c1, alice) // first reply: Fri 2h + Mon 8h = 10h, breached
	h.at("Tue 2026-12-01 09:30")
	h.reply(c2, bob) // 30m, met
	h.at("Tue 2026-12-01 10:00")
	h.act(c1, store.ActClose, alice) // resolution 11h
	h.at("Tue 2026-12-01 12:00")
	h.mail(in.ID, c2, false) // the customer answers
	h.at("Wed 2026-12-02 10:00")
	c3 := h.mail(in.ID, 0, false)
	h.at("Wed 2026-12-02 12:00")
	h.reply(c2, bob) // next reply: Tue 5h + Wed 3h = 8h, met
	h.at("Wed 2026-12-02 13:00")
	h.act(c2, store.ActClose, bob) // resolution Tue 8h + Wed 4h = 12h
	h.at("Thu 2026-12-03 10:00")
	h.reply(c3, alice) // Wed 7h + Thu 1h = 8h, breached
	h.at("Thu 2026-12-03 14:00")
	c4 := h.mail(in.ID, 0, false)
	h.at("Thu 2026-12-03 15:00")
	h.act(c4, store.ActClose, bob) // unanswered, within the target; resolution 1h
	h.at("Fri 2026-12-04 16:00")
	c5 := h.mail(in.ID, 0, false)
	h.at("Sat 2026-12-05 11:00")
	h.mail(in.ID, 0, false) // #6: never answered; Monday's 8h are past the target
	h.at("Mon 2026-12-07 09:15")
	h.mail(in.ID, 0, true) // #7: automated, nobody waits
	h.at("Mon 2026-12-07 10:00")
	h.reply(c5, alice) // Fri 1h + Mon 1h = 2h over the weekend, met
	h.at("Mon 2026-12-07 11:00")
	h.act(c5, store.ActClose, alice) // resolution 3h
	h.at("Mon 2026-12-07 11:30")
	h.mail(in.ID, c4, false) // reopens #4
	h.at("Mon 2026-12-07 12:30")
	h.reply(c4, bob) // its first reply: 1h, met
	h.at("Mon 2026-12-07 13:30")
	h.act(c4, store.ActClose, bob) // resolution from the reopen: 2h
	h.at("Mon 2026-12-07 18:00")
	return h, in
}

func hours(hs ...float64) []time.Duration {
	var out []time.Duration
	for _, h := range hs {
		out = append(out, time.Duration(h*float64(time.Hour)))
	}
	return out
}

func TestStatsKnownAnswers(t *testing.T) {
	h, in := seedWeek(t)
	from, label, ok := period("7d", h.now, h.loc)
	if !ok || label != "last 7 days" {
		t.Fatal(label)
	}
	r := newReport(&in, from, h.now, label)
	if err := collect(h.st, []*report{r}, h.now); err != nil {
		t.Fatal(err)
	}
	if r.received != 6 || r.mails != 7 || r.closed != 5 || r.reopened != 1 || r.started != 0 {
		t.Errorf("received %d, mails %d, closed %d, reopened %d, started %d; want 6, 7, 5, 1, 0", r.received, r.mails, r.closed, r.reopened, r.started)
	}
	if want := hours(0.5, 1, 2, 8, 10); !reflect.DeepEqual(r.firstResp, want) {
		t.Errorf("first responses %v, want %v", r.firstResp, want)
	}
	if want := hours(8); !reflect.DeepEqual(r.nextResp, want) {
		t.Errorf("next responses %v, want %v", r.nextResp, want)
	}
	if want := hours(1, 2, 3, 11, 12); !reflect.DeepEqual(r.resolution, want) {
		t.Errorf("resolutions %v, want %v", r.resolution, want)
	}
	if p50, p90 := percentile(r.firstResp, 0.5), percentile(r.firstResp, 0.9); p50 != 2*time.Hour || p90 != 10*time.Hour {
		t.Errorf("first response median %v, p90 %v", p50, p90)
	}
	if p50, p90 := percentile(r.resolution, 0.5), percentile(r.resolution, 0.9); p50 != 3*time.Hour || p90 != 12*time.Hour {
		t.Errorf("resolution median %v, p90 %v", p50, p90)
	}
	if r.first != (tally{met: 3, breached: 2}) || r.next != (tally{met: 1}) || r.overdue != 1 {
		t.Errorf("targets: first %+v, next %+v, overdue now %d", r.first, r.next, r.overdue)
	}
	if a, b := r.agents["UALICE"], r.agents["UBOB"]; len(r.agents) != 2 || *a != (agentTally{replies: 3, closed: 2}) || *b != (agentTally{replies: 3, closed: 3}) {
		t.Errorf("agents %v %v", r.agents["UALICE"], r.agents["UBOB"])
	}
	want := [24]int{8: 1, 10: 1, 11: 2, 12: 1, 14: 1, 16: 1}
	if r.hours != want {
		t.Errorf("hours %v, want %v", r.hours, want)
	}

	text := r.render(func(id string) string {
		return map[string]string{"UALICE": "Alice `Agent`", "UBOB": "<!channel> Bob"}[id]
	})
	for _, w := range []string{
		"*Acme Support* · last 7 days (Mon 30 Nov 18:00 – Mon 7 Dec 18:00, Europe/Berlin)\n```\n",
		"Received      6 conversations, 7 mails\n",
		"Closed        5 (1 reopened)\n",
		"First reply   median 2h · p90 10h (5)\n",
		"Next replies  median 8h · p90 8h (1)\n",
		"Resolution    median 3h · p90 12h (5)\n",
		"First target  4h: 3 met, 2 breached (60%)\n",
		"Next target   8h: 1 met, 0 breached (100%)\n",
		"Waiting now   1 past target\n",
		"&lt;!channel&gt; Bob             3       3\nAlice 'Agent'              3       2\n",
		"11 ████████████████████ 2\n12 ██████████           1\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("report lacks %q:\n%s", w, text)
		}
	}
	if !strings.HasSuffix(text, "```") || strings.Count(text, "```") != 2 {
		t.Errorf("not one code block:\n%s", text)
	}
}

// Each period counts what happened in it: the week and the month are the
// calendar's in the inbox's zone.
func TestStatsPeriods(t *testing.T) {
	h, in := seedWeek(t)
	for _, tc := range []struct {
		word, from      string
		received, close int
		first           []time.Duration
	}{
		{"week", "Mon 2026-12-07 00:00", 1, 2, hours(1, 2)},
		{"month", "Tue 2026-12-01 00:00", 6, 5, hours(0.5, 1, 2, 8, 10)},
		{"30d", "Sat 2026-11-07 18:00", 7, 5, hours(0.5, 1, 2, 8, 10)},
	} {
		from, label, ok := period(tc.word, h.now, h.loc)
		want, _ := time.ParseInLocation("Mon 2006-01-02 15:04", tc.from, h.loc)
		if !ok || !from.Equal(want) {
			t.Errorf("%s: from %v (%s), want %v", tc.word, from, label, want)
			continue
		}
		r := newReport(&in, from, h.now, label)
		if err := collect(h.st, []*report{r}, h.now); err != nil {
			t.Fatal(err)
		}
		if r.received != tc.received || r.closed != tc.close || !reflect.DeepEqual(r.firstResp, tc.first) {
			t.Errorf("%s: received %d, closed %d, first responses %v; want %d, %d, %v", tc.word, r.received, r.closed, r.firstResp,
				tc.received, tc.close, tc.first)
		}
	}
	if _, _, ok := period("fortnight", h.now, h.loc); ok {
		t.Error("an unknown period was accepted")
	}
}

// Without a calendar every hour counts; without targets nothing is judged,
// and an empty period says so.
func TestStatsNoCalendarNoTargets(t *testing.T) {
	h := newHistory(t, "a@x")
	in := Inbox{ID: "a@x", Address: "a@x"}
	h.at("Fri 2026-12-04 16:00")
	c := h.mail(in.ID, 0, false)
	h.at("Mon 2026-12-07 10:00")
	h.reply(c, "UA")
	r := newReport(&in, h.now.Add(-7*24*time.Hour), h.now.Add(time.Minute), "last 7 days")
	if err := collect(h.st, []*report{r}, h.now); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.firstResp, hours(66)) || r.first != (tally{}) || r.overdue != 0 {
		t.Errorf("first responses %v, targets %+v, overdue %d", r.firstResp, r.first, r.overdue)
	}
	text := r.render(func(string) string { return "" })
	if strings.Contains(text, "target") || !strings.Contains(text, "median 66h") || !strings.Contains(text, "UA") {
		t.Errorf("report:\n%s", text)
	}
	empty := newReport(&in, h.now.Add(time.Hour), h.now.Add(2*time.Hour), "x")
	collect(h.st, []*report{empty}, h.now)
	if text := empty.render(func(string) string { return "" }); !strings.Contains(text, "No mail from customers") || !strings.Contains(text, "First reply   none") {
		t.Errorf("empty report:\n%s", text)
	}
}

func TestTableSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0m", 45 * time.Minute: "45m", 90 * time.Minute: "1h 30m", 3 * time.Hour: "3h", 9*time.Hour + 59*time.Minute: "9h 59m",
		10*time.Hour + 20*time.Minute: "10h", 51 * time.Hour: "51h", 89 * time.Second: "1m",
	} {
		if got := tableSpan(d); got != want {
			t.Errorf("tableSpan(%v) = %q, want %q", d, got, want)
		}
	}
}

// BenchmarkStats times /inbox stats over a period of 100,000 events (25,000
// conversations opened, answered and closed within 30 days by 20 agents),
// in working time: the one cursor pass and the rendering.
func BenchmarkStats(b *testing.B) {
	cal, err := workhours.New("Europe/Berlin", "mon-fri", "09:00-17:00", nil)
	if err != nil {
		b.Fatal(err)
	}
	in := statsInbox
	in.Calendar = cal
	h := newHistory(b, in.ID)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const convs = 25_000
	step := 29 * 24 * time.Hour / convs
	const batch = 5000
	for lo := 0; lo < convs; lo += batch {
		h.now = start.Add(time.Duration(lo) * step)
		var mails []store.Inbound
		for i := lo; i < lo+batch; i++ {
			h.uid++
			mails = append(mails, store.Inbound{UID: h.uid, Mail: &store.InboundMail{MessageID: fmt.Sprintf("m%d@x", i),
				From: store.Address{Addr: "c@x"}, Subject: "s", Text: "t"}})
		}
		if _, err := h.st.RecordInbound(in.ID, "INBOX", 1, mails); err != nil {
			b.Fatal(err)
		}
	}
	for i := range convs {
		h.now = start.Add(time.Duration(i)*step + 3*time.Hour)
		agent := fmt.Sprintf("U%02d", i%20)
		h.reply(uint64(i+1), agent) // claims it too: an assignment event
		h.now = h.now.Add(5 * time.Hour)
		h.act(uint64(i+1), store.ActClose, agent)
	}
	n := 0
	h.st.Events(start, start.Add(40*24*time.Hour), func(*store.Event) error { n++; return nil })
	if n != 4*convs {
		b.Fatalf("%d events", n)
	}
	now := start.Add(30 * 24 * time.Hour)
	b.ResetTimer()
	b.ReportAllocs()
	for b.Loop() {
		from, label, _ := period("30d", now, cal.Location())
		r := newReport(&in, from, now, label)
		if err := collect(h.st, []*report{r}, now); err != nil {
			b.Fatal(err)
		}
		if r.closed != convs {
			b.Fatalf("closed %d", r.closed)
		}
		r.render(func(id string) string { return id })
	}
}

// One pass serves several inboxes, each with its own period: an event
// counts for its inbox only.
func TestStatsPerInbox(t *testing.T) {
	h := newHistory(t, "a@x")
	h.st.SetWatermark("b@x", "INBOX", store.Watermark{UIDValidity: 1})
	a, b := Inbox{ID: "a@x", Address: "a@x"}, Inbox{ID: "b@x", Address: "b@x"}
	h.at("Mon 2026-12-07 10:00")
	h.mail(a.ID, 0, false)
	h.at("Mon 2026-12-07 11:00")
	h.mail(b.ID, 0, false)
	h.at("Mon 2026-12-07 12:00")
	h.mail(b.ID, 0, false)
	h.at("Mon 2026-12-07 13:00")
	ra := newReport(&a, h.now.Add(-24*time.Hour), h.now, "a")
	rb := newReport(&b, h.now.Add(-90*time.Minute), h.now, "b") // from 11:30
	if err := collect(h.st, []*report{ra, rb}, h.now); err != nil {
		t.Fatal(err)
	}
	if ra.received != 1 || rb.received != 1 || rb.hours[11] != 1 {
		t.Errorf("a received %d, b received %d (hours %v); want 1 and 1, at 11 UTC (12 in Berlin: no calendar, UTC)", ra.received, rb.received, rb.hours)
	}
}

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// allBuckets are the buckets of schema 2 (store.go's tree).
var allBuckets = [][]byte{bMeta, bMailboxes, bConvs, bConvText, bIdxStatus, bIdxClosed, bIdxTags, bIdxCustomer, bThreads,
	bMsgIDs, bToSlack, bRoots, bCards, bParked, bToMail, bEvents, bAutoFlood, bOAuth, bBlocked, bEventLog, bTimers, bSavedReplies}

// openSchema1 copies the schema-1 fixture (written by the schema-1 store,
// see testdata/schema1-gen.go.txt) and opens it with o.
func openSchema1(t *testing.T, o Options) (*Store, error) {
	t.Helper()
	path := copySchema1(t)
	s, err := Open(path, o)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// copySchema1 copies the schema-1 fixture and returns the copy's path.
func copySchema1(t *testing.T) string {
	t.Helper()
	src, err := os.Open("testdata/schema1.db")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "v1.db")
	dst, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	dst.Close()
	return path
}

func TestMigration2FromSchema1(t *testing.T) {
	if _, err := openSchema1(t, Options{}); err == nil {
		t.Fatal("a schema-1 file with data migrated without knowing its inbox")
	}
	s, err := openSchema1(t, Options{Legacy: Legacy{Inbox: testInbox, Channel: "CIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Schema(); v != 2 {
		t.Fatalf("schema %d", v)
	}
	c1, err := s.ConvByThread("CIN", "1700000000.000100")
	if err != nil {
		t.Fatal(err)
	}
	if c1.Num != 1 || c1.Inbox != testInbox || c1.Channel != "CIN" || c1.Assignee != "UBOB" || c1.Status != StatusOpen ||
		c1.Preview != "hello Printer on fire" || c1.First == nil || len(c1.First.Attachments) != 1 || len(c1.History) != 1 ||
		!reflect.DeepEqual(c1.Chain, []string{"m1@example.com", "m5@example.com"}) {
		t.Errorf("conversation 1 after migration: %+v", c1)
	}
	c4, _ := s.Conv(4)
	if c4.Inbox != testInbox || c4.Channel != "" || c4.RootTS != "" {
		t.Errorf("unposted conversation 4: %+v", c4)
	}
	if w, ok, _ := s.Watermark(testInbox, "INBOX"); !ok || w.UIDValidity != 7 || w.LastUID != 20 {
		t.Errorf("watermark %+v %v", w, ok)
	}
	if n, _ := s.UnresolvedRoots("CIN"); n != 1 {
		t.Errorf("the interrupted root post of conversation 4 is not unresolved: %d", n)
	}
	jobs, _ := s.MailJobs()
	if len(jobs) != 1 || jobs[0].Inbox != testInbox || jobs[0].Conv != 2 {
		t.Errorf("outbox %+v", jobs)
	}
	if ok, _ := s.Handled("CIN", "1700000000.000500"); !ok {
		t.Error("the handled reply's dedup key was not carried over")
	}
	if a, _ := s.Alive("CIN"); a.IsZero() {
		t.Error("no alive mark from slack_seen")
	}
	n, err := s.Count([]string{testInbox}, time.Time{})
	if err != nil || n.Open != 3 || n.Unassigned != 1 || n.OpenPerAssignee["UBOB"] != 1 || n.OpenPerAssignee["UALICE"] != 1 || n.ClosedSince != 1 {
		t.Errorf("counts %+v %v", n, err)
	}
	cards, _ := s.CardsAfter(0, 10)
	if len(cards) == 0 {
		t.Error("pending jobs' cards not marked")
	}
	// Schema 1 knew the customer and the reply address: they are the
	// participants, so their next mail is not flagged as a stranger's.
	c2, _ := s.Conv(2)
	if len(c2.Participants) == 0 || !isParticipant(c2, c2.Customer.Addr) || !isParticipant(c2, c2.ReplyTo.Addr) || isParticipant(c2, "x@elsewhere.example") {
		t.Errorf("participants after migration: %v", c2.Participants)
	}
	s.db.View(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if tx.Bucket(b) == nil {
				t.Errorf("no bucket %s", b)
			}
		}
		return nil
	})
	// Every index is built for the migrated conversations: the customer
	// index among them, so their history is there from the start.
	checkIndexes(t, s)
	if rows, total, err := s.History(strings.ToUpper(c2.Customer.Addr), []string{testInbox}, 10); err != nil || total == 0 || !slices.ContainsFunc(rows, func(c Conversation) bool { return c.Num == 2 }) {
		t.Errorf("history of %s after migration: %d %+v %v", c2.Customer.Addr, total, rows, err)
	}
	// It keeps working: a new mail threads into a migrated conversation.
	m6 := mail("m6@example.com", "Re: Invoice", "m2@example.com")
	m6.From = c2.Customer
	if r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: 21, Mail: m6}}); err != nil || r[0].Conv != 2 {
		t.Errorf("threading after migration: %+v %v", r, err)
	}
	if jobs, _ := s.SlackJobs(); jobs[len(jobs)-1].NewAddress {
		t.Error("the customer's mail after migration is flagged as a stranger's")
	}
	// Their next new conversation's card names the migrated ones.
	m7 := mail("m7@example.com", "Another question")
	m7.From = c2.Customer
	r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: 22, Mail: m7}})
	if err != nil || !r[0].NewConv {
		t.Fatalf("new conversation after migration: %+v %v", r, err)
	}
	if c7, _ := s.Conv(r[0].Conv); c7.Earlier == nil || !slices.ContainsFunc(c7.Earlier.Recent, func(e EarlierConv) bool { return e.Num == 2 }) {
		t.Errorf("earlier conversations after migration: %+v", c7.Earlier)
	}
}

func TestListAndCountFromIndexes(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "l.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, in := range []string{"a@x", "b@x"} {
		s.SetWatermark(in, "INBOX", Watermark{UIDValidity: 1})
	}
	add := func(inbox string, uid uint32) uint64 {
		r, err := s.RecordInbound(inbox, "INBOX", 1, []Inbound{{UID: uid, Mail: mail(fmt.Sprintf("id%d-%s", uid, inbox), "s")}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0].Conv
	}
	for uid := uint32(1); uid <= 6; uid++ {
		add("a@x", uid)
	}
	b1 := add("b@x", 1)
	s.Act(1, ActClaim, "UA", "", "")
	s.Act(2, ActClaim, "UB", "", "")
	s.Act(3, ActHold, "UA", "", "")
	s.Act(4, ActClose, "UA", "", "")
	now = now.Add(-48 * time.Hour) // closed two days ago
	s.Act(5, ActClose, "UA", "", "")
	now = now.Add(48 * time.Hour)
	s.Act(b1, ActClaim, "UA", "", "")

	n, _ := s.Count([]string{"a@x"}, now.Add(-time.Hour))
	want := Counts{Open: 3, Unassigned: 1, Hold: 1, ClosedSince: 1, OpenPerAssignee: map[string]int{"UA": 1, "UB": 1}}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("counts a@x %+v, want %+v", n, want)
	}
	n, _ = s.Count([]string{"a@x", "b@x"}, time.Time{})
	if n.Open != 4 || n.OpenPerAssignee["UA"] != 2 || n.ClosedSince != 2 {
		t.Errorf("counts of both %+v", n)
	}
	ua := "UA"
	rows, total, err := s.List(ListQuery{Inboxes: []string{"a@x", "b@x"}, Statuses: []Status{StatusOpen, StatusWaiting}, Assignee: &ua, Limit: 10})
	if err != nil || total != 2 || len(rows) != 2 || rows[0].Num != 1 || rows[1].Num != b1 || rows[1].Preview != "" {
		t.Errorf("mine: %d %+v %v", total, rows, err)
	}
	rows, total, _ = s.List(ListQuery{Inboxes: []string{"a@x"}, Statuses: []Status{StatusClosed}, Limit: 1, Newest: true})
	if total != 2 || len(rows) != 1 || rows[0].Num != 5 {
		t.Errorf("closed newest first, limit 1: %d %+v", total, rows)
	}
	nobody := ""
	if _, total, _ := s.List(ListQuery{Inboxes: []string{"a@x"}, Statuses: []Status{StatusOpen}, Assignee: &nobody}); total != 1 {
		t.Errorf("unassigned open: %d", total)
	}
	// The indexes follow a reopen by the customer.
	if r, err := s.RecordInbound("a@x", "INBOX", 1, []Inbound{{UID: 7, Mail: mail("re4@x", "Re: s", "id4-a@x")}}); err != nil || r[0].Conv != 4 {
		t.Fatalf("answer to 4: %+v %v", r, err)
	}
	n, _ = s.Count([]string{"a@x"}, now.Add(-time.Hour))
	if n.Open != 4 || n.ClosedSince != 0 {
		t.Errorf("after the customer reopened 4: %+v", n)
	}
	// Every inbox's, per status, for the metrics.
	if all, err := s.ConvCounts(); err != nil || !reflect.DeepEqual(all, map[Status]int{StatusOpen: 5, StatusHold: 1, StatusClosed: 1}) {
		t.Errorf("conversations per status: %v %v", all, err)
	}
}

func TestParkDecidesInOneTransaction(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("p1@x", "Park"))
	jobs, _ := s.SlackJobs()
	seq := jobs[0].Seq
	if c, parked, err := s.Park("CIN", "9.1", []byte(`{}`)); c != nil || parked || err != nil {
		t.Fatalf("nothing unresolved: %v %v %v", c, parked, err)
	}
	if err := s.BeginSlackPart(seq, 0, "CIN", true); err != nil {
		t.Fatal(err)
	}
	if _, parked, _ := s.Park("COTHER", "9.1", []byte(`{}`)); parked {
		t.Error("parked an event of a channel with nothing unresolved")
	}
	if c, parked, _ := s.Park("CIN", "9.1", []byte(`{"x":1}`)); c != nil || !parked {
		t.Fatal("event not parked while a root is unresolved")
	}
	// A lookup that failed keeps the root unresolved; a rate-limited post
	// (Slack said no) resolves it.
	s.RetrySlackJob(seq, time.Now(), "lookup failed", true, false)
	if n, _ := s.UnresolvedRoots("CIN"); n != 1 {
		t.Fatal("a failed lookup resolved the root")
	}
	if j, _ := s.SlackJobs(); !j[0].Attempting || j[0].Attempts != 0 {
		t.Errorf("after a failed lookup: %+v", j[0])
	}
	if err := s.SlackPartDone(seq, 0, "CIN", "9.1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SlackPartDone(seq, 0, "CIN", "9.2"); err != nil {
		t.Fatal(err)
	}
	if j, _ := s.SlackJobs(); j[0].Done != 1 {
		t.Errorf("a repeated SlackPartDone counted twice: %+v", j[0])
	}
	if n, _ := s.UnresolvedRoots(""); n != 0 {
		t.Errorf("root still unresolved: %d", n)
	}
	ps, _ := s.ParkedAfter(0, 10)
	if len(ps) != 1 || string(ps[0].Event) != `{"x":1}` || ps[0].ThreadTS != "9.1" {
		t.Fatalf("parked %+v", ps)
	}
	if err := s.Unpark(ps[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Unpark(ps[0].Seq); !errors.Is(err, ErrNotFound) {
		t.Errorf("second unpark: %v", err)
	}
	c, parked, _ := s.Park("CIN", "9.1", nil)
	if parked || c == nil || c.Num != 1 {
		t.Errorf("known thread: %+v %v", c, parked)
	}
}

func TestCardsCoalesce(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("c1@x", "Cards"))
	if cards, _ := s.CardsAfter(0, 10); len(cards) != 0 {
		t.Fatalf("a new conversation's card is marked: %+v", cards)
	}
	s.Act(1, ActClaim, "UA", "", "")
	s.Act(1, ActHold, "UA", "", "")
	cards, _ := s.CardsAfter(0, 10)
	if len(cards) != 1 || cards[0].Conv != 1 || cards[0].Version != 2 {
		t.Fatalf("cards %+v", cards)
	}
	s.Act(1, ActClose, "UA", "", "") // while the refresh of version 2 runs
	s.CardDone(cards[0])
	if again, _ := s.CardsAfter(0, 10); len(again) != 1 || again[0].Version != 3 {
		t.Fatalf("a change during a refresh was dropped: %+v", again)
	}
	s.CardDone(Card{Conv: 1, Version: 3})
	if again, _ := s.CardsAfter(0, 10); len(again) != 0 {
		t.Fatalf("card still marked: %+v", again)
	}
}

func TestHistoryCapped(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("h1@x", "History"))
	for i := 0; i < maxHistory+10; i++ {
		s.Act(1, ActClaim, []string{"UA", "UB"}[i%2], "", "")
	}
	c, _ := s.Conv(1)
	if len(c.History) != maxHistory || c.History[len(c.History)-1].By != "UB" {
		t.Errorf("history %d entries, last %+v", len(c.History), c.History[len(c.History)-1])
	}
}

func TestSameMailToTwoInboxesOneConversation(t *testing.T) {
	s, _ := openTest(t)
	for _, in := range []string{"a@x", "b@x"} {
		s.SetWatermark(in, "INBOX", Watermark{UIDValidity: 1})
	}
	ra, _ := s.RecordInbound("a@x", "INBOX", 1, []Inbound{{UID: 1, Mail: mail("both@x", "Both")}})
	rb, err := s.RecordInbound("b@x", "INBOX", 1, []Inbound{{UID: 1, Mail: mail("both@x", "Both")}})
	if err != nil || rb[0].Conv != ra[0].Conv || rb[0].NewConv {
		t.Fatalf("second inbox: %+v %v", rb, err)
	}
	jobs, _ := s.SlackJobs()
	last := jobs[len(jobs)-1]
	if len(jobs) != 2 || last.Kind != JobPointer || last.Inbox != "b@x" || last.Conv != ra[0].Conv || last.Mail.Text != "" {
		t.Errorf("jobs %+v", jobs)
	}
	if n, _ := s.Count([]string{"b@x"}, time.Time{}); n.Open != 0 {
		t.Errorf("b@x has a conversation: %+v", n)
	}
	// The same inbox receiving a reused Message-ID still records the mail.
	if r, _ := s.RecordInbound("a@x", "INBOX", 1, []Inbound{{UID: 2, Mail: mail("both@x", "Again")}}); r[0].Skipped != "" {
		t.Errorf("reused Message-ID in the same inbox: %+v", r)
	}
}

// An event about a known thread that has parked events is parked behind
// them: an edit must not overtake the reply it changes.
func TestParkBehindParkedEvents(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("pb@x", "Park behind"))
	jobs, _ := s.SlackJobs()
	s.BeginSlackPart(jobs[0].Seq, 0, "CIN", true)
	if _, parked, _ := s.Park("CIN", "5.1", []byte(`"reply"`)); !parked {
		t.Fatal("reply not parked")
	}
	s.SlackPartDone(jobs[0].Seq, 0, "CIN", "5.1")
	if c, parked, _ := s.Park("CIN", "5.1", []byte(`"edit"`)); !parked || c != nil {
		t.Fatalf("the edit overtook the parked reply: %+v %v", c, parked)
	}
	if any, _ := s.AnyParked(); !any {
		t.Error("AnyParked is false")
	}
	ps, _ := s.ParkedAfter(0, 10)
	for _, p := range ps {
		s.Unpark(p.Seq)
	}
	if c, parked, _ := s.Park("CIN", "5.1", []byte(`"later"`)); parked || c == nil || c.Num != 1 {
		t.Errorf("with nothing parked: %+v %v", c, parked)
	}
}

// Migration 2 logs what schema-1 records tell of the past (openings and
// the workflow history), so that stats cover the time before the log.
func TestMigration2BackfillsEventLog(t *testing.T) {
	s, err := openSchema1(t, Options{Legacy: Legacy{Inbox: testInbox, Channel: "CIN"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range allEvents(t, s) {
		got = append(got, fmt.Sprintf("%s #%d %s by=%s target=%s since=%v", e.At.UTC().Format("15:04"), e.Conv, e.Kind, e.By, e.Target,
			!e.Since.IsZero()))
		if e.Inbox != testInbox {
			t.Errorf("backfilled event without its inbox: %+v", e)
		}
	}
	want := []string{
		"10:01 #1 opened by= target=carl@example.com since=false",
		"10:02 #2 opened by= target=carl@example.com since=false",
		"10:03 #3 opened by= target=carl@example.com since=false",
		"10:04 #4 opened by= target=carl@example.com since=false",
		"10:05 #1 assigned by=UALICE target=UBOB since=false",
		"10:06 #3 closed by=UALICE target=open since=true",
		"10:07 #2 assigned by=UALICE target=UALICE since=false",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backfilled events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Open conversations nobody replied to are awaiting an answer.
	for num, awaiting := range map[uint64]bool{1: true, 2: true, 3: false} {
		if c, _ := s.Conv(num); c.Awaiting.IsZero() == awaiting || (awaiting && !c.Awaiting.Equal(c.Created)) {
			t.Errorf("#%d awaiting %v", num, c.Awaiting)
		}
	}
}

// A refresh that began before a mark was cleared and set again must not
// clear the new mark (its version would repeat if versions were counted
// per card): the card would keep the older state for good.
func TestCardMarkVersionsNeverRepeat(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("cv@x", "Versions"))
	s.Act(1, ActClaim, "UA", "", "")
	old, _ := s.CardsAfter(0, 10) // the queue's refresh reads the mark...
	s.CardDone(old[0])            // ...while the click's own refresh clears it
	s.Act(1, ActAssign, "UA", "UB", "")
	s.CardDone(old[0]) // the queue's refresh ends, having read the older state
	if cards, _ := s.CardsAfter(0, 10); len(cards) != 1 {
		t.Fatal("the assignment's mark was cleared by a refresh of the state before it")
	}
}

// A thank-you to a closed conversation keeps it closed (and starts no
// clock); anything more reopens it.
func TestThankYouKeepsClosed(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("ty1@x", "Printer"))
	s.Act(1, ActClose, "UA", "", "")
	thanks := mail("ty2@x", "Re: Printer", "ty1@x")
	thanks.Text = "Thanks a lot!\n\nCarl"
	record(t, s, 2, thanks)
	c, _ := s.Conv(1)
	if c.Status != StatusClosed || !c.Awaiting.IsZero() || c.Clock.Running() {
		t.Fatalf("a thank-you reopened the conversation: %s, awaiting %v", c.Status, c.Awaiting)
	}
	jobs, _ := s.SlackJobs()
	if last := jobs[len(jobs)-1]; last.Kind != JobActivity || last.Change.Action != ActKeptClosed {
		t.Errorf("no line saying it stays closed: %+v", last)
	}
	more := mail("ty3@x", "Re: Printer", "ty2@x")
	more.Text = "Thanks, but it is on fire again."
	record(t, s, 3, more)
	if c, _ := s.Conv(1); c.Status != StatusOpen {
		t.Errorf("a real answer did not reopen: %s", c.Status)
	}
}

// A reply whose headers name no message we know (a client dropped them, or
// a provider rewrote our Message-ID) is threaded by subject and sender into
// the customer's recent conversation; not a fresh mail, not someone else's.
func TestThreadingBySubjectAndSender(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s, err := Open(filepath.Join(t.TempDir(), "s.db"), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	uid := uint32(0)
	rec := func(m *InboundMail) Recorded {
		uid++
		r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: uid, Mail: m}})
		if err != nil {
			t.Fatal(err)
		}
		return r[0]
	}
	first := rec(mail("orig@x", "Printer on fire"))
	lost := mail("lost@x", "RE: Printer on fire") // In-Reply-To names a rewritten ID
	lost.InReplyTo = []string{"rewritten-by-ses@amazonses.com"}
	if r := rec(lost); r.Conv != first.Conv || r.NewConv {
		t.Errorf("reply with lost headers: %+v", r)
	}
	if c, _ := s.Conv(first.Conv); c.LastInbound != "lost@x" {
		t.Errorf("not threaded: %+v", c.LastInbound)
	}
	fresh := mail("fresh@x", "Printer on fire") // no reply prefix: a new mail
	if r := rec(fresh); !r.NewConv {
		t.Errorf("a fresh mail with the same subject was threaded: %+v", r)
	}
	other := mail("other@x", "Re: Printer on fire")
	other.From = Address{Addr: "mallory@example.org"}
	if r := rec(other); !r.NewConv {
		t.Errorf("someone else's Re: was threaded: %+v", r)
	}
	now = now.Add(40 * 24 * time.Hour)
	late := mail("late@x", "Re: Printer on fire")
	if r := rec(late); !r.NewConv {
		t.Errorf("a reply to a conversation idle for 40 days was threaded: %+v", r)
	}
}

// Schema 1 set a conversation waiting when a reply was sent: its customer
// is not waiting, and their next mail starts the next-response clock, not
// the first one.
func TestMigration2WaitingWasAnswered(t *testing.T) {
	path := copySchema1(t)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { // as if the reply to #2 had been sent
		b := tx.Bucket(bConvs)
		var c map[string]any
		if err := json.Unmarshal(b.Get(u64(2)), &c); err != nil {
			return err
		}
		c["status"] = StatusWaiting
		return putJSON(b, u64(2), c)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	targets := func(string) Targets { return Targets{First: time.Hour, Next: 2 * time.Hour} }
	s, err := Open(path, Options{Legacy: Legacy{Inbox: testInbox, Channel: "CIN"}, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c2, _ := s.Conv(2)
	if !c2.Awaiting.IsZero() || c2.FirstReply.IsZero() || c2.FirstReplyAt.IsZero() {
		t.Errorf("waiting #2 after migration: awaiting %v, first reply sent %v, released %v", c2.Awaiting, c2.FirstReply, c2.FirstReplyAt)
	}
	if c1, _ := s.Conv(1); !c1.Awaiting.Equal(c1.Created) || !c1.FirstReply.IsZero() {
		t.Errorf("open #1 after migration: awaiting %v, first reply %v", c1.Awaiting, c1.FirstReply)
	}
	m := mail("m6@example.com", "Re: Invoice", "m2@example.com")
	if r, err := s.RecordInbound(testInbox, "INBOX", 7, []Inbound{{UID: 21, Mail: m}}); err != nil || r[0].Conv != 2 {
		t.Fatalf("answer to #2: %+v %v", r, err)
	}
	if c2, _ := s.Conv(2); c2.Clock.Kind != ClockNext || c2.Awaiting.IsZero() {
		t.Errorf("the answer to #2 started clock %+v, awaiting %v", c2.Clock, c2.Awaiting)
	}
}

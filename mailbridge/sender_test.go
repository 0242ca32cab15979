package mailbridge

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/store"
)

// inboundFrom is a customer mail that starts a conversation; refs are its
// References.
func inboundFrom(from, msgID string, refs ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: Acme Support <support@acme.test>\r\nSubject: Printer on fire\r\nMessage-ID: <%s>\r\n", from, msgID)
	if len(refs) > 0 {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", refs[len(refs)-1], strings.Join(refs, "> <"))
	}
	b.WriteString("Date: Tue, 5 Mar 2024 10:15:00 +0100\r\n\r\nIt is on fire.\r\n")
	return []byte(b.String())
}

// nextUID is the UID the next mail recorded in the test inbox gets (its
// watermark is set at the first).
func nextUID(t testing.TB, st *store.Store) uint32 {
	t.Helper()
	wm, ok, err := st.Watermark(testInbox, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		if err := st.SetWatermark(testInbox, "INBOX", store.Watermark{UIDValidity: 1}); err != nil {
			t.Fatal(err)
		}
	}
	return wm.LastUID + 1
}

// recordMail records raw as the next mail of the test inbox and returns
// its conversation.
func recordMail(t testing.TB, st *store.Store, raw []byte) uint64 {
	t.Helper()
	res, err := st.RecordInbound(testInbox, "INBOX", 1, []store.Inbound{{UID: nextUID(t, st), Mail: message.ReadInbound(bytes.NewReader(raw))}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Conv
}

// queueReply records raw as a new conversation and queues an agent's
// reply to it, with files (not downloaded yet) if any.
func queueReply(t testing.TB, st *store.Store, raw []byte, agent, text string, files ...store.MailFile) *store.MailJob {
	t.Helper()
	conv := recordMail(t, st, raw)
	job, err := st.EnqueueReply(store.Reply{
		EventID: fmt.Sprintf("Ev%d", conv), Conv: conv, SlackTS: fmt.Sprintf("1700000000.%06d", conv),
		AgentID: "UALICE", AgentName: agent, Text: text, MessageID: fmt.Sprintf("reply-%d@acme.test", conv), Files: files,
	})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func testSMTPConfig(addr string) SMTPConfig {
	return SMTPConfig{
		Addr: addr, TLS: TLSNone, FromAddr: "support@acme.test", FromName: "Acme Support",
		RetryBase: 20 * time.Millisecond,
	}
}

// startTLSConfig is the configuration for a mailtest SMTP server with
// STARTTLS, logging in as user (none when "").
func startTLSConfig(addr, user, password string) SMTPConfig {
	cfg := testSMTPConfig(addr)
	cfg.TLS, cfg.TLSConfig = TLSStartTLS, mailtest.ClientTLSConfig()
	cfg.Username, cfg.Password = user, password
	return cfg
}

// closedAddr is an address on this host where nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runSender runs s.Run in a goroutine until the test ends (or stop).
func runSender(t testing.TB, s *Sender) (stop func()) {
	t.Helper()
	return runUntilCancel(t, "Sender.Run", s.Run)
}

// waitOutcome waits until the outbox is empty and returns the sent/failed
// job queued for Slack.
func waitOutcome(t testing.TB, st *store.Store) store.SlackJob {
	t.Helper()
	var out []store.SlackJob
	waitFor(t, 10*time.Second, "the reply's outcome", func() bool {
		mj, err := st.MailJobs()
		if err != nil {
			t.Fatal(err)
		}
		sj, err := st.SlackJobs()
		if err != nil {
			t.Fatal(err)
		}
		out = out[:0]
		for _, j := range sj {
			if j.Kind == store.JobSent || j.Kind == store.JobFailed {
				out = append(out, j)
			}
		}
		return len(mj) == 0 && len(out) > 0
	})
	if len(out) != 1 {
		t.Fatalf("%d outcomes queued for Slack, want 1: %+v", len(out), out)
	}
	return out[0]
}

func waitSMTP(t testing.TB, srv *mailtest.SMTPServer, n int) []mailtest.Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := srv.WaitFor(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func parseSent(t testing.TB, data []byte) *netmail.Message {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("sent mail does not parse: %v\n%s", err, data)
	}
	return m
}

// checkReply checks the headers and text of a sent reply against its job.
func checkReply(t testing.TB, data []byte, job *store.MailJob, fromName, fromAddr, text string) {
	t.Helper()
	m := parseSent(t, data)
	h := m.Header
	from, err := netmail.ParseAddress(h.Get("From"))
	if err != nil || from.Name != fromName || from.Address != fromAddr {
		t.Errorf("From %q = %+v (%v), want %q <%s>", h.Get("From"), from, err, fromName, fromAddr)
	}
	to, err := netmail.ParseAddress(h.Get("To"))
	if err != nil || to.Name != job.To.Name || to.Address != job.To.Addr {
		t.Errorf("To %q = %+v (%v), want %+v", h.Get("To"), to, err, job.To)
	}
	if got, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); got != job.Subject {
		t.Errorf("Subject %q, want %q", got, job.Subject)
	}
	if got, want := h.Get("Message-Id"), "<"+job.MessageID+">"; got != want {
		t.Errorf("Message-ID %q, want %q", got, want)
	}
	if got, want := h.Get("In-Reply-To"), "<"+job.InReplyTo+">"; got != want {
		t.Errorf("In-Reply-To %q, want %q", got, want)
	}
	if refs := h["References"]; len(refs) != 1 {
		t.Errorf("%d References headers, want one: %q", len(refs), refs)
	} else {
		var want []string
		for _, id := range job.References {
			want = append(want, "<"+id+">")
		}
		if got := strings.Fields(refs[0]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("References %q, want the IDs %q separated by spaces", refs[0], want)
		}
		if strings.Contains(refs[0], ",") {
			t.Errorf("References %q has commas", refs[0])
		}
	}
	if date, err := h.Date(); err != nil || !date.Equal(job.Created.Truncate(time.Second)) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, job.Created)
	}
	parsed, err := message.Parse(bytes.NewReader(data))
	if err != nil || parsed.Text != text {
		t.Errorf("body text %q (%v), want %q", parsed.Text, err, text)
	}
}

func TestSenderSendsReply(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)

	// 30 References: the header is longer than a line and gets folded;
	// it must still be one header of space-separated IDs.
	var refs []string
	for i := range 30 {
		refs = append(refs, fmt.Sprintf("thread-%02d.some-long-local-part@mail.example.com", i))
	}
	job := queueReply(t, st, inboundFrom("Bob Customer <bob@example.com>", "c1@example.com", refs...), "Alice Agent", "Hello Bob,\n\nwe put it out.\n\nAlice")
	if len(job.References) != 31 || job.InReplyTo != "c1@example.com" {
		t.Fatalf("job threading: %+v", job)
	}

	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	msgs := waitSMTP(t, srv, 1)
	got := msgs[0]
	if got.From != "support@acme.test" || len(got.To) != 1 || got.To[0] != "bob@example.com" {
		t.Errorf("envelope from %q to %q", got.From, got.To)
	}
	if got.Authed != "" {
		t.Errorf("authenticated as %q without a username", got.Authed)
	}
	checkReply(t, got.Data, job, "Alice Agent (Acme Support)", "support@acme.test", "Hello Bob,\n\nwe put it out.\n\nAlice")

	out := waitOutcome(t, st)
	if out.Kind != store.JobSent || out.Conv != job.Conv || out.ReplyTS != job.SlackTS || out.Error != "" {
		t.Errorf("outcome %+v, want sent for conversation %d, message %s", out, job.Conv, job.SlackTS)
	}
	if c, err := st.Conv(job.Conv); err != nil || c.Status != store.StatusWaiting {
		t.Errorf("conversation after the reply: %+v, %v; want waiting", c, err)
	}
	if n := srv.Transactions(); n != 1 {
		t.Errorf("%d SMTP transactions, want 1", n)
	}
}

// Display names with quotes and backslashes (a customer's name with a
// stray quote, a Slack name with a nickname in quotes) and non-ASCII ones
// must reach the recipient as they are, and must not make the reply fail.
func TestSenderAwkwardNames(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)

	job := queueReply(t, st, inboundFrom(`"Bob \"The Builder O'Brien \\ Søn" <bob@example.com>`, "c1@example.com"),
		`Alice "Ace" Agent`, "Done.")
	if job.To.Name != `Bob "The Builder O'Brien \ Søn` {
		t.Fatalf("customer name parsed as %q", job.To.Name)
	}
	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	msgs := waitSMTP(t, srv, 1)
	checkReply(t, msgs[0].Data, job, `Alice "Ace" Agent (Acme Support)`, "support@acme.test", "Done.")
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
}

func TestSenderTemporaryFailureIsRetried(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	job := queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")

	srv.FailNext("RCPT", 451, "greylisted, try again later")
	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	msgs := waitSMTP(t, srv, 1)
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v, want sent", out)
	}
	if n := srv.Transactions(); n != 2 {
		t.Errorf("%d transactions, want 2 (a failed one, then the retry)", n)
	}
	if id := parseSent(t, msgs[0].Data).Header.Get("Message-Id"); id != "<"+job.MessageID+">" {
		t.Errorf("retry has Message-ID %q, want the job's", id)
	}
}

func TestSenderPermanentFailure(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")

	srv.FailNext("RCPT", 550, "no such user here")
	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	out := waitOutcome(t, st)
	if out.Kind != store.JobFailed || !strings.Contains(out.Error, "550") || !strings.Contains(out.Error, "no such user here") {
		t.Errorf("outcome %+v, want failed with the server's answer", out)
	}
	if out.To != "bob@example.com" {
		t.Errorf("outcome To %q", out.To)
	}
	if n, msgs := srv.Transactions(), srv.Messages(); n != 1 || len(msgs) != 0 {
		t.Errorf("%d transactions, %d messages; want 1 and 0 (no retry)", n, len(msgs))
	}
}

func TestSenderUnreachableServer(t *testing.T) {
	addr := closedAddr(t)
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	cfg := testSMTPConfig(addr)
	cfg.RetryBase = time.Hour // one attempt within the test
	start := time.Now()
	runSender(t, NewSender(cfg, st, log))

	var job store.MailJob
	waitFor(t, 10*time.Second, "the failed attempt to be recorded", func() bool {
		jobs, err := st.MailJobs()
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) != 1 {
			t.Fatalf("outbox has %d jobs", len(jobs))
		}
		job = jobs[0]
		return job.LastError != ""
	})
	if job.Attempts != 1 || !job.NextAttempt.After(start.Add(29*time.Minute)) {
		t.Errorf("job after the failure: attempts %d, next %v; want 1, in half an hour (the backoff's cap)", job.Attempts, job.NextAttempt)
	}
	if !strings.Contains(job.LastError, "refused") {
		t.Errorf("LastError %q", job.LastError)
	}
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobSent || j.Kind == store.JobFailed {
			t.Errorf("unexpected outcome %+v for a temporary failure", j)
		}
	}
}

func mustSlackJobs(t testing.TB, st *store.Store) []store.SlackJob {
	t.Helper()
	jobs, err := st.SlackJobs()
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func TestSenderGivesUpAfterMaxAttempts(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")

	for range 3 {
		srv.FailNext("MAIL", 421, "too busy")
	}
	cfg := testSMTPConfig(srv.Addr)
	cfg.MaxAttempts = 3
	runSender(t, NewSender(cfg, st, log))
	out := waitOutcome(t, st)
	if out.Kind != store.JobFailed || !strings.Contains(out.Error, "too busy") {
		t.Errorf("outcome %+v, want failed after the last attempt", out)
	}
	if n := srv.Transactions(); n != 3 {
		t.Errorf("%d transactions, want 3", n)
	}
}

// When the link dies after the message was sent but before the answer,
// the reply is sent again, with the same Message-ID so the recipient's
// client sees one message.
func TestSenderLostAnswerResendsSameMessage(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	job := queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")

	srv.DropAfterDataNext()
	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	msgs := waitSMTP(t, srv, 2)
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
	for i, m := range msgs {
		if id := parseSent(t, m.Data).Header.Get("Message-Id"); id != "<"+job.MessageID+">" {
			t.Errorf("copy %d has Message-ID %q", i, id)
		}
	}
	if !bytes.Equal(msgs[0].Data, msgs[1].Data) {
		t.Errorf("the retry is not the very same message:\n%s\n---\n%s", msgs[0].Data, msgs[1].Data)
	}
}

// quitFailSMTP is a minimal SMTP server that accepts every message and
// then drops the connection on the next command (go-mail's RSET or QUIT):
// the mail was delivered, the session ended badly.
func quitFailSMTP(t testing.TB) (addr string, delivered func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	serve := func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		fmt.Fprint(c, "220 fake ESMTP\r\n")
		sent := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case sent && (strings.HasPrefix(cmd, "RSET") || strings.HasPrefix(cmd, "QUIT")):
				return // drop
			case strings.HasPrefix(cmd, "EHLO"):
				fmt.Fprint(c, "250-fake\r\n250 8BITMIME\r\n")
			case strings.HasPrefix(cmd, "DATA"):
				fmt.Fprint(c, "354 go on\r\n")
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
				}
				mu.Lock()
				n++
				mu.Unlock()
				sent = true
				fmt.Fprint(c, "250 queued\r\n")
			case strings.HasPrefix(cmd, "QUIT"):
				fmt.Fprint(c, "221 bye\r\n")
				return
			default:
				fmt.Fprint(c, "250 ok\r\n")
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func TestSenderDeliveredThenSessionFails(t *testing.T) {
	addr, delivered := quitFailSMTP(t)
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")

	runSender(t, NewSender(testSMTPConfig(addr), st, log))
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v, want sent", out)
	}
	if n := delivered(); n != 1 {
		t.Errorf("delivered %d times, want once", n)
	}
}

func TestSenderAuth(t *testing.T) {
	for _, tc := range []struct {
		name       string
		user, pass string
		wantAuthed string
	}{
		{"with username", mailtest.SMTPUser, mailtest.SMTPPass, mailtest.SMTPUser},
		{"without username", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{STARTTLS: true})
			st := openStore(t)
			log, _ := testLog(t)
			queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
			runSender(t, NewSender(startTLSConfig(srv.Addr, tc.user, tc.pass), st, log))
			msgs := waitSMTP(t, srv, 1)
			if msgs[0].Authed != tc.wantAuthed {
				t.Errorf("Authed %q, want %q", msgs[0].Authed, tc.wantAuthed)
			}
			if out := waitOutcome(t, st); out.Kind != store.JobSent {
				t.Errorf("outcome %+v", out)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{STARTTLS: true})
		st := openStore(t)
		log, _ := testLog(t)
		queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
		cfg := startTLSConfig(srv.Addr, mailtest.SMTPUser, "wrong")
		cfg.RetryBase = time.Hour
		runSender(t, NewSender(cfg, st, log))
		// A refused login is a configuration problem to fix, not a reason
		// to drop the reply: it stays in the outbox.
		waitFor(t, 10*time.Second, "the failed attempt", func() bool {
			jobs, err := st.MailJobs()
			return err == nil && len(jobs) == 1 && jobs[0].LastError != ""
		})
		if msgs := srv.Messages(); len(msgs) != 0 {
			t.Errorf("sent %d messages with a wrong password", len(msgs))
		}
	})
	t.Run("STARTTLS required", func(t *testing.T) {
		srv := mailtest.NewSMTPServer(t) // offers no STARTTLS
		st := openStore(t)
		log, _ := testLog(t)
		queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
		cfg := testSMTPConfig(srv.Addr)
		cfg.TLS = TLSStartTLS
		cfg.RetryBase = time.Hour
		runSender(t, NewSender(cfg, st, log))
		waitFor(t, 10*time.Second, "the failed attempt", func() bool {
			jobs, err := st.MailJobs()
			return err == nil && len(jobs) == 1 && strings.Contains(jobs[0].LastError, "STARTTLS")
		})
		if msgs := srv.Messages(); len(msgs) != 0 {
			t.Errorf("sent %d messages in plaintext", len(msgs))
		}
	})
}

func TestIsTemporary(t *testing.T) {
	// Real go-mail errors, from the in-process SMTP server.
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	job := queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	s := NewSender(testSMTPConfig(srv.Addr), st, log)
	sendWith := func(fault func()) error {
		fault()
		err := s.send(context.Background(), log, *job)
		if err == nil {
			t.Fatal("send succeeded despite the fault")
		}
		return err
	}
	unreachable := NewSender(testSMTPConfig(closedAddr(t)), st, log)
	badAddr := NewSender(testSMTPConfig("no-port"), st, log)
	badFrom := testSMTPConfig(srv.Addr)
	badFrom.FromAddr = "not an address"

	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"MAIL 421", sendWith(func() { srv.FailNext("MAIL", 421, "busy") }), true},
		{"RCPT 451", sendWith(func() { srv.FailNext("RCPT", 451, "greylisted") }), true},
		{"DATA 452", sendWith(func() { srv.FailNext("DATA", 452, "mailbox full") }), true},
		{"MAIL 550", sendWith(func() { srv.FailNext("MAIL", 550, "blocked") }), false},
		{"RCPT 550", sendWith(func() { srv.FailNext("RCPT", 550, "no such user") }), false},
		{"DATA 554", sendWith(func() { srv.FailNext("DATA", 554, "spam") }), false},
		{"link lost after DATA", sendWith(srv.DropAfterDataNext), true},
		{"connection refused", unreachable.send(context.Background(), log, *job), true},
		{"bad SMTP address", badAddr.send(context.Background(), log, *job), false},
		{"bad From address", NewSender(badFrom, st, log).send(context.Background(), log, *job), false},
		{"plain error", errors.New("i/o timeout"), true},
		{"wrapped permanent", fmt.Errorf("outer: %w", &permanentError{errors.New("bad")}), false},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := IsTemporary(tc.err); got != tc.want {
			t.Errorf("%s: IsTemporary(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestFromName(t *testing.T) {
	for _, tc := range []struct{ agent, team, want string }{
		{"Alice Agent", "Acme Support", "Alice Agent (Acme Support)"},
		{"Alice Agent", "", "Alice Agent"},
		{"", "Acme Support", "Acme Support"},
		{"", "", ""},
		{`Alice "Ace" Agent`, "Acme", `Alice "Ace" Agent (Acme)`},
	} {
		if got := FromName(tc.agent, tc.team); got != tc.want {
			t.Errorf("FromName(%q, %q) = %q, want %q", tc.agent, tc.team, got, tc.want)
		}
	}
}

// A held reply is the bot's until it releases it: the sender passes it
// by, and sends it, with its Cc, once released.
func TestSenderLeavesHeldRepliesAndSendsCc(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	raw := "From: Bob Customer <bob@example.com>\r\nTo: support@acme.test, Partner <partner@example.com>\r\n" +
		"Cc: dan@example.com, support@acme.test\r\nSubject: Team\r\nMessage-ID: <team1@example.com>\r\n\r\nHello all\r\n"
	conv := recordMail(t, st, []byte(raw))
	wrote := time.Now()
	held, err := st.EnqueueReply(store.Reply{EventID: "EvHeld", Conv: conv, Channel: "C1",
		SlackTS: fmt.Sprintf("%d.%06d", wrote.Unix(), wrote.Nanosecond()/1000), AgentID: "UALICE", AgentName: "Alice",
		Text: "held text", MessageID: "held@acme.test", HoldUntil: wrote.Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	queueReply(t, st, inboundFrom("Carl <carl@example.com>", "c9@example.com"), "Alice", "not held")
	runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	got := waitSMTP(t, srv, 1)
	if !strings.Contains(string(got[0].Data), "not held") {
		t.Fatalf("first mail sent: %s", got[0].Data)
	}
	// The sender went through the outbox in order: it passed the held one.
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d mails: the held reply was sent", n)
	}
	if _, q, err := st.ReleaseReply(held.Seq, store.Look{Text: "released text"}); err != nil || q != nil {
		t.Fatal(err, q)
	}
	got = waitSMTP(t, srv, 2)
	m := parseSent(t, got[1].Data)
	if cc := m.Header.Get("Cc"); !strings.Contains(cc, "partner@example.com") || !strings.Contains(cc, "dan@example.com") || strings.Contains(cc, "support@") {
		t.Errorf("Cc %q", cc)
	}
	if want := []string{"bob@example.com", "partner@example.com", "dan@example.com"}; strings.Join(got[1].To, " ") != strings.Join(want, " ") {
		t.Errorf("envelope recipients %v, want %v", got[1].To, want)
	}
	var body bytes.Buffer
	body.ReadFrom(m.Body)
	if !strings.Contains(body.String(), "released text") {
		t.Errorf("body %q", body.String())
	}
}

// A shutdown during a session with a server that stopped answering does
// not wait for the SMTP timeout; the reply stays queued for the next start.
func TestSenderShutdownAbortsSession(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	srv.StallNext()
	st := openStore(t)
	log, _ := testLog(t)
	job := queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	stop := runSender(t, NewSender(testSMTPConfig(srv.Addr), st, log))
	waitFor(t, 10*time.Second, "the session to start", func() bool { return srv.Transactions() == 1 })
	stop() // fails the test unless Run returns within 10 s (the SMTP timeout is 60)
	jobs, err := st.MailJobs()
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].MessageID != job.MessageID || jobs[0].Attempts != 1 {
		t.Errorf("outbox after shutdown: %+v", jobs)
	}
}

// A reply that cannot go out for longer than StillTryingAfter gets one
// line in its thread saying so and why.
func TestSenderTellsThreadWhenLate(t *testing.T) {
	srv := mailtest.NewSMTPServer(t)
	for range 5 {
		srv.FailNext("MAIL", 451, "mailbox server down")
	}
	st := openStore(t)
	log, _ := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	cfg := testSMTPConfig(srv.Addr)
	cfg.RetryBase, cfg.StillTryingAfter = 10*time.Millisecond, 50*time.Millisecond
	runSender(t, NewSender(cfg, st, log))
	waitOutcome(t, st)
	var late []store.SlackJob
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobStillTrying {
			late = append(late, j)
		}
	}
	if len(late) != 1 || !strings.Contains(late[0].Error, "mailbox server down") || late[0].ReplyTS == "" {
		t.Errorf("still-trying jobs %+v, want one with the reason", late)
	}
}

func TestSenderLoginRefused(t *testing.T) {
	srv := mailtest.NewSMTPServerOpts(t, mailtest.SMTPOptions{STARTTLS: true})
	st := openStore(t)
	log, logs := testLog(t)
	queueReply(t, st, inboundFrom("bob@example.com", "c1@example.com"), "Alice", "Hi")
	cfg := startTLSConfig(srv.Addr, mailtest.SMTPUser, mailtest.SMTPPass)
	cfg.RetryBase = 10 * time.Millisecond
	srv.SetPassword("revoked")
	s := NewSender(cfg, st, log)
	runSender(t, s)
	waitFor(t, 10*time.Second, "a few refused logins", func() bool {
		return strings.Count(logs.String(), "Cannot log in to SMTP") >= 3
	})
	state := s.State()
	if state.Up || !state.Permanent || !strings.HasPrefix(state.Fix, "SMTP_PASSWORD: ") {
		t.Errorf("state %+v", state)
	}
	n := 0
	for _, j := range mustSlackJobs(t, st) {
		if j.Kind == store.JobNotice {
			n++
		}
		if j.Kind == store.JobFailed {
			t.Errorf("reply given up for a login problem: %+v", j)
		}
	}
	if n != 1 {
		t.Errorf("%d notices, want 1", n)
	}
	srv.SetPassword(mailtest.SMTPPass)
	if out := waitOutcome(t, st); out.Kind != store.JobSent {
		t.Errorf("outcome %+v", out)
	}
	if !s.State().Up {
		t.Errorf("state %+v after a sent reply", s.State())
	}
}

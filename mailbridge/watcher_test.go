package mailbridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inboxbot/inboxbot/mailbridge/mailtest"
	"github.com/inboxbot/inboxbot/mailbridge/message"
	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// syncBuffer is a log sink that the code under test writes from several
// goroutines while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLog returns a logger whose output is printed if the test fails.
func testLog(t testing.TB) (*slog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mailbridge log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "inboxbot.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// testInbox is the inbox the tests file mail under.
const testInbox = "support@acme.test"

func testIMAPConfig(srv *mailtest.IMAPServer) IMAPConfig {
	return IMAPConfig{
		Inbox: testInbox, Addr: srv.Addr, Username: srv.Username, Password: srv.Password, TLS: TLSNone,
		Recheck: 100 * time.Millisecond, IdleRestart: 2 * time.Second, Poll: 200 * time.Millisecond,
	}
}

// runWatcher runs w.Run in a goroutine until the test ends (or stop).
func runWatcher(t testing.TB, w *Watcher) (stop func()) {
	t.Helper()
	return runUntilCancel(t, "Watcher.Run", w.Run)
}

// runUntilCancel runs run in a goroutine; the returned stop cancels it and
// checks that it returns nil promptly (it is also registered with t.Cleanup).
func runUntilCancel(t testing.TB, name string, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s returned %v after cancel, want nil", name, err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("%s did not return within 10 s of cancel", name)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds, failing the test after deadline.
func waitFor(t testing.TB, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", deadline, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mailJobs returns the JobMail entries of the mail → Slack queue.
func mailJobs(t testing.TB, st *store.Store) []store.SlackJob {
	t.Helper()
	jobs, err := st.SlackJobs()
	if err != nil {
		t.Fatal(err)
	}
	var out []store.SlackJob
	for _, j := range jobs {
		if j.Kind == store.JobMail {
			out = append(out, j)
		}
	}
	return out
}

func waitMailJobs(t testing.TB, st *store.Store, n int, deadline time.Duration) []store.SlackJob {
	t.Helper()
	var jobs []store.SlackJob
	waitFor(t, deadline, fmt.Sprintf("%d mails recorded", n), func() bool {
		jobs = mailJobs(t, st)
		return len(jobs) >= n
	})
	return jobs
}

func watermark(t testing.TB, st *store.Store) (store.Watermark, bool) {
	t.Helper()
	wm, ok, err := st.Watermark(testInbox, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return wm, ok
}

// waitWatermark waits until the watcher has stored a watermark, that is,
// it has selected the mailbox: mail appended from then on is new mail.
func waitWatermark(t testing.TB, st *store.Store) store.Watermark {
	t.Helper()
	var wm store.Watermark
	waitFor(t, 10*time.Second, "the watcher to set the watermark", func() bool {
		var ok bool
		wm, ok = watermark(t, st)
		return ok
	})
	return wm
}

// customerMail is a plain mail from customer n.
func customerMail(n int, msgID string) []byte {
	return fmt.Appendf(nil, "From: Customer %[1]d <c%[1]d@example.com>\r\nTo: support@example.test\r\n"+
		"Subject: Question %[1]d\r\nMessage-ID: <%[2]s>\r\nDate: Tue, 5 Mar 2024 10:15:00 +0100\r\n"+
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of question %[1]d.\r\n", n, msgID)
}

// serverUIDState returns the INBOX's UIDVALIDITY and UIDNEXT as the server
// tells them.
func serverUIDState(t testing.TB, srv *mailtest.IMAPServer) (uidValidity, uidNext uint32) {
	t.Helper()
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(srv.Username, srv.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return sel.UIDValidity, uint32(sel.UIDNext)
}

func TestWatcherFirstStart(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)

	// Mail that was there before the bot: not imported.
	srv.Append(t, "INBOX", customerMail(100, "old-1@example.com"))
	srv.Append(t, "INBOX", customerMail(101, "old-2@example.com"))
	uidValidity, uidNext := serverUIDState(t, srv)

	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	wm := waitWatermark(t, st)
	if wm.UIDValidity != uidValidity || wm.LastUID != uidNext-1 {
		t.Errorf("first watermark = %+v, want UIDValidity %d, LastUID %d (UIDNEXT-1)", wm, uidValidity, uidNext-1)
	}

	for i := 1; i <= 3; i++ {
		srv.Append(t, "INBOX", customerMail(i, fmt.Sprintf("new-%d@example.com", i)))
	}
	jobs := waitMailJobs(t, st, 3, 10*time.Second)
	if len(jobs) != 3 {
		t.Fatalf("%d mails recorded, want 3: %+v", len(jobs), jobs)
	}
	for i, j := range jobs {
		n := i + 1
		if j.Conv != uint64(n) || !j.NewConv {
			t.Errorf("job %d: conv %d (new %v), want new conversation %d", i, j.Conv, j.NewConv, n)
		}
		if want := fmt.Sprintf("new-%d@example.com", n); j.Mail.MessageID != want {
			t.Errorf("job %d: Message-ID %q, want %q (in arrival order)", i, j.Mail.MessageID, want)
		}
		if want := fmt.Sprintf("Question %d", n); j.Mail.Subject != want || j.Mail.Text != fmt.Sprintf("Body of question %d.", n) {
			t.Errorf("job %d: Subject %q Text %q", i, j.Mail.Subject, j.Mail.Text)
		}
		if j.Mail.From.Addr != fmt.Sprintf("c%d@example.com", n) {
			t.Errorf("job %d: From %+v", i, j.Mail.From)
		}
	}
	if wm, _ := watermark(t, st); wm.LastUID != uidNext+2 {
		t.Errorf("watermark after 3 mails: %+v, want LastUID %d", wm, uidNext+2)
	}
}

func TestWatcherRestart(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	cfg := testIMAPConfig(srv)

	stop := runWatcher(t, NewWatcher(cfg, st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", customerMail(1, "m1@example.com"))
	waitMailJobs(t, st, 1, 10*time.Second)
	stop()

	// Mail that arrives while the bot is down.
	for i := 2; i <= 4; i++ {
		srv.Append(t, "INBOX", customerMail(i, fmt.Sprintf("m%d@example.com", i)))
	}
	if n := len(mailJobs(t, st)); n != 1 {
		t.Fatalf("%d mails recorded while stopped", n)
	}

	runWatcher(t, NewWatcher(cfg, st, log))
	waitMailJobs(t, st, 4, 10*time.Second)
	// One more mail after the catch-up: by the time it is recorded the
	// watcher has looked at the mailbox again, so a duplicate would show.
	srv.Append(t, "INBOX", customerMail(5, "m5@example.com"))
	jobs := waitMailJobs(t, st, 5, 10*time.Second)

	if len(jobs) != 5 {
		t.Fatalf("%d mails recorded, want 5 (each exactly once)", len(jobs))
	}
	for i, j := range jobs {
		if want := fmt.Sprintf("m%d@example.com", i+1); j.Mail.MessageID != want {
			t.Errorf("job %d: Message-ID %q, want %q", i, j.Mail.MessageID, want)
		}
	}
	if wm, _ := watermark(t, st); wm.LastUID != 5 {
		t.Errorf("watermark %+v, want LastUID 5", wm)
	}
}

func TestWatcherPollingWithoutIDLE(t *testing.T) {
	srv := mailtest.NewIMAPServerOpts(t, mailtest.IMAPOptions{NoIDLE: true})
	st := openStore(t)
	log, logs := testLog(t)

	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	waitWatermark(t, st)
	waitFor(t, 10*time.Second, "the watcher to connect", func() bool { return strings.Contains(logs.String(), "IMAP connected") })
	if !strings.Contains(logs.String(), "idle=false") {
		t.Fatalf("the watcher did not see a server without IDLE")
	}
	srv.Append(t, "INBOX", customerMail(1, "poll-1@example.com"))
	waitMailJobs(t, st, 1, 10*time.Second)
	srv.Append(t, "INBOX", customerMail(2, "poll-2@example.com"))
	jobs := waitMailJobs(t, st, 2, 10*time.Second)
	if len(jobs) != 2 || jobs[1].Mail.MessageID != "poll-2@example.com" {
		t.Errorf("jobs = %+v", jobs)
	}
	if strings.Contains(logs.String(), "IMAP session ended") {
		t.Errorf("the session failed while polling")
	}
}

func TestWatcherReconnects(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)

	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", customerMail(1, "before@example.com"))
	waitMailJobs(t, st, 1, 10*time.Second)

	srv.Close()
	waitFor(t, 10*time.Second, "the watcher to notice the lost connection", func() bool {
		return strings.Contains(logs.String(), "IMAP session ended")
	})
	srv.Restart(t)
	// Appended right away: the watcher is still waiting out its first
	// backoff (1 s), so this mail is found by the new session's catch-up
	// or its IDLE.
	srv.Append(t, "INBOX", customerMail(2, "after@example.com"))
	jobs := waitMailJobs(t, st, 2, 15*time.Second)
	if len(jobs) != 2 || jobs[1].Mail.MessageID != "after@example.com" {
		t.Errorf("jobs = %+v", jobs)
	}
	if n := strings.Count(logs.String(), "IMAP connected"); n < 2 {
		t.Errorf("connected %d times, want a reconnect", n)
	}
}

// freezeProxy forwards TCP connections to an upstream address. Freeze makes
// every connection open at that moment a black hole in both directions
// (data is accepted and dropped, nothing is closed), as a link that died
// silently; connections made later work normally.
type freezeProxy struct {
	Addr     string
	upstream string
	ln       net.Listener

	mu     sync.Mutex
	frozen chan struct{} // closed by Freeze for the connections of its generation
	conns  []net.Conn
}

func newFreezeProxy(t testing.TB, upstream string) *freezeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, frozen: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			frozen := p.frozen
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(u, c, frozen) }()
			go func() { defer wg.Done(); p.pipe(c, u, frozen) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn, frozen <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-frozen: // dropped
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			select {
			case <-frozen: // a dead link does not pass the close on either
			default:
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			return
		}
	}
}

func (p *freezeProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.frozen)
	p.frozen = make(chan struct{})
}

// A link that dies without a FIN or RST leaves imapclient waiting for an
// answer for ever (it sets no read deadline between responses): the
// command timeout must end the session so the watcher reconnects.
func TestWatcherDeadLink(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	proxy := newFreezeProxy(t, srv.Addr)
	st := openStore(t)
	log, logs := testLog(t)

	cfg := testIMAPConfig(srv)
	cfg.Addr = proxy.Addr
	w := NewWatcher(cfg, st, log)
	w.cmdTimeout = 500 * time.Millisecond
	runWatcher(t, w)
	waitWatermark(t, st)
	waitFor(t, 10*time.Second, "the watcher to connect", func() bool {
		return strings.Contains(logs.String(), "IMAP connected")
	})

	proxy.Freeze()
	srv.Append(t, "INBOX", customerMail(1, "after-freeze@example.com"))
	// IdleRestart (2 s) ends the IDLE; DONE gets no answer; the timeout
	// (0.5 s) closes the link; the backoff (1 s) passes; the new session
	// finds the mail.
	jobs := waitMailJobs(t, st, 1, 20*time.Second)
	if jobs[0].Mail.MessageID != "after-freeze@example.com" {
		t.Errorf("jobs = %+v", jobs)
	}
	if !strings.Contains(logs.String(), "no answer from the server within") {
		t.Errorf("the session did not end through the command timeout")
	}
}

func TestWatcherUIDValidityChange(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)

	old := [][]byte{customerMail(1, "seen-1@example.com"), customerMail(2, "seen-2@example.com")}
	for _, raw := range old {
		srv.Append(t, "INBOX", raw)
	}
	fresh := customerMail(3, "fresh@example.com")
	srv.Append(t, "INBOX", fresh)
	uidValidity, uidNext := serverUIDState(t, srv)

	// The store recorded the first two mails under another UIDVALIDITY
	// (say the mailbox was rebuilt since), with other UIDs.
	oldValidity := uidValidity + 1000
	if err := st.SetWatermark(testInbox, "INBOX", store.Watermark{UIDValidity: oldValidity, LastUID: 40, LastDate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var ins []store.Inbound
	for i, raw := range old {
		ins = append(ins, store.Inbound{UID: uint32(41 + i), Mail: message.ReadInbound(bytes.NewReader(raw))})
	}
	if _, err := st.RecordInbound(testInbox, "INBOX", oldValidity, ins); err != nil {
		t.Fatal(err)
	}

	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	waitFor(t, 10*time.Second, "the re-scan", func() bool {
		wm, _ := watermark(t, st)
		return wm.UIDValidity == uidValidity && wm.LastUID == uidNext-1
	})
	jobs := mailJobs(t, st)
	if len(jobs) != 3 {
		t.Fatalf("%d mails queued, want 3 (2 before the change, 1 new): %+v", len(jobs), jobs)
	}
	if jobs[2].Mail.MessageID != "fresh@example.com" || jobs[2].Conv != 3 {
		t.Errorf("third job: %+v, want fresh@example.com in conversation 3", jobs[2])
	}
	if !strings.Contains(logs.String(), "UIDVALIDITY changed") {
		t.Errorf("no UIDVALIDITY warning logged")
	}

	// After the re-scan, Message-IDs are not deduplicated: a sender that
	// reuses one must not make us drop a mail.
	srv.Append(t, "INBOX", customerMail(4, "seen-1@example.com"))
	jobs = waitMailJobs(t, st, 4, 10*time.Second)
	if len(jobs) != 4 || jobs[3].Mail.Subject != "Question 4" {
		t.Errorf("reused Message-ID after the re-scan: jobs = %+v", jobs)
	}
}

// A re-scan cut short (crash or reconnect) goes on deduplicating: where it
// stands is in the store, not in memory.
func TestWatcherUIDValidityRescanResumes(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)
	for i := 1; i <= 3; i++ {
		srv.Append(t, "INBOX", customerMail(i, fmt.Sprintf("seen-%d@example.com", i)))
	}
	uidValidity, uidNext := serverUIDState(t, srv)
	// The state a crash leaves after the first re-scanned mail: UIDVALIDITY
	// already the new one, mail 1 done, mails 2 and 3 known from before.
	oldValidity := uidValidity + 1000
	if err := st.SetWatermark(testInbox, "INBOX", store.Watermark{UIDValidity: oldValidity, LastUID: 40, LastDate: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var ins []store.Inbound
	for i := 1; i <= 3; i++ {
		ins = append(ins, store.Inbound{UID: uint32(40 + i), Mail: message.ReadInbound(bytes.NewReader(customerMail(i, fmt.Sprintf("seen-%d@example.com", i))))})
	}
	if _, err := st.RecordInbound(testInbox, "INBOX", oldValidity, ins); err != nil {
		t.Fatal(err)
	}
	if err := st.SetWatermark(testInbox, "INBOX", store.Watermark{UIDValidity: uidValidity, LastUID: 1, LastDate: time.Now(), DedupUpTo: uidNext - 1}); err != nil {
		t.Fatal(err)
	}
	srv.Append(t, "INBOX", customerMail(4, "fresh@example.com"))
	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	jobs := waitMailJobs(t, st, 4, 10*time.Second)
	waitFor(t, 10*time.Second, "the re-scan", func() bool { wm, _ := watermark(t, st); return wm.LastUID == uidNext })
	if jobs = mailJobs(t, st); len(jobs) != 4 || jobs[3].Mail.MessageID != "fresh@example.com" {
		t.Errorf("after a resumed re-scan: %d jobs, want the 3 old ones and the fresh one", len(jobs))
	}
}

func TestWatcherUnparseableMail(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)

	runWatcher(t, NewWatcher(testIMAPConfig(srv), st, log))
	waitWatermark(t, st)
	// Both start with an empty line: imapmemserver (behind mailtest's
	// in-process server) answers BODY[] with an empty literal when
	// go-message cannot read a header, while it takes an empty header.
	// Real servers hand out the raw bytes either way.
	noHeader := "\r\njust some text\r\nwithout any header\r\n"
	garbage := "\r\n\x01\x02\x03garbage\xff\xfe\xfd\x7f more garbage\x80\r\n"
	srv.Append(t, "INBOX", []byte(noHeader))
	srv.Append(t, "INBOX", []byte(garbage))
	srv.Append(t, "INBOX", customerMail(3, "fine@example.com"))

	jobs := waitMailJobs(t, st, 3, 10*time.Second)
	for i, want := range []string{"just some text", "garbage"} {
		m := jobs[i].Mail
		if m.ParseError == "" {
			t.Errorf("mail %d: no ParseError: %+v", i, m)
		}
		if !strings.Contains(m.Text, want) {
			t.Errorf("mail %d: Text %q does not hold the raw beginning %q", i, m.Text, want)
		}
		if m.Subject != "(unreadable mail)" || m.From.Addr == "" {
			t.Errorf("mail %d: Subject %q From %+v", i, m.Subject, m.From)
		}
	}
	if m := jobs[2].Mail; m.ParseError != "" || m.MessageID != "fine@example.com" {
		t.Errorf("the mail after the unreadable ones: %+v", m)
	}
}

func TestWatcherBigAttachment(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, _ := testLog(t)

	const size = 20 << 20
	raw, err := io.ReadAll(messagetest.BigAttachmentMail(size))
	if err != nil {
		t.Fatal(err)
	}
	cfg := testIMAPConfig(srv)
	cfg.Spool = openSpool(t, spool.Options{})
	runWatcher(t, NewWatcher(cfg, st, log))
	waitWatermark(t, st)
	srv.Append(t, "INBOX", raw)
	raw = nil

	jobs := waitMailJobs(t, st, 1, 60*time.Second)
	m := jobs[0].Mail
	want := messagetest.BigAttachmentSize(size)
	if len(m.Attachments) != 1 || m.Attachments[0].Size != want || m.Attachments[0].Name != "big.zip" {
		t.Errorf("attachments = %+v, want big.zip of %d bytes", m.Attachments, want)
	}
	if info, err := os.Stat(cfg.Spool.Path(m.Attachments[0].Ref)); err != nil || info.Size() != want {
		t.Errorf("spooled: %v, %v; want %d bytes", info, err, want)
	}
	if m.Text != "See attachment." || m.ParseError != "" {
		t.Errorf("Text %q ParseError %q", m.Text, m.ParseError)
	}
}

// A refused login at run time is logged at error level, reported in State
// and posted once, however often it is retried; when the password works
// again, that is posted too.
func TestWatcherLoginRevoked(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)
	cfg := testIMAPConfig(srv)
	cfg.AuthRetry = 20 * time.Millisecond
	w := NewWatcher(cfg, st, log)
	runWatcher(t, w)
	waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })

	srv.SetPassword("changed")
	srv.Restart(t) // drops the session
	waitFor(t, 10*time.Second, "several refused logins", func() bool {
		return strings.Count(logs.String(), "Cannot log in to IMAP") >= 3
	})
	s := w.State()
	if s.Up || !s.Permanent || !strings.HasPrefix(s.Fix, "IMAP_PASSWORD: ") {
		t.Errorf("state %+v, want down for good with the fix", s)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("not logged at error level")
	}
	notices := func() (down, up int) {
		for _, j := range mustSlackJobs(t, st) {
			if j.Kind == store.JobNotice && j.Notice.Part == "IMAP" {
				if j.Notice.Resolved {
					up++
				} else {
					down++
				}
			}
		}
		return down, up
	}
	if down, _ := notices(); down != 1 {
		t.Errorf("%d notices of the outage, want 1", down)
	}

	srv.SetPassword(srv.Password)
	waitFor(t, 10*time.Second, "the watcher to be up again", func() bool { return w.State().Up })
	waitFor(t, 10*time.Second, "the all-clear", func() bool { _, up := notices(); return up == 1 })
	if down, _ := notices(); down != 1 {
		t.Errorf("%d notices of the outage, want 1", down)
	}
}

// The backoff starts afresh after every session that logged in and idled,
// so a server that keeps dropping connections is redialled within a second.
func TestWatcherBackoffResetsAfterLogin(t *testing.T) {
	srv := mailtest.NewIMAPServer(t)
	st := openStore(t)
	log, logs := testLog(t)
	w := NewWatcher(testIMAPConfig(srv), st, log)
	runWatcher(t, w)
	for i := range 4 {
		waitFor(t, 10*time.Second, "the watcher to be up", func() bool { return w.State().Up })
		srv.Restart(t)
		waitFor(t, 10*time.Second, "the drop to be noticed", func() bool {
			return strings.Count(logs.String(), "IMAP session ended") > i
		})
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "IMAP session ended") && !strings.Contains(line, "in=1s") {
			t.Errorf("reconnect not after 1 s: %s", line)
		}
	}
}

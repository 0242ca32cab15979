// Package mailbridge is inboxbot's mail side: it watches the shared mailbox
// over IMAP, turns each new mail into a clean message recorded in the store,
// and sends the replies the store's outbox holds over SMTP.
package mailbridge

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// TLS modes for IMAP_TLS and SMTP_TLS.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// IMAPConfig says where the shared mailbox is.
type IMAPConfig struct {
	Inbox    string // the inbox this mailbox feeds (its address): the store files mail under it
	Addr     string // host:port
	Username string
	Password string
	OAuth    *OAuth // log in with OAuth tokens instead of Password
	TLS      string // TLSImplicit, TLSStartTLS or TLSNone
	Mailbox  string // default INBOX
	// TLSConfig overrides certificate checks (tests against self-signed servers).
	TLSConfig *tls.Config

	// IdleRestart bounds one IDLE command: the watcher leaves IDLE and looks
	// for new UIDs at least this often, so a lost notification (or a dead
	// link that only a write reveals) delays mail by at most this much.
	IdleRestart time.Duration // default 4 minutes
	// Recheck is how long the first IDLE after each fetch lasts. Some
	// servers announce a mail that lands while IDLE is being entered only
	// when IDLE ends; a short first IDLE followed by a look finds it.
	Recheck time.Duration // default 1 second
	// Poll is the interval between looks when the server has no IDLE.
	Poll time.Duration // default 15 seconds
	// BatchSize is how many mails are recorded per transaction at most.
	BatchSize int // default 64
	// AuthRetry is the wait before logging in again after the server
	// refused the login (or TLS failed): such a failure needs a change,
	// and hammering a server with bad passwords gets accounts locked.
	AuthRetry time.Duration // default 5 minutes

	// Spool, if set, receives the attachments of each mail, streamed
	// while the mail is read (Attachment.Ref names them): the bot uploads
	// them to Slack from there. Without it, attachments are only listed.
	Spool *spool.Spool
	// AttachMax bounds the attachments stored in the spool (0: no bound):
	// a larger one is listed with its size but not stored, as it will not
	// be uploaded (ATTACH_MAX).
	AttachMax int64

	Metrics *Metrics // nil: counted nowhere
}

func (c *IMAPConfig) defaults() {
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	if c.IdleRestart <= 0 {
		c.IdleRestart = 4 * time.Minute
	}
	if c.Recheck <= 0 {
		c.Recheck = time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 15 * time.Second
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	if c.AuthRetry <= 0 {
		c.AuthRetry = 5 * time.Minute
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
}

// Watcher imports new mail of one mailbox into the store.
type Watcher struct {
	cfg IMAPConfig
	st  *store.Store
	log *slog.Logger
	// cmdTimeout bounds the wait for the server's answer to a command
	// (and for progress of a FETCH). imapclient sets no read deadline
	// while it waits for a response to begin, so without it a dead link
	// or a hung server would stall the watcher until TCP gives up on the
	// unacknowledged command (a quarter of an hour), or for ever.
	cmdTimeout time.Duration
	health     *health
	tokens     *tokens // nil: password login
}

// NewWatcher returns a watcher; Run starts it.
func NewWatcher(cfg IMAPConfig, st *store.Store, log *slog.Logger) *Watcher {
	cfg.defaults()
	log = log.With("component", "imap", "mailbox", cfg.Mailbox)
	w := &Watcher{cfg: cfg, st: st, log: log, cmdTimeout: time.Minute, health: &health{part: "IMAP", inbox: cfg.Inbox, st: st, log: log}}
	if cfg.OAuth != nil {
		w.tokens = newTokens("IMAP", *cfg.OAuth, log, keptIn(st))
	}
	return w
}

// State says whether the watcher is logged in and waiting for mail.
func (w *Watcher) State() State { return w.health.state() }

// Run watches until ctx is done, reconnecting with backoff after any
// failure. It never gives up: a refused login is logged at error level,
// posted in the channel once and retried every AuthRetry, since it is the
// server's account that has to change, not the process.
func (w *Watcher) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		ready := false
		err := w.session(ctx, func() {
			// Logged in and idling: the link works, so the next
			// failure starts the backoff afresh.
			ready, backoff = true, time.Second
			w.health.up()
		})
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errRenew) {
			w.log.Info("renewing the IMAP session before its OAuth token expires")
			continue
		}
		w.cfg.Metrics.IMAPReconnects.Inc()
		wait := backoff
		if IsPermanent(err) {
			wait = w.cfg.AuthRetry
			w.health.down(problemOf(err), err)
		} else {
			w.health.down("", err)
			if ready {
				w.log.Info("IMAP session ended; reconnecting", "err", err, "in", wait)
			} else {
				w.log.Warn("IMAP not connected; retrying", "err", err, "in", wait)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// problemOf says in a few words what a permanent failure stops.
func problemOf(err error) string {
	var ce *ConnError
	if !errors.As(err, &ce) {
		return "Cannot use the mail server"
	}
	switch ce.Step {
	case "login":
		return "Cannot log in to " + ce.Server
	case "token":
		return "Cannot get an OAuth token for " + ce.Server
	case "TLS":
		return "Cannot set up TLS with " + ce.Server
	case "mailbox":
		return "Cannot open the IMAP mailbox"
	}
	return "Cannot connect to " + ce.Server
}

// dial connects and, for STARTTLS, upgrades the link; ctx and the command
// timeout interrupt it (imapclient's own Dial functions take no context).
func (w *Watcher) dial(ctx context.Context, notify chan<- struct{}) (*imapclient.Client, error) {
	opts := &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			// Runs on the client's reader goroutine: only signal.
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					select {
					case notify <- struct{}{}:
					default:
					}
				}
			},
		},
	}
	host, _, err := net.SplitHostPort(w.cfg.Addr)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{}
	if w.cfg.TLSConfig != nil {
		tc = w.cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	ctx, cancel := context.WithTimeout(ctx, w.cmdTimeout)
	defer cancel()
	nd := &net.Dialer{KeepAlive: 30 * time.Second}
	switch w.cfg.TLS {
	case TLSNone, TLSStartTLS:
		conn, err := nd.DialContext(ctx, "tcp", w.cfg.Addr)
		if err != nil {
			return nil, imapError("connect", &w.cfg, fmt.Errorf("dial %s: %w", w.cfg.Addr, err))
		}
		if w.cfg.TLS == TLSNone {
			return imapclient.New(conn, opts), nil
		}
		opts.TLSConfig = tc
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		c, err := imapclient.NewStartTLS(conn, opts)
		if !stop() && err == nil {
			c.Close()
			err = fmt.Errorf("%w", context.Cause(ctx))
		}
		if err != nil {
			return nil, imapError("TLS", &w.cfg, fmt.Errorf("STARTTLS with %s: %w", w.cfg.Addr, err))
		}
		return c, nil
	default:
		if tc.NextProtos == nil {
			tc.NextProtos = []string{"imap"}
		}
		conn, err := (&tls.Dialer{NetDialer: nd, Config: tc}).DialContext(ctx, "tcp", w.cfg.Addr)
		if err != nil {
			return nil, imapError("connect", &w.cfg, fmt.Errorf("dial %s (TLS): %w", w.cfg.Addr, err))
		}
		return imapclient.New(conn, opts), nil
	}
}

// guard closes c unless it is stopped within the command timeout: the
// command then fails and the session ends. done wraps the command's error
// to say why.
type guard struct {
	t *time.Timer
	d time.Duration
}

func (w *Watcher) guard(c *imapclient.Client) *guard {
	return &guard{t: time.AfterFunc(w.cmdTimeout, func() { c.Close() }), d: w.cmdTimeout}
}

// reset gives the command another full timeout (it made progress).
func (g *guard) reset() { g.t.Reset(g.d) }

func (g *guard) done(err error) error {
	if !g.t.Stop() && err != nil {
		return fmt.Errorf("no answer from the server within %v: %w", g.d, err)
	}
	return err
}

// timed runs one command with a guard.
func (w *Watcher) timed(c *imapclient.Client, f func() error) error {
	g := w.guard(c)
	return g.done(f())
}

// progressReader resets a guard whenever data arrives.
type progressReader struct {
	r io.Reader
	g *guard
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.g.reset()
	}
	return n, err
}

// connect dials, logs in and selects the mailbox; errors are ConnErrors.
// renew is when the session must be renewed (OAuth; zero: never).
func (w *Watcher) connect(ctx context.Context, notify chan<- struct{}) (c *imapclient.Client, sel *imap.SelectData, renew time.Time, err error) {
	c, err = w.dial(ctx, notify)
	if err != nil {
		return nil, nil, renew, err
	}
	if renew, err = w.login(ctx, c); err != nil {
		c.Close()
		return nil, nil, renew, err
	}
	if err := w.timed(c, func() (err error) { sel, err = c.Select(w.cfg.Mailbox, nil).Wait(); return err }); err != nil {
		c.Close()
		return nil, nil, renew, imapError("mailbox", &w.cfg, fmt.Errorf("select %s: %w", w.cfg.Mailbox, err))
	}
	return c, sel, renew, nil
}

// errRenew ends a session whose OAuth token is about to expire: the
// watcher logs in again at once with a new one.
var errRenew = errors.New("OAuth token about to expire")

// until bounds a wait d so that it ends by renew (if set).
func until(d time.Duration, renew time.Time) time.Duration {
	if renew.IsZero() {
		return d
	}
	return max(min(d, time.Until(renew)), 0)
}

// session is one connection: log in, select, catch up, then wait for news.
// ready is called once the watcher is logged in and about to wait.
func (w *Watcher) session(ctx context.Context, ready func()) error {
	notify := make(chan struct{}, 1)
	c, sel, renew, err := w.connect(ctx, notify)
	if err != nil {
		return err
	}
	defer c.Close()
	// Closing the connection is the only way to interrupt a command.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := w.syncWatermark(c, sel); err != nil {
		return err
	}
	w.log.Info("IMAP connected", "uidvalidity", sel.UIDValidity, "uidnext", sel.UIDNext, "idle", c.Caps().Has(imap.CapIdle))

	for {
		if err := w.fetchNew(ctx, c, sel.UIDValidity); err != nil {
			return err
		}
		if ready != nil {
			ready()
			ready = nil
		}
		if !renew.IsZero() && !time.Now().Before(renew) {
			return errRenew
		}
		if !c.Caps().Has(imap.CapIdle) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-notify:
			case <-time.After(until(w.cfg.Poll, renew)):
			}
			if err := w.timed(c, func() error { return c.Noop().Wait() }); err != nil {
				return fmt.Errorf("noop: %w", err)
			}
			continue
		}
		// First a short IDLE, then a look, then a long one.
		if err := w.idle(ctx, c, notify, until(w.cfg.Recheck, renew)); err != nil {
			return err
		}
		if err := w.fetchNew(ctx, c, sel.UIDValidity); err != nil {
			return err
		}
		if err := w.idle(ctx, c, notify, until(w.cfg.IdleRestart, renew)); err != nil {
			return err
		}
	}
}

// idle holds IDLE until the server announces mail, d passes or ctx ends.
func (w *Watcher) idle(ctx context.Context, c *imapclient.Client, notify <-chan struct{}, d time.Duration) error {
	select {
	case <-notify: // news arrived while we were busy: no need to idle
		return nil
	default:
	}
	var cmd *imapclient.IdleCommand
	if err := w.timed(c, func() (err error) { cmd, err = c.Idle(); return err }); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-notify:
	case <-t.C:
	case <-c.Closed():
	}
	// DONE is written at once even to a dead link; the missing answer
	// is what reveals it.
	g := w.guard(c)
	if err := cmd.Close(); err != nil {
		g.done(nil)
		return fmt.Errorf("idle done: %w", err)
	}
	if err := g.done(cmd.Wait()); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return ctx.Err()
}

// syncWatermark makes sure the store knows where to resume. On the very
// first start, mail already in the mailbox is left alone. When UIDVALIDITY
// changed, the UIDs we stored mean nothing any more: mail that arrived since
// a day before the last import is looked at again, and what we already have
// is recognised by Message-ID.
func (w *Watcher) syncWatermark(c *imapclient.Client, sel *imap.SelectData) error {
	wm, ok, err := w.st.Watermark(w.cfg.Inbox, w.cfg.Mailbox)
	if err != nil {
		return err
	}
	next := uint32(sel.UIDNext)
	if next == 0 {
		next = 1
	}
	if !ok {
		w.log.Info("first start: importing mail that arrives from now on", "uidnext", next)
		return w.st.SetWatermark(w.cfg.Inbox, w.cfg.Mailbox, store.Watermark{UIDValidity: sel.UIDValidity, LastUID: next - 1})
	}
	if wm.UIDValidity == sel.UIDValidity {
		return nil
	}
	since := wm.LastDate.Add(-24 * time.Hour)
	if wm.LastDate.IsZero() {
		since = time.Now().Add(-24 * time.Hour)
	}
	var data *imap.SearchData
	err = w.timed(c, func() (err error) {
		data, err = c.UIDSearch(&imap.SearchCriteria{Since: since}, nil).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("search since %s: %w", since.Format(time.DateOnly), err)
	}
	found, err := uidsOf(data)
	if err != nil {
		return err
	}
	last := next - 1
	for _, uid := range found {
		if uint32(uid)-1 < last {
			last = uint32(uid) - 1
		}
	}
	w.log.Warn("UIDVALIDITY changed: re-scanning recent mail", "old", wm.UIDValidity, "new", sel.UIDValidity, "from_uid", last+1)
	return w.st.SetWatermark(w.cfg.Inbox, w.cfg.Mailbox, store.Watermark{
		UIDValidity: sel.UIDValidity, LastUID: last, LastDate: wm.LastDate, DedupUpTo: next - 1,
	})
}

// uidsOf lists the UIDs of a SEARCH answer. go-imap's AllUIDs panics on a
// set with "*", which a broken server could send: that is an error here.
func uidsOf(data *imap.SearchData) ([]imap.UID, error) {
	if data.All == nil {
		return nil, nil
	}
	set, ok := data.All.(imap.UIDSet)
	if !ok {
		return nil, fmt.Errorf("server answered UID SEARCH with sequence numbers")
	}
	uids, ok := set.Nums()
	if !ok {
		return nil, fmt.Errorf("server answered UID SEARCH with an open range (%v)", set)
	}
	return uids, nil
}

// fetchNew imports every mail above the watermark, in UID order, in
// batches of at most BatchSize mails: one FETCH and one transaction each.
func (w *Watcher) fetchNew(ctx context.Context, c *imapclient.Client, uidValidity uint32) error {
	wm, _, err := w.st.Watermark(w.cfg.Inbox, w.cfg.Mailbox)
	if err != nil {
		return err
	}
	// Ask for UIDs first: "UID FETCH n:*" always returns the newest mail
	// even when it is below n, and we don't want to download it each time.
	var found *imap.SearchData
	err = w.timed(c, func() (err error) {
		found, err = c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(wm.LastUID + 1), Stop: 0}}}}, nil).Wait()
		return err
	})
	if err != nil {
		return fmt.Errorf("search new: %w", err)
	}
	all, err := uidsOf(found)
	if err != nil {
		return err
	}
	var uids []imap.UID
	for _, uid := range all {
		if uint32(uid) > wm.LastUID {
			uids = append(uids, uid)
		}
	}
	// The store skips a UID at or below its watermark as already
	// recorded, so a batch must never hold a UID below one recorded
	// before it: batches are cut from the sorted list, and each batch is
	// sorted again after the FETCH, whose responses may come in any order.
	slices.Sort(uids)
	for len(uids) > 0 {
		n := min(len(uids), w.cfg.BatchSize)
		if err := w.fetchBatch(ctx, c, uids[:n], uidValidity, wm.DedupUpTo); err != nil {
			return err
		}
		uids = uids[n:]
	}
	return nil
}

// fetchBatch downloads the given mails and records them in one transaction.
func (w *Watcher) fetchBatch(ctx context.Context, c *imapclient.Client, uids []imap.UID, uidValidity, dedupUpTo uint32) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	want := imap.UIDSetNum(uids...)
	body := &imap.FetchItemBodySection{Peek: true}
	g := w.guard(c)
	fetch := c.Fetch(want, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{body}})
	var batch []store.Inbound
	for {
		msg := fetch.Next()
		if msg == nil {
			break
		}
		g.reset()
		var in store.Inbound
		var files *spooler
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				in.UID = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				if item.Literal != nil {
					files = w.spooler(uidValidity, in.UID, msg.SeqNum)
					in.Mail = files.options().ReadInbound(progressReader{item.Literal, g})
				}
			}
		}
		// A FETCH response for another message (a flag change announced
		// meanwhile) has no UID of ours or no body.
		if in.Mail == nil || !want.Contains(imap.UID(in.UID)) {
			if in.Mail != nil {
				w.removeFiles(in.Mail)
			}
			continue
		}
		files.done(in.Mail, in.UID)
		in.DedupByID = in.UID <= dedupUpTo
		batch = append(batch, in)
	}
	if err := g.done(fetch.Close()); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if len(batch) < len(uids) {
		// Expunged since the SEARCH, or the server sent no body. Those
		// below a recorded UID are not looked at again.
		w.log.Warn("FETCH returned fewer mails than asked for", "asked", len(uids), "got", len(batch))
	}
	if len(batch) == 0 {
		return nil
	}
	slices.SortFunc(batch, func(a, b store.Inbound) int { return cmp.Compare(a.UID, b.UID) })
	res, err := w.st.RecordInbound(w.cfg.Inbox, w.cfg.Mailbox, uidValidity, batch)
	if err != nil {
		return fmt.Errorf("record: %w", err)
	}
	for i, r := range res {
		w.log.Info("mail recorded", "uid", r.UID, "conv", r.Conv, "new_conv", r.NewConv, "skipped", r.Skipped)
		if r.Skipped == "" {
			w.cfg.Metrics.Ingested.Inc()
		}
		if !r.Queued && r.Skipped != store.SkippedRecorded {
			// Nothing will upload this mail's files. (One recorded
			// before has the same names, so those stay: its job may
			// still need them.)
			w.removeFiles(batch[i].Mail)
		}
	}
	return nil
}

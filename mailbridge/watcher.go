// Package mailbridge is inboxbot's mail side: it watches the shared mailbox
// over IMAP, turns each new mail into a clean message recorded in the store,
// and sends the replies the store's outbox holds over SMTP.
package mailbridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/inboxbot/inboxbot/store"
)

// TLS modes for IMAP_TLS and SMTP_TLS.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// IMAPConfig says where the shared mailbox is.
type IMAPConfig struct {
	Addr     string // host:port
	Username string
	Password string
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
}

// Watcher imports new mail of one mailbox into the store.
type Watcher struct {
	cfg IMAPConfig
	st  *store.Store
	log *slog.Logger
}

// NewWatcher returns a watcher; Run starts it.
func NewWatcher(cfg IMAPConfig, st *store.Store, log *slog.Logger) *Watcher {
	cfg.defaults()
	return &Watcher{cfg: cfg, st: st, log: log.With("component", "imap", "mailbox", cfg.Mailbox)}
}

// Run watches until ctx is done, reconnecting with backoff after any failure.
func (w *Watcher) Run(ctx context.Context) error {
	backoff := time.Second
	for {
		start := time.Now()
		err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		w.log.Warn("IMAP session ended; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (w *Watcher) dial(notify chan<- struct{}) (*imapclient.Client, error) {
	opts := &imapclient.Options{
		TLSConfig: w.cfg.TLSConfig,
		Dialer:    &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
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
	switch w.cfg.TLS {
	case TLSNone:
		return imapclient.DialInsecure(w.cfg.Addr, opts)
	case TLSStartTLS:
		return imapclient.DialStartTLS(w.cfg.Addr, opts)
	default:
		return imapclient.DialTLS(w.cfg.Addr, opts)
	}
}

// session is one connection: log in, select, catch up, then wait for news.
func (w *Watcher) session(ctx context.Context) error {
	notify := make(chan struct{}, 1)
	c, err := w.dial(notify)
	if err != nil {
		return fmt.Errorf("dial %s: %w", w.cfg.Addr, err)
	}
	defer c.Close()
	// Closing the connection is the only way to interrupt a command.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	if err := c.Login(w.cfg.Username, w.cfg.Password).Wait(); err != nil {
		return fmt.Errorf("login as %s: %w", w.cfg.Username, err)
	}
	sel, err := c.Select(w.cfg.Mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("select: %w", err)
	}
	dedupUpTo, err := w.syncWatermark(c, sel)
	if err != nil {
		return err
	}
	w.log.Info("IMAP connected", "uidvalidity", sel.UIDValidity, "uidnext", sel.UIDNext, "idle", c.Caps().Has(imap.CapIdle))

	for {
		if err := w.fetchNew(ctx, c, sel.UIDValidity, dedupUpTo); err != nil {
			return err
		}
		if !c.Caps().Has(imap.CapIdle) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-notify:
			case <-time.After(w.cfg.Poll):
			}
			if err := c.Noop().Wait(); err != nil {
				return fmt.Errorf("noop: %w", err)
			}
			continue
		}
		// First a short IDLE, then a look, then a long one.
		if err := w.idle(ctx, c, notify, w.cfg.Recheck); err != nil {
			return err
		}
		if err := w.fetchNew(ctx, c, sel.UIDValidity, dedupUpTo); err != nil {
			return err
		}
		if err := w.idle(ctx, c, notify, w.cfg.IdleRestart); err != nil {
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
	cmd, err := c.Idle()
	if err != nil {
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
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("idle done: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return ctx.Err()
}

// syncWatermark makes sure the store knows where to resume. On the very
// first start, mail already in the mailbox is left alone. When UIDVALIDITY
// changed, the UIDs we stored mean nothing any more: mail that arrived since
// a day before the last import is looked at again, and what we already have
// is recognised by Message-ID. It returns the highest UID to deduplicate so.
func (w *Watcher) syncWatermark(c *imapclient.Client, sel *imap.SelectData) (uint32, error) {
	wm, ok, err := w.st.Watermark(w.cfg.Mailbox)
	if err != nil {
		return 0, err
	}
	next := uint32(sel.UIDNext)
	if next == 0 {
		next = 1
	}
	if !ok {
		w.log.Info("first start: importing mail that arrives from now on", "uidnext", next)
		return 0, w.st.SetWatermark(w.cfg.Mailbox, store.Watermark{UIDValidity: sel.UIDValidity, LastUID: next - 1})
	}
	if wm.UIDValidity == sel.UIDValidity {
		return 0, nil
	}
	since := wm.LastDate.Add(-24 * time.Hour)
	if wm.LastDate.IsZero() {
		since = time.Now().Add(-24 * time.Hour)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Since: since}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("search since %s: %w", since.Format(time.DateOnly), err)
	}
	last := next - 1
	for _, uid := range data.AllUIDs() {
		if uint32(uid)-1 < last {
			last = uint32(uid) - 1
		}
	}
	w.log.Warn("UIDVALIDITY changed: re-scanning recent mail", "old", wm.UIDValidity, "new", sel.UIDValidity, "from_uid", last+1)
	return next - 1, w.st.SetWatermark(w.cfg.Mailbox, store.Watermark{UIDValidity: sel.UIDValidity, LastUID: last, LastDate: wm.LastDate})
}

// fetchNew imports every mail above the watermark.
func (w *Watcher) fetchNew(ctx context.Context, c *imapclient.Client, uidValidity, dedupUpTo uint32) error {
	wm, _, err := w.st.Watermark(w.cfg.Mailbox)
	if err != nil {
		return err
	}
	// Ask for UIDs first: "UID FETCH n:*" always returns the newest mail
	// even when it is below n, and we don't want to download it each time.
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{{imap.UIDRange{Start: imap.UID(wm.LastUID + 1), Stop: 0}}}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search new: %w", err)
	}
	var uids imap.UIDSet
	for _, uid := range found.AllUIDs() {
		if uint32(uid) > wm.LastUID {
			uids.AddNum(uid)
		}
	}
	if len(uids) == 0 {
		return nil
	}
	body := &imap.FetchItemBodySection{Peek: true}
	fetch := c.Fetch(uids, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{body}})
	defer fetch.Close()
	var batch []store.Inbound
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := w.st.RecordInbound(w.cfg.Mailbox, uidValidity, batch)
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		for _, r := range res {
			w.log.Info("mail recorded", "uid", r.UID, "conv", r.Conv, "new_conv", r.NewConv, "skipped", r.Skipped)
		}
		batch = batch[:0]
		return nil
	}
	for {
		msg := fetch.Next()
		if msg == nil {
			break
		}
		in := store.Inbound{}
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
					in.Mail = ReadInbound(item.Literal)
				}
			}
		}
		if in.UID <= wm.LastUID || in.Mail == nil {
			continue
		}
		in.DedupByID = in.UID <= dedupUpTo
		batch = append(batch, in)
		if len(batch) >= w.cfg.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := fetch.Close(); err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return flush()
}

const rawKeep = 32 << 10 // what of an unparseable mail we show

// ReadInbound parses one raw mail from r, reading r to its end. A mail that
// cannot be parsed still yields a record: its beginning, raw, with the error,
// so that it is posted with a warning instead of being lost.
func ReadInbound(r io.Reader) *store.InboundMail {
	raw := &headBuffer{max: rawKeep}
	m, err := Parse(io.TeeReader(r, raw))
	// Whatever the parser left unread must still leave the connection.
	if _, cerr := io.Copy(raw, r); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		text := strings.ToValidUTF8(raw.String(), "\uFFFD")
		return &store.InboundMail{
			Subject:    "(unreadable mail)",
			From:       store.Address{Addr: "unknown"},
			Text:       text,
			Truncated:  raw.n > int64(len(raw.buf)),
			ParseError: err.Error(),
		}
	}
	return toInbound(m)
}

// headBuffer keeps the first max bytes written to it and counts the rest.
type headBuffer struct {
	buf []byte
	max int
	n   int64
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) String() string {
	s := b.buf
	for len(s) > 0 && !utf8.Valid(s[len(s)-min(len(s), 3):]) {
		s = s[:len(s)-1]
	}
	return string(bytes.TrimRight(s, "\r\n "))
}

func toInbound(m *Message) *store.InboundMail {
	addr := func(a Address) store.Address { return store.Address{Name: a.Name, Addr: a.Addr} }
	addrs := func(as []Address) []store.Address {
		var out []store.Address
		for _, a := range as {
			out = append(out, addr(a))
		}
		return out
	}
	in := &store.InboundMail{
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: m.References,
		From: addr(m.From), To: addrs(m.To), Cc: addrs(m.Cc),
		Subject: m.Subject, Date: m.Date, Text: m.Text, Truncated: m.Truncated, HTMLOnly: m.HTMLOnly,
		Auto: m.Auto, Warnings: m.Warnings,
	}
	if len(m.ReplyTo) > 0 {
		r := addr(m.ReplyTo[0])
		in.ReplyTo = &r
	}
	for _, a := range m.Attachments {
		in.Attachments = append(in.Attachments, store.Attachment{Name: a.Filename, Type: a.ContentType, Size: a.Size})
	}
	if in.From.Addr == "" {
		in.From.Addr = "unknown"
		in.Warnings = append(in.Warnings, "no From address")
	}
	return in
}

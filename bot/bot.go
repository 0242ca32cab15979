// Package bot is inboxbot's Slack side: it posts what the store's mail →
// Slack queue holds, turns thread replies into the outbox, and runs the team
// workflow (claim, assign, close) from reactions, buttons and /inbox.
//
// Handlers do not know how an event came: a transport (Socket Mode, or HTTP
// for workspaces that do not allow it) turns what Slack sent into an Event
// and hands it to Handle, and acks with what Handle returns. Slack calls go through the SlackAPI interface.
package bot

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/inboxbot/inboxbot/bot/workhours"

	"github.com/inboxbot/inboxbot/store"
	"github.com/inboxbot/inboxbot/store/spool"
)

// Inbox is one shared address and the channel it is worked in.
type Inbox struct {
	ID      string // the store's key of the inbox (its address, lower case)
	Address string // support@example.com: the domain of our Message-IDs
	Name    string // the team's display name
	Channel string // Slack channel ID
	// SendDelay holds a reply this long after its Slack message's time
	// before it is sent: the author can undo, edit or delete it meanwhile.
	// Zero sends at once.
	SendDelay time.Duration
	// Signature is appended to every reply and forward; {agent} stands
	// for the agent's name.
	Signature string
	// AttachMax bounds the attachments uploaded to Slack (ATTACH_MAX, in
	// bytes; 0: no bound); the thread names those not uploaded.
	AttachMax int64

	// Working the inbox like a support team; zero values turn each off.
	Calendar       *workhours.Calendar // working time; nil counts every hour
	FirstResponse  time.Duration       // target for the first answer, in working time
	NextResponse   time.Duration       // target for each later answer
	OnDutyGroup    string              // user group reminded of unassigned conversations
	AutoCloseAfter time.Duration       // waiting on the customer this long closes it
	Digest         string              // weekly digest, "mon 09:00" in Calendar's zone
	ReactionTags   map[string]string   // reaction name → tag
}

// Config is what the bot needs to know about its installation.
type Config struct {
	Inboxes []Inbox
	// MemberTTL is how long channel membership answers are trusted;
	// negative: not at all (every check asks Slack, for tests).
	MemberTTL time.Duration // default 1 minute

	// Pacing of Slack calls. Slack takes about one post per second per
	// channel, with short bursts; updates and reactions have limits of
	// their own. A 429's Retry-After always wins.
	PostRate    rate.Limit // posts per second per channel, default 1
	PostBurst   int        // default 4
	UpdateRate  rate.Limit // card updates per second (all channels), default 1
	UpdateBurst int        // default 10
	ReadRate    rate.Limit // history and replies reads per second, default 50 a minute (Slack's tier 3)

	// CatchUpWindow bounds how old a root may be for the catch-up to read
	// its thread (see catchup.go). Default 7 days.
	CatchUpWindow time.Duration
	// AI, when URL and Model are set, is an OpenAI-compatible
	// chat-completions endpoint for thread summaries and draft replies
	// (see ai.go). Timeout bounds one answer (default 2 minutes: a model
	// on a small machine is slow).
	AI struct {
		URL, Model, Key string
		Timeout         time.Duration
	}
	// Now is the clock of what the bot decides by time (response
	// targets, snoozes, digests, hold windows and questions, lists'
	// ages and "today", pruning what the store stamped): the store's
	// clock (store.Options.Now). Tests set it. Default time.Now. Slack
	// mechanics (retries, pacing, the catch-up's alive marks, which
	// compare with Slack's timestamps) stay on the wall clock.
	Now func() time.Time
	// ClockRecheck is how often time-driven loops (the weekly digest)
	// look at Now again besides their timers, which follow neither a
	// change of the wall clock nor a test's clock. Default 1 minute.
	ClockRecheck time.Duration
	// AckBudget is how long a slash command or button click may take
	// before it is acknowledged without its answer (which then follows
	// through response_url): Slack wants an ack within 3 seconds.
	AckBudget time.Duration // default 2 seconds

	// Metrics counts what the bot does; give the same to slack-go through
	// Metrics.HTTPClient so that a revoked bot token stops Run. nil: new
	// unregistered metrics.
	Metrics *Metrics
	// NoticeWait bounds how long Run, when the transport fails for good,
	// waits for the notice saying so to be posted before it returns.
	NoticeWait time.Duration // default 10 seconds
	// QuestionTTL is how long a reply held back by the collision guard
	// waits for its author's answer before it is cancelled.
	QuestionTTL time.Duration // default store.QuestionTTL (a day)
	// Spool holds files on their way: the attachments of inbound mail
	// (uploaded from there, then removed) and the files of replies
	// (downloaded into it). Without it, mail's files are only listed and
	// replies with files are not sent.
	Spool *spool.Spool
}

func (c *Config) defaults() {
	switch {
	case c.MemberTTL == 0:
		c.MemberTTL = time.Minute
	case c.MemberTTL < 0:
		c.MemberTTL = 0
	}
	if c.PostRate <= 0 {
		c.PostRate = 1
	}
	if c.PostBurst <= 0 {
		c.PostBurst = 4
	}
	if c.UpdateRate <= 0 {
		c.UpdateRate = 1
	}
	if c.UpdateBurst <= 0 {
		c.UpdateBurst = 10
	}
	if c.ReadRate <= 0 {
		c.ReadRate = rate.Limit(50.0 / 60)
	}
	if c.CatchUpWindow <= 0 {
		c.CatchUpWindow = 7 * 24 * time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ClockRecheck <= 0 {
		c.ClockRecheck = time.Minute
	}
	if c.AckBudget <= 0 {
		c.AckBudget = 2 * time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.NoticeWait <= 0 {
		c.NoticeWait = 10 * time.Second
	}
	if c.QuestionTTL <= 0 {
		c.QuestionTTL = store.QuestionTTL
	}
}

// Bot is the Slack side of one installation.
type Bot struct {
	cfg Config
	api SlackAPI
	st  *store.Store
	log *slog.Logger

	byChannel map[string]*Inbox
	byID      map[string]*Inbox

	botUserID, botID string
	teamURL          string // https://team.slack.com/, for permalinks

	pace    *pacer
	users   *cache[person]          // user ID -> what users.info said
	members *cache[map[string]bool] // channel -> its members
	convMu  keyedMutex              // serialises card updates per conversation
	wg      sync.WaitGroup          // work started by handlers

	cardRetry time.Time // after a failed card update, when to try again
	resolved  chan struct{}
	// transportNoticed gets the Since of each notice posted that events
	// stopped (see transportFailed).
	transportNoticed chan time.Time

	metrics    *Metrics
	stateMu    sync.Mutex
	state      State
	noticeSent bool // the channel was told events do not reach the bot
	connects   int  // times events started flowing
}

// New returns a bot using api (built with the bot token, and the app token
// for Socket Mode); Run starts it.
func New(cfg Config, api SlackAPI, st *store.Store, log *slog.Logger) *Bot {
	cfg.defaults()
	b := &Bot{
		cfg: cfg, api: api, st: st, log: log.With("component", "slack"),
		byChannel: map[string]*Inbox{}, byID: map[string]*Inbox{},
		users: newCache[person](time.Hour), members: newCache[map[string]bool](cfg.MemberTTL),
		resolved: make(chan struct{}, 1), transportNoticed: make(chan time.Time, 1), metrics: cfg.Metrics,
	}
	b.pace = newPacer(cfg, b.log)
	for i := range b.cfg.Inboxes {
		in := &b.cfg.Inboxes[i]
		b.byChannel[in.Channel] = in
		b.byID[in.ID] = in
	}
	return b
}

// Start checks the token and learns who the bot is; it must be called
// before Handle or the queue loops.
func (b *Bot) Start(ctx context.Context) error {
	auth, err := b.api.AuthTestContext(ctx)
	if err != nil && IsPermanent(err) {
		// Revoked between the start-up check and now: say what to do.
		return b.tokenRejected(fmt.Errorf("slack auth.test: %w", err))
	} else if err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	b.botUserID, b.botID, b.teamURL = auth.UserID, auth.BotID, auth.URL
	if b.teamURL != "" && !strings.HasSuffix(b.teamURL, "/") {
		b.teamURL += "/"
	}
	b.log.Info("slack token valid", "bot_user", b.botUserID, "team", auth.Team)
	return nil
}

// Transport brings Slack's events to the bot (Socket Mode, or HTTP): it
// hands each to Handle, acks with what Handle returns, and calls Connected
// whenever events start flowing (again).
type Transport interface {
	Serve(ctx context.Context, b *Bot) error
}

// Run starts the bot and serves t until ctx is done, t fails for good, or
// Slack stops taking the bot token (see Metrics.TokenRejected). A transport
// failing for good is logged, shown in State and, since the bot token
// still works, posted in the channel before Run returns its error.
func (b *Bot) Run(ctx context.Context, t Transport) error {
	if err := b.Start(ctx); err != nil {
		return err
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.goRun(ctx, b.postQueue)
	b.goRun(ctx, b.holdQueue)
	b.goRun(ctx, b.fileQueue)
	b.goRun(ctx, b.timerQueue)
	b.goRun(ctx, b.pruneEvents)
	b.goRun(ctx, b.digests)
	served := make(chan error, 1)
	go func() { served <- t.Serve(ctx, b) }()
	var err error
	select {
	case err = <-served:
		served <- err
		if err != nil && parent.Err() == nil {
			b.transportFailed(ctx, err)
		}
	case rej := <-b.metrics.TokenRejected():
		err = b.tokenRejected(rej)
	}
	cancel()
	<-served
	b.wg.Wait()
	if parent.Err() != nil {
		return nil
	}
	return err
}

// goRun runs f in a goroutine that Run waits for.
func (b *Bot) goRun(ctx context.Context, f func(context.Context)) {
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f(ctx)
	}()
}

// Connected is called by a transport when events flow: each inbox
// channel's threads are read for replies Slack may not have delivered.
func (b *Bot) Connected(ctx context.Context) {
	b.setUp()
	for _, in := range b.cfg.Inboxes {
		b.goRun(ctx, func(ctx context.Context) { b.catchUp(ctx, in.Channel) })
	}
}

// pruneEvents forgets handled Slack events, hourly. A message's dedup key
// must outlive the catch-up window, or the catch-up could send it again.
// The event log (stats) is pruned with them, after its horizon.
func (b *Bot) pruneEvents(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		// The store stamps both with its clock, which is the bot's.
		if n, err := b.st.PruneEvents(b.cfg.Now().Add(-b.cfg.CatchUpWindow - 24*time.Hour)); err != nil {
			b.log.Warn("pruning handled events", "err", err)
		} else if n > 0 {
			b.log.Info("pruned handled events", "n", n)
		}
		if n, err := b.st.PruneEventLog(b.cfg.Now().Add(-store.EventLogHorizon)); err != nil {
			b.log.Warn("pruning the event log", "err", err)
		} else if n > 0 {
			b.log.Info("pruned the event log", "n", n, "before", b.cfg.Now().Add(-store.EventLogHorizon))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// inboxOf is the inbox of a conversation (nil: not configured any more).
func (b *Bot) inboxOf(c *store.Conversation) *Inbox { return b.byID[c.Inbox] }

// channelOf is where a conversation's thread is, or will be posted.
func (b *Bot) channelOf(c *store.Conversation) string {
	if c.Channel != "" {
		return c.Channel
	}
	if in := b.inboxOf(c); in != nil {
		return in.Channel
	}
	return ""
}

// person is what the bot uses of a Slack user.
type person struct {
	name string // the name they go by (personName)
	icon string // their picture, 72 px
	bot  bool
}

// user is what users.info says of a user, cached for an hour: one event
// may need a name several times (mentions, the author, the composer's
// profile), and names rarely change.
func (b *Bot) user(ctx context.Context, id string) (person, error) {
	if p, ok := b.users.get(id); ok {
		return p, nil
	}
	u, err := b.api.GetUserInfoContext(ctx, id)
	if err != nil {
		return person{}, err
	}
	p := person{name: personName(u), icon: u.Profile.Image72, bot: u.IsBot}
	b.users.put(id, p)
	return p, nil
}

// userName is a user's real name for the From of their replies ("" when
// Slack cannot say).
func (b *Bot) userName(ctx context.Context, id string) string {
	p, err := b.user(ctx, id)
	if err != nil {
		b.log.Warn("users.info", "user", id, "err", err)
	}
	return p.name
}

// personName is the name a user goes by.
func personName(u *slack.User) string {
	return firstNonEmpty(u.RealName, u.Profile.RealName, u.Profile.DisplayName, u.Name)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

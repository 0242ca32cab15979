// Package bot is inboxbot's Slack side: it posts what the store's mail →
// Slack queue holds, turns thread replies into the outbox, and runs the team
// workflow (claim, assign, close) from reactions, buttons and /inbox.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"github.com/inboxbot/inboxbot/store"
)

// Config is what the bot needs to know about its installation.
type Config struct {
	Channel      string // INBOX_CHANNEL
	InboxAddress string // INBOX_ADDRESS, whose domain our Message-IDs use
	InboxName    string // INBOX_NAME
	// MemberTTL is how long channel membership answers are trusted.
	MemberTTL time.Duration // default 1 minute
	// SocketRetry is the wait before Socket Mode is tried again after Slack
	// refused the app token.
	SocketRetry time.Duration // default 5 minutes
	// Metrics counts what the bot does; give the same to slack-go through
	// Metrics.HTTPClient so that a revoked bot token stops Run. nil: new
	// unregistered metrics.
	Metrics *Metrics
}

// Bot is the Slack side of one installation.
type Bot struct {
	cfg Config
	api *slack.Client
	st  *store.Store
	log *slog.Logger

	botUserID, botID string
	teamURL          string // https://team.slack.com/, for permalinks

	users   *cache[string]          // user ID -> real name
	members *cache[map[string]bool] // channel -> its members
	convMu  keyedMutex              // serialises changes and card updates per conversation
	rootMu  sync.RWMutex            // held while a root message is posted and recorded
	wg      sync.WaitGroup          // event handlers in flight
	metrics *Metrics

	stateMu    sync.Mutex
	state      State
	noticeSent bool // the channel was told Socket Mode is down
}

// New returns a bot using api (built with the bot token, and the app token
// for Socket Mode); Run starts it.
func New(cfg Config, api *slack.Client, st *store.Store, log *slog.Logger) *Bot {
	if cfg.MemberTTL <= 0 {
		cfg.MemberTTL = time.Minute
	}
	if cfg.SocketRetry <= 0 {
		cfg.SocketRetry = 5 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Bot{
		cfg: cfg, api: api, st: st, log: log.With("component", "slack"),
		users: newCache[string](time.Hour), members: newCache[map[string]bool](cfg.MemberTTL),
		metrics: cfg.Metrics,
	}
}

// Run posts the queue and serves Socket Mode until ctx is done. It returns
// an error when Slack no longer takes the bot token: nothing can work then.
// Socket Mode failing for good does not stop it (see runSocket).
func (b *Bot) Run(ctx context.Context) error {
	auth, err := b.api.AuthTestContext(ctx)
	if err != nil {
		return fmt.Errorf("slack auth.test: %w", err)
	}
	b.botUserID, b.botID, b.teamURL = auth.UserID, auth.BotID, auth.URL
	if b.teamURL != "" && !strings.HasSuffix(b.teamURL, "/") {
		b.teamURL += "/"
	}
	b.log.Info("slack bot token works", "bot_user", b.botUserID, "team", auth.Team)

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.wg.Add(4)
	go func() {
		defer b.wg.Done()
		b.postQueue(ctx)
	}()
	go func() {
		defer b.wg.Done()
		b.catchUp(ctx)
	}()
	go func() {
		defer b.wg.Done()
		b.pruneEvents(ctx)
	}()
	go func() {
		defer b.wg.Done()
		b.runSocket(ctx)
	}()
	select {
	case <-parent.Done():
	case err = <-b.metrics.TokenRejected():
	}
	cancel()
	b.wg.Wait()
	if err != nil {
		const fix = "SLACK_BOT_TOKEN: copy the Bot User OAuth Token again from OAuth & Permissions, reinstall the app if it was removed, and restart"
		b.stateMu.Lock()
		b.state = State{Since: time.Now(), Err: err.Error(), Permanent: true, Fix: fix}
		b.stateMu.Unlock()
		return fmt.Errorf("the bot token was refused (%w): %s", err, fix)
	}
	return nil
}

// pruneEvents forgets handled Slack events after a week, hourly: Slack
// redelivers for minutes, so the dedup table need not grow forever.
func (b *Bot) pruneEvents(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := b.st.PruneEvents(time.Now().Add(-7 * 24 * time.Hour)); err != nil {
			b.log.Warn("pruning handled events", "err", err)
		} else if n > 0 {
			b.log.Info("pruned handled events", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dispatch hands an envelope to its handler in a goroutine of its own, so a
// slow Slack call never holds up the socket. Each handler acks its envelope,
// and only once what it did is committed: an unacked envelope is redelivered.
func (b *Bot) dispatch(ctx context.Context, sm *socketmode.Client, ev socketmode.Event) {
	if ev.Request == nil {
		return // connection chatter (connecting, hello, ...)
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		var payload any
		var err error
		switch ev.Type {
		case socketmode.EventTypeEventsAPI:
			err = b.handleEventsAPI(ctx, ev)
		case socketmode.EventTypeSlashCommand:
			payload, err = b.handleSlash(ctx, ev)
		case socketmode.EventTypeInteractive:
			payload, err = b.handleInteractive(ctx, ev)
		}
		if err != nil {
			// Not acked: Slack delivers it again, and the event dedup
			// makes sure nothing happens twice.
			b.log.Error("event not handled; leaving it to redelivery", "type", ev.Type, "err", err)
			return
		}
		if err := sm.AckCtx(ctx, ev.Request.EnvelopeID, payload); err != nil {
			b.log.Warn("ack failed", "err", err)
		}
	}()
}

func (b *Bot) handleEventsAPI(ctx context.Context, ev socketmode.Event) error {
	api, ok := ev.Data.(slackevents.EventsAPIEvent)
	if !ok {
		return nil
	}
	var eventID string
	if cb, ok := api.Data.(*slackevents.EventsAPICallbackEvent); ok {
		eventID = cb.EventID
	}
	switch e := api.InnerEvent.Data.(type) {
	case *slackevents.MessageEvent:
		return b.handleMessage(ctx, eventID, e)
	case *slackevents.ReactionAddedEvent:
		return b.handleReaction(ctx, eventID, e.User, e.Reaction, e.Item.Channel, e.Item.Timestamp, true)
	case *slackevents.ReactionRemovedEvent:
		return b.handleReaction(ctx, eventID, e.User, e.Reaction, e.Item.Channel, e.Item.Timestamp, false)
	case *slackevents.AppHomeOpenedEvent:
		return b.handleHome(ctx, e)
	}
	return nil
}

// handleMessage turns an agent's thread reply into an outbox job.
func (b *Bot) handleMessage(ctx context.Context, eventID string, e *slackevents.MessageEvent) error {
	switch {
	case e.Channel != b.cfg.Channel:
		return nil
	case e.BotID != "" || e.User == "" || e.User == b.botUserID:
		return nil // bots, our own posts included
	case e.SubType != "":
		// Edits, deletions, file shares and "also send to channel"
		// replies are not mail: only a plain reply is.
		return nil
	case e.ThreadTimeStamp == "" || e.ThreadTimeStamp == e.TimeStamp:
		return nil // top-level chatter
	case isNote(e.Text):
		return nil
	}
	conv, err := b.convByThread(e.ThreadTimeStamp)
	if errors.Is(err, store.ErrNotFound) {
		return nil // a thread that is not a conversation
	} else if err != nil {
		return err
	}
	text := slackToPlain(e.Text, func(id string) string { return b.userName(ctx, id) })
	if text == "" {
		return nil
	}
	job, err := b.st.EnqueueReply(store.Reply{
		EventID: eventID, Conv: conv.Num, SlackTS: e.TimeStamp,
		AgentID: e.User, AgentName: b.userName(ctx, e.User), Text: text,
		MessageID: newMessageID(conv.Num, domainOf(b.cfg.InboxAddress)),
	})
	if errors.Is(err, store.ErrDuplicate) {
		b.log.Info("redelivered reply ignored", "event", eventID, "conv", conv.Num)
		return nil
	}
	if err != nil {
		return err
	}
	b.log.Info("reply queued", "conv", conv.Num, "seq", job.Seq, "agent", e.User, "message_id", job.MessageID)
	return nil
}

// convByThread finds the conversation of a thread. A thread not (yet)
// known may belong to a root being posted right now: wait for that post to
// be recorded before giving up on it.
func (b *Bot) convByThread(ts string) (*store.Conversation, error) {
	c, err := b.st.ConvByThread(ts)
	if !errors.Is(err, store.ErrNotFound) {
		return c, err
	}
	b.rootMu.RLock()
	defer b.rootMu.RUnlock()
	return b.st.ConvByThread(ts)
}

// Slack retries an unacknowledged event a few times over a few minutes,
// then gives up: a reply typed while inboxbot was down for longer would
// never become mail. So at start-up the threads of recently active
// conversations are read for human replies newer than the newest one
// handled. Each goes through the same intake as a live event; the dedup by
// message ts makes the scan and a late redelivery of the same reply
// harmless. Only strictly newer replies are taken: the dedup keys of old
// ones are pruned after a week, and a reply must never go out twice.
const catchUpWindow = 7 * 24 * time.Hour // conversations active this recently

func (b *Bot) catchUp(ctx context.Context) {
	seen, err := b.st.SlackSeen()
	if err != nil || seen == "" {
		return // nothing handled yet: nothing can have been missed
	}
	convs, err := b.st.Convs(func(c *store.Conversation) bool {
		return c.RootTS != "" && time.Since(c.Updated) < catchUpWindow
	})
	if err != nil {
		b.log.Error("catch-up", "err", err)
		return
	}
	found := 0
	for i := range convs {
		c := &convs[i]
		cursor := ""
		for {
			msgs, more, next, err := b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: b.cfg.Channel, Timestamp: c.RootTS, Cursor: cursor, Limit: 200,
				Oldest: seen,
			})
			var rl *slack.RateLimitedError
			if errors.As(err, &rl) {
				// Many threads are read at once: wait our turn rather
				// than skip a thread that may hold a missed reply.
				select {
				case <-ctx.Done():
					return
				case <-time.After(rl.RetryAfter):
				}
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("catch-up: reading a thread", "conv", c.Num, "err", err)
				}
				break
			}
			for _, m := range msgs {
				if m.Timestamp == c.RootTS || !store.TSBefore(seen, m.Timestamp) {
					continue
				}
				ev := &slackevents.MessageEvent{
					Channel: b.cfg.Channel, User: m.User, BotID: m.BotID, SubType: m.SubType,
					Text: m.Text, TimeStamp: m.Timestamp, ThreadTimeStamp: c.RootTS,
				}
				if err := b.handleMessage(ctx, "catchup:"+m.Timestamp, ev); err != nil {
					b.log.Warn("catch-up: reply not queued", "conv", c.Num, "ts", m.Timestamp, "err", err)
				}
				found++
			}
			if !more || next == "" {
				break
			}
			cursor = next
		}
	}
	b.log.Info("catch-up done", "conversations", len(convs), "replies_seen", found)
}

// userName is a user's real name for the From of their replies.
func (b *Bot) userName(ctx context.Context, id string) string {
	if name, ok := b.users.get(id); ok {
		return name
	}
	u, err := b.api.GetUserInfoContext(ctx, id)
	if err != nil {
		b.log.Warn("users.info", "user", id, "err", err)
		return ""
	}
	name := firstNonEmpty(u.RealName, u.Profile.RealName, u.Profile.DisplayName, u.Name)
	b.users.put(id, name)
	return name
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// refreshCard re-renders a conversation's root message from the store.
// Holding the conversation's lock while reading and updating means the last
// update to reach Slack is always made from the latest state.
func (b *Bot) refreshCard(ctx context.Context, num uint64) error {
	unlock := b.convMu.lock(num)
	defer unlock()
	c, err := b.st.Conv(num)
	if err != nil || c.RootTS == "" {
		return err
	}
	_, _, _, err = b.api.UpdateMessageContext(ctx, b.cfg.Channel, c.RootTS,
		slack.MsgOptionText(rootFallback(c), false), slack.MsgOptionBlocks(rootBlocks(c, true)...))
	return err
}

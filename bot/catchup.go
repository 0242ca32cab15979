package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/store"
)

// Slack retries an unacknowledged event a few times over a few minutes,
// then gives up: a reply typed while inboxbot was down (or disconnected) for
// longer would never become mail. So whenever events start flowing, each
// inbox channel is read for what could have been missed:
//
//   - The store knows until when the channel's events were being received
//     (its alive mark, kept up to date while connected).
//   - One conversations.history pass over the channel's roots of the last
//     CatchUpWindow (999 a page) gives each thread's latest_reply: only threads with a
//     reply after the mark (less a margin) are read, with one
//     conversations.replies each. The cost follows what happened while the
//     bot was away, not the size of the inbox.
//   - Every human reply found goes through the same intake as a live event.
//     The dedup by message (kept longer than the window) makes the scan, a
//     late redelivery and a reply handled before harmless, so no reply is
//     skipped for being older than one handled in another thread.
//
// The scan waits until the channel's unresolved root posts are resolved:
// a thread whose root is not recorded yet would otherwise be skipped.

// aliveMargin is how far before the alive mark replies are looked for:
// events received just before a crash may not have been acted on.
const aliveMargin = 10 * time.Minute

// catchUpCalls bounds the Slack reads of one catch-up. Reaching it is
// reported; what was not read is read at the next connection (the alive
// mark does not move past it).
const catchUpCalls = 200

func (b *Bot) catchUp(ctx context.Context, channel string) {
	start := time.Now()
	if b.catchUpOnce(ctx, channel) {
		b.keepAlive(ctx, channel, start)
	}
}

// catchUpOnce reads what could have been missed in channel, and reports
// whether it read it all (then the alive mark may move on).
func (b *Bot) catchUpOnce(ctx context.Context, channel string) bool {
	alive, err := b.st.Alive(channel)
	if err != nil {
		b.log.Error("catch-up", "channel", channel, "err", err)
		return false
	}
	start := time.Now()
	if alive.IsZero() {
		return true // nothing was ever received here: nothing can have been missed
	}
	for {
		n, err := b.st.UnresolvedRoots(channel)
		if err != nil {
			b.log.Error("catch-up", "channel", channel, "err", err)
			return false
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return false
		case <-b.resolved:
		case <-time.After(time.Second):
		}
	}
	since := alive.Add(-aliveMargin)
	threads, replies, calls := 0, 0, 0
	read := func(f func() error) error {
		calls++
		if calls > catchUpCalls {
			return errBudget
		}
		return b.paced(ctx, readKey, f)
	}
	oldest := strconv.FormatInt(start.Add(-b.cfg.CatchUpWindow).Unix(), 10)
	cursor := ""
	for {
		var r *slack.GetConversationHistoryResponse
		err := read(func() (err error) {
			r, err = b.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Oldest: oldest, Cursor: cursor, Limit: 999, // Slack's most per page
			})
			return err
		})
		if err != nil {
			b.catchUpFailed(ctx, channel, err)
			return false
		}
		for _, root := range r.Messages {
			if root.LatestReply == "" || !store.TSTime(root.LatestReply).After(since) {
				continue
			}
			conv, err := b.st.ConvByThread(channel, root.Timestamp)
			if errors.Is(err, store.ErrNotFound) {
				continue // not a conversation
			} else if err != nil {
				b.catchUpFailed(ctx, channel, err)
				return false
			}
			threads++
			n, err := b.catchUpThread(ctx, channel, conv, since, read)
			replies += n
			if err != nil {
				b.catchUpFailed(ctx, channel, err)
				return false
			}
		}
		if !r.HasMore || r.ResponseMetaData.NextCursor == "" {
			break
		}
		cursor = r.ResponseMetaData.NextCursor
	}
	b.log.Info("catch-up done", "channel", channel, "since", since.Format(time.DateTime), "threads_read", threads,
		"replies_seen", replies, "slack_calls", calls)
	return true
}

var errBudget = errors.New("catch-up read budget spent")

func (b *Bot) catchUpFailed(ctx context.Context, channel string, err error) {
	if ctx.Err() != nil {
		return
	}
	// The alive mark stays where it was: the next connection reads the
	// same threads again.
	b.log.Error("catch-up stopped: replies typed while inboxbot was away may not be sent yet; it reads again at the next start",
		"channel", channel, "err", err)
}

// catchUpThread hands every human reply of a thread newer than since to the
// intake, and returns how many it saw.
func (b *Bot) catchUpThread(ctx context.Context, channel string, conv *store.Conversation, since time.Time,
	read func(func() error) error) (int, error) {
	n := 0
	cursor := ""
	oldest := fmt.Sprintf("%d.000000", since.Unix())
	for {
		var msgs []slack.Message
		var more bool
		err := read(func() (err error) {
			msgs, more, cursor, err = b.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: conv.RootTS, Cursor: cursor, Limit: 200, Oldest: oldest,
			})
			return err
		})
		if err != nil {
			return n, err
		}
		for _, m := range msgs {
			if m.Timestamp == conv.RootTS || m.User == "" || m.BotID != "" {
				continue
			}
			ev := &slackevents.MessageEvent{
				Channel: channel, User: m.User, BotID: m.BotID, SubType: m.SubType,
				Text: m.Text, TimeStamp: m.Timestamp, ThreadTimeStamp: conv.RootTS,
				Message: &m.Msg, // its files
			}
			if err := b.handleMessage(ctx, "catchup:"+channel+"/"+m.Timestamp, ev); err != nil {
				return n, err
			}
			n++
		}
		if !more || cursor == "" {
			return n, nil
		}
	}
}

// paced makes a read call under the pacer, waiting out pacing and 429s
// (a catch-up has time; what it must not do is skip a thread).
func (b *Bot) paced(ctx context.Context, key string, f func() error) error {
	for {
		err := b.pace.do(key, f)
		var ny *notYet
		if !errors.As(err, &ny) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(ny.until)):
		}
	}
}

// keepAlive moves channel's alive mark to from, and then forward every
// half minute while the transport is connected.
func (b *Bot) keepAlive(ctx context.Context, channel string, from time.Time) {
	if err := b.st.SetAlive(channel, from); err != nil {
		b.log.Warn("alive mark", "channel", channel, "err", err)
	}
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.st.SetAlive(channel, time.Now()); err != nil {
			b.log.Warn("alive mark", "channel", channel, "err", err)
		}
	}
}

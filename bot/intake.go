package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/store"
)

// handleMessage turns an agent's thread reply into an outbox job.
func (b *Bot) handleMessage(ctx context.Context, eventID string, e *slackevents.MessageEvent) error {
	switch {
	case b.byChannel[e.Channel] == nil:
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
	conv, err := b.thread(e.Channel, e.ThreadTimeStamp, parkedEvent{EventID: eventID, Message: e})
	if conv == nil || err != nil {
		return err
	}
	return b.reply(ctx, eventID, e, conv)
}

func (b *Bot) reply(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation) error {
	text := slackToPlain(e.Text, func(id string) string { return b.userName(ctx, id) })
	if text == "" {
		return nil
	}
	in := b.inboxOf(conv)
	if in == nil {
		b.log.Error("reply in a conversation of an inbox that is not configured any more; not sent", "conv", conv.Num, "inbox", conv.Inbox)
		return nil
	}
	job, err := b.st.EnqueueReply(store.Reply{
		EventID: eventID, Conv: conv.Num, Channel: e.Channel, SlackTS: e.TimeStamp,
		AgentID: e.User, AgentName: b.userName(ctx, e.User), Text: text,
		MessageID: newMessageID(conv.Num, domainOf(in.Address)),
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

// parkedEvent is an event about a thread kept until its channel's
// unresolved roots are resolved (see store.Park).
type parkedEvent struct {
	EventID  string                    `json:"event_id"`
	Message  *slackevents.MessageEvent `json:"message,omitempty"`
	Reaction *reactionEvent            `json:"reaction,omitempty"`
}

// thread finds the conversation of thread ts in channel. A thread not (yet)
// known may be the thread of a root whose post is unresolved (sent, but its
// outcome not recorded): the event is then parked, to be looked at again
// once that is known, and thread returns nil, nil, like for a thread that is
// not a conversation.
func (b *Bot) thread(channel, ts string, ev parkedEvent) (*store.Conversation, error) {
	c, err := b.st.ConvByThread(channel, ts)
	if !errors.Is(err, store.ErrNotFound) {
		return c, err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	c, parked, err := b.st.Park(channel, ts, data)
	if parked {
		b.log.Info("event about an unknown thread parked until unresolved root posts are resolved", "channel", channel, "thread", ts, "event", ev.EventID)
	}
	return c, err
}

// replayParked looks again at parked events: those whose thread is known
// now are handled; those whose channel has no unresolved root any more are
// not about a conversation and are dropped.
func (b *Bot) replayParked(ctx context.Context) error {
	var seq uint64
	for {
		ps, err := b.st.ParkedAfter(seq, 64)
		if err != nil || len(ps) == 0 {
			return err
		}
		for _, p := range ps {
			seq = p.Seq
			var ev parkedEvent
			if err := json.Unmarshal(p.Event, &ev); err != nil {
				return fmt.Errorf("parked event %d: %w", p.Seq, err)
			}
			conv, err := b.st.ConvByThread(p.Channel, p.ThreadTS)
			switch {
			case errors.Is(err, store.ErrNotFound):
				n, err := b.st.UnresolvedRoots(p.Channel)
				if err != nil || n > 0 {
					continue // still unknown: keep it
				}
				b.log.Info("parked event was not about a conversation", "event", ev.EventID, "thread", p.ThreadTS)
			case err != nil:
				return err
			case ev.Message != nil:
				err = b.reply(ctx, ev.EventID, ev.Message, conv)
			case ev.Reaction != nil:
				err = b.reacted(ctx, *ev.Reaction, conv)
			}
			if err != nil {
				b.log.Warn("parked event not handled yet", "event", ev.EventID, "err", err)
				continue
			}
			if err := b.st.Unpark(p.Seq); err != nil {
				return err
			}
		}
	}
}

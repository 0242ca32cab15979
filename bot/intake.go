package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/inboxbot/inboxbot/store"
)

// handleMessage turns an agent's thread reply into an outbox job, and
// applies edits and deletions of replies to the held ones.
func (b *Bot) handleMessage(ctx context.Context, eventID string, e *slackevents.MessageEvent) error {
	if b.byChannel[e.Channel] == nil {
		return nil
	}
	switch e.SubType {
	case "message_changed", "message_deleted":
		return b.handleChange(ctx, eventID, e)
	}
	switch {
	case e.BotID != "" || e.User == "" || e.User == b.botUserID:
		return nil // bots, our own posts included
	case e.SubType != "" && e.SubType != "file_share":
		// "Also send to channel" replies and other subtypes are not
		// mail: only a plain reply is, with its files or not.
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

// messageIn handles a message event about a known conversation (a parked
// one, once its thread is known).
func (b *Bot) messageIn(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation) error {
	switch e.SubType {
	case "message_changed", "message_deleted":
		return b.changed(ctx, eventID, e, conv)
	}
	return b.reply(ctx, eventID, e, conv)
}

func (b *Bot) reply(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation) error {
	files := messageFiles(e)
	text := b.plainText(ctx, e.Text)
	if text == "" && len(files) == 0 {
		return nil
	}
	in := b.inboxOf(conv)
	if in == nil {
		b.log.Error("reply in a conversation of an inbox that is not configured any more; not sent", "conv", conv.Num, "inbox", conv.Inbox)
		return nil
	}
	if conv.MergedInto != 0 {
		return b.refuseMergedReply(ctx, eventID, e, conv)
	}
	agent := b.userName(ctx, e.User)
	look, bad := readReply(in, text, agent, len(files) > 0)
	if bad != "" {
		// Nothing is queued: what would go out is not what they meant.
		dup, err := b.st.MarkMessage(eventID, e.Channel, e.TimeStamp)
		if err != nil || dup {
			return err
		}
		b.log.Info("reply refused: bad recipient", "conv", conv.Num, "agent", e.User)
		b.goRun(ctx, func(ctx context.Context) {
			b.ephemeral(ctx, e.Channel, e.User, fmt.Sprintf(":warning: Your reply in #%d was NOT sent: %s. Nothing went out; post it again, corrected.", conv.Num, escape(bad)))
		})
		return nil
	}
	var hold time.Time
	if in.SendDelay > 0 {
		// From the message's own time: a backlog or a restart does not
		// make the window longer.
		hold = store.TSTime(e.TimeStamp).Add(in.SendDelay)
	}
	job, err := b.st.EnqueueReply(store.Reply{
		EventID: eventID, Conv: conv.Num, Channel: e.Channel, SlackTS: e.TimeStamp,
		AgentID: e.User, AgentName: agent, Text: look.Text, Recipients: look.Recipients, HoldUntil: hold,
		MessageID: newMessageID(conv.Num, domainOf(in.Address)), Files: files,
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		b.log.Info("redelivered reply ignored", "event", eventID, "conv", conv.Num)
		return nil
	case errors.Is(err, store.ErrMerged):
		return b.refuseMergedReply(ctx, eventID, e, conv)
	case errors.Is(err, store.ErrBlocked):
		return b.refuseReply(ctx, eventID, e, conv, fmt.Sprintf(
			":warning: Your reply in #%d was NOT sent: %s, and nothing is mailed to blocked senders. `/inbox unblock` lifts a block.",
			conv.Num, escape(err.Error())))
	case err != nil:
		return err
	}
	b.log.Info("reply queued", "conv", conv.Num, "seq", job.Seq, "agent", e.User, "message_id", job.MessageID, "held", job.Held,
		"files", len(files))
	if job.Held && job.HoldUntil.Sub(b.cfg.Now()) > time.Second {
		b.goRun(ctx, func(ctx context.Context) { b.preview(ctx, conv, job, in) })
	}
	return nil
}

// handleChange looks at an edit or deletion of a message in an inbox
// channel: one of a reply in a conversation's thread goes to the store,
// through the same parking as replies (an edit must not be lost because
// its thread's root is not resolved yet).
func (b *Bot) handleChange(ctx context.Context, eventID string, e *slackevents.MessageEvent) error {
	m, ts := changedMessage(e)
	if m == nil || m.BotID != "" || m.User == "" || m.User == b.botUserID || m.User == "USLACKBOT" {
		return nil
	}
	if m.ThreadTimestamp == "" || m.ThreadTimestamp == ts {
		return nil // not a thread reply
	}
	if e.SubType == "message_changed" && e.PreviousMessage != nil && e.PreviousMessage.Text == m.Text {
		return nil // an unfurl or a reaction count: the text is the same
	}
	conv, err := b.thread(e.Channel, m.ThreadTimestamp, parkedEvent{EventID: eventID, Message: e})
	if conv == nil || err != nil {
		return err
	}
	return b.changed(ctx, eventID, e, conv)
}

// changedMessage is the message an edit or deletion is about, and its ts.
func changedMessage(e *slackevents.MessageEvent) (*slack.Msg, string) {
	if e.SubType == "message_deleted" {
		if e.PreviousMessage == nil {
			return nil, ""
		}
		return e.PreviousMessage, e.DeletedTimeStamp
	}
	if e.Message == nil {
		return nil, ""
	}
	return e.Message, e.Message.Timestamp
}

func (b *Bot) changed(ctx context.Context, eventID string, e *slackevents.MessageEvent, conv *store.Conversation) error {
	m, ts := changedMessage(e)
	if m == nil {
		return nil
	}
	ed := store.Edit{EventID: eventID, Conv: conv.Num, SlackTS: ts, Deleted: e.SubType == "message_deleted"}
	if !ed.Deleted {
		if m.Edited != nil {
			ed.EditedTS = m.Edited.Timestamp
		} else {
			ed.EditedTS = e.TimeStamp // the event's time orders edits as well
		}
		if isNote(m.Text) {
			ed.Note = true
		} else {
			look, bad := readReply(b.inboxOf(conv), b.plainText(ctx, m.Text), b.userName(ctx, m.User), len(m.Files) > 0)
			ed.Text, ed.Recipients, ed.Invalid = look.Text, look.Recipients, bad
		}
	}
	ev, err := b.st.EditReply(ed)
	if errors.Is(err, store.ErrDuplicate) {
		return nil
	}
	if err == nil && ev != "" {
		b.log.Info("reply changed in Slack", "conv", conv.Num, "ts", ts, "outcome", ev)
	}
	return err
}

// messageFiles are the files a message shares, as the files of its mail.
func messageFiles(e *slackevents.MessageEvent) []store.MailFile {
	if e.Message == nil {
		return nil
	}
	return mailFiles(e.Message.Files)
}

func mailFiles(fs []slack.File) []store.MailFile {
	var out []store.MailFile
	for _, f := range fs {
		if f.ID == "" || f.Mode == "tombstone" {
			continue // a file deleted since
		}
		out = append(out, store.MailFile{SlackID: f.ID, Name: f.Name, Type: f.Mimetype, Size: int64(f.Size), URL: f.URLPrivateDownload})
	}
	return out
}

// parkedEvent is an event about a thread kept until its channel's
// unresolved roots are resolved (see store.Park).
type parkedEvent struct {
	EventID  string                    `json:"event_id"`
	Message  *slackevents.MessageEvent `json:"message,omitempty"`
	Reaction *reactionEvent            `json:"reaction,omitempty"`
}

// isChange reports whether the event is an edit or deletion of a message.
func (ev *parkedEvent) isChange() bool {
	return ev.Message != nil && (ev.Message.SubType == "message_changed" || ev.Message.SubType == "message_deleted")
}

// thread finds the conversation of thread ts in channel. A thread not (yet)
// known may be the thread of a root whose post is unresolved (sent, but its
// outcome not recorded): the event is then parked, to be looked at again
// once that is known, and thread returns nil, nil, like for a thread that is
// not a conversation. An event about a thread with parked events is parked
// behind them, so that an edit never overtakes the reply it changes.
func (b *Bot) thread(channel, ts string, ev parkedEvent) (*store.Conversation, error) {
	c, err := b.st.ConvByThread(channel, ts)
	if err == nil {
		// A known thread, and nothing parked that this event could
		// overtake: the common case, without a write.
		if any, err := b.st.AnyParked(); err != nil || !any {
			return c, err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	c, parked, err := b.st.Park(channel, ts, data)
	if parked {
		b.log.Info("event parked until its thread is known and the thread's earlier parked events are handled",
			"channel", channel, "thread", ts, "event", ev.EventID)
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
		seq = ps[len(ps)-1].Seq
		evs := make([]parkedEvent, len(ps))
		for i, p := range ps {
			if err := json.Unmarshal(p.Event, &evs[i]); err != nil {
				return fmt.Errorf("parked event %d: %w", p.Seq, err)
			}
		}
		// Events were parked by handlers running side by side, in no
		// particular order: a reply's edit may have been parked before
		// the reply. Replies go first, so that their edits find them.
		order := make([]int, 0, len(ps))
		for _, change := range []bool{false, true} {
			for i := range evs {
				if evs[i].isChange() == change {
					order = append(order, i)
				}
			}
		}
		for _, i := range order {
			p, ev := ps[i], evs[i]
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
				err = b.messageIn(ctx, ev.EventID, ev.Message, conv)
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

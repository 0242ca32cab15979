package bot

import (
	"context"
	"errors"
	"time"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/store"
)

// Status cards are refreshed from the store's marks: however many changes
// a conversation had while its card waited (a burst of clicks, a backlog),
// it is updated once, with the latest state, paced apart from posts so that
// refreshes never starve new mail.

// refreshCards brings marked cards up to date and returns when to come back
// (zero: nothing left that can be done now).
func (b *Bot) refreshCards(ctx context.Context) time.Time {
	if b.cardRetry.After(time.Now()) {
		return b.cardRetry
	}
	var num uint64
	for {
		cards, err := b.st.CardsAfter(num, pageSize)
		if err != nil {
			b.log.Warn("reading cards to refresh", "err", err)
			return time.Now().Add(5 * time.Second)
		}
		if len(cards) == 0 {
			return time.Time{}
		}
		for _, c := range cards {
			num = c.Conv
			err := b.refreshCard(ctx, c)
			var ny *notYet
			switch {
			case errors.As(err, &ny):
				return ny.until
			case err != nil && ctx.Err() == nil:
				b.log.Warn("card update failed, will retry", "conv", c.Conv, "err", err)
				b.cardRetry = time.Now().Add(5 * time.Second)
				return b.cardRetry
			}
		}
	}
}

// refreshCard re-renders a conversation's root card from the store and
// clears its mark unless a change came meanwhile. Holding the
// conversation's lock while reading and updating means the last update to
// reach Slack is always made from the latest state. A conversation whose
// root is not posted yet keeps its mark.
func (b *Bot) refreshCard(ctx context.Context, card store.Card) error {
	unlock := b.convMu.lock(card.Conv)
	defer unlock()
	c, err := b.st.Conv(card.Conv)
	if errors.Is(err, store.ErrNotFound) {
		return b.st.CardDone(card)
	}
	if err != nil || c.RootTS == "" {
		return err
	}
	err = b.pace.do(updateKey, func() error {
		_, _, _, err := b.api.UpdateMessageContext(ctx, c.Channel, c.RootTS,
			slack.MsgOptionText(rootFallback(c), false), slack.MsgOptionBlocks(b.card(c)...))
		return err
	})
	if err != nil {
		return err
	}
	return b.st.CardDone(card)
}

// refreshCardNow refreshes one card at once (after a click), if it is
// marked; when pacing or Slack says not now, the queue does it later.
func (b *Bot) refreshCardNow(ctx context.Context, num uint64) {
	v, err := b.st.CardVersion(num)
	if err != nil || v == 0 {
		b.log.Debug("card not marked", "conv", num, "err", err)
		return
	}
	err = b.refreshCard(ctx, store.Card{Conv: num, Version: v})
	var ny *notYet
	if err != nil && !errors.As(err, &ny) && ctx.Err() == nil {
		b.log.Warn("card update failed; the queue will retry", "conv", num, "err", err)
	}
	if err != nil {
		// Marked still; marking it again wakes the queue for it.
		if err := b.st.MarkCard(num); err != nil {
			b.log.Warn("card left for the queue's next pass", "conv", num, "err", err)
		}
	}
}

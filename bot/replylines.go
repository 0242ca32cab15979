package bot

import (
	"fmt"

	"github.com/inboxbot/inboxbot/store"
)

// replyLine is the thread line about a reply's fate (cancelled, edited,
// bounced). It depends only on the job, so a repeated post is the same.
func replyLine(j *store.SlackJob) string {
	when := func() string {
		if j.At.IsZero() {
			return ""
		}
		return " at " + slackTime(j.At)
	}
	switch j.Kind {
	case store.JobCancelled:
		switch j.Event {
		case store.EventCancelled:
			return fmt.Sprintf(":no_entry_sign: <@%s> cancelled a reply before it was sent: nothing went to the customer.", j.By)
		case store.EventDeleted:
			return ":wastebasket: A reply was deleted before it was sent: nothing went to the customer."
		case store.EventNote:
			return ":memo: A reply was turned into a note before it was sent: nothing went to the customer."
		case store.EventExpired:
			return ":hourglass: A reply held back by the collision guard was not sent: its author did not say whether to send it after all."
		case store.EventInvalid:
			return ":warning: A reply was not sent: " + escape(j.Error) + "."
		}
		return ":no_entry_sign: A reply was cancelled before it was sent."
	case store.JobReplyLine:
		switch j.Event {
		case store.EventEdited:
			return ":pencil2: Edit taken: the email will have the new text."
		case store.EventInvalid:
			return ":warning: Edit not taken: " + escape(j.Error) + ". Correct it before the reply goes out, or it will not be sent."
		case store.EventDeletedLate:
			if j.Error == store.ReplyQueued {
				return ":wastebasket: A reply was deleted in Slack after it left its hold window" + when() + ": it is being sent, the customer gets it."
			}
			return ":wastebasket: A reply was deleted in Slack, but it was already sent" + when() + ": the customer has it."
		case store.EventEditedLate:
			if j.Error == store.ReplyQueued {
				return ":pencil2: A reply was edited after it left its hold window" + when() + ": the customer gets the original text."
			}
			return ":pencil2: A reply was edited after it was sent" + when() + ": the customer has the original text."
		}
	case store.JobBounced:
		what := "a reply"
		if j.Forward {
			what = "a forward"
		}
		to := ""
		if j.To != "" {
			to = " (" + escape(j.To) + ")"
		}
		switch j.Event {
		case "":
			return fmt.Sprintf(":x: %s%s bounced%s: %s", string(what[0]-0x20), what[1:], to, escape(j.Error))
		case store.EventDelayed:
			return fmt.Sprintf(":hourglass: Delivery of %s%s is delayed: %s. The mail system keeps trying.", what, to, escape(j.Error))
		}
		return fmt.Sprintf(":mailbox_with_mail: Delivery report for %s%s: %s", what, to, escape(j.Event))
	}
	return ""
}

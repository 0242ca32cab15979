package store

import (
	"encoding/json"
	"time"

	"github.com/inboxbot/inboxbot/mailbridge/message"
)

// The model of a parsed mail is the mail format package's; these aliases
// keep the names the store's records and callers use (same JSON).
type (
	// Address is a mailbox: display name and address.
	Address = message.Address
	// Attachment describes an attachment of an inbound mail; its content is not kept.
	Attachment = message.Attachment
	// InboundMail is a received mail as the Slack side needs it.
	InboundMail = message.Message
	// DeliveryReport is what a bounce says about the message it returns.
	DeliveryReport = message.DeliveryReport
)

// Status is where a conversation stands.
type Status string

// Conversation statuses.
const (
	StatusOpen    Status = "open"    // needs us
	StatusWaiting Status = "waiting" // we replied, the customer has the ball
	StatusHold    Status = "hold"    // parked by hand
	StatusClosed  Status = "closed"
)

// Conversation is one customer thread: one Slack thread, many mails. The
// struct is what lists and counts read (bucket convs); ConvText, stored apart
// (bucket convtext), is loaded only where a card or a reply needs it.
type Conversation struct {
	Num      uint64  `json:"num"`
	Inbox    string  `json:"inbox,omitempty"`   // the inbox (its address) the customer wrote to
	Channel  string  `json:"channel,omitempty"` // Slack channel of the thread, once its root is posted
	RootTS   string  `json:"root_ts,omitempty"` // Slack ts of the root message, once posted
	Subject  string  `json:"subject"`
	Customer Address `json:"customer"`
	ReplyTo  Address `json:"reply_to"` // where replies go: Reply-To of the latest customer mail, else its From

	Status   Status    `json:"status"`
	Assignee string    `json:"assignee,omitempty"` // Slack user ID
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	ClosedAt time.Time `json:"closed_at,omitzero"`

	// LastAgent is who sent the latest reply (Slack user ID): the card
	// shows it when it is not the owner.
	LastAgent string `json:"last_agent,omitempty"`
	// Outbound is set for a conversation an agent started (/inbox new):
	// Customer is then whom it was written to.
	Outbound bool `json:"outbound,omitempty"`
	// Tags are the conversation's tags, lower case, sorted (see tags.go).
	Tags []string `json:"tags,omitempty"`
	// MergedInto is the conversation this one was merged into (see
	// merge.go): its mail lands there now. MergedFrom lists those merged
	// into this one.
	MergedInto uint64   `json:"merged_into,omitempty"`
	MergedFrom []uint64 `json:"merged_from,omitempty"`

	// Awaiting is when the customer's oldest unanswered mail came (zero:
	// nobody waits for an answer), for the event log: a sent reply or a
	// close ends the wait. It is not Clock.Start, which runs only where a
	// response target is set, and stops at a hold and when a reply is
	// released, before it is sent (or fails).
	Awaiting time.Time `json:"awaiting,omitzero"`
	// FirstReply is when its first reply was sent (zero: none yet), for
	// the event log: whether a reply sent answers the first wait.
	FirstReply time.Time `json:"first_reply,omitzero"`
	// Reopened is when it was last reopened after a close (zero: never):
	// its resolution time counts from then.
	Reopened time.Time `json:"reopened,omitzero"`
	// Timers (timers.go). Clock runs while a customer waits for an
	// answer; WakeAt ends a hold (a snooze); AutoCloseAt closes a
	// conversation waiting on the customer since WaitingSince.
	Clock        Clock     `json:"clock,omitzero"`
	WakeAt       time.Time `json:"wake_at,omitzero"`
	WaitingSince time.Time `json:"waiting_since,omitzero"`
	AutoCloseAt  time.Time `json:"auto_close_at,omitzero"`
	// What the response clocks recorded: when the first reply was
	// released to the outbox (from then on a customer mail starts the
	// next-response clock; not FirstReply, which is set later, or never
	// when the reply fails), and how many targets were met (a reply
	// before the due time) or breached (each also an ActBreach entry in
	// History, with its time).
	FirstReplyAt    time.Time `json:"first_reply_at,omitzero"`
	TargetsMet      int       `json:"targets_met,omitempty"`
	TargetsBreached int       `json:"targets_breached,omitempty"`

	ConvText `json:"-"`
}

// ConvText is the part of a conversation that grows with it: kept apart so
// that the summaries lists read stay small.
type ConvText struct {
	Preview string `json:"preview"` // beginning of the first mail, shown on the root card; ends in "…" when cut
	// First is the first mail without its text: what the card says about
	// it (attachments, warnings) must survive the card's updates.
	First *InboundMail `json:"first,omitempty"`

	// Threading of our replies: In-Reply-To is LastInbound; References is
	// ParentRefs plus LastInbound, or Chain when the customer's client
	// dropped References.
	LastInbound string   `json:"last_inbound,omitempty"`
	ParentRefs  []string `json:"parent_refs,omitempty"`
	Chain       []string `json:"chain,omitempty"` // every Message-ID received or sent, oldest first, capped

	History []Change `json:"history,omitempty"` // newest maxHistory entries

	// Cc is who else replies go to (reply-all): whom the latest mail of
	// the customer was addressed to besides the inbox, as agents changed
	// it since. Never an inbox's own address.
	Cc []Address `json:"cc,omitempty"`
	// Participants are the addresses (lower case) that took part or were
	// added by an agent. A mail that joins the conversation by its
	// threading headers from any other address is shown flagged, and
	// changes neither the reply address nor the recipients: anyone who saw
	// a Message-ID could otherwise redirect the conversation.
	Participants []string `json:"participants,omitempty"`
	// LastHuman is when the latest mail by a person (not an automated one)
	// was recorded, and from whom: a reply held meanwhile must not go out
	// without its author knowing.
	LastHumanAt   time.Time `json:"last_human_at,omitzero"`
	LastHumanFrom string    `json:"last_human_from,omitempty"`
	// Latest is the latest customer mail, its text capped: what
	// /inbox forward sends on.
	Latest *InboundMail `json:"latest,omitempty"`
	// Replies are the conversation's latest replies and their fate,
	// newest last, capped: edits, deletions, bounces and the collision
	// guard look them up.
	Replies []ReplyRef `json:"replies,omitempty"`
	// Earlier is what the customer's earlier conversations in the same
	// inbox were when this one opened: a snapshot the card shows.
	Earlier *Earlier `json:"earlier,omitempty"`
	// MergedCc are the addresses a merge joined (everyone of both
	// conversations): they stay in Cc whoever writes next, until an
	// agent takes one out.
	MergedCc []Address `json:"merged_cc,omitempty"`
	// LatestFiles maps the spool name (Attachment.Ref) of an attachment
	// of Latest to its Slack file once it is uploaded: what /inbox
	// forward sends on.
	LatestFiles map[string]string `json:"latest_files,omitempty"`
}

// Reply states, as ReplyRef.State.
const (
	ReplyHeld      = "held"      // waiting out the hold window (or its author's answer)
	ReplyQueued    = "queued"    // released to the outbox
	ReplySent      = "sent"      // the SMTP server took it
	ReplyFailed    = "failed"    // could not be sent
	ReplyCancelled = "cancelled" // never sent: cancelled, deleted, turned into a note, unanswered
	ReplyBounced   = "bounced"   // sent, then bounced
)

// ReplyRef is what a conversation remembers of one of its replies.
type ReplyRef struct {
	Seq       uint64    `json:"seq"`                 // outbox job
	SlackTS   string    `json:"ts,omitempty"`        // the agent's message ("" for a forward)
	AgentID   string    `json:"agent,omitempty"`     // its author
	MessageID string    `json:"mid"`                 // of the mail
	InReplyTo string    `json:"irt,omitempty"`       // the customer mail it answers
	State     string    `json:"state"`               // Reply*
	At        time.Time `json:"at"`                  // of the latest state change
	To        string    `json:"to,omitempty"`        // for lines about its fate
	Forward   bool      `json:"forward,omitempty"`   // a forward, not a reply
	Why       string    `json:"why,omitempty"`       // why it failed, bounced or was cancelled
	Written   time.Time `json:"written,omitzero"`    // when its author wrote it (the Slack ts)
	EditedTS  string    `json:"edited_ts,omitempty"` // the Slack edit its mail has ("" the original)
}

// Change is one entry of a conversation's activity log.
type Change struct {
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"` // Slack user ID; empty for the customer or the system
	Action string    `json:"action"`       // claimed, assigned, unassigned, closed, reopened, hold
	Target string    `json:"target,omitempty"`
}

// Slack job kinds. Status cards are not jobs: a change marks its card
// (bucket cards) and the poster brings each marked card up to date once,
// however many changes were made meanwhile.
const (
	JobMail     = "mail"     // post an inbound mail (root or thread reply)
	JobSent     = "sent"     // a reply went out: mark the Slack message
	JobFailed   = "failed"   // a reply could not be sent: say so in the thread
	JobActivity = "activity" // a workflow change: a line in the thread
	// JobNotice says in the channel (not in a thread) that a part of
	// inboxbot stopped working, or works again. Conv is 0.
	JobNotice = "notice"
	// JobStillTrying says in a reply's thread that it is not sent yet, and why.
	JobStillTrying = "still_trying"
	// JobHeld marks a reply held for the hold window (:hourglass_flowing_sand:).
	JobHeld = "held"
	// JobCancelled says a held reply will never be sent, and why (Event),
	// and takes its hold mark away.
	JobCancelled = "cancelled"
	// JobReplyLine is a line in the thread about a reply (Event): an edit
	// taken, or one that came too late.
	JobReplyLine = "reply_line"
	// JobBounced marks a sent reply :x: with the bounce's reason (Error),
	// or says that its delivery is delayed (Event EventDelayed).
	JobBounced = "bounced"
	// JobCompose posts the status card of a conversation an agent started.
	JobCompose = "compose"
	// JobPointer says in another inbox's channel that a mail it received
	// is a conversation of the inbox that received it first.
	JobPointer = "pointer"
	// JobDigest posts a weekly digest (Text) at the top of an inbox's
	// channel (Inbox). Conv is 0.
	JobDigest = "digest"
	// JobComposed posts a reply written in the composer (Composed) in its
	// thread; once posted, it is queued as a reply (see ComposedPosted).
	JobComposed = "composed"
)

// Events of JobCancelled and JobReplyLine.
const (
	EventCancelled   = "cancelled"    // the author clicked Cancel
	EventDeleted     = "deleted"      // the message was deleted inside the window
	EventNote        = "note"         // an edit turned it into a note
	EventExpired     = "expired"      // the author did not answer the collision question within a day
	EventEdited      = "edited"       // an edit inside the window: the mail has the new text
	EventEditedLate  = "edited_late"  // an edit after the window: the customer has the original
	EventDeletedLate = "deleted_late" // a deletion after the window: the customer has it
	EventDelayed     = "delayed"      // a delivery-delayed report
	EventInvalid     = "invalid"      // an edit with a recipient that is not an address: the mail is unchanged
)

// Notice is a message about inboxbot itself for the inbox channel.
type Notice struct {
	Inbox    string    `json:"inbox,omitempty"`   // whose channel to post in ("": the first inbox's)
	Part     string    `json:"part"`              // "IMAP", "SMTP", "Slack Socket Mode"
	Problem  string    `json:"problem,omitempty"` // "Cannot log in to IMAP"; empty when Resolved
	Since    time.Time `json:"since"`             // when the outage began
	Error    string    `json:"error,omitempty"`
	Fix      string    `json:"fix,omitempty"` // "IMAP_PASSWORD: …"
	Resolved bool      `json:"resolved,omitempty"`
}

// SlackJob is an entry of the mail → Slack queue. Posting a job may take
// several Slack calls (parts); progress is recorded before and after each so
// that a restart neither repeats nor skips one.
type SlackJob struct {
	Seq  uint64 `json:"seq"`
	Kind string `json:"kind"`
	Conv uint64 `json:"conv"`

	Mail *InboundMail `json:"mail,omitempty"` // JobMail
	// NewConv is set when the mail opened the conversation (the root is to be posted).
	NewConv bool `json:"new_conv,omitempty"`

	Change *Change `json:"change,omitempty"` // JobActivity
	Notice *Notice `json:"notice,omitempty"` // JobNotice
	// Inbox is the inbox whose channel the job posts in when that is not
	// the conversation's (JobPointer, JobDigest).
	Inbox string `json:"inbox,omitempty"`
	// Text is a post the bot rendered when it queued the job (JobDigest).
	Text string `json:"text,omitempty"`

	ReplyTS string `json:"reply_ts,omitempty"` // JobSent/JobFailed/JobStillTrying: the agent's Slack message
	To      string `json:"to,omitempty"`
	Error   string `json:"error,omitempty"`

	Event   string    `json:"event,omitempty"`   // JobCancelled, JobReplyLine: what happened (Event*); JobReminder, JobDM: Timer*
	By      string    `json:"by,omitempty"`      // who did it (Slack user ID)
	At      time.Time `json:"at,omitzero"`       // JobReplyLine: when the reply was sent; JobReminder, JobDM: when the target is due
	Target  string    `json:"target,omitempty"`  // JobReminder, JobDM: the clock (ClockFirst, ClockNext)
	Forward bool      `json:"forward,omitempty"` // JobSent/JobFailed: a forward, not a reply
	// NewAddress (JobMail) flags a mail that joined the conversation from
	// an address that is not one of its participants.
	NewAddress bool `json:"new_address,omitempty"`
	// Folded (JobMail) counts the automated mails from the same sender
	// this hour when the loop guard added this one to an existing
	// conversation instead of opening one.
	Folded int `json:"folded,omitempty"`
	// Blocked (JobMail) flags a mail from a blocked sender that answers
	// an existing conversation: shown, but it changed nothing.
	Blocked bool `json:"blocked,omitempty"`
	// Composed (JobComposed) is the reply to post and then send.
	Composed *ComposedReply `json:"composed,omitempty"`

	// FileID is the Slack file of the current part (Done) when that part
	// is an upload: recorded once files.getUploadURLExternal gave it,
	// before the bytes are sent, so that after a crash the upload's
	// outcome is found again by it.
	FileID string `json:"file_id,omitempty"`
	// FileErrors are the parts whose file could not be uploaded, and why:
	// each is then a line in the thread saying so instead.
	FileErrors map[int]string `json:"file_errors,omitempty"`

	Created     time.Time `json:"created"`
	Done        int       `json:"done"`       // parts posted
	Attempting  bool      `json:"attempting"` // part Done was sent to Slack, outcome unknown
	Attempts    int       `json:"attempts"`   // failed attempts of the current part
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// MailJob is an entry of the Slack → mail queue: a reply ready to send.
// Everything the mail needs is fixed when it is released to the sender,
// its Message-ID included, so a retry sends the very same message.
//
// A reply is queued held: the sender leaves it alone until the bot, at the
// end of the hold window (HoldUntil), has looked at the Slack message again
// and checked for collisions, and releases it. Until then its text follows
// the edits of the Slack message.
type MailJob struct {
	Seq        uint64    `json:"seq"`
	Conv       uint64    `json:"conv"`
	Inbox      string    `json:"inbox,omitempty"` // sent From this inbox, through its SMTP server
	MessageID  string    `json:"message_id"`
	To         Address   `json:"to"`
	Cc         []Address `json:"cc,omitempty"`
	Subject    string    `json:"subject"`
	InReplyTo  string    `json:"in_reply_to,omitempty"`
	References []string  `json:"references,omitempty"`
	AgentID    string    `json:"agent_id"`
	AgentName  string    `json:"agent_name"`
	Text       string    `json:"text"`
	SlackTS    string    `json:"slack_ts"` // the agent's message, to mark it sent
	Channel    string    `json:"channel,omitempty"`
	Forward    bool      `json:"forward,omitempty"` // /inbox forward: no Slack message of its own

	// Held: not for the sender yet (see above).
	Held      bool      `json:"held,omitempty"`
	HoldUntil time.Time `json:"hold_until,omitzero"` // the Slack message's time + SEND_DELAY
	// EditedTS is the Slack edit the text is from ("" the original):
	// an older look at the message never undoes a newer edit.
	EditedTS string `json:"edited_ts,omitempty"`
	// Question is set while the author is asked whether to send after
	// all (collision guard).
	Question *Question `json:"question,omitempty"`
	// AckedUpTo: collisions up to this time were shown to the author,
	// who chose to send anyway.
	AckedUpTo time.Time `json:"acked_up_to,omitzero"`
	// Recipients are the reply's own changes of whom it goes to (To and
	// Cc are worked out again from them when it is released).
	Recipients Recipients `json:"recipients,omitzero"`
	// Files are the files the mail carries. A job with files is for the
	// sender only once FilesReady: the bot has downloaded every one of
	// them into the spool.
	Files      []MailFile `json:"files,omitempty"`
	FilesReady bool       `json:"files_ready,omitempty"`
	// FileAttempts counts the failed downloads; NextFileAttempt is when
	// to try again.
	FileAttempts    int       `json:"file_attempts,omitempty"`
	NextFileAttempt time.Time `json:"next_file_attempt,omitzero"`

	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// StillTrying is set once the thread was told the reply is late.
	StillTrying bool `json:"still_trying,omitempty"`
	// Composed: written in the composer (see Reply.Composed).
	Composed bool `json:"composed,omitempty"`
}

// FilesPending reports whether the job has files not downloaded yet: the
// sender leaves it alone until they are.
func (j *MailJob) FilesPending() bool { return len(j.Files) > 0 && !j.FilesReady }

// MailFile is a file an outgoing mail carries: one an agent shared in Slack
// with the reply, or an attachment of a customer's mail that a forward
// sends on.
type MailFile struct {
	SlackID string `json:"slack_id"`
	Name    string `json:"name"`
	Type    string `json:"type,omitempty"` // media type
	Size    int64  `json:"size,omitempty"` // as Slack gave it
	URL     string `json:"url,omitempty"`  // url_private_download ("": files.info has it)
	Ref     string `json:"ref,omitempty"`  // its name in the spool, once downloaded
}

// Question is a held reply's question to its author: something happened
// while it was held that they did not know when they wrote it.
type Question struct {
	Asked    time.Time `json:"asked"`
	Expires  time.Time `json:"expires"`
	Why      []Clash   `json:"why"`
	Notified bool      `json:"notified,omitempty"` // the author was shown it
}

// Clash is one thing that happened while a reply was held.
type Clash struct {
	Customer bool      `json:"customer,omitempty"` // the customer wrote again (Who: their address)
	Who      string    `json:"who"`                // the other agent's user ID, or the customer's address
	At       time.Time `json:"at"`
	State    string    `json:"state,omitempty"` // the other agent's reply: Reply*
}

// Parked is a Slack event about a thread that was not known when it came
// while a root post's outcome was still unknown: it may be about that root.
// The store keeps it opaque; the bot looks at it again once the roots of
// its channel are resolved.
type Parked struct {
	Seq      uint64          `json:"seq"`
	Channel  string          `json:"channel"`
	ThreadTS string          `json:"thread_ts"`
	Event    json.RawMessage `json:"event"`
	At       time.Time       `json:"at"`
}

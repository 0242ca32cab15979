package store

import (
	"encoding/json"
	"time"
)

// Address is a mailbox: display name and address.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"addr"`
}

// String renders "Name <addr>" or just the address.
func (a Address) String() string {
	if a.Name == "" {
		return a.Addr
	}
	return a.Name + " <" + a.Addr + ">"
}

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
}

// Change is one entry of a conversation's activity log.
type Change struct {
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"` // Slack user ID; empty for the customer or the system
	Action string    `json:"action"`       // claimed, assigned, unassigned, closed, reopened, hold
	Target string    `json:"target,omitempty"`
}

// Attachment describes an attachment of an inbound mail; its content is not kept.
type Attachment struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// InboundMail is a received mail as the Slack side needs it.
type InboundMail struct {
	MessageID   string       `json:"message_id,omitempty"`
	InReplyTo   []string     `json:"in_reply_to,omitempty"`
	References  []string     `json:"references,omitempty"`
	From        Address      `json:"from"`
	ReplyTo     *Address     `json:"reply_to,omitempty"`
	To          []Address    `json:"to,omitempty"`
	Cc          []Address    `json:"cc,omitempty"`
	Subject     string       `json:"subject"`
	Date        time.Time    `json:"date,omitzero"`
	Text        string       `json:"text"`
	Truncated   bool         `json:"truncated,omitempty"`
	HTMLOnly    bool         `json:"html_only,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Auto        bool         `json:"auto,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
	// ParseError is set when the mail could not be parsed; Text then holds
	// the beginning of the raw message so that nothing is lost from sight.
	ParseError string `json:"parse_error,omitempty"`
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
	// JobPointer says in another inbox's channel that a mail it received
	// is a conversation of the inbox that received it first.
	JobPointer = "pointer"
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
	// the conversation's (JobPointer).
	Inbox string `json:"inbox,omitempty"`

	ReplyTS string `json:"reply_ts,omitempty"` // JobSent/JobFailed/JobStillTrying: the agent's Slack message
	To      string `json:"to,omitempty"`
	Error   string `json:"error,omitempty"`

	Created     time.Time `json:"created"`
	Done        int       `json:"done"`       // parts posted
	Attempting  bool      `json:"attempting"` // part Done was sent to Slack, outcome unknown
	Attempts    int       `json:"attempts"`   // failed attempts of the current part
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// MailJob is an entry of the Slack → mail queue: a reply ready to send.
// Everything the mail needs is fixed when it is queued, its Message-ID
// included, so a retry sends the very same message.
type MailJob struct {
	Seq        uint64   `json:"seq"`
	Conv       uint64   `json:"conv"`
	Inbox      string   `json:"inbox,omitempty"` // sent From this inbox, through its SMTP server
	MessageID  string   `json:"message_id"`
	To         Address  `json:"to"`
	Subject    string   `json:"subject"`
	InReplyTo  string   `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	AgentID    string   `json:"agent_id"`
	AgentName  string   `json:"agent_name"`
	Text       string   `json:"text"`
	SlackTS    string   `json:"slack_ts"` // the agent's message, to mark it sent

	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// StillTrying is set once the thread was told the reply is late.
	StillTrying bool `json:"still_trying,omitempty"`
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

package store

import (
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

// Conversation is one customer thread: one Slack thread, many mails.
type Conversation struct {
	Num      uint64  `json:"num"`
	Subject  string  `json:"subject"`
	Customer Address `json:"customer"`
	ReplyTo  Address `json:"reply_to"` // where replies go: Reply-To of the latest customer mail, else its From
	Preview  string  `json:"preview"`  // beginning of the first mail, shown on the root card; ends in "…" when cut
	// First is the first mail without its text: what the card says about
	// it (attachments, warnings) must survive the card's updates.
	First   *InboundMail `json:"first,omitempty"`
	Created time.Time    `json:"created"`
	Updated time.Time    `json:"updated"`
	RootTS  string       `json:"root_ts,omitempty"` // Slack ts of the root message, once posted

	// Threading of our replies: In-Reply-To is LastInbound; References is
	// ParentRefs plus LastInbound, or Chain when the customer's client
	// dropped References.
	LastInbound string   `json:"last_inbound,omitempty"`
	ParentRefs  []string `json:"parent_refs,omitempty"`
	Chain       []string `json:"chain,omitempty"` // every Message-ID received or sent, oldest first, capped

	Status   Status    `json:"status"`
	Assignee string    `json:"assignee,omitempty"` // Slack user ID
	ClosedAt time.Time `json:"closed_at,omitzero"`
	History  []Change  `json:"history,omitempty"`
}

// Change is one entry of a conversation's activity log.
type Change struct {
	At     time.Time `json:"at"`
	By     string    `json:"by,omitempty"` // Slack user ID; empty for the customer or the system
	Action string    `json:"action"`       // claimed, assigned, unassigned, closed, reopened, hold
	Target string    `json:"target,omitempty"`
}

// Slack job kinds.
const (
	JobMail   = "mail"   // post an inbound mail (root or thread reply)
	JobSent   = "sent"   // a reply went out: mark the Slack message
	JobFailed = "failed" // a reply could not be sent: say so in the thread
	// JobActivity shows a workflow change: a line in the thread, and the
	// root card brought up to date.
	JobActivity = "activity"
)

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

	ReplyTS string `json:"reply_ts,omitempty"` // JobSent/JobFailed: the agent's Slack message
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
}

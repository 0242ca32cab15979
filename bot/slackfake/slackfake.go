// Package slackfake is an in-process fake of Slack's Web API and Socket Mode
// for end-to-end tests of the bot. It is driven by the real slack-go client:
//
//	fake := slackfake.New()
//	defer fake.Close()
//	api := slack.New(slackfake.BotToken,
//		slack.OptionAPIURL(fake.URL()),
//		slack.OptionAppLevelToken(slackfake.AppToken))
//	sm := socketmode.New(api)
//
// All state lives behind one mutex; every accessor returns copies. Tests wait
// for the bot with WaitFor, WaitAck and WaitConnected, which wake up on every
// state change (never by polling with sleeps).
//
// Timestamps come from Clock (the wall clock by default), like Slack's, and
// strictly increase: a message is never given the ts of an earlier one even
// when the clock has not moved. IDs (envelopes, events, files) come from
// counters.
//
// Things about slack-go v0.35.0 the fake relies on (and the bot must know):
//
//   - Most methods POST a form with the token in the "token" field; views.*
//     and apps.connections.open POST JSON with "Authorization: Bearer".
//     apps.connections.open needs the xapp token (slack.OptionAppLevelToken).
//   - MsgOptionMetadata sends "metadata" as a JSON form value. History and
//     replies return it only with IncludeAllMetadata; slack.Msg.Metadata is a
//     value, so "absent" reads as EventType == "". block_actions payloads
//     carry the message without metadata (the fake, like Slack, omits it).
//   - MsgOptionBlocks() with no blocks sends "blocks=[]": on chat.update that
//     clears the blocks; leaving the option out keeps them.
//   - MsgOptionText(text, true) HTML-escapes &, < and >.
//   - Response URLs get a JSON slack.Msg, which always carries
//     replace_original/delete_original and an empty "metadata" object.
//   - socketmode: each envelope must be acked with Client.Ack(*evt.Request)
//     (payload optional; a slash command's ack payload is shown to the user).
//     Inner event types slack-go does not know, and malformed payloads, come
//     out as EventTypeErrorBadMessage without a Request and cannot be acked.
//     The event_id is in evt.Data.(slackevents.EventsAPIEvent).Data.(*slackevents.EventsAPICallbackEvent).EventID
//     and the retry count in evt.Request.RetryAttempt.
//   - socketmode reconnects by itself (at once) after a dropped socket or a
//     "disconnect" message; Run only returns for fatal auth errors or ctx.
//   - UploadFileContext makes three requests: files.getUploadURLExternal, a
//     multipart POST of the bytes to upload_url (with the bot token; slack-go
//     only sends it to https Slack hosts or the OptionAPIURL host, which the
//     fake's URLs are), files.completeUploadExternal. GetFileContext reports
//     Slack's redirect to the sign-in page (no access) as an error.
//
// Files (files.go): the external upload flow, files.info and downloads of
// url_private(_download) (bot token required, else the sign-in redirect).
// Files/File read them back (bytes, mimetype, shares and their message ts);
// UserShareFiles posts a user's file_share reply; DeferFileShares and
// ShareDeferredFiles model Slack posting the share a moment after
// files.completeUploadExternal answers. Faults apply to the methods and, as
// UploadURLMethod and FileDownloadMethod, to the upload POST and downloads.
//
// Ephemerals (ephemeral.go): chat.postEphemeral validates and records blocks;
// EphemeralAction clicks a button of one (container.is_ephemeral) and its
// response_url replaces or deletes that ephemeral (Ephemeral(ts) shows it).
//
// Modals (views.go): views.open/push need a trigger_id the fake issued (slash
// commands, block actions, ViewAction, SubmitView) less than 3 s ago (see
// Clock, ExpireTriggers) and not used yet; views.update checks the hash.
// SubmitView, ViewAction and CloseView act as the user; the app's ack of a
// view_submission (WaitViewAck) is applied to the user's view stack
// (OpenViews, View).
//
// HTTP delivery (httpmode.go): UseHTTP makes the fake POST events,
// interactive payloads and slash commands to the app's request URLs,
// signed with the signing secret, instead of using the websocket; the 2xx
// answer is the ack, so WaitAck/Acked/WaitViewAck work in both modes and one
// test can run over both transports. VerifyURL sends url_verification;
// TamperNext spoils signatures or timestamps; Replay resends a request
// verbatim; failed event deliveries are retried with Slack's headers by
// RetryFailed or at once with AutoRetry (DropPending and DropEnvelope give
// up on them); Deliveries and WaitDelivery show every request and its
// outcome, HTTPInFlight how many are still under way.
//
// Messages (messages.go): deleting a thread parent that has replies leaves a
// tombstone, as in Slack. Blocks are validated against Block Kit's limits,
// rich_text included (validate.go); Pings (mentions.go) says whom a
// recorded message notifies, as Slack reads its markup and blocks. Users (users.go): SetUserTimeZone for users.info,
// SetUserGroups for usergroups.list and usergroups.users.list.
package slackfake

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"
)

// Identity of the fake workspace and of the bot.
const (
	BotToken  = "xoxb-fake"
	AppToken  = "xapp-fake"
	BotUserID = "UBOT"
	BotID     = "BBOT"
	TeamID    = "T1"
	AppID     = "A1"
	BotName   = "inboxbot"

	// SlashCommandName is the command SlashCommand sends.
	SlashCommandName = "/inbox"

	// VerificationToken is the (deprecated) token Slack puts in payloads.
	VerificationToken = "fake-verification-token"
)

// Message is a recorded message (see Messages and Ephemerals).
type Message struct {
	Channel, TS, ThreadTS, User, BotID, Text string
	// Blocks as posted ("blocks" form value or JSON field); nil if none.
	Blocks json.RawMessage
	// Metadata as posted ("metadata"); nil if none.
	Metadata *slack.SlackMetadata
	// Reactions: reaction name -> user IDs, in the order they reacted.
	Reactions map[string][]string
	// Updates counts the chat.update calls (and response_url replacements)
	// that changed the message.
	Updates int
	// Unfurl is true unless unfurl_links=false AND unfurl_media=false were sent.
	Unfurl bool
	// LinkNames is true if link_names=1/true was sent.
	LinkNames bool

	// Extra fields (not in the original brief).

	// Broadcast is true for a thread reply posted with reply_broadcast.
	Broadcast bool
	// Subtype is the message subtype ("" for ordinary messages,
	// "thread_broadcast", "file_share", ... for SendMessageEvent messages).
	Subtype string
	// Attachments as posted (legacy secondary attachments); nil if none.
	Attachments json.RawMessage
	// Via tells how an ephemeral was produced: "chat.postEphemeral",
	// "response_url" or "ack" (payload of a slash command's ack). For
	// ephemerals, User is the recipient. Empty for channel messages.
	Via string
	// Files are the IDs of the files the message shares (see File).
	Files []string
	// Username and IconURL are the bot post's own name and picture
	// (username, icon_url). Like Slack, the fake takes them only when the
	// token has chat:write.customize, and ignores them otherwise.
	Username, IconURL string
}

type msgRec struct {
	channel, ts, threadTS, user, botID, text, subtype string
	blocks, attachments, meta                         json.RawMessage
	reactions                                         map[string][]string
	reactionOrder                                     []string
	updates                                           int
	unfurl, linkNames, broadcast                      bool
	editedTS                                          string
	files                                             []string // file IDs (files.go)
	username, iconURL                                 string
}

func (m *msgRec) toMessage() Message {
	out := Message{
		Channel:     m.channel,
		TS:          m.ts,
		ThreadTS:    m.threadTS,
		User:        m.user,
		BotID:       m.botID,
		Text:        m.text,
		Blocks:      cloneRaw(m.blocks),
		Metadata:    decodeMeta(m.meta),
		Updates:     m.updates,
		Unfurl:      m.unfurl,
		LinkNames:   m.linkNames,
		Broadcast:   m.broadcast,
		Subtype:     m.subtype,
		Attachments: cloneRaw(m.attachments),
		Files:       slices.Clone(m.files),
		Username:    m.username,
		IconURL:     m.iconURL,
	}
	if len(m.reactions) > 0 {
		out.Reactions = make(map[string][]string, len(m.reactions))
		for k, v := range m.reactions {
			out.Reactions[k] = slices.Clone(v)
		}
	}
	return out
}

type chanRec struct {
	id, name string
	members  []string
	msgs     []*msgRec // sorted by ts
}

type userRec struct {
	id, name, realName, email string
	isBot                     bool
	tz, tzLabel               string // "" means UTC (see SetUserTimeZone)
	tzOffset                  int
}

type faultKind int

const (
	faultFail faultKind = iota
	faultRateLimit
	faultHTTP
	faultDrop
	faultDelay
)

type fault struct {
	kind   faultKind
	err    string
	status int
	retry  int
	delay  time.Duration
}

type envelope struct {
	id      string
	typ     string
	payload json.RawMessage
	raw     []byte
	retry   int  // retry_attempt it was sent with
	accepts bool // accepts_response_payload
}

type respURLRec struct {
	kind      string // "slash_commands" or "block_actions"
	channel   string
	user      string
	messageTS string
	uses      int
	// ephemeral is set when the response_url came from a click on an
	// ephemeral message (messageTS is then the ephemeral's ts).
	ephemeral bool
}

// Server is the fake. Create it with New, stop it with Close.
type Server struct {
	// EchoBotMessages makes the fake send the message / message_changed /
	// message_deleted / reaction_added / reaction_removed events that real
	// Slack sends for the bot's own actions (with user=BotUserID and
	// bot_id=BotID), which the bot must ignore. Default true. Set it before
	// the bot starts making calls.
	EchoBotMessages bool
	// Clock gives message timestamps (default time.Now): Slack's ts are
	// wall-clock times, which the bot reads as such (catch-up windows,
	// hold windows). Set it before the bot starts making calls.
	Clock func() time.Time
	// PingInterval is how often websocket pings are sent on each socket
	// (slack-go reconnects after 30s without one). Default 5s. Read when a
	// socket connects.
	PingInterval time.Duration

	srv       *httptest.Server
	closeOnce sync.Once
	wg        sync.WaitGroup // socket goroutines

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every state change
	closed     bool
	tsSeq      int64          // timestamps handed out
	tsMicro    int64          // the last one, in µs since the epoch
	idSeq      map[string]int // per prefix, so IDs don't depend on unrelated calls
	users      map[string]*userRec
	channels   map[string]*chanRec
	ephemerals []Message
	homeViews  map[string]json.RawMessage
	viewHashes map[string]string
	calls      map[string]int
	faults     map[string][]fault
	outbox     []*envelope
	envelopes  map[string]*envelope
	acks       map[string]json.RawMessage
	conns      map[*wsConn]struct{}
	connects   int
	respURLs   map[string]*respURLRec

	postRate     float64
	postBurst    int
	postLimiters map[string]*rate.Limiter
	refused      map[string]int
	blocked      map[string]int // method -> Retry-After
	badFrames    []string

	// State of the features in their own files.
	auth       authState              // auth.go
	files      map[string]*fileRec    // files.go
	uploads    map[string]string      // upload ticket -> file ID
	deferred   []*pendingShare        // files.go, DeferFileShares
	deferShare bool                   //
	triggers   map[string]*triggerRec // views.go
	views      map[string]*viewRec    // views.go, by view ID
	viewStacks map[string][]string    // user -> open modal view IDs, root first
	userGroups []UserGroup            // users.go
	http       *httpDelivery          // httpmode.go; nil in Socket Mode
}

// New starts the fake on 127.0.0.1 on a free port.
func New() *Server {
	s := &Server{
		EchoBotMessages: true,
		Clock:           time.Now,
		PingInterval:    5 * time.Second,
		changed:         make(chan struct{}),
		idSeq:           map[string]int{},
		users:           map[string]*userRec{},
		channels:        map[string]*chanRec{},
		homeViews:       map[string]json.RawMessage{},
		viewHashes:      map[string]string{},
		calls:           map[string]int{},
		faults:          map[string][]fault{},
		envelopes:       map[string]*envelope{},
		acks:            map[string]json.RawMessage{},
		conns:           map[*wsConn]struct{}{},
		respURLs:        map[string]*respURLRec{},
		postLimiters:    map[string]*rate.Limiter{},
		refused:         map[string]int{},
		blocked:         map[string]int{},
		files:           map[string]*fileRec{},
		uploads:         map[string]string{},
		triggers:        map[string]*triggerRec{},
		views:           map[string]*viewRec{},
		viewStacks:      map[string][]string{},
	}
	s.users[BotUserID] = &userRec{id: BotUserID, name: BotName, realName: BotName, isBot: true}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.handleAPI)
	mux.HandleFunc("/response/", s.handleResponseURL)
	mux.HandleFunc("/socket", s.handleSocket)
	s.handleFiles(mux)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close closes all sockets and the server. Safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.notifyLocked()
		s.mu.Unlock()
		s.stopHTTP()
		s.dropAll()
		s.srv.Close()
		s.dropAll() // sockets that finished upgrading meanwhile
		s.wg.Wait()
	})
}

// URL is the Web API base URL, "http://127.0.0.1:PORT/api/", for slack.OptionAPIURL.
func (s *Server) URL() string { return s.srv.URL + "/api/" }

// AddUser makes users.info know a user. Calling it again replaces the user.
func (s *Server) AddUser(id, name, realName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	email := ""
	if u := s.users[id]; u != nil {
		email = u.email
	}
	s.users[id] = &userRec{id: id, name: name, realName: realName, email: email}
	s.notifyLocked()
}

// SetUserEmail sets the e-mail address of a user added with AddUser, for
// users.info (profile.email) and users.lookupByEmail.
func (s *Server) SetUserEmail(id, email string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLocked(id).email = email
	s.notifyLocked()
}

// AddChannel creates a channel (chat.postMessage to unknown channels fails
// with channel_not_found) or, if it exists, replaces its member list.
// Messages are kept.
func (s *Server) AddChannel(id string, members ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.chanLocked(id)
	ch.members = slices.Clone(members)
	s.notifyLocked()
}

// SetChannelName sets the name conversations.info and slash commands report
// (default: the ID in lower case).
func (s *Server) SetChannelName(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chanLocked(id).name = name
	s.notifyLocked()
}

func (s *Server) chanLocked(id string) *chanRec {
	ch := s.channels[id]
	if ch == nil {
		ch = &chanRec{id: id, name: strings.ToLower(id)}
		s.channels[id] = ch
	}
	return ch
}

// Messages returns the messages of a channel in ts order, including thread
// replies (ThreadTS set) and the bot's posts, but not ephemerals.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	out := make([]Message, 0, len(ch.msgs))
	for _, m := range ch.msgs {
		out = append(out, m.toMessage())
	}
	return out
}

// Message returns one message of a channel by ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findLocked(channel, ts); m != nil {
		return m.toMessage(), true
	}
	return Message{}, false
}

// Thread returns the parent (if recorded) and the replies of a thread, in ts order.
func (s *Server) Thread(channel, threadTS string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	var out []Message
	for _, m := range ch.msgs {
		if m.ts == threadTS || m.threadTS == threadTS {
			out = append(out, m.toMessage())
		}
	}
	return out
}

// Ephemerals returns the messages sent with chat.postEphemeral, via
// response_url (unless in_channel or replace/delete_original) and as slash
// command ack payloads, in order. User is the recipient.
func (s *Server) Ephemerals() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.ephemerals))
	for i, m := range s.ephemerals {
		m.Blocks = cloneRaw(m.Blocks)
		m.Attachments = cloneRaw(m.Attachments)
		if m.Metadata != nil {
			b, _ := json.Marshal(m.Metadata)
			m.Metadata = decodeMeta(b)
		}
		out[i] = m
	}
	return out
}

// HomeViews returns the latest view published with views.publish per user ID.
func (s *Server) HomeViews() map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]json.RawMessage, len(s.homeViews))
	for k, v := range s.homeViews {
		out[k] = cloneRaw(v)
	}
	return out
}

// Calls is the number of calls received for a Web API method (including
// faulted ones and unknown methods). Calls to response URLs count as
// "response_url".
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// FailNext makes the next call of method answer {"ok":false,"error":slackErr}.
// Faults queue up per method and are consumed one per call, in order.
func (s *Server) FailNext(method string, slackErr string) {
	s.addFault(method, fault{kind: faultFail, err: slackErr})
}

// RateLimitNext makes the next call of method answer HTTP 429 with Retry-After.
func (s *Server) RateLimitNext(method string, retryAfterSec int) {
	s.addFault(method, fault{kind: faultRateLimit, retry: retryAfterSec})
}

// HTTPErrorNext makes the next call of method answer with an HTTP status (e.g. 500).
func (s *Server) HTTPErrorNext(method string, status int) {
	s.addFault(method, fault{kind: faultHTTP, status: status})
}

// DelayNext makes the next call of method answer only after d.
func (s *Server) DelayNext(method string, d time.Duration) {
	s.addFault(method, fault{kind: faultDelay, delay: d})
}

// DropAfterNext makes the next call of method take effect and then closes the
// TCP connection without answering ("succeeded at Slack, response lost").
func (s *Server) DropAfterNext(method string) {
	s.addFault(method, fault{kind: faultDrop})
}

func (s *Server) addFault(method string, f fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// WaitFor waits until cond(s) is true, re-evaluating it after every state
// change, and returns ctx.Err() (wrapped) when ctx is done first. cond must
// not block; it may call any method of s.
func (s *Server) WaitFor(ctx context.Context, cond func(s *Server) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slackfake: condition not met: %w", ctx.Err())
		}
	}
}

// notifyLocked wakes up every waiter. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextTSLocked returns a new message timestamp: the clock's time, made
// later than the previous one when the clock has not moved.
func (s *Server) nextTSLocked() string {
	now := s.Clock().UnixMicro()
	if now <= s.tsMicro {
		now = s.tsMicro + 1
	}
	s.tsMicro = now
	s.tsSeq++
	return fmtTS(now)
}

func fmtTS(micro int64) string { return fmt.Sprintf("%d.%06d", micro/1_000_000, micro%1_000_000) }

func (s *Server) nextIDLocked(prefix string) string {
	s.idSeq[prefix]++
	return fmt.Sprintf("%s%06d", prefix, s.idSeq[prefix])
}

// LastTS returns the most recently generated timestamp ("" if none).
func (s *Server) LastTS() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tsMicro == 0 {
		return ""
	}
	return fmtTS(s.tsMicro)
}

func (s *Server) findLocked(channel, ts string) *msgRec {
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	i, ok := slices.BinarySearchFunc(ch.msgs, ts, func(m *msgRec, ts string) int { return strings.Compare(m.ts, ts) })
	if !ok {
		return nil
	}
	return ch.msgs[i]
}

func (s *Server) insertLocked(m *msgRec) {
	ch := s.chanLocked(m.channel)
	i, _ := slices.BinarySearchFunc(ch.msgs, m.ts, func(m *msgRec, ts string) int { return strings.Compare(m.ts, ts) })
	ch.msgs = slices.Insert(ch.msgs, i, m)
}

func (s *Server) deleteLocked(m *msgRec) {
	ch := s.channels[m.channel]
	if ch == nil {
		return
	}
	ch.msgs = slices.DeleteFunc(ch.msgs, func(x *msgRec) bool { return x == m })
}

// userNameLocked returns a user's name (the ID in lower case if unknown).
func (s *Server) userNameLocked(id string) string {
	if u := s.users[id]; u != nil {
		return u.name
	}
	return strings.ToLower(id)
}

func channelType(id string) string {
	switch {
	case strings.HasPrefix(id, "D"):
		return "im"
	case strings.HasPrefix(id, "G"):
		return "group"
	default:
		return "channel"
	}
}

// tsSeconds returns the integer seconds of a Slack ts.
func tsSeconds(ts string) int64 {
	var sec int64
	for _, c := range ts {
		if c < '0' || c > '9' {
			break
		}
		sec = sec*10 + int64(c-'0')
	}
	return sec
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return slices.Clone(r)
}

func decodeMeta(raw json.RawMessage) *slack.SlackMetadata {
	if len(raw) == 0 {
		return nil
	}
	var md slack.SlackMetadata
	if json.Unmarshal(raw, &md) != nil {
		return nil
	}
	return &md
}

// msgJSON renders a stored message like Slack's API does.
func (s *Server) msgJSONLocked(m *msgRec, withMeta bool) map[string]any {
	o := map[string]any{"type": "message", "ts": m.ts, "text": m.text, "team": TeamID}
	if m.user != "" {
		o["user"] = m.user
	}
	if m.botID != "" {
		o["bot_id"] = m.botID
		if m.botID == BotID {
			o["app_id"] = AppID
			o["bot_profile"] = map[string]any{"id": BotID, "app_id": AppID, "name": BotName, "team_id": TeamID, "deleted": false}
		}
	}
	if m.subtype != "" {
		o["subtype"] = m.subtype
	}
	if m.username != "" {
		o["username"] = m.username
	}
	if m.iconURL != "" {
		o["icons"] = map[string]any{"image_48": m.iconURL}
	}
	if m.subtype == "tombstone" {
		o["hidden"] = true
	}
	if len(m.blocks) > 0 {
		o["blocks"] = m.blocks
	}
	if len(m.attachments) > 0 {
		o["attachments"] = m.attachments
	}
	s.addFilesJSONLocked(o, m)
	if m.editedTS != "" {
		o["edited"] = map[string]any{"user": m.user, "ts": m.editedTS}
	}
	if m.threadTS != "" && m.threadTS != m.ts {
		o["thread_ts"] = m.threadTS
		if p := s.findLocked(m.channel, m.threadTS); p != nil {
			o["parent_user_id"] = p.user
		}
	} else if ch := s.channels[m.channel]; ch != nil {
		var users []string
		n, latest := 0, ""
		for _, r := range ch.msgs {
			if r.threadTS == m.ts && r.ts != m.ts {
				n++
				latest = r.ts
				if !slices.Contains(users, r.user) {
					users = append(users, r.user)
				}
			}
		}
		if n > 0 {
			o["thread_ts"] = m.ts
			o["reply_count"] = n
			o["reply_users_count"] = len(users)
			o["reply_users"] = users
			o["latest_reply"] = latest
			o["subscribed"] = false
		}
	}
	if len(m.reactionOrder) > 0 {
		var rs []map[string]any
		for _, name := range m.reactionOrder {
			us := m.reactions[name]
			rs = append(rs, map[string]any{"name": name, "users": us, "count": len(us)})
		}
		o["reactions"] = rs
	}
	if withMeta && len(m.meta) > 0 {
		o["metadata"] = m.meta
	}
	return o
}

// ---- pagination cursors ----

func encodeCursor(kind, v string) string {
	return base64.StdEncoding.EncodeToString([]byte(kind + ":" + v))
}

func decodeCursor(kind, c string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	v, ok := strings.CutPrefix(string(b), kind+":")
	return v, ok
}

// ---- params ----

// params are the request arguments, from a form, a query string or a JSON
// body (non-string JSON values are kept as JSON text).
type params struct {
	url.Values
	bearer string
}

func (p params) has(k string) bool { _, ok := p.Values[k]; return ok }

func (p params) bool(k string) bool {
	switch strings.ToLower(p.Get(k)) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func (p params) isFalse(k string) bool {
	switch strings.ToLower(p.Get(k)) {
	case "0", "false", "no":
		return true
	}
	return false
}

func readParams(r *http.Request) (params, error) {
	p := params{Values: url.Values{}}
	if a := r.Header.Get("Authorization"); a != "" {
		p.bearer, _ = strings.CutPrefix(a, "Bearer ")
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return p, err
		}
		var obj map[string]json.RawMessage
		// apps.connections.open is posted as JSON with an empty body.
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &obj); err != nil {
				return p, err
			}
		}
		for k, v := range obj {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p.Set(k, str)
			} else if string(v) != "null" {
				p.Set(k, string(v))
			}
		}
		for k, v := range r.URL.Query() {
			if !p.has(k) {
				p.Values[k] = v
			}
		}
		return p, nil
	}
	if err := r.ParseForm(); err != nil {
		return p, err
	}
	for k, v := range r.Form {
		p.Values[k] = v
	}
	return p, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

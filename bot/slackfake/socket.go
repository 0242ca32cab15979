package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

type wsConn struct {
	ws    *websocket.Conn
	done  chan struct{} // closed when dropped
	dead  bool          // guarded by Server.mu
	ready bool          // hello written; guarded by Server.mu
}

var upgrader = websocket.Upgrader{
	// slack-go sends Origin: https://api.slack.com.
	CheckOrigin: func(*http.Request) bool { return true },
}

func (s *Server) handleSocket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	pingEvery := s.PingInterval
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{ws: ws, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ws.NetConn().Close()
		return
	}
	s.conns[c] = struct{}{}
	s.connects++
	n := len(s.conns)
	s.mu.Unlock()

	s.wg.Add(1)
	go s.writeLoop(c, n, pingEvery)
	s.readLoop(c)
}

// readLoop reads acks until the connection fails.
func (s *Server) readLoop(c *wsConn) {
	defer s.drop(c)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			s.mu.Lock()
			s.badFrames = append(s.badFrames, string(data))
			s.notifyLocked()
			s.mu.Unlock()
			continue
		}
		s.recordAck(ack.EnvelopeID, ack.Payload)
	}
}

func (s *Server) recordAck(id string, payload json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.acks[id]; dup {
		s.badFrames = append(s.badFrames, "duplicate ack for "+id)
	}
	if payload == nil {
		payload = json.RawMessage{}
	}
	s.acks[id] = payload
	if env := s.envelopes[id]; env != nil && env.typ == "interactive" {
		s.viewAckLocked(env, payload) // views.go
	}
	// A slash command's ack payload is shown to the user like a response_url post.
	if env := s.envelopes[id]; env != nil && env.typ == "slash_commands" && len(payload) > 0 && string(payload) != "null" {
		var cmd struct {
			ChannelID string `json:"channel_id"`
			UserID    string `json:"user_id"`
		}
		_ = json.Unmarshal(env.payload, &cmd)
		var msg struct {
			Text         string          `json:"text"`
			Blocks       json.RawMessage `json:"blocks"`
			Attachments  json.RawMessage `json:"attachments"`
			ResponseType string          `json:"response_type"`
		}
		if json.Unmarshal(payload, &msg) == nil && (msg.Text != "" || !isEmptyBlocks(msg.Blocks)) {
			if string(msg.Blocks) == "null" {
				msg.Blocks = nil
			}
			if msg.ResponseType == "in_channel" {
				m := &msgRec{channel: cmd.ChannelID, ts: s.nextTSLocked(), user: BotUserID, botID: BotID,
					text: msg.Text, blocks: msg.Blocks, unfurl: true}
				s.insertLocked(m)
				if s.EchoBotMessages {
					s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
				}
			} else {
				s.ephemerals = append(s.ephemerals, Message{Channel: cmd.ChannelID, TS: s.nextTSLocked(),
					User: cmd.UserID, BotID: BotID, Text: msg.Text, Blocks: msg.Blocks, Unfurl: true, Via: "ack"})
			}
		}
	}
	s.notifyLocked()
}

// writeLoop writes hello, then envelopes from the shared outbox.
func (s *Server) writeLoop(c *wsConn, numConns int, pingEvery time.Duration) {
	defer s.wg.Done()
	defer s.drop(c)
	hello, _ := json.Marshal(obj{
		"type":            "hello",
		"num_connections": numConns,
		"connection_info": obj{"app_id": AppID},
		"debug_info":      obj{"host": "fake", "build_number": 1, "approximate_connection_time": 3600},
	})
	if c.ws.WriteMessage(websocket.TextMessage, hello) != nil {
		return
	}
	s.mu.Lock()
	c.ready = true
	s.notifyLocked()
	s.mu.Unlock()
	s.wg.Add(1)
	go s.pingLoop(c, pingEvery)
	for {
		s.mu.Lock()
		if c.dead {
			s.mu.Unlock()
			return
		}
		if len(s.outbox) > 0 && s.http == nil { // httpmode.go delivers otherwise
			env := s.outbox[0]
			s.outbox = s.outbox[1:]
			s.mu.Unlock()
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(websocket.TextMessage, env.raw); err != nil {
				s.mu.Lock()
				s.outbox = append([]*envelope{env}, s.outbox...) // next connection gets it
				s.notifyLocked()
				s.mu.Unlock()
				return
			}
			s.mu.Lock()
			s.notifyLocked()
			s.mu.Unlock()
			continue
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-c.done:
			return
		}
	}
}

func (s *Server) pingLoop(c *wsConn, every time.Duration) {
	defer s.wg.Done()
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)) != nil {
			return
		}
		select {
		case <-t.C:
		case <-c.done:
			return
		}
	}
}

// drop closes a connection abruptly (no close frame).
func (s *Server) drop(c *wsConn) {
	s.mu.Lock()
	if !c.dead {
		c.dead = true
		close(c.done)
		delete(s.conns, c)
		s.notifyLocked()
	}
	s.mu.Unlock()
	_ = c.ws.NetConn().Close()
}

func (s *Server) dropAll() {
	s.mu.Lock()
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.drop(c)
	}
}

// DropSocket closes the current websocket connections abruptly; slack-go
// reconnects through apps.connections.open. Envelopes not yet written stay
// queued for the next connection; an envelope written just before the drop
// may be lost (as with real Slack) — use Resend to redeliver it.
func (s *Server) DropSocket() { s.dropAll() }

// SendDisconnect sends a Socket Mode "disconnect" message (reason e.g.
// "refresh_requested" or "warning"); slack-go then closes and reconnects.
func (s *Server) SendDisconnect(reason string) {
	raw, _ := json.Marshal(obj{"type": "disconnect", "reason": reason, "debug_info": obj{"host": "fake"}})
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = append(s.outbox, &envelope{typ: "disconnect", raw: raw})
	s.notifyLocked()
}

// WaitConnected waits until a socket mode client is connected and was sent hello.
func (s *Server) WaitConnected(ctx context.Context) error {
	return s.WaitFor(ctx, func(s *Server) bool { return s.Connected() })
}

// Connected reports whether a socket is connected and was sent hello.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.ready {
			return true
		}
	}
	return false
}

// Connects is the number of websocket connections accepted so far.
func (s *Server) Connects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connects
}

// Pending is the number of envelopes queued and not yet written to a socket.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.outbox)
}

// DropPending discards the envelopes not yet written to a socket, as Slack
// does when it gives up redelivering to an app that stays away; it returns
// how many were dropped. In HTTP mode it discards the failed events
// deliveries waiting for RetryFailed (wait for HTTPInFlight to be 0 first
// to count those still under way).
func (s *Server) DropPending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.outbox)
	s.outbox = nil
	return n + s.dropDueLocked("")
}

// DropEnvelope discards one envelope not yet written to a socket (Slack
// gave up on that event); it reports whether it was pending. In HTTP mode
// it discards the envelope's failed delivery waiting for RetryFailed.
func (s *Server) DropEnvelope(envelopeID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.outbox {
		if e.id == envelopeID {
			s.outbox = append(s.outbox[:i], s.outbox[i+1:]...)
			return true
		}
	}
	return envelopeID != "" && s.dropDueLocked(envelopeID) > 0
}

// WaitAck waits for the client's ack of an envelope and returns its payload
// (empty if the ack had none).
func (s *Server) WaitAck(ctx context.Context, envelopeID string) (json.RawMessage, error) {
	var payload json.RawMessage
	err := s.WaitFor(ctx, func(s *Server) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		p, ok := s.acks[envelopeID]
		payload = cloneRaw(p)
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("slackfake: no ack for envelope %s: %w", envelopeID, err)
	}
	return payload, nil
}

// Acked reports whether the client acked an envelope.
func (s *Server) Acked(envelopeID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.acks[envelopeID]
	return ok
}

// BadFrames returns frames from the client that were not acks, and notes of
// envelopes acked more than once.
func (s *Server) BadFrames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.badFrames...)
}

// ---- envelopes ----

// enqueueLocked queues an envelope; it is delivered when a socket is (or
// becomes) connected.
func (s *Server) enqueueLocked(typ string, payload json.RawMessage, retryAttempt int, acceptsResponse bool) string {
	id := s.nextIDLocked("env-")
	reason := ""
	if retryAttempt > 0 {
		reason = "timeout"
	}
	raw, _ := json.Marshal(obj{
		"envelope_id":              id,
		"type":                     typ,
		"accepts_response_payload": acceptsResponse,
		"retry_attempt":            retryAttempt,
		"retry_reason":             reason,
		"payload":                  payload,
	})
	env := &envelope{id: id, typ: typ, payload: payload, raw: raw, retry: retryAttempt, accepts: acceptsResponse}
	s.envelopes[id] = env
	s.outbox = append(s.outbox, env)
	s.notifyLocked()
	return id
}

// enqueueEventLocked wraps an inner event in an event_callback.
func (s *Server) enqueueEventLocked(inner json.RawMessage, eventID string, retryAttempt int) string {
	if eventID == "" {
		eventID = s.nextIDLocked("Ev")
	}
	var ev struct {
		EventTS string `json:"event_ts"`
	}
	_ = json.Unmarshal(inner, &ev)
	evTime := tsSeconds(ev.EventTS)
	if evTime == 0 {
		evTime = s.tsMicro / 1_000_000
	}
	payload, _ := json.Marshal(obj{
		"token":      VerificationToken,
		"team_id":    TeamID,
		"api_app_id": AppID,
		"event":      inner,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": evTime,
		"authorizations": []obj{{
			"enterprise_id": nil, "team_id": TeamID, "user_id": BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-fake-" + eventID,
	})
	return s.enqueueLocked("events_api", payload, retryAttempt, false)
}

// SendEvent sends an Events API inner event (anything that marshals to a JSON
// object with a "type", e.g. a map, a struct or a json.RawMessage) in an
// events_api envelope. The same eventID may be sent several times
// (redelivery, with retryAttempt > 0). An empty eventID gets a fresh one.
// Note that slack-go reports inner event types it does not know as an
// EventTypeErrorBadMessage, which cannot be acked.
func (s *Server) SendEvent(inner any, eventID string, retryAttempt int) (envelopeID string, err error) {
	var raw json.RawMessage
	switch v := inner.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		if raw, err = json.Marshal(inner); err != nil {
			return "", err
		}
	}
	var probe struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return "", fmt.Errorf("slackfake: inner event is not a JSON object: %w", err)
	}
	if probe.Type == "" {
		return "", errors.New(`slackfake: inner event has no "type"`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueEventLocked(cloneRaw(raw), eventID, retryAttempt), nil
}

// Resend sends the payload of an earlier envelope again in a new envelope
// (same event_id for events_api), with the given retry_attempt and
// retry_reason "timeout" — what Slack does when an envelope is not acked.
func (s *Server) Resend(envelopeID string, retryAttempt int) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := s.envelopes[envelopeID]
	if env == nil {
		return "", fmt.Errorf("slackfake: unknown envelope %s", envelopeID)
	}
	return s.enqueueLocked(env.typ, env.payload, retryAttempt, env.accepts), nil
}

// EventID returns the event_id of an events_api envelope.
func (s *Server) EventID(envelopeID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	env := s.envelopes[envelopeID]
	if env == nil {
		return ""
	}
	var p struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(env.payload, &p)
	return p.EventID
}

// ---- inner events ----

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// messageEventLocked is the "message" event Slack sends for a new message.
func (s *Server) messageEventLocked(m *msgRec) json.RawMessage {
	ev := obj{
		"type":         "message",
		"channel":      m.channel,
		"user":         m.user,
		"text":         m.text,
		"ts":           m.ts,
		"event_ts":     m.ts,
		"channel_type": channelType(m.channel),
		"team":         TeamID,
	}
	if m.subtype != "" {
		ev["subtype"] = m.subtype
	}
	if m.botID != "" {
		ev["bot_id"] = m.botID
		if m.botID == BotID {
			ev["app_id"] = AppID
			ev["bot_profile"] = obj{"id": BotID, "app_id": AppID, "name": BotName, "team_id": TeamID, "deleted": false}
		}
	} else {
		ev["client_msg_id"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.tsSeq)
	}
	if len(m.blocks) > 0 {
		ev["blocks"] = m.blocks
	}
	if len(m.attachments) > 0 {
		ev["attachments"] = m.attachments
	}
	s.addFilesJSONLocked(ev, m)
	if m.threadTS != "" && m.threadTS != m.ts {
		ev["thread_ts"] = m.threadTS
		if p := s.findLocked(m.channel, m.threadTS); p != nil {
			ev["parent_user_id"] = p.user
		}
	}
	return mustJSON(ev)
}

func (s *Server) messageChangedEventLocked(m, prev *msgRec) json.RawMessage {
	now := s.nextTSLocked()
	cur := s.msgJSONLocked(m, false)
	old := s.msgJSONLocked(prev, false)
	delete(cur, "reactions")
	delete(old, "reactions")
	return mustJSON(obj{
		"type":             "message",
		"subtype":          "message_changed",
		"hidden":           true,
		"channel":          m.channel,
		"ts":               now,
		"event_ts":         now,
		"channel_type":     channelType(m.channel),
		"message":          cur,
		"previous_message": old,
	})
}

func (s *Server) messageDeletedEventLocked(m *msgRec) json.RawMessage {
	now := s.nextTSLocked()
	return mustJSON(obj{
		"type":             "message",
		"subtype":          "message_deleted",
		"hidden":           true,
		"channel":          m.channel,
		"ts":               now,
		"deleted_ts":       m.ts,
		"event_ts":         now,
		"channel_type":     channelType(m.channel),
		"previous_message": s.msgJSONLocked(m, false),
	})
}

func (s *Server) reactionEventLocked(typ, channel, ts, user, name string) json.RawMessage {
	itemUser := ""
	if m := s.findLocked(channel, ts); m != nil {
		itemUser = m.user
	}
	return mustJSON(obj{
		"type":      typ,
		"user":      user,
		"reaction":  name,
		"item_user": itemUser,
		"item":      obj{"type": "message", "channel": channel, "ts": ts},
		"event_ts":  s.nextTSLocked(),
	})
}

// UserPost records a message by a human and sends its "message" event (no
// subtype). threadTS "" posts at top level. An unknown channel is created.
func (s *Server) UserPost(channel, user, threadTS, text string) (ts, envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &msgRec{channel: channel, ts: s.nextTSLocked(), threadTS: threadTS, user: user, text: text, unfurl: true}
	s.insertLocked(m)
	envelopeID = s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
	return m.ts, envelopeID
}

// MessageEvent describes a message event for SendMessageEvent.
type MessageEvent struct {
	Channel  string
	User     string // "" for e.g. bot_message
	Text     string
	TS       string // "" generates one
	ThreadTS string
	// SubType, e.g. "file_share", "thread_broadcast", "bot_message",
	// "message_changed", "message_deleted", "channel_join".
	SubType string
	BotID   string
	Blocks  json.RawMessage
	// Extra top-level fields of the event (e.g. "files", "message",
	// "previous_message", "hidden", "deleted_ts", "username"); they
	// override the generated ones.
	Extra map[string]any
	// Record makes the fake also record the message in the channel (as for
	// file_share, thread_broadcast or bot_message). Hidden subtypes such as
	// message_changed should not be recorded; use UserEdit / UserDelete to
	// change recorded messages.
	Record bool
}

// SendMessageEvent sends a "message" event built from m and returns its ts
// and envelope ID.
func (s *Server) SendMessageEvent(m MessageEvent) (ts, envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m.TS == "" {
		m.TS = s.nextTSLocked()
	}
	rec := &msgRec{channel: m.Channel, ts: m.TS, threadTS: m.ThreadTS, user: m.User, botID: m.BotID,
		text: m.Text, subtype: m.SubType, blocks: cloneRaw(m.Blocks), unfurl: true,
		broadcast: m.SubType == "thread_broadcast"}
	var ev map[string]any
	_ = json.Unmarshal(s.messageEventLocked(rec), &ev)
	if m.User == "" {
		delete(ev, "user")
	}
	if m.BotID != "" {
		delete(ev, "client_msg_id")
	}
	for k, v := range m.Extra {
		ev[k] = v
	}
	if m.Record {
		s.insertLocked(rec)
	}
	return m.TS, s.enqueueEventLocked(mustJSON(ev), "", 0)
}

// UserEdit changes the text of a recorded message (as its author would) and
// sends the message_changed event. It returns "" if the message is unknown.
func (s *Server) UserEdit(channel, ts, text string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findLocked(channel, ts)
	if m == nil {
		return ""
	}
	prev := *m
	m.text = text
	m.editedTS = s.nextTSLocked()
	s.notifyLocked()
	return s.enqueueEventLocked(s.messageChangedEventLocked(m, &prev), "", 0)
}

// UserDelete deletes a recorded message as its author would and sends the
// events Slack sends (see deleteMessageLocked in messages.go: a thread
// parent with replies becomes a tombstone, announced by message_changed).
// It returns the envelope of the first event ("" if the message is
// unknown); deleting the last reply under a tombstone queues a second
// message_deleted for the tombstone.
func (s *Server) UserDelete(channel, ts string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.findLocked(channel, ts)
	if m == nil {
		return ""
	}
	for i, ev := range s.deleteMessageLocked(m) {
		if id := s.enqueueEventLocked(ev, "", 0); i == 0 {
			envelopeID = id
		}
	}
	s.notifyLocked()
	return envelopeID
}

// AddReaction records a reaction by user and sends reaction_added.
func (s *Server) AddReaction(channel, ts, user, name string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findLocked(channel, ts); m != nil {
		s.reactLocked(m, user, name, true)
	}
	return s.enqueueEventLocked(s.reactionEventLocked("reaction_added", channel, ts, user, name), "", 0)
}

// RemoveReaction removes a reaction by user and sends reaction_removed.
func (s *Server) RemoveReaction(channel, ts, user, name string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.findLocked(channel, ts); m != nil {
		s.reactLocked(m, user, name, false)
	}
	return s.enqueueEventLocked(s.reactionEventLocked("reaction_removed", channel, ts, user, name), "", 0)
}

// AppHomeOpened sends app_home_opened (tab "home") for user, with the view
// last published for them, if any.
func (s *Server) AppHomeOpened(user string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := obj{"type": "app_home_opened", "user": user, "channel": "D" + user, "tab": "home", "event_ts": s.nextTSLocked()}
	if v := s.homeViews[user]; v != nil {
		ev["view"] = v
	}
	return s.enqueueEventLocked(mustJSON(ev), "", 0)
}

func (s *Server) newResponseURLLocked(kind, channel, user, messageTS string) string {
	id := s.nextIDLocked("R")
	s.respURLs[id] = &respURLRec{kind: kind, channel: channel, user: user, messageTS: messageTS}
	return s.srv.URL + "/response/" + id
}

// SlashCommand sends a "slash_commands" envelope for /inbox.
func (s *Server) SlashCommand(user, channel, text string) (envelopeID string) {
	return s.SlashCommandNamed(SlashCommandName, user, channel, text)
}

// SlashCommandNamed is SlashCommand for any command.
func (s *Server) SlashCommandNamed(command, user, channel, text string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	chName := channel
	if ch := s.channels[channel]; ch != nil {
		chName = ch.name
	}
	payload := mustJSON(obj{
		"token":                 VerificationToken,
		"team_id":               TeamID,
		"team_domain":           "fake",
		"channel_id":            channel,
		"channel_name":          chName,
		"user_id":               user,
		"user_name":             s.userNameLocked(user),
		"command":               command,
		"text":                  text,
		"api_app_id":            AppID,
		"is_enterprise_install": "false",
		"response_url":          s.newResponseURLLocked("slash_commands", channel, user, ""),
		"trigger_id":            s.newTriggerLocked(user, ""),
	})
	return s.enqueueLocked("slash_commands", payload, 0, true)
}

// findElement looks for the element with actionID in a blocks array.
func findElement(blocks json.RawMessage, actionID string) (blockID string, el map[string]any) {
	var bs []map[string]any
	if json.Unmarshal(blocks, &bs) != nil {
		return "", nil
	}
	for i, b := range bs {
		var els []any
		if acc, ok := b["accessory"]; ok {
			els = append(els, acc)
		}
		if e, ok := b["elements"].([]any); ok {
			els = append(els, e...)
		}
		if e, ok := b["element"]; ok {
			els = append(els, e)
		}
		for _, e := range els {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if id, _ := m["action_id"].(string); id == actionID {
				bid, _ := b["block_id"].(string)
				if bid == "" {
					bid = fmt.Sprintf("blk%d", i)
				}
				return bid, m
			}
		}
	}
	return "", nil
}

// BlockAction sends an "interactive" envelope with a block_actions payload as
// Slack does for a click on an element of a message (or of the App Home if
// channel is ""). The element is looked up by actionID in the message's (or
// home view's) blocks to fill block_id, type and text; selectedUser != ""
// makes it a users_select choice. threadTS "" is filled in from the recorded
// message if it is a thread reply. The payload's message carries no metadata.
func (s *Server) BlockAction(user, channel, messageTS, threadTS, actionID, value string, selectedUser string) (envelopeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	actionTS := s.nextTSLocked()
	payload := obj{
		"type":                  "block_actions",
		"token":                 VerificationToken,
		"api_app_id":            AppID,
		"user":                  obj{"id": user, "username": s.userNameLocked(user), "name": s.userNameLocked(user), "team_id": TeamID},
		"team":                  obj{"id": TeamID, "domain": "fake"},
		"is_enterprise_install": false,
		"trigger_id":            s.newTriggerLocked(user, ""),
		"state":                 obj{"values": obj{}},
	}
	var blocks json.RawMessage
	if channel == "" {
		view := s.homeViews[user]
		var v struct {
			ID     string          `json:"id"`
			Blocks json.RawMessage `json:"blocks"`
		}
		_ = json.Unmarshal(view, &v)
		blocks = v.Blocks
		payload["container"] = obj{"type": "view", "view_id": v.ID}
		if view != nil {
			payload["view"] = view
		}
	} else {
		chName := channel
		if ch := s.channels[channel]; ch != nil {
			chName = ch.name
		}
		m := s.findLocked(channel, messageTS)
		if m != nil {
			blocks = m.blocks
			if threadTS == "" && m.threadTS != m.ts {
				threadTS = m.threadTS
			}
			payload["message"] = s.msgJSONLocked(m, false)
		}
		container := obj{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false}
		if threadTS != "" {
			container["thread_ts"] = threadTS
		}
		payload["container"] = container
		payload["channel"] = obj{"id": channel, "name": chName}
		payload["response_url"] = s.newResponseURLLocked("block_actions", channel, user, messageTS)
	}
	payload["actions"] = []obj{actionJSON(blocks, actionID, value, selectedUser, actionTS)}
	return s.enqueueLocked("interactive", mustJSON(payload), 0, false)
}

// actionJSON is the action of a block_actions payload for a click on the
// element with actionID in blocks (see BlockAction).
func actionJSON(blocks json.RawMessage, actionID, value, selectedUser, actionTS string) obj {
	blockID, el := findElement(blocks, actionID)
	if blockID == "" {
		blockID = "blk"
	}
	typ, _ := el["type"].(string)
	if typ == "" {
		typ = "button"
		if selectedUser != "" {
			typ = "users_select"
		}
	}
	action := obj{"type": typ, "action_id": actionID, "block_id": blockID, "action_ts": actionTS}
	switch {
	case selectedUser != "":
		action["selected_user"] = selectedUser
	case typ == "button":
		action["value"] = value
		if t, ok := el["text"]; ok {
			action["text"] = t
		} else {
			action["text"] = obj{"type": "plain_text", "text": actionID, "emoji": true}
		}
	case typ == "static_select" || typ == "overflow" || typ == "radio_buttons":
		opt := obj{"value": value}
		if opts, ok := el["options"].([]any); ok {
			for _, o := range opts {
				if om, ok := o.(map[string]any); ok && om["value"] == value {
					opt = om
				}
			}
		}
		action["selected_option"] = opt
	default:
		action["value"] = value
	}
	return action
}

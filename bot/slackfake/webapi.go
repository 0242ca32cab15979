package slackfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// obj is a JSON object answer.
type obj = map[string]any

// answer is what a handler produces; it is written (or dropped) afterwards.
type answer struct {
	status int
	header map[string]string
	body   any
}

func okAnswer(fields obj) answer {
	if fields == nil {
		fields = obj{}
	}
	fields["ok"] = true
	return answer{status: http.StatusOK, body: fields}
}

func errAnswer(code string) answer {
	return answer{status: http.StatusOK, body: obj{"ok": false, "error": code}}
}

func writeAnswer(w http.ResponseWriter, a answer) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	b, err := json.Marshal(a.body)
	if err != nil {
		b = []byte(`{"ok":false,"error":"fake_marshal_error"}`)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(b)
}

// dropConnection closes the client's TCP connection without an answer.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("slackfake: ResponseWriter cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// begin counts a call and pops its fault, if any. It answers the fault
// itself unless it is a drop, which the caller performs after the effect.
func (s *Server) begin(w http.ResponseWriter, method string) (drop, done bool) {
	s.mu.Lock()
	s.calls[method]++
	var f *fault
	if q := s.faults[method]; len(q) > 0 {
		f = &q[0]
		s.faults[method] = q[1:]
	}
	s.notifyLocked()
	s.mu.Unlock()
	if f == nil {
		return false, false
	}
	switch f.kind {
	case faultFail:
		writeAnswer(w, errAnswer(f.err))
	case faultRateLimit:
		writeAnswer(w, answer{
			status: http.StatusTooManyRequests,
			header: map[string]string{"Retry-After": strconv.Itoa(f.retry)},
			body:   obj{"ok": false, "error": "ratelimited"},
		})
	case faultHTTP:
		writeAnswer(w, answer{status: f.status, body: obj{"ok": false, "error": "fake_http_" + strconv.Itoa(f.status)}})
	case faultDrop:
		return true, false
	case faultDelay:
		time.Sleep(f.delay) // the fake answers late, as a slow Slack would
		return false, false
	}
	return false, true
}

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	drop, done := s.begin(w, method)
	if done {
		return
	}
	a := s.dispatch(method, r)
	if drop {
		dropConnection(w)
		return
	}
	writeAnswer(w, a)
}

type apiHandler func(s *Server, p params) answer

var apiMethods = map[string]apiHandler{
	"auth.test":             (*Server).authTest,
	"apps.connections.open": (*Server).appsConnectionsOpen,
	"chat.postMessage":      (*Server).chatPostMessage,
	"chat.update":           (*Server).chatUpdate,
	"chat.delete":           (*Server).chatDelete,
	"chat.postEphemeral":    (*Server).chatPostEphemeral,
	"chat.getPermalink":     (*Server).chatGetPermalink,
	"conversations.history": (*Server).conversationsHistory,
	"conversations.replies": (*Server).conversationsReplies,
	"conversations.members": (*Server).conversationsMembers,
	"conversations.info":    (*Server).conversationsInfo,
	"conversations.open":    (*Server).conversationsOpen,
	"conversations.join":    (*Server).conversationsJoin,
	"users.info":            (*Server).usersInfo,
	"users.lookupByEmail":   (*Server).usersLookupByEmail,
	"reactions.add":         (*Server).reactionsAdd,
	"reactions.remove":      (*Server).reactionsRemove,
	"views.publish":         (*Server).viewsPublish,

	"files.getUploadURLExternal":   (*Server).filesGetUploadURLExternal,
	"files.completeUploadExternal": (*Server).filesCompleteUploadExternal,
	"files.info":                   (*Server).filesInfo,
	"views.open":                   (*Server).viewsOpen,
	"views.push":                   (*Server).viewsPush,
	"views.update":                 (*Server).viewsUpdate,
	"usergroups.list":              (*Server).usergroupsList,
	"usergroups.users.list":        (*Server).usergroupsUsersList,
}

func (s *Server) dispatch(method string, r *http.Request) answer {
	h := apiMethods[method]
	if h == nil {
		return errAnswer("unknown_method")
	}
	p, err := readParams(r)
	if err != nil {
		return errAnswer("invalid_form_data")
	}
	tok := p.bearer
	if tok == "" {
		tok = p.Get("token")
	}
	if a, refused := s.authCheck(method, tok); refused {
		return a
	}
	s.mu.Lock()
	a, limited := s.limitedLocked(method, p.Get("channel"))
	s.mu.Unlock()
	if limited {
		return a
	}
	return s.withScopes(method, h(s, p))
}

func (s *Server) authTest(p params) answer {
	return okAnswer(obj{
		"url":     "https://fake.slack.com/",
		"team":    "Fake",
		"user":    BotName,
		"team_id": TeamID,
		"user_id": BotUserID,
		"bot_id":  BotID,
	})
}

func (s *Server) appsConnectionsOpen(p params) answer {
	s.mu.Lock()
	ticket := s.nextIDLocked("ticket")
	s.mu.Unlock()
	return okAnswer(obj{"url": "ws://" + s.srv.Listener.Addr().String() + "/socket?ticket=" + ticket + "&app_id=" + AppID})
}

// resolveChannelLocked maps a channel argument to a known channel: a user ID
// means the DM with that user (created on demand, like Slack's App Home
// messages tab).
func (s *Server) resolveChannelLocked(id string) *chanRec {
	if ch := s.channels[id]; ch != nil {
		return ch
	}
	if (strings.HasPrefix(id, "U") || strings.HasPrefix(id, "W")) && s.users[id] != nil {
		ch := s.chanLocked("D" + id)
		if len(ch.members) == 0 {
			ch.members = []string{id, BotUserID}
		}
		return ch
	}
	return nil
}

// content is the message content of a post/update.
type content struct {
	text        string
	blocks      json.RawMessage
	attachments json.RawMessage
	meta        json.RawMessage
	hasText     bool
	hasBlocks   bool
	hasAttach   bool
	hasMeta     bool
}

// readContent validates text/blocks/attachments/metadata like Slack.
func readContent(p params) (content, answer, bool) {
	var c content
	c.text, c.hasText = p.Get("text"), p.has("text")
	if utf8.RuneCountInString(c.text) > 40000 {
		return c, errAnswer("msg_too_long"), false
	}
	if raw := p.Get("blocks"); p.has("blocks") && raw != "" {
		blocks, a, ok := validateBlocks(raw, 50)
		if !ok {
			return c, a, false
		}
		c.blocks, c.hasBlocks = blocks, true
	}
	if raw := p.Get("attachments"); p.has("attachments") && raw != "" {
		var v []json.RawMessage
		if json.Unmarshal([]byte(raw), &v) != nil {
			return c, errAnswer("invalid_attachments"), false
		}
		c.attachments, c.hasAttach = json.RawMessage(raw), true
	}
	if raw := p.Get("metadata"); p.has("metadata") && raw != "" {
		var md struct {
			EventType    string         `json:"event_type"`
			EventPayload map[string]any `json:"event_payload"`
		}
		if err := json.Unmarshal([]byte(raw), &md); err != nil || md.EventType == "" {
			return c, errAnswer("invalid_metadata_format"), false
		}
		c.meta, c.hasMeta = json.RawMessage(raw), true
	}
	return c, answer{}, true
}

func isEmptyBlocks(b json.RawMessage) bool {
	var v []json.RawMessage
	return len(b) == 0 || (json.Unmarshal(b, &v) == nil && len(v) == 0)
}

func (s *Server) chatPostMessage(p params) answer {
	c, a, ok := readContent(p)
	if !ok {
		return a
	}
	if c.text == "" && isEmptyBlocks(c.blocks) && isEmptyBlocks(c.attachments) {
		return errAnswer("no_text")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	m := &msgRec{
		channel:     ch.id,
		ts:          s.nextTSLocked(),
		user:        BotUserID,
		botID:       BotID,
		text:        c.text,
		blocks:      c.blocks,
		attachments: c.attachments,
		meta:        c.meta,
		unfurl:      !(p.isFalse("unfurl_links") && p.isFalse("unfurl_media")),
		linkNames:   p.bool("link_names"),
	}
	if s.hasScopeLocked("chat:write.customize") && !p.bool("as_user") {
		m.username, m.iconURL = p.Get("username"), p.Get("icon_url")
	}
	if tts := p.Get("thread_ts"); tts != "" {
		// Replying to a reply threads under its parent, like Slack.
		if parent := s.findLocked(ch.id, tts); parent != nil && parent.threadTS != "" {
			tts = parent.threadTS
		}
		m.threadTS = tts
		if p.bool("reply_broadcast") {
			m.broadcast = true
			m.subtype = "thread_broadcast"
		}
	}
	s.insertLocked(m)
	if s.EchoBotMessages {
		s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
	}
	s.notifyLocked()
	return okAnswer(obj{"channel": ch.id, "ts": m.ts, "message": s.msgJSONLocked(m, true)})
}

func (s *Server) chatUpdate(p params) answer {
	c, a, ok := readContent(p)
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	m := s.findLocked(ch.id, p.Get("ts"))
	if m == nil {
		return errAnswer("message_not_found")
	}
	if m.botID != BotID {
		return errAnswer("cant_update_message")
	}
	prev := *m
	newText, newBlocks, newAttach := m.text, m.blocks, m.attachments
	if c.hasText {
		newText = c.text
	}
	if p.has("blocks") {
		newBlocks = c.blocks // "[]" or "" clears
		if isEmptyBlocks(newBlocks) {
			newBlocks = nil
		}
	}
	if p.has("attachments") {
		newAttach = c.attachments
		if isEmptyBlocks(newAttach) {
			newAttach = nil
		}
	}
	if newText == "" && newBlocks == nil && newAttach == nil {
		return errAnswer("no_text")
	}
	m.text, m.blocks, m.attachments = newText, newBlocks, newAttach
	if c.hasMeta {
		m.meta = c.meta
	}
	m.updates++
	m.editedTS = s.nextTSLocked()
	if s.EchoBotMessages {
		s.enqueueEventLocked(s.messageChangedEventLocked(m, &prev), "", 0)
	}
	s.notifyLocked()
	return okAnswer(obj{"channel": ch.id, "ts": m.ts, "text": m.text, "message": s.msgJSONLocked(m, true)})
}

func (s *Server) chatDelete(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	m := s.findLocked(ch.id, p.Get("ts"))
	if m == nil {
		return errAnswer("message_not_found")
	}
	if m.botID != BotID {
		return errAnswer("cant_delete_message")
	}
	for _, ev := range s.deleteMessageLocked(m) { // messages.go
		if s.EchoBotMessages {
			s.enqueueEventLocked(ev, "", 0)
		}
	}
	s.notifyLocked()
	return okAnswer(obj{"channel": ch.id, "ts": m.ts})
}

func (s *Server) chatPostEphemeral(p params) answer {
	c, a, ok := readContent(p)
	if !ok {
		return a
	}
	if c.text == "" && isEmptyBlocks(c.blocks) && isEmptyBlocks(c.attachments) {
		return errAnswer("no_text")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	user := p.Get("user")
	if !slices.Contains(ch.members, user) {
		return errAnswer("user_not_in_channel")
	}
	ts := s.nextTSLocked()
	s.ephemerals = append(s.ephemerals, Message{
		Channel:     ch.id,
		TS:          ts,
		ThreadTS:    p.Get("thread_ts"),
		User:        user,
		BotID:       BotID,
		Text:        c.text,
		Blocks:      c.blocks,
		Attachments: c.attachments,
		Unfurl:      true,
		LinkNames:   p.bool("link_names"),
		Via:         "chat.postEphemeral",
	})
	s.notifyLocked()
	return okAnswer(obj{"message_ts": ts})
}

func (s *Server) chatGetPermalink(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	m := s.findLocked(ch.id, p.Get("message_ts"))
	if m == nil {
		return errAnswer("message_not_found")
	}
	link := "https://fake.slack.com/archives/" + ch.id + "/p" + strings.ReplaceAll(m.ts, ".", "")
	if m.threadTS != "" && m.threadTS != m.ts {
		link += "?thread_ts=" + m.threadTS + "&cid=" + ch.id
	}
	return okAnswer(obj{"channel": ch.id, "permalink": link})
}

// limitParam parses "limit" (default def, capped at max).
func limitParam(p params, def, max int) int {
	n, err := strconv.Atoi(p.Get("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, max)
}

// inRange applies oldest/latest/inclusive like conversations.history.
func inRange(ts string, p params) bool {
	incl := p.bool("inclusive")
	if o := p.Get("oldest"); o != "" && o != "0" {
		if c := compareTS(ts, o); c < 0 || (c == 0 && !incl) {
			return false
		}
	}
	if l := p.Get("latest"); l != "" {
		if c := compareTS(ts, l); c > 0 || (c == 0 && !incl) {
			return false
		}
	}
	return true
}

// compareTS compares Slack timestamps numerically (they may differ in the
// number of decimals when written by hand).
func compareTS(a, b string) int {
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	if len(ai) != len(bi) {
		return len(ai) - len(bi)
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	for len(af) < len(bf) {
		af += "0"
	}
	for len(bf) < len(af) {
		bf += "0"
	}
	return strings.Compare(af, bf)
}

func (s *Server) conversationsHistory(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	limit := limitParam(p, 100, 999)
	before := ""
	if c := p.Get("cursor"); c != "" {
		v, ok := decodeCursor("next_ts", c)
		if !ok {
			return errAnswer("invalid_cursor")
		}
		before = v
	}
	withMeta := p.bool("include_all_metadata")
	var page []any
	hasMore := false
	last := ""
	for i := len(ch.msgs) - 1; i >= 0; i-- {
		m := ch.msgs[i]
		if m.threadTS != "" && m.threadTS != m.ts && !m.broadcast {
			continue
		}
		if !inRange(m.ts, p) || (before != "" && compareTS(m.ts, before) >= 0) {
			continue
		}
		if len(page) == limit {
			hasMore = true
			break
		}
		page = append(page, s.msgJSONLocked(m, withMeta))
		last = m.ts
	}
	if page == nil {
		page = []any{}
	}
	res := obj{"messages": page, "has_more": hasMore, "pin_count": 0}
	if hasMore {
		res["response_metadata"] = obj{"next_cursor": encodeCursor("next_ts", last)}
	}
	return okAnswer(res)
}

func (s *Server) conversationsReplies(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	ts := p.Get("ts")
	if ts == "" {
		return errAnswer("invalid_arguments")
	}
	root := ts
	if m := s.findLocked(ch.id, ts); m != nil && m.threadTS != "" {
		root = m.threadTS
	}
	parent := s.findLocked(ch.id, root)
	var replies []*msgRec
	for _, m := range ch.msgs {
		if m.threadTS == root && m.ts != root {
			replies = append(replies, m)
		}
	}
	if parent == nil && len(replies) == 0 {
		return errAnswer("thread_not_found")
	}
	limit := limitParam(p, 1000, 1000)
	after := ""
	if c := p.Get("cursor"); c != "" {
		v, ok := decodeCursor("next_ts", c)
		if !ok {
			return errAnswer("invalid_cursor")
		}
		after = v
	}
	withMeta := p.bool("include_all_metadata")
	var page []any
	// The parent comes first on the first page only.
	if parent != nil && after == "" {
		page = append(page, s.msgJSONLocked(parent, withMeta))
	}
	hasMore := false
	last := ""
	for _, m := range replies {
		if !inRange(m.ts, p) || (after != "" && compareTS(m.ts, after) <= 0) {
			continue
		}
		if len(page) >= limit {
			hasMore = true
			break
		}
		page = append(page, s.msgJSONLocked(m, withMeta))
		last = m.ts
	}
	if page == nil {
		page = []any{}
	}
	res := obj{"messages": page, "has_more": hasMore}
	if hasMore {
		if last == "" { // limit 1: only the parent fitted
			last = root
		}
		res["response_metadata"] = obj{"next_cursor": encodeCursor("next_ts", last)}
	}
	return okAnswer(res)
}

func (s *Server) conversationsMembers(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	limit := limitParam(p, 100, 1000)
	start := 0
	if c := p.Get("cursor"); c != "" {
		v, ok := decodeCursor("next_idx", c)
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > len(ch.members) {
			return errAnswer("invalid_cursor")
		}
		start = n
	}
	end := min(start+limit, len(ch.members))
	next := ""
	if end < len(ch.members) {
		next = encodeCursor("next_idx", strconv.Itoa(end))
	}
	members := slices.Clone(ch.members[start:end])
	if members == nil {
		members = []string{}
	}
	return okAnswer(obj{"members": members, "response_metadata": obj{"next_cursor": next}})
}

func (s *Server) channelJSONLocked(ch *chanRec) obj {
	t := channelType(ch.id)
	o := obj{
		"id":              ch.id,
		"name":            ch.name,
		"is_channel":      t == "channel",
		"is_group":        t == "group",
		"is_im":           t == "im",
		"is_private":      t != "channel",
		"is_archived":     false,
		"is_member":       slices.Contains(ch.members, BotUserID),
		"num_members":     len(ch.members),
		"context_team_id": TeamID,
	}
	if t == "im" {
		for _, m := range ch.members {
			if m != BotUserID {
				o["user"] = m
			}
		}
	}
	return o
}

func (s *Server) conversationsInfo(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	return okAnswer(obj{"channel": s.channelJSONLocked(ch)})
}

func (s *Server) conversationsOpen(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := p.Get("channel"); c != "" {
		ch := s.resolveChannelLocked(c)
		if ch == nil {
			return errAnswer("channel_not_found")
		}
		return okAnswer(obj{"channel": obj{"id": ch.id}, "already_open": true})
	}
	users := strings.Split(p.Get("users"), ",")
	if len(users) != 1 || users[0] == "" {
		return errAnswer("invalid_arguments") // MPIMs are not faked
	}
	if s.users[users[0]] == nil {
		return errAnswer("user_not_found")
	}
	_, existed := s.channels["D"+users[0]]
	ch := s.resolveChannelLocked(users[0])
	s.notifyLocked()
	return okAnswer(obj{"channel": obj{"id": ch.id}, "already_open": existed})
}

func (s *Server) conversationsJoin(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	res := obj{}
	if slices.Contains(ch.members, BotUserID) {
		res["warning"] = "already_in_channel"
	} else {
		ch.members = append(ch.members, BotUserID)
		s.notifyLocked()
	}
	res["channel"] = s.channelJSONLocked(ch)
	return okAnswer(res)
}

func userJSON(u *userRec) obj {
	o := obj{
		"id":        u.id,
		"team_id":   TeamID,
		"name":      u.name,
		"real_name": u.realName,
		"deleted":   false,
		"is_bot":    u.isBot,
		"is_admin":  false,
		"profile": obj{
			"real_name":               u.realName,
			"real_name_normalized":    u.realName,
			"display_name":            u.name,
			"display_name_normalized": u.name,
			"email":                   u.email,
			"team":                    TeamID,
		},
	}
	addUserTZ(o, u) // users.go
	return o
}

func (s *Server) usersInfo(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[p.Get("user")]
	if u == nil {
		return errAnswer("user_not_found")
	}
	return okAnswer(obj{"user": userJSON(u)})
}

func (s *Server) usersLookupByEmail(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	email := strings.ToLower(p.Get("email"))
	for _, id := range sortedKeys(s.users) {
		if u := s.users[id]; u.email != "" && strings.ToLower(u.email) == email {
			return okAnswer(obj{"user": userJSON(u)})
		}
	}
	return errAnswer("users_not_found")
}

func (s *Server) reactionsAdd(p params) answer    { return s.reactions(p, true) }
func (s *Server) reactionsRemove(p params) answer { return s.reactions(p, false) }

// reactions is reactions.add (add) or reactions.remove, as the bot user.
func (s *Server) reactions(p params, add bool) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.resolveChannelLocked(p.Get("channel"))
	if ch == nil {
		return errAnswer("channel_not_found")
	}
	name := p.Get("name")
	if name == "" {
		return errAnswer("invalid_name")
	}
	m := s.findLocked(ch.id, p.Get("timestamp"))
	if m == nil {
		return errAnswer("message_not_found")
	}
	event, refusal := "reaction_added", "already_reacted"
	if !add {
		event, refusal = "reaction_removed", "no_reaction"
	}
	if !s.reactLocked(m, BotUserID, name, add) {
		return errAnswer(refusal)
	}
	if s.EchoBotMessages {
		s.enqueueEventLocked(s.reactionEventLocked(event, m.channel, m.ts, BotUserID, name), "", 0)
	}
	s.notifyLocked()
	return okAnswer(nil)
}

// reactLocked adds or removes a reaction; it reports whether anything changed.
func (s *Server) reactLocked(m *msgRec, user, name string, add bool) bool {
	us := m.reactions[name]
	has := slices.Contains(us, user)
	if add == has {
		return false
	}
	if m.reactions == nil {
		m.reactions = map[string][]string{}
	}
	if add {
		if len(us) == 0 {
			m.reactionOrder = append(m.reactionOrder, name)
		}
		m.reactions[name] = append(slices.Clone(us), user)
		return true
	}
	us = slices.DeleteFunc(slices.Clone(us), func(u string) bool { return u == user })
	if len(us) == 0 {
		delete(m.reactions, name)
		m.reactionOrder = slices.DeleteFunc(m.reactionOrder, func(n string) bool { return n == name })
	} else {
		m.reactions[name] = us
	}
	return true
}

func (s *Server) viewsPublish(p params) answer {
	user := p.Get("user_id")
	if user == "" {
		return errAnswer("invalid_arguments")
	}
	var view map[string]json.RawMessage
	if err := json.Unmarshal([]byte(p.Get("view")), &view); err != nil {
		return errAnswer("invalid_arguments")
	}
	var typ string
	_ = json.Unmarshal(view["type"], &typ)
	if typ != "home" {
		return errAnswer("invalid_arguments")
	}
	if b := view["blocks"]; len(b) > 0 && string(b) != "null" {
		if _, a, ok := validateBlocks(string(b), 100); !ok {
			return a
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := p.Get("hash"); h != "" && h != s.viewHashes[user] {
		return errAnswer("hash_conflict")
	}
	id := s.nextIDLocked("V")
	hash := s.nextIDLocked("hash")
	view["id"], _ = json.Marshal(id)
	view["team_id"], _ = json.Marshal(TeamID)
	view["app_id"], _ = json.Marshal(AppID)
	view["bot_id"], _ = json.Marshal(BotID)
	view["hash"], _ = json.Marshal(hash)
	raw, _ := json.Marshal(view)
	s.homeViews[user] = raw
	s.viewHashes[user] = hash
	s.notifyLocked()
	return okAnswer(obj{"view": json.RawMessage(raw)})
}

// handleResponseURL implements the response_url of slash commands and block
// actions. slack-go posts a JSON slack.Msg there.
func (s *Server) handleResponseURL(w http.ResponseWriter, r *http.Request) {
	drop, done := s.begin(w, "response_url")
	if done {
		return
	}
	a := s.responseURL(strings.TrimPrefix(r.URL.Path, "/response/"), r)
	if drop {
		dropConnection(w)
		return
	}
	writeAnswer(w, a)
}

func (s *Server) responseURL(id string, r *http.Request) answer {
	p, err := readParams(r)
	if err != nil {
		return errAnswer("invalid_payload")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ru := s.respURLs[id]
	if ru == nil {
		return answer{status: http.StatusNotFound, body: obj{"ok": false, "error": "expired_url"}}
	}
	ru.uses++
	if ru.uses > 5 {
		return answer{status: http.StatusNotFound, body: obj{"ok": false, "error": "used_url"}}
	}
	if a, done := s.ephemeralResponseLocked(ru, p); done { // ephemeral.go
		return a
	}
	if p.bool("delete_original") {
		m := s.findLocked(ru.channel, ru.messageTS)
		if m == nil {
			return errAnswer("message_not_found")
		}
		for _, ev := range s.deleteMessageLocked(m) { // messages.go
			if s.EchoBotMessages {
				s.enqueueEventLocked(ev, "", 0)
			}
		}
		s.notifyLocked()
		return okAnswer(nil)
	}
	// slack-go always sends "metadata":{"event_type":"","event_payload":null}
	// to response URLs; Slack ignores an empty one.
	if md := decodeMeta(json.RawMessage(p.Get("metadata"))); md == nil || md.EventType == "" {
		p.Del("metadata")
	}
	c, a, ok := readContent(p)
	if !ok {
		return a
	}
	if c.text == "" && isEmptyBlocks(c.blocks) && isEmptyBlocks(c.attachments) {
		return errAnswer("no_text")
	}
	if p.bool("replace_original") && ru.messageTS != "" {
		m := s.findLocked(ru.channel, ru.messageTS)
		if m == nil {
			return errAnswer("message_not_found")
		}
		prev := *m
		m.text, m.blocks, m.attachments = c.text, c.blocks, c.attachments
		m.updates++
		m.editedTS = s.nextTSLocked()
		if s.EchoBotMessages && m.botID == BotID {
			s.enqueueEventLocked(s.messageChangedEventLocked(m, &prev), "", 0)
		}
		s.notifyLocked()
		return okAnswer(nil)
	}
	if p.Get("response_type") == "in_channel" {
		m := &msgRec{
			channel:     ru.channel,
			ts:          s.nextTSLocked(),
			threadTS:    p.Get("thread_ts"),
			user:        BotUserID,
			botID:       BotID,
			text:        c.text,
			blocks:      c.blocks,
			attachments: c.attachments,
			meta:        c.meta,
			unfurl:      true,
		}
		s.insertLocked(m)
		if s.EchoBotMessages {
			s.enqueueEventLocked(s.messageEventLocked(m), "", 0)
		}
		s.notifyLocked()
		return okAnswer(nil)
	}
	s.ephemerals = append(s.ephemerals, Message{
		Channel:     ru.channel,
		TS:          s.nextTSLocked(),
		ThreadTS:    p.Get("thread_ts"),
		User:        ru.user,
		BotID:       BotID,
		Text:        c.text,
		Blocks:      c.blocks,
		Attachments: c.attachments,
		Unfurl:      true,
		Via:         "response_url",
	})
	s.notifyLocked()
	return okAnswer(nil)
}

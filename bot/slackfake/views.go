package slackfake

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// triggerTTL is how long Slack accepts a trigger_id.
const triggerTTL = 3 * time.Second

// maxViewStack is how many views a modal holds (views.open + 2 pushes).
const maxViewStack = 3

type triggerRec struct {
	user   string
	viewID string // the modal the interaction happened in, if any
	issued time.Time
	used   bool
}

// newTriggerLocked issues a trigger_id for an interaction of user (in the
// modal viewID, if any).
func (s *Server) newTriggerLocked(user, viewID string) string {
	id := s.nextIDLocked("trigger.")
	s.triggers[id] = &triggerRec{user: user, viewID: viewID, issued: s.nowLocked()}
	return id
}

// ExpireTriggers makes every trigger_id issued so far too old for
// views.open and views.push (expired_trigger_id), without waiting 3 s.
func (s *Server) ExpireTriggers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.triggers {
		t.issued = time.Time{}
	}
	s.notifyLocked()
}

// triggerLocked checks that a trigger_id can be exchanged, answering like
// Slack when it cannot be. The caller marks it used.
func (s *Server) triggerLocked(id string) (*triggerRec, answer, bool) {
	t := s.triggers[id]
	switch {
	case t == nil:
		return nil, errAnswer("invalid_trigger_id"), false
	case t.used:
		return nil, errAnswer("exchanged_trigger_id"), false
	case s.nowLocked().Sub(t.issued) > triggerTTL:
		return nil, errAnswer("expired_trigger_id"), false
	}
	return t, answer{}, true
}

type viewRec struct {
	id, hash, user     string
	rootID, previousID string
	def                map[string]json.RawMessage // the definition the app sent
	open               bool
	updates            int
	errors             map[string]string
	ackError           string
}

func (v *viewRec) str(k string) string {
	var s string
	_ = json.Unmarshal(v.def[k], &s)
	return s
}

// View is a modal view (see OpenViews and View).
type View struct {
	ID, Hash, User             string
	ExternalID, CallbackID     string
	PrivateMetadata            string
	RootViewID, PreviousViewID string
	Title                      string // the title's text
	Blocks                     json.RawMessage
	// JSON is the view as views.open/update/push answer it.
	JSON json.RawMessage
	// Open is false once the view was closed (by a submission, a
	// response_action, CloseView or a new views.open for the user).
	Open bool
	// Updates counts views.update calls and response_action "update"s.
	Updates int
	// Errors are the input errors shown by the last response_action
	// "errors" (block_id -> message); nil when none are shown.
	Errors map[string]string
	// AckError is set when the app's answer to a submission of this view
	// was refused (e.g. an invalid view in response_action "update"), as
	// Slack would show the user an error.
	AckError string
}

func (s *Server) toViewLocked(v *viewRec) View {
	var title struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(v.def["title"], &title)
	return View{
		ID: v.id, Hash: v.hash, User: v.user,
		ExternalID: v.str("external_id"), CallbackID: v.str("callback_id"), PrivateMetadata: v.str("private_metadata"),
		RootViewID: v.rootID, PreviousViewID: v.previousID,
		Title: title.Text, Blocks: cloneRaw(v.def["blocks"]),
		JSON: s.viewJSONLocked(v, nil), Open: v.open, Updates: v.updates,
		Errors: maps.Clone(v.errors), AckError: v.ackError,
	}
}

// View returns a modal view by ID (open or closed).
func (s *Server) View(id string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.views[id]; v != nil {
		return s.toViewLocked(v), true
	}
	return View{}, false
}

// OpenViews returns the modal views open for a user, root first (the last
// one is the one the user sees).
func (s *Server) OpenViews(user string) []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []View
	for _, id := range s.viewStacks[user] {
		out = append(out, s.toViewLocked(s.views[id]))
	}
	return out
}

// viewJSONLocked renders a view as Slack does: the definition plus the
// fields Slack fills in. state is the state.values object (nil: empty).
func (s *Server) viewJSONLocked(v *viewRec, state obj) json.RawMessage {
	o := map[string]any{
		"type": "modal", "private_metadata": "", "callback_id": "", "external_id": "",
		"clear_on_close": false, "notify_on_close": false, "close": nil, "submit": nil,
		"blocks": []any{},
	}
	for k, raw := range v.def {
		o[k] = raw
	}
	if state == nil {
		state = obj{}
	}
	o["id"], o["team_id"], o["app_id"], o["bot_id"] = v.id, TeamID, AppID, BotID
	o["app_installed_team_id"] = TeamID
	o["hash"], o["root_view_id"], o["previous_view_id"] = v.hash, v.rootID, nil
	if v.previousID != "" {
		o["previous_view_id"] = v.previousID
	}
	o["state"] = obj{"values": state}
	return mustJSON(o)
}

// ---- validation ----

// maxViewBytes is the size Slack accepts for a view (view_too_large).
const maxViewBytes = 250 * 1000

// parseModal reads and validates a modal view definition, answering like
// Slack's views.* methods: invalid_arguments with json-pointers under /view.
func parseModal(raw string) (map[string]json.RawMessage, answer, bool) {
	if len(raw) > maxViewBytes {
		return nil, errAnswer("view_too_large"), false
	}
	var def map[string]json.RawMessage
	var generic map[string]any
	if json.Unmarshal([]byte(raw), &def) != nil || json.Unmarshal([]byte(raw), &generic) != nil {
		return nil, errAnswer("invalid_arguments"), false
	}
	v := &blockValidator{}
	if t, _ := str(generic, "type"); t != "modal" {
		v.errf("/view/type", "must be 'modal'")
	}
	if _, ok := generic["title"]; !ok {
		v.errf("/view", "missing required field: title")
	} else {
		v.text("/view/title", generic["title"], 24, true)
	}
	for _, k := range []string{"submit", "close"} {
		if t, ok := generic[k]; ok && t != nil {
			v.text("/view/"+k, t, 24, true)
		}
	}
	for k, max := range map[string]int{"private_metadata": 3000, "callback_id": 255, "external_id": 255} {
		if sv, ok := str(generic, k); ok {
			v.maxLen("/view/"+k, sv, max)
		}
	}
	blocks, _ := generic["blocks"].([]any)
	if _, ok := generic["blocks"]; !ok {
		v.errf("/view", "missing required field: blocks")
	}
	if len(blocks) > 100 {
		v.errf("/view/blocks", "no more than 100 items allowed")
	}
	ids := map[string]bool{}
	hasInput := false
	for i, b := range blocks {
		bm, ok := b.(map[string]any)
		if !ok {
			v.errf(fmt.Sprintf("/view/blocks/%d", i), "must be an object")
			continue
		}
		if t, _ := str(bm, "type"); t == "input" {
			hasInput = true
		}
		v.block(fmt.Sprintf("/view/blocks/%d", i), bm, ids)
	}
	if hasInput && generic["submit"] == nil {
		v.errf("/view", "must provide submit when there are input blocks")
	}
	if len(v.errs) > 0 {
		msgs := make([]string, len(v.errs))
		for i, e := range v.errs {
			msgs[i] = "[ERROR] " + e
		}
		return nil, answer{status: http.StatusOK, body: obj{
			"ok": false, "error": "invalid_arguments", "response_metadata": obj{"messages": msgs},
		}}, false
	}
	return def, answer{}, true
}

// externalIDTakenLocked reports whether an open view other than self uses
// the external_id of def.
func (s *Server) externalIDTakenLocked(def map[string]json.RawMessage, self string) bool {
	v := &viewRec{def: def}
	ext := v.str("external_id")
	if ext == "" {
		return false
	}
	for id, o := range s.views {
		if id != self && o.open && o.str("external_id") == ext {
			return true
		}
	}
	return false
}

// ---- views.open / views.push / views.update ----

func (s *Server) viewsOpen(p params) answer { return s.openOrPush(p, false) }
func (s *Server) viewsPush(p params) answer { return s.openOrPush(p, true) }

func (s *Server) openOrPush(p params, push bool) answer {
	trigger := cmp.Or(p.Get("trigger_id"), p.Get("interactivity_pointer"))
	if trigger == "" {
		return errAnswer("invalid_arguments")
	}
	def, a, ok := parseModal(p.Get("view"))
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.externalIDTakenLocked(def, "") {
		return errAnswer("duplicate_external_id")
	}
	t, a, ok := s.triggerLocked(trigger)
	if !ok {
		return a
	}
	if push {
		switch n := len(s.viewStacks[t.user]); {
		case n == 0:
			return errAnswer("not_found")
		case n >= maxViewStack:
			return errAnswer("push_limit_reached")
		}
	} else {
		s.closeStackLocked(t.user) // a new modal replaces an open one
	}
	t.used = true
	v := s.pushViewLocked(t.user, def)
	s.notifyLocked()
	return okAnswer(obj{"view": s.viewJSONLocked(v, nil)})
}

// pushViewLocked opens def on top of user's modal stack (as its root if empty).
func (s *Server) pushViewLocked(user string, def map[string]json.RawMessage) *viewRec {
	v := &viewRec{id: s.nextIDLocked("V"), hash: s.nextIDLocked("hash"), user: user, def: def, open: true}
	stack := s.viewStacks[user]
	if len(stack) == 0 {
		v.rootID = v.id
	} else {
		v.rootID, v.previousID = stack[0], stack[len(stack)-1]
	}
	s.views[v.id] = v
	s.viewStacks[user] = append(stack, v.id)
	return v
}

// closeStackLocked closes all of a user's modal views.
func (s *Server) closeStackLocked(user string) {
	for _, id := range s.viewStacks[user] {
		s.views[id].open = false
	}
	delete(s.viewStacks, user)
}

// popViewLocked closes the top view of a user's modal.
func (s *Server) popViewLocked(user string) {
	stack := s.viewStacks[user]
	if len(stack) == 0 {
		return
	}
	s.views[stack[len(stack)-1]].open = false
	if len(stack) == 1 {
		delete(s.viewStacks, user)
		return
	}
	s.viewStacks[user] = stack[:len(stack)-1]
}

func (s *Server) viewsUpdate(p params) answer {
	id, ext := p.Get("view_id"), p.Get("external_id")
	if id == "" && ext == "" {
		return errAnswer("invalid_arguments")
	}
	def, a, ok := parseModal(p.Get("view"))
	if !ok {
		return a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var v *viewRec
	for _, o := range s.views {
		if o.open && ((id != "" && o.id == id) || (id == "" && o.str("external_id") == ext)) {
			v = o
		}
	}
	if v == nil {
		return errAnswer("not_found")
	}
	if h := p.Get("hash"); h != "" && h != v.hash {
		return errAnswer("hash_conflict")
	}
	if s.externalIDTakenLocked(def, v.id) {
		return errAnswer("duplicate_external_id")
	}
	s.replaceViewLocked(v, def)
	s.notifyLocked()
	return okAnswer(obj{"view": s.viewJSONLocked(v, nil)})
}

func (s *Server) replaceViewLocked(v *viewRec, def map[string]json.RawMessage) {
	v.def = def
	v.hash = s.nextIDLocked("hash")
	v.updates++
	v.errors = nil
}

// ---- user interactions with modals ----

func (s *Server) topViewLocked(user, viewID string) (*viewRec, error) {
	stack := s.viewStacks[user]
	if len(stack) == 0 || stack[len(stack)-1] != viewID {
		return nil, fmt.Errorf("slackfake: view %s is not the modal view %s sees", viewID, user)
	}
	return s.views[viewID], nil
}

func (s *Server) interactionBaseLocked(typ, user string) obj {
	return obj{
		"type":                  typ,
		"token":                 VerificationToken,
		"api_app_id":            AppID,
		"user":                  obj{"id": user, "username": s.userNameLocked(user), "name": s.userNameLocked(user), "team_id": TeamID},
		"team":                  obj{"id": TeamID, "domain": "fake"},
		"enterprise":            nil,
		"is_enterprise_install": false,
	}
}

// ViewAction sends the block_actions payload of a click on an element (by
// action_id) of the modal view user sees. Its trigger_id can open, or push
// onto, the modal.
func (s *Server) ViewAction(user, viewID, actionID, value string) (envelopeID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.topViewLocked(user, viewID)
	if err != nil {
		return "", err
	}
	actionTS := s.nextTSLocked()
	payload := s.interactionBaseLocked("block_actions", user)
	payload["trigger_id"] = s.newTriggerLocked(user, v.id)
	payload["container"] = obj{"type": "view", "view_id": v.id}
	payload["view"] = s.viewJSONLocked(v, nil)
	payload["state"] = obj{"values": obj{}}
	payload["actions"] = []obj{actionJSON(v.def["blocks"], actionID, value, "", actionTS)}
	return s.enqueueLocked("interactive", mustJSON(payload), 0, false), nil
}

// SubmitView sends the view_submission payload of user pressing submit on
// the modal view they see, with view.state.values built from values (keyed
// by action_id, or block_id; elements left out keep their initial value).
// Values are strings: selections give the option value, a user, channel or
// conversation ID, or a date; multi-selects and checkboxes take
// comma-separated values. Like Slack's client, it refuses (with an error,
// sending nothing) a required input left empty, a text outside
// min_length/max_length, or an option the element does not offer.
//
// The app's ack payload (WaitAck, or WaitViewAck decoded) acts like Slack's:
// none closes the view; response_action "errors" keeps it open showing
// View.Errors; "update" replaces it; "push" pushes a view; "clear" closes
// the whole modal.
func (s *Server) SubmitView(user, viewID string, values map[string]string) (envelopeID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.topViewLocked(user, viewID)
	if err != nil {
		return "", err
	}
	state, err := viewState(v.def["blocks"], values)
	if err != nil {
		return "", err
	}
	payload := s.interactionBaseLocked("view_submission", user)
	payload["trigger_id"] = s.newTriggerLocked(user, v.id)
	payload["view"] = s.viewJSONLocked(v, state)
	payload["response_urls"] = []any{}
	return s.enqueueLocked("interactive", mustJSON(payload), 0, true), nil
}

// CloseView is user closing the modal view they see (the close button). A
// view with clear_on_close closes the whole modal, otherwise the previous
// view shows again. If the view has notify_on_close, the fake sends
// view_closed and returns its envelope ID; otherwise "".
func (s *Server) CloseView(user, viewID string) (envelopeID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.topViewLocked(user, viewID)
	if err != nil {
		return "", err
	}
	var clear, notify bool
	_ = json.Unmarshal(v.def["clear_on_close"], &clear)
	_ = json.Unmarshal(v.def["notify_on_close"], &notify)
	if clear {
		s.closeStackLocked(user)
	} else {
		s.popViewLocked(user)
	}
	s.notifyLocked()
	if !notify {
		return "", nil
	}
	payload := s.interactionBaseLocked("view_closed", user)
	payload["view"] = s.viewJSONLocked(v, nil)
	payload["is_cleared"] = clear
	return s.enqueueLocked("interactive", mustJSON(payload), 0, false), nil
}

// viewAckLocked applies the ack of a view_submission envelope.
func (s *Server) viewAckLocked(env *envelope, payload json.RawMessage) {
	var sub struct {
		Type string `json:"type"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		View struct {
			ID string `json:"id"`
		} `json:"view"`
	}
	if json.Unmarshal(env.payload, &sub) != nil || sub.Type != "view_submission" {
		return
	}
	v := s.views[sub.View.ID]
	if v == nil || !v.open {
		return
	}
	var ack struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if len(payload) > 0 && string(payload) != "null" && json.Unmarshal(payload, &ack) != nil {
		v.ackError = "ack payload is not a JSON object"
		return
	}
	user := sub.User.ID
	switch ack.ResponseAction {
	case "":
		if top, err := s.topViewLocked(user, v.id); err == nil && top == v {
			s.popViewLocked(user)
		}
	case "clear":
		s.closeStackLocked(user)
	case "errors":
		if len(ack.Errors) == 0 {
			v.ackError = "response_action errors without errors"
			return
		}
		v.errors = maps.Clone(ack.Errors)
	case "update", "push":
		def, a, ok := parseModal(string(ack.View))
		if !ok {
			v.ackError = fmt.Sprintf("response_action %s: %v", ack.ResponseAction, a.body)
			return
		}
		if ack.ResponseAction == "update" {
			s.replaceViewLocked(v, def)
			return
		}
		if len(s.viewStacks[user]) >= maxViewStack {
			v.ackError = "response_action push: push_limit_reached"
			return
		}
		s.pushViewLocked(user, def)
	default:
		v.ackError = "unknown response_action " + ack.ResponseAction
	}
}

// ViewAck is the decoded ack payload of a view_submission.
type ViewAck struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
	View           json.RawMessage   `json:"view"`
}

// WaitViewAck waits for the ack of a view_submission envelope (see
// SubmitView) and decodes its payload; an ack without payload gives a zero
// ViewAck.
func (s *Server) WaitViewAck(ctx context.Context, envelopeID string) (ViewAck, error) {
	raw, err := s.WaitAck(ctx, envelopeID)
	if err != nil {
		return ViewAck{}, err
	}
	var a ViewAck
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a); err != nil {
			return ViewAck{}, fmt.Errorf("slackfake: view_submission ack %s: %w", raw, err)
		}
	}
	return a, nil
}

// ---- view state ----

// viewState builds view.state.values for the stateful elements of blocks.
func viewState(blocksRaw json.RawMessage, values map[string]string) (obj, error) {
	var blocks []map[string]any
	_ = json.Unmarshal(blocksRaw, &blocks)
	used := map[string]bool{}
	state := obj{}
	for i, b := range blocks {
		blockID, _ := str(b, "block_id")
		if blockID == "" {
			blockID = fmt.Sprintf("blk%d", i)
		}
		typ, _ := str(b, "type")
		var els []map[string]any
		switch typ {
		case "input":
			if e, ok := b["element"].(map[string]any); ok {
				els = append(els, e)
			}
		case "actions":
			for _, e := range anySlice(b["elements"]) {
				if m, ok := e.(map[string]any); ok {
					els = append(els, m)
				}
			}
		case "section":
			if e, ok := b["accessory"].(map[string]any); ok {
				els = append(els, e)
			}
		}
		vals := obj{}
		for _, e := range els {
			etype, _ := str(e, "type")
			if etype == "button" || etype == "overflow" || etype == "image" {
				continue
			}
			actionID, _ := str(e, "action_id")
			raw, given := values[actionID]
			if given {
				used[actionID] = true
			} else if raw, given = values[blockID]; given {
				used[blockID] = true
			}
			val, empty, err := elementValue(e, raw, given)
			if err != nil {
				return nil, fmt.Errorf("slackfake: block %s, element %s: %w", blockID, actionID, err)
			}
			if typ == "input" && empty {
				if opt, _ := b["optional"].(bool); !opt {
					return nil, fmt.Errorf("slackfake: required input %s (%s) is empty", blockID, actionID)
				}
			}
			vals[actionID] = val
		}
		if len(vals) > 0 {
			state[blockID] = vals
		}
	}
	for k := range values {
		if !used[k] {
			return nil, fmt.Errorf("slackfake: no input %q in the view", k)
		}
	}
	return state, nil
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// elementValue is the state of one element: raw if given, else its initial value.
func elementValue(e map[string]any, raw string, given bool) (val obj, empty bool, err error) {
	typ, _ := str(e, "type")
	val = obj{"type": typ}
	pick := func(key, initKey string) {
		if given {
			if raw == "" {
				val[key], empty = nil, true
			} else {
				val[key] = raw
			}
			return
		}
		iv, ok := e[initKey]
		val[key], empty = iv, !ok || iv == nil || iv == ""
	}
	pickMulti := func(key, initKey string) {
		if given {
			list := splitList(raw)
			val[key], empty = list, len(list) == 0
			return
		}
		iv := anySlice(e[initKey])
		if iv == nil {
			iv = []any{}
		}
		val[key], empty = iv, len(iv) == 0
	}
	switch typ {
	case "static_select", "radio_buttons", "external_select":
		if !given {
			iv, ok := e["initial_option"]
			val["selected_option"], empty = iv, !ok
			return val, empty, nil
		}
		if raw == "" {
			val["selected_option"] = nil
			return val, true, nil
		}
		opt, err := findOption(e, raw)
		if err != nil && typ != "external_select" {
			return nil, false, err
		}
		if opt == nil {
			opt = obj{"text": obj{"type": "plain_text", "text": raw}, "value": raw}
		}
		val["selected_option"] = opt
	case "multi_static_select", "checkboxes", "multi_external_select":
		if !given {
			iv := anySlice(e["initial_options"])
			if iv == nil {
				iv = []any{}
			}
			val["selected_options"] = iv
			return val, len(iv) == 0, nil
		}
		opts := []any{}
		for _, v := range splitList(raw) {
			opt, err := findOption(e, v)
			if err != nil && typ != "multi_external_select" {
				return nil, false, err
			}
			if opt == nil {
				opt = obj{"text": obj{"type": "plain_text", "text": v}, "value": v}
			}
			opts = append(opts, opt)
		}
		val["selected_options"], empty = opts, len(opts) == 0
	case "users_select":
		pick("selected_user", "initial_user")
	case "conversations_select":
		pick("selected_conversation", "initial_conversation")
	case "channels_select":
		pick("selected_channel", "initial_channel")
	case "multi_users_select":
		pickMulti("selected_users", "initial_users")
	case "multi_conversations_select":
		pickMulti("selected_conversations", "initial_conversations")
	case "multi_channels_select":
		pickMulti("selected_channels", "initial_channels")
	case "datepicker":
		pick("selected_date", "initial_date")
	case "timepicker":
		pick("selected_time", "initial_time")
	default: // plain_text_input, email_text_input, url_text_input, number_input, ...
		pick("value", "initial_value")
		if typ == "plain_text_input" && !empty {
			text, _ := val["value"].(string)
			n := utf8.RuneCountInString(text)
			if minLen, ok := e["min_length"].(float64); ok && n < int(minLen) {
				return nil, false, fmt.Errorf("%d characters, min_length is %d", n, int(minLen))
			}
			if maxLen, ok := e["max_length"].(float64); ok && n > int(maxLen) {
				return nil, false, fmt.Errorf("%d characters, max_length is %d", n, int(maxLen))
			}
		}
	}
	return val, empty, nil
}

func splitList(raw string) []string {
	out := []string{}
	for v := range strings.SplitSeq(raw, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

var errNoOption = errors.New("no such option")

func findOption(e map[string]any, value string) (map[string]any, error) {
	opts := anySlice(e["options"])
	for _, g := range anySlice(e["option_groups"]) {
		if gm, ok := g.(map[string]any); ok {
			opts = append(opts, anySlice(gm["options"])...)
		}
	}
	for _, o := range opts {
		if om, ok := o.(map[string]any); ok && om["value"] == value {
			return om, nil
		}
	}
	return nil, fmt.Errorf("%w %q", errNoOption, value)
}

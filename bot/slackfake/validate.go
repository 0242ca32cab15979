package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// validateBlocks checks a blocks array against (a subset of) Block Kit's
// limits, answering like Slack: invalid_blocks_format for bad JSON,
// invalid_blocks with "errors" and response_metadata.messages otherwise.
func validateBlocks(raw string, maxBlocks int) (json.RawMessage, answer, bool) {
	var blocks []map[string]any
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, errAnswer("invalid_blocks_format"), false
	}
	v := &blockValidator{}
	if len(blocks) > maxBlocks {
		v.errf("/blocks", "no more than %d items allowed", maxBlocks)
	}
	ids := map[string]bool{}
	for i, b := range blocks {
		v.block(fmt.Sprintf("/blocks/%d", i), b, ids)
	}
	if len(v.errs) > 0 {
		msgs := make([]string, len(v.errs))
		for i, e := range v.errs {
			msgs[i] = "[ERROR] " + e
		}
		return nil, answer{status: http.StatusOK, body: obj{
			"ok":                false,
			"error":             "invalid_blocks",
			"errors":            v.errs,
			"response_metadata": obj{"messages": msgs},
		}}, false
	}
	return json.RawMessage(raw), answer{}, true
}

type blockValidator struct{ errs []string }

func (v *blockValidator) errf(ptr, format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...)+" [json-pointer:"+ptr+"]")
}

func str(m map[string]any, k string) (string, bool) {
	s, ok := m[k].(string)
	return s, ok
}

func (v *blockValidator) maxLen(ptr, s string, max int) {
	if utf8.RuneCountInString(s) > max {
		v.errf(ptr, "must be less than %d characters", max+1)
	}
}

// text checks a text object: {"type":"plain_text"|"mrkdwn","text":"..."}.
func (v *blockValidator) text(ptr string, t any, max int, plainOnly bool) {
	m, ok := t.(map[string]any)
	if !ok {
		v.errf(ptr, "must be an object")
		return
	}
	typ, _ := str(m, "type")
	switch {
	case typ == "plain_text":
	case typ == "mrkdwn" && !plainOnly:
	case plainOnly:
		v.errf(ptr+"/type", "must be 'plain_text'")
	default:
		v.errf(ptr+"/type", "must be one of 'plain_text', 'mrkdwn'")
	}
	s, ok := str(m, "text")
	if !ok || s == "" {
		v.errf(ptr+"/text", "must be more than 0 characters")
		return
	}
	v.maxLen(ptr+"/text", s, max)
}

func (v *blockValidator) block(ptr string, b map[string]any, ids map[string]bool) {
	typ, _ := str(b, "type")
	if typ == "" {
		v.errf(ptr, "missing required field: type")
		return
	}
	if id, ok := str(b, "block_id"); ok {
		v.maxLen(ptr+"/block_id", id, 255)
		if ids[id] {
			v.errf(ptr+"/block_id", "duplicate block_id")
		}
		ids[id] = true
	}
	switch typ {
	case "section":
		t, hasText := b["text"]
		f, hasFields := b["fields"].([]any)
		if !hasText && !hasFields {
			v.errf(ptr, "must provide either text or fields")
		}
		if hasText {
			v.text(ptr+"/text", t, 3000, false)
		}
		if hasFields {
			if len(f) > 10 {
				v.errf(ptr+"/fields", "no more than 10 items allowed")
			}
			for i, ft := range f {
				v.text(fmt.Sprintf("%s/fields/%d", ptr, i), ft, 2000, false)
			}
		}
		if acc, ok := b["accessory"].(map[string]any); ok {
			v.element(ptr+"/accessory", acc, map[string]bool{})
		}
	case "header":
		v.text(ptr+"/text", b["text"], 150, true)
	case "context":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			v.errf(ptr+"/elements", "must provide at least 1 item")
		}
		if len(els) > 10 {
			v.errf(ptr+"/elements", "no more than 10 items allowed")
		}
		for i, e := range els {
			if m, ok := e.(map[string]any); ok {
				if t, _ := str(m, "type"); t == "plain_text" || t == "mrkdwn" {
					v.text(fmt.Sprintf("%s/elements/%d", ptr, i), m, 3000, false)
				}
			}
		}
	case "actions":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			v.errf(ptr+"/elements", "must provide at least 1 item")
		}
		if len(els) > 25 {
			v.errf(ptr+"/elements", "no more than 25 items allowed")
		}
		actionIDs := map[string]bool{}
		for i, e := range els {
			if m, ok := e.(map[string]any); ok {
				v.element(fmt.Sprintf("%s/elements/%d", ptr, i), m, actionIDs)
			}
		}
	case "image":
		if u, _ := str(b, "image_url"); u == "" && b["slack_file"] == nil {
			v.errf(ptr, "must provide image_url or slack_file")
		}
		if a, _ := str(b, "alt_text"); a == "" {
			v.errf(ptr+"/alt_text", "must be more than 0 characters")
		} else {
			v.maxLen(ptr+"/alt_text", a, 2000)
		}
	case "input":
		v.input(ptr, b)
	case "rich_text":
		v.richText(ptr, b)
	case "markdown":
		t, _ := str(b, "text")
		if t == "" {
			v.errf(ptr+"/text", "must be more than 0 characters")
		}
		v.maxLen(ptr+"/text", t, 12000)
	}
}

func (v *blockValidator) element(ptr string, e map[string]any, actionIDs map[string]bool) {
	typ, _ := str(e, "type")
	if id, ok := str(e, "action_id"); ok {
		v.maxLen(ptr+"/action_id", id, 255)
		if actionIDs[id] {
			v.errf(ptr+"/action_id", "duplicate action_id")
		}
		actionIDs[id] = true
	}
	switch typ {
	case "button":
		v.text(ptr+"/text", e["text"], 75, true)
		if s, ok := str(e, "value"); ok {
			v.maxLen(ptr+"/value", s, 2000)
		}
		if s, ok := str(e, "url"); ok {
			v.maxLen(ptr+"/url", s, 3000)
		}
	case "static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes":
		opts, _ := e["options"].([]any)
		if typ == "overflow" && (len(opts) < 1 || len(opts) > 5) {
			v.errf(ptr+"/options", "must provide between 1 and 5 items")
		}
		if len(opts) > 100 {
			v.errf(ptr+"/options", "no more than 100 items allowed")
		}
		for i, o := range opts {
			if m, ok := o.(map[string]any); ok {
				op := fmt.Sprintf("%s/options/%d", ptr, i)
				v.text(op+"/text", m["text"], 75, typ != "radio_buttons" && typ != "checkboxes")
				if s, ok := str(m, "value"); ok {
					v.maxLen(op+"/value", s, 150)
				}
			}
		}
	case "plain_text_input":
		v.plainTextInput(ptr, e)
	}
	if p, ok := e["placeholder"]; ok {
		v.text(ptr+"/placeholder", p, 150, true)
	}
}

// inputElements are the element types an input block accepts.
var inputElements = map[string]bool{
	"plain_text_input": true, "email_text_input": true, "url_text_input": true, "number_input": true,
	"rich_text_input": true, "checkboxes": true, "radio_buttons": true, "datepicker": true,
	"timepicker": true, "datetimepicker": true, "file_input": true,
	"static_select": true, "external_select": true, "users_select": true, "conversations_select": true, "channels_select": true,
	"multi_static_select": true, "multi_external_select": true, "multi_users_select": true,
	"multi_conversations_select": true, "multi_channels_select": true,
}

func (v *blockValidator) input(ptr string, b map[string]any) {
	v.text(ptr+"/label", b["label"], 2000, true)
	if h, ok := b["hint"]; ok {
		v.text(ptr+"/hint", h, 2000, true)
	}
	el, ok := b["element"].(map[string]any)
	if !ok {
		v.errf(ptr, "missing required field: element")
		return
	}
	if t, _ := str(el, "type"); !inputElements[t] {
		v.errf(ptr+"/element/type", "must be a valid input element type")
	}
	v.element(ptr+"/element", el, map[string]bool{})
}

func (v *blockValidator) plainTextInput(ptr string, e map[string]any) {
	minLen, hasMin := e["min_length"].(float64)
	maxLen, hasMax := e["max_length"].(float64)
	if hasMin && (minLen < 0 || minLen > 3000) {
		v.errf(ptr+"/min_length", "must be between 0 and 3000")
	}
	if hasMax && (maxLen < 1 || maxLen > 3000) {
		v.errf(ptr+"/max_length", "must be between 1 and 3000")
	}
	if hasMin && hasMax && minLen > maxLen {
		v.errf(ptr+"/min_length", "must be less than or equal to max_length")
	}
	if iv, ok := str(e, "initial_value"); ok && hasMax && utf8.RuneCountInString(iv) > int(maxLen) {
		v.errf(ptr+"/initial_value", "must be less than %d characters", int(maxLen)+1)
	}
}

// richTextSectionElements are the element types a rich_text_section (or
// quote, or preformatted) may hold.
var richTextSectionElements = map[string]bool{
	"text": true, "link": true, "emoji": true, "user": true, "usergroup": true, "channel": true,
	"broadcast": true, "date": true, "color": true, "team": true,
}

// richText checks a rich_text block: its elements are sections, lists,
// quotes and preformatted blocks; lists hold sections; text elements need
// text and links a URL.
func (v *blockValidator) richText(ptr string, b map[string]any) {
	els, ok := b["elements"].([]any)
	if !ok || len(els) == 0 {
		v.errf(ptr+"/elements", "must provide at least 1 item")
		return
	}
	for i, e := range els {
		ep := fmt.Sprintf("%s/elements/%d", ptr, i)
		m, ok := e.(map[string]any)
		if !ok {
			v.errf(ep, "must be an object")
			continue
		}
		switch t, _ := str(m, "type"); t {
		case "rich_text_section", "rich_text_quote", "rich_text_preformatted":
			v.richSection(ep, m)
		case "rich_text_list":
			if st, _ := str(m, "style"); st != "bullet" && st != "ordered" {
				v.errf(ep+"/style", "must be one of 'bullet', 'ordered'")
			}
			if in, ok := m["indent"].(float64); ok && (in < 0 || in > 8) {
				v.errf(ep+"/indent", "must be between 0 and 8")
			}
			items, _ := m["elements"].([]any)
			if len(items) == 0 {
				v.errf(ep+"/elements", "must provide at least 1 item")
			}
			for j, it := range items {
				ip := fmt.Sprintf("%s/elements/%d", ep, j)
				im, ok := it.(map[string]any)
				if t, _ := str(im, "type"); !ok || t != "rich_text_section" {
					v.errf(ip+"/type", "must be 'rich_text_section'")
					continue
				}
				v.richSection(ip, im)
			}
		default:
			v.errf(ep+"/type", "must be one of 'rich_text_section', 'rich_text_list', 'rich_text_quote', 'rich_text_preformatted'")
		}
	}
}

func (v *blockValidator) richSection(ptr string, m map[string]any) {
	els, ok := m["elements"].([]any)
	if !ok {
		v.errf(ptr, "missing required field: elements")
		return
	}
	for i, e := range els {
		ep := fmt.Sprintf("%s/elements/%d", ptr, i)
		em, ok := e.(map[string]any)
		if !ok {
			v.errf(ep, "must be an object")
			continue
		}
		t, _ := str(em, "type")
		if !richTextSectionElements[t] {
			v.errf(ep+"/type", "must be a valid rich text element type")
			continue
		}
		switch t {
		case "text":
			if s, ok := str(em, "text"); !ok || s == "" {
				v.errf(ep+"/text", "must be more than 0 characters")
			}
		case "link":
			if u, ok := str(em, "url"); !ok || u == "" {
				v.errf(ep+"/url", "must be more than 0 characters")
			} else {
				v.maxLen(ep+"/url", u, 3000)
			}
		}
	}
}

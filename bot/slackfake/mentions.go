package slackfake

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
)

// Pings lists whom a message notifies, the way Slack reads it: mention
// markup (<@U…>, <!channel>, <!here>, <!everyone>, <!subteam^…>) in its
// text and in the mrkdwn text objects of its blocks, bare @name words when
// it was posted with link_names, and the user, usergroup and broadcast
// elements of rich_text blocks. plain_text objects and the text elements of
// rich_text are shown literally and notify nobody. Each entry is "@U123",
// "!channel", "!subteam^S1", "@name"...; sorted, without repeats.
func Pings(m Message) []string {
	found := map[string]bool{}
	markup := func(s string) {
		for _, g := range reMention.FindAllStringSubmatch(s, -1) {
			target, _, _ := strings.Cut(g[1], "|")
			if strings.HasPrefix(target, "!") && !strings.HasPrefix(target, "!subteam^") && !specialMentions[target] {
				continue // <!date^…>, links: no one is notified
			}
			found[target] = true
		}
		if m.LinkNames {
			for _, g := range reBareName.FindAllStringSubmatch(s, -1) {
				found["@"+g[1]] = true
			}
		}
	}
	markup(m.Text)
	var blocks []any
	if json.Unmarshal(m.Blocks, &blocks) == nil {
		walkPings(blocks, markup, found)
	}
	out := make([]string, 0, len(found))
	for k := range found {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var (
	reMention       = regexp.MustCompile(`<((?:@[UW][A-Z0-9]+|![a-z]+(?:\^[A-Za-z0-9]+)?)(?:\|[^>]*)?)>`)
	reBareName      = regexp.MustCompile(`(?:^|\s)@([a-z0-9][a-z0-9._-]*)`)
	specialMentions = map[string]bool{"!channel": true, "!here": true, "!everyone": true}
)

// walkPings visits every object of a blocks tree: mrkdwn text objects are
// read for markup, rich_text mention elements are recorded.
func walkPings(v any, markup func(string), found map[string]bool) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			walkPings(e, markup, found)
		}
	case map[string]any:
		typ, _ := v["type"].(string)
		switch typ {
		case "mrkdwn":
			if s, ok := v["text"].(string); ok {
				markup(s)
			}
			return
		case "user":
			if id, ok := v["user_id"].(string); ok {
				found["@"+id] = true
			}
		case "usergroup":
			if id, ok := v["usergroup_id"].(string); ok {
				found["!subteam^"+id] = true
			}
		case "broadcast":
			if r, ok := v["range"].(string); ok {
				found["!"+r] = true
			}
		}
		for _, e := range v {
			walkPings(e, markup, found)
		}
	}
}

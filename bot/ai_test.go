package bot

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestBlocksText(t *testing.T) {
	raw := `[
	 {"type":"context","elements":[{"type":"plain_text","text":"📨 Carl <carl@example.com> · Re: Order"}]},
	 {"type":"section","text":{"type":"plain_text","text":"First part"},"fields":[{"type":"mrkdwn","text":"a &amp; b"}]},
	 {"type":"rich_text","elements":[
	   {"type":"rich_text_section","elements":[{"type":"text","text":"see "},{"type":"link","url":"https://x.test","text":"the page"},{"type":"link","url":"https://y.test"}]},
	   {"type":"rich_text_quote","elements":[{"type":"text","text":"> quoted"}]}]},
	 {"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"Claim"},"action_id":"claim"}]},
	 {"type":"context","block_id":"composed","elements":[{"type":"plain_text","text":"Written by Alice"}]}
	]`
	var bs slack.Blocks
	if err := json.Unmarshal([]byte(raw), &bs); err != nil {
		t.Fatal(err)
	}
	want := "📨 Carl <carl@example.com> · Re: Order\nFirst part\na & b\nsee the pagehttps://y.test\n> quoted"
	if got := blocksText(bs); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if !hasBlock(bs, composedBlockID) || hasBlock(bs, "nope") {
		t.Error("hasBlock")
	}
}

func TestCapTranscript(t *testing.T) {
	entries := []string{"first " + strings.Repeat("a", 50), "second " + strings.Repeat("b", 50), "third " + strings.Repeat("c", 50), "last"}
	all := capTranscript("Subject: x", entries, 10000)
	if all != "Subject: x\n\n"+strings.Join(entries, "\n\n") {
		t.Errorf("uncut: %q", all)
	}
	got := capTranscript("Subject: x", entries, 150)
	if !strings.HasPrefix(got, "Subject: x\n\nfirst ") || !strings.Contains(got, "[2 earlier messages left out]") ||
		!strings.HasSuffix(got, "last") || strings.Contains(got, "second") || len(got) > 150 {
		t.Errorf("cut: %q", got)
	}
	huge := capTranscript("S", []string{"x", strings.Repeat("y", 500) + "END"}, 100)
	if len(huge) != 100 || !strings.HasSuffix(huge, "END") {
		t.Errorf("huge latest entry: %d %q", len(huge), huge)
	}
	if got := capTranscript("S", nil, 100); got != "S" {
		t.Errorf("no entries: %q", got)
	}
}

func TestEndpointAnswers(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"message":"model not found","type":"invalid_request_error"}}`: "model not found",
		`{"error":"model 'x' not found"}`:                                        "model 'x' not found",
		`Bad Gateway`:                                                            "Bad Gateway",
	} {
		if got := endpointError([]byte(body)); got != want {
			t.Errorf("endpointError(%s) = %q", body, got)
		}
	}
	if got := cleanModelText("<think>\nhmm\n</think>\n\n Hello.\n"); got != "Hello." {
		t.Errorf("cleanModelText: %q", got)
	}
	if got := cleanModelText("Use <think> tags"); got != "Use <think> tags" {
		t.Errorf("cleanModelText of a text mentioning think: %q", got)
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

// fakeModel is an OpenAI-compatible chat-completions endpoint that records
// what it is sent and answers with answer (default: a fixed text).
type fakeModel struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []modelRequest
	answer func(r modelRequest) (status int, body string)
}

type modelRequest struct {
	Auth, Model, System, User string
}

func newFakeModel(t *testing.T) *fakeModel {
	fm := &fakeModel{}
	fm.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		mr := modelRequest{Auth: r.Header.Get("Authorization"), Model: req.Model}
		for _, m := range req.Messages {
			switch m.Role {
			case "system":
				mr.System = m.Content
			case "user":
				mr.User = m.Content
			}
		}
		fm.mu.Lock()
		fm.reqs = append(fm.reqs, mr)
		answer := fm.answer
		fm.mu.Unlock()
		status, body := http.StatusOK, "The customer's printer is on fire; a technician is coming."
		if answer != nil {
			status, body = answer(mr)
		}
		if status == 0 { // hang until the caller gives up
			<-r.Context().Done()
			return
		}
		if status != http.StatusOK {
			w.WriteHeader(status)
			w.Write([]byte(body))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": body}, "finish_reason": "stop"}}})
	}))
	t.Cleanup(fm.Close)
	return fm
}

func (fm *fakeModel) requests() []modelRequest {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	return append([]modelRequest(nil), fm.reqs...)
}

func (fm *fakeModel) setAnswer(f func(r modelRequest) (int, string)) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	fm.answer = f
}

// useModel configures the harness's inboxbot to use fm.
func (h *harness) useModel(fm *fakeModel) {
	h.cfg.AIURL, h.cfg.AIModel, h.cfg.AIKey = fm.URL+"/v1/chat/completions", "tiny-llama", "sk-test-key"
}

// aiMenu picks an option of the AI menu of conversation 1's card.
func (h *harness) aiMenu(user string, root slackfake.Message, value string) {
	h.t.Helper()
	h.ack(h.slack.BlockAction(user, inboxChannel, root.TS, "", "card_ai", value, ""))
}

// Without AI_URL and AI_MODEL there is no AI menu, and nothing is sent
// anywhere.
func TestAIAbsent(t *testing.T) {
	h := newHarness(t)
	fm := newFakeModel(t)
	h.start()
	root := h.conversation("No AI")
	h.flushed()
	h.waitCard(root.TS, `"reply_compose"`)
	if m, _ := h.slack.Message(inboxChannel, root.TS); strings.Contains(text(m), "card_ai") {
		t.Errorf("AI menu without AI configured: %s", m.Blocks)
	}
	h.aiMenu(alice, root, "summarize:1") // a card from when it was on
	h.waitEphemeral(alice, "Summaries and drafts are off")
	if n := len(fm.requests()); n != 0 {
		t.Errorf("%d requests to a model nobody configured", n)
	}
}

// Summarize shows a summary privately; Draft opens the composer with the
// model's draft, sent only on Send. What the model is sent is the thread's
// mail text: the mails and the agents' replies, not notes or workflow lines.
func TestAISummaryAndDraft(t *testing.T) { eachTransport(t, testAISummaryAndDraft) }

func testAISummaryAndDraft(t *testing.T, h *harness) {
	fm := newFakeModel(t)
	h.useModel(fm)
	h.start()
	h.deliver(customerMail{Subject: "Printer", MessageID: "printer@example.com", Body: "My printer is on fire."}.raw())
	root := h.waitRoots(1)[0]
	h.waitCard(root.TS, `"card_ai"`)
	h.reply(alice, root.TS, "We are sending a technician.")
	h.waitMails(1)
	h.reply(bob, root.TS, "note: the customer sounds grumpy")
	h.flushed()

	h.aiMenu(mallory, root, "summarize:1")
	h.waitEphemeral(mallory, "Only members")
	if n := len(fm.requests()); n != 0 {
		t.Fatalf("a non-member's click reached the model (%d requests)", n)
	}

	h.aiMenu(alice, root, "summarize:1")
	p := h.privateFor(alice, "Summary of #1")
	if !strings.Contains(text(p), "a technician is coming") || p.Channel != inboxChannel {
		t.Errorf("summary %+v", p)
	}
	reqs := fm.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Auth != "Bearer sk-test-key" || r.Model != "tiny-llama" || !strings.Contains(r.System, "summarize") {
		t.Errorf("request %+v", r)
	}
	for _, want := range []string{"Subject: Printer", "Carl Customer <carl@example.com>", "My printer is on fire.", "Reply by Alice Agent:\nWe are sending a technician."} {
		if !strings.Contains(r.User, want) {
			t.Errorf("the model was not sent %q:\n%s", want, r.User)
		}
	}
	for _, leak := range []string{"grumpy", "now owns", "UALICE"} {
		if strings.Contains(r.User, leak) {
			t.Errorf("the model was sent %q:\n%s", leak, r.User)
		}
	}

	const draft = "Hello Carl,\n\nthe technician comes tomorrow at [time].\n\nKind regards"
	fm.setAnswer(func(r modelRequest) (int, string) { return http.StatusOK, "<think>be nice</think>\n" + draft })
	h.aiMenu(alice, root, "draft:1")
	v := h.composer(alice, func(v slackfake.View) bool { return v.Updates > 0 })
	if _, got := editor(t, v); got != draft {
		t.Fatalf("draft in the editor: %q", got)
	}
	if !strings.Contains(string(v.Blocks), "Nothing is sent until you press Send") {
		t.Errorf("the draft is not marked as a draft: %s", v.Blocks)
	}
	if reqs := fm.requests(); len(reqs) != 2 || !strings.Contains(reqs[1].System, "Alice Agent") || !strings.Contains(reqs[1].User, "My printer is on fire.") {
		t.Errorf("draft request %+v", reqs)
	}
	if n := len(h.smtp.Messages()); n != 1 {
		t.Fatalf("%d mails before Send", n)
	}
	if a, _ := h.submit(alice, v, nil); a.ResponseAction != "" {
		t.Fatalf("submission %+v", a)
	}
	got := h.waitMails(2)
	if b := body(t, got[1]); b != draft {
		t.Errorf("mail %q", b)
	}
}

// Errors of the endpoint are told to the user, a draft that fails leaves
// the composer for them to write in, and a model that does not answer is
// given up on.
func TestAIErrors(t *testing.T) {
	h := newHarness(t)
	fm := newFakeModel(t)
	h.useModel(fm)
	h.slackTune.AI.Timeout = 300 * time.Millisecond
	h.start()
	root := h.conversation("Errors")
	h.flushed()

	fm.setAnswer(func(modelRequest) (int, string) {
		return http.StatusNotFound, `{"error":{"message":"model \"tiny-llama\" not found, try pulling it first"}}`
	})
	h.aiMenu(alice, root, "summarize:1")
	h.waitEphemeral(alice, `No summary of #1: the AI endpoint answered 404 Not Found: model "tiny-llama" not found`)

	fm.setAnswer(func(modelRequest) (int, string) { return 0, "" })
	h.aiMenu(alice, root, "summarize:1")
	h.waitEphemeral(alice, "the model did not answer within 300ms")

	fm.setAnswer(func(modelRequest) (int, string) { return http.StatusOK, "   " })
	h.aiMenu(alice, root, "draft:1")
	v := h.composer(alice, func(v slackfake.View) bool { return strings.Contains(string(v.Blocks), "No draft") })
	if _, got := editor(t, v); got != "" {
		t.Errorf("editor after a failed draft: %q", got)
	}
	if !strings.Contains(string(v.Blocks), "the model answered nothing") {
		t.Errorf("composer after a failed draft: %s", v.Blocks)
	}
	for _, e := range h.ephemeralsFor(alice) {
		if strings.Contains(e, "sk-test-key") {
			t.Errorf("the key was shown: %q", e)
		}
	}
	if strings.Contains(h.logs.String(), "sk-test-key") {
		t.Error("the key was logged")
	}
}

package store

import (
	"errors"
	"fmt"
	"testing"
)

func TestSavedReplies(t *testing.T) {
	s, _ := openTest(t)
	const other = "billing@acme.test"
	if err := s.AddSavedReply(testInbox, SavedReply{Name: "Refund", Text: "Hi {customer}, refunded.", By: "UA"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSavedReply(testInbox, SavedReply{Name: "hours", Text: "We work 9-5.", By: "UA"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSavedReply(other, SavedReply{Name: "refund", Text: "Billing's own.", By: "UB"}); err != nil {
		t.Fatalf("the same name in another inbox: %v", err)
	}
	if err := s.AddSavedReply(testInbox, SavedReply{Name: "REFUND", Text: "again"}); !errors.Is(err, ErrExists) {
		t.Errorf("a name taken in another case: %v", err)
	}
	list, err := s.SavedReplies(testInbox)
	if err != nil || len(list) != 2 || list[0].Name != "hours" || list[1].Name != "Refund" || list[1].Updated.IsZero() {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := s.EditSavedReply(testInbox, "refund", "Refunded, {customer}.", "UB"); err != nil {
		t.Fatal(err)
	}
	r, err := s.SavedReply(testInbox, "REFUND")
	if err != nil || r.Name != "Refund" || r.Text != "Refunded, {customer}." || r.By != "UB" {
		t.Errorf("after edit %+v %v", r, err)
	}
	if r, _ := s.SavedReply(other, "refund"); r == nil || r.Text != "Billing's own." {
		t.Errorf("the other inbox's reply changed: %+v", r)
	}
	if err := s.EditSavedReply(testInbox, "nope", "x", "UB"); !errors.Is(err, ErrNotFound) {
		t.Errorf("edit of a missing reply: %v", err)
	}
	if err := s.RemoveSavedReply(testInbox, "Hours"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveSavedReply(testInbox, "hours"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
	if _, err := s.SavedReply(testInbox, "hours"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removed reply still there: %v", err)
	}
	if list, _ := s.SavedReplies(testInbox); len(list) != 1 {
		t.Errorf("after remove: %+v", list)
	}
}

func TestSavedRepliesCapped(t *testing.T) {
	s, _ := openTest(t)
	for i := range MaxSavedReplies {
		if err := s.AddSavedReply(testInbox, SavedReply{Name: fmt.Sprintf("r%03d", i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddSavedReply(testInbox, SavedReply{Name: "one-more", Text: "x"}); !errors.Is(err, ErrTooMany) {
		t.Errorf("reply %d: %v", MaxSavedReplies+1, err)
	}
	if err := s.AddSavedReply("other@acme.test", SavedReply{Name: "one-more", Text: "x"}); err != nil {
		t.Errorf("another inbox is not full: %v", err)
	}
}

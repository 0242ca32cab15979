package store

import (
	"fmt"
	"testing"
)

func TestEarlierSnapshotAndHistory(t *testing.T) {
	s, _ := openTest(t)
	for _, in := range []string{testInbox, "b@x"} {
		s.SetWatermark(in, "INBOX", Watermark{UIDValidity: 7})
	}
	from := func(addr string, m *InboundMail) *InboundMail { m.From = Address{Addr: addr}; return m }
	// Carl writes seven times (under varying case), Dora once, and Carl
	// once to the other inbox.
	for uid := uint32(1); uid <= 7; uid++ {
		addr := "carl@example.com"
		if uid%2 == 0 {
			addr = "Carl@Example.COM"
		}
		r := record(t, s, uid, from(addr, mail(fmt.Sprintf("h%d@x", uid), fmt.Sprintf("Question %d", uid))))
		if uid == 3 {
			s.Act(r.Conv, ActClose, "UA", "", "")
		}
	}
	record(t, s, 8, from("dora@example.com", mail("hd@x", "Dora")))
	rb, _ := s.RecordInbound("b@x", "INBOX", 7, []Inbound{{UID: 1, Mail: from("carl@example.com", mail("hb@x", "Billing"))}})

	c1, _ := s.Conv(1)
	if c1.Earlier != nil {
		t.Errorf("the first conversation has earlier ones: %+v", c1.Earlier)
	}
	c7, _ := s.Conv(7)
	e := c7.Earlier
	if e == nil || e.Count != 6 || len(e.Recent) != maxEarlier || e.Recent[0].Num != 6 || e.Recent[maxEarlier-1].Num != 2 {
		t.Fatalf("snapshot of 7: %+v", e)
	}
	if e.Recent[3].Num != 3 || e.Recent[3].Status != StatusClosed || e.Recent[0].Status != StatusOpen {
		t.Errorf("statuses in the snapshot: %+v", e.Recent)
	}
	// Only the same inbox: the card is seen by that inbox's channel.
	cb, _ := s.Conv(rb[0].Conv)
	if cb.Earlier != nil {
		t.Errorf("a conversation of another inbox is in the snapshot: %+v", cb.Earlier)
	}
	if c8, _ := s.Conv(8); c8.Earlier != nil {
		t.Errorf("Dora's first conversation: %+v", c8.Earlier)
	}
	// A mail in an existing conversation does not touch it.
	record(t, s, 9, from("carl@example.com", mail("h9@x", "Re", "h7@x")))
	if again, _ := s.Conv(7); again.Earlier.Count != 6 {
		t.Errorf("snapshot changed: %+v", again.Earlier)
	}

	rows, total, err := s.History("CARL@example.com", []string{testInbox, "b@x"}, 3)
	if err != nil || total != 8 || len(rows) != 3 || rows[0].Num != rb[0].Conv || rows[1].Num != 7 || rows[2].Num != 6 {
		t.Fatalf("history: %d %+v %v", total, rows, err)
	}
	if _, total, _ := s.History("carl@example.com", []string{"b@x"}, 10); total != 1 {
		t.Errorf("history in b@x only: %d", total)
	}
	if rows, total, _ := s.History("nobody@example.com", []string{testInbox}, 10); total != 0 || rows != nil {
		t.Errorf("unknown customer: %d %+v", total, rows)
	}
	// A conversation an agent starts is the customer's too.
	cc, err := s.Compose(Compose{Inbox: testInbox, To: Address{Addr: "dora@Example.com"}, Subject: "Follow-up", By: "UA"})
	if err != nil || cc.Earlier == nil || cc.Earlier.Count != 1 || cc.Earlier.Recent[0].Num != 8 {
		t.Fatalf("compose snapshot: %+v %v", cc, err)
	}
	if _, total, _ := s.History("dora@example.com", []string{testInbox}, 10); total != 2 {
		t.Errorf("Dora's history: %d", total)
	}
	checkIndexes(t, s)
}

func TestEarlierCountCapped(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	var mails []Inbound
	for uid := uint32(1); uid <= maxEarlierCount+2; uid++ {
		mails = append(mails, Inbound{UID: uid, Mail: mail(fmt.Sprintf("cap%d@x", uid), "Robot")})
	}
	r, err := s.RecordInbound(testInbox, "INBOX", 7, mails)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.Conv(r[len(r)-1].Conv)
	if e := c.Earlier; e == nil || e.Count != maxEarlierCount || !e.More || e.Recent[0].Num != c.Num-1 {
		t.Errorf("snapshot after %d conversations: %+v", len(r)-1, e)
	}
	if c, _ := s.Conv(r[maxEarlierCount].Conv); c.Earlier.Count != maxEarlierCount || c.Earlier.More {
		t.Errorf("snapshot after exactly %d: %+v", maxEarlierCount, c.Earlier)
	}
}

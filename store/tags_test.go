package store

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkIndexes compares every index bucket with the keys the stored
// conversations give: an index out of step shows as a missing or a stray
// key.
func checkIndexes(t *testing.T, s *Store) {
	t.Helper()
	s.db.View(func(tx *bolt.Tx) error {
		want := map[string]map[string]bool{}
		for _, idx := range convIndexes {
			want[string(idx.bucket)] = map[string]bool{}
		}
		tx.Bucket(bConvs).ForEach(func(k, _ []byte) error {
			var c Conversation
			if err := getJSON(tx.Bucket(bConvs), k, &c); err != nil {
				t.Fatal(err)
			}
			for _, idx := range convIndexes {
				for _, key := range idx.keys(&c) {
					want[string(idx.bucket)][string(key)] = true
				}
			}
			return nil
		})
		for _, idx := range convIndexes {
			have := map[string]bool{}
			tx.Bucket(idx.bucket).ForEach(func(k, _ []byte) error { have[string(k)] = true; return nil })
			if !reflect.DeepEqual(have, want[string(idx.bucket)]) {
				t.Errorf("index %s out of step:\nhave %q\nwant %q", idx.bucket, keys(have), keys(want[string(idx.bucket)]))
			}
		}
		return nil
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestNormTag(t *testing.T) {
	for in, want := range map[string]string{"Billing": "billing", "#bug": "bug", " vip ": "vip", "a/b-c_d.e+f": "a/b-c_d.e+f", "Größe": "größe"} {
		if got, err := NormTag(in); err != nil || got != want {
			t.Errorf("NormTag(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "#", "two words", "<!channel>", "a*b", "x\x00y", strings.Repeat("x", 41)} {
		if got, err := NormTag(bad); !errors.Is(err, ErrBadTag) {
			t.Errorf("NormTag(%q) = %q, %v; want ErrBadTag", bad, got, err)
		}
	}
}

func TestTagsIndexedAndListed(t *testing.T) {
	s, _ := openTest(t)
	for _, in := range []string{testInbox, "b@x"} {
		s.SetWatermark(in, "INBOX", Watermark{UIDValidity: 7})
	}
	for uid := uint32(1); uid <= 4; uid++ {
		record(t, s, uid, mail(fmt.Sprintf("t%d@x", uid), "Tags"))
	}
	rb, _ := s.RecordInbound("b@x", "INBOX", 7, []Inbound{{UID: 1, Mail: mail("tb@x", "Other inbox")}})
	other := rb[0].Conv

	c, added, err := s.Tag(1, ActTag, []string{"Billing", "#bug", "billing"}, "UA", "")
	if err != nil || !reflect.DeepEqual(added, []string{"billing", "bug"}) || !reflect.DeepEqual(c.Tags, []string{"billing", "bug"}) {
		t.Fatalf("tag 1: %+v %v %v", c, added, err)
	}
	if _, _, err := s.Tag(1, ActTag, []string{"billing"}, "UA", ""); !errors.Is(err, ErrNoChange) {
		t.Errorf("tagging again: %v", err)
	}
	if _, _, err := s.Tag(1, ActTag, []string{"no good"}, "UA", ""); !errors.Is(err, ErrBadTag) {
		t.Errorf("bad tag: %v", err)
	}
	s.Tag(2, ActTag, []string{"billing"}, "UA", "")
	s.Tag(3, ActTag, []string{"billing"}, "UB", "Ev3")
	if _, _, err := s.Tag(3, ActUntag, []string{"billing"}, "UB", "Ev3"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("redelivered reaction: %v", err)
	}
	s.Tag(other, ActTag, []string{"billing"}, "UA", "")
	s.Act(2, ActClose, "UA", "", "")
	s.Act(3, ActClaim, "UB", "", "")
	checkIndexes(t, s)

	list := func(tag string, st ...Status) []uint64 {
		t.Helper()
		rows, total, err := s.List(ListQuery{Inboxes: []string{testInbox}, Statuses: st, Tag: tag, Limit: 10})
		if err != nil || total != len(rows) {
			t.Fatalf("list %s: %d rows of %d, %v", tag, len(rows), total, err)
		}
		var out []uint64
		for _, r := range rows {
			out = append(out, r.Num)
		}
		return out
	}
	if got := list("billing", StatusOpen); !reflect.DeepEqual(got, []uint64{1, 3}) {
		t.Errorf("open billing: %v", got)
	}
	if got := list("billing", StatusClosed); !reflect.DeepEqual(got, []uint64{2}) {
		t.Errorf("closed billing: %v", got)
	}
	if got := list("nothing", StatusOpen); got != nil {
		t.Errorf("untagged: %v", got)
	}
	ub := "UB"
	if rows, _, _ := s.List(ListQuery{Inboxes: []string{testInbox}, Statuses: []Status{StatusOpen}, Tag: "billing", Assignee: &ub, Limit: 10}); len(rows) != 1 || rows[0].Num != 3 {
		t.Errorf("Bob's billing: %+v", rows)
	}
	n, _ := s.TagCounts([]string{testInbox})
	if !reflect.DeepEqual(n, map[string]int{"billing": 3, "bug": 1}) {
		t.Errorf("tag counts %v", n)
	}

	c, removed, err := s.Tag(1, ActUntag, []string{"billing", "vip"}, "UA", "")
	if err != nil || !reflect.DeepEqual(removed, []string{"billing"}) || !reflect.DeepEqual(c.Tags, []string{"bug"}) {
		t.Fatalf("untag: %+v %v %v", c, removed, err)
	}
	if _, _, err := s.Tag(1, ActUntag, []string{"billing"}, "UA", ""); !errors.Is(err, ErrNoChange) {
		t.Errorf("untag again: %v", err)
	}
	if got := list("billing", StatusOpen); !reflect.DeepEqual(got, []uint64{3}) {
		t.Errorf("open billing after untag: %v", got)
	}
	checkIndexes(t, s)

	c, _ = s.Conv(1)
	last := c.History[len(c.History)-1]
	if last.Action != ActUntag || last.Target != "billing" || last.By != "UA" {
		t.Errorf("history %+v", last)
	}
	jobs, _ := s.SlackJobs()
	if j := jobs[len(jobs)-1]; j.Kind != JobActivity || j.Conv != 1 || j.Change.Action != ActUntag {
		t.Errorf("no thread line for the untag: %+v", j)
	}
	if v, _ := s.CardVersion(1); v == 0 {
		t.Error("card not marked")
	}
}

func TestTagsCapped(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("cap@x", "Cap"))
	var many []string
	for i := range maxTags + 1 {
		many = append(many, fmt.Sprintf("t%d", i))
	}
	if _, _, err := s.Tag(1, ActTag, many, "UA", ""); !errors.Is(err, ErrBadTag) {
		t.Errorf("%d tags: %v", len(many), err)
	}
	if c, _ := s.Conv(1); len(c.Tags) != 0 {
		t.Errorf("a refused change was kept: %v", c.Tags)
	}
	checkIndexes(t, s)
}

// A tag added is in the event log (stats by tag), once per tag.
func TestTagLogged(t *testing.T) {
	s, _ := openTest(t)
	s.SetWatermark(testInbox, "INBOX", Watermark{UIDValidity: 7})
	record(t, s, 1, mail("tl@x", "Tag log"))
	if _, _, err := s.Tag(1, ActTag, []string{"billing", "vip"}, "UA", ""); err != nil {
		t.Fatal(err)
	}
	s.Tag(1, ActUntag, []string{"vip"}, "UA", "")
	var tags []string
	s.Events(time.Time{}, time.Now().Add(time.Hour), func(e *Event) error {
		if e.Kind == EvTagged {
			tags = append(tags, e.Target+":"+e.By)
		}
		return nil
	})
	if !reflect.DeepEqual(tags, []string{"billing:UA", "vip:UA"}) {
		t.Errorf("tag events %v", tags)
	}
}

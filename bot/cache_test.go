package bot

import (
	"testing"
	"time"
)

func TestCacheTTL(t *testing.T) {
	c := newCache[int](time.Hour)
	c.put("a", 1)
	if v, ok := c.get("a"); !ok || v != 1 {
		t.Errorf("kept for an hour: %v %v", v, ok)
	}
	none := newCache[int](0) // MemberTTL < 0: ask every time
	none.put("a", 1)
	if _, ok := none.get("a"); ok {
		t.Error("a zero TTL kept an answer")
	}
}

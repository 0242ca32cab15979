package bot

import (
	"sync"
	"time"
)

// cache is a small map with expiry, for answers Slack gives slowly and
// that change rarely (user names, channel membership).
type cache[V any] struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cached[V]
}

type cached[V any] struct {
	v   V
	exp time.Time
}

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: map[string]cached[V]{}}
}

func (c *cache[V]) get(k string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !time.Now().Before(e.exp) { // a zero TTL keeps nothing
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *cache[V]) put(k string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = cached[V]{v: v, exp: time.Now().Add(c.ttl)}
}

// keyedMutex hands out one lock per conversation.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[uint64]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key uint64) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[uint64]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

package mailtest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// broadcast is a wake-up-all signal without lost wake-ups: take the channel
// with wait() before checking a condition, and notify() closes it.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// logBuffer collects the log lines of an in-process server; they are
// printed with t.Log when the test failed (logging straight to t after the
// test ended would panic, and server goroutines outlive their test).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, format, args...)
	if b := l.buf.Bytes(); len(b) > 0 && b[len(b)-1] != '\n' {
		l.buf.WriteByte('\n')
	}
}

func (l *logBuffer) Println(args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(&l.buf, args...)
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// logOnFailure registers a cleanup that prints the buffer if t failed.
// Register it before the cleanup that stops the server, so it runs after.
func (l *logBuffer) logOnFailure(t testing.TB, name string) {
	t.Cleanup(func() {
		if t.Failed() {
			if s := l.String(); s != "" {
				t.Logf("%s log:\n%s", name, s)
			} else {
				t.Logf("%s log: (empty)", name)
			}
		}
	})
}

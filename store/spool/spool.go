// Package spool keeps the bytes of files on their way between mail and
// Slack: attachments of inbound mail until they are uploaded to Slack, and
// files of agents' replies until they are sent. It is a directory beside the
// database (Dir), mode 0700, holding one file per name; the store's queued
// jobs say which names they need, and a sweep at start removes the rest.
//
// Names are chosen by the writer and deterministic (a mail's UID and part,
// an outbox job and file): writing a name again, after a crash, replaces
// the file instead of leaving a second one. A file appears under its name
// only once it is complete (written to a temporary file, synced, renamed).
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// tmpPrefix starts the names of files being written.
const tmpPrefix = ".tmp-"

// ErrFull is returned (wrapped, and matching syscall.ENOSPC) when a write
// would take the spool over its limit (Options.MaxBytes).
var ErrFull = fmt.Errorf("spool full: %w", syscall.ENOSPC)

// Dir is the spool directory of the database at dbPath.
func Dir(dbPath string) string { return dbPath + ".spool" }

// Options tune Open.
type Options struct {
	// MaxBytes bounds the bytes the spool holds (0: only the disk does).
	// A write that would go over it fails with ErrFull, like a full disk.
	MaxBytes int64
}

// Spool is a spool directory. Its methods are safe for concurrent use.
type Spool struct {
	dir string
	max int64

	mu   sync.Mutex
	used int64 // bytes held, counted when max > 0
}

// Open creates dir if needed (mode 0700; an existing one is tightened to
// it: it holds customer files) and returns its spool.
func Open(dir string, o Options) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, max: o.MaxBytes}
	if s.max > 0 {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
				s.used += info.Size()
			}
		}
	}
	return s, nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Path is where the file called name is (whether or not it exists).
func (s *Spool) Path(name string) string { return filepath.Join(s.dir, name) }

// valid reports whether name is a plain file name of the spool.
func valid(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `/\`+"\x00") &&
		!strings.HasPrefix(name, tmpPrefix)
}

// Writer is a file being written; it appears under its name at Commit.
type Writer struct {
	s    *Spool
	f    *os.File
	name string
	n    int64
	err  error
}

// Create starts writing the file called name. Either Commit or Abort must
// follow.
func (s *Spool) Create(name string) (*Writer, error) {
	if !valid(name) {
		return nil, fmt.Errorf("spool: bad name %q", name)
	}
	f, err := os.CreateTemp(s.dir, tmpPrefix+name+"-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &Writer{s: s, f: f, name: name}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if err := w.s.reserve(int64(len(p))); err != nil {
		w.err = err
		return 0, err
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	w.s.release(int64(len(p) - n))
	if err != nil {
		w.err = fmt.Errorf("spool: %w", err)
	}
	return n, w.err
}

// Written is the number of bytes written so far.
func (w *Writer) Written() int64 { return w.n }

// Commit makes the file appear under its name (replacing one there), for
// good, and returns its size.
func (w *Writer) Commit() (int64, error) {
	if w.err != nil {
		w.Abort()
		return 0, w.err
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	var old int64
	if info, serr := os.Stat(w.s.Path(w.name)); serr == nil {
		old = info.Size()
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.s.Path(w.name))
	}
	if err != nil {
		os.Remove(w.f.Name())
		w.s.release(w.n)
		return 0, fmt.Errorf("spool: %w", err)
	}
	w.s.release(old)
	// Should the directory not sync, the file is there but nothing
	// refers to it yet: the next sweep removes it.
	if err := w.s.syncDir(); err != nil {
		return 0, err
	}
	return w.n, nil
}

// Abort drops the file being written.
func (w *Writer) Abort() {
	w.f.Close()
	if os.Remove(w.f.Name()) == nil {
		w.s.release(w.n)
	}
}

// Write stores what r holds as the file called name and returns its size.
func (s *Spool) Write(name string, r io.Reader) (int64, error) {
	w, err := s.Create(name)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return 0, err
	}
	return w.Commit()
}

// Open opens the file called name for reading.
func (s *Spool) Open(name string) (*os.File, error) {
	if !valid(name) {
		return nil, fmt.Errorf("spool: bad name %q", name)
	}
	f, err := os.Open(s.Path(name))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// Rename gives the file called from the name to (replacing a file there).
func (s *Spool) Rename(from, to string) error {
	if !valid(from) || !valid(to) {
		return fmt.Errorf("spool: bad name %q or %q", from, to)
	}
	var old int64
	if info, err := os.Stat(s.Path(to)); err == nil {
		old = info.Size()
	}
	if err := os.Rename(s.Path(from), s.Path(to)); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.release(old)
	return s.syncDir()
}

// syncDir makes the renames in the spool durable: the store refers to a
// file once it is under its name, and a crash of the machine must not
// take the name away again.
func (s *Spool) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// Remove removes the file called name; one not there is fine.
func (s *Spool) Remove(name string) error {
	if !valid(name) {
		return fmt.Errorf("spool: bad name %q", name)
	}
	return s.remove(name)
}

func (s *Spool) remove(name string) error {
	p := s.Path(name)
	info, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		err = os.Remove(p)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.release(info.Size())
	return nil
}

// Sweep removes every file whose name keep does not hold, files left
// half-written by a crash included, and returns how many it removed. It is
// for start-up, before anything writes: a file being written meanwhile
// would be removed too.
func (s *Spool) Sweep(keep map[string]bool) (int, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	n := 0
	var errs []error
	for _, e := range entries {
		if keep[e.Name()] || e.IsDir() {
			continue
		}
		if err := s.remove(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Names lists the complete files of the spool.
func (s *Spool) Names() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && valid(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (s *Spool) reserve(n int64) error {
	if s.max <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used+n > s.max {
		return ErrFull
	}
	s.used += n
	return nil
}

func (s *Spool) release(n int64) {
	if s.max <= 0 || n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.used = max(s.used-n, 0)
}

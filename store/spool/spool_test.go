package spool

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func open(t *testing.T, o Options) *Spool {
	t.Helper()
	s, err := Open(Dir(filepath.Join(t.TempDir(), "inboxbot.db")), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func read(t *testing.T, s *Spool, name string) string {
	t.Helper()
	f, err := s.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenMakesPrivateDir(t *testing.T) {
	db := filepath.Join(t.TempDir(), "inboxbot.db")
	if err := os.Mkdir(Dir(db), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Dir(db), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != db+".spool" {
		t.Errorf("Dir = %q", s.Dir())
	}
	info, err := os.Stat(s.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", info.Mode().Perm())
	}
}

func TestWriteReplacesAndRemove(t *testing.T) {
	s := open(t, Options{})
	if n, err := s.Write("in-a-1-2-0", strings.NewReader("first")); err != nil || n != 5 {
		t.Fatalf("Write = %d, %v", n, err)
	}
	// A re-fetch after a crash writes the same name again: one file.
	if _, err := s.Write("in-a-1-2-0", strings.NewReader("again")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "in-a-1-2-0"); got != "again" {
		t.Errorf("content %q", got)
	}
	if names, _ := s.Names(); !slices.Equal(names, []string{"in-a-1-2-0"}) {
		t.Errorf("names %q", names)
	}
	if err := s.Rename("in-a-1-2-0", "in-a-1-3-0"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "in-a-1-3-0"); got != "again" {
		t.Errorf("renamed content %q", got)
	}
	if err := s.Remove("in-a-1-3-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("in-a-1-2-0"); err != nil {
		t.Errorf("removing a file not there: %v", err)
	}
	if err := s.Rename("in-a-1-2-0", "x"); err == nil {
		t.Error("renaming a file not there worked")
	}
	if _, err := s.Open("in-a-1-2-0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Remove: %v", err)
	}
}

func TestBadNames(t *testing.T) {
	s := open(t, Options{})
	for _, name := range []string{"", ".", "..", "../x", "a/b", `a\b`, ".tmp-x", "a\x00b"} {
		if _, err := s.Write(name, strings.NewReader("x")); err == nil {
			t.Errorf("Write(%q) worked", name)
		}
		if err := s.Remove(name); err == nil {
			t.Errorf("Remove(%q) worked", name)
		}
	}
}

// A file is there under its name only once complete: an aborted write (or
// one cut by a crash) leaves nothing under the name.
func TestAbortLeavesNothing(t *testing.T) {
	s := open(t, Options{})
	w, err := s.Create("x")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("half"))
	if _, err := os.Stat(s.Path("x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file being written is visible under its name: %v", err)
	}
	w.Abort()
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestSweep(t *testing.T) {
	s := open(t, Options{})
	for _, name := range []string{"keep", "drop1", "drop2"} {
		if _, err := s.Write(name, strings.NewReader(name)); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := s.Create("crashed") // a write a crash interrupted
	w.Write([]byte("partial"))
	n, err := s.Sweep(map[string]bool{"keep": true})
	if err != nil || n != 3 {
		t.Errorf("Sweep = %d, %v; want 3 removed", n, err)
	}
	entries, _ := os.ReadDir(s.Dir())
	if len(entries) != 1 || entries[0].Name() != "keep" {
		t.Errorf("after the sweep: %v", entries)
	}
}

func TestMaxBytesIsAFullDisk(t *testing.T) {
	s := open(t, Options{MaxBytes: 10})
	if _, err := s.Write("a", strings.NewReader("123456")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Write("b", strings.NewReader("123456"))
	if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("over the limit: %v, want ErrFull (ENOSPC)", err)
	}
	if _, err := os.Stat(s.Path("b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the failed file is there: %v", err)
	}
	// Replacing a file frees the old one's room once the new one is in.
	if _, err := s.Write("a", strings.NewReader("1234")); err != nil {
		t.Errorf("replacing a within the limit: %v", err)
	}
	if _, err := s.Write("b", strings.NewReader("123456")); err != nil {
		t.Errorf("after replacing a by a smaller file: %v", err)
	}
	s.Remove("a")
	s.Remove("b")
	if _, err := s.Write("b", strings.NewReader("1234567890")); err != nil {
		t.Errorf("after Remove: %v", err)
	}
	// What a new Spool finds on disk counts.
	s2, err := Open(s.Dir(), Options{MaxBytes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Write("c", strings.NewReader("1")); !errors.Is(err, ErrFull) {
		t.Errorf("the files on disk were not counted: %v", err)
	}
}

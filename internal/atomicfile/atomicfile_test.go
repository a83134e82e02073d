package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	if err := Write(path, func(w io.Writer) error { _, err := io.WriteString(w, "old"); return err }); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "f.txt") {
		t.Fatalf("failing writer: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("after a failed write the file holds %q, want the old content", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d directory entries: a temporary file was left behind", len(entries))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", st.Mode().Perm())
	}
}

// StaleTemps lists what Write's temporary naming produces for the matched
// targets, and nothing else.
func TestStaleTemps(t *testing.T) {
	dir := t.TempDir()
	// What Write creates before it renames (as os.CreateTemp names it).
	f, err := os.CreateTemp(dir, ".a.npz.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, n := range []string{".b.npz.tmp-12", "a.npz", ".a.npz.tmp-", ".a.npz.tmp-1x"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	got, err := StaleTemps(dir, func(name string) bool { return name == "a.npz" })
	if err != nil || len(got) != 1 || got[0] != f.Name() {
		t.Fatalf("stale temporaries %v (%v), want [%s]", got, err, f.Name())
	}
}

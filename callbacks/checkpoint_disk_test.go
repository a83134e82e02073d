package callbacks_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// dirNames returns the names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// Issue 16, item 9: KeepLast counts the checkpoints on disk, so that a
// resumed run (a new callback) prunes those of the run it continues.
func TestModelCheckpointKeepLastAcrossResume(t *testing.T) {
	m, d := toyModel(t)
	dir := filepath.Join(t.TempDir(), "ck")
	fit := func(initial, epochs int) {
		t.Helper()
		ck, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: dir, KeepLast: 2})
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.05})
		if _, err := m.Fit(d, graph.FitConfig{Epochs: epochs, InitialEpoch: initial, BatchSize: 8, Optimizer: opt,
			Callbacks: []graph.Callback{ck}}); err != nil {
			t.Fatal(err)
		}
	}
	fit(0, 3)
	if got := strings.Join(dirNames(t, dir), " "); got != "epoch-0002.npz epoch-0003.npz" {
		t.Fatalf("after the first run: %s", got)
	}
	fit(3, 5) // a resumed run
	if got := strings.Join(dirNames(t, dir), " "); got != "epoch-0004.npz epoch-0005.npz" {
		t.Fatalf("after the resumed run: %s", got)
	}
	// A run resumed from an older checkpoint never removes the one it has
	// just written for newer ones of another history.
	fit(1, 2)
	if got := strings.Join(dirNames(t, dir), " "); !strings.Contains(got, "epoch-0002.npz") {
		t.Fatalf("after a run resumed at epoch 1: %s", got)
	}
}

// Issue 16, item 8: the temporaries of checkpoint writes killed midway are
// removed when training starts; nothing else is.
func TestModelCheckpointRemovesStaleTemporaries(t *testing.T) {
	m, d := toyModel(t)
	dir := filepath.Join(t.TempDir(), "ck")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := []string{".epoch-0003.npz.tmp-1234567890", ".epoch-0012.npz.tmp-42", ".best.npz.tmp-7"}
	kept := []string{"notes.txt", ".epoch-0003.npz.tmp-x1", ".epoch-0003.npz.tmpl-1", "epoch-0003.npz.tmp-5", ".mine.npz.tmp-3", ".epoch-03.npz.tmp-9"}
	for _, n := range append(append([]string(nil), stale...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A directory named like a temporary is not a file to remove.
	if err := os.Mkdir(filepath.Join(dir, ".epoch-0009.npz.tmp-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	ck, err := callbacks.NewModelCheckpoint(callbacks.CheckpointConfig{Dir: dir, Every: 10})
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.05})
	if _, err := m.Fit(d, graph.FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt, Callbacks: []graph.Callback{ck}}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]string(nil), kept...), ".epoch-0009.npz.tmp-1")
	sort.Strings(want)
	if got := dirNames(t, dir); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("checkpoint dir holds %v, want %v", got, want)
	}
}

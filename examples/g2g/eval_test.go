package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// TestEvalOldCheckpoint evaluates the checkpoint the runner wrote at
// 078595c (see examples/internal/runner's goldenArgs): eval reads the
// settings it stores (-hidden 4,4 -groups 2 -grouping mixer ...) and
// rebuilds the model from them, with no model flags.
func TestEvalOldCheckpoint(t *testing.T) {
	data := fixtures.FashionMNIST(t, 16, 20)
	ck := filepath.Join("..", "internal", "runner", "testdata", "ck-078595c.npz")
	code, out, errs := g2g("eval", "-data", data, "-checkpoint", ck)
	if code != 0 || !strings.Contains(out, "on 20 fashion-mnist test samples") {
		t.Fatalf("status %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := g2g("eval", "-data", data, "-checkpoint", ck, "-model", "mlp"); code != 1 ||
		!strings.Contains(errs, `invalid value "mlp" for flag -model: unknown model "mlp" (want dense, g2g, dense-matched, er or erk)`) {
		t.Fatalf("-model mlp: status %d\n%s", code, errs)
	}
}

// TestEvalRefusesOtherFiles checks the errors for a file that is not a
// checkpoint and for a missing one.
func TestEvalRefusesOtherFiles(t *testing.T) {
	data := fixtures.FashionMNIST(t, 32, 10)
	dir := t.TempDir()
	ex := filepath.Join(dir, "m.npz")
	if code, _, errs := g2g("train", "-data", data, "-hidden", "8", "-groups", "4", "-epochs", "1", "-batch", "16", "-quiet", "-export", ex); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	code, _, errs := g2g("eval", "-data", data, "-checkpoint", ex)
	if code != 1 || !strings.Contains(errs, "-checkpoint: checkpoint "+ex+": no g2g_meta entry: not a g2g checkpoint (for an exported model use -exported)") {
		t.Fatalf("exported model as -checkpoint: status %d\n%s", code, errs)
	}
	code, _, errs = g2g("eval", "-data", data, "-checkpoint", filepath.Join(dir, "missing.npz"))
	if code != 1 || !strings.Contains(errs, "missing.npz") || strings.Contains(errs, "use -exported") {
		t.Fatalf("missing checkpoint: status %d\n%s", code, errs)
	}
}

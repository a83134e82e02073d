package report

import (
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/g2g-ml/g2g/internal/atomicfile"
	"github.com/g2g-ml/g2g/layers"
)

// TestDemoFigures writes sample tables and figures from synthetic runs and
// masks into $REPORT_DEMO_DIR, for looking at them; it is skipped when the
// variable is unset.
func TestDemoFigures(t *testing.T) {
	dir := os.Getenv("REPORT_DEMO_DIR")
	if dir == "" {
		t.Skip("set REPORT_DEMO_DIR to write the demo figures")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	runs := syntheticRuns(3, 20)
	rows := Aggregate(runs)
	for name, write := range map[string]func() error{
		"results.md": func() error {
			return atomicfile.Write(filepath.Join(dir, "results.md"), func(w io.Writer) error { return WriteMarkdown(w, rows) })
		},
		"results.csv": func() error {
			return atomicfile.Write(filepath.Join(dir, "results.csv"), func(w io.Writer) error { return WriteCSV(w, rows) })
		},
		"curves": func() error {
			return PlotLearningCurves(filepath.Join(dir, "curves_val_acc.png"), runs, "val_acc", "Fashion-MNIST MLP: test accuracy during training")
		},
		"loss": func() error {
			return PlotLearningCurves(filepath.Join(dir, "curves_loss.png"), runs, "loss", "Fashion-MNIST MLP: training loss")
		},
		"density": func() error {
			return PlotAccuracyVsDensity(filepath.Join(dir, "acc_vs_density.png"), rows, "Fashion-MNIST MLP: test accuracy vs density")
		},
	} {
		if err := write(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	before, after, _, _ := modMasks(t)
	if err := PlotMaskHeatmap(filepath.Join(dir, "mask_small.png"), before, after, "16×16 mask, 4 interleaved ensembles: 3 pruned, 2 regrown"); err != nil {
		t.Fatal(err)
	}
	b, a := demoLargeMasks(t, 784, 1024, 8, 0.25)
	if err := PlotMaskHeatmap(filepath.Join(dir, "mask_large.png"), b, a, "layer 0 (784 → 1024), random grouping, G = 8, density 0.25, after rewiring"); err != nil {
		t.Fatal(err)
	}
}

// demoLargeMasks returns a G2G mask with random grouping (intra edges kept
// with probability 0.7, inter edges sampled to the target density) and a
// rewired copy, like Hebbian rewiring might leave it: active edges pruned
// (15 % of the intra-ensemble ones, 45 % of the others) and as many grown,
// intra-ensemble ones preferred.
func demoLargeMasks(t *testing.T, in, out, groups int, density float64) (before, after *layers.Mask) {
	rng := rand.New(rand.NewSource(7))
	inG, err := layers.RandomGroups(in, groups, rng)
	if err != nil {
		t.Fatal(err)
	}
	outG, err := layers.RandomGroups(out, groups, rng)
	if err != nil {
		t.Fatal(err)
	}
	before, err = layers.NewMask(in, out, inG, outG)
	if err != nil {
		t.Fatal(err)
	}
	g := float64(groups)
	pInter := (density - 0.7/g) / (1 - 1/g)
	for k := 0; k < in*out; k++ {
		p := pInter
		if before.IsIntra(k) {
			p = 0.7
		}
		if rng.Float64() < p {
			before.Set(k)
		}
	}
	after = before.Clone()
	var drop []int
	for _, k := range before.ActiveIndices() {
		p := 0.15
		if !before.IsIntra(k) {
			p = 0.45
		}
		if rng.Float64() < p {
			drop = append(drop, k)
		}
	}
	for _, k := range drop {
		after.Clear(k)
	}
	inactive := before.InactiveIndices()
	for grown := 0; grown < len(drop); {
		k := inactive[rng.Intn(len(inactive))]
		if !before.IsIntra(k) && rng.Float64() < 0.9 {
			continue
		}
		if after.Set(k) {
			grown++
		}
	}
	return before, after
}

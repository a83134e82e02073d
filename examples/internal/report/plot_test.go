package report

import (
	"image"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/layers"
)

// syntheticRuns returns plausible runs of a small grid: dense and three
// sparse methods at three densities, seeds seeds each, epochs epochs.
func syntheticRuns(seeds, epochs int) []Run {
	type cell struct {
		method  string
		density float64
		final   float64
	}
	cells := []cell{{"dense", 1, 0.895}}
	for _, m := range []struct {
		name string
		off  float64
	}{{"g2g-index", 0.004}, {"g2g-random", 0}, {"g2g-index+dst", 0.008}} {
		for _, d := range []float64{0.5, 0.25, 0.1} {
			cells = append(cells, cell{m.name, d, 0.895 + m.off - 0.06*(0.5-d)*(0.5-d)*4})
		}
	}
	rng := rand.New(rand.NewSource(1))
	var runs []Run
	for _, c := range cells {
		for s := 0; s < seeds; s++ {
			acc := c.final + rng.NormFloat64()*0.002
			r := Run{Dataset: "fashion-mnist", Method: c.method, Density: c.density, Seed: int64(s), TestAcc: acc,
				Params: 2913290, ActiveParams: int(float64(2913290) * c.density), MACs: int(float64(2913280) * c.density),
				SecPerEpoch: 4 + 8*c.density}
			for e := 0; e < epochs; e++ {
				f := 1 - math.Exp(-float64(e+1)/3)
				r.History = append(r.History, map[string]float64{
					"loss": 1.6*(1-f) + 0.25 - 0.1*c.density + rng.NormFloat64()*0.01, "acc": 0.5 + (acc+0.03-0.5)*f,
					"val_loss": 1.5*(1-f) + 0.33, "val_acc": 0.5 + (acc-0.5)*f + rng.NormFloat64()*0.002,
				})
			}
			runs = append(runs, r)
		}
	}
	return runs
}

// checkPNG decodes path and checks its size and that it has at least
// minColors distinct colours; it returns the image.
func checkPNG(t *testing.T, path string, minW, minH, minColors int) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < minW || b.Dy() < minH {
		t.Errorf("%s: %d×%d, want at least %d×%d", path, b.Dx(), b.Dy(), minW, minH)
	}
	colors := map[[4]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			colors[[4]uint32{r, g, bl, a}] = true
		}
	}
	if len(colors) < minColors {
		t.Errorf("%s: %d distinct colours, want at least %d", path, len(colors), minColors)
	}
	return img
}

// checkNoTemp fails if dir holds anything but the given files.
func checkNoTemp(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s holds %v, want %v", dir, got, want)
	}
}

func TestPlotLearningCurves(t *testing.T) {
	dir := t.TempDir()
	runs := syntheticRuns(2, 8)
	p := filepath.Join(dir, "curves.png")
	if err := PlotLearningCurves(p, runs, "val_acc", "test accuracy"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 700, 400, 30)
	if err := PlotLearningCurves(filepath.Join(dir, "x.png"), nil, "val_acc", "x"); err == nil || !strings.Contains(err.Error(), "no runs") {
		t.Errorf("no runs: err = %v", err)
	}
	if err := PlotLearningCurves(filepath.Join(dir, "x.png"), runs, "nope", "x"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing metric: err = %v", err)
	}
	checkNoTemp(t, dir, "curves.png")
}

func TestLearningCurvesMean(t *testing.T) {
	runs := []Run{
		{Method: "dense", Density: 1, History: []map[string]float64{{"val_acc": 0.5}, {"val_acc": 0.7}}},
		{Method: "dense", Density: 1, History: []map[string]float64{{"val_acc": 0.6}, {"val_acc": math.NaN()}, {"val_acc": 0.9}}},
		{Method: "g2g-index", Density: 0.25},
	}
	cs := learningCurves(runs, "val_acc")
	if len(cs) != 1 || cs[0].seeds != 2 {
		t.Fatalf("curves %+v, want one of 2 seeds", cs)
	}
	want := [][2]float64{{1, 55}, {2, 70}, {3, 90}}
	if len(cs[0].xys) != len(want) {
		t.Fatalf("points %v, want %v", cs[0].xys, want)
	}
	for i, w := range want {
		if p := cs[0].xys[i]; p.X != w[0] || !near(p.Y, w[1]) {
			t.Errorf("point %d = %v, want %v", i, p, w)
		}
	}
}

func TestPlotAccuracyVsDensity(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "acc.png")
	if err := PlotAccuracyVsDensity(p, Aggregate(syntheticRuns(3, 1)), "accuracy vs density"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 700, 400, 30)
	if err := PlotAccuracyVsDensity(filepath.Join(dir, "x.png"), nil, "x"); err == nil || !strings.Contains(err.Error(), "no rows to plot") {
		t.Errorf("no rows: err = %v", err)
	}
	checkNoTemp(t, dir, "acc.png")
}

// modMasks returns a 16×16 mask with 4 interleaved ensembles (unit i in
// ensemble i mod 4) holding exactly its intra-ensemble edges, and a copy
// with 3 of them pruned and 2 inter-ensemble edges grown.
func modMasks(t *testing.T) (before, after *layers.Mask, pruned, grown [][2]int) {
	t.Helper()
	g := make([]int, 16)
	for i := range g {
		g[i] = i % 4
	}
	before, err := layers.NewMask(16, 16, g, append([]int(nil), g...))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 16; i++ {
		for j := 0; j < 16; j++ {
			if i%4 == j%4 {
				before.Set(before.Index(i, j))
			}
		}
	}
	after = before.Clone()
	pruned = [][2]int{{1, 5}, {2, 14}, {15, 3}}
	grown = [][2]int{{0, 1}, {7, 8}}
	for _, e := range pruned {
		if !after.Clear(after.Index(e[0], e[1])) {
			t.Fatalf("edge %v was not active", e)
		}
	}
	for _, e := range grown {
		if !after.Set(after.Index(e[0], e[1])) {
			t.Fatalf("edge %v was active", e)
		}
	}
	return before, after, pruned, grown
}

func TestMaskGridSortedByEnsemble(t *testing.T) {
	before, after, pruned, grown := modMasks(t)
	g, err := newMaskGrid(before, after, MaxHeatmapCells)
	if err != nil {
		t.Fatal(err)
	}
	if g.rows != 16 || g.cols != 16 || g.rowBlock != 1 || g.colBlock != 1 {
		t.Fatalf("grid %d×%d, blocks %d×%d, want 16×16 of 1×1", g.rows, g.cols, g.rowBlock, g.colBlock)
	}
	wantOrder := []int{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}
	for p, u := range wantOrder {
		if g.inOrder[p] != u || g.outOrder[p] != u {
			t.Fatalf("order %v / %v, want %v", g.inOrder, g.outOrder, wantOrder)
		}
	}
	if want := []int{0, 4, 8, 12, 16}; len(g.inBounds) != 5 || g.inBounds[1] != 4 || g.inBounds[4] != 16 {
		t.Errorf("bounds %v, want %v", g.inBounds, want)
	}
	pos := map[int]int{}
	for p, u := range wantOrder {
		pos[u] = p
	}
	// Before: exactly the diagonal 4×4 blocks are active.
	for r := 0; r < 16; r++ {
		for c := 0; c < 16; c++ {
			want := 0.0
			if r/4 == c/4 {
				want = 1
			}
			if got := g.before[r*16+c]; got != want {
				t.Fatalf("before cell (%d, %d) = %v, want %v", r, c, got, want)
			}
		}
	}
	// After: pruned edges sit on the diagonal blocks, grown ones off it.
	cellOf := func(e [2]int) int { return pos[e[0]]*16 + pos[e[1]] }
	for _, e := range pruned {
		k := cellOf(e)
		if g.pruned[k] != 1 || g.kept[k] != 0 || pos[e[0]]/4 != pos[e[1]]/4 {
			t.Errorf("pruned edge %v: cell %d pruned %v kept %v", e, k, g.pruned[k], g.kept[k])
		}
	}
	for _, e := range grown {
		k := cellOf(e)
		if g.regrown[k] != 1 || pos[e[0]]/4 == pos[e[1]]/4 {
			t.Errorf("grown edge %v: cell %d regrown %v", e, k, g.regrown[k])
		}
	}
	var sp, sg, sk float64
	for k := range g.kept {
		sp, sg, sk = sp+g.pruned[k], sg+g.regrown[k], sk+g.kept[k]
	}
	if g.nPruned != 3 || g.nRegrown != 2 || sp != 3 || sg != 2 || sk != 61 {
		t.Errorf("pruned %d (%v), regrown %d (%v), kept %v; want 3, 2, 61", g.nPruned, sp, g.nRegrown, sg, sk)
	}
	if g.nBefore != 64 || g.nAfter != 63 || g.intraBefore != 64 || g.intraAfter != 61 {
		t.Errorf("counts before %d after %d intra %d/%d, want 64, 63, 64/61", g.nBefore, g.nAfter, g.intraBefore, g.intraAfter)
	}
}

func TestMaskGridDownsample(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	in, out := 40, 24
	inG, _ := layers.IndexGroups(in, 4)
	outG, _ := layers.IndexGroups(out, 4)
	before, err := layers.NewMask(in, out, inG, outG)
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < in*out; k++ {
		if rng.Float64() < 0.3 {
			before.Set(k)
		}
	}
	after := before.Clone()
	for k := 0; k < in*out; k++ {
		if rng.Float64() < 0.1 {
			if !after.Clear(k) {
				after.Set(k)
			}
		}
	}
	g, err := newMaskGrid(before, after, 16)
	if err != nil {
		t.Fatal(err)
	}
	if g.rowBlock != 3 || g.colBlock != 2 || g.rows != 14 || g.cols != 12 {
		t.Fatalf("grid %d×%d of %d×%d blocks, want 14×12 of 3×2", g.rows, g.cols, g.rowBlock, g.colBlock)
	}
	var nb, na float64
	for r := 0; r < g.rows; r++ {
		h := float64(min(in, (r+1)*3) - r*3)
		for c := 0; c < g.cols; c++ {
			k := r*g.cols + c
			nb += g.before[k] * h * 2
			na += (g.kept[k] + g.regrown[k]) * h * 2
			if s := g.kept[k] + g.regrown[k] + g.pruned[k]; s > 1+1e-12 {
				t.Fatalf("cell %d fractions sum to %v", k, s)
			}
		}
	}
	if math.Abs(nb-float64(before.Active())) > 1e-9 || math.Abs(na-float64(after.Active())) > 1e-9 {
		t.Errorf("block sums %v / %v, want %d / %d", nb, na, before.Active(), after.Active())
	}
}

func TestPlotMaskHeatmap(t *testing.T) {
	dir := t.TempDir()
	before, after, _, _ := modMasks(t)
	p := filepath.Join(dir, "mask.png")
	if err := PlotMaskHeatmap(p, before, after, "layer 1 mask"); err != nil {
		t.Fatal(err)
	}
	img := checkPNG(t, p, 1000, 600, 20)
	// The regrown and pruned colours appear in the after panel (and the
	// caption's key), the active colour in both panels.
	count := map[[3]uint8]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			count[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}]++
		}
	}
	for name, c := range map[string][3]uint8{"regrown": {colRegrown.R, colRegrown.G, colRegrown.B}, "pruned": {colPruned.R, colPruned.G, colPruned.B}} {
		if count[c] < 500 {
			t.Errorf("%s colour: %d pixels, want at least 500", name, count[c])
		}
	}
	if err := PlotMaskHeatmap(filepath.Join(dir, "x.png"), nil, after, "x"); err == nil {
		t.Error("nil mask: no error")
	}
	other, _ := layers.NewMask(16, 8, nil, nil)
	if err := PlotMaskHeatmap(filepath.Join(dir, "x.png"), before, other, "x"); err == nil || !strings.Contains(err.Error(), "shapes differ") {
		t.Errorf("shape mismatch: err = %v", err)
	}
	checkNoTemp(t, dir, "mask.png")
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		min, max float64
		want     string
	}{
		{0, 0.6, "0.0 0.1 0.2 0.3 0.4 0.5 0.6"},
		{-0.001, 0.6, "0.0 0.1 0.2 0.3 0.4 0.5 0.6"},
		{59.3, 91.2, "60 65 70 75 80 85 90"},
		{0.13, 1.42, "0.2 0.4 0.6 0.8 1.0 1.2 1.4"},
		{85.2, 90.6, "86 87 88 89 90"},
	} {
		var labels []string
		for _, tk := range (niceTicks{}).Ticks(c.min, c.max) {
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("ticks(%v, %v) = %q, want %q", c.min, c.max, got, c.want)
		}
	}
}

func TestPlotOneEpochAndOneRow(t *testing.T) {
	dir := t.TempDir()
	runs := syntheticRuns(1, 1)
	if err := PlotLearningCurves(filepath.Join(dir, "c.png"), runs, "acc", "one epoch"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, "c.png"), 700, 400, 20)
	rows := Aggregate(runs[:1])
	if err := PlotAccuracyVsDensity(filepath.Join(dir, "d.png"), rows, "dense only"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, "d.png"), 700, 400, 10)
	rows[0].AccMean = math.NaN()
	if err := PlotAccuracyVsDensity(filepath.Join(dir, "e.png"), rows, "NaN"); err == nil {
		t.Error("NaN accuracy only: no error")
	}
}

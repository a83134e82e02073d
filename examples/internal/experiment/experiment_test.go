package experiment

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/examples/internal/runner"
)

// tinyArgs are the flags of a fast grid on data.
func tinyArgs(data string) []string {
	return strings.Fields("-data " + data + " -hidden 16,16 -groups 4 -epochs 2 -batch 32 -subset 80")
}

func TestParseGridRefusesBadGrids(t *testing.T) {
	for _, tc := range []struct {
		args, want string
	}{
		{"-methods g2g-foo", `unknown method "g2g-foo"`},
		{"-methods sparse", `unknown method "sparse"`},
		{"-methods g2g-index+rigl", `rewiring "+rigl" is not dst, hebbian, dst-hebbian or dst-<prune>-<regrow>`},
		{"-methods dense,,g2g-index", "entry 2 is empty"},
		{"-methods=", "methods: the list is empty"},
		{"-densities=", "densities: the list is empty"},
		{"-seeds=", "seeds: the list is empty"},
		{"-densities 0.25,1.5", "densities: 1.5 is out of range"},
		{"-densities 0,0.25", "densities: 0 is out of range"},
		{"-densities -0.5", "densities: -0.5 is out of range"},
		{"-densities 0.25,abc", `"abc" is not a number`},
		{"-seeds 1,x", `"x" is not an integer`},
		{"-methods dense,g2g-index,dense", `methods: "dense" is listed twice`},
		{"-densities 0.25,0.5,0.25", "densities: 0.25 is listed twice"},
		{"-seeds 1,2,1", "seeds: 1 is listed twice"},
		{"-methods g2g-index -densities 0.05", "method g2g-index at density 0.05 is impossible"},
		{"-methods blocks-index -densities 0.3", "method blocks-index at density 0.3 is impossible"},
		{"-epochs 0", "epochs 0: want at least 1"},
		{"-subset -1", "subset -1"},
		{"-dataset imagenet", `-dataset: dataset "imagenet"`},
		{"-sampling blocks", "-sampling blocks: name the ensemble-level methods blocks-<grouping>"},
		{"-regrow hebbian", "+dst-hebbian"},
		{"-time-budget -1m", "-time-budget -1m0s"},
		{"extra", `unexpected argument "extra"`},
	} {
		_, _, err := ParseGrid(strings.Fields("-hidden 16 -groups 8 "+tc.args), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestParseGridAcceptsAGoodGrid(t *testing.T) {
	g, cfg, err := ParseGrid(strings.Fields("-hidden 16 -groups 8 -methods dense,g2g-random+dst-hebbian,blocks-mixer "+
		"-densities 0.125,0.25,0.5 -seeds 3,4 -epochs 2 -subset 100 -lr 0.01 -out x -time-budget 1m"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Out != "x" || cfg.TimeBudget != time.Minute || g.Epochs != 2 || g.Subset != 100 || g.Base.LR != 0.01 {
		t.Fatalf("parsed %+v %+v", g, cfg)
	}
	cells := g.Cells()
	// Per seed: dense once, then 2 sparse methods × 3 densities.
	if len(cells) != 2*(1+2*3) || cells[0].Method.Name != "dense" || cells[0].Seed != 3 || cells[7].Seed != 4 {
		t.Fatalf("cells %v", cells)
	}
	o := g.Options(cells[1])
	if o.Model != "g2g" || o.Grouping != "random" || !o.DST || o.Regrow != "hebbian" || o.Density != 0.125 || o.Seed != 3 {
		t.Fatalf("options of %v: %+v", cells[1], o)
	}
	if o := g.Options(cells[6]); o.Sampling != "blocks" || o.Grouping != "mixer" || o.Density != 0.5 {
		t.Fatalf("options of %v: %+v", cells[6], o)
	}
	// A dense-only grid needs no densities.
	if _, _, err := ParseGrid(strings.Fields("-hidden 16 -methods dense -densities="), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestHelp(t *testing.T) {
	var b bytes.Buffer
	_, _, err := ParseGrid([]string{"-h"}, &b)
	if err == nil || !strings.Contains(b.String(), "-methods") || !strings.Contains(b.String(), "-time-budget") || strings.Contains(b.String(), "-resume") {
		t.Fatalf("help: %v\n%s", err, b.String())
	}
}

// TestRunIsResumable runs a tiny grid twice: the second run trains nothing
// and reproduces the same table; every output exists and every PNG
// decodes. It then extends the grid by a seed under a zero time budget.
func TestRunIsResumable(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	out := filepath.Join(t.TempDir(), "out")
	args := append(tinyArgs(data), "-methods", "dense,g2g-index,g2g-index+dst", "-densities", "0.25,0.5", "-seeds", "1,2", "-out", out)
	g, cfg, err := ParseGrid(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cfg.Log = &log
	sum, err := Run(g, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(sum.Ran) != 10 || len(sum.Done) != 0 {
		t.Fatalf("first run: %d ran, %d done", len(sum.Ran), len(sum.Done))
	}
	want := []string{"results.md", "results.csv", "comparisons.csv", "acc_vs_density.png", "acc_vs_params.png", "curves_val_acc.png", "curves_loss.png",
		"mask_g2g-index_d0.25.png", "mask_g2g-index+dst_d0.25.png", "experiment.json",
		"runs/fashion-mnist/dense/d1/seed1.json", "runs/fashion-mnist/g2g-index+dst/d0.5/seed2.json",
		"runs/fashion-mnist/g2g-index+dst/d0.5/seed2.masks.npz", "runs/fashion-mnist/g2g-index+dst/d0.5/seed2.log"}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(pngs) != 6 {
		t.Errorf("%d PNGs: %v", len(pngs), pngs)
	}
	for _, p := range pngs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
	md1, _ := os.ReadFile(filepath.Join(out, "results.md"))
	csv1, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	for _, s := range []string{"| fashion-mnist | dense | 1 | 2 |", "| fashion-mnist | g2g-index+dst | 0.25 | 2 |", "![test accuracy versus density](acc_vs_density.png)"} {
		if !strings.Contains(string(md1), s) {
			t.Errorf("results.md lacks %q:\n%s", s, md1)
		}
	}
	// The rewired mask changed during training; the static one did not.
	for _, tc := range []struct {
		cell    string
		changed bool
	}{{"g2g-index+dst/d0.25/seed1", true}, {"g2g-index/d0.25/seed1", false}} {
		before, after, err := readMasks(filepath.Join(out, "runs/fashion-mnist", tc.cell+".masks.npz"))
		if err != nil {
			t.Fatal(err)
		}
		if before.Active() != after.Active() || before.Groups != 4 {
			t.Errorf("%s: %d active before, %d after, %d groups", tc.cell, before.Active(), after.Active(), before.Groups)
		}
		if got := !bytes.Equal(f32bytes(before.Data()), f32bytes(after.Data())); got != tc.changed {
			t.Errorf("%s: mask changed = %v, want %v", tc.cell, got, tc.changed)
		}
	}

	log.Reset()
	sum, err = Run(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Ran) != 0 || len(sum.Done) != 10 || strings.Count(log.String(), "already done") != 10 {
		t.Fatalf("second run: %d ran, %d done\n%s", len(sum.Ran), len(sum.Done), log.String())
	}
	md2, _ := os.ReadFile(filepath.Join(out, "results.md"))
	csv2, _ := os.ReadFile(filepath.Join(out, "results.csv"))
	if !bytes.Equal(md1, md2) || !bytes.Equal(csv1, csv2) {
		t.Fatalf("the second run changed the table:\n%s\nvs\n%s", md1, md2)
	}

	// A tiny time budget: the finished cells are skipped, the
	// new seed's cells are not started, and the table says so.
	g.Seeds = append(g.Seeds, 3)
	cfg.TimeBudget = time.Nanosecond
	sum, err = Run(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Ran) != 0 || len(sum.Done) != 10 || len(sum.NotStarted) != 5 {
		t.Fatalf("budget run: %d ran, %d done, %d not started", len(sum.Ran), len(sum.Done), len(sum.NotStarted))
	}
	md3, _ := os.ReadFile(filepath.Join(out, "results.md"))
	if !strings.Contains(string(md3), "Not finished (5 of 15 cells of the last grid): dense d=1 seed 3;") {
		t.Fatalf("results.md does not list the cells not run:\n%s", md3)
	}

	// Other shared settings in the same directory are refused.
	g.Epochs = 3
	if _, err := Run(g, cfg); err == nil || !strings.Contains(err.Error(), "epochs 2 (in the directory) vs 3 (now)") {
		t.Fatalf("other epochs in the same directory: %v", err)
	}

	// Report alone (g2g plot) reproduces the table.
	if _, err := Report(out); err != nil {
		t.Fatal(err)
	}
	md4, _ := os.ReadFile(filepath.Join(out, "results.md"))
	if !bytes.Equal(md3, md4) {
		t.Fatal("Report changed results.md")
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		if x != 0 {
			b[i] = 1
		}
	}
	return b
}

func TestSubsetLoader(t *testing.T) {
	data := fixtures.FashionMNIST(t, 50, 20)
	o := runner.Defaults(runner.FashionMNIST())
	o.Data = data
	ds := loader(runner.FashionMNIST(), 30)
	for i := 0; i < 2; i++ {
		train, test, src, err := ds.Load(&o, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if train.Len() != 30 || test.Len() != 20 || !strings.Contains(src, "first 30 training samples") {
			t.Fatalf("load %d: %d train, %d test, %q", i, train.Len(), test.Len(), src)
		}
		train.X[0] = 99 // copies: the next load is unaffected
		if i == 1 && train.X[0] != 99 {
			t.Fatal("unreachable")
		}
	}
	train, _, _, _ := ds.Load(&o, &bytes.Buffer{})
	if train.X[0] == 99 {
		t.Fatal("the loader hands out shared data")
	}
	if _, _, _, err := loader(runner.FashionMNIST(), 51).Load(&o, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "only 50 samples") {
		t.Fatalf("subset larger than the set: %v", err)
	}
}

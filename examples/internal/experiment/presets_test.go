package experiment

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

func TestParseBaselineAndAblationMethods(t *testing.T) {
	for name, want := range map[string]Method{
		"dense-matched":                       {Model: g2gnet.DenseMatched},
		"er":                                  {Model: g2gnet.ER},
		"erk+hebbian":                         {Model: g2gnet.ERK, Hebbian: true},
		"er+dst-hebbian":                      {Model: g2gnet.ER, DST: true, HebbianRegrow: true},
		"er+dst-random-hebbian":               {Model: g2gnet.ER, DST: true, Prune: callbacks.CriterionRandom, Regrow: callbacks.CriterionHebbian},
		"g2g-mixer+dst-hebbian-random":        {Model: g2gnet.G2G, Grouping: layers.GroupMixer, DST: true, Prune: callbacks.CriterionHebbian, Regrow: callbacks.CriterionRandom},
		"blocks-index+dst-magnitude-gradient": {Model: g2gnet.G2G, Grouping: layers.GroupIndex, Sampling: layers.SampleBlocks, DST: true, Prune: callbacks.CriterionMagnitude, Regrow: callbacks.CriterionGradient},
	} {
		want.Name = name
		got, err := ParseMethod(name)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, want)
		}
	}
	for name, want := range map[string]string{
		"dense-matched+dst":            "dense-matched has no masks to rewire",
		"dense+hebbian":                "dense has no masks to rewire",
		"er+":                          "nothing after the +",
		"er+dst-gradient-random":       `DST prunes by magnitude, random or hebbian, not "gradient"`,
		"er+dst-random-magnitude":      `DST regrows by random, gradient or hebbian, not "magnitude"`,
		"er+dst-random":                `rewiring "+dst-random" is not dst, hebbian, dst-hebbian or dst-<prune>-<regrow>`,
		"er+dst-random-hebbian-random": `not "hebbian-random"`,
		"erdos":                        `unknown method "erdos"`,
	} {
		if _, err := ParseMethod(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

// TestBaselineCells checks the cells and options of the baselines:
// dense-matched and er have a cell per density (dense one per seed), are
// matched to the index-grouped G2G model, and the ablation methods take
// their own criteria.
func TestBaselineCells(t *testing.T) {
	g, _, err := ParseGrid(strings.Fields("-hidden 128,128 -groups 4 -prune random -methods "+
		"dense,dense-matched,er,g2g-index+dst-hebbian-hebbian,g2g-index+dst -densities 0.25,0.5 -seeds 1"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range g.Cells() {
		keys = append(keys, c.Key())
	}
	want := "dense/1/1 dense-matched/0.25/1 dense-matched/0.5/1 er/0.25/1 er/0.5/1 " +
		"g2g-index+dst-hebbian-hebbian/0.25/1 g2g-index+dst-hebbian-hebbian/0.5/1 g2g-index+dst/0.25/1 g2g-index+dst/0.5/1"
	if strings.Join(keys, " ") != want {
		t.Fatalf("cells %v", keys)
	}
	cells := g.Cells()
	if o := g.Options(cells[2]); o.Model != g2gnet.DenseMatched || o.Density != 0.5 || o.Grouping != layers.GroupIndex {
		t.Fatalf("dense-matched: %+v", o)
	}
	if o := g.Options(cells[3]); o.Model != g2gnet.ER || o.Density != 0.25 || o.Grouping != layers.GroupIndex || o.DST {
		t.Fatalf("er: %+v", o)
	}
	if o := g.Options(cells[5]); !o.DST || o.Prune != callbacks.CriterionHebbian || o.Regrow != callbacks.CriterionHebbian || o.Grouping != layers.GroupIndex {
		t.Fatalf("ablation: %+v", o)
	}
	if o := g.Options(cells[7]); o.Prune != callbacks.CriterionRandom || o.Regrow != callbacks.CriterionRandom {
		t.Fatalf("+dst keeps the base criteria: %+v", o)
	}
}

// TestPresets checks what the presets fix, that flags override them, and
// that bad presets are refused before anything runs.
func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		args    string
		dataset string
		epochs  int
		methods string
	}{
		{"-preset table1", "fashion-mnist", 20, Table1Methods},
		{"-preset table1 -dataset cifar10", "cifar10", 30, Table1Methods},
		{"-preset=table1 -dataset=cifar100", "cifar100", 30, Table1Methods},
		{"-preset ablation", "fashion-mnist", 20, AblationMethods},
	} {
		g, cfg, err := ParseGrid(strings.Fields(tc.args), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", tc.args, err)
		}
		if g.Dataset != tc.dataset || g.Epochs != tc.epochs || strings.Join(g.Methods, ",") != tc.methods ||
			!reflect.DeepEqual(g.Densities, []float64{0.25}) || !reflect.DeepEqual(g.Seeds, []int64{1, 2, 3}) ||
			g.Base.LR != 1e-3 || g.Base.WeightDecay != 1e-4 || g.Base.Decoupled || g.Base.Batch != 256 ||
			g.Base.Hidden != "1024,1024,1024" || cfg.Out != "paper-"+tc.dataset {
			t.Fatalf("%s: grid %+v, out %s", tc.args, g, cfg.Out)
		}
	}
	g, cfg, err := ParseGrid(strings.Fields("-preset table1 -epochs 1 -seeds 1,2 -hidden 128,128 -weight-decay 0 -methods dense,er -out x"), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Epochs != 1 || len(g.Seeds) != 2 || g.Base.WeightDecay != 0 || g.Base.Hidden != "128,128" || len(g.Methods) != 2 || cfg.Out != "x" {
		t.Fatalf("overrides: %+v %+v", g, cfg)
	}
	for _, tc := range []struct{ args, want string }{
		{"-preset table2", `-preset "table2": want one of table1, ablation`},
		{"-preset ablation -dataset cifar10", "-preset ablation is defined for fashion-mnist, not -dataset cifar10"},
		{"-preset table1 -dataset mnist", "-preset table1 is defined for cifar10, cifar100, fashion-mnist, not -dataset mnist"},
		// One hidden layer of 16: the G2G model has 784·16/4 + 16 + 170 =
		// 3,322 active parameters, a dense width w 795w + 10: 3,190 (4 %
		// off) or 3,985. No width matches within 1 %.
		{"-preset table1 -hidden 16", "method dense-matched at density 0.25 is impossible: model dense-matched: no uniform scaling"},
		// G = 2 needs density ≥ 1/2: the G2G model the baselines match is
		// impossible, and so are they.
		{"-preset table1 -groups 2", "method dense-matched at density 0.25 is impossible: model dense-matched: the G2G model it is matched to"},
		{"-preset table1 -decoupled -weight-decay 0", "-decoupled: give a -weight-decay"},
	} {
		if _, _, err := ParseGrid(strings.Fields(tc.args), &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.args, err, tc.want)
		}
	}
	var help bytes.Buffer
	if _, _, err := ParseGrid([]string{"-h"}, &help); err == nil || !strings.Contains(help.String(), "-preset") ||
		!strings.Contains(help.String(), "table1: the paper's Table I") || !strings.Contains(help.String(), "-weight-decay") {
		t.Fatalf("help: %v\n%s", err, help.String())
	}
}

// TestTable1PresetRuns runs the table1 preset shrunk to a tiny model and
// data (every method of Table I, two seeds, two epochs: one rewiring): the baselines train
// and rewire, and the report carries the paired statistics and the
// figure of accuracy against active parameters. A second run trains
// nothing.
func TestTable1PresetRuns(t *testing.T) {
	data := fixtures.FashionMNIST(t, 120, 40)
	out := filepath.Join(t.TempDir(), "out")
	args := strings.Fields("-preset table1 -data " + data + " -hidden 128,128 -groups 4 -epochs 2 -batch 32 -subset 80 -seeds 1,2 -out " + out)
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
	if len(sum.Ran) != 16 {
		t.Fatalf("%d cells ran, want 8 methods × 2 seeds", len(sum.Ran))
	}
	for _, f := range []string{"results.md", "results.csv", "comparisons.csv", "acc_vs_params.png", "acc_vs_density.png",
		"runs/fashion-mnist/er+dst-hebbian/d0.25/seed2.masks.npz", "runs/fashion-mnist/dense-matched/d0.25/seed1.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "results.md"))
	for _, s := range []string{
		"weight decay 0.0001 (coupled, biases exempt)", "## Paired differences",
		"| fashion-mnist | g2g-mixer+dst-hebbian | 0.25 | 2 | ", "| fashion-mnist | er | 0.25 | – | – | – | 2 | ",
		"![test accuracy versus active parameters](acc_vs_params.png)",
	} {
		if !strings.Contains(string(md), s) {
			t.Errorf("results.md lacks %q:\n%s", s, md)
		}
	}
	rs, err := LoadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]int{}
	for _, r := range rs {
		if r.Options.WeightDecay != 1e-4 || r.Epochs != 2 {
			t.Fatalf("%s: weight decay %v, %d epochs", r.Method, r.Options.WeightDecay, r.Epochs)
		}
		if r.Seed == 1 {
			active[r.Method] = r.Result.ActiveParams
		}
	}
	// er and erk have the G2G model's active parameters exactly,
	// dense-matched within 1 %.
	g2g := active["g2g-index"]
	if active["er"] != g2g || active["erk"] != g2g || active["g2g-mixer"] != g2g {
		t.Fatalf("active params %v", active)
	}
	if d := float64(active["dense-matched"]-g2g) / float64(g2g); d > 0.01 || d < -0.01 {
		t.Fatalf("dense-matched %d vs %d", active["dense-matched"], g2g)
	}
	// The rewired er mask changed; it kept its edge count.
	before, after, err := readMasks(filepath.Join(out, "runs/fashion-mnist/er+dst-hebbian/d0.25/seed1.masks.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if before.Active() != after.Active() || bytes.Equal(f32bytes(before.Data()), f32bytes(after.Data())) {
		t.Fatalf("er+dst-hebbian: %d → %d edges, changed %v", before.Active(), after.Active(), !bytes.Equal(f32bytes(before.Data()), f32bytes(after.Data())))
	}
	log.Reset()
	if sum, err = Run(g, cfg); err != nil || len(sum.Ran) != 0 || len(sum.Done) != 16 {
		t.Fatalf("second run: %v, %d ran", err, len(sum.Ran))
	}
	// Results copied without their masks (as the README's are committed)
	// still make the tables; only the mask figures go.
	masks, _ := filepath.Glob(filepath.Join(out, "runs", "*", "*", "d*", "*.masks.npz"))
	for _, m := range masks {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	if len(masks) == 0 {
		t.Fatal("no mask files to remove")
	}
	if _, err := Report(out); err != nil {
		t.Fatalf("report without masks: %v", err)
	}
	md, _ = os.ReadFile(filepath.Join(out, "results.md"))
	if !strings.Contains(string(md), "| fashion-mnist | g2g-mixer+dst-hebbian | 0.25 | 2 | ") || strings.Contains(string(md), "mask before and after") {
		t.Errorf("results.md without masks:\n%s", md)
	}
}

// TestTable1PresetCIFAR100 runs the table1 preset's baselines on a tiny
// CIFAR-100 set in the official binary layout, through the same path as
// the real data: patch encoder, augmentation, matched baselines. Hidden
// layers of 128 after the 512 encoder features: the G2G model has
// 512·128/4 + 128²/4 + 256 + 12,900 + 6,176 = 39,812 active parameters;
// dense-matched width 50 has 39,476 (0.84 % off).
func TestTable1PresetCIFAR100(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cifar-100-binary")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	records := func(n, off int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			rec := make([]byte, 3074)
			rec[0], rec[1] = byte((i+off)%20), byte((i+off)%100)
			for k := 2; k < len(rec); k++ {
				rec[k] = byte(7*(i+off) + k)
			}
			b = append(b, rec...)
		}
		return b
	}
	for name, data := range map[string][]byte{"train.bin": records(48, 0), "test.bin": records(16, 5)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	g, cfg, err := ParseGrid(strings.Fields("-preset table1 -dataset cifar100 -data "+dir+
		" -hidden 128,128 -groups 4 -epochs 1 -batch 16 -seeds 1 -methods dense,dense-matched,er,erk,g2g-mixer -out "+out), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !g.Base.Augment || g.Base.Labels != "fine" || g.Base.WeightDecay != 1e-4 {
		t.Fatalf("base %+v", g.Base)
	}
	if _, err := Run(g, cfg); err != nil {
		t.Fatal(err)
	}
	rs, err := LoadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]int{}
	for _, r := range rs {
		active[r.Method] = r.Result.ActiveParams
	}
	if len(rs) != 5 || active["g2g-mixer"] != 39812 || active["er"] != 39812 || active["erk"] != 39812 || active["dense-matched"] != 39476 {
		t.Fatalf("%d cells, active params %v", len(rs), active)
	}
}

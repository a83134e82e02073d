package report

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestTQuantileKnownValues checks Student's t quantiles against closed
// forms: df = 1 (Cauchy) tan(π(p − ½)); df = 2 (2p − 1)/√(2p(1 − p));
// df = 4 2·√(q − 1) with α = 4p(1 − p), q = cos(arccos(√α)/3)/√α; the
// symmetry t(1 − p) = −t(p); and the normal limit 1.959964 for large df.
// The 0.975 quantiles are the familiar 12.706, 4.303 and 2.776.
func TestTQuantileKnownValues(t *testing.T) {
	for _, p := range []float64{0.9, 0.975, 0.995} {
		alpha := 4 * p * (1 - p)
		q := math.Cos(math.Acos(math.Sqrt(alpha))/3) / math.Sqrt(alpha)
		for df, want := range map[int]float64{
			1: math.Tan(math.Pi * (p - 0.5)),
			2: (2*p - 1) / math.Sqrt(2*p*(1-p)),
			4: 2 * math.Sqrt(q-1),
		} {
			got := TQuantile(p, df)
			if math.Abs(got-want) > 1e-9*math.Max(1, want) {
				t.Errorf("t(%v, df %d) = %.12f, want %.12f", p, df, got, want)
			}
			if neg := TQuantile(1-p, df); math.Abs(neg+got) > 1e-9*math.Max(1, got) {
				t.Errorf("t(%v, df %d) = %v, want %v", 1-p, df, neg, -got)
			}
		}
	}
	for df, want := range map[int]float64{1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 10: 2.2281, 30: 2.0423, 1000000: 1.9600} {
		if got := TQuantile(0.975, df); math.Abs(got-want) > 5e-5 {
			t.Errorf("t(0.975, df %d) = %v, want %v (printed tables)", df, got, want)
		}
	}
}

// TestPairedCIByHand works two paired intervals out by hand.
func TestPairedCIByHand(t *testing.T) {
	// Differences 0.01, 0.02, 0.00: mean 0.01, sd √((0 + 0.01² + 0.01²)/2)
	// = 0.01, half-width t(0.975, 2)·0.01/√3 = 4.302653·0.005774 = 0.024841:
	// [−0.014841, 0.034841], which contains 0.
	mean, sd, lo, hi, err := PairedCI([]float64{0.90, 0.92, 0.91}, []float64{0.89, 0.90, 0.91}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]float64{{mean, 0.01}, {sd, 0.01}, {lo, 0.01 - 0.0248413771175}, {hi, 0.01 + 0.0248413771175}} {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Fatalf("mean %v sd %v ci [%v, %v]", mean, sd, lo, hi)
		}
	}
	if (Paired{Low: lo, High: hi}).Significant() {
		t.Fatal("an interval containing 0 is significant")
	}
	// Differences 0.02, 0.03, 0.025, 0.025: mean 0.025, sd
	// √(2·0.005²/3) = 0.0040825, half-width t(0.975, 3)·sd/2 =
	// 3.182446·0.0020412 = 0.0064962: [0.018504, 0.031496], above 0.
	_, sd, lo, hi, err = PairedCI([]float64{0.92, 0.93, 0.925, 0.925}, []float64{0.9, 0.9, 0.9, 0.9}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	half := 3.182446305284263 * math.Sqrt(2*0.005*0.005/3) / 2
	if math.Abs(sd-math.Sqrt(2*0.005*0.005/3)) > 1e-12 || math.Abs(lo-(0.025-half)) > 1e-9 || math.Abs(hi-(0.025+half)) > 1e-9 {
		t.Fatalf("sd %v ci [%v, %v], want [%v, %v]", sd, lo, hi, 0.025-half, 0.025+half)
	}
	if !(Paired{Low: lo, High: hi}).Significant() || !(Paired{Low: -0.3, High: -0.1}).Significant() {
		t.Fatal("intervals excluding 0 are not significant")
	}
	for _, tc := range []struct {
		a, b  []float64
		level float64
		want  string
	}{
		{[]float64{1}, []float64{1}, 0.95, "1 pairs, want 2 at least"},
		{[]float64{1, 2}, []float64{1}, 0.95, "2 values against 1"},
		{[]float64{1, 2}, []float64{1, 2}, 1, "level 1"},
	} {
		if _, _, _, _, err := PairedCI(tc.a, tc.b, tc.level); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// TestCompare pairs by seed: g2g at 0.25 against er at 0.25 (seeds 1–3)
// and against dense (density 1); g2g at 0.5 has no er row, so it is
// compared with dense only; erk has a single seed shared with er, which
// gives a difference without an interval.
func TestCompare(t *testing.T) {
	run := func(method string, d float64, seed int64, acc float64) Run {
		return Run{Dataset: "fashion-mnist", Method: method, Density: d, Seed: seed, TestAcc: acc}
	}
	runs := []Run{
		run("dense", 1, 1, 0.88), run("dense", 1, 2, 0.89), run("dense", 1, 3, 0.87),
		run("er", 0.25, 1, 0.89), run("er", 0.25, 2, 0.90), run("er", 0.25, 3, 0.88),
		run("g2g-index", 0.25, 1, 0.90), run("g2g-index", 0.25, 2, 0.92), run("g2g-index", 0.25, 3, 0.88),
		run("g2g-index", 0.5, 1, 0.91), run("g2g-index", 0.5, 2, 0.90),
		run("erk", 0.25, 3, 0.885), run("erk", 0.25, 7, 0.5),
	}
	vsER, vsDense := Compare(runs, ERMethod), Compare(runs, DenseMethod)
	if len(vsER) != 2 || vsER[0].Method != "erk" || vsER[1].Method != "g2g-index" || vsER[1].Density != 0.25 {
		t.Fatalf("vs er: %+v", vsER)
	}
	// erk − er at seed 3: 0.005, one pair.
	if e := vsER[0]; e.Seeds != 1 || math.Abs(e.Mean-0.005) > 1e-12 || !math.IsNaN(e.Low) || e.Significant() {
		t.Fatalf("erk vs er: %+v", e)
	}
	// g2g-index − er: 0.01, 0.02, 0.00 (TestPairedCIByHand's first case).
	if g := vsER[1]; g.Seeds != 3 || math.Abs(g.Mean-0.01) > 1e-12 || math.Abs(g.High-0.0348413771175) > 1e-9 || g.Significant() {
		t.Fatalf("g2g vs er: %+v", g)
	}
	// vs dense: er, erk, g2g at 0.5 and at 0.25 (densities descending).
	var names []string
	for _, p := range vsDense {
		names = append(names, p.Method+"@"+formatDensity(p.Density))
	}
	if strings.Join(names, " ") != "er@0.25 erk@0.25 g2g-index@0.5 g2g-index@0.25" {
		t.Fatalf("vs dense: %v", names)
	}
	// g2g at 0.5 − dense: 0.03, 0.01; mean 0.02, sd 0.014142, half-width
	// 12.706205·0.014142/√2 = 0.127062.
	if p := vsDense[2]; math.Abs(p.Mean-0.02) > 1e-12 || math.Abs(p.High-(0.02+0.12706204736174)) > 1e-9 {
		t.Fatalf("g2g@0.5 vs dense: %+v", p)
	}

	var b bytes.Buffer
	if err := WritePairedMarkdown(&b, vsER, vsDense); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, s := range []string{
		"| fashion-mnist | g2g-index | 0.25 | 3 | +1.00 [-1.48, +3.48] | no | 3 | +2.00 [",
		"| fashion-mnist | g2g-index | 0.5 | – | – | – | 2 | +2.00 [-10.71, +14.71] | no |",
		"| fashion-mnist | erk | 0.25 | 1 | +0.50 [n/a] | n/a | 1 | ",
		"| fashion-mnist | er | 0.25 | – | – | – | 3 | +1.00 [",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("markdown lacks %q:\n%s", s, md)
		}
	}
	b.Reset()
	if err := WritePairedCSV(&b, append(vsER, vsDense...)); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "dataset,method,density,reference,seeds,diff_mean,diff_std,ci_low,ci_high,significant\n") ||
		!strings.Contains(b.String(), "fashion-mnist,erk,0.25,er,1,0.005") || !strings.Contains(b.String(), ",NaN,NaN,false\n") {
		t.Fatalf("csv:\n%s", b.String())
	}
	if err := WritePairedMarkdown(&b, nil, nil); err == nil {
		t.Fatal("no comparisons: no error")
	}
	if err := WritePairedCSV(&b, nil); err == nil {
		t.Fatal("no comparisons: no error")
	}
}

func TestPlotAccuracyVsParams(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "params.png")
	rows := Aggregate(syntheticRuns(3, 1))
	if err := PlotAccuracyVsParams(p, rows, "accuracy vs active parameters"); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 700, 400, 20)
	series := paramsSeries(rows)
	if len(series) != 4 || series[0][0].Method != "dense" || len(series[0]) != 1 || len(series[1]) != 3 ||
		series[1][0].ActiveParams > series[1][2].ActiveParams {
		t.Fatalf("series %+v", series)
	}
	if err := PlotAccuracyVsParams(filepath.Join(dir, "x.png"), nil, "x"); err == nil {
		t.Fatal("no rows: no error")
	}
	checkNoTemp(t, dir, "params.png")
}

package report

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAggregate(t *testing.T) {
	runs := []Run{
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.25, Seed: 1, TestAcc: 0.905, Params: 100, ActiveParams: 30, MACs: 29, SecPerEpoch: 2},
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 1, TestAcc: 0.89, Params: 100, ActiveParams: 100, MACs: 99, SecPerEpoch: 3},
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 2, TestAcc: 0.90, Params: 100, ActiveParams: 100, MACs: 99, SecPerEpoch: 4},
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.5, Seed: 1, TestAcc: 0.92, Params: 100, ActiveParams: 55, MACs: 54, SecPerEpoch: 2.5},
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 3, TestAcc: 0.91, Params: 100, ActiveParams: 100, MACs: 99, SecPerEpoch: 5},
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.25, Seed: 2, TestAcc: 0.915, Params: 100, ActiveParams: 30, MACs: 29, SecPerEpoch: 4},
		{Dataset: "fashion-mnist", Method: "g2g-dst", Density: 0.25, Seed: 1, TestAcc: 0.88, Params: 100, ActiveParams: 30, MACs: 29, SecPerEpoch: 2},
		{Dataset: "cifar10", Method: "g2g-random", Density: 0.25, Seed: 1, TestAcc: 0.5},
	}
	rows := Aggregate(runs)
	want := []struct {
		dataset, method string
		density         float64
		seeds           int
		mean, std, gain float64
		sec             float64
	}{
		{"cifar10", "g2g-random", 0.25, 1, 0.5, 0, math.NaN(), 0},
		{"fashion-mnist", "dense", 1, 3, 0.90, 0.01, 0, 4},
		{"fashion-mnist", "g2g-dst", 0.25, 1, 0.88, 0, -2, 2},
		{"fashion-mnist", "g2g-index", 0.5, 1, 0.92, 0, 2, 2.5},
		{"fashion-mnist", "g2g-index", 0.25, 2, 0.91, math.Sqrt(2) * 0.005, 1, 3},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.Dataset != w.dataset || r.Method != w.method || r.Density != w.density || r.Seeds != w.seeds {
			t.Errorf("row %d: %s/%s/%g/%d, want %s/%s/%g/%d", i, r.Dataset, r.Method, r.Density, r.Seeds, w.dataset, w.method, w.density, w.seeds)
		}
		if !near(r.AccMean, w.mean) || !near(r.AccStd, w.std) || !near(r.SecPerEpoch, w.sec) {
			t.Errorf("row %d: acc %v ± %v, %v s, want %v ± %v, %v s", i, r.AccMean, r.AccStd, r.SecPerEpoch, w.mean, w.std, w.sec)
		}
		if math.IsNaN(w.gain) != math.IsNaN(r.GainOverDense) || (!math.IsNaN(w.gain) && !near(r.GainOverDense, w.gain)) {
			t.Errorf("row %d: gain %v, want %v", i, r.GainOverDense, w.gain)
		}
	}
	if r := rows[4]; r.Params != 100 || r.ActiveParams != 30 || r.MACs != 29 {
		t.Errorf("counts %d/%d/%d, want 100/30/29", r.Params, r.ActiveParams, r.MACs)
	}
	if Aggregate(nil) != nil {
		t.Error("Aggregate(nil) is not nil")
	}
}

func tableRows() []Row {
	return []Row{
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seeds: 3, AccMean: 0.8967, AccStd: 0.0012,
			Params: 2913290, ActiveParams: 2913290, MACs: 2913280, SecPerEpoch: 12.5, GainOverDense: 0},
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.25, Seeds: 3, AccMean: 0.9047, AccStd: 0.0008,
			Params: 2913290, ActiveParams: 730000, MACs: 729990, SecPerEpoch: 9.25, GainOverDense: 0.8},
		{Dataset: "fashion-mnist", Method: "g2g|x", Density: 0.125, Seeds: 1, AccMean: 0.88, AccStd: 0,
			Params: 999, ActiveParams: 99, MACs: 9, SecPerEpoch: 0.5, GainOverDense: -1.234},
		{Dataset: "mnist", Method: "g2g-mixer", Density: 0.1, Seeds: 2, AccMean: 0.5, AccStd: 0.25,
			Params: 1000, ActiveParams: 100, MACs: 100, SecPerEpoch: 1, GainOverDense: math.NaN()},
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, tableRows()); err != nil {
		t.Fatal(err)
	}
	want := `| Dataset | Method | Density | Seeds | Test accuracy | Params | Active params | MACs / sample | s / epoch | Gain over dense (points) |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
| fashion-mnist | dense | 1 | 3 | 89.67 ± 0.12 % | 2,913,290 | 2,913,290 | 2,913,280 | 12.50 | +0.00 |
| fashion-mnist | g2g-index | 0.25 | 3 | 90.47 ± 0.08 % | 2,913,290 | 730,000 | 729,990 | 9.25 | +0.80 |
| fashion-mnist | g2g\|x | 0.125 | 1 | 88.00 ± 0.00 % | 999 | 99 | 9 | 0.50 | -1.23 |
| mnist | g2g-mixer | 0.1 | 2 | 50.00 ± 25.00 % | 1,000 | 100 | 100 | 1.00 | n/a |
`
	if b.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := WriteMarkdown(&b, nil); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: err = %v", err)
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, tableRows()); err != nil {
		t.Fatal(err)
	}
	want := `dataset,method,density,seeds,acc_mean,acc_std,params,active_params,macs,sec_per_epoch,gain_over_dense_points
fashion-mnist,dense,1,3,0.8967,0.0012,2913290,2913290,2913280,12.5,0
fashion-mnist,g2g-index,0.25,3,0.9047,0.0008,2913290,730000,729990,9.25,0.8
fashion-mnist,g2g|x,0.125,1,0.88,0,999,99,9,0.5,-1.234
mnist,g2g-mixer,0.1,2,0.5,0.25,1000,100,100,1,NaN
`
	if b.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b.String(), want)
	}
	if err := WriteCSV(&b, nil); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: err = %v", err)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for g, want := range map[float64]string{0.8: "+0.80", -0.001: "+0.00", -0.02: "-0.02", 12.345678: "+12.35"} {
		if got := formatGain(g); got != want {
			t.Errorf("formatGain(%v) = %q, want %q", g, got, want)
		}
	}
}

package report_test

import (
	"fmt"
	"os"

	"github.com/g2g-ml/g2g/examples/internal/report"
)

func ExampleAggregate() {
	runs := []report.Run{
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 1, TestAcc: 0.89, Params: 2913290, ActiveParams: 2913290, MACs: 2913280, SecPerEpoch: 12},
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 2, TestAcc: 0.90, Params: 2913290, ActiveParams: 2913290, MACs: 2913280, SecPerEpoch: 12},
		{Dataset: "fashion-mnist", Method: "dense", Density: 1, Seed: 3, TestAcc: 0.91, Params: 2913290, ActiveParams: 2913290, MACs: 2913280, SecPerEpoch: 12},
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.25, Seed: 1, TestAcc: 0.905, Params: 2913290, ActiveParams: 736266, MACs: 736256, SecPerEpoch: 7},
		{Dataset: "fashion-mnist", Method: "g2g-index", Density: 0.25, Seed: 2, TestAcc: 0.911, Params: 2913290, ActiveParams: 736266, MACs: 736256, SecPerEpoch: 7},
	}
	rows := report.Aggregate(runs)
	for _, r := range rows {
		fmt.Printf("%s %s: %.2f ± %.2f %%, gain %+.2f points\n", r.Method, fmt.Sprint(r.Density), r.AccMean*100, r.AccStd*100, r.GainOverDense)
	}
	if err := report.WriteMarkdown(os.Stdout, rows); err != nil {
		fmt.Println(err)
	}
	// Output:
	// dense 1: 90.00 ± 1.00 %, gain +0.00 points
	// g2g-index 0.25: 90.80 ± 0.42 %, gain +0.80 points
	// | Dataset | Method | Density | Seeds | Test accuracy | Params | Active params | MACs / sample | s / epoch | Gain over dense (points) |
	// |---|---|---:|---:|---:|---:|---:|---:|---:|---:|
	// | fashion-mnist | dense | 1 | 3 | 90.00 ± 1.00 % | 2,913,290 | 2,913,290 | 2,913,280 | 12.00 | +0.00 |
	// | fashion-mnist | g2g-index | 0.25 | 2 | 90.80 ± 0.42 % | 2,913,290 | 736,266 | 736,256 | 7.00 | +0.80 |
}

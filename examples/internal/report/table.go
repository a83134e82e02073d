package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// DenseMethod is the method name of the dense baseline: [Aggregate] measures
// every row's gain against the row of this method on the same dataset, and
// [PlotAccuracyVsDensity] draws it as a horizontal line.
const DenseMethod = "dense"

// Run is one finished training run (one grid cell and seed).
type Run struct {
	// Dataset names the data, e.g. "fashion-mnist" or "cifar10".
	Dataset string
	// Method names the model variant, e.g. "dense", "g2g-index",
	// "g2g-random", "g2g-mixer", "g2g-index+dst", "g2g-index+hebbian".
	Method string
	// Density is the fraction of edges kept in the sparse layers (1 for dense).
	Density float64
	// Seed is the run's seed.
	Seed int64
	// TestAcc is the final test accuracy, a fraction in [0, 1].
	TestAcc float64
	// Params counts all parameters, ActiveParams those not masked out, and
	// MACs the multiply-accumulates of one sample's forward pass.
	Params, ActiveParams, MACs int
	// SecPerEpoch is the mean wall-clock time of one training epoch in seconds.
	SecPerEpoch float64
	// History holds the per-epoch logs (graph.History.Epochs: keys loss,
	// acc, val_loss, val_acc, lr, epoch_seconds); it may be nil.
	History []map[string]float64
}

// Row aggregates the runs of one (dataset, method, density) over seeds.
type Row struct {
	// Dataset, Method and Density identify the grid cell.
	Dataset, Method string
	Density         float64
	// Seeds is the number of runs aggregated.
	Seeds int
	// AccMean and AccStd are the mean and the sample standard deviation
	// (n−1 in the denominator, 0 for one run) of the test accuracy, as
	// fractions in [0, 1].
	AccMean, AccStd float64
	// Params, ActiveParams and MACs are the runs' counts (their mean,
	// rounded, should they differ between seeds).
	Params, ActiveParams, MACs int
	// SecPerEpoch is the mean of the runs' seconds per epoch.
	SecPerEpoch float64
	// GainOverDense is AccMean minus the AccMean of the dense row of the same
	// dataset, in percentage points (×100); NaN when there is no dense row.
	GainOverDense float64
}

// Aggregate groups runs by (dataset, method, density) and summarises each
// group over its seeds. Rows are sorted by dataset, then the dense method
// first, then by method name, then by density descending. Densities equal
// to 9 significant digits are grouped together. It returns nil for no runs.
func Aggregate(runs []Run) []Row {
	if len(runs) == 0 {
		return nil
	}
	type key struct {
		dataset, method, density string
	}
	var keys []key
	groups := map[key][]Run{}
	for _, r := range runs {
		k := key{r.Dataset, r.Method, strconv.FormatFloat(r.Density, 'g', 9, 64)}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	rows := make([]Row, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		n := float64(len(g))
		var acc, sec, params, active, macs float64
		for _, r := range g {
			acc += r.TestAcc
			sec += r.SecPerEpoch
			params += float64(r.Params)
			active += float64(r.ActiveParams)
			macs += float64(r.MACs)
		}
		mean := acc / n
		std := 0.0
		if len(g) > 1 {
			var ss float64
			for _, r := range g {
				d := r.TestAcc - mean
				ss += d * d
			}
			std = math.Sqrt(ss / (n - 1))
		}
		rows = append(rows, Row{
			Dataset: g[0].Dataset, Method: g[0].Method, Density: g[0].Density,
			Seeds: len(g), AccMean: mean, AccStd: std,
			Params: int(math.Round(params / n)), ActiveParams: int(math.Round(active / n)),
			MACs: int(math.Round(macs / n)), SecPerEpoch: sec / n,
		})
	}
	sort.SliceStable(rows, func(a, b int) bool {
		ra, rb := rows[a], rows[b]
		return before(ra.Dataset, ra.Method, ra.Density, rb.Dataset, rb.Method, rb.Density)
	})
	dense := map[string]float64{}
	for _, r := range rows {
		if _, ok := dense[r.Dataset]; !ok && r.Method == DenseMethod {
			dense[r.Dataset] = r.AccMean // the first (highest-density) dense row
		}
	}
	for i := range rows {
		if d, ok := dense[rows[i].Dataset]; ok {
			rows[i].GainOverDense = (rows[i].AccMean - d) * 100
		} else {
			rows[i].GainOverDense = math.NaN()
		}
	}
	return rows
}

// markdownHeader is the header of WriteMarkdown's table, with the column
// alignment row.
const markdownHeader = "| Dataset | Method | Density | Seeds | Test accuracy | Params | Active params | MACs / sample | s / epoch | Gain over dense (points) |\n" +
	"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"

// WriteMarkdown writes rows as a GitHub-flavoured Markdown table: accuracy
// as "89.67 ± 0.12 %", counts with thousands separators, seconds per epoch
// with two decimals and the gain over dense in signed percentage points
// ("+0.80"; "n/a" without a dense row). It errors on no rows.
func WriteMarkdown(w io.Writer, rows []Row) error {
	if len(rows) == 0 {
		return errors.New("write markdown: no rows")
	}
	var b strings.Builder
	b.WriteString(markdownHeader)
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f ± %.2f %% | %s | %s | %s | %.2f | %s |\n",
			mdEscape(r.Dataset), mdEscape(r.Method), formatDensity(r.Density), r.Seeds,
			r.AccMean*100, r.AccStd*100, thousands(r.Params), thousands(r.ActiveParams),
			thousands(r.MACs), r.SecPerEpoch, formatGain(r.GainOverDense))
	}
	_, err := io.WriteString(w, b.String())
	return errors.Wrap(err, "write markdown")
}

// csvHeader names WriteCSV's columns.
var csvHeader = []string{"dataset", "method", "density", "seeds", "acc_mean", "acc_std",
	"params", "active_params", "macs", "sec_per_epoch", "gain_over_dense_points"}

// WriteCSV writes rows as CSV with a header row (dataset, method, density,
// seeds, acc_mean, acc_std, params, active_params, macs, sec_per_epoch,
// gain_over_dense_points) and plain numbers: accuracies as fractions, the
// gain in percentage points, floats with up to 8 significant digits and
// "NaN" for a missing gain. It errors on no rows.
func WriteCSV(w io.Writer, rows []Row) error {
	if len(rows) == 0 {
		return errors.New("write csv: no rows")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return errors.Wrap(err, "write csv: header")
	}
	for _, r := range rows {
		rec := []string{r.Dataset, r.Method, num(r.Density), strconv.Itoa(r.Seeds),
			num(r.AccMean), num(r.AccStd), strconv.Itoa(r.Params), strconv.Itoa(r.ActiveParams),
			strconv.Itoa(r.MACs), num(r.SecPerEpoch), num(r.GainOverDense)}
		if err := cw.Write(rec); err != nil {
			return errors.Wrapf(err, "write csv: row %s/%s/%s", r.Dataset, r.Method, num(r.Density))
		}
	}
	cw.Flush()
	return errors.Wrap(cw.Error(), "write csv")
}

// num formats a float for CSV: up to 8 significant digits, "NaN", "+Inf".
func num(x float64) string {
	return strconv.FormatFloat(x, 'g', 8, 64)
}

// formatDensity formats a density with up to 4 significant digits.
func formatDensity(d float64) string {
	return strconv.FormatFloat(d, 'g', 4, 64)
}

// formatGain formats a gain in points with a sign and two decimals, "n/a"
// for NaN; a value that rounds to zero is "+0.00", never "-0.00".
func formatGain(g float64) string {
	if math.IsNaN(g) {
		return "n/a"
	}
	r := math.Round(g*100) / 100
	if r == 0 {
		r = 0 // drops the sign of −0
	}
	return fmt.Sprintf("%+.2f", r)
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String()
}

// mdEscape escapes the characters that would break a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// before orders results by data set, then dense first, then method name,
// then density descending: the order of table rows and figure series.
func before(dsA, methodA string, densityA float64, dsB, methodB string, densityB float64) bool {
	if dsA != dsB {
		return dsA < dsB
	}
	if da, db := methodA == DenseMethod, methodB == DenseMethod; da != db {
		return da
	}
	if methodA != methodB {
		return methodA < methodB
	}
	return densityA > densityB
}

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
	"gonum.org/v1/gonum/stat/distuv"
)

// ERMethod is the method name of the Erdős–Rényi random sparse baseline:
// [Compare] measures every method against it at the same density.
const ERMethod = "er"

// Confidence is the level of the confidence intervals of [Compare].
const Confidence = 0.95

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df ≥ 1, p in (0, 1)), computed from the inverse of
// the regularized incomplete beta function (gonum's distuv.StudentsT), not
// from a table. For df = 1 it is tan(π(p − ½)), for df = 2
// (2p − 1)/√(2p(1 − p)).
func TQuantile(p float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(p)
}

// PairedCI returns the mean and the sample standard deviation of the
// paired differences a[i] − b[i], and the two-sided confidence interval of
// their mean at the given level: mean ± t·sd/√n, t the (1 + level)/2
// quantile of Student's t with n − 1 degrees of freedom. It needs two
// pairs at least.
func PairedCI(a, b []float64, level float64) (mean, sd, lo, hi float64, err error) {
	if len(a) != len(b) {
		return 0, 0, 0, 0, errors.Errorf("paired ci: %d values against %d", len(a), len(b))
	}
	n := len(a)
	if n < 2 {
		return 0, 0, 0, 0, errors.Errorf("paired ci: %d pairs, want 2 at least", n)
	}
	if !(level > 0 && level < 1) {
		return 0, 0, 0, 0, errors.Errorf("paired ci: level %v, want a value in (0, 1)", level)
	}
	for i := range a {
		mean += a[i] - b[i]
	}
	mean /= float64(n)
	var ss float64
	for i := range a {
		d := a[i] - b[i] - mean
		ss += d * d
	}
	sd = math.Sqrt(ss / float64(n-1))
	half := TQuantile((1+level)/2, n-1) * sd / math.Sqrt(float64(n))
	return mean, sd, mean - half, mean + half, nil
}

// Paired is the paired comparison of one method at one density with a
// reference method, seed by seed: the test accuracy of the method minus
// that of the reference at the same seed.
type Paired struct {
	// Dataset, Method and Density identify the compared row.
	Dataset, Method string
	Density         float64
	// Reference is the method compared with (DenseMethod at its own
	// density 1, ERMethod at Density).
	Reference string
	// Seeds is the number of seeds both have.
	Seeds int
	// Mean and Std are the mean and the sample standard deviation of the
	// differences, as fractions (×100 for points).
	Mean, Std float64
	// Low and High bound the Confidence interval of the mean difference;
	// NaN with fewer than two seeds.
	Low, High float64
}

// Significant reports whether the confidence interval excludes zero.
func (p Paired) Significant() bool { return p.Low > 0 || p.High < 0 }

// Compare pairs every method's runs with those of reference at the same
// dataset and seed — at the same density for ERMethod, at density 1 for
// DenseMethod — and returns one Paired per (dataset, method, density)
// that shares at least one seed with the reference, in the order of
// [Aggregate]'s rows. The reference and the dense method are not compared
// with it.
func Compare(runs []Run, reference string) []Paired {
	type key struct {
		dataset, method, density string
	}
	dkey := func(d float64) string { return strconv.FormatFloat(d, 'g', 9, 64) }
	acc := map[key]map[int64]float64{}
	var keys []key
	density := map[key]float64{}
	for _, r := range runs {
		k := key{r.Dataset, r.Method, dkey(r.Density)}
		if acc[k] == nil {
			acc[k] = map[int64]float64{}
			keys = append(keys, k)
			density[k] = r.Density
		}
		acc[k][r.Seed] = r.TestAcc
	}
	var out []Paired
	for _, k := range keys {
		if k.method == reference || k.method == DenseMethod {
			continue
		}
		rk := key{k.dataset, reference, k.density}
		if reference == DenseMethod {
			rk.density = dkey(1)
		}
		ref := acc[rk]
		if ref == nil {
			continue
		}
		var seeds []int64
		for s := range acc[k] {
			if _, ok := ref[s]; ok {
				seeds = append(seeds, s)
			}
		}
		if len(seeds) == 0 {
			continue
		}
		sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
		a, b := make([]float64, len(seeds)), make([]float64, len(seeds))
		for i, s := range seeds {
			a[i], b[i] = acc[k][s], ref[s]
		}
		p := Paired{Dataset: k.dataset, Method: k.method, Density: density[k], Reference: reference, Seeds: len(seeds),
			Mean: a[0] - b[0], Low: math.NaN(), High: math.NaN()}
		if mean, sd, lo, hi, err := PairedCI(a, b, Confidence); err == nil {
			p.Mean, p.Std, p.Low, p.High = mean, sd, lo, hi
		}
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return before(a.Dataset, a.Method, a.Density, b.Dataset, b.Method, b.Density)
	})
	return out
}

// formatCI formats a difference and its interval in points, e.g.
// "+0.35 [−0.12, +0.82]", or "+0.35 [n/a]" without an interval.
func formatCI(p Paired) string {
	if math.IsNaN(p.Low) {
		return formatGain(100*p.Mean) + " [n/a]"
	}
	return fmt.Sprintf("%s [%s, %s]", formatGain(100*p.Mean), formatGain(100*p.Low), formatGain(100*p.High))
}

// significance says whether p is significant: "**yes**", "no", or "n/a"
// without an interval.
func significance(p Paired) string {
	switch {
	case math.IsNaN(p.Low):
		return "n/a"
	case p.Significant():
		return "**yes**"
	}
	return "no"
}

// WritePairedMarkdown writes the paired comparisons of [Compare] with
// ERMethod and DenseMethod as one Markdown table, a row per (dataset,
// method, density): for each reference the mean difference and its 95 %
// confidence interval in percentage points, and whether the interval
// excludes zero. A row lacking a reference shows "–". It errors on no
// comparisons.
func WritePairedMarkdown(w io.Writer, vsER, vsDense []Paired) error {
	if len(vsER)+len(vsDense) == 0 {
		return errors.New("write paired markdown: no comparisons")
	}
	type key struct {
		dataset, method, density string
	}
	type row struct {
		key
		d         float64
		er, dense *Paired
	}
	var rows []*row
	index := map[key]*row{}
	get := func(p Paired) *row {
		k := key{p.Dataset, p.Method, formatDensity(p.Density)}
		if r := index[k]; r != nil {
			return r
		}
		r := &row{key: k, d: p.Density}
		index[k] = r
		rows = append(rows, r)
		return r
	}
	for i := range vsER {
		get(vsER[i]).er = &vsER[i]
	}
	for i := range vsDense {
		get(vsDense[i]).dense = &vsDense[i]
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		return before(a.dataset, a.method, a.d, b.dataset, b.method, b.d)
	})
	cells := func(p *Paired) string {
		if p == nil {
			return "– | – | –"
		}
		return fmt.Sprintf("%d | %s | %s", p.Seeds, formatCI(*p), significance(*p))
	}
	var b strings.Builder
	b.WriteString("| Dataset | Method | Density | Seeds | vs er: difference [95 % CI] (points) | Significant | " +
		"Seeds | vs dense: difference [95 % CI] (points) | Significant |\n" +
		"|---|---|---:|---:|---:|:---:|---:|---:|:---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEscape(r.dataset), mdEscape(r.method), r.density, cells(r.er), cells(r.dense))
	}
	_, err := io.WriteString(w, b.String())
	return errors.Wrap(err, "write paired markdown")
}

// pairedHeader names WritePairedCSV's columns.
var pairedHeader = []string{"dataset", "method", "density", "reference", "seeds", "diff_mean", "diff_std", "ci_low", "ci_high", "significant"}

// WritePairedCSV writes comparisons as CSV with a header row (dataset,
// method, density, reference, seeds, diff_mean, diff_std, ci_low, ci_high,
// significant): differences as fractions, "NaN" bounds without an
// interval, significant true or false. It errors on no comparisons.
func WritePairedCSV(w io.Writer, comparisons []Paired) error {
	if len(comparisons) == 0 {
		return errors.New("write paired csv: no comparisons")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(pairedHeader); err != nil {
		return errors.Wrap(err, "write paired csv: header")
	}
	for _, p := range comparisons {
		rec := []string{p.Dataset, p.Method, num(p.Density), p.Reference, strconv.Itoa(p.Seeds),
			num(p.Mean), num(p.Std), num(p.Low), num(p.High), strconv.FormatBool(p.Significant())}
		if err := cw.Write(rec); err != nil {
			return errors.Wrapf(err, "write paired csv: %s/%s/%s vs %s", p.Dataset, p.Method, num(p.Density), p.Reference)
		}
	}
	cw.Flush()
	return errors.Wrap(cw.Error(), "write paired csv")
}

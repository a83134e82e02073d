package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// measurement is one model's numbers from one child process, g2g's or
// PyTorch's (torch_ref.py prints the same JSON fields).
type measurement struct {
	Framework  string  `json:"framework"`
	Model      string  `json:"model"`
	Density    float64 `json:"density"`
	SecPerStep float64 `json:"sec_per_step"`
	InferSec   float64 `json:"infer_sec,omitempty"`
	ExportSec  float64 `json:"export_infer_sec,omitempty"`
	CSRSec     float64 `json:"csr_infer_sec,omitempty"`
	PeakRSSMB  float64 `json:"peak_rss_mb,omitempty"`
	Allocs     float64 `json:"allocs_per_step,omitempty"`
	BytesStep  float64 `json:"bytes_per_step,omitempty"`
	// MACs is the forward pass's active multiply-accumulates per sample;
	// TrainMACs those of a whole training step (forward, weight gradients,
	// and input gradients of every layer but the first).
	MACs       int    `json:"macs_per_sample,omitempty"`
	TrainMACs  int    `json:"train_macs_per_sample,omitempty"`
	Threads    int    `json:"threads"`
	BLAS       string `json:"blas,omitempty"`
	Core       string `json:"blas_core,omitempty"`
	Capability string `json:"cpu_capability,omitempty"`
}

// sgemmRate is the measured rate of a dense 1024³ sgemm through g2g's BLAS
// helper at a thread count.
type sgemmRate struct {
	Threads int     `json:"threads"`
	GFLOPS  float64 `json:"gflops"`
}

// machine describes where the benchmark ran.
type machine struct {
	CPU          string      `json:"cpu"`
	CPUs         int         `json:"cpus"`
	Go           string      `json:"go"`
	G2GBLAS      string      `json:"g2g_blas"`
	EnvCoreType  string      `json:"env_openblas_coretype,omitempty"`
	G2GBLASCore  string      `json:"g2g_blas_core_setting,omitempty"`
	BestCore     string      `json:"best_core,omitempty"`
	PyTorch      string      `json:"pytorch,omitempty"`
	Sgemm        []sgemmRate `json:"sgemm_1024"`
	Batch        int         `json:"batch"`
	Steps        int         `json:"steps"`
	Repeat       int         `json:"repeat"`
	ProbeSteps   int         `json:"probe_steps"`
	EpochSteps   int         `json:"epoch_steps"`
	InferSamples int         `json:"infer_samples"`
}

// rate returns the sgemm rate in GFLOP/s at threads, or 0 when it was not
// measured.
func (m machine) rate(threads int) float64 {
	for _, r := range m.Sgemm {
		if r.Threads == threads {
			return r.GFLOPS
		}
	}
	return 0
}

// maxThreads is the largest thread count the sgemm rate was measured at.
func (m machine) maxThreads() int {
	n := 0
	for _, r := range m.Sgemm {
		n = max(n, r.Threads)
	}
	return n
}

// modelResult is one model's configurations, measurements and summary.
type modelResult struct {
	Model       string        `json:"model"`
	Kind        string        `json:"kind"`
	Density     float64       `json:"density"`
	G2GConfig   runConfig     `json:"g2g_config"`
	TorchConfig *runConfig    `json:"torch_config,omitempty"`
	G2G         []measurement `json:"g2g"`
	Torch       []measurement `json:"torch,omitempty"`
	Summary     summary       `json:"summary"`
}

// summary holds the medians and ratios the table and the checklist print.
// Ratios are medians of the ratios of measurements taken one after the
// other (robust to the machine's speed drifting); 0 means not measured.
type summary struct {
	G2GEpochSec    float64 `json:"g2g_sec_per_epoch"`
	TorchEpochSec  float64 `json:"torch_sec_per_epoch,omitempty"`
	TrainRatio     float64 `json:"train_ratio,omitempty"`
	G2GInferSec    float64 `json:"g2g_infer_sec"`
	G2GExportSec   float64 `json:"g2g_exported_infer_sec"`
	TorchInferSec  float64 `json:"torch_infer_sec,omitempty"`
	TorchCSRSec    float64 `json:"torch_csr_infer_sec,omitempty"`
	InferRatio     float64 `json:"infer_ratio,omitempty"`
	CSRRatio       float64 `json:"infer_ratio_vs_csr,omitempty"`
	G2GGMACs       float64 `json:"g2g_useful_gmac_per_s"`
	TorchGMACs     float64 `json:"torch_useful_gmac_per_s,omitempty"`
	G2GFracOne     float64 `json:"g2g_fraction_of_sgemm_1_thread"`
	G2GFracAll     float64 `json:"g2g_fraction_of_sgemm_all_threads"`
	G2GFracOwn     float64 `json:"g2g_fraction_of_sgemm_own_threads"`
	G2GAllocs      float64 `json:"g2g_allocs_per_step"`
	G2GPeakRSSMB   float64 `json:"g2g_peak_rss_mb"`
	TorchPeakRSSMB float64 `json:"torch_peak_rss_mb,omitempty"`
}

// summarize computes r.Summary from the measurements and the machine's
// sgemm rates.
func (r *modelResult) summarize(m machine) {
	s := &r.Summary
	g := func(f func(measurement) float64) float64 { return median(r.G2G, f) }
	t := func(f func(measurement) float64) float64 { return median(r.Torch, f) }
	step := func(x measurement) float64 { return x.SecPerStep }
	infer := func(x measurement) float64 { return x.InferSec }
	s.G2GEpochSec = g(step) * float64(m.EpochSteps)
	s.G2GInferSec = g(infer)
	s.G2GExportSec = g(func(x measurement) float64 { return x.ExportSec })
	s.G2GAllocs = g(func(x measurement) float64 { return x.Allocs })
	s.G2GPeakRSSMB = g(func(x measurement) float64 { return x.PeakRSSMB })
	if len(r.G2G) > 0 && r.G2G[0].TrainMACs > 0 {
		macs := float64(r.G2G[0].TrainMACs) * float64(m.Batch) // per step
		s.G2GGMACs = macs / g(step) / 1e9
		if len(r.Torch) > 0 {
			s.TorchGMACs = macs / t(step) / 1e9
		}
		// A multiply-accumulate is 2 FLOPs of the sgemm rate.
		frac := func(threads int) float64 {
			if rate := m.rate(threads); rate > 0 {
				return s.G2GGMACs / (rate / 2)
			}
			return 0
		}
		s.G2GFracOne, s.G2GFracAll, s.G2GFracOwn = frac(1), frac(m.maxThreads()), frac(r.G2GConfig.Threads)
	}
	if len(r.Torch) == 0 {
		return
	}
	s.TorchEpochSec = t(step) * float64(m.EpochSteps)
	s.TorchInferSec = t(infer)
	s.TorchCSRSec = t(func(x measurement) float64 { return x.CSRSec })
	s.TorchPeakRSSMB = t(func(x measurement) float64 { return x.PeakRSSMB })
	s.TrainRatio = pairedRatio(r.G2G, r.Torch, step, step)
	s.InferRatio = pairedRatio(r.G2G, r.Torch, infer, infer)
	s.CSRRatio = pairedRatio(r.G2G, r.Torch, infer, func(x measurement) float64 { return x.CSRSec })
}

// pairedRatio is the median over runs i of f(a[i]) / g(b[i]), over the
// runs where both are positive; 0 when there are none.
func pairedRatio(a, b []measurement, f, g func(measurement) float64) float64 {
	var v []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if x, y := f(a[i]), g(b[i]); x > 0 && y > 0 {
			v = append(v, x/y)
		}
	}
	if len(v) == 0 {
		return 0
	}
	return medianOf(v)
}

// median returns the median of f over ms (0 for none).
func median(ms []measurement, f func(measurement) float64) float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// check is one target of the issue with its measured value.
type check struct {
	Target string `json:"target"`
	Value  string `json:"value"`
	// Status is PASS, MISS or n/a (not measured in this run).
	Status string `json:"status"`
}

// checklist compares the results with the speed targets (issue 15): it
// reports, it does not judge beyond the comparison.
func checklist(rs []modelResult, m machine) []check {
	find := func(spec string) *modelResult {
		for i := range rs {
			if rs[i].Model == spec {
				return &rs[i]
			}
		}
		return nil
	}
	var out []check
	ratio := func(target, spec string, get func(summary) float64, limit float64, strict bool) {
		c := check{Target: target, Status: "n/a"}
		r := find(spec)
		switch {
		case r == nil:
			c.Value = "model " + spec + " not measured"
		case get(r.Summary) == 0:
			c.Value = "no PyTorch measurement"
		default:
			v := get(r.Summary)
			c.Value = fmt.Sprintf("%.2fx", v)
			c.Status = pass(v <= limit && (!strict || v < limit))
		}
		out = append(out, c)
	}
	ratio("G2G d=0.25 training ≤ 0.30x PyTorch masked", "g2g:0.25", func(s summary) float64 { return s.TrainRatio }, 0.30, false)
	ratio("G2G d=0.125 training ≤ 0.18x PyTorch masked", "g2g:0.125", func(s summary) float64 { return s.TrainRatio }, 0.18, false)
	ratio("dense training ≤ 1.0x PyTorch", "dense", func(s summary) float64 { return s.TrainRatio }, 1.0, false)
	ratio("G2G d=0.25 inference (Predict, 10k) ≤ 0.40x PyTorch masked", "g2g:0.25", func(s summary) float64 { return s.InferRatio }, 0.40, false)
	ratio("G2G d=0.25 inference faster than PyTorch CSR (ratio < 1)", "g2g:0.25", func(s summary) float64 { return s.CSRRatio }, 1, true)

	c := check{Target: "G2G d=0.25 useful MACs ≥ 50 % of the dense sgemm rate at g2g's thread count", Status: "n/a"}
	if r := find("g2g:0.25"); r == nil {
		c.Value = "model g2g:0.25 not measured"
	} else if r.Summary.G2GFracOwn == 0 {
		c.Value = "no sgemm rate at its thread count"
	} else {
		s := r.Summary
		c.Value = fmt.Sprintf("%.0f %% (%.1f GMAC/s; %d-thread sgemm %.1f GMAC/s; %.0f %% of 1-thread sgemm %.1f GMAC/s)",
			100*s.G2GFracOwn, s.G2GGMACs, r.G2GConfig.Threads, m.rate(r.G2GConfig.Threads)/2, 100*s.G2GFracOne, m.rate(1)/2)
		c.Status = pass(s.G2GFracOwn >= 0.5)
	}
	out = append(out, c)

	c = check{Target: "allocations ≤ 100 per training step (every g2g model)", Status: "n/a", Value: "no model measured"}
	worst, name := -1.0, ""
	for _, r := range rs {
		if len(r.G2G) > 0 && r.Summary.G2GAllocs > worst {
			worst, name = r.Summary.G2GAllocs, r.Model
		}
	}
	if worst >= 0 {
		c.Value = fmt.Sprintf("%.0f (most: %s)", worst, name)
		c.Status = pass(worst <= 100)
	}
	return append(out, c)
}

// writeProbes prints probes as a table: a row per configuration, a column
// per model.
func writeProbes(w io.Writer, probes []probe, choose func([]probe, string) (probe, bool)) error {
	var keys, configs []string
	cell := map[[2]string]float64{}
	for _, p := range probes {
		c := p.Config.String()
		if !contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
		if !contains(configs, c) {
			configs = append(configs, c)
		}
		cell[[2]string{c, p.Key}] = p.SecPerStep
	}
	best := map[string]string{}
	for _, k := range keys {
		if p, ok := choose(probes, k); ok {
			best[k] = p.Config.String()
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "configuration\t%s\t\n", strings.Join(keys, "\t"))
	for _, c := range configs {
		fmt.Fprintf(tw, "%s", c)
		for _, k := range keys {
			v, ok := cell[[2]string{c, k}]
			switch {
			case !ok:
				fmt.Fprint(tw, "\t-")
			case best[k] == c:
				fmt.Fprintf(tw, "\t*%.1f", 1000*v)
			default:
				fmt.Fprintf(tw, "\t%.1f", 1000*v)
			}
		}
		fmt.Fprint(tw, "\t\n")
	}
	return tw.Flush()
}

func pass(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// report is everything one benchmark run prints (-json prints it as is).
type report struct {
	Machine   machine       `json:"machine"`
	G2GProbes []probe       `json:"g2g_probes"`
	TorchProb []probe       `json:"torch_probes,omitempty"`
	Results   []modelResult `json:"results"`
	Checklist []check       `json:"checklist"`
}

// write prints the report as text: the machine, the chosen
// configurations, the table and the checklist.
func (rep report) write(w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %s, %d CPUs; %s\n", m.CPU, m.CPUs, m.Go)
	fmt.Fprintf(w, "g2g BLAS: %s\n", m.G2GBLAS)
	env := setting("OPENBLAS_CORETYPE", m.EnvCoreType) + ", " + setting("G2G_BLAS_CORE", m.G2GBLASCore)
	if m.BestCore != "" {
		env += "; best OpenBLAS core for this CPU: " + m.BestCore
	}
	fmt.Fprintf(w, "environment: %s\n", env)
	if m.PyTorch != "" {
		fmt.Fprintf(w, "PyTorch: %s\n", m.PyTorch)
	}
	var rates []string
	for _, r := range m.Sgemm {
		rates = append(rates, fmt.Sprintf("%.1f GFLOP/s = %.1f GMAC/s on %d thread%s", r.GFLOPS, r.GFLOPS/2, r.Threads, plural(r.Threads)))
	}
	fmt.Fprintf(w, "dense sgemm 1024³ through g2g's BLAS: %s\n", strings.Join(rates, "; "))

	for _, p := range []struct {
		side, note string
		probes     []probe
		choose     func([]probe, string) (probe, bool)
	}{
		{"g2g", "", rep.G2GProbes, fastest},
		{"PyTorch", "; glibc's default allocator is not chosen when another was probed: all models of a probe share one process, whose raised mmap threshold spares the later ones a cost a fresh process pays", rep.TorchProb, fastestTorch},
	} {
		if len(p.probes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s probes, ms per step (median of %d step%s; * the fastest, measured below%s):\n", p.side, m.ProbeSteps, plural(m.ProbeSteps), p.note)
		if err := writeProbes(w, p.probes, p.choose); err != nil {
			return err
		}
	}

	fmt.Fprintln(w, "\nchosen configurations:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tg2g\tPyTorch")
	for _, r := range rep.Results {
		torch := "-"
		if r.TorchConfig != nil {
			torch = r.TorchConfig.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Model, r.G2GConfig.String(), torch)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tframework\ts/epoch\ttrain vs PyTorch\tinfer 10k s\texported s\tCSR s\tinfer vs PyTorch\tvs CSR\tuseful GMAC/s\t% sgemm 1 thr\t% sgemm "+
		fmt.Sprint(m.maxThreads())+" thr\tallocs/step\tpeak RSS MB\t")
	for _, r := range rep.Results {
		s := r.Summary
		fmt.Fprintf(tw, "%s\tg2g\t%.1f\t%s\t%.2f\t%.2f\t-\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t\n", r.Model, s.G2GEpochSec, ratioStr(s.TrainRatio),
			s.G2GInferSec, s.G2GExportSec, ratioStr(s.InferRatio), ratioStr(s.CSRRatio), num(s.G2GGMACs, "%.1f"),
			percent(s.G2GFracOne), percent(s.G2GFracAll), s.G2GAllocs, s.G2GPeakRSSMB)
		if len(r.Torch) > 0 {
			fmt.Fprintf(tw, "\tPyTorch\t%.1f\t\t%.2f\t-\t%s\t\t\t%s\t\t\t-\t%.0f\t\n", s.TorchEpochSec, s.TorchInferSec, num(s.TorchCSRSec, "%.2f"),
				num(s.TorchGMACs, "%.1f"), s.TorchPeakRSSMB)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nbatch %d, %d measured steps, medians of %d runs; s/epoch = s/step × %d steps; inference over %d images in batches of 1000.\n",
		m.Batch, m.Steps, m.Repeat, m.EpochSteps, m.InferSamples)
	fmt.Fprintln(w, "Ratios: median over runs of g2g's time / PyTorch's measured right after it (inference: Model.Predict vs PyTorch masked; vs CSR: torch.sparse.mm on CSR weights).")
	fmt.Fprintln(w, "Useful MACs: active multiply-accumulates of a training step (forward, weight gradients, input gradients but the first layer's) per second, as a")
	fmt.Fprintln(w, "percentage of the dense sgemm rate in MACs (1 MAC = 2 FLOPs) on 1 thread and on all threads.")

	fmt.Fprintln(w, "\ntargets (issue 15):")
	for _, c := range rep.Checklist {
		fmt.Fprintf(w, "  [%-4s] %s: %s\n", c.Status, c.Target, c.Value)
	}
	return nil
}

// setting formats an environment variable's value ("NAME unset" when it
// is empty).
func setting(name, v string) string {
	if v == "" {
		return name + " unset"
	}
	return name + "=" + v
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func ratioStr(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func percent(v float64) string {
	if v == 0 || math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f %%", 100*v)
}

func num(v float64, format string) string {
	if v == 0 || math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// Command bench measures g2g's training and inference speed on docs/design.md §5's
// Fashion-MNIST models — dense, and G2G at several densities — and, in the
// same invocation, a PyTorch reference training the same models the way a
// PyTorch user of the paper would (F.linear(x, W*M)), with the same batch,
// optimizer (Adam) and thread count. It prints a table with the ratios.
//
//	go run -tags openblas ./examples/bench            # all models, with PyTorch
//	go run -tags openblas ./examples/bench -torch=false -models g2g:0.25
//
// Every measurement runs in a child process of its own, so peak RSS is the
// model's alone. Data is random: speed does not depend on it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// measurement is one model's numbers, as printed by a child process.
type measurement struct {
	Framework  string  `json:"framework"`
	Model      string  `json:"model"`
	Density    float64 `json:"density"`
	SecPerStep float64 `json:"sec_per_step"`
	InferSec   float64 `json:"infer_sec"`
	ExportSec  float64 `json:"export_infer_sec,omitempty"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Allocs     float64 `json:"allocs_per_step,omitempty"`
	BytesStep  float64 `json:"bytes_per_step,omitempty"`
	MACs       int     `json:"macs_per_sample,omitempty"`
	Threads    int     `json:"threads"`
}

type options struct {
	models       string
	batch, steps int
	threads      int
	torch        bool
	python       string
	child        string
	jsonOut      bool
	cpuProfile   string
	repeat       int
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.models, "models", "dense,g2g:0.5,g2g:0.25,g2g:0.125,blocks:0.5,blocks:0.25,blocks:0.125", "comma-separated models: dense, g2g:DENSITY (edge-level G2G) or blocks:DENSITY (ensemble-level G2G, block-sparse kernels)")
	fs.IntVar(&o.batch, "batch", 256, "batch size")
	fs.IntVar(&o.repeat, "repeat", 3, "measure every model this many times (g2g, then PyTorch) and report medians")
	fs.IntVar(&o.steps, "steps", 40, "measured training steps per model (after 5 warm-up steps)")
	fs.IntVar(&o.threads, "threads", runtime.NumCPU(), "threads for Go (GOMAXPROCS), OpenBLAS and PyTorch")
	fs.BoolVar(&o.torch, "torch", true, "also run the PyTorch reference (needs python3 with torch: Debian python3-torch)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "python interpreter for the PyTorch reference")
	fs.BoolVar(&o.jsonOut, "json", false, "print the measurements as JSON lines instead of a table")
	fs.StringVar(&o.child, "child", "", "internal: measure one model in this process")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of g2g's measured training and inference to this file (one model only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.batch < 1 || o.steps < 1 || o.threads < 1 || o.repeat < 1 {
		return errors.New("-batch, -steps, -threads and -repeat must be at least 1")
	}
	if o.child != "" {
		m, err := measure(o)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(m)
	}
	specs := strings.Split(o.models, ",")
	if o.cpuProfile != "" && len(specs) != 1 {
		return errors.New("-cpuprofile needs exactly one model in -models")
	}
	for _, s := range specs {
		if _, _, err := parseModel(s); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := append(os.Environ(), "OPENBLAS_NUM_THREADS="+strconv.Itoa(o.threads), "GOMAXPROCS="+strconv.Itoa(o.threads),
		"OMP_NUM_THREADS="+strconv.Itoa(o.threads))
	// Each model is measured o.repeat times, g2g then PyTorch, so that each
	// g2g measurement has a PyTorch one taken right after it on the same
	// machine; the table reports medians.
	var results []pair
	for _, s := range specs {
		var p pair
		for rep := 0; rep < o.repeat; rep++ {
			fmt.Fprintf(stderr, "measuring g2g %s (%d/%d) ...\n", s, rep+1, o.repeat)
			m, err := child(env, self, "-child", s, "-batch", strconv.Itoa(o.batch), "-steps", strconv.Itoa(o.steps), "-threads", strconv.Itoa(o.threads), "-cpuprofile", o.cpuProfile)
			if err != nil {
				return errors.Wrapf(err, "g2g %s", s)
			}
			p.g2g = append(p.g2g, m)
			if !o.torch {
				continue
			}
			model, d, _ := parseModel(s)
			fmt.Fprintf(stderr, "measuring pytorch %s (%d/%d) ...\n", s, rep+1, o.repeat)
			script := filepath.Join(sourceDir(), "torch_ref.py")
			tm := model
			if tm == "blocks" {
				tm = "g2g" // a PyTorch user masks the same way whatever the mask's structure
			}
			pm, err := child(env, o.python, script, "--model", tm, "--density", fmt.Sprint(d),
				"--batch", strconv.Itoa(o.batch), "--steps", strconv.Itoa(o.steps), "--threads", strconv.Itoa(o.threads))
			if err != nil {
				return errors.Wrapf(err, "pytorch %s (install Debian python3-torch, or pass -torch=false)", s)
			}
			p.torch = append(p.torch, pm)
		}
		results = append(results, p)
	}
	if o.jsonOut {
		enc := json.NewEncoder(stdout)
		for _, p := range results {
			for _, r := range append(p.g2g, p.torch...) {
				enc.Encode(r)
			}
		}
		return nil
	}
	return table(stdout, results, o)
}

// pair holds one model's repeated measurements: g2g's, and PyTorch's taken
// right after each (none with -torch=false).
type pair struct{ g2g, torch []measurement }

// median returns the median of f over ms.
func median(ms []measurement, f func(measurement) float64) float64 {
	v := make([]float64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	v = append([]float64(nil), v...)
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// sourceDir finds examples/bench relative to the working directory (go run
// from the repository root) or the executable.
func sourceDir() string {
	for _, d := range []string{"examples/bench", "."} {
		if _, err := os.Stat(filepath.Join(d, "torch_ref.py")); err == nil {
			return d
		}
	}
	return "examples/bench"
}

func parseModel(s string) (model string, density float64, err error) {
	if s == "dense" {
		return "dense", 1, nil
	}
	for _, kind := range []string{"g2g", "blocks"} {
		if d, ok := strings.CutPrefix(s, kind+":"); ok {
			density, err = strconv.ParseFloat(d, 64)
			if err == nil && density > 0 && density <= 1 {
				return kind, density, nil
			}
		}
	}
	return "", 0, errors.Errorf("model %q: want dense, g2g:DENSITY or blocks:DENSITY with DENSITY in (0, 1]", s)
}

func child(env []string, name string, args ...string) (measurement, error) {
	var m measurement
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return m, errors.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		return m, errors.Errorf("unreadable result %q", out.String())
	}
	return m, nil
}

func measure(o options) (measurement, error) {
	model, density, err := parseModel(o.child)
	if err != nil {
		return measurement{}, err
	}
	runtime.GOMAXPROCS(o.threads)
	cfg := g2gnet.Reference()
	cfg.Density = density
	if model == "blocks" {
		cfg.Sampling = layers.SampleBlocks
	}
	if density == 1 {
		cfg.Model = g2gnet.Dense
	}
	m, err := g2gnet.MLP(cfg)
	if err != nil {
		return measurement{}, err
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-3})
	if err != nil {
		return measurement{}, err
	}
	warm := randomData(5*o.batch, 1)
	data := randomData(o.steps*o.batch, 2)
	if _, err := m.Fit(warm, graph.FitConfig{Epochs: 1, BatchSize: o.batch, Optimizer: opt}); err != nil {
		return measurement{}, err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return measurement{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return measurement{}, err
		}
		defer pprof.StopCPUProfile()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	if _, err := m.Fit(data, graph.FitConfig{Epochs: 1, BatchSize: o.batch, Optimizer: opt}); err != nil {
		return measurement{}, err
	}
	train := time.Since(start).Seconds() / float64(o.steps)
	runtime.ReadMemStats(&after)

	test := randomData(10000, 3)
	if _, err := m.Predict(test.X[:1000*784], 1000); err != nil {
		return measurement{}, err
	}
	start = time.Now()
	if _, err := m.Predict(test.X, 1000); err != nil {
		return measurement{}, err
	}
	infer := time.Since(start).Seconds()

	path := filepath.Join(os.TempDir(), fmt.Sprintf("g2g-bench-%d.npz", os.Getpid()))
	defer os.Remove(path)
	if err := m.Export(path); err != nil {
		return measurement{}, err
	}
	inf, err := graph.LoadInference(path)
	if err != nil {
		return measurement{}, err
	}
	start = time.Now()
	if _, err := inf.Predict(test.X, 1000); err != nil {
		return measurement{}, err
	}
	exported := time.Since(start).Seconds()

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return measurement{
		Framework: "g2g (" + graph.BLAS() + ")", Model: model, Density: density,
		SecPerStep: train, InferSec: infer, ExportSec: exported,
		PeakRSSMB: float64(ru.Maxrss) / 1024,
		Allocs:    float64(after.Mallocs-before.Mallocs) / float64(o.steps),
		BytesStep: float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps),
		MACs:      m.MACs(), Threads: o.threads,
	}, nil
}

func randomData(n int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: "random", X: make([]float32, n*784), Y: make([]int, n), Shape: []int{784}, Classes: 10}
	for i := range d.X {
		d.X[i] = rng.Float32()
	}
	for i := range d.Y {
		d.Y[i] = rng.Intn(10)
	}
	return d
}

func table(w io.Writer, rs []pair, o options) error {
	steps := (60000 + o.batch - 1) / o.batch
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "framework\tmodel\ts/epoch\tsamples/s\tGFLOP/s\tpeak RSS MB\tallocs/step\tinfer 10k s\texported infer s\tvs PyTorch train\tvs PyTorch infer\t")
	row := func(ms []measurement, ratios [2]string) {
		r := ms[0]
		name := r.Model
		if r.Model != "dense" {
			name = fmt.Sprintf("%s d=%g", r.Model, r.Density)
		}
		step := median(ms, func(m measurement) float64 { return m.SecPerStep })
		sps := float64(o.batch) / step
		gflops, allocs, exp := "-", "-", "-"
		if r.MACs > 0 {
			// Training costs about 3 passes of 2 FLOPs per active multiply-accumulate.
			gflops = fmt.Sprintf("%.1f", 6*float64(r.MACs)*sps/1e9)
			allocs = fmt.Sprintf("%.0f", median(ms, func(m measurement) float64 { return m.Allocs }))
			exp = fmt.Sprintf("%.2f", median(ms, func(m measurement) float64 { return m.ExportSec }))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.0f\t%s\t%.0f\t%s\t%.2f\t%s\t%s\t%s\t\n", r.Framework, name,
			step*float64(steps), sps, gflops, median(ms, func(m measurement) float64 { return m.PeakRSSMB }), allocs,
			median(ms, func(m measurement) float64 { return m.InferSec }), exp, ratios[0], ratios[1])
	}
	for _, p := range rs {
		ratios := [2]string{"-", "-"}
		if len(p.torch) == len(p.g2g) && len(p.torch) > 0 {
			// The median of the ratios of measurements taken one after
			// the other: robust to the machine's speed drifting.
			train, infer := make([]float64, len(p.g2g)), make([]float64, len(p.g2g))
			for i := range p.g2g {
				train[i] = p.g2g[i].SecPerStep / p.torch[i].SecPerStep
				infer[i] = p.g2g[i].InferSec / p.torch[i].InferSec
			}
			ratios[0] = fmt.Sprintf("%.2fx", medianOf(train))
			ratios[1] = fmt.Sprintf("%.2fx", medianOf(infer))
		}
		row(p.g2g, ratios)
		if len(p.torch) > 0 {
			row(p.torch, [2]string{"-", "-"})
		}
	}
	fmt.Fprintf(tw, "\nbatch %d, %d measured steps, %d threads, medians of %d runs; s/epoch = s/step × %d steps of Fashion-MNIST;\n", o.batch, o.steps, o.threads, o.repeat, steps)
	fmt.Fprintf(tw, "ratios: median over runs of g2g's time / PyTorch's measured right after it (inference: Model.Predict)\n")
	return tw.Flush()
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/internal/sparse"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// childOptions are what a child process measures.
type childOptions struct {
	model        string
	batch, steps int
	threads      int
	probe        bool // training steps only
	cpuProfile   string
}

// measure trains and times one model in this process (a child of the
// benchmark) and, unless probing, times inference over 10,000 images with
// Model.Predict and with the exported model.
func measure(o childOptions) (measurement, error) {
	spec, err := parseModel(o.model)
	if err != nil {
		return measurement{}, err
	}
	runtime.GOMAXPROCS(o.threads)
	cfg := g2gnet.Reference()
	cfg.Density = spec.Density
	if spec.Kind == "blocks" {
		cfg.Sampling = layers.SampleBlocks
	}
	if spec.Kind == "dense" {
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
	info := sparse.BLASInfo()
	res := measurement{
		Framework: "g2g", Model: spec.Kind, Density: spec.Density, SecPerStep: train,
		Allocs:    float64(after.Mallocs-before.Mallocs) / float64(o.steps),
		BytesStep: float64(after.TotalAlloc-before.TotalAlloc) / float64(o.steps),
		MACs:      m.MACs(), TrainMACs: trainMACs(m), Threads: o.threads, BLAS: graph.BLAS(), Core: info.Core,
	}
	if o.probe {
		return res, nil
	}

	test := randomData(10000, 3)
	if _, err := m.Predict(test.X[:1000*784], 1000); err != nil {
		return measurement{}, err
	}
	start = time.Now()
	if _, err := m.Predict(test.X, 1000); err != nil {
		return measurement{}, err
	}
	res.InferSec = time.Since(start).Seconds()

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
	res.ExportSec = time.Since(start).Seconds()

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.PeakRSSMB = float64(ru.Maxrss) / 1024
	}
	return res, nil
}

// trainMACs returns the useful multiply-accumulates of one training step
// per sample: each layer's forward product, its weight gradient and, but
// for the first layer (whose input needs no gradient), its input gradient
// — all over active edges only.
func trainMACs(m *graph.Model) int {
	total, first := 0, -1
	for _, l := range m.Layers() {
		n := layers.MACs(l)
		if n > 0 && first < 0 {
			first = n
		}
		total += 3 * n
	}
	if first > 0 {
		total -= first
	}
	return total
}

// measureSgemm returns the rate of a 1024³ sgemm through g2g's BLAS helper
// (the product every dense layer runs, split between GOMAXPROCS
// goroutines): the median of 20 products after one warm-up.
func measureSgemm(threads int) sgemmRate {
	runtime.GOMAXPROCS(threads)
	const n = 1024
	rng := rand.New(rand.NewSource(1))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = rng.Float32(), rng.Float32()
	}
	sparse.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, a, n, b, n, c, n)
	times := make([]float64, 20)
	for i := range times {
		start := time.Now()
		sparse.Gemm(blas.NoTrans, blas.NoTrans, n, n, n, a, n, b, n, c, n)
		times[i] = time.Since(start).Seconds()
	}
	return sgemmRate{Threads: threads, GFLOPS: 2 * n * n * n / medianOf(times) / 1e9}
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

// childEnv returns env with the variables of set set (and those of unset
// removed).
func childEnv(env []string, set map[string]string, unset ...string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; ok {
			continue
		}
		drop := false
		for _, u := range unset {
			drop = drop || k == u
		}
		if !drop {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// runChild runs a command and decodes every JSON line of its output with
// decode.
func runChild(env []string, decode func([]byte) error, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return errors.Errorf("%s: %v: %s", filepath.Base(name), err, strings.TrimSpace(errb.String()))
	}
	n := 0
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if err := decode([]byte(line)); err != nil {
			return errors.Wrapf(err, "unreadable result %q", line)
		}
		n++
	}
	if n == 0 {
		return errors.Errorf("%s printed no result: %q", filepath.Base(name), out.String())
	}
	return nil
}

// childMeasurement runs a child that prints one measurement.
func childMeasurement(env []string, name string, args ...string) (measurement, error) {
	var m measurement
	err := runChild(env, func(b []byte) error { return json.Unmarshal(b, &m) }, name, args...)
	return m, err
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

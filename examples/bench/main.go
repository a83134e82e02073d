// Command bench measures g2g's training and inference speed on docs/design.md §5's
// Fashion-MNIST models — dense, and G2G at several densities — against a
// PyTorch reference training the same models the way a PyTorch user of the
// paper would (F.linear(x, W*M)), with the same batch and optimizer (Adam),
// best against best:
//
//   - PyTorch is probed for a few steps per model in every configuration of
//     threads (-threads: 1 and all CPUs by default) × OpenBLAS core (as the
//     environment has it, unset so OpenBLAS chooses, the best core for the
//     CPU) × ATen CPU capability (default, avx512 when the CPU has it), and
//     measured in its fastest;
//   - g2g runs with its default BLAS kernels (G2G_BLAS_CORE=auto unless the
//     environment says otherwise) and is probed at each thread count too.
//
// It prints the CPU, the BLAS kernels of both sides, the dense sgemm rate of
// g2g's BLAS on 1 and on all threads, the chosen configurations, a table per
// model (s/epoch, ratios, inference over 10,000 images through Model.Predict,
// the exported model, PyTorch masked and PyTorch CSR, useful multiply-adds
// per second against the sgemm rate, allocations per step, peak RSS) and the
// speed targets of issue 15 as a checklist.
//
//	go run -tags openblas ./examples/bench            # every model, with PyTorch (~7 min on 2 cores)
//	go run -tags openblas ./examples/bench -json      # the same as one JSON document
//	go run -tags openblas ./examples/bench -torch=false -models g2g:0.25 -cpuprofile cpu.prof
//
// Every measurement runs in a child process of its own, so peak RSS is the
// model's alone. Data is random: speed does not depend on it. PyTorch is
// Debian's python3-torch (scripts/deps.sh bench installs it).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/sparse"
	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

type options struct {
	models                          string
	batch, steps, repeat, probeStep int
	threads                         string
	torch                           bool
	python                          string
	jsonOut                         bool
	cpuProfile                      string
	// Internal: a child process measuring one model (or "sgemm").
	child        string
	childThreads int
	probe        bool
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
	fs.IntVar(&o.probeStep, "probe-steps", 6, "measured training steps of each configuration probe")
	fs.StringVar(&o.threads, "threads", threadsDefault(), "comma-separated thread counts to probe both sides at (GOMAXPROCS for g2g, torch.set_num_threads for PyTorch)")
	fs.BoolVar(&o.torch, "torch", true, "also run the PyTorch reference (needs python3 with torch: Debian python3-torch)")
	fs.StringVar(&o.python, "python", "/usr/bin/python3", "python interpreter for the PyTorch reference")
	fs.BoolVar(&o.jsonOut, "json", false, "print the report as one JSON document instead of tables")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of g2g's measured training and inference to this file (one model only)")
	fs.StringVar(&o.child, "child", "", "internal: measure one model (or sgemm) in this process")
	fs.IntVar(&o.childThreads, "child-threads", 1, "internal: the child's GOMAXPROCS")
	fs.BoolVar(&o.probe, "probe", false, "internal: the child measures training steps only")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.batch < 1 || o.steps < 1 || o.repeat < 1 || o.probeStep < 1 || o.childThreads < 1 {
		return errors.New("-batch, -steps, -repeat and -probe-steps must be at least 1")
	}
	enc := json.NewEncoder(stdout)
	switch o.child {
	case "":
	case "sgemm":
		return enc.Encode(measureSgemm(o.childThreads))
	default:
		m, err := measure(childOptions{model: o.child, batch: o.batch, steps: o.steps, threads: o.childThreads, probe: o.probe, cpuProfile: o.cpuProfile})
		if err != nil {
			return err
		}
		return enc.Encode(m)
	}

	threads, err := parseThreads(o.threads)
	if err != nil {
		return err
	}
	var specs []modelSpec
	for _, s := range strings.Split(o.models, ",") {
		m, err := parseModel(s)
		if err != nil {
			return err
		}
		specs = append(specs, m)
	}
	if o.cpuProfile != "" && len(specs) != 1 {
		return errors.New("-cpuprofile needs exactly one model in -models")
	}
	b := &bench{o: o, threads: threads, stderr: stderr}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	rep, err := b.run(specs)
	if err != nil {
		return err
	}
	if o.jsonOut {
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.write(stdout)
}

// threadsDefault is 1 and the number of CPUs.
func threadsDefault() string {
	if n := runtime.NumCPU(); n > 1 {
		return "1," + strconv.Itoa(n)
	}
	return "1"
}

// bench runs the child processes of one benchmark.
type bench struct {
	o       options
	threads []int
	self    string
	stderr  io.Writer
}

func (b *bench) logf(format string, args ...any) { fmt.Fprintf(b.stderr, format+"\n", args...) }

// g2gEnv is the environment of a g2g child at a thread count.
func (b *bench) g2gEnv(threads int) []string {
	return childEnv(os.Environ(), map[string]string{"GOMAXPROCS": strconv.Itoa(threads)})
}

// torchEnv is the environment of a PyTorch child: its OpenBLAS core and
// ATen capability (both read when the libraries load), memory allocator
// and thread count.
func (b *bench) torchEnv(core coreOption, capability string, alloc allocatorOption, threads int) []string {
	set := map[string]string{"OPENBLAS_NUM_THREADS": strconv.Itoa(threads), "OMP_NUM_THREADS": strconv.Itoa(threads)}
	var unset []string
	for _, v := range allocatorVariables {
		if x, ok := alloc.Env[v]; ok {
			set[v] = x
		} else {
			unset = append(unset, v)
		}
	}
	if core.Set {
		set["OPENBLAS_CORETYPE"] = core.Value
	} else {
		unset = append(unset, "OPENBLAS_CORETYPE")
	}
	if capability != "" {
		set["ATEN_CPU_CAPABILITY"] = capability
	} else {
		unset = append(unset, "ATEN_CPU_CAPABILITY")
	}
	return childEnv(os.Environ(), set, unset...)
}

func (b *bench) script() string { return filepath.Join(sourceDir(), "torch_ref.py") }

// run measures everything and returns the report.
func (b *bench) run(specs []modelSpec) (report, error) {
	o := b.o
	m := machine{
		CPU: cpuModel(), CPUs: runtime.NumCPU(), Go: runtime.Version(), G2GBLAS: graph.BLAS(),
		Batch: o.batch, Steps: o.steps, Repeat: o.repeat, ProbeSteps: o.probeStep,
		EpochSteps: (60000 + o.batch - 1) / o.batch, InferSamples: 10000,
	}
	m.EnvCoreType, _ = os.LookupEnv("OPENBLAS_CORETYPE")
	m.G2GBLASCore, _ = os.LookupEnv(sparse.BLASCoreSetting)
	best, why, hasBest := sparse.BestBLASCore()
	if hasBest {
		m.BestCore = best + " (" + why + ")"
	}
	rep := report{}

	for _, t := range b.threads {
		b.logf("measuring sgemm 1024³ on %d thread(s) ...", t)
		var r sgemmRate
		err := runChild(b.g2gEnv(t), func(p []byte) error { return json.Unmarshal(p, &r) }, b.self, "-child", "sgemm", "-child-threads", strconv.Itoa(t))
		if err != nil {
			return rep, errors.Wrap(err, "sgemm")
		}
		m.Sgemm = append(m.Sgemm, r)
	}

	// Probes: g2g at each thread count, PyTorch in each configuration.
	for _, s := range specs {
		for _, t := range b.threads {
			b.logf("probing g2g %s on %d thread(s) ...", s.Spec, t)
			r, err := childMeasurement(b.g2gEnv(t), b.self, "-child", s.Spec, "-batch", strconv.Itoa(o.batch),
				"-steps", strconv.Itoa(o.probeStep), "-child-threads", strconv.Itoa(t), "-probe")
			if err != nil {
				return rep, errors.Wrapf(err, "g2g %s", s.Spec)
			}
			rep.G2GProbes = append(rep.G2GProbes, probe{Key: s.Spec, Config: runConfig{Threads: t, Core: r.Core}, SecPerStep: r.SecPerStep})
		}
	}
	var torchKeys []string
	for _, s := range specs {
		if k := s.torchKey(); !contains(torchKeys, k) {
			torchKeys = append(torchKeys, k)
		}
	}
	allocs := allocatorOptions(fileExists)
	if o.torch {
		inherited, has := os.LookupEnv("OPENBLAS_CORETYPE")
		maxT := 0
		for _, t := range b.threads {
			maxT = max(maxT, t)
		}
		for _, core := range torchCoreOptions(inherited, has, best, hasBest) {
			for _, capability := range capabilityOptions(kernels.CPU().CanAVX512()) {
				for _, alloc := range allocs {
					b.logf("probing PyTorch: %s, ATEN_CPU_CAPABILITY %q, %s, threads %s ...", setting("OPENBLAS_CORETYPE", core.Value)+" ("+core.Mode+")", capability, alloc.describe(), o.threads)
					err := runChild(b.torchEnv(core, capability, alloc, maxT), func(p []byte) error {
						var r measurement
						if err := json.Unmarshal(p, &r); err != nil {
							return err
						}
						m.PyTorch = r.Framework
						spec, err := parseModel(torchSpec(r))
						if err != nil {
							return err
						}
						rep.TorchProb = append(rep.TorchProb, probe{Key: spec.torchKey(), SecPerStep: r.SecPerStep, Config: runConfig{
							Threads: r.Threads, CoreMode: core.Mode, CoreEnv: core.Value, Capability: capability, Core: r.Core, ATen: r.Capability,
							Allocator: alloc.Name}})
						return nil
					}, o.python, b.script(), "--probe", strings.Join(torchKeys, ","), "--threads", joinInts(b.threads),
						"--steps", strconv.Itoa(o.probeStep), "--warmup", "2", "--batch", strconv.Itoa(o.batch))
					if err != nil {
						return rep, errors.Wrap(err, "PyTorch probe (install Debian python3-torch: bash scripts/deps.sh bench; or pass -torch=false)")
					}
				}
			}
		}
	}

	// Measurements: each model o.repeat times, g2g then PyTorch right after.
	for _, s := range specs {
		r := modelResult{Model: s.Spec, Kind: s.Kind, Density: s.Density}
		g, ok := fastest(rep.G2GProbes, s.Spec)
		if !ok {
			return rep, errors.Errorf("g2g %s: no probe", s.Spec)
		}
		r.G2GConfig = g.Config
		var tc *runConfig
		if o.torch {
			p, ok := fastestTorch(rep.TorchProb, s.torchKey())
			if !ok {
				return rep, errors.Errorf("PyTorch %s: no probe", s.torchKey())
			}
			tc = &p.Config
			r.TorchConfig = tc
		}
		for i := 0; i < o.repeat; i++ {
			b.logf("measuring g2g %s, %s (%d/%d) ...", s.Spec, r.G2GConfig, i+1, o.repeat)
			gm, err := childMeasurement(b.g2gEnv(r.G2GConfig.Threads), b.self, "-child", s.Spec, "-batch", strconv.Itoa(o.batch),
				"-steps", strconv.Itoa(o.steps), "-child-threads", strconv.Itoa(r.G2GConfig.Threads), "-cpuprofile", o.cpuProfile)
			if err != nil {
				return report{}, errors.Wrapf(err, "g2g %s", s.Spec)
			}
			r.G2G = append(r.G2G, gm)
			if tc == nil {
				continue
			}
			b.logf("measuring PyTorch %s, %s (%d/%d) ...", s.torchKey(), tc, i+1, o.repeat)
			kind, density := "g2g", s.Density
			if s.Kind == "dense" {
				kind = "dense"
			}
			alloc, err := lookupAllocator(allocs, tc.Allocator)
			if err != nil {
				return report{}, err
			}
			tm, err := childMeasurement(b.torchEnv(tc.coreOption(), tc.Capability, alloc, tc.Threads), o.python, b.script(), "--model", kind,
				"--density", strconv.FormatFloat(density, 'g', -1, 64), "--batch", strconv.Itoa(o.batch), "--steps", strconv.Itoa(o.steps),
				"--threads", strconv.Itoa(tc.Threads), "--csr")
			if err != nil {
				return report{}, errors.Wrapf(err, "PyTorch %s", s.torchKey())
			}
			r.Torch = append(r.Torch, tm)
		}
		r.summarize(m)
		rep.Results = append(rep.Results, r)
	}
	rep.Machine = m
	rep.Checklist = checklist(rep.Results, m)
	return rep, nil
}

// torchSpec is the -models entry of a PyTorch measurement.
func torchSpec(r measurement) string {
	if r.Model == "dense" {
		return "dense"
	}
	return "g2g:" + strconv.FormatFloat(r.Density, 'g', -1, 64)
}

// contains reports whether s holds v.
func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// cpuModel is the processor's model name from /proc/cpuinfo with its
// family and model numbers (the architecture where there is none).
func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOOS + "/" + runtime.GOARCH
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" && len(fields) > 0 {
			break // the first processor only
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	name := fields["model name"]
	if name == "" {
		name = runtime.GOOS + "/" + runtime.GOARCH
	}
	if f, m := fields["cpu family"], fields["model"]; f != "" && m != "" {
		name += fmt.Sprintf(" (family %s, model %s)", f, m)
	}
	return name
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

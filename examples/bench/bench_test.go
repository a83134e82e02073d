package main

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph/g2gnet"
)

func TestParseModelAndThreads(t *testing.T) {
	for in, want := range map[string]modelSpec{
		"dense":      {Spec: "dense", Kind: "dense", Density: 1},
		"g2g:0.25":   {Spec: "g2g:0.25", Kind: "g2g", Density: 0.25},
		" blocks:.5": {Spec: "blocks:.5", Kind: "blocks", Density: 0.5},
	} {
		got, err := parseModel(in)
		if err != nil || got != want {
			t.Errorf("parseModel(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"g2g:0", "g2g:1.5", "g2g", "mlp", "blocks:x"} {
		if _, err := parseModel(bad); err == nil {
			t.Errorf("parseModel(%q) accepted", bad)
		}
	}
	if m, _ := parseModel("blocks:0.125"); m.torchKey() != "g2g:0.125" || m.Name() != "blocks d=0.125" {
		t.Errorf("blocks:0.125: torch key %q, name %q", m.torchKey(), m.Name())
	}
	if got, err := parseThreads("1, 2,1"); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("parseThreads = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := parseThreads(bad); err == nil {
			t.Errorf("parseThreads(%q) accepted", bad)
		}
	}
}

func TestTorchCoreOptions(t *testing.T) {
	modes := func(opts []coreOption) string {
		var s []string
		for _, o := range opts {
			v := o.Mode
			if o.Set {
				v += "=" + o.Value
			}
			s = append(s, v)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		inherited       string
		has             bool
		best            string
		hasBest         bool
		want            string
		capAVX512, caps int
	}{
		// The sandbox: Haswell inherited, Cooperlake best.
		{"Haswell", true, "Cooperlake", true, "environment=Haswell unset best=Cooperlake", 0, 0},
		// Nothing inherited: the environment is the unset case.
		{"", false, "Cooperlake", true, "environment best=Cooperlake", 0, 0},
		// Inherited is the best already (any case).
		{"cooperlake", true, "Cooperlake", true, "environment=cooperlake unset", 0, 0},
		// No AVX2: no best core.
		{"", false, "", false, "environment", 0, 0},
	} {
		if got := modes(torchCoreOptions(c.inherited, c.has, c.best, c.hasBest)); got != c.want {
			t.Errorf("torchCoreOptions(%q, %v, %q, %v) = %q, want %q", c.inherited, c.has, c.best, c.hasBest, got, c.want)
		}
	}
	if got := capabilityOptions(true); len(got) != 2 || got[0] != "" || got[1] != "avx512" {
		t.Errorf("capabilityOptions(true) = %q", got)
	}
	if got := capabilityOptions(false); len(got) != 1 || got[0] != "" {
		t.Errorf("capabilityOptions(false) = %q", got)
	}
	// A chosen configuration restarts with the setting it was probed with.
	for _, o := range torchCoreOptions("Haswell", true, "Cooperlake", true) {
		if got := (runConfig{CoreMode: o.Mode, CoreEnv: o.Value}).coreOption(); got != o {
			t.Errorf("coreOption() = %+v, want %+v", got, o)
		}
	}
}

// The fastest probe of each model wins, the first of equals, ignoring
// other models and failed probes.
func TestFastest(t *testing.T) {
	cfg := func(threads int, mode string) runConfig { return runConfig{Threads: threads, CoreMode: mode} }
	probes := []probe{
		{Key: "g2g:0.25", Config: cfg(2, "environment"), SecPerStep: 0.090},
		{Key: "g2g:0.25", Config: cfg(1, "environment"), SecPerStep: 0.045},
		{Key: "dense", Config: cfg(1, "best"), SecPerStep: 0.010},
		{Key: "g2g:0.25", Config: cfg(1, "best"), SecPerStep: 0.041},
		{Key: "g2g:0.25", Config: cfg(2, "best"), SecPerStep: 0.041},
		{Key: "g2g:0.25", Config: cfg(1, "unset"), SecPerStep: 0},
		{Key: "g2g:0.25", Config: cfg(1, "unset"), SecPerStep: math.NaN()},
	}
	got, ok := fastest(probes, "g2g:0.25")
	if !ok || got.Config != cfg(1, "best") || got.SecPerStep != 0.041 {
		t.Errorf("fastest = %+v, %v; want the 1-thread best-core probe", got, ok)
	}
	if got, ok := fastest(probes, "dense"); !ok || got.SecPerStep != 0.010 {
		t.Errorf("fastest dense = %+v, %v", got, ok)
	}
	if _, ok := fastest(probes, "g2g:0.5"); ok {
		t.Error("a model without probes has a fastest")
	}
}

// PyTorch's choice leaves glibc's default allocator out whenever another
// allocator was probed, however fast its probe; with only default probes,
// it takes the fastest of them.
func TestFastestTorchSkipsDefaultAllocator(t *testing.T) {
	alloc := func(a string) runConfig { return runConfig{Threads: 1, Allocator: a} }
	probes := []probe{
		{Key: "g2g:0.125", Config: alloc(""), SecPerStep: 0.030},
		{Key: "g2g:0.125", Config: alloc("tcmalloc"), SecPerStep: 0.034},
		{Key: "g2g:0.125", Config: alloc("glibc-tuned"), SecPerStep: 0.033},
		{Key: "dense", Config: alloc(""), SecPerStep: 0.050},
	}
	if got, ok := fastestTorch(probes, "g2g:0.125"); !ok || got.Config.Allocator != "glibc-tuned" {
		t.Errorf("fastestTorch = %+v, %v; want the tuned glibc probe", got, ok)
	}
	if got, ok := fastestTorch(probes, "dense"); !ok || got.Config.Allocator != "" {
		t.Errorf("fastestTorch dense = %+v, %v; want the only (default) probe", got, ok)
	}
}

func TestRunConfigString(t *testing.T) {
	for _, c := range []struct {
		cfg  runConfig
		want string
	}{
		{runConfig{Threads: 2, Core: "Cooperlake"}, "2 threads, Cooperlake kernels"},
		{runConfig{Threads: 1, CoreMode: "unset", Core: "Cooperlake", ATen: "AVX512", Capability: "avx512"},
			"1 thread, Cooperlake kernels (OPENBLAS_CORETYPE unset: OpenBLAS's choice), ATen AVX512 (ATEN_CPU_CAPABILITY=avx512)"},
		{runConfig{Threads: 1, CoreMode: "environment", CoreEnv: "Haswell", Core: "Haswell", ATen: "AVX2"},
			"1 thread, Haswell kernels (OPENBLAS_CORETYPE=Haswell from the environment), ATen AVX2 (default)"},
		{runConfig{Threads: 2, CoreMode: "best", CoreEnv: "SkylakeX", Core: "SkylakeX", ATen: "AVX2"},
			"2 threads, SkylakeX kernels (OPENBLAS_CORETYPE=SkylakeX, best for the CPU), ATen AVX2 (default)"},
		{runConfig{Threads: 1, CoreMode: "unset", Core: "Zen", ATen: "AVX2", Allocator: "glibc-tuned"},
			"1 thread, Zen kernels (OPENBLAS_CORETYPE unset: OpenBLAS's choice), ATen AVX2 (default), glibc malloc (MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=1 GiB)"},
		{runConfig{Threads: 1, CoreMode: "unset", Core: "Zen", ATen: "AVX2", Allocator: "tcmalloc"},
			"1 thread, Zen kernels (OPENBLAS_CORETYPE unset: OpenBLAS's choice), ATen AVX2 (default), tcmalloc (LD_PRELOAD)"},
	} {
		if got := c.cfg.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

// testReport is a hand-made run: three models, two repeats, sgemm at 1
// and 2 threads.
func testReport() report {
	m := machine{CPU: "Test CPU", CPUs: 2, Go: "go1.26", G2GBLAS: "OpenBLAS 0.3.21 (Cooperlake kernels; chosen by g2g for AVX-512 BF16)",
		EnvCoreType: "Haswell", BestCore: "Cooperlake (AVX-512 BF16)", PyTorch: "pytorch 1.13",
		Sgemm: []sgemmRate{{1, 160}, {2, 300}}, Batch: 256, Steps: 40, Repeat: 2, ProbeSteps: 6, EpochSteps: 235, InferSamples: 10000}
	g := func(step, infer, allocs float64, trainMACs int) measurement {
		return measurement{Framework: "g2g", SecPerStep: step, InferSec: infer, ExportSec: infer / 2, Allocs: allocs, PeakRSSMB: 300, TrainMACs: trainMACs}
	}
	tm := func(step, infer, csr float64) measurement {
		return measurement{Framework: "pytorch", SecPerStep: step, InferSec: infer, CSRSec: csr, PeakRSSMB: 400}
	}
	torch := &runConfig{Threads: 1, CoreMode: "best", CoreEnv: "Cooperlake", Core: "Cooperlake", ATen: "AVX512", Capability: "avx512"}
	rs := []modelResult{
		{Model: "dense", Kind: "dense", Density: 1, G2GConfig: runConfig{Threads: 2, Core: "Cooperlake"}, TorchConfig: torch,
			G2G: []measurement{g(0.050, 0.20, 700, 1000), g(0.060, 0.22, 650, 1000)}, Torch: []measurement{tm(0.040, 0.25, 0), tm(0.060, 0.25, 0)}},
		// Ratios 0.25 and 0.35: median 0.30 — exactly the target.
		{Model: "g2g:0.25", Kind: "g2g", Density: 0.25, G2GConfig: runConfig{Threads: 2, Core: "Cooperlake"}, TorchConfig: torch,
			G2G: []measurement{g(0.010, 0.10, 90, 2_000_000), g(0.014, 0.10, 80, 2_000_000)}, Torch: []measurement{tm(0.040, 0.20, 0.5), tm(0.040, 0.30, 0.09)}},
		{Model: "blocks:0.5", Kind: "blocks", Density: 0.5, G2GConfig: runConfig{Threads: 1, Core: "Cooperlake"},
			G2G: []measurement{g(0.030, 0.15, 120, 0)}},
	}
	for i := range rs {
		rs[i].summarize(m)
	}
	return report{Machine: m, Results: rs, Checklist: checklist(rs, m)}
}

func TestSummarize(t *testing.T) {
	rep := testReport()
	d, g := rep.Results[0].Summary, rep.Results[1].Summary
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// dense: steps 0.050, 0.060 → median 0.055 s = 12.925 s/epoch; ratios 1.25 and 1.0.
	near("dense s/epoch", d.G2GEpochSec, 0.055*235)
	near("dense PyTorch s/epoch", d.TorchEpochSec, 0.050*235)
	near("dense train ratio", d.TrainRatio, 1.125)
	near("dense infer ratio", d.InferRatio, (0.8+0.88)/2)
	if d.CSRRatio != 0 || d.TorchCSRSec != 0 {
		t.Errorf("dense has no CSR measurement: %v, %v", d.CSRRatio, d.TorchCSRSec)
	}
	near("g2g train ratio", g.TrainRatio, 0.30)
	near("g2g infer ratio", g.InferRatio, (0.5+1.0/3)/2)
	near("g2g CSR ratio", g.CSRRatio, (0.2+0.10/0.09)/2)
	// 2M MACs × 256 samples per 0.012 s step = 42.67 GMAC/s; sgemm 80 and
	// 150 GMAC/s on 1 and 2 threads.
	macs := 2e6 * 256 / 0.012 / 1e9
	near("useful GMAC/s", g.G2GGMACs, macs)
	near("PyTorch useful GMAC/s", g.TorchGMACs, 2e6*256/0.040/1e9)
	near("fraction of 1-thread sgemm", g.G2GFracOne, macs/80)
	near("fraction of 2-thread sgemm", g.G2GFracAll, macs/150)
	near("fraction at own threads", g.G2GFracOwn, macs/150)
	near("allocs", g.G2GAllocs, 85)
}

func TestChecklist(t *testing.T) {
	rep := testReport()
	want := []struct{ status, value string }{
		{"PASS", "0.30x"}, // d=0.25 training at exactly 0.30x
		{"n/a", "model g2g:0.125 not measured"},
		{"MISS", "1.12x"}, // dense 1.125x
		{"MISS", "0.42x"}, // inference 0.4167x > 0.40x
		{"MISS", "0.66x"}, // vs CSR: (0.2 + 1.11)/2 = 0.656 — faster, so...
		{"MISS", "28 %"},  // 42.7 of 150 GMAC/s
		{"MISS", "675 (most: dense)"},
	}
	// ...the CSR ratio is below 1: that target passes.
	want[4].status = "PASS"
	if len(rep.Checklist) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(rep.Checklist), len(want), rep.Checklist)
	}
	for i, w := range want {
		c := rep.Checklist[i]
		if c.Status != w.status || !strings.HasPrefix(c.Value, w.value) {
			t.Errorf("check %q: %s %q, want %s %q", c.Target, c.Status, c.Value, w.status, w.value)
		}
	}
	// Without PyTorch the ratio targets are not measured, never passed.
	rs := testReport().Results
	for i := range rs {
		rs[i].Torch, rs[i].TorchConfig = nil, nil
		rs[i].Summary = summary{}
		rs[i].summarize(rep.Machine)
	}
	for _, c := range checklist(rs, rep.Machine)[:5] {
		if c.Status != "n/a" {
			t.Errorf("without PyTorch: %q is %s (%s)", c.Target, c.Status, c.Value)
		}
	}
}

func TestReportTable(t *testing.T) {
	var buf bytes.Buffer
	if err := testReport().write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"machine: Test CPU, 2 CPUs; go1.26\n",
		"g2g BLAS: OpenBLAS 0.3.21 (Cooperlake kernels; chosen by g2g for AVX-512 BF16)\n",
		"environment: OPENBLAS_CORETYPE=Haswell, G2G_BLAS_CORE unset; best OpenBLAS core for this CPU: Cooperlake (AVX-512 BF16)\n",
		"dense sgemm 1024³ through g2g's BLAS: 160.0 GFLOP/s = 80.0 GMAC/s on 1 thread; 300.0 GFLOP/s = 150.0 GMAC/s on 2 threads\n",
		"g2g:0.25    2 threads, Cooperlake kernels  1 thread, Cooperlake kernels (OPENBLAS_CORETYPE=Cooperlake, best for the CPU), ATen AVX512 (ATEN_CPU_CAPABILITY=avx512)\n",
		"blocks:0.5  1 thread, Cooperlake kernels   -\n",
		"% sgemm 2 thr",
		"  [PASS] G2G d=0.25 training ≤ 0.30x PyTorch masked: 0.30x\n",
		"  [n/a ] G2G d=0.125 training ≤ 0.18x PyTorch masked: model g2g:0.125 not measured\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// One g2g row per model and one PyTorch row per model with PyTorch.
	var g2gRows, torchRows int
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == "g2g" && f[0] != "model" { // not the configurations' header
			g2gRows++
			if f[0] == "g2g:0.25" && (f[2] != "2.8" || f[3] != "0.30x" || f[4] != "0.10" || f[5] != "0.05") {
				t.Errorf("g2g:0.25 row %q", line)
			}
		}
		if len(f) > 1 && f[0] == "PyTorch" {
			torchRows++
		}
	}
	if g2gRows != 3 || torchRows != 2 {
		t.Errorf("%d g2g rows and %d PyTorch rows, want 3 and 2:\n%s", g2gRows, torchRows, out)
	}
	// -json writes the same report.
	raw, err := json.Marshal(testReport())
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(raw, &back); err != nil || back.Checklist[0].Status != "PASS" || back.Results[1].Summary.TrainRatio != testReport().Results[1].Summary.TrainRatio {
		t.Errorf("JSON round trip: %v, %+v", err, back.Checklist)
	}
}

// The probe tables have a row per configuration and a column per model,
// the fastest of each column starred.
func TestProbeTable(t *testing.T) {
	cfg := func(threads int, mode, env, core string) runConfig {
		return runConfig{Threads: threads, CoreMode: mode, CoreEnv: env, Core: core, ATen: "AVX2"}
	}
	probes := []probe{
		{"g2g:0.25", cfg(1, "environment", "Haswell", "Haswell"), 0.0450},
		{"g2g:0.25", cfg(2, "environment", "Haswell", "Haswell"), 0.0820},
		{"dense", cfg(1, "environment", "Haswell", "Haswell"), 0.0400},
		{"dense", cfg(2, "environment", "Haswell", "Haswell"), 0.0790},
		{"g2g:0.25", cfg(1, "best", "Cooperlake", "Cooperlake"), 0.0410},
		{"g2g:0.25", cfg(2, "best", "Cooperlake", "Cooperlake"), 0.0700},
	}
	var buf bytes.Buffer
	if err := writeProbes(&buf, probes, fastestTorch); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want a header and 4 configurations:\n%s", len(lines), buf.String())
	}
	for i, want := range [][]string{
		{"configuration", "g2g:0.25", "dense"},
		{"(default)", "45.0", "*40.0"},
		{"(default)", "82.0", "79.0"},
		{"(default)", "*41.0", "-"},
		{"(default)", "70.0", "-"},
	} {
		f := strings.Fields(lines[i])
		if got := f[len(f)-3:]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d %q ends %q, want %q", i, lines[i], got, want)
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(lines[3]), "1 thread, Cooperlake kernels (OPENBLAS_CORETYPE=Cooperlake, best for the CPU)") {
		t.Errorf("line 3: %q", lines[3])
	}
}

// The useful MACs of a training step are three passes over the active
// edges, less the first layer's input gradient.
func TestTrainMACs(t *testing.T) {
	cfg := g2gnet.Reference()
	cfg.Hidden = []int{32, 16}
	cfg.Groups = 4
	cfg.Model = g2gnet.Dense
	m, err := g2gnet.MLP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, rest := 784*32, 32*16+16*10
	if m.MACs() != first+rest {
		t.Fatalf("MACs() = %d, want %d", m.MACs(), first+rest)
	}
	if got := trainMACs(m); got != 2*first+3*rest {
		t.Errorf("trainMACs = %d, want %d", got, 2*first+3*rest)
	}
}

// PyTorch is probed with glibc's malloc as it comes and tuned, and with
// tcmalloc and jemalloc only where their libraries are; a child's
// allocator variables come from its option alone.
func TestAllocatorOptions(t *testing.T) {
	names := func(opts []allocatorOption) (out []string) {
		for _, o := range opts {
			out = append(out, o.Name)
		}
		return out
	}
	none := allocatorOptions(func(string) bool { return false })
	if got := names(none); !slices.Equal(got, []string{"", "glibc-tuned"}) {
		t.Errorf("without libraries: %q", got)
	}
	all := allocatorOptions(func(string) bool { return true })
	if got := names(all); !slices.Equal(got, []string{"", "glibc-tuned", "tcmalloc", "jemalloc"}) {
		t.Errorf("with libraries: %q", got)
	}
	if _, err := lookupAllocator(none, "tcmalloc"); err == nil {
		t.Error("lookupAllocator found an allocator that was not probed")
	}
	t.Setenv("LD_PRELOAD", "/inherited.so")
	t.Setenv("MALLOC_MMAP_THRESHOLD_", "1")
	b := &bench{}
	env := b.torchEnv(coreOption{Mode: "unset"}, "", all[2], 1)
	if !slices.Contains(env, "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4") || slices.Contains(env, "MALLOC_MMAP_THRESHOLD_=1") ||
		slices.Contains(env, "LD_PRELOAD=/inherited.so") {
		t.Errorf("tcmalloc child environment: %q", env)
	}
	env = b.torchEnv(coreOption{Mode: "unset"}, "", all[1], 1)
	if !slices.Contains(env, "MALLOC_MMAP_THRESHOLD_=33554432") || !slices.Contains(env, "MALLOC_TRIM_THRESHOLD_=1073741824") ||
		slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "LD_PRELOAD=") }) {
		t.Errorf("glibc-tuned child environment: %q", env)
	}
}

package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// runConfig is one way to run a side of the comparison: its thread count
// and, for PyTorch, the OpenBLAS core and ATen CPU capability it was
// started with, plus what the process reported it ran.
type runConfig struct {
	// Threads is GOMAXPROCS for g2g, torch.set_num_threads (and OpenBLAS's
	// threads) for PyTorch.
	Threads int `json:"threads"`
	// CoreMode says how OPENBLAS_CORETYPE was set for PyTorch:
	// "environment" (as this process has it), "unset" (OpenBLAS's own
	// choice) or "best" (the best core for the CPU); "" for g2g, which
	// chooses itself (G2G_BLAS_CORE).
	CoreMode string `json:"core_mode,omitempty"`
	// CoreEnv is the OPENBLAS_CORETYPE given ("" when unset).
	CoreEnv string `json:"openblas_coretype,omitempty"`
	// Capability is the ATEN_CPU_CAPABILITY given ("" for ATen's default).
	Capability string `json:"aten_cpu_capability,omitempty"`
	// Core is the OpenBLAS core the process reported.
	Core string `json:"blas_core,omitempty"`
	// ATen is the CPU capability PyTorch reported using.
	ATen string `json:"cpu_capability,omitempty"`
	// Allocator is the memory allocator PyTorch ran with: "" for glibc's
	// malloc as configured by default, or an allocatorOption's Name.
	Allocator string `json:"allocator,omitempty"`
}

// String describes the configuration in one line.
func (c runConfig) String() string {
	threads := fmt.Sprintf("%d threads", c.Threads)
	if c.Threads == 1 {
		threads = "1 thread"
	}
	parts := []string{threads}
	core := c.Core
	if core == "" {
		core = "?"
	}
	switch c.CoreMode {
	case "":
		if c.Core != "" {
			parts = append(parts, core+" kernels")
		}
	case "unset":
		parts = append(parts, core+" kernels (OPENBLAS_CORETYPE unset: OpenBLAS's choice)")
	case "environment":
		if c.CoreEnv == "" {
			parts = append(parts, core+" kernels (environment: no OPENBLAS_CORETYPE)")
		} else {
			parts = append(parts, core+" kernels (OPENBLAS_CORETYPE="+c.CoreEnv+" from the environment)")
		}
	default:
		parts = append(parts, core+" kernels (OPENBLAS_CORETYPE="+c.CoreEnv+", best for the CPU)")
	}
	if c.ATen != "" || c.Capability != "" {
		a := "ATen " + c.ATen
		if c.Capability == "" {
			a += " (default)"
		} else {
			a += " (ATEN_CPU_CAPABILITY=" + c.Capability + ")"
		}
		parts = append(parts, a)
	}
	if c.Allocator != "" {
		parts = append(parts, allocatorOption{Name: c.Allocator}.describe())
	}
	return strings.Join(parts, ", ")
}

// coreOption returns the OPENBLAS_CORETYPE setting the configuration was
// started with.
func (c runConfig) coreOption() coreOption {
	return coreOption{Mode: c.CoreMode, Value: c.CoreEnv, Set: c.CoreMode != "unset" && c.CoreEnv != ""}
}

// coreOption is one OPENBLAS_CORETYPE setting to probe PyTorch with.
type coreOption struct {
	// Mode is "environment", "unset" or "best" (see runConfig.CoreMode).
	Mode string
	// Value is the variable's value; Set false removes it.
	Value string
	Set   bool
}

// torchCoreOptions lists the OPENBLAS_CORETYPE settings to probe PyTorch
// with — as the environment has it (inherited, when hasInherited), unset
// (OpenBLAS's own choice) and the best core for the CPU (best, when
// hasBest) — leaving out those that repeat another.
func torchCoreOptions(inherited string, hasInherited bool, best string, hasBest bool) []coreOption {
	opts := []coreOption{{Mode: "environment", Value: inherited, Set: hasInherited}}
	if hasInherited {
		opts = append(opts, coreOption{Mode: "unset"})
	}
	if hasBest && !(hasInherited && strings.EqualFold(strings.TrimSpace(inherited), best)) {
		opts = append(opts, coreOption{Mode: "best", Value: best, Set: true})
	}
	return opts
}

// capabilityOptions lists the ATEN_CPU_CAPABILITY values to probe PyTorch
// with: ATen's default ("") and avx512 when the CPU can run AVX-512.
func capabilityOptions(avx512 bool) []string {
	if avx512 {
		return []string{"", "avx512"}
	}
	return []string{""}
}

// probe is one short measurement of a model in one configuration.
type probe struct {
	// Key names the model as the side runs it (see torchKey).
	Key        string    `json:"model"`
	Config     runConfig `json:"config"`
	SecPerStep float64   `json:"sec_per_step"`
}

// fastest returns the probe of key with the shortest step, the first of
// equals; ok is false when key has no valid probe.
func fastest(probes []probe, key string) (best probe, ok bool) {
	for _, p := range probes {
		if p.Key != key || !(p.SecPerStep > 0) {
			continue
		}
		if !ok || p.SecPerStep < best.SecPerStep {
			best, ok = p, true
		}
	}
	return best, ok
}

// fastestTorch is fastest for PyTorch's probes, leaving glibc's default
// allocator out when other allocators were probed. Its probes are not
// representative: all models of a probe run in one process, and glibc's
// dynamic mmap threshold, raised by the large blocks the earlier models
// freed, spares the later ones the mmap and munmap of every large tensor
// that a fresh process pays at every step (a probe of 31 ms per step,
// measured at 142 ms in its own process). In a fresh process the tuned
// glibc option is the same allocator without that cost.
func fastestTorch(probes []probe, key string) (best probe, ok bool) {
	var tuned []probe
	for _, p := range probes {
		if p.Config.Allocator != "" {
			tuned = append(tuned, p)
		}
	}
	if best, ok = fastest(tuned, key); ok {
		return best, true
	}
	return fastest(probes, key)
}

// modelSpec is one model of the -models list.
type modelSpec struct {
	// Spec is the model as given: dense, g2g:D or blocks:D.
	Spec string
	// Kind is dense, g2g or blocks.
	Kind    string
	Density float64
}

// Name is the model's name in tables: dense, or e.g. "g2g d=0.25".
func (m modelSpec) Name() string {
	if m.Kind == "dense" {
		return "dense"
	}
	return fmt.Sprintf("%s d=%g", m.Kind, m.Density)
}

// torchKey is the PyTorch model measuring this one: a PyTorch user masks
// the same way whatever the mask's structure, so blocks:D is g2g:D.
func (m modelSpec) torchKey() string {
	if m.Kind == "dense" {
		return "dense"
	}
	return fmt.Sprintf("g2g:%g", m.Density)
}

// parseModel reads one entry of -models.
func parseModel(s string) (modelSpec, error) {
	s = strings.TrimSpace(s)
	if s == "dense" {
		return modelSpec{Spec: s, Kind: "dense", Density: 1}, nil
	}
	for _, kind := range []string{"g2g", "blocks"} {
		if d, ok := strings.CutPrefix(s, kind+":"); ok {
			density, err := strconv.ParseFloat(d, 64)
			if err == nil && density > 0 && density <= 1 {
				return modelSpec{Spec: s, Kind: kind, Density: density}, nil
			}
		}
	}
	return modelSpec{}, errors.Errorf("model %q: want dense, g2g:DENSITY or blocks:DENSITY with DENSITY in (0, 1]", s)
}

// parseThreads reads -threads: a comma-separated list of thread counts,
// each at least 1, without repeats.
func parseThreads(s string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, errors.Errorf("-threads %q: want a comma-separated list of thread counts ≥ 1", s)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// allocatorOption is one memory allocator to probe PyTorch with. PyTorch on
// CPU allocates and frees its activation and gradient tensors (4 MB for a
// 1024×1024 weight gradient) on every step; glibc's malloc by default
// serves blocks that large with mmap and returns them with munmap, so
// every step faults in and zeroes fresh pages — on this project's 2-core
// machines that made PyTorch's training step three to four times slower.
// PyTorch's CPU performance guide recommends tcmalloc or jemalloc for this
// reason; raising glibc's mmap and trim thresholds needs no install.
type allocatorOption struct {
	// Name is "" (glibc's defaults), "glibc-tuned", "tcmalloc" or
	// "jemalloc".
	Name string
	// Env holds the variables that select the allocator.
	Env map[string]string
}

// glibcTuned keeps blocks up to 32 MiB (glibc's largest mmap threshold on
// 64-bit) in the heap and trims the heap only above 1 GiB.
var glibcTuned = map[string]string{"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824"}

// allocatorVariables are the variables an allocatorOption may set: a
// PyTorch child gets them from its option only, never from the bench's
// environment.
var allocatorVariables = []string{"LD_PRELOAD", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"}

// describe says what the option is, for configuration lines.
func (a allocatorOption) describe() string {
	switch a.Name {
	case "":
		return "glibc malloc (defaults)"
	case "glibc-tuned":
		return "glibc malloc (MALLOC_MMAP_THRESHOLD_=32 MiB, MALLOC_TRIM_THRESHOLD_=1 GiB)"
	default:
		return a.Name + " (LD_PRELOAD)"
	}
}

// allocatorOptions lists the allocators to probe PyTorch with: glibc's
// defaults, glibc with raised thresholds, and tcmalloc and jemalloc when
// exists finds their libraries (Debian libtcmalloc-minimal4, libjemalloc2;
// bash scripts/deps.sh bench installs them).
func allocatorOptions(exists func(string) bool) []allocatorOption {
	opts := []allocatorOption{{}, {Name: "glibc-tuned", Env: glibcTuned}}
	for _, lib := range []struct{ name, file string }{
		{"tcmalloc", "libtcmalloc_minimal.so.4"},
		{"jemalloc", "libjemalloc.so.2"},
	} {
		for _, dir := range libraryDirs {
			if path := dir + "/" + lib.file; exists(path) {
				opts = append(opts, allocatorOption{Name: lib.name, Env: map[string]string{"LD_PRELOAD": path}})
				break
			}
		}
	}
	return opts
}

// libraryDirs are where allocatorOptions looks for the allocators'
// libraries (Debian's multiarch directories first).
var libraryDirs = []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"}

// lookupAllocator returns the option called name among opts.
func lookupAllocator(opts []allocatorOption, name string) (allocatorOption, error) {
	for _, o := range opts {
		if o.Name == name {
			return o, nil
		}
	}
	return allocatorOption{}, errors.Errorf("allocator %q: not among the probed ones", name)
}

package sparse

import (
	"fmt"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Choosing OpenBLAS's kernels (docs/design.md §6.2). A DYNAMIC_ARCH
// OpenBLAS picks its kernels ("core") when the library loads, from its own
// CPU detection or from the environment variable OPENBLAS_CORETYPE. Its
// detection can be wrong (Debian's 0.3.21 takes Sapphire Rapids Xeons for
// a generic "Prescott" and runs SSE3 kernels five times slower), and the
// environment can carry a weaker core than the CPU runs. The OpenBLAS
// backend therefore decides the core itself before it loads the library,
// following the setting G2G_BLAS_CORE:
//
//   - auto (the default, also when empty): the best core for this CPU —
//     Cooperlake with AVX-512 BF16, SkylakeX with AVX-512 (F, CD, BW, DQ,
//     VL), Zen (AMD, Hygon) or Haswell (others) with AVX2 and FMA, and
//     OpenBLAS's own choice below that. An OPENBLAS_CORETYPE in the
//     environment is kept when it is as good for this CPU, and overridden
//     (saying so) when it is weaker or when the CPU cannot run it.
//   - env: OPENBLAS_CORETYPE as the environment has it, or OpenBLAS's own
//     choice when it is unset; a core the CPU cannot run (or that OpenBLAS
//     does not know) is refused and OpenBLAS chooses.
//   - a core name (any case, e.g. SkylakeX): that core, when the CPU can
//     run it. Otherwise the setting is refused with an error (reported by
//     BLASInfo and BLASName) and auto's choice is used.
//
// The decision never sets a core whose instructions the CPU, or the
// operating system's saved register state, lacks.

// BLASCoreSetting is the environment variable that chooses OpenBLAS's
// kernels: auto (default), env or a core name.
const BLASCoreSetting = "G2G_BLAS_CORE"

// OpenBLASLibrarySetting is the environment variable naming the OpenBLAS
// library that binaries built with -tags openblas load (a file name dlopen
// searches for, or a path); by default libopenblas.so.0, then
// libopenblas.so.
const OpenBLASLibrarySetting = "G2G_OPENBLAS_LIB"

// coreSpec is one of the cores a DYNAMIC_ARCH OpenBLAS 0.3.21 knows on
// x86-64: its name as OpenBLAS spells it, the kernels it runs as (64-bit
// OpenBLAS runs the 32-bit-era cores as Prescott), what it needs from the
// CPU, and its rank for auto (0 for cores auto never prefers).
type coreSpec struct {
	name, runs string
	needs      string
	can        func(kernels.CPUFeatures) bool
	rank       int
}

var (
	canSSE2  = func(f kernels.CPUFeatures) bool { return f.SSE2 }
	canSSE3  = func(f kernels.CPUFeatures) bool { return f.SSE2 && f.SSE3 }
	canSSSE3 = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.SSSE3 }
	canSSE41 = func(f kernels.CPUFeatures) bool { return canSSSE3(f) && f.SSE41 }
	canSSE42 = func(f kernels.CPUFeatures) bool { return canSSE41(f) && f.SSE42 }
	canSSE4A = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.SSE4A }
	canAVX   = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.CanAVX() }
	canFMA4  = func(f kernels.CPUFeatures) bool { return canAVX(f) && f.FMA4 }
	canBDFMA = func(f kernels.CPUFeatures) bool { return canFMA4(f) && f.FMA }
	canEXC   = func(f kernels.CPUFeatures) bool { return canBDFMA(f) && f.AVX2 }
	canAVX2  = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.CanAVX2FMA() }
	can512   = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.CanAVX512() }
	can512BF = func(f kernels.CPUFeatures) bool { return canSSE3(f) && f.CanAVX512BF16() }
)

// coreSpecs lists the cores; where OpenBLAS's kernels for a core might use
// more than its generation's defining extension, the requirement errs on
// the side of refusing.
var coreSpecs = []coreSpec{
	{"Katmai", "Prescott", "SSE3", canSSE3, 0},
	{"Coppermine", "Prescott", "SSE3", canSSE3, 0},
	{"Northwood", "Prescott", "SSE3", canSSE3, 0},
	{"Prescott", "Prescott", "SSE3", canSSE3, 0},
	{"Banias", "Prescott", "SSE3", canSSE3, 0},
	{"Atom", "Atom", "SSSE3", canSSSE3, 0},
	{"Core2", "Core2", "SSSE3", canSSSE3, 0},
	{"Penryn", "Penryn", "SSE4.1", canSSE41, 0},
	{"Dunnington", "Dunnington", "SSE4.1", canSSE41, 0},
	{"Nehalem", "Nehalem", "SSE4.2", canSSE42, 0},
	{"Athlon", "Prescott", "SSE3", canSSE3, 0},
	{"Opteron", "Opteron", "SSE2", canSSE2, 0},
	{"Opteron_SSE3", "Opteron_SSE3", "SSE3", canSSE3, 0},
	{"Barcelona", "Barcelona", "SSE3 and SSE4A", canSSE4A, 0},
	{"Nano", "Nano", "SSSE3", canSSSE3, 0},
	{"Sandybridge", "Sandybridge", "AVX", canAVX, 0},
	{"Bobcat", "Bobcat", "SSSE3 and SSE4A", func(f kernels.CPUFeatures) bool { return canSSSE3(f) && f.SSE4A }, 0},
	{"Bulldozer", "Bulldozer", "AVX and FMA4", canFMA4, 0},
	{"Piledriver", "Piledriver", "AVX, FMA and FMA4", canBDFMA, 0},
	{"Haswell", "Haswell", "AVX2 and FMA", canAVX2, 1},
	{"Steamroller", "Steamroller", "AVX, FMA and FMA4", canBDFMA, 0},
	{"Excavator", "Excavator", "AVX2, FMA and FMA4", canEXC, 0},
	{"Zen", "Zen", "AVX2 and FMA", canAVX2, 1},
	{"SkylakeX", "SkylakeX", "AVX-512 F, CD, BW, DQ and VL", can512, 2},
	{"Cooperlake", "Cooperlake", "AVX-512 F, CD, BW, DQ, VL and BF16", can512BF, 3},
}

// findCore returns the core called name (any case), as OpenBLAS matches it.
func findCore(name string) (coreSpec, bool) {
	for _, c := range coreSpecs {
		if strings.EqualFold(c.name, strings.TrimSpace(name)) {
			return c, true
		}
	}
	return coreSpec{}, false
}

// coreNames lists the known cores' names, for error messages.
func coreNames() string {
	names := make([]string, len(coreSpecs))
	for i, c := range coreSpecs {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// checkCore returns the core called name if the CPU can run it, and an
// error saying why not otherwise.
func checkCore(name string, cpu kernels.CPUFeatures) (coreSpec, error) {
	c, ok := findCore(name)
	if !ok {
		return c, errors.Errorf("%q is not an OpenBLAS core (known: %s)", name, coreNames())
	}
	if !c.can(cpu) {
		return c, errors.Errorf("this CPU cannot run %s kernels (they need %s)", c.name, c.needs)
	}
	return c, nil
}

// bestCore returns the core auto chooses for the CPU and why, or ok false
// when the CPU has no AVX2 and FMA (OpenBLAS then chooses).
func bestCore(cpu kernels.CPUFeatures) (c coreSpec, why string, ok bool) {
	switch {
	case can512BF(cpu):
		c, _ = findCore("Cooperlake")
		return c, "AVX-512 BF16", true
	case can512(cpu):
		c, _ = findCore("SkylakeX")
		return c, "AVX-512", true
	case canAVX2(cpu):
		name := "Haswell"
		if cpu.Vendor == "AuthenticAMD" || cpu.Vendor == "HygonGenuine" {
			name = "Zen"
		}
		c, _ = findCore(name)
		return c, "AVX2+FMA", true
	}
	return coreSpec{}, "", false
}

// BestBLASCore returns the OpenBLAS core G2G_BLAS_CORE=auto chooses for
// this CPU and the features it is chosen for, e.g. "Cooperlake" and
// "AVX-512 BF16"; ok is false when the CPU has no AVX2 and FMA (auto then
// leaves the choice to OpenBLAS). The benchmark gives PyTorch's OpenBLAS
// the same core.
func BestBLASCore() (core, why string, ok bool) {
	c, why, ok := bestCore(kernels.CPU())
	return c.name, why, ok
}

// coreChoice is what the backend does before loading OpenBLAS.
type coreChoice struct {
	// env is the value OPENBLAS_CORETYPE must have while the library
	// loads; "" means unset (OpenBLAS detects the CPU itself).
	env string
	// want is the core OpenBLAS should then report ("" when OpenBLAS
	// chooses).
	want string
	// setting is G2G_BLAS_CORE's value as used: auto, env or a core name.
	setting string
	// reason says why, for BLASName.
	reason string
	// err is a refused G2G_BLAS_CORE; the choice is auto's then.
	err error
}

// chooseCore decides OpenBLAS's core for the CPU from G2G_BLAS_CORE's value
// (setting) and OPENBLAS_CORETYPE's (inherited, present when hasInherited).
func chooseCore(cpu kernels.CPUFeatures, setting, inherited string, hasInherited bool) coreChoice {
	mode := strings.TrimSpace(setting)
	switch strings.ToLower(mode) {
	case "", "auto":
		return chooseAuto(cpu, inherited, hasInherited)
	case "env":
		ch := coreChoice{setting: "env"}
		if !hasInherited {
			ch.reason = "OpenBLAS's own choice (" + BLASCoreSetting + "=env, no OPENBLAS_CORETYPE)"
			return ch
		}
		c, err := checkCore(inherited, cpu)
		if err != nil {
			ch.reason = fmt.Sprintf("OpenBLAS's own choice; OPENBLAS_CORETYPE=%s in the environment refused: %v", inherited, err)
			return ch
		}
		ch.env, ch.want = inherited, c.runs
		ch.reason = "OPENBLAS_CORETYPE=" + inherited + " from the environment (" + BLASCoreSetting + "=env)"
		return ch
	}
	c, err := checkCore(mode, cpu)
	if err != nil {
		ch := chooseAuto(cpu, inherited, hasInherited)
		ch.err = errors.Wrapf(err, "%s=%s refused", BLASCoreSetting, mode)
		ch.reason += "; " + ch.err.Error()
		return ch
	}
	ch := coreChoice{env: c.name, want: c.runs, setting: c.name, reason: "set by " + BLASCoreSetting + "=" + mode}
	if hasInherited && !strings.EqualFold(inherited, c.name) {
		ch.reason += "; OPENBLAS_CORETYPE=" + inherited + " in the environment overridden"
	}
	return ch
}

// chooseAuto is chooseCore's auto mode.
func chooseAuto(cpu kernels.CPUFeatures, inherited string, hasInherited bool) coreChoice {
	ch := coreChoice{setting: "auto"}
	best, why, ok := bestCore(cpu)
	var refused error
	if hasInherited {
		c, err := checkCore(inherited, cpu)
		if err == nil && (!ok || c.rank >= best.rank) {
			ch.env, ch.want = inherited, c.runs
			ch.reason = "OPENBLAS_CORETYPE=" + inherited + " from the environment"
			if ok {
				ch.reason += fmt.Sprintf(" (as good as g2g's choice for %s)", why)
			}
			return ch
		}
		refused = err
	}
	if ok {
		ch.env, ch.want = best.name, best.runs
		ch.reason = "chosen by g2g for " + why
	} else {
		ch.reason = "OpenBLAS's own choice (no AVX2+FMA on this CPU)"
	}
	switch {
	case hasInherited && refused != nil:
		ch.reason += fmt.Sprintf("; OPENBLAS_CORETYPE=%s in the environment refused: %v", inherited, refused)
	case hasInherited:
		ch.reason += "; OPENBLAS_CORETYPE=" + inherited + " in the environment overridden"
	}
	return ch
}

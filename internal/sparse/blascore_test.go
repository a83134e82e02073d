package sparse

import (
	"strings"
	"testing"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// Fake processors for the core decision.
var (
	cpuSSE3 = kernels.CPUFeatures{Vendor: "GenuineIntel", SSE2: true, SSE3: true}
	cpuSSE4 = kernels.CPUFeatures{Vendor: "GenuineIntel", SSE2: true, SSE3: true, SSSE3: true, SSE41: true, SSE42: true}
	cpuAVX  = withAVX(cpuSSE4)
	cpuHSW  = withAVX2(cpuAVX)
	cpuZen2 = func() kernels.CPUFeatures { f := cpuHSW; f.Vendor = "AuthenticAMD"; f.SSE4A = true; return f }()
	cpuSKX  = withAVX512(cpuHSW)
	cpuSPR  = func() kernels.CPUFeatures { f := cpuSKX; f.AVX512BF16 = true; return f }()
	cpuZen5 = func() kernels.CPUFeatures { f := cpuSPR; f.Vendor = "AuthenticAMD"; f.SSE4A = true; return f }()
	// An AVX-512 processor whose operating system does not save the zmm
	// registers (AVX-512 is unusable there).
	cpuSPRNoZMM = func() kernels.CPUFeatures { f := cpuSPR; f.OSZMM = false; return f }()
	// An AVX-512 processor without BW and VL (Knights Landing's subset).
	cpuKNL = func() kernels.CPUFeatures { f := cpuSKX; f.AVX512BW, f.AVX512VL = false, false; return f }()
	// Bulldozer-era AMD: AVX with FMA4 but no FMA3.
	cpuBD = func() kernels.CPUFeatures {
		f := cpuAVX
		f.Vendor = "AuthenticAMD"
		f.SSE4A, f.FMA4 = true, true
		return f
	}()

	fakeCPUs = map[string]kernels.CPUFeatures{"SSE3": cpuSSE3, "SSE4": cpuSSE4, "AVX": cpuAVX, "Haswell": cpuHSW,
		"Zen2": cpuZen2, "SkylakeX": cpuSKX, "SapphireRapids": cpuSPR, "Zen5": cpuZen5, "SPR without zmm state": cpuSPRNoZMM,
		"KNL": cpuKNL, "Bulldozer": cpuBD}
)

func withAVX(f kernels.CPUFeatures) kernels.CPUFeatures { f.AVX, f.OSYMM = true, true; return f }
func withAVX2(f kernels.CPUFeatures) kernels.CPUFeatures {
	f.AVX2, f.FMA = true, true
	return f
}
func withAVX512(f kernels.CPUFeatures) kernels.CPUFeatures {
	f.AVX512F, f.AVX512CD, f.AVX512BW, f.AVX512DQ, f.AVX512VL, f.OSZMM = true, true, true, true, true, true
	return f
}

func TestChooseCore(t *testing.T) {
	const unset = "\x00" // inherited: no OPENBLAS_CORETYPE
	for _, c := range []struct {
		name               string
		cpu                kernels.CPUFeatures
		setting, inherited string
		env, want          string   // OPENBLAS_CORETYPE while loading, expected core
		reason             []string // substrings of the reason
		err                string   // substring of the error, "" for none
	}{
		// auto without OPENBLAS_CORETYPE: the best core for the CPU.
		{"bf16", cpuSPR, "", unset, "Cooperlake", "Cooperlake", []string{"chosen by g2g for AVX-512 BF16"}, ""},
		{"bf16 AMD", cpuZen5, "auto", unset, "Cooperlake", "Cooperlake", []string{"for AVX-512 BF16"}, ""},
		{"avx512", cpuSKX, "AUTO", unset, "SkylakeX", "SkylakeX", []string{"chosen by g2g for AVX-512"}, ""},
		{"avx2 Intel", cpuHSW, "", unset, "Haswell", "Haswell", []string{"chosen by g2g for AVX2+FMA"}, ""},
		{"avx2 AMD", cpuZen2, "", unset, "Zen", "Zen", []string{"for AVX2+FMA"}, ""},
		{"no zmm state", cpuSPRNoZMM, "", unset, "Haswell", "Haswell", []string{"AVX2+FMA"}, ""},
		{"avx512 subset", cpuKNL, "", unset, "Haswell", "Haswell", []string{"AVX2+FMA"}, ""},
		{"avx only", cpuAVX, "", unset, "", "", []string{"OpenBLAS's own choice (no AVX2+FMA"}, ""},
		{"sse3 only", cpuSSE3, "", unset, "", "", []string{"OpenBLAS's own choice"}, ""},
		// auto with OPENBLAS_CORETYPE: kept when as good, else overridden.
		{"weaker inherited", cpuZen5, "", "Haswell", "Cooperlake", "Cooperlake",
			[]string{"chosen by g2g for AVX-512 BF16", "OPENBLAS_CORETYPE=Haswell in the environment overridden"}, ""},
		{"generic inherited", cpuSPR, "", "Prescott", "Cooperlake", "Cooperlake", []string{"OPENBLAS_CORETYPE=Prescott in the environment overridden"}, ""},
		{"equal inherited", cpuSPR, "", "cooperlake", "cooperlake", "Cooperlake", []string{"OPENBLAS_CORETYPE=cooperlake from the environment"}, ""},
		{"equal rank inherited", cpuZen2, "", "Haswell", "Haswell", "Haswell", []string{"from the environment (as good as"}, ""},
		{"unrunnable inherited", cpuHSW, "", "SkylakeX", "Haswell", "Haswell",
			[]string{"chosen by g2g for AVX2+FMA", "OPENBLAS_CORETYPE=SkylakeX in the environment refused", "cannot run SkylakeX"}, ""},
		{"unknown inherited", cpuSPR, "", "Nonsense", "Cooperlake", "Cooperlake", []string{"not an OpenBLAS core"}, ""},
		{"inherited on old CPU", cpuAVX, "", "Sandybridge", "Sandybridge", "Sandybridge", []string{"OPENBLAS_CORETYPE=Sandybridge from the environment"}, ""},
		{"unrunnable inherited on old CPU", cpuSSE4, "", "Sandybridge", "", "", []string{"OpenBLAS's own choice", "refused", "need AVX"}, ""},
		{"64-bit runs old cores as Prescott", cpuSSE3, "", "Katmai", "Katmai", "Prescott", []string{"from the environment"}, ""},
		// env: OPENBLAS_CORETYPE or OpenBLAS's own choice.
		{"env unset", cpuSPR, "env", unset, "", "", []string{"OpenBLAS's own choice (G2G_BLAS_CORE=env, no OPENBLAS_CORETYPE)"}, ""},
		{"env weaker", cpuSPR, "env", "Haswell", "Haswell", "Haswell", []string{"OPENBLAS_CORETYPE=Haswell from the environment (G2G_BLAS_CORE=env)"}, ""},
		{"env unrunnable", cpuHSW, "Env", "Cooperlake", "", "", []string{"OpenBLAS's own choice", "OPENBLAS_CORETYPE=Cooperlake in the environment refused", "BF16"}, ""},
		{"env unknown", cpuHSW, "env", "Haswel", "", "", []string{"refused", "not an OpenBLAS core"}, ""},
		// A core name: that core when the CPU runs it, else refused.
		{"named", cpuSPR, "SkylakeX", unset, "SkylakeX", "SkylakeX", []string{"set by G2G_BLAS_CORE=SkylakeX"}, ""},
		{"named any case", cpuSPR, " skylakex ", "Haswell", "SkylakeX", "SkylakeX",
			[]string{"set by G2G_BLAS_CORE=skylakex", "OPENBLAS_CORETYPE=Haswell in the environment overridden"}, ""},
		{"named weaker", cpuSPR, "Prescott", unset, "Prescott", "Prescott", []string{"set by G2G_BLAS_CORE=Prescott"}, ""},
		{"named unrunnable", cpuSKX, "Cooperlake", unset, "SkylakeX", "SkylakeX",
			[]string{"chosen by g2g for AVX-512", "G2G_BLAS_CORE=Cooperlake refused"}, "G2G_BLAS_CORE=Cooperlake refused: this CPU cannot run Cooperlake kernels (they need AVX-512 F, CD, BW, DQ, VL and BF16)"},
		{"named without zmm state", cpuSPRNoZMM, "SkylakeX", unset, "Haswell", "Haswell", []string{"refused"}, "cannot run SkylakeX"},
		{"named FMA4 on Intel", cpuSPR, "Bulldozer", unset, "Cooperlake", "Cooperlake", []string{"refused"}, "cannot run Bulldozer kernels (they need AVX and FMA4)"},
		{"named unknown", cpuSPR, "Sapphirerapids", unset, "Cooperlake", "Cooperlake", []string{"refused"}, `"Sapphirerapids" is not an OpenBLAS core`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := chooseCore(c.cpu, c.setting, c.inherited, c.inherited != unset)
			if ch.env != c.env || ch.want != c.want {
				t.Errorf("OPENBLAS_CORETYPE %q, expected core %q; want %q, %q (reason %q)", ch.env, ch.want, c.env, c.want, ch.reason)
			}
			for _, r := range c.reason {
				if !strings.Contains(ch.reason, r) {
					t.Errorf("reason %q does not say %q", ch.reason, r)
				}
			}
			switch {
			case c.err == "" && ch.err != nil:
				t.Errorf("error %v, want none", ch.err)
			case c.err != "" && (ch.err == nil || !strings.Contains(ch.err.Error(), c.err)):
				t.Errorf("error %v, want one saying %q", ch.err, c.err)
			case c.err != "" && !strings.Contains(ch.reason, ch.err.Error()):
				t.Errorf("reason %q does not carry the error %v", ch.reason, ch.err)
			}
		})
	}
}

// Whatever the settings, the decision never sets a core the CPU cannot
// run, and it never asks for a core other than the one it sets.
func TestChooseCoreNeverUnrunnable(t *testing.T) {
	settings := []string{"", "auto", "env", "Nonsense"}
	inherited := []string{"Nonsense"}
	for _, c := range coreSpecs {
		settings = append(settings, c.name, strings.ToUpper(c.name))
		inherited = append(inherited, c.name, strings.ToLower(c.name))
	}
	for cpuName, cpu := range fakeCPUs {
		for _, s := range settings {
			for _, inh := range append(inherited, "") {
				ch := chooseCore(cpu, s, inh, inh != "")
				if ch.env == "" {
					if ch.want != "" {
						t.Errorf("%s, %q, %q: expects %s without setting it", cpuName, s, inh, ch.want)
					}
					continue
				}
				spec, err := checkCore(ch.env, cpu)
				if err != nil {
					t.Errorf("%s, G2G_BLAS_CORE=%q, OPENBLAS_CORETYPE=%q: chose %s: %v", cpuName, s, inh, ch.env, err)
				}
				if ch.want != spec.runs {
					t.Errorf("%s, %q, %q: sets %s but expects %s", cpuName, s, inh, ch.env, ch.want)
				}
				if ch.reason == "" || ch.setting == "" {
					t.Errorf("%s, %q, %q: no reason or setting: %+v", cpuName, s, inh, ch)
				}
			}
		}
	}
}

// Auto's choice ranks as the best the CPU runs: no runnable core ranks
// higher.
func TestBestCoreIsTheBest(t *testing.T) {
	for cpuName, cpu := range fakeCPUs {
		best, _, ok := bestCore(cpu)
		for _, c := range coreSpecs {
			if !c.can(cpu) {
				continue
			}
			if !ok && c.rank > 0 || ok && c.rank > best.rank {
				t.Errorf("%s: %s (rank %d) runs and beats auto's %q", cpuName, c.name, c.rank, best.name)
			}
		}
	}
}

func TestBLASReportName(t *testing.T) {
	for _, c := range []struct {
		r    BLASReport
		want string
	}{
		{BLASReport{Library: "gonum"}, "gonum (pure Go)"},
		{BLASReport{Library: "gonum", Reason: "OpenBLAS not loaded: x.so: cannot open", Err: errors.New("x")},
			"gonum (pure Go; OpenBLAS not loaded: x.so: cannot open)"},
		{BLASReport{Library: "OpenBLAS", Version: "0.3.21", Core: "Cooperlake", Reason: "chosen by g2g for AVX-512 BF16; OPENBLAS_CORETYPE=Haswell in the environment overridden"},
			"OpenBLAS 0.3.21 (Cooperlake kernels; chosen by g2g for AVX-512 BF16; OPENBLAS_CORETYPE=Haswell in the environment overridden)"},
		{BLASReport{Library: "OpenBLAS", Core: "Haswell"}, "OpenBLAS (Haswell kernels)"},
	} {
		if got := c.r.Name(); got != c.want {
			t.Errorf("Name() = %q, want %q", got, c.want)
		}
	}
}

package layers

import (
	"strings"
	"testing"
)

// The kernel is checked once, by ParseKernel, whether it comes from the
// configuration or from SetKernel; the tuning by SetTuning.
func TestKernelConfigAndTuning(t *testing.T) {
	cfg := G2GConfig{Name: "g", In: 16, Out: 16, Groups: 4, Density: 0.25, Sampling: SampleExact, Seed: 1}
	l, err := NewG2G(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if l.Config().Kernel != KernelAuto {
		t.Fatalf("default kernel %q, want auto", l.Config().Kernel)
	}
	for _, k := range []Kernel{KernelDense, KernelBlocks, KernelSparse} {
		cfg.Kernel = k
		if l, err = NewG2G(cfg); err != nil {
			t.Fatal(err)
		}
		if l.Kernel() != k {
			t.Fatalf("configured %s, runs %s", k, l.Kernel())
		}
	}
	cfg.Kernel = "fast"
	if _, err := NewG2G(cfg); err == nil || !strings.Contains(err.Error(), `layer "g"`) || !strings.Contains(err.Error(), `unknown kernel "fast"`) {
		t.Fatalf("configured kernel fast: %v", err)
	}
	if err := l.SetKernel("fast"); err == nil || !strings.Contains(err.Error(), `unknown kernel "fast"`) {
		t.Fatalf("SetKernel(fast): %v", err)
	}
	if l.Kernel() != KernelSparse || l.Config().Kernel != KernelSparse {
		t.Fatalf("a refused kernel changed the layer: runs %s, configured %s", l.Kernel(), l.Config().Kernel)
	}
	if err := l.SetKernel(KernelDense); err != nil || l.Kernel() != KernelDense || l.Config().Kernel != KernelDense {
		t.Fatalf("SetKernel(dense): %v, runs %s", err, l.Kernel())
	}
	if err := l.SetKernel(""); err != nil || l.Config().Kernel != KernelAuto {
		t.Fatalf("SetKernel(\"\") = %v, configured %q; want the default, auto", err, l.Config().Kernel)
	}
	if l.Tuning() != DefaultTuning() {
		t.Fatalf("tuning %+v, want the default %+v", l.Tuning(), DefaultTuning())
	}
	bad := DefaultTuning()
	bad.SparseCrossover = -1
	if err := l.SetTuning(bad); err == nil || !strings.Contains(err.Error(), "SparseCrossover") || l.Tuning() != DefaultTuning() {
		t.Fatalf("SetTuning(SparseCrossover -1): %v, tuning now %+v", err, l.Tuning())
	}
	// The tuning steers KernelAuto: with every crossover at 0 it runs dense.
	if err := l.SetKernel(KernelAuto); err != nil {
		t.Fatal(err)
	}
	zero := DefaultTuning()
	zero.SparseCrossover, zero.SparseCrossoverGo, zero.BlockCrossover = 0, 0, 0
	if err := l.SetTuning(zero); err != nil {
		t.Fatal(err)
	}
	if l.Kernel() != KernelDense {
		t.Fatalf("crossovers 0: auto runs %s", l.Kernel())
	}
}

// The deprecated package variables of earlier versions still steer the
// layers created after a program sets them, through DefaultTuning.
func TestDeprecatedTuningVariables(t *testing.T) {
	saved := [4]float64{SparseCrossover, SparseCrossoverGo, BlockCrossover, DenseBlockFill}
	defer func() {
		SparseCrossover, SparseCrossoverGo, BlockCrossover, DenseBlockFill = saved[0], saved[1], saved[2], saved[3]
	}()
	measured := DefaultTuning()
	if DenseBlockFill != 0 || measured.DenseBlockFill <= 0 {
		t.Fatalf("DenseBlockFill %v, default tuning %+v: want 0 and the BLAS's measured fill", DenseBlockFill, measured)
	}
	SparseCrossover, SparseCrossoverGo, BlockCrossover, DenseBlockFill = 0, 0, 0, 3
	want := Tuning{SparseCrossover: 0, SparseCrossoverGo: 0, BlockCrossover: 0, DenseBlockFill: 3}
	if got := DefaultTuning(); got != want {
		t.Fatalf("DefaultTuning() = %+v, want %+v", got, want)
	}
	l, err := NewG2G(G2GConfig{Name: "h", In: 64, Out: 64, Groups: 4, Density: 0.25, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if l.Tuning() != want || l.Kernel() != KernelDense {
		t.Fatalf("new layer: tuning %+v, kernel %s; want %+v and dense (every crossover 0)", l.Tuning(), l.Kernel(), want)
	}
}

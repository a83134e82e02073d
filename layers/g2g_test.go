package layers

import (
	"math"
	"strings"
	"testing"
)

func newTestG2G(t testing.TB, cfg G2GConfig) *G2G {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "g"
	}
	l, err := NewG2G(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDerivedInterMatchesDesignFormula(t *testing.T) {
	// docs/design.md §2.3: p' = (d − 1/G)/(1 − 1/G) for p = 1 and equal groups.
	l := newTestG2G(t, G2GConfig{In: 64, Out: 32, Groups: 8, Density: 0.25, Seed: 1})
	want := (0.25 - 1.0/8) / (1 - 1.0/8)
	if got := l.Config().Inter; math.Abs(got-want) > 1e-12 {
		t.Fatalf("Inter = %v, want %v", got, want)
	}
	// With p = 0.5: d = p/G + p'(1 − 1/G) → p' = (0.25 − 0.5/8)/(7/8) = 0.2142857...
	l = newTestG2G(t, G2GConfig{In: 64, Out: 32, Groups: 8, Intra: 0.5, Density: 0.25, Seed: 1})
	if got, want := l.Config().Inter, (0.25-0.5/8)/(7.0/8); math.Abs(got-want) > 1e-12 {
		t.Fatalf("Inter with p=0.5 = %v, want %v", got, want)
	}
}

func TestBernoulliDensityMatchesExpectation(t *testing.T) {
	const in, out, g = 1024, 1024, 8
	for _, d := range []float64{0.125, 0.25, 0.5} {
		l := newTestG2G(t, G2GConfig{In: in, Out: out, Groups: g, Density: d, Seed: 11})
		m := l.Mask()
		// Intra edges are all kept (p = 1): exactly in·out/G of them.
		if got := m.IntraCount(); got != in*out/g {
			t.Fatalf("d=%v: %d intra edges, want all %d", d, got, in*out/g)
		}
		pInter := (d - 1.0/g) / (1 - 1.0/g)
		nInter := float64(in * out * (g - 1) / g)
		sd := math.Sqrt(nInter * pInter * (1 - pInter))
		if diff := float64(m.Active()-m.IntraCount()) - pInter*nInter; math.Abs(diff) > 5*sd {
			t.Fatalf("d=%v: inter count off expectation by %.0f (5σ = %.0f)", d, diff, 5*sd)
		}
		if math.Abs(m.Density()-d) > 0.005 {
			t.Fatalf("d=%v: measured density %v", d, m.Density())
		}
	}
}

func TestExactDensityIsExact(t *testing.T) {
	// 1024×1024, G = 8: 131072 intra pairs, 917504 inter; p' = 1/7 → 131072
	// inter edges, so exactly 262144 = 0.25·1024².
	l := newTestG2G(t, G2GConfig{In: 1024, Out: 1024, Groups: 8, Density: 0.25, Sampling: SampleExact, Seed: 2})
	if got := l.Mask().Active(); got != 262144 {
		t.Fatalf("active = %d, want 262144", got)
	}
	// Unequal groups: 10 inputs in 3 groups (4, 3, 3), 7 outputs (3, 2, 2):
	// intra pairs 4·3 + 3·2 + 3·2 = 24, inter 70 − 24 = 46. Density 0.5 with
	// p = 1: p' = (35 − 24)/46 → round(11) = 11 inter edges, 35 in all.
	l = newTestG2G(t, G2GConfig{In: 10, Out: 7, Groups: 3, Density: 0.5, Sampling: SampleExact, Seed: 3})
	if got := l.Mask().Active(); got != 35 {
		t.Fatalf("unequal groups: active = %d, want 35", got)
	}
	if got := l.Mask().IntraCount(); got != 24 {
		t.Fatalf("unequal groups: intra = %d, want 24", got)
	}
}

func TestMaskedWeightsZeroAndInitScaled(t *testing.T) {
	l := newTestG2G(t, G2GConfig{In: 512, Out: 256, Groups: 8, Density: 0.125, Sampling: SampleExact, Seed: 4})
	w, m := l.Weight().Data(), l.Mask()
	bound := math.Sqrt(6.0 / 512)
	var sumSq float64
	for j := 0; j < 256; j++ {
		fan := m.FanIn(j)
		lim := bound * math.Sqrt(512/float64(fan))
		for i := 0; i < 512; i++ {
			k := m.Index(i, j)
			if !m.Has(k) {
				if w[k] != 0 {
					t.Fatalf("masked weight (%d,%d) = %v, want 0", i, j, w[k])
				}
				continue
			}
			if math.Abs(float64(w[k])) > lim+1e-6 {
				t.Fatalf("weight (%d,%d) = %v beyond scaled bound %v", i, j, w[k], lim)
			}
			sumSq += float64(w[k]) * float64(w[k])
		}
	}
	// A dense He-uniform column has E[Σ_i w²] = in·bound²/3 = 2; the fan-in
	// scaling must give sparse columns the same.
	if got := sumSq / 256; math.Abs(got-2) > 0.1 {
		t.Fatalf("mean squared column norm %v, want about 2 (the dense value)", got)
	}
}

func TestSameSeedSameMaskAndWeights(t *testing.T) {
	cfg := G2GConfig{In: 64, Out: 64, Groups: 4, Grouping: GroupRandom, Density: 0.3, Seed: 9}
	a, b := newTestG2G(t, cfg), newTestG2G(t, cfg)
	cfg.Seed = 10
	c := newTestG2G(t, cfg)
	for k := range a.Mask().Data() {
		if a.Mask().Data()[k] != b.Mask().Data()[k] || a.Weight().Data()[k] != b.Weight().Data()[k] {
			t.Fatal("same seed gave different masks or weights")
		}
	}
	same := true
	for k := range a.Mask().Data() {
		same = same && a.Mask().Data()[k] == c.Mask().Data()[k]
	}
	if same {
		t.Fatal("different seeds gave the same mask")
	}
}

func TestG2GConfigErrors(t *testing.T) {
	cases := []struct {
		cfg  G2GConfig
		want string
	}{
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 9, Density: 0.5}, "Groups (9) larger"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 0, Density: 0.5}, "Groups must be at least 1"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Density: 1.5}, "Density must be in (0, 1]"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Density: -0.1}, "Density must be in (0, 1]"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 4, Density: 0.1}, "below the intra-ensemble share"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Inter: 2}, "Inter (p') must be in [0, 1]"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Intra: 1.5, Density: 0.5}, "Intra (p) must be in (0, 1]"},
		{G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Density: 0.5, Grouping: "blocks"}, "unknown grouping"},
		{G2GConfig{Name: "", In: 8, Out: 8, Groups: 2, Density: 0.5}, "Name must not be empty"},
		{G2GConfig{Name: "g", In: 0, Out: 8, Groups: 2, Density: 0.5}, "In and Out must be at least 1"},
	}
	for _, c := range cases {
		_, err := NewG2G(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want it to mention %q", c.cfg, err, c.want)
		}
	}
}

func TestPruneGrowKeepWeightsConsistent(t *testing.T) {
	l := newTestG2G(t, G2GConfig{In: 8, Out: 8, Groups: 2, Density: 0.5, Sampling: SampleExact, Seed: 5})
	m := l.Mask()
	act, inact := m.ActiveIndices(), m.InactiveIndices()
	if len(act)+len(inact) != 64 || len(act) != 32 {
		t.Fatalf("%d active, %d inactive", len(act), len(inact))
	}
	v0 := m.Version()
	if err := l.Prune(act[:3]); err != nil {
		t.Fatal(err)
	}
	for _, k := range act[:3] {
		if m.Has(k) || l.Weight().Data()[k] != 0 {
			t.Fatalf("pruned edge %d still active or nonzero", k)
		}
	}
	if err := l.Grow(inact[:2], []float32{0.5, -0.25}); err != nil {
		t.Fatal(err)
	}
	if !m.Has(inact[0]) || l.Weight().Data()[inact[1]] != -0.25 {
		t.Fatal("grown edge not set")
	}
	if m.Active() != 31 || m.Version() == v0 {
		t.Fatalf("active %d (want 31), version unchanged: %v", m.Active(), m.Version() == v0)
	}
	// Errors leave everything unchanged.
	if err := l.Prune([]int{act[5], inact[5]}); err == nil || !strings.Contains(err.Error(), "already inactive") {
		t.Fatalf("prune inactive: %v", err)
	}
	if !m.Has(act[5]) {
		t.Fatal("failed prune changed the mask")
	}
	if err := l.Grow([]int{inact[6], inact[6]}, nil); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("grow duplicate: %v", err)
	}
	if err := l.Grow([]int{64}, nil); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("grow out of range: %v", err)
	}
	if err := m.Recount(); err != nil || m.Active() != 31 {
		t.Fatalf("recount: %v, active %d", err, m.Active())
	}
}

func TestMaskIntraFractionByHand(t *testing.T) {
	// 2 inputs in groups {0, 1}, 2 outputs in groups {0, 1}: edges (0,0) and
	// (1,1) are intra, (0,1) and (1,0) inter.
	m, err := NewMask(2, 2, []int{0, 1}, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	m.Set(m.Index(0, 0))
	m.Set(m.Index(0, 1))
	m.Set(m.Index(1, 0))
	if m.Active() != 3 || m.IntraCount() != 1 || math.Abs(m.IntraFraction()-1.0/3) > 1e-15 || m.Density() != 0.75 {
		t.Fatalf("active %d intra %d fraction %v density %v", m.Active(), m.IntraCount(), m.IntraFraction(), m.Density())
	}
	if !m.IsIntra(m.Index(1, 1)) || m.IsIntra(m.Index(1, 0)) {
		t.Fatal("IsIntra wrong")
	}
}

func TestBlockSamplingTakesWholeEnsembles(t *testing.T) {
	l := newTestG2G(t, G2GConfig{In: 64, Out: 32, Groups: 8, Density: 0.25, Sampling: SampleBlocks, Seed: 3})
	m := l.Mask()
	if m.Active() != 64*32/4 {
		t.Fatalf("active %d, want %d", m.Active(), 64*32/4)
	}
	// Every (input ensemble, output ensemble) block is all on or all off,
	// each output ensemble has its own block plus exactly one other.
	on := map[[2]int]int{}
	for k := 0; k < m.Len(); k++ {
		i, j := m.Edge(k)
		if m.Has(k) {
			on[[2]int{m.InGroup[i], m.OutGroup[j]}]++
		}
	}
	perOut := map[int]int{}
	for b, n := range on {
		if n != 8*4 {
			t.Fatalf("block %v has %d of 32 edges", b, n)
		}
		perOut[b[1]]++
		if b[0] == b[1] {
			perOut[b[1]+100]++
		}
	}
	for j := 0; j < 8; j++ {
		if perOut[j] != 2 || perOut[j+100] != 1 {
			t.Fatalf("output ensemble %d: %d blocks, own block %d", j, perOut[j], perOut[j+100])
		}
	}
	if err := l.SetKernel(KernelBlocks); err != nil {
		t.Fatal(err)
	}
	if n := len(l.kernelPlan().Blocks()); n != 16 {
		t.Fatalf("%d blocks planned, want 16 of 64", n)
	}
	if _, err := NewG2G(G2GConfig{Name: "b", In: 64, Out: 32, Groups: 8, Density: 0.3, Sampling: SampleBlocks}); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Fatalf("density 0.3 with 8 groups: %v", err)
	}
}

// With DenseBlockFill ≤ 1 the sparse kernel sends the full intra-ensemble
// blocks to BLAS and only the remaining edges to the edge kernels.
func TestSparsePlanSplitsDenseBlocks(t *testing.T) {
	l, err := NewG2G(G2GConfig{Name: "g", In: 64, Out: 32, Groups: 4, Density: 0.4, Sampling: SampleExact, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetKernel(KernelSparse); err != nil {
		t.Fatal(err)
	}
	setFill := func(fill float64) {
		tuning := l.Tuning()
		tuning.DenseBlockFill = fill
		if err := l.SetTuning(tuning); err != nil {
			t.Fatal(err)
		}
	}
	setFill(0.5)
	p := l.kernelPlan()
	if len(p.Blocks()) != 4 {
		t.Fatalf("%d dense blocks, want the 4 intra-ensemble ones", len(p.Blocks()))
	}
	for k, b := range p.Blocks() {
		if b[0]/16 != b[2]/8 || !p.Full(k) {
			t.Fatalf("block %v (full %v) is not a full intra-ensemble block", b, p.Full(k))
		}
	}
	intra := 4 * 16 * 8
	byOut, byIn := p.EdgeKernelEdges()
	if want := l.Mask().Active() - intra; byOut != want || byIn != want {
		t.Fatalf("edge kernels get %d/%d edges, want %d (all but the intra ones)", byOut, byIn, want)
	}
	// Pruning an intra edge leaves the block dense enough but not full.
	act := l.Mask().ActiveIndices()
	if err := l.Prune(act[:1]); err != nil {
		t.Fatal(err)
	}
	if p := l.kernelPlan(); len(p.Blocks()) != 4 || p.Full(0) {
		t.Fatalf("after pruning: %d blocks, first full %v", len(p.Blocks()), p.Full(0))
	}
	setFill(2)
	if p := l.kernelPlan(); len(p.Blocks()) != 0 {
		t.Fatalf("DenseBlockFill 2: %d blocks", len(p.Blocks()))
	} else if byOut, _ := p.EdgeKernelEdges(); byOut != l.Mask().Active() {
		t.Fatalf("DenseBlockFill 2: %d edges for the edge kernels, want all %d", byOut, l.Mask().Active())
	}
}

package sparse

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// testMask returns an in × out mask over g index-grouped ensembles: the
// intra-ensemble blocks full, other edges kept with probability p.
func testMask(in, out, g int, p float64, rng *rand.Rand) Mask {
	m := Mask{Data: make([]float32, in*out), In: in, Out: out, Groups: g, InGroup: make([]int, in), OutGroup: make([]int, out), Version: 1}
	for i := range m.InGroup {
		m.InGroup[i] = i * g / in
	}
	for j := range m.OutGroup {
		m.OutGroup[j] = j * g / out
	}
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			if m.InGroup[i] == m.OutGroup[j] || rng.Float64() < p {
				m.Data[i*out+j] = 1
				m.Active++
			}
		}
	}
	return m
}

func randSlice(n int, rng *rand.Rand) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// Every kernel's three products must compute their definitions, y =
// x·(W⊙M), dx = dy·(W⊙M)ᵀ and dW = (xᵀ·dy)⊙M, and WeightGrad must keep the
// unmasked xᵀ·dy when asked to; the frozen snapshot must compute yᵀ = (W⊙M)ᵀ·xᵀ.
func TestPlanProductsMatchDefinitions(t *testing.T) {
	const in, out, g, batch = 24, 20, 4, 19
	rng := rand.New(rand.NewSource(1))
	m := testMask(in, out, g, 0.2, rng)
	w := randSlice(in*out, rng)
	x := randSlice(batch*in, rng)
	dy := randSlice(batch*out, rng)
	close := func(got, want float64) bool { return math.Abs(got-want) <= 1e-4*(1+math.Abs(want)) }
	for _, k := range []Kernel{Dense, Blocks, Sparse, Auto} {
		for _, fill := range []float64{2, 0.5} {
			t.Run(fmt.Sprintf("%s-fill%v", k, fill), func(t *testing.T) {
				tuning := DefaultTuning()
				tuning.DenseBlockFill = fill
				p := NewPlan(m, k, tuning)
				if k != Auto && p.Kernel() != k {
					t.Fatalf("asked for %s, runs %s", k, p.Kernel())
				}
				if p.Kernel() == Sparse && fill < 1 && len(p.Blocks()) != g {
					t.Fatalf("sparse kernel, fill %v: %d blocks to BLAS, want the %d full intra ones", fill, len(p.Blocks()), g)
				}
				pr := &Product{}
				pr.SetTraining()
				y, err := p.Forward(pr, w, m.Data, x, batch)
				if err != nil {
					t.Fatal(err)
				}
				dx, err := p.InputGrad(pr, dy, w, m.Data, batch)
				if err != nil {
					t.Fatal(err)
				}
				dw, err := p.WeightGrad(pr, x, dy, m.Data, batch, nil)
				if err != nil {
					t.Fatal(err)
				}
				dwm := append([]float32(nil), dw...)
				var dense []float32
				dw2, err := p.WeightGrad(pr, x, dy, m.Data, batch, &dense)
				if err != nil {
					t.Fatal(err)
				}
				for s := 0; s < batch; s++ {
					for j := 0; j < out; j++ {
						var want float64
						for i := 0; i < in; i++ {
							want += float64(x[s*in+i]) * float64(w[i*out+j]*m.Data[i*out+j])
						}
						if got := float64(y[s*out+j]); !close(got, want) {
							t.Fatalf("y[%d, %d] = %v, want %v", s, j, got, want)
						}
					}
					for i := 0; i < in; i++ {
						var want float64
						for j := 0; j < out; j++ {
							want += float64(dy[s*out+j]) * float64(w[i*out+j]*m.Data[i*out+j])
						}
						if got := float64(dx[s*in+i]); !close(got, want) {
							t.Fatalf("dx[%d, %d] = %v, want %v", s, i, got, want)
						}
					}
				}
				for i := 0; i < in; i++ {
					for j := 0; j < out; j++ {
						var want float64
						for s := 0; s < batch; s++ {
							want += float64(x[s*in+i]) * float64(dy[s*out+j])
						}
						if got := float64(dense[i*out+j]); !close(got, want) {
							t.Fatalf("dense dW[%d, %d] = %v, want %v", i, j, got, want)
						}
						want *= float64(m.Data[i*out+j])
						if got, kept := float64(dwm[i*out+j]), float64(dw2[i*out+j]); !close(got, want) || !close(kept, want) {
							t.Fatalf("dW[%d, %d] = %v (%v keeping the dense one), want %v", i, j, got, kept, want)
						}
					}
				}
				// The snapshot, feature-major, on n = 5 samples.
				const n = 5
				f := p.Freeze(w, m.Data)
				xt := randSlice(in*n, rng)
				yt := make([]float32, out*n)
				if err := f.Forward(xt, yt, n); err != nil {
					t.Fatal(err)
				}
				for j := 0; j < out; j++ {
					for s := 0; s < n; s++ {
						var want float64
						for i := 0; i < in; i++ {
							want += float64(xt[i*n+s]) * float64(w[i*out+j]*m.Data[i*out+j])
						}
						if got := float64(yt[j*n+s]); !close(got, want) {
							t.Fatalf("frozen y[%d, %d] = %v, want %v", j, s, got, want)
						}
					}
				}
				if err := f.Forward(xt[:1], yt, n); err == nil {
					t.Fatal("short input accepted")
				}
			})
		}
	}
}

// An evaluation product (no SetTraining) runs its batch in chunks and must
// give the whole batch's result; its backward products must refuse to run.
func TestEvaluationProductChunks(t *testing.T) {
	const in, out, batch = 16, 12, evalChunk + 37
	rng := rand.New(rand.NewSource(2))
	m := testMask(in, out, 2, 0.1, rng)
	w := randSlice(in*out, rng)
	x := randSlice(batch*in, rng)
	p := NewPlan(m, Sparse, DefaultTuning())
	whole := &Product{}
	whole.SetTraining()
	want, err := p.Forward(whole, w, m.Data, x, batch)
	if err != nil {
		t.Fatal(err)
	}
	eval := &Product{}
	got, err := p.Forward(eval, w, m.Data, x, batch)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("y[%d] = %v in chunks, %v whole", k, got[k], want[k])
		}
	}
	if _, err := p.InputGrad(eval, randSlice(batch*out, rng), w, m.Data, batch); err == nil || !strings.Contains(err.Error(), "gradient") {
		t.Fatalf("backward product after an evaluation forward pass: %v", err)
	}
}

// Auto follows the tuning; a plan is current only for its mask version,
// kernel and tuning.
func TestPlanChoiceAndCurrency(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	m := testMask(32, 32, 4, 0, rng) // density 0.25: the intra blocks only
	tuning := DefaultTuning()
	p := NewPlan(m, Auto, tuning)
	if !p.Current(m.Version, Auto, tuning) || p.Current(m.Version+1, Auto, tuning) || p.Current(m.Version, Dense, tuning) {
		t.Fatal("Current ignores the version or the kernel")
	}
	changed := tuning
	changed.SparseCrossover = 0.1
	if p.Current(m.Version, Auto, changed) {
		t.Fatal("Current ignores the tuning")
	}
	tuning.SparseCrossover, tuning.SparseCrossoverGo, tuning.BlockCrossover = 0, 0, 0
	if k := NewPlan(m, Auto, tuning).Kernel(); k != Dense {
		t.Fatalf("all crossovers 0: auto runs %s, want dense", k)
	}
	tuning.SparseCrossover, tuning.SparseCrossoverGo, tuning.BlockCrossover = 1, 1, 1
	if k := NewPlan(m, Auto, tuning).Kernel(); k == Dense {
		t.Fatal("all crossovers 1: auto runs dense")
	}
	m.InGroup[0], m.InGroup[len(m.InGroup)-1] = m.InGroup[len(m.InGroup)-1], m.InGroup[0]
	if k := NewPlan(m, Blocks, tuning).Kernel(); k != Dense {
		t.Fatalf("scattered ensembles: blocks kernel runs %s, want the dense fallback", k)
	}
}

func TestParseKernelAndTuning(t *testing.T) {
	for s, want := range map[string]Kernel{"auto": Auto, "dense": Dense, "blocks": Blocks, "sparse": Sparse} {
		if k, err := ParseKernel(s); err != nil || k != want {
			t.Fatalf("ParseKernel(%q) = %q, %v; want %q", s, k, err, want)
		}
	}
	if _, err := ParseKernel(""); err == nil {
		t.Fatal("ParseKernel(\"\") accepted the empty name")
	}
	if _, err := ParseKernel("Sparse"); err == nil || !strings.Contains(err.Error(), "want auto, dense, blocks or sparse") {
		t.Fatalf("ParseKernel(Sparse): %v", err)
	}
	if err := DefaultTuning().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultTuning()
	bad.BlockCrossover = 1.5
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "BlockCrossover") {
		t.Fatalf("BlockCrossover 1.5: %v", err)
	}
	bad = DefaultTuning()
	bad.DenseBlockFill = math.NaN()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "DenseBlockFill") {
		t.Fatalf("DenseBlockFill NaN: %v", err)
	}
}

// Mirror places every active edge outside the BLAS blocks at the slot of
// the packed copy that the forward pass reads for it, and block edges
// nowhere; an active list that is not the mask's gets no mirror.
func TestMirrorPlacesMatchPacking(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	m := testMask(64, 48, 4, 0.2, rng)
	tu := DefaultTuning()
	tu.DenseBlockFill = 0.5 // the full intra blocks go to BLAS
	p := NewPlan(m, Sparse, tu)
	if len(p.Blocks()) == 0 {
		t.Fatal("no BLAS blocks: the test needs both kinds of edges")
	}
	var active []int32
	for k, v := range m.Data {
		if v != 0 {
			active = append(active, int32(k))
		}
	}
	w := randSlice(len(m.Data), rng)
	values, at := p.Mirror(active)
	if len(at) != len(active) || len(values) != p.byOut.NNZ() {
		t.Fatalf("mirror of %d values, %d places for %d active edges", len(values), len(at), len(active))
	}
	packed := make([]float32, len(values))
	p.packIn(packed, w)
	inBlock := func(o int32) bool {
		i, j := int(o)/m.Out, int(o)%m.Out
		for _, b := range p.Blocks() {
			if i >= b[0] && i < b[1] && j >= b[2] && j < b[3] {
				return true
			}
		}
		return false
	}
	seen := make([]bool, len(values))
	for k, o := range active {
		switch {
		case at[k] < 0:
			if !inBlock(o) {
				t.Fatalf("edge %d outside the blocks has no place", o)
			}
		case inBlock(o):
			t.Fatalf("block edge %d has place %d", o, at[k])
		case packed[at[k]] != w[o] || seen[at[k]]:
			t.Fatalf("edge %d placed at %d, which holds %v (want %v) or is taken twice", o, at[k], packed[at[k]], w[o])
		default:
			seen[at[k]] = true
		}
	}
	// A list missing a scattered edge is not this mask's: no places.
	var missing []int32
	for k, o := range active {
		if k != len(active)/2 || inBlock(o) {
			missing = append(missing, o)
		}
	}
	if len(missing) == len(active) {
		t.Fatal("the middle active edge is a block edge: pick another")
	}
	if v, a := p.Mirror(missing); v != nil || a != nil {
		t.Fatal("an active list missing a scattered edge got a mirror")
	}
	if v, _ := NewPlan(m, Dense, tu).Mirror(active); v != nil {
		t.Fatal("the dense kernel keeps no copy, but Mirror returned one")
	}
}

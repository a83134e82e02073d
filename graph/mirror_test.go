package graph

import (
	"math"
	"runtime"
	"testing"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// hiddenMirror wraps an optimizer, hiding its WritesMirrors: Fit then
// refreshes the sparse layers' weight copies at every forward pass.
type hiddenMirror struct{ optim.Optimizer }

// editor is a callback that scales every weight of the model by 0.99 at
// every batch end, directly, and says whether it preserves weights as
// told (a wrong claim of true is the bug Fit cannot catch).
type editor struct {
	BaseCallback
	claim bool
}

func (e *editor) OnBatchEnd(c *Context) error {
	for _, p := range c.Model.Params() {
		for i, v := range p.Data() {
			p.Data()[i] = v * 0.99
		}
	}
	return nil
}

func (e *editor) PreservesWeights() bool { return e.claim }

// preserver is a callback that changes nothing and says so.
type preserver struct{ BaseCallback }

func (preserver) PreservesWeights() bool { return true }

// sparseChainModel returns three G2G layers on the sparse kernel (4
// ensembles, density 0.4, ReLU) of the given in × out sizes, then a dense
// layer of 5 outputs, on 40 inputs.
func sparseChainModel(t *testing.T, sizes [][2]int) *Model {
	t.Helper()
	var ls []layers.Layer
	for i, w := range sizes {
		ls = append(ls, mustG2G(t, layers.G2GConfig{Name: string(rune('a' + i)), In: w[0], Out: w[1], Groups: 4,
			Density: 0.4, Sampling: layers.SampleExact, Activation: layers.ReLU, Kernel: layers.KernelSparse, Seed: int64(i + 1)}))
	}
	ls = append(ls, mustDense(t, layers.DenseConfig{Name: "out", In: sizes[len(sizes)-1][1], Out: 5, Seed: 9}))
	m, err := Sequential([]int{40}, ls...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// trainMirrorModel trains a three-layer G2G model on the sparse kernel for
// two epochs and returns its parameters and its last loss.
func trainMirrorModel(t *testing.T, opt optim.Optimizer, cbs ...Callback) ([][]float32, float64) {
	t.Helper()
	m := sparseChainModel(t, [][2]int{{40, 48}, {48, 48}, {48, 32}})
	h, err := m.Fit(toyData(70, 40, 5, 3), FitConfig{Epochs: 2, BatchSize: 16, Optimizer: opt, Seed: 4, Callbacks: cbs})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.Data()...))
	}
	return out, h.Epochs[len(h.Epochs)-1]["loss"]
}

func sameBits(a, b [][]float32) bool {
	for k := range a {
		for i := range a[k] {
			if math.Float32bits(a[k][i]) != math.Float32bits(b[k][i]) {
				return false
			}
		}
	}
	return true
}

// With an optimizer that writes the sparse layers' weight copies, Fit
// keeps them current between steps instead of refreshing them from W at
// every forward pass: that changes no number, for Adam and SGD, with
// weight-preserving callbacks or none. A callback that edits weights and
// says so (or says nothing) turns the copies off, so its edits are seen; one
// that edits weights while claiming it does not makes the forward passes
// read stale copies, which is why the claim is needed and why this test can
// tell the copies are in use.
func TestMirroredWeightsChangeNoNumber(t *testing.T) {
	for _, kind := range []string{"adam", "sgd"} {
		mk := func() optim.Optimizer {
			if kind == "adam" {
				return must(optim.NewAdam(optim.AdamConfig{LR: 1e-2}))
			}
			return must(optim.NewSGD(optim.SGDConfig{LR: 0.05, Momentum: 0.9}))
		}
		ref, refLoss := trainMirrorModel(t, hiddenMirror{mk()})
		got, loss := trainMirrorModel(t, mk(), preserver{})
		if !sameBits(got, ref) || loss != refLoss {
			t.Fatalf("%s: training with mirrored weight copies differs (loss %v, want %v)", kind, loss, refLoss)
		}
		editRef, _ := trainMirrorModel(t, hiddenMirror{mk()}, &editor{claim: false})
		if got, _ := trainMirrorModel(t, mk(), &editor{claim: false}); !sameBits(got, editRef) {
			t.Fatalf("%s: a weight-editing callback's edits were not seen by the forward passes", kind)
		}
		lied, _ := trainMirrorModel(t, mk(), &editor{claim: true})
		if sameBits(lied, editRef) {
			t.Fatalf("%s: a callback editing weights while claiming not to changed nothing: the forward passes do not read the copies", kind)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Predict runs whole chunks of a sparse chain on different processors
// when the batch has several: the outputs are bit-identical to one
// processor's.
func TestPredictChunksOnProcessorsChangeNoNumber(t *testing.T) {
	m := sparseChainModel(t, [][2]int{{40, 64}, {64, 64}, {64, 32}})
	d := toyData(3*chainChunk+37, 40, 5, 3) // four chunks, the last one short
	predict := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		y, err := m.Predict(d.X, len(d.Y))
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), y...)
	}
	one, two, three := predict(1), predict(2), predict(3)
	if !sameBits([][]float32{one}, [][]float32{two}) || !sameBits([][]float32{one}, [][]float32{three}) {
		t.Fatal("Predict's outputs depend on the number of processors")
	}
}

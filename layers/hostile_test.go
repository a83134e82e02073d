package layers

import (
	"encoding/json"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// A convolution computed in chunks of samples (to bound its patch buffer)
// gives the same bits as in one product.
func TestConvChunksGiveTheSameResult(t *testing.T) {
	l, err := NewConv2D(Conv2DConfig{Name: "c", InChannels: 2, OutChannels: 3, Height: 7, Width: 6, Kernel: 3, Stride: 2, Padding: 1,
		Activation: ReLU, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for k := range l.Bias().Data() {
		l.Bias().Data()[k] = 0.1 * float32(k)
	}
	const bs = 11
	rng := rand.New(rand.NewSource(2))
	x := make([]float32, bs*2*7*6)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	run := func(budget int) []float32 {
		defer func(v int) { convPatchValues = v }(convPatchValues)
		convPatchValues = budget
		op, err := l.Inference([]int{2 * 7 * 6})
		if err != nil {
			t.Fatal(err)
		}
		y := make([]float32, bs*op.OutputSize())
		if err := op.Forward(y, [][]float32{x}, bs); err != nil {
			t.Fatal(err)
		}
		return y
	}
	whole := run(1 << 24)
	pos, kk := 4*3, 2*3*3
	for _, budget := range []int{1, pos * kk, 3*pos*kk + 5, 10 * pos * kk} {
		got := run(budget)
		for i := range whole {
			if math.Float32bits(got[i]) != math.Float32bits(whole[i]) {
				t.Fatalf("budget %d: value %d is %v, in one product %v", budget, i, got[i], whole[i])
			}
		}
	}
}

// Issue 16, item 3, in the loaders: padding beyond half the kernel (which
// NewConv2D refuses) and a sparse width no array justifies are refused.
func TestLoadersRefuseUnjustifiedSizes(t *testing.T) {
	conv, err := NewConv2D(Conv2DConfig{Name: "conv", InChannels: 1, OutChannels: 2, Height: 4, Width: 4, Kernel: 3, Stride: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := conv.Export()
	if err != nil {
		t.Fatal(err)
	}
	attrs := `{"in_channels":1,"out_channels":2,"height":4,"width":4,"kernel":3,"stride":1,"padding":2}`
	if _, err := loadConv2D(NewExportedNode("conv", "conv2d", json.RawMessage(attrs), []int{16}, memArrays(t, e.Arrays))); err == nil || !strings.Contains(err.Error(), "padding 2") {
		t.Fatalf("padding 2 with kernel 3: %v", err)
	}
	g, err := NewG2G(G2GConfig{Name: "g", In: 6, Out: 4, Groups: 2, Density: 0.5, Seed: 1, NoBias: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err = g.Export()
	if err != nil {
		t.Fatal(err)
	}
	attrs = `{"in":6,"out":100000000,"active":12}`
	if _, err := loadSparseDense(NewExportedNode("g", "sparse_dense", json.RawMessage(attrs), []int{6}, memArrays(t, e.Arrays))); err == nil || !strings.Contains(err.Error(), "justify") {
		t.Fatalf("out 1e8 without a bias: %v", err)
	}
	// Rows listed out of order load as sorted rows.
	arrays := memArrays(t, e.Arrays)
	if _, _, ptr, _ := arrays("indptr"); ptr[8] < 2 {
		t.Fatalf("the first row has %d edges: nothing to reorder", ptr[8])
	}
	swapped := func(name string) (string, []int, []byte, bool) {
		dt, shape, data, ok := arrays(name)
		if name == "indices" || name == "values" {
			size := len(data) / shape[0]
			d := append([]byte(nil), data...)
			// Reverse the first row's edges (indptr[1] of them).
			_, _, ptr, _ := arrays("indptr")
			n := int(ptr[8])
			for a, b := 0, n-1; a < b; a, b = a+1, b-1 {
				for k := 0; k < size; k++ {
					d[a*size+k], d[b*size+k] = d[b*size+k], d[a*size+k]
				}
			}
			data = d
		}
		return dt, shape, data, ok
	}
	raw, _ := json.Marshal(e.Attrs)
	a, err := loadSparseDense(NewExportedNode("g", "sparse_dense", raw, []int{6}, memArrays(t, e.Arrays)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadSparseDense(NewExportedNode("g", "sparse_dense", raw, []int{6}, swapped))
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, -2, 3, 0.5, -1, 2}
	ya, yb := make([]float32, 4), make([]float32, 4)
	a.Forward(ya, [][]float32{x}, 1)
	b.Forward(yb, [][]float32{x}, 1)
	for j := range ya {
		if ya[j] != yb[j] {
			t.Fatalf("output %d: %v from sorted rows, %v from reversed ones", j, ya[j], yb[j])
		}
	}
}

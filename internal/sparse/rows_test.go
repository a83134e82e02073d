package sparse

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// rowsOf returns the active entries of mask m and weights w as Rows.
func rowsOf(m Mask, w []float32) Rows {
	r := Rows{In: m.In, Out: m.Out, Ptr: make([]int, m.In+1), Groups: m.Groups, InGroup: m.InGroup, OutGroup: m.OutGroup}
	for i := 0; i < m.In; i++ {
		for j := 0; j < m.Out; j++ {
			if m.Data[i*m.Out+j] != 0 {
				r.Col = append(r.Col, int32(j))
				r.Val = append(r.Val, w[i*m.Out+j])
			}
		}
		r.Ptr[i+1] = len(r.Col)
	}
	return r
}

// patternArrays returns a pattern's arrays (nil for none) for comparison.
func patternArrays(p *kernels.Pattern) [][]int32 {
	if p == nil {
		return nil
	}
	return [][]int32{p.Ptr, p.Col, p.Off}
}

// A plan and a snapshot built from the compressed rows are those built
// from the dense mask and weights, for every kernel: same blocks, same edge
// patterns, same stored weights, bit for bit.
func TestRowsPlanIsTheDensePlan(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, shape := range [][4]int{{24, 20, 4, 0}, {30, 16, 2, 0}, {17, 9, 1, 0}} {
		in, out, g := shape[0], shape[1], shape[2]
		for _, p := range []float64{0, 0.05, 0.3} {
			m := testMask(in, out, g, p, rng)
			w := randSlice(in*out, rng)
			for k := range w {
				w[k] *= m.Data[k] // a layer's weights are zero where masked
			}
			r := rowsOf(m, w)
			if err := r.Check(); err != nil {
				t.Fatal(err)
			}
			for _, acc := range []bool{false, true} {
				prev := kernels.SetAccelerated(acc)
				for _, want := range []Kernel{Dense, Blocks, Sparse, Auto} {
					for _, fill := range []float64{2, 0.5} {
						name := fmt.Sprintf("%dx%d/g%d/p%v/acc%v/%s/fill%v", in, out, g, p, acc, want, fill)
						tuning := DefaultTuning()
						tuning.DenseBlockFill = fill
						a, b := NewPlan(m, want, tuning), NewPlanRows(r, want, tuning)
						if a.Kernel() != b.Kernel() || !reflect.DeepEqual(a.Blocks(), b.Blocks()) || !reflect.DeepEqual(a.full, b.full) ||
							!reflect.DeepEqual(patternArrays(a.byOut), patternArrays(b.byOut)) || !reflect.DeepEqual(patternArrays(a.byIn), patternArrays(b.byIn)) {
							t.Fatalf("%s: plans differ: %s %v vs %s %v", name, a.Kernel(), a.Blocks(), b.Kernel(), b.Blocks())
						}
						fa, fb := a.Freeze(w, m.Data), b.FreezeRows(r)
						if !reflect.DeepEqual(fa.wm, fb.wm) || !reflect.DeepEqual(fa.vals, fb.vals) || !reflect.DeepEqual(fa.blockW, fb.blockW) ||
							!reflect.DeepEqual(patternArrays(fa.packed), patternArrays(fb.packed)) {
							t.Fatalf("%s: snapshots differ", name)
						}
						if fb.Kernel() != Dense && b.LayoutValues() >= in*out && len(b.Blocks()) < g*g {
							t.Fatalf("%s: layout of %d values for %d blocks", name, b.LayoutValues(), len(b.Blocks()))
						}
					}
				}
				kernels.SetAccelerated(prev)
			}
		}
	}
}

func TestRowsCheck(t *testing.T) {
	good := Rows{In: 2, Out: 3, Ptr: []int{0, 2, 3}, Col: []int32{0, 2, 1}, Val: []float32{1, 2, 3},
		Groups: 1, InGroup: []int{0, 0}, OutGroup: []int{0, 0, 0}}
	if err := good.Check(); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(r *Rows){
		"unsorted":  func(r *Rows) { r.Col = []int32{2, 0, 1} },
		"duplicate": func(r *Rows) { r.Col = []int32{1, 1, 1} },
		"range":     func(r *Rows) { r.Col = []int32{0, 3, 1} },
		"ptr":       func(r *Rows) { r.Ptr = []int{0, 3, 2} },
		"ptr end":   func(r *Rows) { r.Ptr = []int{0, 2, 2} },
		"groups":    func(r *Rows) { r.InGroup = []int{0} },
		"size":      func(r *Rows) { r.In, r.Out = 1<<16, 1<<16 },
		"no ptr":    func(r *Rows) { r.Ptr = nil },
	} {
		r := good
		edit(&r)
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), "rows") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

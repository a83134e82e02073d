package layers

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand"
	"runtime"
	"strings"
	"testing"
)

// memArrays stores an exported layer's arrays the way a file does
// (little-endian bytes), for NewExportedNode.
func memArrays(t *testing.T, arrays []ExportArray) ArrayLookup {
	t.Helper()
	type stored struct {
		dtype string
		shape []int
		data  []byte
	}
	m := map[string]stored{}
	for _, a := range arrays {
		if _, ok := m[a.Name]; ok {
			t.Fatalf("array %q exported twice", a.Name)
		}
		s := stored{dtype: "<f4", shape: a.Shape}
		n := len(a.Float32)
		if a.Int64 != nil {
			s.dtype, n = "<i8", len(a.Int64)
			for _, v := range a.Int64 {
				s.data = binary.LittleEndian.AppendUint64(s.data, uint64(v))
			}
		} else {
			for _, v := range a.Float32 {
				s.data = binary.LittleEndian.AppendUint32(s.data, math.Float32bits(v))
			}
		}
		if s.shape == nil {
			s.shape = []int{n}
		}
		m[a.Name] = s
	}
	return func(name string) (string, []int, []byte, bool) {
		s, ok := m[name]
		return s.dtype, s.shape, s.data, ok
	}
}

// exportNode returns the node a file would give the loader of layer l:
// its attributes as JSON and its arrays.
func exportNode(t *testing.T, l Exportable, sizes []int) *ExportedNode {
	t.Helper()
	e, err := l.Export()
	if err != nil {
		t.Fatal(err)
	}
	attrs := []byte("{}")
	if e.Attrs != nil {
		if attrs, err = json.Marshal(e.Attrs); err != nil {
			t.Fatal(err)
		}
	}
	return NewExportedNode(l.Name(), e.Kind, attrs, sizes, memArrays(t, e.Arrays))
}

// Every built-in layer, exported and loaded back by its kind's loader, must
// compute what its own inference op computes, which must be the layer's
// definition (checked against the gorgonia graph in package graph).
func TestBuiltinKindsRoundTrip(t *testing.T) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	dense, err := NewDense(DenseConfig{Name: "dense", In: 12, Out: 5, Activation: Tanh, Seed: 1})
	must(err)
	denseNoBias, err := NewDense(DenseConfig{Name: "dnb", In: 12, Out: 5, Activation: ReLU, NoBias: true, Seed: 2})
	must(err)
	conv, err := NewConv2D(Conv2DConfig{Name: "conv", InChannels: 3, OutChannels: 2, Height: 2, Width: 2, Kernel: 2, Stride: 1, Padding: 1, Activation: ReLU, Seed: 3})
	must(err)
	patch, err := NewConv2D(Conv2DConfig{Name: "patch", InChannels: 3, OutChannels: 4, Height: 2, Width: 2, Kernel: 2, Stride: 2, Activation: Sigmoid, Flatten: true, Seed: 4})
	must(err)
	blocks, err := NewG2G(G2GConfig{Name: "blocks", In: 12, Out: 8, Groups: 4, Density: 0.5, Sampling: SampleBlocks, Activation: ReLU, Seed: 5})
	must(err)
	scattered, err := NewG2G(G2GConfig{Name: "scattered", In: 12, Out: 8, Groups: 3, Grouping: GroupRandom, Density: 0.5, NoBias: true, Seed: 6})
	must(err)
	act, err := NewActivation("act", Sigmoid)
	must(err)
	drop, err := NewDropout("drop", 0.5, 1)
	must(err)
	flat, err := NewFlatten("flat")
	must(err)
	add, err := NewAdd("add")
	must(err)
	cat, err := NewConcat("cat")
	must(err)
	rng := rand.New(rand.NewSource(7))
	for _, b := range [][]float32{dense.Bias().Data(), conv.Bias().Data(), patch.Bias().Data(), blocks.Bias().Data()} {
		for k := range b {
			b[k] = float32(rng.NormFloat64())
		}
	}
	cases := []struct {
		l     Exportable
		kind  string
		sizes []int
	}{
		{dense, "dense", []int{12}}, {denseNoBias, "dense", []int{12}},
		{conv, "conv2d", []int{12}}, {patch, "conv2d", []int{12}},
		{blocks, "sparse_dense", []int{12}}, {scattered, "sparse_dense", []int{12}},
		{act, "activation", []int{12}}, {drop, "identity", []int{12}}, {flat, "flatten", []int{12}},
		{add, "add", []int{12, 12, 12}}, {cat, "cat", []int{12, 5, 7}},
	}
	cases[len(cases)-1].kind = "concat"
	const n = 21
	for _, c := range cases {
		t.Run(c.l.Name(), func(t *testing.T) {
			node := exportNode(t, c.l, c.sizes)
			if node.Kind != c.kind {
				t.Fatalf("kind %q, want %q", node.Kind, c.kind)
			}
			load, ok := LookupKind(c.kind)
			if !ok {
				t.Fatalf("kind %q is not registered", c.kind)
			}
			loaded, err := load(node)
			if err != nil {
				t.Fatal(err)
			}
			live, err := c.l.Inference(c.sizes)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.OutputSize() != live.OutputSize() {
				t.Fatalf("loaded op gives %d values per sample, the layer's %d", loaded.OutputSize(), live.OutputSize())
			}
			var inputs [][]float32
			for _, s := range c.sizes {
				x := make([]float32, n*s)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				inputs = append(inputs, x)
			}
			want := make([]float32, n*live.OutputSize())
			got := make([]float32, len(want))
			if err := live.Forward(want, inputs, n); err != nil {
				t.Fatal(err)
			}
			if err := loaded.Forward(got, inputs, n); err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
					t.Fatalf("output %d: loaded %v, layer %v", k, got[k], want[k])
				}
			}
			if err := loaded.Forward(got[1:], inputs, n); err == nil {
				t.Fatal("short output buffer accepted")
			}
		})
	}
}

// The ops compute their definitions: here the ones whose code is not a
// port of gorgonia's (add, concat, the identity); dense, conv and sparse
// ops are compared with the evaluation graph in package graph.
func TestSmallOpsByHand(t *testing.T) {
	add, _ := NewAdd("add")
	op, err := add.Inference([]int{2, 2})
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 4)
	if err := op.Forward(y, [][]float32{{1, 2, 3, 4}, {10, 20, 30, 40}}, 2); err != nil || y[0] != 11 || y[3] != 44 {
		t.Fatalf("add: %v, %v", y, err)
	}
	cat, _ := NewConcat("cat")
	if op, err = cat.Inference([]int{1, 2}); err != nil {
		t.Fatal(err)
	}
	y = make([]float32, 6)
	if err := op.Forward(y, [][]float32{{1, 2}, {10, 20, 30, 40}}, 2); err != nil || y[0] != 1 || y[1] != 10 || y[2] != 20 || y[3] != 2 || y[5] != 40 {
		t.Fatalf("concat: %v, %v", y, err)
	}
	if _, err := add.Inference([]int{2, 3}); err == nil || !strings.Contains(err.Error(), `layer "add"`) {
		t.Fatalf("add of different sizes: %v", err)
	}
	d, _ := NewDense(DenseConfig{Name: "d", In: 3, Out: 2})
	if _, err := d.Inference([]int{4}); err == nil || !strings.Contains(err.Error(), `layer "d"`) {
		t.Fatalf("dense on the wrong input size: %v", err)
	}
}

func TestRegisterKind(t *testing.T) {
	load := func(n *ExportedNode) (InferenceOp, error) { return &copyOp{size: n.InputSizes[0]}, nil }
	if err := RegisterKind("", load); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty kind: %v", err)
	}
	if err := RegisterKind("test_nil", nil); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Fatalf("nil load function: %v", err)
	}
	for _, builtin := range []string{"dense", "sparse_dense", "conv2d", "activation", "identity", "flatten", "add", "concat"} {
		if err := RegisterKind(builtin, load); err == nil || !strings.Contains(err.Error(), "already registered") {
			t.Fatalf("registering built-in kind %q again: %v", builtin, err)
		}
	}
	if err := RegisterKind("test_kind", load); err != nil {
		t.Fatal(err)
	}
	if err := RegisterKind("test_kind", load); err == nil || !strings.Contains(err.Error(), `"test_kind": already registered`) {
		t.Fatalf("duplicate kind: %v", err)
	}
	if _, ok := LookupKind("test_kind"); !ok {
		t.Fatal("registered kind not found")
	}
	if _, ok := LookupKind("no_such_kind"); ok {
		t.Fatal("unregistered kind found")
	}
	found := false
	for _, k := range Kinds() {
		found = found || k == "test_kind"
	}
	if !found {
		t.Fatalf("Kinds() = %v lacks test_kind", Kinds())
	}
}

// The array accessors check dtype and size before decoding: an array
// larger than the attributes announce is refused without allocating its
// decoded form.
func TestExportedNodeAccessorsAreBounded(t *testing.T) {
	const big = 1 << 21 // values: 8 MiB as float32
	raw := make([]byte, 4*big)
	arrays := func(name string) (string, []int, []byte, bool) {
		switch name {
		case "W":
			return "<f4", []int{big}, raw, true
		case "claims":
			return "<f4", []int{1 << 30, 1 << 30}, raw[:16], true // shape overflows
		case "short":
			return "<f4", []int{8}, raw[:16], true // 4 values, shape says 8
		case "idx":
			return "<i8", []int{2}, raw[:16], true
		}
		return "", nil, nil, false
	}
	n := NewExportedNode("layer", "dense", json.RawMessage(`{}`), []int{4}, arrays)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := n.Float32("W", 4)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), `"layer/W"`) {
		t.Fatalf("oversize array: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > big {
		t.Fatalf("refusing an oversize array allocated %d bytes", grew)
	}
	for name, want := range map[string]string{"claims": "shape", "short": "bytes", "missing": "missing", "idx": "dtype"} {
		if _, err := n.Float32(name, 8); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want an error about its %s", name, err, want)
		}
	}
	if _, err := n.Float32("W", -1); err == nil {
		t.Fatal("negative size accepted")
	}
	if v, err := n.Int64("idx", 2); err != nil || len(v) != 2 {
		t.Fatalf("int64 array: %v, %v", v, err)
	}
	if v, err := n.Float32("W", big); err != nil || len(v) != big {
		t.Fatalf("array of the announced size: %d values, %v", len(v), err)
	}
}

// Loaders validate attributes before asking for arrays: a convolution
// whose kernel exceeds the padded input, or whose attributes describe
// another input size, is refused.
func TestLoadersCheckGeometry(t *testing.T) {
	conv, err := NewConv2D(Conv2DConfig{Name: "conv", InChannels: 1, OutChannels: 2, Height: 4, Width: 4, Kernel: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, err := conv.Export()
	if err != nil {
		t.Fatal(err)
	}
	lookup := memArrays(t, e.Arrays)
	for attrs, want := range map[string]string{
		`{"in_channels":1,"out_channels":2,"height":4,"width":4,"kernel":5,"stride":1}`:              "larger than the padded input",
		`{"in_channels":1,"out_channels":2,"height":4,"width":4,"kernel":3,"stride":0}`:              "geometry",
		`{"in_channels":1,"out_channels":2,"height":2,"width":8,"kernel":3,"stride":1}`:              "larger than the padded input",
		`{"in_channels":1,"out_channels":2,"height":4,"width":4,"kernel":3,"stride":1,"padding":-1}`: "geometry",
		`{"in_channels":2,"out_channels":2,"height":4,"width":2,"kernel":3,"stride":1}`:              "larger than the padded input",
		`{"in_channels":1,"out_channels":2,"height":4,"width":5,"kernel":3,"stride":1}`:              "geometry",
		`{"in_channels":1,"out_channels":3,"height":4,"width":4,"kernel":3,"stride":1}`:              "want 27 values",
	} {
		if _, err := loadConv2D(NewExportedNode("conv", "conv2d", json.RawMessage(attrs), []int{16}, lookup)); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want %q", attrs, err, want)
		}
	}
	g, err := NewG2G(G2GConfig{Name: "g", In: 6, Out: 4, Groups: 2, Density: 0.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	e, err = g.Export()
	if err != nil {
		t.Fatal(err)
	}
	lookup = memArrays(t, e.Arrays)
	for attrs, want := range map[string]string{
		`{"in":6,"out":4,"active":25}`:         "active edges",
		`{"in":6,"out":4,"active":11}`:         "want 11 values",
		`{"in":6,"out":4000000000,"active":1}`: "in 6 out 4000000000",
		`{"in":5,"out":4,"active":12}`:         "but its input has 6",
	} {
		if _, err := loadSparseDense(NewExportedNode("g", "sparse_dense", json.RawMessage(attrs), []int{6}, lookup)); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want %q", attrs, err, want)
		}
	}
}

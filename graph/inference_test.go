package graph

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
)

// fixtureModel builds the model of testdata/export_v1.npz (see
// testdata/README.md) with the current code: every built-in kind, sparse
// layers with and without ensemble bounds, a skip connection.
func fixtureModel(t *testing.T) *Model {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "conv", InChannels: 2, OutChannels: 4, Height: 6, Width: 6, Kernel: 3, Stride: 2, Padding: 1, Activation: layers.ReLU, Seed: 1})
	must(err)
	flat, err := layers.NewFlatten("flat")
	must(err)
	ga, err := layers.NewG2G(layers.G2GConfig{Name: "ga", In: 36, Out: 24, Groups: 4, Density: 0.3, Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 2})
	must(err)
	gc, err := layers.NewG2G(layers.G2GConfig{Name: "gc", In: 24, Out: 24, Groups: 4, Density: 0.25, Sampling: layers.SampleBlocks, Activation: layers.ReLU, Seed: 5})
	must(err)
	gb, err := layers.NewG2G(layers.G2GConfig{Name: "gb", In: 24, Out: 24, Groups: 3, Density: 0.4, Grouping: layers.GroupRandom, Sampling: layers.SampleExact, Activation: layers.Tanh, NoBias: true, Seed: 3})
	must(err)
	act, err := layers.NewActivation("act", layers.Sigmoid)
	must(err)
	add, err := layers.NewAdd("skip")
	must(err)
	cat, err := layers.NewConcat("cat")
	must(err)
	drop, err := layers.NewDropout("drop", 0.3, 7)
	must(err)
	proj, err := layers.NewDense(layers.DenseConfig{Name: "proj", In: 60, Out: 16, Activation: layers.ReLU, NoBias: true, Seed: 4})
	must(err)
	out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 5, Seed: 6})
	must(err)
	for _, b := range [][]float32{conv.Bias().Data(), ga.Bias().Data(), gc.Bias().Data(), out.Bias().Data()} {
		for k := range b {
			b[k] = 0.01 * float32(k%7-3)
		}
	}
	in := Input("x", 2, 6, 6)
	fl := Apply(flat, Apply(conv, in))
	a := Apply(ga, fl)
	s := Apply(add, a, Apply(act, Apply(gb, Apply(gc, a))))
	o := Apply(out, Apply(proj, Apply(drop, Apply(cat, s, fl))))
	m, err := NewModel(in, o)
	must(err)
	return m
}

// A model exported by the first version of the format (written at commit
// 078595c) still loads and predicts the logits it predicted then.
func TestLoadsVersion1Export(t *testing.T) {
	inf, err := LoadInference(filepath.Join("testdata", "export_v1.npz"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := npz.Read(filepath.Join("testdata", "export_v1_logits.npz"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := ref["x"].AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref["logits"].AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	for _, bs := range []int{1, 16, 37} {
		got, err := inf.Predict(x, bs)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%d logits, want %d", len(got), len(want))
		}
		for k := range got {
			if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
				t.Fatalf("batch %d: logit %d = %v, the exporting version predicted %v", bs, k, got[k], want[k])
			}
		}
	}
	// The same model built and exported by the current code gives the
	// same file content: arrays and graph byte for byte.
	m := fixtureModel(t)
	path := filepath.Join(t.TempDir(), "now.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	old, err := npz.Read(filepath.Join("testdata", "export_v1.npz"))
	if err != nil {
		t.Fatal(err)
	}
	now, err := npz.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != len(old) {
		t.Fatalf("%d arrays, version 1 wrote %d", len(now), len(old))
	}
	for name, a := range old {
		b, ok := now[name]
		if !ok || a.Dtype != b.Dtype || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("array %q: %s %v (%d bytes), version 1 wrote %s %v (%d bytes)", name, b.Dtype, b.Shape, len(b.Data), a.Dtype, a.Shape, len(a.Data))
		}
	}
}

// A layer applied twice shares its weights: Predict computes both
// applications (on the runtime), Export refuses the model.
func TestSharedLayer(t *testing.T) {
	g := mustG2G(t, layers.G2GConfig{Name: "g", In: 6, Out: 6, Groups: 2, Density: 0.5, Activation: layers.Tanh, Seed: 1})
	in := Input("x", 6)
	out := Apply(mustDense(t, layers.DenseConfig{Name: "out", In: 6, Out: 3, Seed: 2}), Apply(g, Apply(g, in)))
	m, err := NewModel(in, out)
	if err != nil {
		t.Fatal(err)
	}
	x := toyData(9, 6, 3, 3).X
	want, err := m.predictGraph(x, 9)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Predict(x, 4)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
			t.Fatalf("logit %d = %v, the evaluation graph gives %v", k, got[k], want[k])
		}
	}
	if m.PredictPath() != "inference runtime" {
		t.Fatalf("PredictPath() = %q", m.PredictPath())
	}
	if err := m.Export(filepath.Join(t.TempDir(), "m.npz")); err == nil || !strings.Contains(err.Error(), `layer "g" is applied more than once`) {
		t.Fatalf("export of a shared layer: %v", err)
	}
}

// opaque hides every method of a layer but those of layers.Layer.
type opaque struct{ layers.Layer }

// noOp is a layer whose inference op cannot be built.
type noOp struct{ layers.Layer }

func (noOp) Inference([]int) (layers.InferenceOp, error) {
	return nil, errors.New("no op today")
}

// A layer without an inference op makes Predict use the evaluation graph,
// visibly (PredictPath), and Export fail naming it; an error building an
// inference op is returned, not hidden by a fallback.
func TestLayersWithoutInference(t *testing.T) {
	h := mustDense(t, layers.DenseConfig{Name: "hidden", In: 6, Out: 5, Activation: layers.ReLU, Seed: 1})
	out := mustDense(t, layers.DenseConfig{Name: "out", In: 5, Out: 3, Seed: 2})
	x := toyData(7, 6, 3, 3).X
	plain, err := Sequential([]int{6}, h, out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.Predict(x, 7)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Sequential([]int{6}, opaque{h}, out)
	if err != nil {
		t.Fatal(err)
	}
	if p := m.PredictPath(); !strings.Contains(p, "gorgonia graph") || !strings.Contains(p, `"hidden"`) || !strings.Contains(p, "graph.opaque") {
		t.Fatalf("PredictPath() = %q", p)
	}
	got, err := m.Predict(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if math.Abs(float64(got[k]-want[k])) > 1e-5*(1+math.Abs(float64(want[k]))) {
			t.Fatalf("logit %d = %v through the graph, %v on the runtime", k, got[k], want[k])
		}
	}
	if err := m.Export(filepath.Join(t.TempDir(), "m.npz")); err == nil || !strings.Contains(err.Error(), `layer "hidden" of type graph.opaque`) {
		t.Fatalf("export of a layer without Export: %v", err)
	}
	bad, err := Sequential([]int{6}, noOp{h}, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Predict(x, 3); err == nil || !strings.Contains(err.Error(), "no op today") || !strings.Contains(err.Error(), `"hidden"`) {
		t.Fatalf("Predict with a noOp inference op: %v", err)
	}
	if _, _, err := bad.Evaluate(toyData(7, 6, 3, 3), 3); err == nil || !strings.Contains(err.Error(), "no op today") {
		t.Fatalf("Evaluate with a noOp inference op: %v", err)
	}
}

// A loaded file is checked: unknown types and malformed graphs are
// refused with the node's name.
func TestLoadChecksTheGraph(t *testing.T) {
	m := smallModel(t, 101)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	arrays, err := npz.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	meta := string(arrays[exportMeta].Data)
	for name, c := range map[string]struct{ old, new, want string }{
		"unknown type":  {`"type":"dense"`, `"type":"mystery"`, `unknown type "mystery"`},
		"unknown input": {`"inputs":["input"]`, `"inputs":["nowhere"]`, `reads "nowhere"`},
		"bad version":   {`"version":1`, `"version":2`, "version 2"},
	} {
		if !strings.Contains(meta, c.old) {
			t.Fatalf("%s: graph %s lacks %s", name, meta, c.old)
		}
		edited := strings.Replace(meta, c.old, c.new, 1)
		var out []npz.Array
		for _, a := range arrays {
			if a.Name == exportMeta {
				a = npz.Uint8(exportMeta, []byte(edited), len(edited))
			}
			out = append(out, a)
		}
		bad := filepath.Join(dir, "bad.npz")
		if err := npz.Write(bad, out); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadInference(bad); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: %v, want %q", name, err, c.want)
		}
	}
}

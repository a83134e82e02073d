package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
)

// node returns the node called name of a decoded exported graph.
func node(t testing.TB, g map[string]any, name string) map[string]any {
	t.Helper()
	for _, n := range g["nodes"].([]any) {
		if n := n.(map[string]any); n["name"] == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// loadBounded loads an exported model, checking it allocates at most limit
// bytes and does not panic.
func loadBounded(t *testing.T, path string, limit uint64) (*Inference, error) {
	t.Helper()
	var inf *Inference
	var err error
	n := allocated(func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("LoadInference(%s) panicked: %v", filepath.Base(path), r)
			}
		}()
		inf, err = LoadInference(path)
	})
	if n > limit {
		t.Errorf("LoadInference(%s) allocated %d MiB, want at most %d", filepath.Base(path), n>>20, limit>>20)
	}
	return inf, err
}

// Issue 16, item 2 for exported models: arrays are read by name, bounded
// by the size the node's attributes give them, after the graph.
func TestExportZipBomb(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	if err := smallModel(t, 101).Export(good); err != nil {
		t.Fatal(err)
	}
	const big = 64 << 20
	for _, name := range []string{"g1/values", "out/W", "junk/x", exportMeta} {
		path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".npz")
		arrays, err := npz.Read(good)
		if err != nil {
			t.Fatal(err)
		}
		var list []npyEntry
		for n, a := range arrays {
			if n != name {
				list = append(list, npyEntry{name: n, dtype: a.Dtype, shape: a.Shape, data: a.Data})
			}
		}
		dtype := "<f4"
		if name == exportMeta {
			dtype = "|u1"
		}
		list = append(list, npyEntry{name: name, dtype: dtype, shape: []int{big / 4}, bomb: big})
		if name == exportMeta {
			list[len(list)-1].shape = []int{big}
		}
		writeArchive(t, path, list)
		_, err = loadBounded(t, path, 8<<20)
		if name == "junk/x" {
			if err != nil { // an array no node reads is not read at all
				t.Errorf("junk array: %v", err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), name) {
			t.Errorf("bomb in %s: %v", name, err)
		}
	}
}

// convModel is a conv net on 1×28×28 inputs: conv (kernel k, padding p,
// two channels) then dense.
func convModel(t *testing.T, k, p int) *Model {
	t.Helper()
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "conv", InChannels: 1, OutChannels: 2, Height: 28, Width: 28,
		Kernel: k, Stride: 1, Padding: p, Activation: layers.ReLU, Flatten: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Sequential([]int{1, 28, 28}, conv, mustDense(t, layers.DenseConfig{Name: "out", In: conv.OutputShape()[0], Out: 3, Seed: 2}))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Issue 16, item 3: convolution geometry.
func TestExportConvGeometry(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	if err := convModel(t, 3, 1).Export(good); err != nil {
		t.Fatal(err)
	}
	// Each case edits the conv node and gives it a W of the size its
	// attributes ask for, so that only the geometry is wrong.
	cases := []struct {
		name             string
		kernel, pad, out int
		want             string
	}{
		{"k30.npz", 30, 0, 2 * 28 * 28, "kernel"},      // larger than the input: negative output size
		{"k100.npz", 100, 0, 2 * 28 * 28, "kernel"},    // the 100 GB
		{"pad2.npz", 3, 2, 2 * 30 * 30, "padding"},     // more than half the kernel, as the trainer refuses
		{"pad900.npz", 3, 900, 2 * 28 * 28, "padding"}, // output positions that see only zeros
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		tamper(t, good, path, exportMeta, func(e map[string]*npyEntry) {
			e["conv/W"].shape, e["conv/W"].data = []int{2, 1, c.kernel, c.kernel}, make([]byte, 4*2*c.kernel*c.kernel)
		}, func(g map[string]any) {
			n := node(t, g, "conv")
			n["kernel"], n["padding"] = c.kernel, c.pad
		})
		_, err := loadBounded(t, path, 8<<20)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `"conv"`) {
			t.Errorf("%s: %v, want an error naming node \"conv\" and %q", c.name, err, c.want)
		}
	}
}

// A convolution the trainer accepts but whose patches are large (kernel
// 100, padding 50 on 28×28: 29·29 positions of 10⁴ values per sample, 34 MB
// a sample) predicts a batch without holding every sample's patches at once.
func TestConvPatchesAreBounded(t *testing.T) {
	m := convModel(t, 100, 50)
	path := filepath.Join(t.TempDir(), "wide.npz")
	if err := m.Export(path); err != nil {
		t.Fatal(err)
	}
	inf, err := loadBounded(t, path, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	x := toyData(4, 784, 3, 1).X
	want, err := m.Predict(x, 1) // one sample at a time: no chunking possible
	if err != nil {
		t.Fatal(err)
	}
	var got []float32
	if n := allocated(func() { got, err = inf.Predict(x, 4) }); n > 80<<20 {
		t.Errorf("Predict of 4 samples allocated %d MiB, want at most one sample's patches (34 MiB) and change", n>>20)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The chunked patches give each sample the same products; the dense
	// layer after them multiplies 4 rows or 1, which OpenBLAS may do with
	// different kernels (its small-matrix paths depend on the shape), so
	// the last bits may differ there.
	if len(got) != len(want) {
		t.Fatalf("%d predictions in one batch, %d one sample at a time", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("prediction %d: %v in one batch, %v one sample at a time", i, got[i], want[i])
		}
	}
}

// sparseModel is input 784 → G2G (784 → 16) → dense (16 → 3).
func sparseModel(t *testing.T) *Model {
	t.Helper()
	g := mustG2G(t, layers.G2GConfig{Name: "g1", In: 784, Out: 16, Groups: 8, Density: 0.25, Activation: layers.ReLU, Seed: 1})
	m, err := Sequential([]int{784}, g, mustDense(t, layers.DenseConfig{Name: "out", In: 16, Out: 3, Seed: 2}))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Issue 16, item 3: a sparse node is loaded from its compressed rows, so
// its width costs what its arrays hold, not in × out.
func TestExportSparseWidthIsBounded(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	if err := sparseModel(t).Export(good); err != nil {
		t.Fatal(err)
	}
	const wide = 262144
	// Inconsistent: g1 claims 262144 outputs (with a bias of that size),
	// the next node reads 16.
	path := filepath.Join(dir, "wide.npz")
	tamper(t, good, path, exportMeta, func(e map[string]*npyEntry) {
		e["g1/b"].shape, e["g1/b"].data = []int{wide}, make([]byte, 4*wide)
	}, func(g map[string]any) {
		n := node(t, g, "g1")
		n["out"], n["in_bounds"], n["out_bounds"] = wide, nil, nil
	})
	if _, err := loadBounded(t, path, 32<<20); err == nil || !strings.Contains(err.Error(), "262144") {
		t.Errorf("inconsistent width: %v", err)
	}
	// Consistent: the next node reads the 262144 outputs too.
	path = filepath.Join(dir, "wide2.npz")
	tamper(t, good, path, exportMeta, func(e map[string]*npyEntry) {
		e["g1/b"].shape, e["g1/b"].data = []int{wide}, make([]byte, 4*wide)
		e["out/W"].shape, e["out/W"].data = []int{wide, 3}, make([]byte, 4*3*wide)
	}, func(g map[string]any) {
		n := node(t, g, "g1")
		n["out"], n["in_bounds"], n["out_bounds"] = wide, nil, nil
		node(t, g, "out")["in"] = wide
	})
	inf, err := loadBounded(t, path, 32<<20)
	if err != nil {
		t.Fatal(err)
	}
	if inf.Classes() != 3 {
		t.Fatalf("%d classes", inf.Classes())
	}
}

// exportJSON returns the graph of an exported model, decoded.
func exportJSON(t *testing.T, path string) map[string]any {
	arrays, err := npz.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]any
	if err := json.Unmarshal(arrays[exportMeta].Data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// FuzzLoadInference reads arbitrary bytes as an exported model: no panic,
// errors name the file, and a model that loads predicts the right number
// of values (checked when its widths are small enough to try).
func FuzzLoadInference(f *testing.F) {
	dir := f.TempDir()
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "c", InChannels: 1, OutChannels: 2, Height: 4, Width: 4,
		Kernel: 3, Stride: 1, Padding: 1, Activation: layers.ReLU, Flatten: true, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	cm, err := Sequential([]int{1, 4, 4}, conv, mustDense(f, layers.DenseConfig{Name: "out", In: 32, Out: 2, Seed: 2}))
	if err != nil {
		f.Fatal(err)
	}
	for k, m := range []*Model{smallModel(f, 5), cm} {
		path := filepath.Join(dir, fmt.Sprintf("m%d.npz", k))
		if err := m.Export(path); err != nil {
			f.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := npz.NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			return
		}
		inf, err := loadInference(r)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.npz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if inf.InputSize() > 1<<12 {
			return
		}
		for _, n := range inf.nodes {
			if n.width > 1<<14 {
				return
			}
		}
		y, err := inf.Predict(make([]float32, 3*inf.InputSize()), 2)
		if err == nil && len(y) != 3*inf.Classes() {
			t.Fatalf("%d outputs for 3 samples of %d classes", len(y), inf.Classes())
		}
	})
}

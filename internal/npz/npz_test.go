package npz

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/atomicfile"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npz")
	w := []float32{1.5, -2, 0, 3.25, 1e-8, -7}
	mask := []uint8{1, 0, 1, 1, 0, 0}
	if err := Write(path, []Array{Float32("param/l1/W", w, 2, 3), Uint8("mask/l1", mask, 6), Float32("scalar", []float32{4})}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := got["param/l1/W"].AsFloat32()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gw, w) || !reflect.DeepEqual(got["param/l1/W"].Shape, []int{2, 3}) {
		t.Fatalf("weights %v shape %v", gw, got["param/l1/W"].Shape)
	}
	if !reflect.DeepEqual(got["mask/l1"].Data, mask) || got["mask/l1"].Dtype != "|u1" {
		t.Fatalf("mask %v %s", got["mask/l1"].Data, got["mask/l1"].Dtype)
	}
	if len(got["scalar"].Shape) != 0 || len(got["scalar"].Data) != 4 {
		t.Fatalf("shape %v", got["scalar"].Shape)
	}
}

func TestHeaderIsNumpyV1Aligned(t *testing.T) {
	h := header(Float32("x", make([]float32, 6), 2, 3))
	if len(h)%64 != 0 || h[len(h)-1] != '\n' {
		t.Fatalf("header length %d, last byte %q", len(h), h[len(h)-1])
	}
	if !strings.Contains(string(h), "'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") {
		t.Fatalf("header %q", h)
	}
	if h1 := header(Float32("x", make([]float32, 6), 6)); !strings.Contains(string(h1), "'shape': (6,)") {
		t.Fatalf("1-D header %q", h1)
	}
}

func TestRejectsTruncatedAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npz")
	w := make([]float32, 1000)
	for i := range w {
		w[i] = float32(i)
	}
	if err := Write(path, []Array{Float32("w", w, 1000)}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)

	trunc := filepath.Join(dir, "trunc.npz")
	os.WriteFile(trunc, raw[:len(raw)/2], 0o644)
	if _, err := Read(trunc); err == nil || !strings.Contains(err.Error(), "trunc.npz") {
		t.Fatalf("truncated: %v", err)
	}

	bad := append([]byte(nil), raw...)
	bad[len(bad)/2] ^= 0xff // inside the stored weight data
	corrupt := filepath.Join(dir, "corrupt.npz")
	os.WriteFile(corrupt, bad, 0o644)
	if _, err := Read(corrupt); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupted: %v", err)
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npz")
	if err := Write(path, []Array{Float32("w", []float32{1}, 1)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// A bad array makes Write fail before anything is renamed.
	if err := Write(path, []Array{{Name: "w", Dtype: "<f4", Shape: []int{3}, Data: []byte{1}}}); err == nil {
		t.Fatal("inconsistent array accepted")
	}
	// A writer that fails midway leaves the old file and no temporary.
	err := atomicfile.Write(path, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("disk full")
	})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failing writer: %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(before) != string(after) {
		t.Fatal("old file changed")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the archive", len(entries))
	}
}

func FuzzParseNPY(f *testing.F) {
	f.Add(append(header(Float32("x", []float32{1, 2}, 2)), make([]byte, 8)...))
	f.Add(append(header(Uint8("m", []uint8{1}, 1, 1)), 1))
	f.Add([]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ParseNPY(raw)
		if err == nil && a.Len()*itemSize[a.Dtype] != len(a.Data) {
			t.Fatalf("accepted array with shape %v and %d bytes", a.Shape, len(a.Data))
		}
	})
}

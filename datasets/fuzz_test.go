package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func seedIDX(f *testing.F) [][]byte {
	fx := newFixture(3, 2, 2, 10)
	seeds := [][]byte{
		fx.images(),
		fx.labelsIDX(),
		idxBytes(0x08, []int{0, 5}, nil),
		idxBytes(0x08, []int{2, 1, 1, 1}, []byte{1, 2}),
		idxBytes(0x0C, []int{1}, []byte{0, 0, 0, 1}),
		{0, 0, 8, 1, 0, 0, 0},
		nil,
	}
	for _, s := range seeds[:4] {
		seeds = append(seeds, gzipBytes(f, s))
	}
	return seeds
}

func FuzzReadIDX(f *testing.F) {
	for _, s := range seedIDX(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ReadIDX(bytes.NewReader(data))
		if err != nil {
			return
		}
		p := 1
		for _, d := range idx.Dims {
			p *= d
		}
		if p != len(idx.Data) {
			t.Fatalf("dims %v (product %d) but %d data bytes", idx.Dims, p, len(idx.Data))
		}
		if idx.Type != IDXUnsignedByte {
			t.Fatalf("accepted type %#x", idx.Type)
		}
	})
}

func FuzzLoadIDXPair(f *testing.F) {
	fx := newFixture(3, 2, 2, 10)
	f.Add(fx.images(), fx.labelsIDX(), uint8(10))
	f.Add(gzipBytes(f, fx.images()), gzipBytes(f, fx.labelsIDX()), uint8(3))
	f.Add(fx.images(), idxBytes(0x08, []int{2}, []byte{1, 2}), uint8(10))
	f.Add(idxBytes(0x08, []int{1, 1, 1}, []byte{255}), idxBytes(0x08, []int{1}, []byte{0}), uint8(1))
	f.Fuzz(func(t *testing.T, images, labels []byte, classes uint8) {
		dir := t.TempDir()
		ip, lp := filepath.Join(dir, "images"), filepath.Join(dir, "labels")
		if err := os.WriteFile(ip, images, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, labels, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadIDXPair(ip, lp, int(classes))
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("loaded an invalid data set: %v", err)
		}
		if d.Len() < 1 || len(d.Shape) != 2 {
			t.Fatalf("loaded %d samples of shape %v", d.Len(), d.Shape)
		}
		for i, v := range d.X {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("X[%d] = %v outside [0, 1]", i, v)
			}
		}
		// The file readers agree with the stream reader.
		idx, err := ReadIDX(bytes.NewReader(images))
		if err != nil {
			t.Fatalf("LoadIDXPair accepted images that ReadIDX rejects: %v", err)
		}
		for i, v := range idx.Data {
			if d.X[i] != float32(v)/255 {
				t.Fatalf("X[%d] = %v, want %v", i, d.X[i], float32(v)/255)
			}
		}
	})
}

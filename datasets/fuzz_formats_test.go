package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The seeds are as small as valid inputs get (one record, mostly zeros),
// so that the fuzzer spends its time exploring rather than minimizing.
func FuzzReadCIFAR(f *testing.F) {
	f.Add(zeroRecords(CIFAR10, 1), uint8(0))
	f.Add(zeroRecords(CIFAR100Fine, 1), uint8(1))
	f.Add(zeroRecords(CIFAR100Fine, 1), uint8(2))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		kind := CIFARKind(k % 3)
		d, err := ReadCIFAR(bytes.NewReader(data), "fuzz.bin", kind)
		if err != nil {
			if !bytes.Contains([]byte(err.Error()), []byte("fuzz.bin")) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("loaded an invalid set: %v", err)
		}
		rs := kind.RecordSize()
		if d.Len() == 0 || d.Len()*rs != len(data) {
			t.Fatalf("%d records from %d bytes", d.Len(), len(data))
		}
		for i := 0; i < d.Len(); i++ {
			rec := data[i*rs:]
			want := int(rec[0])
			if kind == CIFAR100Fine {
				want = int(rec[1])
			}
			if d.Y[i] != want {
				t.Fatalf("label %d = %d, want %d", i, d.Y[i], want)
			}
			for k := 0; k < CIFARImageBytes; k++ {
				if d.X[i*CIFARImageBytes+k] != float32(rec[kind.LabelBytes()+k])/255 {
					t.Fatalf("sample %d value %d", i, k)
				}
			}
		}
	})
}

// zeroRecords returns n records of kind with label 1 and black images:
// valid, and compressing to almost nothing.
func zeroRecords(kind CIFARKind, n int) []byte {
	rec := make([]byte, kind.RecordSize())
	for k := 0; k < kind.LabelBytes(); k++ {
		rec[k] = 1
	}
	return bytes.Repeat(rec, n)
}

// smallRelease returns the members of a CIFAR-10 release of one black
// record per file (a gzipped archive of a few hundred bytes).
func smallRelease() []member {
	var ms []member
	for _, name := range append(append([]string(nil), CIFAR10TrainFiles...), CIFAR10TestFile) {
		ms = append(ms, member{"cifar-10-batches-bin/" + name, zeroRecords(CIFAR10, 1)})
	}
	return ms
}

func FuzzLoadCIFARArchive(f *testing.F) {
	f.Add(tarBytes(f, true, smallRelease()...))
	f.Add(tarBytes(f, false, smallRelease()[:2]...))
	f.Add(tarBytes(f, true, smallRelease()[2:]...))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add([]byte("not an archive"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		train, test, err := LoadCIFAR10(p)
		if err != nil {
			if !bytes.Contains([]byte(err.Error()), []byte(p)) {
				t.Fatalf("error does not name the archive: %v", err)
			}
			return
		}
		for _, d := range []*Dataset{train, test} {
			if err := d.Validate(); err != nil || d.Len() == 0 {
				t.Fatalf("loaded %d samples: %v", d.Len(), err)
			}
		}
	})
}

// imageSeeds returns small valid and broken images.
func imageSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, kind := range []string{"rgb", "nrgba", "gray", "gray16", "paletted", "jpeg", "jpeg-gray"} {
		im := makeImage(t, "x", kind, 1, 3, 2)
		seeds = append(seeds, im.data, im.data[:len(im.data)/2])
	}
	return append(seeds, nil, []byte{0xff, 0xd8}, pngMagic)
}

func FuzzDecodeImage(f *testing.F) {
	for _, s := range imageSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, _, err := imageConfig(data, 1<<14)
		if err != nil {
			return
		}
		if w < 1 || h < 1 || w*h > 1<<14 {
			t.Fatalf("accepted %dx%d", w, h)
		}
		for _, c := range []int{1, 3} {
			dst := make([]float32, c*w*h)
			if err := decodeImage(data, dst, c, w, h); err != nil {
				return
			}
			for i, v := range dst {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("value %d = %v outside [0, 1]", i, v)
				}
			}
		}
	})
}

func FuzzLoadImageFolderArchive(f *testing.F) {
	a := makeImage(f, "a/1.png", "rgb", 1, 3, 2)
	b := makeImage(f, "b/1.jpg", "jpeg-gray", 2, 3, 2)
	c := makeImage(f, "b/2.png", "gray", 3, 2, 2)
	f.Add(tarBytes(f, true, member{"root/" + a.name, a.data}, member{"root/" + b.name, b.data}))
	f.Add(tarBytes(f, false, member{a.name, a.data}, member{b.name, b.data}, member{c.name, c.data}))
	f.Add(tarBytes(f, true, member{a.name, a.data[:40]}))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "images.tar.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		d, err := LoadImageFolder(p, ImageFolderOptions{Workers: 1, MaxPixels: 1 << 12, MaxBytes: 1 << 24})
		if err != nil {
			if !bytes.Contains([]byte(err.Error()), []byte(p)) {
				t.Fatalf("error does not name the archive: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil || d.Len() == 0 {
			t.Fatalf("loaded %d samples: %v", d.Len(), err)
		}
		for i, v := range d.X {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("value %d = %v outside [0, 1]", i, v)
			}
		}
	})
}

package npz

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// bomb returns the bytes of an .npz archive holding one deflated float32
// array of n zeros: a few kilobytes per 4 MiB of announced data. With
// lie > 0 the zip directory announces lie data bytes instead of 4n.
func bomb(t testing.TB, name string, n int, lie int) []byte {
	t.Helper()
	hdr := header(Array{Name: name, Dtype: "<f4", Shape: []int{n}})
	var comp bytes.Buffer
	fw, err := flate.NewWriter(&comp, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	crc := crc32.NewIEEE()
	w := io.MultiWriter(fw, crc)
	w.Write(hdr)
	zeros := make([]byte, 1<<20)
	for left := 4 * n; left > 0; left -= len(zeros) {
		w.Write(zeros[:min(left, len(zeros))])
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	size := uint64(len(hdr) + 4*n)
	if lie > 0 {
		size = uint64(len(hdr) + lie)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	f, err := zw.CreateRaw(&zip.FileHeader{Name: name + ".npy", Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(comp.Len()), UncompressedSize64: size})
	if err != nil {
		t.Fatal(err)
	}
	f.Write(comp.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReaderBoundsEachArray(t *testing.T) {
	dir := t.TempDir()
	// 64 MiB of announced zeros in about 64 KiB of file.
	path := filepath.Join(dir, "bomb.npz")
	if err := os.WriteFile(path, bomb(t, "w", 1<<24, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h, err := r.Header("w")
	if err != nil || h.Dtype != "<f4" || len(h.Shape) != 1 || h.Shape[0] != 1<<24 || h.Data != nil {
		t.Fatalf("header %+v, %v", h, err)
	}
	var rerr error
	if n := allocated(func() { _, rerr = r.Read("w", 1<<20) }); n > 1<<20 {
		t.Fatalf("reading an array bounded by 1 MiB allocated %d bytes", n)
	}
	if rerr == nil || !strings.Contains(rerr.Error(), `array "w"`) || !strings.Contains(rerr.Error(), path) {
		t.Fatalf("oversized array: %v", rerr)
	}
	if _, err := r.Read("nothing", 10); err == nil || !strings.Contains(err.Error(), `no array "nothing"`) {
		t.Fatalf("missing array: %v", err)
	}
	a, err := r.Read("w", 1<<26)
	if err != nil || len(a.Data) != 1<<26 {
		t.Fatalf("within the bound: %d bytes, %v", len(a.Data), err)
	}
}

func TestReaderDirectoryCannotLie(t *testing.T) {
	dir := t.TempDir()
	// The directory says 16 data bytes; the entry inflates to 64 MiB.
	path := filepath.Join(dir, "lie.npz")
	if err := os.WriteFile(path, bomb(t, "w", 1<<24, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rerr error
	if n := allocated(func() { _, rerr = r.Read("w", 1<<30) }); n > 1<<20 {
		t.Fatalf("a lying directory made Read allocate %d bytes", n)
	}
	if rerr == nil || !strings.Contains(rerr.Error(), "zip directory") {
		t.Fatalf("lying directory: %v", rerr)
	}
}

func TestReaderRefusesDuplicateEntries(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for range 2 {
		f, _ := zw.Create("a.npy")
		f.Write(append(header(Float32("a", []float32{1}, 1)), 0, 0, 128, 63))
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "dup.npz")
	os.WriteFile(path, buf.Bytes(), 0o644)
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate entry: %v", err)
	}
}

func TestShapeOverflowIsRefused(t *testing.T) {
	// 2^34 · 2^31 overflows int64 to 0 when multiplied unchecked.
	raw := []byte("\x93NUMPY\x01\x00")
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 8, 2147483648), }\n"
	raw = append(raw, byte(len(dict)), 0)
	raw = append(raw, dict...)
	if a, err := ParseNPY(raw); err == nil {
		t.Fatalf("accepted shape %v with %d bytes", a.Shape, len(a.Data))
	}
}

// FuzzReader reads every array of an arbitrary archive through Reader with
// a 1 MiB bound: no panic, and what it returns is consistent.
func FuzzReader(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "a.npz")
	if err := Write(p, []Array{Float32("w", []float32{1, 2, 3, 4, 5, 6}, 2, 3), Uint8("m", []uint8{1, 0, 1}, 3)}); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add(bomb(f, "b", 1<<10, 0))
	f.Add(bomb(f, "b", 1<<10, 8))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.npz") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, name := range r.Names() {
			h, herr := r.Header(name)
			a, err := r.Read(name, 1<<20)
			if err != nil {
				continue
			}
			if herr != nil {
				t.Fatalf("%s: Read accepted what Header refused: %v", name, herr)
			}
			if a.Len()*itemSize[a.Dtype] != len(a.Data) || len(a.Data) > 1<<20 || a.Dtype != h.Dtype {
				t.Fatalf("%s: shape %v of %s with %d bytes", name, a.Shape, a.Dtype, len(a.Data))
			}
		}
	})
}

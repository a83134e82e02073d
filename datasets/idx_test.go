package datasets

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// idxBytes builds an IDX file with the given type, dims and data.
func idxBytes(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes content to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixture is a small image/label set: n images of rows x cols whose pixels
// cover all 256 byte values.
type fixture struct {
	n, rows, cols int
	pixels        []byte
	labels        []byte
}

func newFixture(n, rows, cols, classes int) fixture {
	f := fixture{n: n, rows: rows, cols: cols}
	f.pixels = make([]byte, n*rows*cols)
	for i := range f.pixels {
		f.pixels[i] = byte(i*7 + i/256)
	}
	f.labels = make([]byte, n)
	for i := range f.labels {
		f.labels[i] = byte((i * 3) % classes)
	}
	return f
}

func (f fixture) images() []byte { return idxBytes(0x08, []int{f.n, f.rows, f.cols}, f.pixels) }
func (f fixture) labelsIDX() []byte {
	return idxBytes(0x08, []int{f.n}, f.labels)
}

// write writes the fixture as name-images / name-labels, gzipped if gz.
func (f fixture) write(t testing.TB, dir string, gz bool) (imgPath, lblPath string) {
	img, lbl := f.images(), f.labelsIDX()
	suffix := ""
	if gz {
		img, lbl, suffix = gzipBytes(t, img), gzipBytes(t, lbl), ".gz"
	}
	return writeFile(t, dir, "images-idx3-ubyte"+suffix, img), writeFile(t, dir, "labels-idx1-ubyte"+suffix, lbl)
}

func (f fixture) check(t *testing.T, d *Dataset, classes int) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != f.n || d.SampleSize() != f.rows*f.cols || d.Classes != classes {
		t.Fatalf("got Len %d SampleSize %d Classes %d, want %d %d %d", d.Len(), d.SampleSize(), d.Classes, f.n, f.rows*f.cols, classes)
	}
	if len(d.Shape) != 2 || d.Shape[0] != f.rows || d.Shape[1] != f.cols {
		t.Fatalf("Shape = %v, want [%d %d]", d.Shape, f.rows, f.cols)
	}
	for i, v := range f.pixels {
		if want := float32(v) / 255; d.X[i] != want {
			t.Fatalf("X[%d] = %v, want %v (byte %d)", i, d.X[i], want, v)
		}
	}
	for i, v := range f.labels {
		if d.Y[i] != int(v) {
			t.Fatalf("Y[%d] = %d, want %d", i, d.Y[i], v)
		}
	}
}

func TestReadIDXRawAndGzip(t *testing.T) {
	f := newFixture(5, 4, 3, 10)
	for _, gz := range []bool{false, true} {
		raw := f.images()
		if gz {
			raw = gzipBytes(t, raw)
		}
		idx, err := ReadIDX(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if idx.Type != 0x08 || len(idx.Dims) != 3 || idx.Dims[0] != 5 || idx.Dims[1] != 4 || idx.Dims[2] != 3 {
			t.Fatalf("gz=%v: Type %#x Dims %v", gz, idx.Type, idx.Dims)
		}
		if !bytes.Equal(idx.Data, f.pixels) {
			t.Fatalf("gz=%v: data differs", gz)
		}
		p := writeFile(t, t.TempDir(), "x.idx", raw)
		idx2, err := ReadIDXFile(p)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		if !bytes.Equal(idx2.Data, f.pixels) {
			t.Fatalf("gz=%v: file data differs", gz)
		}
	}
}

func TestReadIDXZeroDim(t *testing.T) {
	idx, err := ReadIDX(bytes.NewReader(idxBytes(0x08, []int{0, 1 << 31}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Data) != 0 || idx.Dims[1] != 1<<31 {
		t.Fatalf("got %v, %d bytes", idx.Dims, len(idx.Data))
	}
}

func TestLoadIDXPair(t *testing.T) {
	f := newFixture(7, 5, 6, 4)
	for _, gz := range []bool{false, true} {
		img, lbl := f.write(t, t.TempDir(), gz)
		d, err := LoadIDXPair(img, lbl, 4)
		if err != nil {
			t.Fatalf("gz=%v: %v", gz, err)
		}
		f.check(t, d, 4)
		if d.Name != "images-idx3-ubyte" {
			t.Errorf("Name = %q", d.Name)
		}
	}
}

// TestLoadIDXPairAllBytes checks every byte value maps to float32(v)/255.
func TestLoadIDXPairAllBytes(t *testing.T) {
	f := fixture{n: 1, rows: 16, cols: 16, pixels: make([]byte, 256), labels: []byte{0}}
	for i := range f.pixels {
		f.pixels[i] = byte(i)
	}
	img, lbl := f.write(t, t.TempDir(), true)
	d, err := LoadIDXPair(img, lbl, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.check(t, d, 1)
	if d.X[0] != 0 || d.X[255] != 1 {
		t.Fatalf("range [%v, %v], want [0, 1]", d.X[0], d.X[255])
	}
}

func wantErr(t *testing.T, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

func TestIDXFileErrors(t *testing.T) {
	good := newFixture(3, 2, 2, 10)
	valid := good.images()
	cases := []struct {
		name    string
		content []byte
		phrases []string
	}{
		{"bad-magic", append([]byte{0x12, 0x34}, valid[2:]...), []string{"bad magic", "12 34 08 03"}},
		{"text", []byte("hello world"), []string{"bad magic"}},
		{"unsupported-type", idxBytes(0x0D, []int{1}, make([]byte, 4)), []string{"unsupported data type 0x0D (float32)", "only 0x08"}},
		{"unknown-type", idxBytes(0x42, []int{1}, []byte{1}), []string{"unknown data type 0x42"}},
		{"empty", nil, []string{"truncated header", "expected 4 magic bytes, found 0"}},
		{"short-magic", []byte{0, 0}, []string{"truncated header", "found 2"}},
		{"truncated-header", valid[:9], []string{"truncated header", "3 dimensions need 12 bytes", "found 5"}},
		{"zero-dims", []byte{0, 0, 8, 0}, []string{"0 dimensions"}},
		{"truncated-data", valid[:len(valid)-3], []string{"truncated: header says 12 bytes of data", "found 9"}},
		{"trailing-data", append(append([]byte(nil), valid...), 0), []string{"trailing data", "header says 12 bytes"}},
		{"absurd-dim", idxBytes(0x08, []int{0xFFFFFFFF}, nil), []string{"absurd header"}},
		{"absurd-product", idxBytes(0x08, []int{1 << 16, 1 << 16}, nil), []string{"absurd header", "limit of 2147483648 bytes"}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		for _, gz := range []bool{false, true} {
			content, name := c.content, c.name
			if gz {
				content, name = gzipBytes(t, content), name+".gz"
			}
			t.Run(name, func(t *testing.T) {
				p := writeFile(t, dir, name, content)
				_, err := ReadIDXFile(p)
				wantErr(t, err, append([]string{p}, c.phrases...)...)
				_, err = ReadIDX(bytes.NewReader(content))
				wantErr(t, err, append([]string{"idx: "}, c.phrases...)...)
				// The same file as images of a pair names the images file.
				lbl := writeFile(t, t.TempDir(), "labels", good.labelsIDX())
				_, err = LoadIDXPair(p, lbl, 10)
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Fatalf("LoadIDXPair error %v does not name %s", err, p)
				}
			})
		}
	}
}

func TestIDXGzipErrors(t *testing.T) {
	f := newFixture(3, 2, 2, 10)
	gz := gzipBytes(t, f.images())
	dir := t.TempDir()

	bad := append([]byte(nil), gz...)
	bad[len(bad)-8] ^= 0xff // CRC-32 in the trailer
	p := writeFile(t, dir, "badcrc.gz", bad)
	_, err := ReadIDXFile(p)
	wantErr(t, err, p, "checksum")

	p = writeFile(t, dir, "cut.gz", gz[:len(gz)-12])
	_, err = ReadIDXFile(p)
	wantErr(t, err, p)

	p = writeFile(t, dir, "hdr.gz", gz[:5])
	_, err = ReadIDXFile(p)
	wantErr(t, err, p, "gzip")
}

func TestReadIDXFileMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope-idx1-ubyte")
	_, err := ReadIDXFile(p)
	wantErr(t, err, p, "no such file")
}

func TestLoadIDXPairErrors(t *testing.T) {
	f := newFixture(4, 3, 3, 10)
	dir := t.TempDir()
	img, lbl := f.write(t, dir, false)

	t.Run("count-mismatch", func(t *testing.T) {
		l3 := writeFile(t, dir, "l3", idxBytes(0x08, []int{3}, f.labels[:3]))
		_, err := LoadIDXPair(img, l3, 10)
		wantErr(t, err, "count mismatch", img, l3, "4 images", "3 labels")
	})
	t.Run("label-out-of-range", func(t *testing.T) {
		bad := append([]byte(nil), f.labels...)
		bad[2] = 10
		p := writeFile(t, dir, "lbad.gz", gzipBytes(t, idxBytes(0x08, []int{4}, bad)))
		_, err := LoadIDXPair(img, p, 10)
		wantErr(t, err, p, "label 10 at index 2 out of range", "< 10 classes")
	})
	t.Run("classes", func(t *testing.T) {
		_, err := LoadIDXPair(img, lbl, 0)
		wantErr(t, err, img, "classes must be >= 1")
	})
	t.Run("2-D-images", func(t *testing.T) {
		p := writeFile(t, dir, "img2d", idxBytes(0x08, []int{4, 9}, f.pixels))
		_, err := LoadIDXPair(p, lbl, 10)
		wantErr(t, err, p, "images must be 3-D", "found 2-D [4 9]")
	})
	t.Run("2-D-labels", func(t *testing.T) {
		p := writeFile(t, dir, "lbl2d", idxBytes(0x08, []int{4, 1}, f.labels))
		_, err := LoadIDXPair(img, p, 10)
		wantErr(t, err, p, "labels must be 1-D", "found 2-D [4 1]")
	})
	t.Run("empty-images", func(t *testing.T) {
		p := writeFile(t, dir, "img0", idxBytes(0x08, []int{0, 28, 28}, nil))
		_, err := LoadIDXPair(p, lbl, 10)
		wantErr(t, err, p, "empty images")
	})
	t.Run("truncated-labels", func(t *testing.T) {
		raw := f.labelsIDX()
		p := writeFile(t, dir, "lcut", raw[:len(raw)-1])
		_, err := LoadIDXPair(img, p, 10)
		wantErr(t, err, p, "truncated: header says 4 bytes of data", "found 3")
	})
	t.Run("truncated-images-gz", func(t *testing.T) {
		raw := f.images()
		p := writeFile(t, dir, "icut.gz", gzipBytes(t, raw[:len(raw)-5]))
		_, err := LoadIDXPair(p, lbl, 10)
		wantErr(t, err, p, "truncated: header says 36 bytes of data", "found 31")
	})
	t.Run("missing-labels", func(t *testing.T) {
		p := filepath.Join(dir, "missing")
		_, err := LoadIDXPair(img, p, 10)
		wantErr(t, err, p, "no such file")
	})
}

// allocDuring returns the bytes allocated while running fn.
func allocDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestLyingHeaderDoesNotAllocate checks that a header announcing far more
// data than the input holds cannot force a large allocation, for readers,
// raw files and gzip files with a forged size trailer.
func TestLyingHeaderDoesNotAllocate(t *testing.T) {
	const limit = 16 << 20
	claim := []int{1 << 16, 128, 256} // 2 GiB: at the limit, accepted by the header check
	raw := idxBytes(0x08, claim, make([]byte, 100))
	labels := idxBytes(0x08, []int{1 << 16}, make([]byte, 1<<16))
	dir := t.TempDir()

	n := allocDuring(func() {
		_, err := ReadIDX(bytes.NewReader(raw))
		wantErr(t, err, "truncated: header says 2147483648 bytes of data", "found 100")
	})
	if n > limit {
		t.Errorf("ReadIDX allocated %d bytes", n)
	}

	gz := gzipBytes(t, raw)
	// Forge ISIZE so the trailer agrees with the header.
	binary.LittleEndian.PutUint32(gz[len(gz)-4:], uint32(len(raw)-100+1<<31))
	img := writeFile(t, dir, "lying.gz", gz)
	lbl := writeFile(t, dir, "labels", labels)
	for _, p := range []string{img, writeFile(t, dir, "lying", raw)} {
		n = allocDuring(func() {
			_, err := LoadIDXPair(p, lbl, 10)
			wantErr(t, err, p, "2147483648 bytes") // truncated, or a gzip checksum error for the forged trailer
		})
		if n > limit {
			t.Errorf("LoadIDXPair(%s) allocated %d bytes", p, n)
		}
	}
}

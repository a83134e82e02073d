package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/layers"
)

// This file checks issue 16's acceptance: no crafted input of at most
// 10 MB makes a g2g command allocate more than a small multiple of what its
// model and data need. Each command runs in a child process that reports
// the heap the Go runtime obtained from the system (MemStats.HeapSys,
// which never shrinks: the peak), with a memory limit that keeps the
// garbage collector from letting garbage pile up (debug.SetMemoryLimit),
// under an address-space limit (ulimit -v) that stops a runaway child
// before it hurts the machine. The tests' models and data need a few
// megabytes, the largest (a convolution's patches) 64 MiB; an input that
// makes a command allocate gigabytes shows as such a heap, or kills the
// child with Go's "out of memory" error.

const (
	// heapLimit is the largest heap a child may report.
	heapLimit = 256 << 20
	// addressLimit is the child's address space (ulimit -v): the Go
	// runtime reserves about a gigabyte of it at start.
	addressLimit = 4 << 30
)

// TestG2GChild is the child process of limited: g2g with the arguments of
// G2G_CHILD_ARGS (one per line), then a line "heap-sys N" on stderr.
func TestG2GChild(t *testing.T) {
	args := os.Getenv("G2G_CHILD_ARGS")
	if args == "" {
		t.Skip("child process of the memory-limit tests")
	}
	debug.SetMemoryLimit(64 << 20)
	code := run(strings.Split(args, "\n"), os.Stdout, os.Stderr)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(os.Stderr, "heap-sys %d\n", ms.HeapSys)
	os.Exit(code)
}

// limited runs g2g with args in a child process (TestG2GChild) and returns
// its exit status, its output and the heap it reported (0 if it died).
func limited(t *testing.T, args ...string) (int, string, uint64) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -v %d && exec "$0" -test.run='^TestG2GChild$' -test.count=1`, addressLimit>>10), os.Args[0])
	cmd.Env = append(os.Environ(), "G2G_CHILD_ARGS="+strings.Join(args, "\n"))
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var heap uint64
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if n, ok := strings.CutPrefix(l, "heap-sys "); ok {
			heap, _ = strconv.ParseUint(n, 10, 64)
			continue
		}
		lines = append(lines, l)
	}
	return code, strings.Join(lines, "\n"), heap
}

// npyHeader returns a .npy v1.0 header for dtype and shape.
func npyHeader(dtype string, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	s := strings.Join(dims, ", ")
	if len(shape) == 1 {
		s += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtype, s)
	dict += strings.Repeat(" ", (64-(11+len(dict))%64)%64) + "\n"
	return append(binary.LittleEndian.AppendUint16([]byte("\x93NUMPY\x01\x00"), uint16(len(dict))), dict...)
}

// entry is one array of a hand-built archive; with zeros > 0 its data is
// that many zero bytes, deflated into a bomb (about 1 KB per MB).
type entry struct {
	name, dtype string
	shape       []int
	data        []byte
	zeros       int64
}

// deflatedZeros returns a raw deflate stream of hdr followed by n zero
// bytes (n a multiple of 64 MiB), built from one compressed 64 MiB block
// repeated (the stream is a sequence of self-contained blocks over a window
// of zeros), and its CRC-32.
func deflatedZeros(t *testing.T, hdr []byte, n int64) ([]byte, uint32) {
	t.Helper()
	const chunk = 64 << 20
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	fw.Write(hdr)
	zeros := make([]byte, 1<<20)
	writeChunk := func() {
		for i := 0; i < chunk/len(zeros); i++ {
			fw.Write(zeros)
		}
		fw.Flush()
	}
	writeChunk()
	head := append([]byte(nil), buf.Bytes()...)
	writeChunk()
	rep := append([]byte(nil), buf.Bytes()[len(head):]...)
	fw.Close()
	tail := append([]byte(nil), buf.Bytes()[len(head)+len(rep):]...)
	out := append([]byte(nil), head...)
	for k := int64(1); k < n/chunk; k++ {
		out = append(out, rep...)
	}
	out = append(out, tail...)
	crc := crc32.ChecksumIEEE(hdr)
	for k := int64(0); k < n/int64(len(zeros)); k++ {
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	return out, crc
}

// TestDeflatedZeros checks the bomb builder on 128 MiB.
func TestDeflatedZeros(t *testing.T) {
	hdr := []byte("header")
	comp, crc := deflatedZeros(t, hdr, 128<<20)
	r := flate.NewReader(bytes.NewReader(comp))
	h := crc32.NewIEEE()
	n, err := io.Copy(h, r)
	if err != nil || n != int64(len(hdr))+128<<20 || h.Sum32() != crc {
		t.Fatalf("%d bytes, crc %x vs %x, %v", n, h.Sum32(), crc, err)
	}
}

// writeArchive writes entries as an .npz archive at path and checks it is
// at most 10 MB.
func writeArchive(t *testing.T, path string, entries []entry) {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range entries {
		hdr := npyHeader(e.dtype, e.shape)
		if e.zeros == 0 {
			f, _ := zw.Create(e.name + ".npy")
			f.Write(hdr)
			f.Write(e.data)
			continue
		}
		comp, crc := deflatedZeros(t, hdr, e.zeros)
		f, err := zw.CreateRaw(&zip.FileHeader{Name: e.name + ".npy", Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(comp)), UncompressedSize64: uint64(len(hdr)) + uint64(e.zeros)})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(comp)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if out.Len() > 10<<20 {
		t.Fatalf("%s: %d bytes, more than 10 MB", path, out.Len())
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewrite copies the archive src to dst through edit (entries by name, the
// metadata excluded; nil removes one), then recomputes the checksums of a
// checkpoint's metadata as a forger would; metaEdit edits the decoded
// metadata (or graph) of entry meta.
func rewrite(t *testing.T, src, dst, meta string, edit func(map[string]*entry), metaEdit func(map[string]any)) {
	t.Helper()
	arrays, err := npz.Read(src)
	if err != nil {
		t.Fatal(err)
	}
	es := map[string]*entry{}
	for n, a := range arrays {
		if n != meta {
			es[n] = &entry{name: n, dtype: a.Dtype, shape: a.Shape, data: a.Data}
		}
	}
	if edit != nil {
		edit(es)
	}
	var md map[string]any
	if err := json.Unmarshal(arrays[meta].Data, &md); err != nil {
		t.Fatal(err)
	}
	if sums, ok := md["sha256"].(map[string]any); ok {
		for n, e := range es {
			if e != nil && e.zeros == 0 {
				s := sha256.Sum256(e.data)
				sums[n] = hex.EncodeToString(s[:])
			}
		}
	}
	if metaEdit != nil {
		metaEdit(md)
	}
	js, _ := json.Marshal(md)
	var names []string
	for n := range es {
		names = append(names, n)
	}
	sort.Strings(names)
	var list []entry
	for _, n := range names {
		if es[n] != nil {
			list = append(list, *es[n])
		}
	}
	writeArchive(t, dst, append(list, entry{name: meta, dtype: "|u1", shape: []int{len(js)}, data: js}))
}

// nodeOf returns the node called name of an exported graph.
func nodeOf(g map[string]any, name string) map[string]any {
	for _, n := range g["nodes"].([]any) {
		if n := n.(map[string]any); n["name"] == name {
			return n
		}
	}
	return nil
}

func TestHostileInputsUnderMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gigabyte zip bombs and runs child processes")
	}
	data := fixtures.FashionMNIST(t, 100, 100)
	dir := t.TempDir()
	ck, ex := filepath.Join(dir, "ck.npz"), filepath.Join(dir, "ex.npz")
	if code, _, errs := g2g("train", "-data", data, "-hidden", "64,64", "-epochs", "1", "-batch", "32", "-quiet", "-save", ck, "-export", ex); code != 0 {
		t.Fatalf("train: %s", errs)
	}
	// The untampered files work under the limit.
	for _, args := range [][]string{{"-checkpoint", ck}, {"-exported", ex}} {
		code, out, heap := limited(t, append([]string{"eval", "-data", data}, args...)...)
		if code != 0 || heap == 0 || heap > heapLimit {
			t.Fatalf("eval %v: exit %d, heap %d MiB\n%s", args, code, heap>>20, out)
		}
		t.Logf("eval %v: heap %d MiB", args, heap>>20)
	}
	const bomb = 2 << 30 // 2 GiB of zeros
	p := func(name string) string { return filepath.Join(dir, name) }

	// Zip bombs in a checkpoint and an exported model.
	rewrite(t, ck, p("ck-param-bomb.npz"), "g2g_meta", func(e map[string]*entry) {
		e["param/hidden1/W"] = &entry{name: "param/hidden1/W", dtype: "<f4", shape: []int{bomb / 4}, zeros: bomb}
	}, nil)
	rewrite(t, ck, p("ck-meta-bomb.npz"), "g2g_meta", nil, nil)
	{
		arrays, _ := npz.Read(ck)
		var list []entry
		for n, a := range arrays {
			if n != "g2g_meta" {
				list = append(list, entry{name: n, dtype: a.Dtype, shape: a.Shape, data: a.Data})
			}
		}
		writeArchive(t, p("ck-meta-bomb.npz"), append(list, entry{name: "g2g_meta", dtype: "|u1", shape: []int{bomb}, zeros: bomb}))
	}
	rewrite(t, ex, p("ex-values-bomb.npz"), "g2g_export", func(e map[string]*entry) {
		e["hidden1/values"] = &entry{name: "hidden1/values", dtype: "<f4", shape: []int{bomb / 4}, zeros: bomb}
	}, nil)
	// Item 1: an array whose real shape disagrees with the metadata.
	rewrite(t, ck, p("ck-shape.npz"), "g2g_meta", func(e map[string]*entry) {
		e["param/hidden1/W"] = &entry{name: "param/hidden1/W", dtype: "<f4", shape: []int{784, 32}, data: make([]byte, 4*784*32)}
	}, nil)
	// A checkpoint whose stored settings describe a huge model.
	rewrite(t, ck, p("ck-huge-config.npz"), "g2g_meta", nil, func(md map[string]any) {
		md["config"].(map[string]any)["hidden"] = "100000,100000"
	})
	// Item 3: a sparse layer claiming 262144 outputs (with a bias that
	// size) that the next layer does not read; a convolution whose patches
	// take 34 MB a sample (kernel 100, padding 50 on 28×28).
	rewrite(t, ex, p("ex-wide.npz"), "g2g_export", func(e map[string]*entry) {
		e["hidden1/b"] = &entry{name: "hidden1/b", dtype: "<f4", shape: []int{262144}, data: make([]byte, 4*262144)}
	}, func(g map[string]any) {
		n := nodeOf(g, "hidden1")
		n["out"], n["in_bounds"], n["out_bounds"] = 262144, nil, nil
	})
	conv, err := layers.NewConv2D(layers.Conv2DConfig{Name: "conv", InChannels: 1, OutChannels: 2, Height: 28, Width: 28,
		Kernel: 100, Stride: 1, Padding: 50, Activation: layers.ReLU, Flatten: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := layers.NewDense(layers.DenseConfig{Name: "out", In: conv.OutputShape()[0], Out: 10, Seed: 2})
	cm, err := graph.Sequential([]int{1, 28, 28}, conv, head)
	if err != nil {
		t.Fatal(err)
	}
	if err := cm.Export(p("ex-conv.npz")); err != nil {
		t.Fatal(err)
	}
	// Item 4: 16 black 4096×4096 PNGs in a tar.gz of a few kilobytes.
	var big bytes.Buffer
	png.Encode(&big, image.NewGray(image.Rect(0, 0, 4096, 4096)))
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for _, split := range []string{"train", "test"} {
		for k := 0; k < 8; k++ {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s/c%d/%d.png", split, k%2, k), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(big.Len())})
			tw.Write(big.Bytes())
		}
	}
	tw.Close()
	zw.Close()
	os.WriteFile(p("big.tar.gz"), tgz.Bytes(), 0o644)

	for _, c := range []struct {
		args []string
		ok   bool // a legitimate model: it must work under the limit
	}{
		{args: []string{"eval", "-data", data, "-checkpoint", p("ck-param-bomb.npz")}},
		{args: []string{"eval", "-data", data, "-checkpoint", p("ck-meta-bomb.npz")}},
		{args: []string{"eval", "-data", data, "-exported", p("ex-values-bomb.npz")}},
		{args: []string{"eval", "-data", data, "-checkpoint", p("ck-shape.npz")}},
		{args: []string{"eval", "-data", data, "-checkpoint", p("ck-huge-config.npz")}},
		{args: []string{"eval", "-data", data, "-exported", p("ex-wide.npz")}},
		{args: []string{"eval", "-data", data, "-exported", p("ex-conv.npz")}, ok: true},
		{args: []string{"train", "-data", data, "-hidden", "64,64", "-epochs", "2", "-quiet", "-resume", p("ck-param-bomb.npz")}},
		{args: []string{"train", "-data", data, "-hidden", "64,64", "-epochs", "2", "-quiet", "-resume", p("ck-meta-bomb.npz")}},
		{args: []string{"train", "-data", data, "-hidden", "100000,100000", "-epochs", "1", "-quiet"}},
		{args: []string{"train", "-dataset", "cifar10", "-data", p("big.tar.gz"), "-hidden", "8", "-epochs", "1", "-quiet"}},
	} {
		code, out, heap := limited(t, c.args...)
		name := strings.Join(c.args, " ")
		if heap == 0 || heap > heapLimit {
			t.Errorf("%s: exit %d, heap %d MiB, want at most %d:\n%.2000s", name, code, heap>>20, heapLimit>>20, out)
			continue
		}
		if c.ok {
			if code != 0 {
				t.Errorf("%s: exit %d:\n%.2000s", name, code, out)
			}
			t.Logf("%s: heap %d MiB", name, heap>>20)
			continue
		}
		lines := strings.Split(out, "\n")
		if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "g2g "+c.args[0]+": ") {
			t.Errorf("%s: exit %d, want 1 and a one-line error:\n%.2000s", name, code, out)
			continue
		}
		t.Logf("%s: heap %d MiB:\n%s", name, heap>>20, lines[0])
	}
}

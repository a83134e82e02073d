package graph

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/npz"
	"github.com/g2g-ml/g2g/optim"
)

// This file builds hostile checkpoints and exported models: arrays whose
// real shape or dtype disagrees with the metadata, zip bombs, non-finite
// values. Every loader must refuse them with an error naming the file and
// the array, without panicking and without allocating much more than the
// model needs.

// npyEntry is one entry of a hand-built archive: a .npy header for
// dtype and shape followed by data; with bomb > 0 the data is instead bomb
// zero bytes, deflated (a few kilobytes per 4 MiB).
type npyEntry struct {
	name  string
	dtype string
	shape []int
	data  []byte
	bomb  int
}

// npyHeader returns a .npy v1.0 header.
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
	out := []byte("\x93NUMPY\x01\x00")
	out = binary.LittleEndian.AppendUint16(out, uint16(len(dict)))
	return append(out, dict...)
}

// writeArchive writes entries as an .npz archive.
func writeArchive(t testing.TB, path string, entries []npyEntry) {
	t.Helper()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, e := range entries {
		hdr := npyHeader(e.dtype, e.shape)
		if e.bomb == 0 {
			f, err := zw.Create(e.name + ".npy")
			if err != nil {
				t.Fatal(err)
			}
			f.Write(hdr)
			f.Write(e.data)
			continue
		}
		var comp bytes.Buffer
		fw, _ := flate.NewWriter(&comp, flate.BestCompression)
		crc := crc32.NewIEEE()
		w := io.MultiWriter(fw, crc)
		w.Write(hdr)
		zeros := make([]byte, 1<<20)
		for left := e.bomb; left > 0; left -= len(zeros) {
			w.Write(zeros[:min(left, len(zeros))])
		}
		fw.Close()
		f, err := zw.CreateRaw(&zip.FileHeader{Name: e.name + ".npy", Method: zip.Deflate, CRC32: crc.Sum32(),
			CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(len(hdr) + e.bomb)})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(comp.Bytes())
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// f32 returns the little-endian bytes of v.
func f32(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// tamper rewrites the archive at src into dst: edit changes its entries
// (read as they are, in name order, the metadata entry excluded), then the
// SHA-256 of every entry is recomputed into the metadata, as a forger
// would. metaEdit, if not nil, edits the decoded metadata afterwards.
func tamper(t testing.TB, src, dst, metaName string, edit func(map[string]*npyEntry), metaEdit func(map[string]any)) {
	t.Helper()
	arrays, err := npz.Read(src)
	if err != nil {
		t.Fatal(err)
	}
	entries := map[string]*npyEntry{}
	for name, a := range arrays {
		if name != metaName {
			entries[name] = &npyEntry{name: name, dtype: a.Dtype, shape: a.Shape, data: a.Data}
		}
	}
	edit(entries)
	var md map[string]any
	if err := json.Unmarshal(arrays[metaName].Data, &md); err != nil {
		t.Fatal(err)
	}
	if sums, ok := md["sha256"].(map[string]any); ok {
		for k := range sums {
			delete(sums, k)
		}
		for name, e := range entries {
			if e != nil && e.bomb == 0 {
				s := sha256.Sum256(e.data)
				sums[name] = hex.EncodeToString(s[:])
			}
		}
	}
	if metaEdit != nil {
		metaEdit(md)
	}
	js, _ := json.Marshal(md)
	var list []npyEntry
	names := make([]string, 0, len(entries))
	for name := range entries {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if e := entries[name]; e != nil {
			list = append(list, *e)
		}
	}
	list = append(list, npyEntry{name: metaName, dtype: "|u1", shape: []int{len(js)}, data: js})
	writeArchive(t, dst, list)
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// trainedCheckpoint saves smallModel after one epoch of Adam.
func trainedCheckpoint(t *testing.T, path string) *Model {
	t.Helper()
	m := smallModel(t, 80)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if _, err := m.Fit(toyData(20, 6, 3, 1), FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt}); err != nil {
		t.Fatal(err)
	}
	os := opt.State()
	if err := m.SaveCheckpoint(path, TrainingState{Epoch: 1, Step: 3, Optimizer: &os}); err != nil {
		t.Fatal(err)
	}
	return m
}

// mustRefuse loads path into m and ReadCheckpointInfo (when info) and
// checks both fail, naming the file and each of want, and that m is
// unchanged.
func mustRefuse(t *testing.T, m *Model, path string, info bool, want ...string) {
	t.Helper()
	before := allParams(m)
	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s accepted %s", what, filepath.Base(path))
		}
		t.Logf("%s: %v", what, err)
		for _, w := range append(want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s of %s: error %q does not mention %q", what, filepath.Base(path), err, w)
			}
		}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("LoadCheckpoint of %s panicked: %v", filepath.Base(path), r)
			}
		}()
		_, err := m.LoadCheckpoint(path)
		check("LoadCheckpoint", err)
	}()
	after := allParams(m)
	for k := range before {
		if math.Float32bits(before[k]) != math.Float32bits(after[k]) {
			t.Fatalf("a refused load of %s changed the model", filepath.Base(path))
		}
	}
	if info {
		_, err := ReadCheckpointInfo(path)
		check("ReadCheckpointInfo", err)
	}
}

// Issue 16, item 1: arrays whose real shape or dtype disagrees with the
// metadata and the model.
func TestCheckpointArraysMustMatchTheModel(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	m := trainedCheckpoint(t, good)
	cases := []struct {
		name string
		info bool // ReadCheckpointInfo must refuse it too (header vs metadata)
		edit func(map[string]*npyEntry)
		want []string
	}{
		{"narrow.npz", true, func(e map[string]*npyEntry) { // (6, 4) instead of (6, 8)
			e["param/g1/W"].shape, e["param/g1/W"].data = []int{6, 4}, e["param/g1/W"].data[:4*24]
		}, []string{`"param/g1/W"`, "[6 4]", "[6 8]"}},
		{"scalar.npz", true, func(e map[string]*npyEntry) {
			e["param/out/W"].shape, e["param/out/W"].data = nil, f32(0.5)
		}, []string{`"param/out/W"`}},
		{"flat.npz", true, func(e map[string]*npyEntry) { // right size, wrong shape
			e["param/g1/W"].shape = []int{48}
		}, []string{`"param/g1/W"`}},
		{"f8.npz", true, func(e map[string]*npyEntry) {
			p := e["param/out/b"]
			p.dtype, p.data = "<f8", append(p.data, p.data...)
		}, []string{`"param/out/b"`, "<f8"}},
		{"maskshape.npz", true, func(e map[string]*npyEntry) {
			e["mask/g2/W"].shape = []int{48}
		}, []string{`"mask/g2/W"`}},
		{"maskdtype.npz", true, func(e map[string]*npyEntry) {
			mk := e["mask/g2/W"]
			mk.dtype, mk.data = "<i8", append(append(append(append(append(append(append(append([]byte(nil), mk.data...), mk.data...), mk.data...), mk.data...), mk.data...), mk.data...), mk.data...), mk.data...)
		}, []string{`"mask/g2/W"`, "<i8"}},
		{"slotlong.npz", false, func(e map[string]*npyEntry) {
			s := e["optim/g1/W/m"]
			s.shape, s.data = []int{96}, append(s.data, s.data...)
		}, []string{`"optim/g1/W/m"`}},
		{"slotdtype.npz", false, func(e map[string]*npyEntry) {
			s := e["optim/g1/W/v"]
			s.dtype, s.data = "<f8", append(s.data, s.data...)
		}, []string{`"optim/g1/W/v"`, "<f8"}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		tamper(t, good, path, "g2g_meta", c.edit, nil)
		mustRefuse(t, m, path, c.info, c.want...)
	}
	// An optimizer slot of a parameter the model does not have.
	path := filepath.Join(dir, "slotname.npz")
	tamper(t, good, path, "g2g_meta", func(e map[string]*npyEntry) {
		e["optim/ghost/m"] = &npyEntry{name: "optim/ghost/m", dtype: "<f4", shape: []int{2}, data: f32(1, 2)}
	}, func(md map[string]any) {
		md["optimizer"].(map[string]any)["slots"].(map[string]any)["ghost"] = []string{"m"}
	})
	mustRefuse(t, m, path, false, `"ghost"`)
	// The untampered file still loads.
	if _, err := m.LoadCheckpoint(good); err != nil {
		t.Fatal(err)
	}
}

// Issue 16, item 2: a zip bomb (a small deflated entry inflating to 64 MiB)
// is refused before it is inflated, whichever entry it is.
func TestCheckpointZipBomb(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	m := trainedCheckpoint(t, good)
	const big = 64 << 20
	for _, name := range []string{"param/g1/W", "mask/g1/W", "optim/g1/W/v", "g2g_meta"} {
		path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".npz")
		if name == "g2g_meta" {
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
			list = append(list, npyEntry{name: name, dtype: "|u1", shape: []int{big}, bomb: big})
			writeArchive(t, path, list)
		} else {
			tamper(t, good, path, "g2g_meta", func(e map[string]*npyEntry) {
				e[name] = &npyEntry{name: name, dtype: "<f4", shape: []int{big / 4}, bomb: big}
			}, nil)
		}
		if st, _ := os.Stat(path); st.Size() > 1<<20 {
			t.Fatalf("%s: the bomb is %d bytes", name, st.Size())
		}
		var err error
		if n := allocated(func() { _, err = m.LoadCheckpoint(path) }); n > 8<<20 {
			t.Errorf("LoadCheckpoint with a bomb in %s allocated %d MiB", name, n>>20)
		}
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), name) {
			t.Errorf("bomb in %s: %v", name, err)
		}
		if n := allocated(func() { _, err = ReadCheckpointInfo(path) }); n > 8<<20 {
			t.Errorf("ReadCheckpointInfo with a bomb in %s allocated %d MiB", name, n>>20)
		}
	}
}

// Issue 16, item 6: non-finite parameters and invalid optimizer state.
func TestCheckpointRefusesNonFiniteState(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.npz")
	m := trainedCheckpoint(t, good)
	set := func(name string, k int, v float32) func(map[string]*npyEntry) {
		return func(e map[string]*npyEntry) {
			d := append([]byte(nil), e[name].data...)
			binary.LittleEndian.PutUint32(d[4*k:], math.Float32bits(v))
			e[name].data = d
		}
	}
	// The first active entry of g1/W, so that a value there is not refused
	// as a nonzero masked weight.
	first := m.SparseLayers()[0].Mask().ActiveIndices()[0]
	cases := []struct {
		name string
		edit func(map[string]*npyEntry)
		want string
	}{
		{"nan.npz", set("param/g1/W", first, float32(math.NaN())), `"g1/W"`},
		{"inf.npz", set("param/out/b", 1, float32(math.Inf(1))), `"out/b"`},
		{"minf.npz", set("param/out/W", 0, float32(math.Inf(-1))), `"out/W"`},
		{"vneg.npz", set("optim/g2/W/v", 0, -1e-3), `"g2/W"`},
		{"vnan.npz", set("optim/out/b/v", 0, float32(math.NaN())), `"out/b"`},
		{"mnan.npz", set("optim/g1/b/m", 0, float32(math.NaN())), `"g1/b"`},
		{"minfm.npz", set("optim/g1/b/m", 0, float32(math.Inf(1))), `"g1/b"`},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		tamper(t, good, path, "g2g_meta", c.edit, nil)
		mustRefuse(t, m, path, false, c.want)
	}
}

// FuzzCheckpoint reads arbitrary bytes as a checkpoint of smallModel, with
// and without the model: no panic, and a checkpoint that loads holds finite
// parameters, zeros at masked positions and metadata its arrays agree with.
func FuzzCheckpoint(f *testing.F) {
	dir := f.TempDir()
	m := smallModel(f, 80)
	opt, _ := optim.NewAdam(optim.AdamConfig{LR: 0.01})
	if _, err := m.Fit(toyData(8, 6, 3, 1), FitConfig{Epochs: 1, BatchSize: 8, Optimizer: opt}); err != nil {
		f.Fatal(err)
	}
	for k, st := range []TrainingState{{}, {Epoch: 1, Step: 1, Optimizer: ptr(opt.State())}} {
		path := filepath.Join(dir, fmt.Sprintf("ck%d.npz", k))
		if err := m.SaveCheckpoint(path, st); err != nil {
			f.Fatal(err)
		}
		good, _ := os.ReadFile(path)
		f.Add(good)
	}
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	var values int64
	for _, p := range m.Params() {
		values += int64(len(p.Data()))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		open := func(values int64) *checkpointFile {
			r, err := npz.NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
			if err != nil {
				return nil
			}
			c, err := readMeta(r, values)
			if err != nil {
				if !strings.Contains(err.Error(), "fuzz.npz") {
					t.Fatalf("error does not name the file: %v", err)
				}
				return nil
			}
			return c
		}
		if c := open(-1); c != nil {
			if _, err := c.checkArrays(); err == nil {
				for _, p := range c.md.Params {
					h, err := c.r.Header("param/" + p.Name)
					if err != nil || h.Dtype != "<f4" || !slicesEqual(h.Shape, p.Shape) {
						t.Fatalf("checked checkpoint: %s has header %v %s (%v), metadata %v", p.Name, h.Shape, h.Dtype, err, p.Shape)
					}
				}
			}
		}
		c := open(values)
		if c == nil {
			return
		}
		if _, err := m.loadCheckpoint(c); err != nil {
			return
		}
		for _, p := range m.Params() {
			if k := nonFinite(p.Data()); k >= 0 {
				t.Fatalf("loaded %s with %v at %d", p.Name, p.Data()[k], k)
			}
			if p.Mask != nil {
				for k, v := range p.Mask.Data() {
					if v == 0 && p.Data()[k] != 0 || v != 0 && v != 1 {
						t.Fatalf("loaded %s with mask %v and value %v at %d", p.Name, v, p.Data()[k], k)
					}
				}
			}
		}
	})
}

func ptr[T any](v T) *T { return &v }

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package datasets

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// member is one file of a test archive.
type member struct {
	name string
	data []byte
}

// tarBytes builds a tar archive (gzipped if gz) holding the members, with
// directory entries for their parents as real archives have.
func tarBytes(t testing.TB, gz bool, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	var zw *gzip.Writer
	var w = &buf
	tw := tar.NewWriter(w)
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	}
	dirs := map[string]bool{}
	for _, m := range members {
		for d := filepath.Dir(m.name); d != "." && d != "/" && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// cifarFixture is a CIFAR file's records with random pixels and labels.
type cifarFixture struct {
	kind         CIFARKind
	coarse, fine []int // labels (fine unused for CIFAR-10)
	pixels       []byte
	n            int
	raw          []byte
}

func newCIFARFixture(kind CIFARKind, n int, seed int64) cifarFixture {
	rng := rand.New(rand.NewSource(seed))
	f := cifarFixture{kind: kind, n: n, pixels: make([]byte, n*CIFARImageBytes)}
	rng.Read(f.pixels)
	for i := 0; i < n; i++ {
		if kind == CIFAR10 {
			f.coarse = append(f.coarse, rng.Intn(10))
			f.raw = append(f.raw, byte(f.coarse[i]))
		} else {
			f.coarse = append(f.coarse, rng.Intn(20))
			f.fine = append(f.fine, rng.Intn(100))
			f.raw = append(f.raw, byte(f.coarse[i]), byte(f.fine[i]))
		}
		f.raw = append(f.raw, f.pixels[i*CIFARImageBytes:(i+1)*CIFARImageBytes]...)
	}
	return f
}

// labels returns the labels a loader of kind should produce.
func (f cifarFixture) labels(kind CIFARKind) []int {
	if kind == CIFAR100Fine {
		return f.fine
	}
	return f.coarse
}

// checkCIFARSet checks every pixel and label of d against the fixtures, in
// order: pixel k of record i is byte k of its 3072 (R plane, G plane, B
// plane), scaled by 1/255, at X[i*3072+k], i.e. (C, H, W) order.
func checkCIFARSet(t *testing.T, d *Dataset, kind CIFARKind, name string, fs ...cifarFixture) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Name != name || fmt.Sprint(d.Shape) != "[3 32 32]" || d.Classes != kind.Classes() || len(d.ClassNames) != kind.Classes() {
		t.Fatalf("got %q shape %v classes %d names %d", d.Name, d.Shape, d.Classes, len(d.ClassNames))
	}
	i := 0
	for _, f := range fs {
		want := f.labels(kind)
		for r := 0; r < f.n; r++ {
			if d.Y[i] != want[r] {
				t.Fatalf("%s: label %d = %d, want %d", name, i, d.Y[i], want[r])
			}
			for k := 0; k < CIFARImageBytes; k++ {
				if got, w := d.X[i*CIFARImageBytes+k], float32(f.pixels[r*CIFARImageBytes+k])/255; got != w {
					t.Fatalf("%s: sample %d value %d (channel %d, row %d, col %d) = %v, want %v",
						name, i, k, k/1024, k/32%32, k%32, got, w)
				}
			}
			i++
		}
	}
	if i != d.Len() {
		t.Fatalf("%s: %d samples, want %d", name, d.Len(), i)
	}
}

// cifar10Release returns the fixtures and the members of a CIFAR-10 release
// (batches of 3, 1, 2, 4, 2 records and a test batch of 3).
func cifar10Release() (train []cifarFixture, test cifarFixture, members []member) {
	for i, n := range []int{3, 1, 2, 4, 2} {
		f := newCIFARFixture(CIFAR10, n, int64(i))
		train = append(train, f)
		members = append(members, member{"cifar-10-batches-bin/" + CIFAR10TrainFiles[i], f.raw})
	}
	test = newCIFARFixture(CIFAR10, 3, 99)
	members = append(members,
		member{"cifar-10-batches-bin/batches.meta.txt", []byte(strings.Join(CIFAR10ClassNames, "\n"))},
		member{"cifar-10-batches-bin/" + CIFAR10TestFile, test.raw})
	return train, test, members
}

// writeMembers writes members below dir.
func writeMembers(t *testing.T, dir string, members []member) {
	t.Helper()
	for _, m := range members {
		p := filepath.Join(dir, filepath.FromSlash(m.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, m.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadCIFAR10(t *testing.T) {
	train, test, members := cifar10Release()
	root := t.TempDir()
	writeMembers(t, filepath.Join(root, "extracted"), members)
	writeFile(t, root, "cifar-10-binary.tar.gz", tarBytes(t, true, members...))
	if err := os.MkdirAll(filepath.Join(root, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "cache"), "cifar-10-binary.tar.gz", tarBytes(t, true, members...))
	// A plain tar with members in a shuffled order and another directory.
	shuffled := append([]member(nil), members...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for i := range shuffled {
		shuffled[i].name = "./repacked/" + filepath.Base(shuffled[i].name)
	}
	writeFile(t, root, "repacked.tar", tarBytes(t, false, shuffled...))
	for _, p := range []string{
		filepath.Join(root, "extracted", "cifar-10-batches-bin"),
		filepath.Join(root, "extracted"),
		filepath.Join(root, "cifar-10-binary.tar.gz"),
		filepath.Join(root, "cache"),
		filepath.Join(root, "repacked.tar"),
	} {
		tr, te, err := LoadCIFAR10(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		checkCIFARSet(t, tr, CIFAR10, "cifar-10/train", train...)
		checkCIFARSet(t, te, CIFAR10, "cifar-10/test", test)
		if tr.ClassNames[3] != "cat" {
			t.Fatalf("class 3 = %q", tr.ClassNames[3])
		}
	}
}

func TestLoadCIFAR100(t *testing.T) {
	train := newCIFARFixture(CIFAR100Fine, 5, 1)
	test := newCIFARFixture(CIFAR100Fine, 2, 2)
	members := []member{
		{"cifar-100-binary/coarse_label_names.txt", []byte("x")},
		{"cifar-100-binary/train.bin", train.raw},
		{"cifar-100-binary/test.bin", test.raw},
	}
	root := t.TempDir()
	writeMembers(t, root, members)
	archive := writeFile(t, root, "cifar-100-binary.tar.gz", tarBytes(t, true, members...))
	for _, kind := range []CIFARKind{CIFAR100Fine, CIFAR100Coarse} {
		for _, p := range []string{root, filepath.Join(root, "cifar-100-binary"), archive} {
			tr, te, err := LoadCIFAR100(p, kind)
			if err != nil {
				t.Fatalf("%s %v: %v", p, kind, err)
			}
			checkCIFARSet(t, tr, kind, "cifar-100/train", train)
			checkCIFARSet(t, te, kind, "cifar-100/test", test)
		}
	}
	_, _, err := LoadCIFAR100(root, CIFAR10)
	wantErr(t, err, root, "kind must be CIFAR100Fine or CIFAR100Coarse")
}

func TestReadCIFAR(t *testing.T) {
	for _, kind := range []CIFARKind{CIFAR10, CIFAR100Fine, CIFAR100Coarse} {
		f := newCIFARFixture(kind, 4, 7)
		d, err := ReadCIFAR(bytes.NewReader(f.raw), "batch", kind)
		if err != nil {
			t.Fatal(err)
		}
		checkCIFARSet(t, d, kind, "batch", f)
	}
	_, err := ReadCIFAR(bytes.NewReader(nil), "batch", CIFARKind(7))
	wantErr(t, err, "batch", "unknown CIFAR kind 7")
	if CIFAR10.RecordSize() != 3073 || CIFAR100Coarse.RecordSize() != 3074 || CIFAR100Coarse.Classes() != 20 || CIFAR100Fine.String() != "cifar-100 (fine labels)" {
		t.Fatal("kind accessors")
	}
}

// TestCIFARErrors checks that malformed input gives an error naming the
// file and the problem.
func TestCIFARErrors(t *testing.T) {
	good := newCIFARFixture(CIFAR10, 2, 3).raw
	badLabel := append([]byte(nil), good...)
	badLabel[3073] = 10
	c100 := newCIFARFixture(CIFAR100Fine, 1, 4).raw
	badCoarse := append([]byte(nil), c100...)
	badCoarse[0] = 20
	badFine := append([]byte(nil), c100...)
	badFine[1] = 100
	cases := []struct {
		name    string
		kind    CIFARKind
		data    []byte
		phrases []string
	}{
		{"empty", CIFAR10, nil, []string{"empty"}},
		{"truncated", CIFAR10, good[:len(good)-5], []string{"truncated or wrong format", "6141 bytes is not a whole number of 3073-byte cifar-10 records", "1 whole records and 3068 bytes left over"}},
		{"label", CIFAR10, badLabel, []string{"record 1: label 10 out of range: expected < 10 classes"}},
		{"wrong-size", CIFAR10, c100, []string{"3074 bytes is not a whole number of 3073-byte"}},
		{"coarse", CIFAR100Fine, badCoarse, []string{"record 0: coarse label 20 out of range"}},
		{"fine", CIFAR100Coarse, badFine, []string{"record 0: fine label 100 out of range"}},
		{"text", CIFAR100Fine, []byte("<html>not found</html>"), []string{"truncated or wrong format"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadCIFAR(bytes.NewReader(c.data), "x.bin", c.kind)
			wantErr(t, err, append([]string{"cifar file x.bin"}, c.phrases...)...)
			// The same file inside a release, as a directory and an archive.
			l := layoutOf(c.kind)
			var members []member
			for _, f := range l.train {
				ok := newCIFARFixture(c.kind, 1, 5).raw
				members = append(members, member{l.dir + "/" + f, ok})
			}
			members = append(members, member{l.dir + "/" + l.test, c.data})
			dir := t.TempDir()
			writeMembers(t, dir, members)
			archive := writeFile(t, dir, "a.tar.gz", tarBytes(t, true, members...))
			load := func(p string) error {
				var err error
				if c.kind == CIFAR10 {
					_, _, err = LoadCIFAR10(p)
				} else {
					_, _, err = LoadCIFAR100(p, c.kind)
				}
				return err
			}
			wantErr(t, load(dir), append([]string{filepath.Join(dir, l.dir, l.test)}, c.phrases...)...)
			wantErr(t, load(archive), append([]string{archive + ": " + l.dir + "/" + l.test}, c.phrases...)...)
		})
	}
}

func TestCIFARReleaseErrors(t *testing.T) {
	_, _, members := cifar10Release()
	dir := t.TempDir()
	t.Run("missing-file", func(t *testing.T) {
		d := filepath.Join(dir, "partial")
		writeMembers(t, d, members[1:])
		_, _, err := LoadCIFAR10(d)
		wantErr(t, err, d, "holds neither data_batch_1.bin", "cifar-10-batches-bin/", "cifar-10-binary.tar.gz")
	})
	t.Run("no-such-path", func(t *testing.T) {
		p := filepath.Join(dir, "nope")
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "no such file or directory")
	})
	t.Run("missing-member", func(t *testing.T) {
		p := writeFile(t, dir, "m.tar.gz", tarBytes(t, true, members[2:]...))
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, "cifar archive "+p, "missing data_batch_1.bin, data_batch_2.bin", "expected cifar-10-batches-bin/data_batch_1.bin")
	})
	t.Run("duplicate-member", func(t *testing.T) {
		dup := append(append([]member(nil), members...), member{"other/test_batch.bin", members[len(members)-1].data})
		p := writeFile(t, dir, "d.tar.gz", tarBytes(t, true, dup...))
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "test_batch.bin appears twice")
	})
	gz := tarBytes(t, true, members...)
	t.Run("truncated-archive", func(t *testing.T) {
		p := writeFile(t, dir, "t.tar.gz", gz[:len(gz)/2])
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p)
	})
	t.Run("bad-crc", func(t *testing.T) {
		bad := append([]byte(nil), gz...)
		bad[len(bad)-8] ^= 0xff
		p := writeFile(t, dir, "c.tar.gz", bad)
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "checksum")
	})
	t.Run("not-an-archive", func(t *testing.T) {
		p := writeFile(t, dir, "n.tar.gz", bytes.Repeat([]byte("not a tar file "), 100))
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "not a tar or tar.gz archive")
	})
	t.Run("bad-gzip", func(t *testing.T) {
		p := writeFile(t, dir, "g.tar.gz", []byte{0x1f, 0x8b, 1, 2, 3})
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "gzip")
	})
	t.Run("empty-archive", func(t *testing.T) {
		p := writeFile(t, dir, "e.tar", tarBytes(t, false))
		_, _, err := LoadCIFAR10(p)
		wantErr(t, err, p, "empty: no tar entries")
	})
	t.Run("lying-size", func(t *testing.T) {
		// A member header announcing 1 GiB in a tiny archive: reported as
		// truncated without allocating the announced size.
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/data_batch_1.bin", Typeflag: tar.TypeReg, Size: 1 << 30})
		tw.Write(make([]byte, 5000))
		p := writeFile(t, dir, "l.tar", buf.Bytes())
		var err error
		n := allocDuring(func() { _, _, err = LoadCIFAR10(p) })
		wantErr(t, err, p, "data_batch_1.bin", "truncated")
		if n > 64<<20 {
			t.Fatalf("allocated %d bytes", n)
		}
	})
}

func TestFindCIFAR(t *testing.T) {
	_, envRoot, cacheSet, _ := findEnv(t)
	_, err := FindCIFAR10("")
	wantErr(t, err, "cifar-10 data not found", filepath.Join(envRoot, "cifar-10"), "cifar-10-binary.tar.gz", "md5 c32a1d4ab5d03f1284b67883e8d87530")
	cache := filepath.Join(filepath.Dir(cacheSet), "cifar-10")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cache, "cifar-10-binary.tar.gz", []byte("x"))
	if p, err := FindCIFAR10(""); err != nil || p != cache {
		t.Fatalf("FindCIFAR10 = %q, %v; want %s", p, err, cache)
	}
	_, _, members := cifar10Release()
	env := filepath.Join(envRoot, "cifar-10")
	writeMembers(t, env, members)
	if p, err := FindCIFAR10(""); err != nil || p != env {
		t.Fatalf("FindCIFAR10 = %q, %v; want %s", p, err, env)
	}
	_, err = FindCIFAR10(filepath.Join(envRoot, "missing"))
	wantErr(t, err, "cifar-10 data", "missing (from -data): no such file or directory")
	_, err = FindCIFAR100("")
	wantErr(t, err, "cifar-100 data not found", "cifar-100-binary.tar.gz")
}

package runner

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
	"github.com/g2g-ml/g2g/graph"
)

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// writeTarGz writes the members (name, content) as a .tar.gz at path.
func writeTarGz(t *testing.T, path string, members map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range members {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Issue 16, item 4: an image folder of 16 black 4096×4096 PNGs (a few
// kilobytes) is refused from the images' headers: the CIFAR commands know
// they want 32×32 images before loading any.
func TestCIFARRefusesOtherImageSizesFromHeaders(t *testing.T) {
	var png4k bytes.Buffer
	if err := png.Encode(&png4k, image.NewGray(image.Rect(0, 0, 4096, 4096))); err != nil {
		t.Fatal(err)
	}
	members := map[string][]byte{}
	for _, split := range []string{"train", "test"} {
		for _, name := range []string{"cat/0.png", "cat/1.png", "cat/2.png", "cat/3.png", "dog/0.png", "dog/1.png", "dog/2.png", "dog/3.png"} {
			members[split+"/"+name] = png4k.Bytes()
		}
	}
	path := filepath.Join(t.TempDir(), "big.tar.gz")
	writeTarGz(t, path, members)
	var err error
	n := allocated(func() {
		err = Command(CIFAR10(), []string{"-data", path, "-epochs", "1", "-hidden", "8", "-quiet"}, io.Discard, io.Discard)
	})
	if n > 64<<20 {
		t.Errorf("refusing the images allocated %d MiB", n>>20)
	}
	if err == nil || !strings.Contains(err.Error(), "4096x4096") || !strings.Contains(err.Error(), "32x32") {
		t.Fatalf("4096×4096 images: %v", err)
	}
}

// Issue 16, item 13: a run whose loss explodes (-lr 1e6: the loss reaches
// 1e20 while staying finite) fails, naming the divergence.
func TestExplodingLossFails(t *testing.T) {
	data := fixtures.FashionMNIST(t, 200, 50)
	err := Command(FashionMNIST(), []string{"-data", data, "-hidden", "16,16", "-epochs", "3", "-batch", "32", "-lr", "1e6", "-quiet"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "diverged") || !strings.Contains(err.Error(), "-lr") {
		t.Fatalf("-lr 1e6: %v", err)
	}
	t.Log(err)
	// A sane run passes the same check.
	if err := Command(FashionMNIST(), []string{"-data", data, "-hidden", "16,16", "-epochs", "3", "-batch", "32", "-quiet"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
}

// countSteps counts the training steps a run takes.
type countSteps struct {
	graph.BaseCallback
	n int
}

func (c *countSteps) OnBatchEnd(*graph.Context) error { c.n++; return nil }

// Issue 16, item 7: -save and -export paths that cannot be written are
// refused before training starts.
func TestOutputPathsCheckedBeforeTraining(t *testing.T) {
	data := fixtures.FashionMNIST(t, 100, 20)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ flag, path string }{
		{"-save", filepath.Join(dir, "missing", "a.npz")},
		{"-save", dir}, // a directory
		{"-save", filepath.Join(file, "a.npz")},
		{"-export", filepath.Join(dir, "missing", "a.npz")},
		{"-export", dir},
	}
	// A read-only directory (root writes anyway: not testable as root).
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ flag, path string }{"-save", filepath.Join(ro, "a.npz")})
	}
	for _, c := range cases {
		o, err := Parse(FashionMNIST(), []string{"-data", data, "-hidden", "8", "-epochs", "1", "-quiet", c.flag, c.path}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		steps := &countSteps{}
		_, err = Run(FashionMNIST(), o, io.Discard, io.Discard, steps)
		if err == nil || !strings.Contains(err.Error(), c.flag+" "+c.path) {
			t.Errorf("%s %s: %v", c.flag, c.path, err)
		}
		if steps.n > 0 {
			t.Errorf("%s %s: refused after %d training steps", c.flag, c.path, steps.n)
		}
	}
}

// removeDir removes a directory when training ends: a late failure of the
// final save, like a full disk.
type removeDir struct {
	graph.BaseCallback
	dir string
}

func (r removeDir) OnTrainEnd(*graph.Context) error { return os.RemoveAll(r.dir) }

// Issue 16, item 7: when the final save or export fails anyway, the state
// is kept in the temporary directory and the error says where.
func TestLateSaveFailureKeepsTheState(t *testing.T) {
	data := fixtures.FashionMNIST(t, 100, 20)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, flag := range []string{"-save", "-export"} {
		out := filepath.Join(t.TempDir(), "out")
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		o, err := Parse(FashionMNIST(), []string{"-data", data, "-hidden", "8", "-epochs", "1", "-quiet", flag, filepath.Join(out, "m.npz")}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Run(FashionMNIST(), o, io.Discard, io.Discard, removeDir{dir: out})
		if err == nil || !strings.Contains(err.Error(), flag) || !strings.Contains(err.Error(), tmp) {
			t.Fatalf("%s to a directory removed during training: %v", flag, err)
		}
		kept, _ := filepath.Glob(filepath.Join(tmp, "g2g-*"))
		if len(kept) != 1 {
			t.Fatalf("%s: kept %v", flag, kept)
		}
		if flag == "-save" {
			if _, err := graph.ReadCheckpointInfo(kept[0]); err != nil {
				t.Fatal(err)
			}
		} else if _, err := graph.LoadInference(kept[0]); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(err.Error(), kept[0]) {
			t.Fatalf("the error does not name %s: %v", kept[0], err)
		}
		os.Remove(kept[0])
	}
}

// Issue 16, item 10: -save and -export naming the same file are refused.
func TestSaveAndExportMustDiffer(t *testing.T) {
	data := fixtures.FashionMNIST(t, 100, 20)
	dir := t.TempDir()
	t.Chdir(dir)
	for _, pair := range [][2]string{{"m.npz", "m.npz"}, {"m.npz", "./m.npz"}, {"m.npz", filepath.Join(dir, "sub", "..", "m.npz")}} {
		o, err := Parse(FashionMNIST(), []string{"-data", data, "-hidden", "8", "-epochs", "1", "-quiet", "-save", pair[0], "-export", pair[1]}, io.Discard)
		if err == nil {
			steps := &countSteps{}
			_, err = Run(FashionMNIST(), o, io.Discard, io.Discard, steps)
			if steps.n > 0 {
				t.Errorf("%v: refused after training", pair)
			}
		}
		if err == nil || !strings.Contains(err.Error(), "-save") || !strings.Contains(err.Error(), "-export") {
			t.Errorf("-save %s -export %s: %v", pair[0], pair[1], err)
		}
	}
	// The same file through a symbolic link.
	os.WriteFile(filepath.Join(dir, "real.npz"), nil, 0o644)
	os.Symlink(filepath.Join(dir, "real.npz"), filepath.Join(dir, "link.npz"))
	o, err := Parse(FashionMNIST(), []string{"-data", data, "-hidden", "8", "-epochs", "1", "-quiet", "-save", "real.npz", "-export", "link.npz"}, io.Discard)
	if err == nil {
		_, err = Run(FashionMNIST(), o, io.Discard, io.Discard)
	}
	if err == nil || !strings.Contains(err.Error(), "same file") {
		t.Errorf("-save through a link to -export: %v", err)
	}
}

// Issue 16, item 14: -lr Inf names the flag.
func TestNonFiniteFlagsNameTheFlag(t *testing.T) {
	for _, args := range [][]string{{"-lr", "Inf"}, {"-lr", "NaN"}, {"-lr", "-Inf"}, {"-zeta", "Inf"}, {"-zeta", "NaN"}, {"-density", "NaN"}, {"-diverge-factor", "Inf"}} {
		_, err := Parse(FashionMNIST(), args, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), args[0]+" ") {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestMemoryChild is the child process of the memory-limit tests: it runs
// the command of data set G2G_MEM_CHILD_DATASET with the arguments of
// G2G_MEM_CHILD_ARGS (one per line) and prints its error.
func TestMemoryChild(t *testing.T) {
	args := os.Getenv("G2G_MEM_CHILD_ARGS")
	if args == "" {
		t.Skip("child process of the memory-limit tests")
	}
	ds, err := Lookup(os.Getenv("G2G_MEM_CHILD_DATASET"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Command(ds, strings.Split(args, "\n"), io.Discard, io.Discard); err != nil {
		fmt.Fprintf(os.Stderr, "child error: %v\n", err)
		os.Exit(3)
	}
}

// underLimit runs the command of data set ds with args in a child process
// whose address space is limited to limit bytes (ulimit -v), and returns
// its exit status and its output. A run that needs more memory than the
// limit dies with Go's "out of memory" error instead of finishing.
func underLimit(t *testing.T, limit int64, ds string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", fmt.Sprintf(`ulimit -v %d && exec "$0" -test.run='^TestMemoryChild$' -test.count=1`, limit>>10), os.Args[0])
	cmd.Env = append(os.Environ(), "G2G_MEM_CHILD_DATASET="+ds, "G2G_MEM_CHILD_ARGS="+strings.Join(args, "\n"))
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, string(out)
}

// memoryLimit is the address space the memory-limit tests give a child:
// the Go runtime reserves a few hundred megabytes of it; the tests' models
// and data need a few megabytes.
const memoryLimit = 1 << 30

// Issue 16, item 14: a model too large for the machine is refused in one
// line naming the flag and the memory it needs, before it is allocated.
func TestHugeModelRefusedBeforeAllocating(t *testing.T) {
	data := fixtures.FashionMNIST(t, 100, 20)
	code, out := underLimit(t, memoryLimit, "fashion-mnist", "-data", data, "-hidden", "100000,100000", "-epochs", "1", "-quiet")
	if code != 3 || !strings.Contains(out, "child error: -hidden 100000,100000: the model needs at least") || strings.Contains(out, "out of memory") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A small model trains under the same limit.
	if code, out := underLimit(t, memoryLimit, "fashion-mnist", "-data", data, "-hidden", "32,32", "-epochs", "1", "-quiet"); code != 0 {
		t.Fatalf("small model under the limit: exit %d:\n%s", code, out)
	}
}

package runner

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
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

package datasets

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sharedCIFAR10JPEG is the CIFAR-10 JPEG copy of the development machines.
const sharedCIFAR10JPEG = "/work/shared/data/cifar10-jpeg.tar.gz"

func realCIFAR10JPEG(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(sharedCIFAR10JPEG); err != nil {
		tb.Skipf("no shared CIFAR-10 JPEG copy: %v", err)
	}
	return sharedCIFAR10JPEG
}

func TestRealCIFAR10JPEG(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 60,000 JPEGs")
	}
	ds, err := LoadImageFolders(realCIFAR10JPEG(t), ImageFolderOptions{}, "train", "test")
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{50000, 10000} {
		d := ds[i]
		if d.Len() != n || fmt.Sprint(d.Shape) != "[3 32 32]" || fmt.Sprint(d.ClassNames) != fmt.Sprint(CIFAR10ClassNames) {
			t.Fatalf("%s: %d samples of %v, classes %v", d.Name, d.Len(), d.Shape, d.ClassNames)
		}
		counts := make([]int, 10)
		for _, y := range d.Y {
			counts[y]++
		}
		for c, k := range counts {
			if k != n/10 {
				t.Fatalf("%s: class %s has %d images", d.Name, d.ClassNames[c], k)
			}
		}
		if i == 0 {
			// The channel means match the published CIFAR-10 statistics.
			for c := 0; c < 3; c++ {
				var s float64
				for j := 0; j < n; j++ {
					for _, v := range d.X[j*3072+c*1024 : j*3072+(c+1)*1024] {
						s += float64(v)
					}
				}
				if m := s / float64(n*1024); math.Abs(m-float64(CIFAR10Stats.Mean[c])) > 0.005 {
					t.Fatalf("channel %d mean %v, want about %v", c, m, CIFAR10Stats.Mean[c])
				}
			}
		}
	}
}

// reportHeap reports the live heap after a load, with the result alive.
func reportHeap(b *testing.B, keep ...*Dataset) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "MB-heap")
	var floats int
	for _, d := range keep {
		floats += len(d.X)
	}
	b.ReportMetric(float64(floats*4)/(1<<20), "MB-data")
}

// BenchmarkLoadCIFAR10JPEG loads the 60,000 images of the shared JPEG copy
// straight from the .tar.gz (decoded in parallel on runtime.NumCPU()
// goroutines). MB-heap is the live heap afterwards, MB-data the float32
// buffers themselves.
func BenchmarkLoadCIFAR10JPEG(b *testing.B) {
	p := realCIFAR10JPEG(b)
	b.ReportAllocs()
	var ds []*Dataset
	for b.Loop() {
		ds = nil
		var err error
		if ds, err = LoadImageFolders(p, ImageFolderOptions{}, "train", "test"); err != nil {
			b.Fatal(err)
		}
	}
	reportHeap(b, ds...)
}

// writeFullCIFAR10 writes a full-size synthetic CIFAR-10 release (50,000 +
// 10,000 random records) as a directory and as a .tar.gz.
func writeFullCIFAR10(b *testing.B) (dir, archive string) {
	root := b.TempDir()
	dir = filepath.Join(root, "cifar-10-batches-bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	archive = filepath.Join(root, "cifar-10-binary.tar.gz")
	af, err := os.Create(archive)
	if err != nil {
		b.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(af, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 10000*3073)
	for _, name := range append(append([]string(nil), CIFAR10TrainFiles...), CIFAR10TestFile) {
		rng.Read(data)
		for r := 0; r < 10000; r++ {
			data[r*3073] %= 10
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: "cifar-10-batches-bin/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.Close()
	zw.Close()
	if err := af.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, archive
}

// BenchmarkLoadCIFAR10Binary loads a full-size (60,000 image) release in
// the official binary format from its directory and from its .tar.gz.
func BenchmarkLoadCIFAR10Binary(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 370 MB of fixtures")
	}
	dir, archive := writeFullCIFAR10(b)
	for _, c := range []struct{ name, path string }{{"dir", dir}, {"targz", archive}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			var train, test *Dataset
			for b.Loop() {
				train, test = nil, nil
				var err error
				if train, test, err = LoadCIFAR10(c.path); err != nil {
					b.Fatal(err)
				}
			}
			reportHeap(b, train, test)
		})
	}
}

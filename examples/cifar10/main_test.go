package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// classColour is the learnable signal of the fake sets: every pixel of an
// image of class c has this colour (plus a little noise), so crops and
// flips keep it.
func classColour(c, i int) (r, g, b byte) {
	palette := [10][3]byte{
		{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0},
		{255, 0, 255}, {0, 255, 255}, {255, 255, 255}, {128, 128, 128}, {128, 0, 255},
	}
	p := palette[c]
	noise := byte(i * 7 % 9)
	return p[0]/2 + noise + 60, p[1]/2 + noise + 60, p[2]/2 + noise + 60
}

// fakeRelease writes a tiny CIFAR-10 binary release (nTrain records spread
// over the five batches, nTest in the test batch) into dir/cifar-10-batches-bin
// and returns dir.
func fakeRelease(t *testing.T, dir string, nTrain, nTest int) string {
	t.Helper()
	bin := filepath.Join(dir, "cifar-10-batches-bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	record := func(i int) []byte {
		c := i % 10
		rec := make([]byte, 3073)
		rec[0] = byte(c)
		r, g, b := classColour(c, i)
		for k := 0; k < 1024; k++ {
			rec[1+k], rec[1025+k], rec[2049+k] = r, g, b
		}
		return rec
	}
	var batches [6][]byte
	for i := 0; i < nTrain; i++ {
		batches[i%5] = append(batches[i%5], record(i)...)
	}
	for i := 0; i < nTest; i++ {
		batches[5] = append(batches[5], record(i+7)...)
	}
	names := []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}
	for k, name := range names {
		if err := os.WriteFile(filepath.Join(bin, name), batches[k], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeJPEGArchive writes a tiny CIFAR image-folder archive shaped like the
// shared JPEG copy (top/{train,test}/<class>/NNNN.png) to path.
func fakeJPEGArchive(t *testing.T, path string, nTrain, nTest int) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	classes := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	for _, split := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"test", nTest}} {
		for i := 0; i < split.n; i++ {
			c := i % 10
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			r, g, b := classColour(c, i)
			for k := 0; k < 1024; k++ {
				img.Set(k%32, k/32, color.RGBA{r, g, b, 255})
			}
			var pb bytes.Buffer
			if err := png.Encode(&pb, img); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("fake-jpeg/%s/%s/%04d.png", split.name, classes[c], i)
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(pb.Len())})
			tw.Write(pb.Bytes())
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// isolate points every default data location into a temp dir.
func isolate(t *testing.T) string {
	root := t.TempDir()
	t.Setenv("G2G_DATA", filepath.Join(root, "data"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	t.Setenv("HOME", filepath.Join(root, "home"))
	return root
}

// lastJSON parses the last line of stdout.
func lastJSON(t *testing.T, out string) map[string]interface{} {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	return res
}

// cifarParams is the parameter count of docs/design.md §5's CIFAR model:
// conv 3·8·8·32 + 32, hidden 512·1024 + 2·1024² + 3·1024, output 1024·k + k.
func cifarParams(classes int) float64 {
	return float64(3*64*32 + 32 + 512*1024 + 2*1024*1024 + 3*1024 + 1024*classes + classes)
}

func TestJSONContractOnTinyData(t *testing.T) {
	dir := fakeRelease(t, t.TempDir(), 200, 30)
	var out, errOut bytes.Buffer
	err := run([]string{"-data", dir, "-epochs", "4", "-batch", "20", "-json", "-lr", "0.001", "-log", filepath.Join(t.TempDir(), "m.jsonl")}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	res := lastJSON(t, out.String())
	for _, k := range []string{"test_acc", "params", "active_params", "density", "sec_per_epoch", "epochs"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, res)
		}
	}
	if res["epochs"].(float64) != 4 || res["density"].(float64) != 0.25 || res["dataset"] != "cifar10" {
		t.Fatalf("result %v", res)
	}
	if got, want := res["params"].(float64), cifarParams(10); got != want {
		t.Fatalf("params %v, want %v", got, want)
	}
	if res["test_acc"].(float64) < 0.5 {
		t.Fatalf("test accuracy %v on a trivially learnable set\n%s", res["test_acc"], errOut.String())
	}
	if !strings.Contains(out.String(), "test acc") || !strings.Contains(errOut.String(), "patch            Conv2D") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

func TestDenseOnDefaultJPEGArchive(t *testing.T) {
	root := isolate(t)
	if err := os.MkdirAll(filepath.Join(root, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(root, "data", "cifar10-jpeg.tar.gz")
	fakeJPEGArchive(t, archive, 60, 20)
	var out, errOut bytes.Buffer
	err := run([]string{"-model", "dense", "-epochs", "1", "-batch", "16", "-json", "-quiet", "-augment=false"}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	res := lastJSON(t, out.String())
	if res["source"] != archive || res["density"].(float64) != 1 || res["params"] != res["active_params"] {
		t.Fatalf("result %v", res)
	}
	if errOut.Len() != 0 {
		t.Fatalf("-quiet wrote to stderr: %q", errOut.String())
	}
}

func TestDownloadChecksumMismatch(t *testing.T) {
	root := isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "not the real archive")
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := run([]string{"-download", "-mirror", srv.URL, "-epochs", "1"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "md5 checksum mismatch") || !strings.Contains(err.Error(), "deleted the downloaded file") {
		t.Fatalf("err = %v", err)
	}
	des, _ := os.ReadDir(filepath.Join(root, "cache", "g2g", "cifar-10"))
	if len(des) != 0 {
		t.Fatalf("cache holds %d files after a failed download", len(des))
	}
}

func TestBadFlags(t *testing.T) {
	isolate(t)
	dir := fakeRelease(t, t.TempDir(), 20, 10)
	empty := t.TempDir()
	cases := []fixtures.FlagCase{
		{Args: []string{"-density", "0"}, Want: "-density 0: want a value in (0, 1]"},
		{Args: []string{"-density", "1.5"}, Want: "-density 1.5"},
		{Args: []string{"-groups", "2000"}, Want: "Groups (2000) larger than the layer width"},
		{Args: []string{"-groups", "0"}, Want: "-groups 0"},
		{Args: []string{"-model", "cnn"}, Want: `invalid value "cnn" for flag -model: unknown model "cnn" (want dense, g2g, dense-matched, er or erk)`},
		{Args: []string{"-grouping", "blocks"}, Want: "unknown grouping"},
		{Args: []string{"-epochs", "-1"}, Want: "-epochs -1"},
		{Args: []string{"-batch", "0"}, Want: "-batch 0"},
		{Args: []string{"-lr", "-1"}, Want: "-lr -1"},
		{Args: []string{"-density", "0.05"}, Want: "below the intra-ensemble share"},
		{Args: []string{"-mirror", "http://x"}, Want: "-mirror needs -download"},
		{Args: []string{"-log", "m.txt"}, Want: "want a .csv or .jsonl file"},
		{Args: []string{"-nosuchflag"}, Want: "flag provided but not defined"},
		{Args: []string{"extra"}, Want: "unexpected argument \"extra\""},
		{Args: []string{"-data", filepath.Join(dir, "missing")}, Want: "no such file or directory"},
		{Args: []string{"-data", empty}, Want: "is neither the official binary set"},
	}
	fixtures.CheckFlagErrors(t, run, []string{"-data", dir, "-epochs", "1"}, cases)
}

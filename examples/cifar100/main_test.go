package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

// record returns a CIFAR-100 record whose colour depends on its coarse
// label (fine = 5·coarse + i%5), so coarse labels are learnable.
func record(i int) []byte {
	coarse := i % 20
	rec := make([]byte, 3074)
	rec[0], rec[1] = byte(coarse), byte(5*coarse+i%5)
	r, g, b := byte(12*coarse), byte(255-12*coarse), byte(40*(coarse%5))
	for k := 0; k < 1024; k++ {
		rec[2+k], rec[1026+k], rec[2050+k] = r, g, b
	}
	return rec
}

// fakeArchive writes a tiny cifar-100-binary.tar.gz to dir and returns its
// path.
func fakeArchive(t *testing.T, dir string, nTrain, nTest int) string {
	t.Helper()
	var train, test []byte
	for i := 0; i < nTrain; i++ {
		train = append(train, record(i)...)
	}
	for i := 0; i < nTest; i++ {
		test = append(test, record(i+3)...)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range []struct {
		name string
		data []byte
	}{{"cifar-100-binary/train.bin", train}, {"cifar-100-binary/test.bin", test}} {
		tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))})
		tw.Write(m.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "cifar-100-binary.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func isolate(t *testing.T) {
	root := t.TempDir()
	t.Setenv("G2G_DATA", filepath.Join(root, "data"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	t.Setenv("HOME", filepath.Join(root, "home"))
}

func lastJSON(t *testing.T, out string) map[string]interface{} {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	return res
}

func TestJSONContractOnTinyData(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	archive := fakeArchive(t, dir, 200, 40)
	for _, c := range []struct {
		labels  string
		classes int
	}{{"coarse", 20}, {"fine", 100}} {
		var out, errOut bytes.Buffer
		args := []string{"-data", archive, "-labels", c.labels, "-epochs", "1", "-batch", "50", "-json", "-quiet"}
		if c.labels == "coarse" {
			args = append(args, "-epochs", "5", "-batch", "20")
		}
		if err := run(args, &out, &errOut); err != nil {
			t.Fatalf("%s: %v\n%s", c.labels, err, errOut.String())
		}
		res := lastJSON(t, out.String())
		for _, k := range []string{"test_acc", "params", "active_params", "density", "sec_per_epoch", "epochs"} {
			if _, ok := res[k]; !ok {
				t.Errorf("JSON lacks %q: %v", k, res)
			}
		}
		want := float64(3*64*32 + 32 + 512*1024 + 2*1024*1024 + 3*1024 + 1024*c.classes + c.classes)
		if res["params"].(float64) != want || res["dataset"] != "cifar100" || res["source"] != archive {
			t.Fatalf("%s: result %v, want %v params", c.labels, res, want)
		}
		if c.labels == "coarse" && res["test_acc"].(float64) < 0.3 {
			t.Fatalf("coarse test accuracy %v on a learnable set", res["test_acc"])
		}
	}
}

func TestNotFound(t *testing.T) {
	isolate(t)
	var out, errOut bytes.Buffer
	err := run([]string{"-epochs", "1"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "cifar-100 data not found") || !strings.Contains(err.Error(), "cifar-100-binary.tar.gz") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	isolate(t)
	archive := fakeArchive(t, t.TempDir(), 20, 10)
	cases := []fixtures.FlagCase{
		{Args: []string{"-labels", "super"}, Want: "-labels \"super\": want fine or coarse"},
		{Args: []string{"-density", "0"}, Want: "-density 0: want a value in (0, 1]"},
		{Args: []string{"-groups", "2000"}, Want: "Groups (2000) larger than the layer width"},
		{Args: []string{"-model", "cnn"}, Want: `invalid value "cnn" for flag -model: unknown model "cnn" (want dense, g2g, dense-matched, er or erk)`},
		{Args: []string{"-grouping", "blocks"}, Want: "unknown grouping"},
		{Args: []string{"-epochs", "0"}, Want: "-epochs 0"},
		{Args: []string{"-mirror", "http://x"}, Want: "-mirror needs -download"},
		{Args: []string{"-data", filepath.Join(t.TempDir(), "missing")}, Want: "no such file or directory"},
	}
	fixtures.CheckFlagErrors(t, run, []string{"-data", archive, "-epochs", "1"}, cases)
}

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeFashionMNIST writes a tiny set in the official layout: class c lights
// up image row c, so most pixels never fire.
func fakeFashionMNIST(t *testing.T, nTrain, nTest int) string {
	dir := t.TempDir()
	write := func(name string, dims []int, data []byte) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		hdr := []byte{0, 0, 0x08, byte(len(dims))}
		for _, d := range dims {
			hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
		}
		zw.Write(hdr)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, set := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		img := make([]byte, set.n*784)
		lbl := make([]byte, set.n)
		for i := 0; i < set.n; i++ {
			c := i % 10
			lbl[i] = byte(c)
			for k := 0; k < 28; k++ {
				img[i*784+c*28+k] = 255
			}
		}
		write(set.prefix+"-images-idx3-ubyte.gz", []int{set.n, 28, 28}, img)
		write(set.prefix+"-labels-idx1-ubyte.gz", []int{set.n}, lbl)
	}
	return dir
}

func TestRunOnTinyData(t *testing.T) {
	dir := fakeFashionMNIST(t, 100, 30)
	var out, errOut bytes.Buffer
	if err := run([]string{"-data", dir, "-epochs", "2"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	// 10 image rows of 28 pixels fire: 784 − 280 = 504 dead inputs.
	m := regexp.MustCompile(`dead-input-rewiring epoch 1/2: hidden1: 504 dead inputs, moved (\d+) edges, density 0.2500`).FindStringSubmatch(errOut.String())
	if m == nil || m[1] == "0" {
		t.Fatalf("no hidden1 update line:\n%s", errOut.String())
	}
	if !strings.Contains(errOut.String(), "sparsity epoch 1/2: hidden1 density 0.2500 intra ") ||
		!strings.Contains(errOut.String(), " -"+m[1]+" +"+m[1]+" churn ") {
		t.Fatalf("sparsity report lacks the rule's numbers:\n%s", errOut.String())
	}
	if !strings.HasPrefix(out.String(), "test accuracy ") {
		t.Fatalf("stdout %q", out.String())
	}
	if err := run([]string{"-epochs", "0"}, &out, &errOut); err == nil || err.Error() != "-epochs 0: want at least 1" {
		t.Fatalf("err = %v", err)
	}
}

package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/examples/internal/fixtures"
)

func TestRunOnTinyData(t *testing.T) {
	dir := fixtures.FashionMNIST(t, 100, 30)
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

// Command fashion-mnist trains G2GNet (or its dense twin) on Fashion-MNIST:
// the reference experiment of docs/design.md §5.
//
// With no flags it trains the G2G MLP 784 → 1024 → 1024 → 1024 → 10 (index
// grouping, 8 ensembles, density 0.25) for 20 epochs with Adam (lr 1e-3,
// batch 256) and prints a table of test accuracy, parameters, active
// parameters, multiply-accumulates per sample and seconds per epoch. With
// -json the last line on stdout is one JSON object with the same numbers.
//
// Sparse training: -dst adds dynamic sparse training (callbacks.DST) with
// update fraction -zeta, prune criterion -prune (magnitude, random or
// hebbian), regrowth criterion -regrow (random, gradient or hebbian),
// -anneal, -scope and -grow-init; -dst -regrow hebbian is the paper's DST
// with Hebbian regrowth. -hebbian instead adds Hebbian rewiring
// (callbacks.Hebbian) with the same -zeta and -scope. Statistics for the
// Hebbian criteria are gathered on every -hebbian-n-th batch. Each update
// prints a one-line summary on stderr, and -log records the per-layer
// entries <layer>/pruned, /regrown, /churn, /density and /intra_fraction
// every epoch.
//
// The data is looked up in -data, then $G2G_DATA, then the user cache
// directory, then /usr/share/datasets/fashion-mnist (Debian's
// dataset-fashion-mnist package).
package main

import (
	"io"

	"github.com/g2g-ml/g2g/examples/internal/runner"
)

func main() { runner.Main(runner.FashionMNIST()) }

// run runs the command on args (for the tests).
func run(args []string, stdout, stderr io.Writer) error {
	return runner.Command(runner.FashionMNIST(), args, stdout, stderr)
}

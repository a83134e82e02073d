// Command cifar10 trains docs/design.md §5's CIFAR model on CIFAR-10: a patch
// encoder (one 3→32 convolution, kernel = stride = 8, ReLU: 512 features),
// then G2G 512 → 1024 → 1024 → 1024 (ReLU) and a dense output layer; with
// -model dense, the same network without masks.
//
// With no flags it trains the G2G model (index grouping, 8 ensembles,
// density 0.25) for 20 epochs with Adam (lr 1e-3, batch 256), random crop
// (padding 4) and horizontal flip, on images normalised with the CIFAR-10
// channel statistics, and prints a table of test accuracy, parameters,
// active parameters, multiply-accumulates per sample and seconds per epoch.
// With -json the last line on stdout is one JSON object with the same
// numbers (test_acc, params, active_params, density, sec_per_epoch, epochs,
// ...).
//
// Data: -data names the official binary release (cifar-10-binary.tar.gz,
// read without extracting, or the cifar-10-batches-bin directory) or an
// image folder with train/<class>/ and test/<class>/ (a directory or a
// .tar.gz). Without -data the official release is looked up in $G2G_DATA,
// the user cache (~/.cache/g2g/cifar-10) and /usr/share/datasets/cifar-10;
// with -download it is fetched into the cache if missing (md5-checked);
// otherwise the JPEG copy cifar10-jpeg.tar.gz is used from $G2G_DATA, the
// user cache (~/.cache/g2g/cifar10-jpeg.tar.gz) or /work/shared/data.
//
//	go build -tags openblas -o /tmp/c10 ./examples/cifar10
//	/tmp/c10 -model dense -epochs 10 -seed 1 -json
package main

import (
	"io"

	"github.com/g2g-ml/g2g/examples/internal/runner"
)

func main() { runner.Main(runner.CIFAR10()) }

// run runs the command on args (for the tests).
func run(args []string, stdout, stderr io.Writer) error {
	return runner.Command(runner.CIFAR10(), args, stdout, stderr)
}

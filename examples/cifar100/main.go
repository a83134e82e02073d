// Command cifar100 trains docs/design.md §5's CIFAR model on CIFAR-100: a patch
// encoder (one 3→32 convolution, kernel = stride = 8, ReLU: 512 features),
// then G2G 512 → 1024 → 1024 → 1024 (ReLU) and a dense output layer over
// the 100 fine classes (or the 20 coarse ones with -labels coarse); with
// -model dense, the same network without masks.
//
// Training and output are those of examples/cifar10 (same flags, same -json
// line), with the CIFAR-100 channel statistics.
//
// Data: -data names the official binary release (cifar-100-binary.tar.gz,
// read without extracting, or the cifar-100-binary directory) or an image
// folder with train/<class>/ and test/<class>/ (a directory or a .tar.gz).
// Without -data the official release is looked up in $G2G_DATA, the user
// cache (~/.cache/g2g/cifar-100) and /usr/share/datasets/cifar-100; with
// -download it is fetched into the cache if missing (md5-checked).
package main

import (
	"io"

	"github.com/g2g-ml/g2g/examples/internal/runner"
)

func main() { runner.Main(runner.CIFAR100()) }

// run runs the command on args (for the tests).
func run(args []string, stdout, stderr io.Writer) error {
	return runner.Command(runner.CIFAR100(), args, stdout, stderr)
}

// Command cifar100 trains design.md §5's CIFAR model on CIFAR-100: a patch
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
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/g2gnet"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cifar100:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	labels := "fine"
	kind := func() datasets.CIFARKind {
		if labels == "coarse" {
			return datasets.CIFAR100Coarse
		}
		return datasets.CIFAR100Fine
	}
	cmd := g2gnet.CIFARCommand{
		Name: "cifar100",
		DataHelp: "CIFAR-100: the official cifar-100-binary.tar.gz or cifar-100-binary directory, or an image folder " +
			"with train/ and test/ (dir or .tar.gz) (default: $G2G_DATA, user cache, /usr/share/datasets)",
		Stats: datasets.CIFAR100Stats,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&labels, "labels", "fine", "CIFAR-100 labels: fine (100 classes) or coarse (20 super-classes)")
		},
		Check: func() error {
			if labels != "fine" && labels != "coarse" {
				return errors.Errorf("-labels %q: want fine or coarse", labels)
			}
			return nil
		},
		Classes: func() int { return kind().Classes() },
		Load: func(o g2gnet.CIFAROptions, stderr io.Writer) (train, test *datasets.Dataset, source string, err error) {
			if o.Data != "" {
				if _, err := os.Stat(o.Data); err != nil {
					return nil, nil, "", errors.Wrap(err, "-data")
				}
				train, test, err = g2gnet.LoadCIFARPath(o.Data, kind())
				return train, test, o.Data, err
			}
			path, err := datasets.FindCIFAR100("")
			if err != nil && o.Download {
				path, err = g2gnet.DownloadCIFAR(datasets.CIFAR100Remote, o.Mirror, o.Quiet, stderr)
			}
			if err != nil {
				return nil, nil, "", err
			}
			train, test, err = datasets.LoadCIFAR100(path, kind())
			return train, test, path, err
		},
	}
	return g2gnet.RunCIFAR(cmd, args, stdout, stderr)
}

// Command cifar10 trains design.md §5's CIFAR model on CIFAR-10: a patch
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
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/examples/internal/g2gnet"
)

// sharedJPEG is the CIFAR-10 JPEG copy shipped with the development
// machines (see its README).
const sharedJPEG = "/work/shared/data/cifar10-jpeg.tar.gz"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "cifar10:", err)
		os.Exit(1)
	}
}

func command() g2gnet.CIFARCommand {
	return g2gnet.CIFARCommand{
		Name: "cifar10",
		DataHelp: "CIFAR-10: the official cifar-10-binary.tar.gz or cifar-10-batches-bin directory, or an image folder " +
			"with train/ and test/ (dir or .tar.gz) (default: official set in $G2G_DATA, user cache, /usr/share/datasets; else the JPEG copy)",
		Stats:   datasets.CIFAR10Stats,
		Classes: func() int { return 10 },
		Load:    load,
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	return g2gnet.RunCIFAR(command(), args, stdout, stderr)
}

// jpegCandidates are the places searched for the JPEG copy.
func jpegCandidates() []string {
	var c []string
	if root := os.Getenv(datasets.DataEnv); root != "" {
		c = append(c, filepath.Join(root, "cifar10-jpeg.tar.gz"))
	}
	if cache, err := datasets.DefaultCacheDir(); err == nil {
		c = append(c, filepath.Join(cache, "cifar10-jpeg.tar.gz"))
	}
	return append(c, sharedJPEG)
}

func load(o g2gnet.CIFAROptions, stderr io.Writer) (train, test *datasets.Dataset, source string, err error) {
	if o.Data != "" {
		if _, err := os.Stat(o.Data); err != nil {
			return nil, nil, "", errors.Wrap(err, "-data")
		}
		train, test, err = g2gnet.LoadCIFARPath(o.Data, datasets.CIFAR10)
		return train, test, o.Data, err
	}
	path, findErr := datasets.FindCIFAR10("")
	if findErr != nil && o.Download {
		if path, err = g2gnet.DownloadCIFAR(datasets.CIFAR10Remote, o.Mirror, o.Quiet, stderr); err != nil {
			return nil, nil, "", err
		}
		findErr = nil
	}
	if findErr == nil {
		train, test, err = datasets.LoadCIFAR10(path)
		return train, test, path, err
	}
	cands := jpegCandidates()
	jpeg := g2gnet.FirstFile(cands...)
	if jpeg == "" {
		return nil, nil, "", errors.Errorf("no CIFAR-10 data: %v; and no JPEG copy in %v", findErr, cands)
	}
	ds, err := datasets.LoadImageFolders(jpeg, datasets.ImageFolderOptions{Channels: 3}, "train", "test")
	if err != nil {
		return nil, nil, "", err
	}
	return ds[0], ds[1], jpeg, nil
}

package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

// Dataset describes a data set a run can train on and the model
// docs/design.md §5 pairs with it.
type Dataset struct {
	// Name is the command and data set name, e.g. "fashion-mnist".
	Name string
	// DataHelp documents the -data flag.
	DataHelp string
	// Hidden and Epochs are the default hidden widths and epochs.
	Hidden string
	Epochs int
	// Augmentable data gets -augment (random crop and flip) with Stats
	// normalisation; Shape is the per-sample image shape.
	Augmentable bool
	Stats       *datasets.Stats
	Shape       []int
	// DefaultLabels, when set, adds -labels (CIFAR-100: fine or coarse).
	DefaultLabels string
	// Remote, when set, adds -download.
	Remote *datasets.RemoteSet
	// Load finds and loads the training and test sets, returning a
	// description of the source.
	Load func(o *Options, stderr io.Writer) (train, test *datasets.Dataset, source string, err error)
	// CIFAR models start with docs/design.md §5's patch encoder.
	CIFAR bool
	// Classes returns the number of classes under o.
	Classes func(o *Options) int
}

// SharedCIFAR10JPEG is the JPEG copy of CIFAR-10 that this project's
// machines carry (see the shared data README).
var SharedCIFAR10JPEG = "/work/shared/data/cifar10-jpeg.tar.gz"

// Datasets returns every data set the runner knows, by name.
func Datasets() map[string]*Dataset {
	return map[string]*Dataset{
		"fashion-mnist": FashionMNIST(), "mnist": MNIST(), "cifar10": CIFAR10(), "cifar100": CIFAR100(),
	}
}

// Lookup returns the data set called name, or an error (`"name": want one
// of ...`) listing the known ones, for the caller to prefix with its flag.
func Lookup(name string) (*Dataset, error) {
	all := Datasets()
	if ds, ok := all[name]; ok {
		return ds, nil
	}
	var names []string
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, errors.Errorf("%q: want one of %s", name, strings.Join(names, ", "))
}

func idxSet(name string, find func(string) (string, error), load func(string) (*datasets.Dataset, *datasets.Dataset, error), help string) *Dataset {
	return &Dataset{
		Name: name, DataHelp: help, Hidden: "1024,1024,1024", Epochs: 20,
		Classes: func(*Options) int { return 10 },
		Load: func(o *Options, _ io.Writer) (*datasets.Dataset, *datasets.Dataset, string, error) {
			dir, err := find(o.Data)
			if err != nil {
				return nil, nil, "", err
			}
			train, test, err := load(dir)
			return train, test, dir, err
		},
	}
}

// FashionMNIST is docs/design.md §5's main experiment.
func FashionMNIST() *Dataset {
	return idxSet("fashion-mnist", datasets.FindFashionMNIST, datasets.LoadFashionMNIST,
		"directory with the four Fashion-MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/fashion-mnist)")
}

// MNIST is the digits set in the same format.
func MNIST() *Dataset {
	return idxSet("mnist", datasets.FindMNIST, datasets.LoadMNIST,
		"directory with the four MNIST IDX files (default: $G2G_DATA, user cache, /usr/share/datasets/mnist)")
}

// CIFAR10 trains docs/design.md §5's CIFAR model on CIFAR-10: the official
// binary set when found (or downloaded with -download), else the shared
// JPEG copy.
func CIFAR10() *Dataset {
	return &Dataset{
		Name: "cifar10", Hidden: "1024,1024,1024", Epochs: 20, CIFAR: true,
		DataHelp: "CIFAR-10: the official cifar-10-binary.tar.gz or cifar-10-batches-bin directory, or an image folder " +
			"with train/ and test/ (dir or .tar.gz) (default: official set in $G2G_DATA, user cache, /usr/share/datasets; else the JPEG copy)",
		Augmentable: true, Stats: &datasets.CIFAR10Stats, Shape: []int{3, 32, 32},
		Remote:  &datasets.CIFAR10Remote,
		Classes: func(*Options) int { return 10 },
		Load: func(o *Options, stderr io.Writer) (*datasets.Dataset, *datasets.Dataset, string, error) {
			if o.Data != "" {
				return loadCIFARPath(o.Data, datasets.CIFAR10)
			}
			path, findErr := datasets.FindCIFAR10("")
			if findErr != nil && o.Download {
				var err error
				if path, err = download(datasets.CIFAR10Remote, o, stderr); err != nil {
					return nil, nil, "", err
				}
				findErr = nil
			}
			if findErr == nil {
				train, test, err := datasets.LoadCIFAR10(path)
				return train, test, path, err
			}
			var cands []string
			if root := os.Getenv(datasets.DataEnv); root != "" {
				cands = append(cands, filepath.Join(root, "cifar10-jpeg.tar.gz"))
			}
			if cache, err := datasets.DefaultCacheDir(); err == nil {
				cands = append(cands, filepath.Join(cache, "cifar10-jpeg.tar.gz"))
			}
			// The project's shared data folder, beside the checkout or at its
			// usual place.
			cands = append(cands, filepath.Join("..", "shared", "data", "cifar10-jpeg.tar.gz"), SharedCIFAR10JPEG)
			for _, c := range cands {
				if st, err := os.Stat(c); err == nil && !st.IsDir() {
					ds, err := datasets.LoadImageFolders(c, cifarImages, "train", "test")
					if err != nil {
						return nil, nil, "", err
					}
					return ds[0], ds[1], c, nil
				}
			}
			return nil, nil, "", errors.Errorf("no CIFAR-10 data: %v; and no JPEG copy in %v", findErr, cands)
		},
	}
}

// CIFAR100 trains docs/design.md §5's CIFAR model on CIFAR-100 (fine or coarse
// labels).
func CIFAR100() *Dataset {
	kind := func(o *Options) datasets.CIFARKind {
		if o.Labels == "coarse" {
			return datasets.CIFAR100Coarse
		}
		return datasets.CIFAR100Fine
	}
	return &Dataset{
		Name: "cifar100", Hidden: "1024,1024,1024", Epochs: 20, CIFAR: true,
		DataHelp: "CIFAR-100: the official cifar-100-binary.tar.gz or cifar-100-binary directory, or an image folder " +
			"with train/ and test/ (dir or .tar.gz) (default: $G2G_DATA, user cache, /usr/share/datasets)",
		Augmentable: true, Stats: &datasets.CIFAR100Stats, Shape: []int{3, 32, 32},
		DefaultLabels: "fine", Remote: &datasets.CIFAR100Remote,
		Classes: func(o *Options) int { return kind(o).Classes() },
		Load: func(o *Options, stderr io.Writer) (*datasets.Dataset, *datasets.Dataset, string, error) {
			if o.Data != "" {
				return loadCIFARPath(o.Data, kind(o))
			}
			path, err := datasets.FindCIFAR100("")
			if err != nil && o.Download {
				path, err = download(datasets.CIFAR100Remote, o, stderr)
			}
			if err != nil {
				return nil, nil, "", err
			}
			train, test, err := datasets.LoadCIFAR100(path, kind(o))
			return train, test, path, err
		},
	}
}

// cifarImages loads CIFAR image folders: RGB, and 32×32 as the models
// want, checked on each image's header before any is decoded.
var cifarImages = datasets.ImageFolderOptions{Channels: 3, Width: 32, Height: 32}

// loadCIFARPath loads the official binary release of kind at path (a
// directory or archive), or else an image folder with train/ and test/.
func loadCIFARPath(path string, kind datasets.CIFARKind) (train, test *datasets.Dataset, source string, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, nil, "", errors.Wrap(err, "-data")
	}
	var binErr error
	if kind == datasets.CIFAR10 {
		train, test, binErr = datasets.LoadCIFAR10(path)
	} else {
		train, test, binErr = datasets.LoadCIFAR100(path, kind)
	}
	if binErr == nil {
		return train, test, path, nil
	}
	ds, imgErr := datasets.LoadImageFolders(path, cifarImages, "train", "test")
	if imgErr == nil {
		return ds[0], ds[1], path, nil
	}
	return nil, nil, "", errors.Errorf("%s is neither the official binary set (%v) nor an image folder with train/ and test/ (%v)", path, binErr, imgErr)
}

func download(set datasets.RemoteSet, o *Options, stderr io.Writer) (string, error) {
	d := &datasets.Downloader{BaseURL: o.Mirror}
	if !o.Quiet {
		d.Progress = stderr
	}
	return d.Fetch(context.Background(), set)
}

// BuildModel builds the model o describes for ds, after checking the
// machine has the memory to train it (checkMemory).
func BuildModel(ds *Dataset, o *Options) (*graph.Model, error) {
	hidden, err := o.HiddenWidths()
	if err != nil {
		return nil, err
	}
	if err := checkMemory(ds, o); err != nil {
		return nil, err
	}
	cfg := g2gnet.MLPConfig{
		Input: 784, Hidden: hidden, Classes: ds.Classes(o),
		Model: o.Model, Groups: o.Groups, Grouping: o.Grouping, Density: o.Density, Intra: o.Intra,
		Sampling: o.Sampling, Seed: o.Seed,
	}
	var m *graph.Model
	if !ds.CIFAR {
		m, err = g2gnet.MLP(cfg)
	} else {
		c := g2gnet.CIFARReference(cfg.Classes)
		cfg.Input = c.MLPConfig.Input
		c.MLPConfig = cfg
		m, err = g2gnet.CIFAR(c)
	}
	if err != nil || o.Kernel == "" {
		return m, err
	}
	for _, l := range m.Layers() {
		if g, ok := l.(*layers.G2G); ok {
			if err := g.SetKernel(o.Kernel); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

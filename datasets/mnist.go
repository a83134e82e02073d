package datasets

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// MNISTFiles are the base names (without .gz) of the four official MNIST and
// Fashion-MNIST files: training images, training labels, test images, test
// labels.
var MNISTFiles = []string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// FashionMNISTClassNames are the names of the 10 Fashion-MNIST classes, by
// label.
var FashionMNISTClassNames = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// MNISTClassNames are the names of the 10 MNIST classes, by label.
var MNISTClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// pixelScale maps a byte v to float32(v)/255.
var pixelScale = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(v) / 255
	}
	return t
}()

// LoadIDXPair loads an image IDX file and its label IDX file (each gzipped
// or raw) into a Dataset. The images must be 3-D (count, rows, cols) and the
// labels 1-D (count), both of type 0x08 (unsigned byte), with the same count
// (at least 1) and every label < classes. Pixels are scaled to [0, 1] as
// float32(v)/255 and decoded straight into one []float32; Shape is
// {rows, cols}. Name is the image file's base name without ".gz". Every
// error names the file at fault (both files for a count mismatch).
func LoadIDXPair(imagesPath, labelsPath string, classes int) (*Dataset, error) {
	if classes < 1 {
		return nil, errors.Errorf("load %s: classes must be >= 1, found %d", imagesPath, classes)
	}
	img, err := openIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if len(img.dims) != 3 {
		return nil, errors.Errorf("idx file %s: images must be 3-D (count, rows, cols), found %s", imagesPath, dimsString(img.dims))
	}
	count, rows, cols := img.dims[0], img.dims[1], img.dims[2]
	if count == 0 || rows == 0 || cols == 0 {
		return nil, errors.Errorf("idx file %s: empty images: expected count, rows and cols >= 1, found dims %v", imagesPath, img.dims)
	}

	lbl, err := openIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	defer lbl.Close()
	if len(lbl.dims) != 1 {
		return nil, errors.Errorf("idx file %s: labels must be 1-D (count), found %s", labelsPath, dimsString(lbl.dims))
	}
	if lbl.dims[0] != count {
		return nil, errors.Errorf("image/label count mismatch: %s has %d images but %s has %d labels",
			imagesPath, count, labelsPath, lbl.dims[0])
	}

	labels, err := readBody(lbl, func(dst []int, src []byte) {
		for i, v := range src {
			dst[i] = int(v)
		}
	})
	if err != nil {
		return nil, errors.WithMessagef(err, "idx file %s", labelsPath)
	}
	for i, y := range labels {
		if y >= classes {
			return nil, errors.Errorf("idx file %s: label %d at index %d out of range: expected < %d classes", labelsPath, y, i, classes)
		}
	}

	x, err := readBody(img, func(dst []float32, src []byte) {
		dst = dst[:len(src)]
		for i, v := range src {
			dst[i] = pixelScale[v]
		}
	})
	if err != nil {
		return nil, errors.WithMessagef(err, "idx file %s", imagesPath)
	}
	return &Dataset{
		Name:    strings.TrimSuffix(filepath.Base(imagesPath), ".gz"),
		X:       x,
		Y:       labels,
		Shape:   []int{rows, cols},
		Classes: classes,
	}, nil
}

// LoadFashionMNIST loads the Fashion-MNIST training (60000) and test (10000)
// sets from the four official files in dir, each gzipped or raw (when both
// exist the raw file is used). The sets are named "fashion-mnist/train" and
// "fashion-mnist/test" and have ClassNames set to [FashionMNISTClassNames].
// Use [FindFashionMNIST] to locate dir.
func LoadFashionMNIST(dir string) (train, test *Dataset, err error) {
	return loadMNISTLike(dir, "fashion-mnist", FashionMNISTClassNames)
}

// LoadMNIST loads the MNIST handwritten-digit training and test sets from
// the four official files in dir, like [LoadFashionMNIST]. The sets are
// named "mnist/train" and "mnist/test" with ClassNames "0".."9".
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	return loadMNISTLike(dir, "mnist", MNISTClassNames)
}

func loadMNISTLike(dir, name string, classNames []string) (train, test *Dataset, err error) {
	var paths [4]string
	for i, base := range MNISTFiles {
		p, ok := resolveFile(dir, base)
		if !ok {
			return nil, nil, errors.Errorf("load %s: %s: missing %s (or %s.gz)", name, dir, base, base)
		}
		paths[i] = p
	}
	train, err = LoadIDXPair(paths[0], paths[1], len(classNames))
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "load %s training set", name)
	}
	test, err = LoadIDXPair(paths[2], paths[3], len(classNames))
	if err != nil {
		return nil, nil, errors.WithMessagef(err, "load %s test set", name)
	}
	train.Name, test.Name = name+"/train", name+"/test"
	train.ClassNames = append([]string(nil), classNames...)
	test.ClassNames = append([]string(nil), classNames...)
	return train, test, nil
}

// resolveFile returns the path of base in dir, raw or gzipped, preferring
// the raw file when both exist (it loads faster).
func resolveFile(dir, base string) (string, bool) {
	for _, p := range []string{filepath.Join(dir, base), filepath.Join(dir, base+".gz")} {
		if isFile(p) {
			return p, true
		}
	}
	return "", false
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

package datasets

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pkg/errors"
)

// DataEnv is the environment variable naming a data root directory searched
// by [FindDir].
const DataEnv = "G2G_DATA"

// systemDataDir is where Debian dataset-* packages install data sets; a
// variable so tests can redirect it.
var systemDataDir = "/usr/share/datasets"

// howToGet says how to obtain a named data set, for not-found errors.
var howToGet = map[string]string{
	"fashion-mnist": "install it with `apt-get install dataset-fashion-mnist`, " +
		"or put the four files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
		"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (from the zalandoresearch/fashion-mnist " +
		"GitHub repository) in a directory and pass -data DIR or set " + DataEnv,
	"mnist": "put the four MNIST files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, " +
		"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in a directory and pass -data DIR or set " + DataEnv,
	"cifar-10": "download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (md5 c32a1d4ab5d03f1284b67883e8d87530) " +
		"into <user cache dir>/g2g/cifar-10 (the CIFAR examples' -download flag does this), or pass -data with the archive, " +
		"its extracted cifar-10-batches-bin directory or a CIFAR image folder",
	"cifar-100": "download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz (md5 03b5dce01913d631647c71ecec9e9cb8) " +
		"into <user cache dir>/g2g/cifar-100 (the CIFAR examples' -download flag does this), or pass -data with the archive " +
		"or its extracted cifar-100-binary directory",
}

// FindDir returns the first existing directory holding the data set called
// name (e.g. "fashion-mnist" or "mnist"), searching in this order:
//
//  1. flagDir, if non-empty: it must exist and contain the files, else
//     FindDir fails naming it, without searching further;
//  2. $G2G_DATA/<name>, then $G2G_DATA itself;
//  3. <os.UserCacheDir()>/g2g/<name> (e.g. ~/.cache/g2g/<name>);
//  4. /usr/share/datasets/<name>.
//
// required lists file base names (without .gz) that must each be present,
// raw or gzipped, for a directory to count. When nothing is found the error
// lists every place searched, why each was passed over, and how to get the
// data.
func FindDir(flagDir, name string, required []string) (string, error) {
	return findPath(flagDir, name, "data directory", func(dir string) string { return checkDir(dir, required) })
}

// findPath implements FindDir's search with check deciding whether a
// candidate path holds the data ("" if it does, else why not); what names
// a -data path in errors ("data directory").
func findPath(flagDir, name, what string, check func(string) string) (string, error) {
	if name == "" {
		return "", errors.New("find data: empty data set name")
	}
	if flagDir != "" {
		if why := check(flagDir); why != "" {
			return "", errors.Errorf("%s %s %s (from -data): %s", name, what, flagDir, why)
		}
		return flagDir, nil
	}
	var searched []string
	try := func(dir string) bool {
		why := check(dir)
		if why == "" {
			return true
		}
		searched = append(searched, fmt.Sprintf("%s: %s", dir, why))
		return false
	}
	if root := os.Getenv(DataEnv); root != "" {
		for _, dir := range []string{filepath.Join(root, name), root} {
			if try(dir) {
				return dir, nil
			}
		}
	} else {
		searched = append(searched, fmt.Sprintf("$%s/%s and $%s: %s is not set", DataEnv, name, DataEnv, DataEnv))
	}
	if cache, err := os.UserCacheDir(); err == nil {
		if dir := filepath.Join(cache, "g2g", name); try(dir) {
			return dir, nil
		}
	} else {
		searched = append(searched, fmt.Sprintf("user cache dir: %v", err))
	}
	if dir := filepath.Join(systemDataDir, name); try(dir) {
		return dir, nil
	}
	hint, ok := howToGet[name]
	if !ok {
		hint = fmt.Sprintf("put the files in a directory and pass -data DIR or set %s", DataEnv)
	}
	return "", errors.Errorf("%s data not found; searched:\n  %s\nto get it: %s",
		name, strings.Join(searched, "\n  "), hint)
}

// checkDir returns "" if dir is a directory holding every required file
// (raw or .gz), else why not.
func checkDir(dir string, required []string) string {
	st, err := os.Stat(dir)
	switch {
	case os.IsNotExist(err):
		return "no such directory"
	case err != nil:
		return err.Error()
	case !st.IsDir():
		return "not a directory"
	}
	var missing []string
	for _, base := range required {
		if _, ok := resolveFile(dir, base); !ok {
			missing = append(missing, base+"[.gz]")
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ")
	}
	return ""
}

// FindFashionMNIST returns the directory holding the four official
// Fashion-MNIST files; see [FindDir] for the search order. Pass the value of
// a -data flag, or "" to search only the default places.
func FindFashionMNIST(flagDir string) (string, error) {
	return FindDir(flagDir, "fashion-mnist", MNISTFiles)
}

// FindMNIST returns the directory holding the four official MNIST files;
// see [FindDir] for the search order.
func FindMNIST(flagDir string) (string, error) {
	return FindDir(flagDir, "mnist", MNISTFiles)
}

// FindCIFAR10 returns the path of the official CIFAR-10 binary release, for
// [LoadCIFAR10]: flagPath if non-empty (a directory or the archive; it must
// hold the data), else the first of the places [FindDir] searches for
// "cifar-10" that holds cifar-10-batches-bin/ (or its files) or
// cifar-10-binary.tar.gz. The error lists every place searched.
func FindCIFAR10(flagPath string) (string, error) {
	return findPath(flagPath, "cifar-10", "data", func(p string) string { return checkCIFARPath(p, CIFAR10) })
}

// FindCIFAR100 is [FindCIFAR10] for the CIFAR-100 binary release
// (cifar-100-binary/ or cifar-100-binary.tar.gz), searched under the name
// "cifar-100".
func FindCIFAR100(flagPath string) (string, error) {
	return findPath(flagPath, "cifar-100", "data", func(p string) string { return checkCIFARPath(p, CIFAR100Fine) })
}

// checkCIFARPath returns "" if p is a directory holding the release or an
// existing file (taken to be the archive), else why not.
func checkCIFARPath(p string, kind CIFARKind) string {
	_, _, why := resolveCIFAR(p, kind)
	return why
}

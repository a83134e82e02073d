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
	if name == "" {
		return "", errors.New("find data: empty data set name")
	}
	if flagDir != "" {
		if why := checkDir(flagDir, required); why != "" {
			return "", errors.Errorf("%s data directory %s (from -data): %s", name, flagDir, why)
		}
		return flagDir, nil
	}
	var searched []string
	try := func(dir string) bool {
		why := checkDir(dir, required)
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

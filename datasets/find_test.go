package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testFiles = []string{"a-idx", "b-idx"}

// makeSet creates dir holding testFiles (the second one gzipped) and returns
// dir.
func makeSet(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, testFiles[0], []byte("x"))
	writeFile(t, dir, testFiles[1]+".gz", []byte("x"))
	return dir
}

// findEnv points every search place into a fresh temp dir and returns the
// places in precedence order: $G2G_DATA/set, $G2G_DATA, cache/g2g/set,
// system/set.
func findEnv(t *testing.T) (envSet, envRoot, cacheSet, sysSet string) {
	root := t.TempDir()
	envRoot = filepath.Join(root, "env")
	t.Setenv(DataEnv, envRoot)
	t.Setenv("XDG_CACHE_HOME", filepath.Join(root, "cache"))
	t.Setenv("HOME", filepath.Join(root, "home"))
	old := systemDataDir
	systemDataDir = filepath.Join(root, "system")
	t.Cleanup(func() { systemDataDir = old })
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(envRoot, "set"), envRoot, filepath.Join(cache, "g2g", "set"), filepath.Join(systemDataDir, "set")
}

func TestFindDirPrecedence(t *testing.T) {
	envSet, envRoot, cacheSet, sysSet := findEnv(t)
	if !strings.HasPrefix(cacheSet, filepath.Dir(envRoot)) {
		t.Fatalf("cache dir %s is not under the test root", cacheSet)
	}
	places := []string{envSet, envRoot, cacheSet, sysSet}
	// Create from lowest precedence up; each time the newest must win.
	for i := len(places) - 1; i >= 0; i-- {
		makeSet(t, places[i])
		got, err := FindDir("", "set", testFiles)
		if err != nil {
			t.Fatal(err)
		}
		if got != places[i] {
			t.Fatalf("with %v present, FindDir = %s, want %s", places[i:], got, places[i])
		}
	}
	// The flag beats everything.
	flag := makeSet(t, filepath.Join(t.TempDir(), "flag"))
	if got, err := FindDir(flag, "set", testFiles); err != nil || got != flag {
		t.Fatalf("FindDir(flag) = %s, %v", got, err)
	}
}

func TestFindDirSkipsIncompleteDirs(t *testing.T) {
	envSet, _, cacheSet, sysSet := findEnv(t)
	// $G2G_DATA/set exists but lacks a file: skipped, and reported if
	// nothing else is found.
	if err := os.MkdirAll(envSet, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, envSet, testFiles[0]+".gz", []byte("x"))
	makeSet(t, sysSet)
	if got, err := FindDir("", "set", testFiles); err != nil || got != sysSet {
		t.Fatalf("FindDir = %s, %v; want %s", got, err, sysSet)
	}
	if err := os.RemoveAll(sysSet); err != nil {
		t.Fatal(err)
	}
	_, err := FindDir("", "set", testFiles)
	wantErr(t, err, "set data not found", envSet+": missing b-idx[.gz]", cacheSet+": no such directory",
		sysSet+": no such directory", "-data DIR")
}

func TestFindDirFlagErrors(t *testing.T) {
	_, _, _, sysSet := findEnv(t)
	makeSet(t, sysSet) // present, but an explicit flag must not fall back to it

	missing := filepath.Join(t.TempDir(), "nope")
	_, err := FindDir(missing, "set", testFiles)
	wantErr(t, err, missing, "-data", "no such directory")

	empty := t.TempDir()
	_, err = FindDir(empty, "set", testFiles)
	wantErr(t, err, empty, "-data", "missing a-idx[.gz], b-idx[.gz]")

	file := writeFile(t, t.TempDir(), "f", nil)
	_, err = FindDir(file, "set", testFiles)
	wantErr(t, err, file, "not a directory")

	_, err = FindDir("", "", testFiles)
	wantErr(t, err, "empty data set name")
}

func TestFindFashionMNISTNotFound(t *testing.T) {
	findEnv(t)
	t.Setenv(DataEnv, "")
	_, err := FindFashionMNIST("")
	wantErr(t, err, "fashion-mnist data not found", "G2G_DATA is not set",
		"apt-get install dataset-fashion-mnist", "-data DIR", filepath.Join(systemDataDir, "fashion-mnist"))
	_, err = FindMNIST("")
	wantErr(t, err, "mnist data not found", "-data DIR")
}

func TestLoadFashionMNISTFixture(t *testing.T) {
	// A miniature set under the official names: raw train, gzipped test,
	// and a decoy .gz next to the raw training images (raw is preferred).
	dir := t.TempDir()
	tr, te := newFixture(6, 28, 28, 10), newFixture(3, 28, 28, 10)
	writeFile(t, dir, "train-images-idx3-ubyte", tr.images())
	writeFile(t, dir, "train-images-idx3-ubyte.gz", []byte("decoy"))
	writeFile(t, dir, "train-labels-idx1-ubyte", tr.labelsIDX())
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gzipBytes(t, te.images()))
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gzipBytes(t, te.labelsIDX()))

	got, err := FindFashionMNIST(dir)
	if err != nil || got != dir {
		t.Fatalf("FindFashionMNIST = %s, %v", got, err)
	}
	train, test, err := LoadFashionMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr.check(t, train, 10)
	te.check(t, test, 10)
	if train.Name != "fashion-mnist/train" || test.Name != "fashion-mnist/test" {
		t.Fatalf("names %q %q", train.Name, test.Name)
	}
	if len(train.ClassNames) != 10 || train.ClassNames[0] != "T-shirt/top" || test.ClassNames[9] != "Ankle boot" {
		t.Fatalf("class names %v", train.ClassNames)
	}
	mtrain, _, err := LoadMNIST(dir)
	if err != nil || mtrain.Name != "mnist/train" || mtrain.ClassNames[3] != "3" {
		t.Fatalf("LoadMNIST: %v %+v", err, mtrain)
	}

	os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	_, _, err = LoadFashionMNIST(dir)
	wantErr(t, err, dir, "missing t10k-labels-idx1-ubyte")

	writeFile(t, dir, "t10k-labels-idx1-ubyte", idxBytes(0x08, []int{2}, []byte{1, 2}))
	_, _, err = LoadFashionMNIST(dir)
	wantErr(t, err, "test set", "count mismatch", filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), "3 images", "2 labels")
}

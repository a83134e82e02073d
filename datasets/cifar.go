package datasets

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pkg/errors"
)

// CIFARKind selects one of the official CIFAR binary record layouts and
// which label it yields.
type CIFARKind int

const (
	// CIFAR10 records are 1 label byte (< 10) followed by 3072 pixel bytes.
	CIFAR10 CIFARKind = iota
	// CIFAR100Fine records are a coarse label byte (< 20), a fine label
	// byte (< 100) and 3072 pixel bytes; the fine label is used.
	CIFAR100Fine
	// CIFAR100Coarse reads CIFAR-100 records and uses the coarse
	// (super-class) label.
	CIFAR100Coarse
)

// CIFARImageBytes is the number of pixel bytes in one CIFAR record: three
// 32×32 planes, red, then green, then blue, each row-major.
const CIFARImageBytes = 3 * 32 * 32

// CIFAR10TrainFiles are the training files of the official CIFAR-10 binary
// release, in the order their records are loaded, and CIFAR10TestFile its
// test file; all live in cifar-10-batches-bin/.
var CIFAR10TrainFiles = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}

// CIFAR10TestFile is the test file of the official CIFAR-10 binary release.
const CIFAR10TestFile = "test_batch.bin"

// CIFAR100TrainFile and CIFAR100TestFile are the files of the official
// CIFAR-100 binary release, in cifar-100-binary/.
const (
	CIFAR100TrainFile = "train.bin"
	CIFAR100TestFile  = "test.bin"
)

// CIFAR10ClassNames are the names of the 10 CIFAR-10 classes, by label.
var CIFAR10ClassNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CIFAR100FineClassNames are the names of the 100 CIFAR-100 classes, by
// fine label (fine_label_names.txt of the release).
var CIFAR100FineClassNames = []string{
	"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
	"bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
	"chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
	"dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
	"lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
	"mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
	"plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
	"rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
	"squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
	"train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
}

// CIFAR100CoarseClassNames are the names of the 20 CIFAR-100 super-classes,
// by coarse label (coarse_label_names.txt of the release).
var CIFAR100CoarseClassNames = []string{
	"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
	"household_electrical_devices", "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
	"large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
	"reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
}

// String returns "cifar-10", "cifar-100 (fine labels)" or "cifar-100
// (coarse labels)".
func (k CIFARKind) String() string {
	switch k {
	case CIFAR10:
		return "cifar-10"
	case CIFAR100Fine:
		return "cifar-100 (fine labels)"
	case CIFAR100Coarse:
		return "cifar-100 (coarse labels)"
	}
	return fmt.Sprintf("CIFARKind(%d)", int(k))
}

// LabelBytes returns the number of label bytes per record: 1 for CIFAR-10,
// 2 for CIFAR-100.
func (k CIFARKind) LabelBytes() int {
	if k == CIFAR10 {
		return 1
	}
	return 2
}

// RecordSize returns the bytes per record: 3073 for CIFAR-10, 3074 for
// CIFAR-100.
func (k CIFARKind) RecordSize() int { return k.LabelBytes() + CIFARImageBytes }

// Classes returns the number of label values: 10, 100 or 20.
func (k CIFARKind) Classes() int { return len(k.ClassNames()) }

// ClassNames returns the class names by label (the package's slice; do not
// modify it).
func (k CIFARKind) ClassNames() []string {
	switch k {
	case CIFAR100Fine:
		return CIFAR100FineClassNames
	case CIFAR100Coarse:
		return CIFAR100CoarseClassNames
	}
	return CIFAR10ClassNames
}

func (k CIFARKind) check() error {
	if k < CIFAR10 || k > CIFAR100Coarse {
		return errors.Errorf("unknown CIFAR kind %d", int(k))
	}
	return nil
}

// setName is the Name prefix of loaded sets: "cifar-10" or "cifar-100".
func (k CIFARKind) setName() string {
	if k == CIFAR10 {
		return "cifar-10"
	}
	return "cifar-100"
}

// cifarFile is the raw content of one CIFAR binary file and where it came
// from, for error messages.
type cifarFile struct {
	where string // "dir/data_batch_1.bin" or "archive.tar.gz: cifar-10-batches-bin/data_batch_1.bin"
	data  []byte
}

// checkCIFAR validates a file's size and labels and returns its number of
// records. Every record's labels are checked, including the label the kind
// does not use (a CIFAR-100 coarse label must be < 20 even when fine labels
// are loaded), so a file of the wrong kind is caught.
func checkCIFAR(f cifarFile, kind CIFARKind) (int, error) {
	rs := kind.RecordSize()
	n := len(f.data)
	if n == 0 {
		return 0, errors.Errorf("cifar file %s: empty", f.where)
	}
	if n%rs != 0 {
		return 0, errors.Errorf("cifar file %s: truncated or wrong format: %d bytes is not a whole number of %d-byte %s records (%d whole records and %d bytes left over)",
			f.where, n, rs, kind.setName(), n/rs, n%rs)
	}
	records := n / rs
	for i := 0; i < records; i++ {
		rec := f.data[i*rs:]
		if kind == CIFAR10 {
			if rec[0] >= 10 {
				return 0, errors.Errorf("cifar file %s: record %d: label %d out of range: expected < 10 classes (not a CIFAR-10 file?)", f.where, i, rec[0])
			}
			continue
		}
		if rec[0] >= 20 {
			return 0, errors.Errorf("cifar file %s: record %d: coarse label %d out of range: expected < 20 classes (not a CIFAR-100 file?)", f.where, i, rec[0])
		}
		if rec[1] >= 100 {
			return 0, errors.Errorf("cifar file %s: record %d: fine label %d out of range: expected < 100 classes (not a CIFAR-100 file?)", f.where, i, rec[1])
		}
	}
	return records, nil
}

// decodeCIFAR decodes validated files into one new Dataset, one goroutine
// per file. The pixel planes are already in (C, H, W) order.
func decodeCIFAR(files []cifarFile, kind CIFARKind, name string) (*Dataset, error) {
	counts := make([]int, len(files))
	total := 0
	for i, f := range files {
		n, err := checkCIFAR(f, kind)
		if err != nil {
			return nil, err
		}
		counts[i] = n
		total += n
	}
	d := &Dataset{
		Name:       name,
		X:          make([]float32, total*CIFARImageBytes),
		Y:          make([]int, total),
		Shape:      []int{3, 32, 32},
		Classes:    kind.Classes(),
		ClassNames: append([]string(nil), kind.ClassNames()...),
	}
	lb, rs := kind.LabelBytes(), kind.RecordSize()
	label := 0 // offset of the label used within a record
	if kind == CIFAR100Fine {
		label = 1
	}
	var wg sync.WaitGroup
	start := 0
	for i, f := range files {
		wg.Add(1)
		go func(data []byte, first, n int) {
			defer wg.Done()
			for r := 0; r < n; r++ {
				rec := data[r*rs : (r+1)*rs]
				d.Y[first+r] = int(rec[label])
				dst := d.X[(first+r)*CIFARImageBytes : (first+r+1)*CIFARImageBytes]
				for k, v := range rec[lb:] {
					dst[k] = pixelScale[v]
				}
			}
		}(f.data, start, counts[i])
		start += counts[i]
	}
	wg.Wait()
	return d, nil
}

// ReadCIFAR reads every record of one CIFAR binary file from r (for
// example a data_batch_N.bin or train.bin) into a Dataset of shape {3, 32,
// 32} with pixels scaled to [0, 1]. name is used as the Dataset's name and
// in errors. The input must be a non-empty whole number of records and every
// label must be in range; otherwise the error says which record is at fault.
func ReadCIFAR(r io.Reader, name string, kind CIFARKind) (*Dataset, error) {
	if err := kind.check(); err != nil {
		return nil, errors.Wrapf(err, "cifar file %s", name)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxEntryBytes+1))
	if err != nil {
		return nil, errors.Wrapf(err, "cifar file %s: reading after %d bytes", name, len(data))
	}
	if len(data) > maxEntryBytes {
		return nil, errors.Errorf("cifar file %s: larger than the limit of %d bytes", name, maxEntryBytes)
	}
	return decodeCIFAR([]cifarFile{{where: name, data: data}}, kind, name)
}

// LoadCIFAR10 loads the official CIFAR-10 binary release: the training set
// (data_batch_1.bin .. data_batch_5.bin, 50,000 images, in that order) and
// the test set (test_batch.bin, 10,000 images). path may be
//
//   - the cifar-10-batches-bin directory itself,
//   - a directory containing cifar-10-batches-bin/,
//   - the official archive cifar-10-binary.tar.gz (read without extracting),
//     or a directory containing it.
//
// Images have shape {3, 32, 32} (channel-major, R, G, B planes) with pixels
// scaled to [0, 1] and are decoded into one []float32 per set. The sets are
// named "cifar-10/train" and "cifar-10/test" with ClassNames
// [CIFAR10ClassNames]. Errors name the file (and archive member) at fault.
func LoadCIFAR10(path string) (train, test *Dataset, err error) {
	return loadCIFAR(path, CIFAR10)
}

// LoadCIFAR100 loads the official CIFAR-100 binary release (train.bin,
// 50,000 images; test.bin, 10,000), with fine labels (kind CIFAR100Fine,
// 100 classes) or coarse labels (CIFAR100Coarse, 20 classes). path may be
// the cifar-100-binary directory, a directory containing it, the official
// archive cifar-100-binary.tar.gz or a directory containing that; see
// [LoadCIFAR10] for the rest.
func LoadCIFAR100(path string, kind CIFARKind) (train, test *Dataset, err error) {
	if kind != CIFAR100Fine && kind != CIFAR100Coarse {
		return nil, nil, errors.Errorf("load cifar-100 %s: kind must be CIFAR100Fine or CIFAR100Coarse, found %v", path, kind)
	}
	return loadCIFAR(path, kind)
}

// cifarLayout describes where an official release keeps its files.
type cifarLayout struct {
	dir     string   // directory inside the archive
	archive string   // official archive name
	train   []string // training files, in load order
	test    string
}

func layoutOf(kind CIFARKind) cifarLayout {
	if kind == CIFAR10 {
		return cifarLayout{dir: "cifar-10-batches-bin", archive: "cifar-10-binary.tar.gz", train: CIFAR10TrainFiles, test: CIFAR10TestFile}
	}
	return cifarLayout{dir: "cifar-100-binary", archive: "cifar-100-binary.tar.gz", train: []string{CIFAR100TrainFile}, test: CIFAR100TestFile}
}

// resolveCIFAR returns the directory holding the files or the archive to
// read for path, or why path holds neither.
func resolveCIFAR(p string, kind CIFARKind) (dir, archive string, why string) {
	l := layoutOf(kind)
	st, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		return "", "", "no such file or directory"
	case err != nil:
		return "", "", err.Error()
	case !st.IsDir():
		return "", p, ""
	}
	has := func(dir string) bool {
		for _, f := range append(append([]string(nil), l.train...), l.test) {
			if !isFile(filepath.Join(dir, f)) {
				return false
			}
		}
		return true
	}
	if has(p) {
		return p, "", ""
	}
	if sub := filepath.Join(p, l.dir); has(sub) {
		return sub, "", ""
	}
	if a := filepath.Join(p, l.archive); isFile(a) {
		return "", a, ""
	}
	return "", "", fmt.Sprintf("holds neither %s nor %s/ with them nor %s",
		strings.Join(append(append([]string(nil), l.train...), l.test), ", "), l.dir, l.archive)
}

func loadCIFAR(p string, kind CIFARKind) (train, test *Dataset, err error) {
	dir, archive, why := resolveCIFAR(p, kind)
	if why != "" {
		return nil, nil, errors.Errorf("load %s: %s: %s", kind.setName(), p, why)
	}
	l := layoutOf(kind)
	var trainFiles []cifarFile
	var testFile cifarFile
	if dir != "" {
		for _, base := range l.train {
			f, err := readCIFARFile(filepath.Join(dir, base))
			if err != nil {
				return nil, nil, err
			}
			trainFiles = append(trainFiles, f)
		}
		if testFile, err = readCIFARFile(filepath.Join(dir, l.test)); err != nil {
			return nil, nil, err
		}
	} else {
		files, err := readCIFARArchive(archive, l)
		if err != nil {
			return nil, nil, err
		}
		trainFiles, testFile = files[:len(l.train)], files[len(l.train)]
	}
	name := kind.setName()
	if train, err = decodeCIFAR(trainFiles, kind, name+"/train"); err != nil {
		return nil, nil, err
	}
	trainFiles = nil
	if test, err = decodeCIFAR([]cifarFile{testFile}, kind, name+"/test"); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

func readCIFARFile(p string) (cifarFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return cifarFile{}, errors.Wrap(err, "cifar file")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return cifarFile{}, errors.Wrap(err, "cifar file")
	}
	data, err := readEntry(f, st.Size())
	if err != nil {
		return cifarFile{}, errors.Wrapf(err, "cifar file %s", p)
	}
	return cifarFile{where: p, data: data}, nil
}

// readCIFARArchive reads the release's files from a tar or tar.gz archive,
// matching members by base name within the release's directory (or any
// directory, for repacked archives). It returns the training files in load
// order followed by the test file.
func readCIFARArchive(archive string, l cifarLayout) ([]cifarFile, error) {
	want := append(append([]string(nil), l.train...), l.test)
	index := map[string]int{}
	for i, w := range want {
		index[w] = i
	}
	out := make([]cifarFile, len(want))
	err := walkArchive(archive, func(name string, size int64, r io.Reader) error {
		i, ok := index[path.Base(name)]
		if !ok {
			return nil
		}
		where := archive + ": " + name
		if out[i].where != "" {
			return errors.Errorf("cifar archive %s: %s appears twice (%s and %s)", archive, want[i], out[i].where, name)
		}
		data, err := readEntry(r, size)
		if err != nil {
			return errors.Wrapf(err, "cifar file %s", where)
		}
		out[i] = cifarFile{where: where, data: data}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var missing []string
	for i, f := range out {
		if f.where == "" {
			missing = append(missing, want[i])
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, errors.Errorf("cifar archive %s: missing %s (expected %s/%s)", archive, strings.Join(missing, ", "), l.dir, strings.Join(missing, ", "+l.dir+"/"))
	}
	return out, nil
}

package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pkg/errors"
)

// Default limits of [ImageFolderOptions].
const (
	// DefaultMaxPixels bounds the width·height of one image (4096×4096).
	DefaultMaxPixels = 1 << 24
	// DefaultMaxBytes bounds the float32 buffer of a loaded set (16 GiB).
	DefaultMaxBytes = 1 << 34
)

// ImageFolderOptions configures [LoadImageFolder] and [LoadImageFolders].
// The zero value is ready to use.
type ImageFolderOptions struct {
	// Channels is the number of channels of the loaded images: 1
	// (grayscale; colour images are converted with ITU-R 601 luma,
	// L = (19595·R + 38470·G + 7471·B + 2^15) >> 16, as PIL's convert("L")),
	// 3 (RGB; grayscale images are replicated into the three planes) or 0
	// (automatic: 1 if every image is grayscale, else 3). Alpha is dropped.
	Channels int
	// Workers is the number of goroutines reading and decoding images; 0
	// means runtime.NumCPU().
	Workers int
	// MaxPixels bounds the width·height of one image, checked on the image
	// header before anything is decoded; 0 means DefaultMaxPixels.
	MaxPixels int
	// MaxBytes bounds the size in bytes of a loaded set's float32 buffer;
	// 0 means DefaultMaxBytes.
	MaxBytes int64
	// Width and Height, when set (both or neither), are the size every
	// image must have, checked on each image's header before anything is
	// decoded: a caller that knows the shape it wants (a model's input)
	// refuses other images before paying for them.
	Width, Height int
}

// imageEntry is one image file of an image folder.
type imageEntry struct {
	class int
	rel   string // path below the split root, e.g. "cat/0001.jpg"
	where string // for errors: "dir/cat/0001.jpg" or "a.tar.gz: root/cat/0001.jpg"
	file  string // path on disk, or "" if data holds the content
	data  []byte
	w, h  int
	gray  bool
}

// imageExt reports whether name has an image extension this package reads.
func imageExt(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// LoadImageFolder loads a directory tree of images laid out like
// torchvision's ImageFolder: root/<class>/<image>, where every subdirectory
// of root is a class (nested directories below a class belong to it).
// Classes are numbered in name order; within a class images are sorted by
// path. Files ending in .png, .jpg or .jpeg (any case) are read, PNG or
// JPEG recognised by their content; other files, files directly in root and
// names starting with "." are ignored. A class without images is an error.
//
// path is a directory or a tar archive (.tar.gz, .tgz or .tar), read
// without extracting; if every member of the archive lies under one
// top-level directory, that directory is the root.
//
// Every image must have the same width and height (the error names the
// first file that does not). Images are decoded in parallel
// (opt.Workers goroutines) straight into one []float32 in (C, H, W) order,
// values scaled to [0, 1]; Shape is {C, H, W}. The set is named after path
// (without its archive extension). Errors name the file or archive member
// at fault.
func LoadImageFolder(path string, opt ImageFolderOptions) (*Dataset, error) {
	ds, err := loadImageFolders(path, opt, []string{""})
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// LoadImageFolders loads several image folders that are subdirectories of
// path, such as the "train" and "test" splits of
// root/{train,test}/<class>/<image>, reading an archive only once. Each
// split is loaded as by [LoadImageFolder] and named "<name>/<split's last
// element>", e.g. "cifar10-jpeg/train". All
// splits must have the same class folders (so a label means the same class
// in each) and their images the same size. In an archive whose members all
// lie under one top-level directory, a split not found at the top is
// looked up in that directory, so "train" finds cifar10-jpeg/train/ in
// cifar10-jpeg.tar.gz; a directory with a single subdirectory is searched
// likewise.
func LoadImageFolders(path string, opt ImageFolderOptions, splits ...string) ([]*Dataset, error) {
	if len(splits) == 0 {
		return nil, errors.Errorf("image folder %s: no splits given", path)
	}
	for _, s := range splits {
		if c := cleanEntryName(s); c == "" || c != strings.Trim(filepath.ToSlash(s), "/") {
			return nil, errors.Errorf("image folder %s: bad split name %q", path, s)
		}
	}
	return loadImageFolders(path, opt, splits)
}

func loadImageFolders(p string, opt ImageFolderOptions, splits []string) ([]*Dataset, error) {
	if opt.Channels != 0 && opt.Channels != 1 && opt.Channels != 3 {
		return nil, errors.Errorf("image folder %s: Channels must be 0, 1 or 3, found %d", p, opt.Channels)
	}
	if opt.Width < 0 || opt.Height < 0 || (opt.Width == 0) != (opt.Height == 0) {
		return nil, errors.Errorf("image folder %s: Width and Height must be given together, found %d and %d", p, opt.Width, opt.Height)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.NumCPU()
	}
	if opt.MaxPixels <= 0 {
		opt.MaxPixels = DefaultMaxPixels
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, errors.Wrap(err, "image folder")
	}
	var groups [][]imageEntry // per split, labelled, sorted
	var classes [][]string
	if st.IsDir() {
		groups, classes, err = dirEntries(p, splits)
	} else {
		groups, classes, err = archiveEntries(p, splits)
	}
	if err != nil {
		return nil, err
	}
	for i := 1; i < len(classes); i++ {
		if strings.Join(classes[i], "\x00") != strings.Join(classes[0], "\x00") {
			return nil, errors.Errorf("image folder %s: split %q has classes %v but split %q has %v; all splits must have the same class folders",
				p, splits[i], classes[i], splits[0], classes[0])
		}
	}
	// Read (for directories) and check the header of every image.
	var all []*imageEntry
	for g := range groups {
		for i := range groups[g] {
			all = append(all, &groups[g][i])
		}
	}
	err = parallelFor(len(all), opt.Workers, func(i int) error { return all[i].readConfig(opt.MaxPixels) })
	if err != nil {
		return nil, errors.WithMessagef(err, "image folder %s", p)
	}
	first := all[0]
	allGray := true
	for _, e := range all {
		if opt.Width > 0 && (e.w != opt.Width || e.h != opt.Height) {
			return nil, errors.Errorf("image folder %s: %s is %dx%d, want %dx%d (ImageFolderOptions.Width and Height)",
				p, e.where, e.w, e.h, opt.Width, opt.Height)
		}
		if e.w != first.w || e.h != first.h {
			return nil, errors.Errorf("image folder %s: %s is %dx%d but %s (the first image) is %dx%d: all images must have the same size",
				p, e.where, e.w, e.h, first.where, first.w, first.h)
		}
		allGray = allGray && e.gray
	}
	c := opt.Channels
	if c == 0 {
		c = 3
		if allGray {
			c = 1
		}
	}
	sample := c * first.h * first.w
	base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
	base = strings.TrimSuffix(base, ".tar")
	if bytes := int64(len(all)) * int64(sample) * 4; bytes > opt.MaxBytes {
		return nil, errors.Errorf("image folder %s: %d images of %dx%dx%d need %d bytes, more than the limit of %d (ImageFolderOptions.MaxBytes)",
			p, len(all), c, first.h, first.w, bytes, opt.MaxBytes)
	}
	out := make([]*Dataset, len(groups))
	for g, entries := range groups {
		d := &Dataset{
			Name:       base,
			X:          make([]float32, len(entries)*sample),
			Y:          make([]int, len(entries)),
			Shape:      []int{c, first.h, first.w},
			Classes:    len(classes[g]),
			ClassNames: append([]string(nil), classes[g]...),
		}
		if splits[g] != "" {
			d.Name = base + "/" + path.Base(strings.Trim(filepath.ToSlash(splits[g]), "/"))
		}
		err := parallelFor(len(entries), opt.Workers, func(i int) error {
			e := &entries[i]
			d.Y[i] = e.class
			err := e.decodeInto(d.X[i*sample:(i+1)*sample], c)
			e.data = nil // free the encoded bytes as we go
			return err
		})
		if err != nil {
			return nil, errors.WithMessagef(err, "image folder %s", p)
		}
		out[g] = d
	}
	return out, nil
}

// labelEntries groups entries by class folder, numbers the classes in name
// order and sorts each class's images by path.
func labelEntries(where string, entries []imageEntry) ([]imageEntry, []string, error) {
	byClass := map[string][]imageEntry{}
	for _, e := range entries {
		c, _, _ := strings.Cut(e.rel, "/")
		byClass[c] = append(byClass[c], e)
	}
	names := make([]string, 0, len(byClass))
	for c := range byClass {
		names = append(names, c)
	}
	sort.Strings(names)
	out := make([]imageEntry, 0, len(entries))
	for label, c := range names {
		es := byClass[c]
		sort.Slice(es, func(i, j int) bool { return es[i].rel < es[j].rel })
		for _, e := range es {
			e.class = label
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		return nil, nil, errors.Errorf("image folder %s: no images: expected <class>/<name>.png|.jpg|.jpeg files", where)
	}
	return out, names, nil
}

// hidden reports whether any component of a slash path starts with ".".
func hidden(rel string) bool {
	for _, part := range strings.Split(rel, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// dirEntries lists the images of each split of the directory root.
func dirEntries(root string, splits []string) ([][]imageEntry, [][]string, error) {
	groups := make([][]imageEntry, len(splits))
	classes := make([][]string, len(splits))
	for g, s := range splits {
		dir := root
		if s != "" {
			dir = filepath.Join(root, filepath.FromSlash(s))
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				if alt := singleSubdir(root); alt != "" && isDir(filepath.Join(alt, filepath.FromSlash(s))) {
					dir = filepath.Join(alt, filepath.FromSlash(s))
				} else {
					return nil, nil, errors.Errorf("image folder %s: no split directory %q", root, s)
				}
			}
		}
		dirs, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, errors.Wrap(err, "image folder")
		}
		var entries []imageEntry
		var empty []string
		for _, cd := range dirs {
			if strings.HasPrefix(cd.Name(), ".") || !isDir(filepath.Join(dir, cd.Name())) {
				continue
			}
			n := len(entries)
			classDir := filepath.Join(dir, cd.Name())
			err := filepath.WalkDir(classDir, func(fp string, de fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if strings.HasPrefix(de.Name(), ".") && fp != classDir {
					if de.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if de.IsDir() || !imageExt(de.Name()) || !isFile(fp) {
					return nil
				}
				rel, err := filepath.Rel(dir, fp)
				if err != nil {
					return err
				}
				entries = append(entries, imageEntry{rel: filepath.ToSlash(rel), where: fp, file: fp})
				return nil
			})
			if err != nil {
				return nil, nil, errors.Wrap(err, "image folder")
			}
			if len(entries) == n {
				empty = append(empty, cd.Name())
			}
		}
		if len(empty) > 0 {
			return nil, nil, errors.Errorf("image folder %s: class folder(s) %s hold no .png/.jpg/.jpeg image", dir, strings.Join(empty, ", "))
		}
		if groups[g], classes[g], err = labelEntries(dir, entries); err != nil {
			return nil, nil, err
		}
	}
	return groups, classes, nil
}

// singleSubdir returns the only non-hidden subdirectory of dir, or "".
func singleSubdir(dir string) string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	found := ""
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") || !isDir(filepath.Join(dir, de.Name())) {
			continue
		}
		if found != "" {
			return ""
		}
		found = filepath.Join(dir, de.Name())
	}
	return found
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// archiveEntries reads every image member of a tar archive once and splits
// them into the requested image folders.
func archiveEntries(archive string, splits []string) ([][]imageEntry, [][]string, error) {
	type member struct {
		name string
		data []byte
	}
	var members []member
	tops := map[string]bool{}
	seen := map[string]bool{}
	err := walkArchive(archive, func(name string, size int64, r io.Reader) error {
		top, _, _ := strings.Cut(name, "/")
		tops[top] = true
		if !imageExt(name) || hidden(name) {
			return nil
		}
		if seen[name] {
			return errors.Errorf("image folder %s: %s appears twice in the archive", archive, name)
		}
		seen[name] = true
		data, err := readEntry(r, size)
		if err != nil {
			return errors.Wrapf(err, "image folder %s: %s", archive, name)
		}
		members = append(members, member{name, data})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	single := ""
	if len(tops) == 1 {
		for t := range tops {
			single = t
		}
	}
	groups := make([][]imageEntry, len(splits))
	classes := make([][]string, len(splits))
	for g, s := range splits {
		s = strings.Trim(s, "/")
		var prefixes []string
		switch {
		case s == "" && single != "":
			prefixes = []string{single + "/", ""}
		case s == "":
			prefixes = []string{""}
		case single != "":
			prefixes = []string{s + "/", single + "/" + s + "/"}
		default:
			prefixes = []string{s + "/"}
		}
		var entries []imageEntry
		for _, pre := range prefixes {
			for _, m := range members {
				rel, ok := strings.CutPrefix(m.name, pre)
				if !ok || !strings.Contains(rel, "/") {
					continue // not below this root, or not in a class folder
				}
				entries = append(entries, imageEntry{rel: rel, where: archive + ": " + m.name, data: m.data})
			}
			if len(entries) > 0 {
				break
			}
		}
		if len(entries) == 0 {
			what := "no images in class folders"
			if s != "" {
				what = fmt.Sprintf("no images in class folders of split %q", s)
			}
			return nil, nil, errors.Errorf("image folder %s: %s: expected members %s<class>/<name>.png|.jpg|.jpeg", archive, what, prefixes[0])
		}
		var err error
		if groups[g], classes[g], err = labelEntries(archive, entries); err != nil {
			return nil, nil, err
		}
	}
	return groups, classes, nil
}

// parallelFor calls fn(i) for i in [0, n) on up to workers goroutines. It
// returns the error of the smallest failing index, so the result does not
// depend on scheduling; indices above a failure may be skipped.
func parallelFor(n, workers int, fn func(i int) error) error {
	workers = max(1, min(workers, n))
	var next atomic.Int64
	var mu sync.Mutex
	failAt, failErr := n, error(nil)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mu.Lock()
				skip := i > failAt
				mu.Unlock()
				if skip {
					continue
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if i < failAt {
						failAt, failErr = i, err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failErr
}

// Image format signatures.
var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8}
)

// imageFormat sniffs data: "png", "jpeg" or "".
func imageFormat(data []byte) string {
	switch {
	case bytes.HasPrefix(data, pngMagic):
		return "png"
	case bytes.HasPrefix(data, jpegMagic):
		return "jpeg"
	}
	return ""
}

// readConfig reads the entry's file if needed and decodes its header.
func (e *imageEntry) readConfig(maxPixels int) error {
	if e.data == nil {
		f, err := os.Open(e.file)
		if err != nil {
			return errors.Wrap(err, "image")
		}
		st, err := f.Stat()
		if err == nil {
			e.data, err = readEntry(f, st.Size())
		}
		f.Close()
		if err != nil {
			return errors.Wrapf(err, "image %s", e.where)
		}
	}
	w, h, gray, err := imageConfig(e.data, maxPixels)
	if err != nil {
		return errors.WithMessagef(err, "image %s", e.where)
	}
	e.w, e.h, e.gray = w, h, gray
	return nil
}

// imageConfig decodes a PNG or JPEG header: size and whether the image is
// grayscale. It rejects empty images and images of more than maxPixels.
func imageConfig(data []byte, maxPixels int) (w, h int, gray bool, err error) {
	var cfg image.Config
	switch format := imageFormat(data); format {
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	default:
		n := min(len(data), 8)
		return 0, 0, false, errors.Errorf("unknown image format: expected a PNG or JPEG signature, found % x", data[:n])
	}
	if err != nil {
		return 0, 0, false, errors.Wrapf(err, "decoding %s header", imageFormat(data))
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return 0, 0, false, errors.Errorf("empty image: %dx%d", cfg.Width, cfg.Height)
	}
	if cfg.Width > maxPixels || cfg.Height > maxPixels || cfg.Width*cfg.Height > maxPixels {
		return 0, 0, false, errors.Errorf("image too large: %dx%d is more than the limit of %d pixels (ImageFolderOptions.MaxPixels)", cfg.Width, cfg.Height, maxPixels)
	}
	gray = cfg.ColorModel == color.GrayModel || cfg.ColorModel == color.Gray16Model
	return cfg.Width, cfg.Height, gray, nil
}

// decodeInto decodes the entry's image into dst in (C, H, W) order.
func (e *imageEntry) decodeInto(dst []float32, channels int) error {
	if err := decodeImage(e.data, dst, channels, e.w, e.h); err != nil {
		return errors.WithMessagef(err, "image %s", e.where)
	}
	return nil
}

// decodeImage decodes a PNG or JPEG of size w×h into dst (channels·h·w
// values in [0, 1], channel-major).
func decodeImage(data []byte, dst []float32, channels, w, h int) error {
	var img image.Image
	var err error
	format := imageFormat(data)
	switch format {
	case "png":
		img, err = png.Decode(bytes.NewReader(data))
	case "jpeg":
		img, err = jpeg.Decode(bytes.NewReader(data))
	default:
		return errors.New("unknown image format: expected a PNG or JPEG signature")
	}
	if err != nil {
		return errors.Wrapf(err, "decoding %s", format)
	}
	b := img.Bounds()
	if b.Dx() != w || b.Dy() != h {
		return errors.Errorf("decoded %dx%d, header said %dx%d", b.Dx(), b.Dy(), w, h)
	}
	if len(dst) != channels*w*h {
		return errors.Errorf("internal: %d values for %dx%dx%d", len(dst), channels, h, w)
	}
	writePixels(img, dst, channels)
	return nil
}

// writePixels converts img to channels planes of float32 in [0, 1]. Common
// decoder outputs (YCbCr, Gray, RGBA, NRGBA, Paletted) take fast paths;
// anything else goes through color.NRGBAModel.
func writePixels(img image.Image, dst []float32, channels int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	plane := w * h
	put := func(i int, r, g, bl uint8) {
		if channels == 1 {
			dst[i] = pixelScale[luma(r, g, bl)]
			return
		}
		dst[i] = pixelScale[r]
		dst[plane+i] = pixelScale[g]
		dst[2*plane+i] = pixelScale[bl]
	}
	putGray := func(i int, v uint8) {
		s := pixelScale[v]
		dst[i] = s
		if channels == 3 {
			dst[plane+i] = s
			dst[2*plane+i] = s
		}
	}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, v := range row {
				putGray(y*w+x, v)
			}
		}
	case *image.YCbCr: // what JPEG colour images decode to: the hot path
		for y := 0; y < h; y++ {
			yrow := m.Y[m.YOffset(b.Min.X, b.Min.Y+y):]
			yrow = yrow[:w]
			out := y * w
			for x, yv := range yrow {
				ci := m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(yv, m.Cb[ci], m.Cr[ci])
				if channels == 3 {
					dst[out+x] = pixelScale[r]
					dst[plane+out+x] = pixelScale[g]
					dst[2*plane+out+x] = pixelScale[bl]
				} else {
					dst[out+x] = pixelScale[luma(r, g, bl)]
				}
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				put(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			for x := 0; x < w; x++ {
				put(y*w+x, row[4*x], row[4*x+1], row[4*x+2])
			}
		}
	case *image.Paletted:
		pal := make([]color.NRGBA, len(m.Palette))
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			for x, k := range row {
				var c color.NRGBA // out-of-range index: black, as image.Paletted.At
				if int(k) < len(pal) {
					c = pal[k]
				}
				put(y*w+x, c.R, c.G, c.B)
			}
		}
	default:
		gray := img.ColorModel() == color.GrayModel || img.ColorModel() == color.Gray16Model
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := img.At(b.Min.X+x, b.Min.Y+y)
				if gray {
					putGray(y*w+x, color.GrayModel.Convert(c).(color.Gray).Y)
					continue
				}
				n := color.NRGBAModel.Convert(c).(color.NRGBA)
				put(y*w+x, n.R, n.G, n.B)
			}
		}
	}
}

// luma converts RGB to 8-bit gray like PIL's convert("L"): ITU-R 601-2
// weights in 16-bit fixed point, rounded.
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

package npz

import (
	"archive/zip"
	"encoding/binary"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

const (
	// MaxEntryBytes bounds the data of one array Read accepts (16 GiB).
	MaxEntryBytes = 1 << 34
	// maxHeaderBytes bounds a .npy header; numpy writes a few dozen bytes
	// and itself refuses headers above 10000 bytes by default.
	maxHeaderBytes = 1 << 16
	// maxValues bounds the number of values a header may announce.
	maxValues = 1 << 34
)

// Reader reads the arrays of an .npz archive one at a time, by name, each
// only when asked for and only up to the size its caller expects: a
// malformed or hostile file (a "zip bomb" of one small deflated entry that
// inflates to gigabytes, a header announcing a huge shape) is refused
// before its data is inflated or allocated. Opening reads the zip directory
// only.
type Reader struct {
	path   string
	closer io.Closer
	names  []string
	files  map[string]*zip.File
}

// Open opens the .npz archive at path and reads its directory. Every entry
// must be a .npy file, each name once.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrapf(err, "npz %s", path)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errors.Wrapf(err, "npz %s", path)
	}
	r, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads the directory of the .npz archive of size bytes in ra;
// label names it in errors. Its Close does not close ra.
func NewReader(ra io.ReaderAt, size int64, label string) (*Reader, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && zr == nil {
		return nil, errors.Wrapf(err, "npz %s: not a readable zip archive (truncated or corrupt?)", label)
	}
	r := &Reader{path: label, files: map[string]*zip.File{}}
	for _, f := range zr.File {
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok {
			return nil, errors.Errorf("npz %s: entry %q is not a .npy file", label, f.Name)
		}
		if _, dup := r.files[name]; dup {
			return nil, errors.Errorf("npz %s: entry %q appears twice", label, f.Name)
		}
		r.files[name] = f
		r.names = append(r.names, name)
	}
	return r, nil
}

// Close closes the archive's file (Open's; nothing for NewReader's).
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// Path returns the archive's path.
func (r *Reader) Path() string { return r.path }

// Names returns the names of the archive's arrays in archive order.
func (r *Reader) Names() []string { return append([]string(nil), r.names...) }

// Has reports whether the archive holds an array of that name.
func (r *Reader) Has(name string) bool {
	_, ok := r.files[name]
	return ok
}

// Header returns the named array's name, dtype and shape, without its data
// (Data is nil): only the .npy header is inflated. The size the header
// implies must agree with the entry's size in the zip directory.
func (r *Reader) Header(name string) (Array, error) {
	_, rc, a, _, err := r.open(name)
	if rc != nil {
		rc.Close()
	}
	return a, err
}

// Read returns the named array after checking that its data, as its .npy
// header and the zip directory announce it, is at most maxBytes; it never
// inflates more than that, whatever the directory says. The entry's CRC-32
// is checked.
func (r *Reader) Read(name string, maxBytes int64) (Array, error) {
	_, rc, a, hlen, err := r.open(name)
	if rc != nil {
		defer rc.Close()
	}
	if err != nil {
		return a, err
	}
	n := int64(a.Len()) * int64(itemSize[a.Dtype])
	if n > maxBytes {
		return Array{}, r.errorf(name, "shape %v of %s holds %d bytes, more than the %d expected", a.Shape, a.Dtype, n, maxBytes)
	}
	a.Data = make([]byte, n)
	if _, err := io.ReadFull(rc, a.Data); err != nil {
		return Array{}, r.wrap(err, name, "is corrupt or truncated (%d header and %d data bytes expected)", hlen, n)
	}
	// The entry must end here: reading on hits its end, where archive/zip
	// checks the CRC-32 and the size.
	var one [1]byte
	switch k, err := io.ReadFull(rc, one[:]); {
	case k > 0:
		return Array{}, r.errorf(name, "holds more data than its shape %v of %s", a.Shape, a.Dtype)
	case err != io.EOF:
		return Array{}, r.wrap(err, name, "is corrupt")
	}
	return a, nil
}

// open opens the named entry and reads its .npy header, checking the size
// it implies against the zip directory. The caller closes rc when it is not
// nil.
func (r *Reader) open(name string) (*zip.File, io.ReadCloser, Array, int, error) {
	f, ok := r.files[name]
	if !ok {
		return nil, nil, Array{}, 0, errors.Errorf("npz %s: no array %q", r.path, name)
	}
	rc, err := f.Open()
	if err != nil {
		return f, nil, Array{}, 0, r.wrap(err, name, "cannot be read")
	}
	a, hlen, err := readHeader(rc)
	if err != nil {
		return f, rc, Array{}, 0, r.wrap(err, name, "")
	}
	a.Name = name
	// Deflate encodes at most 1032 bytes per compressed byte (258-byte
	// matches in 2 bits); stored entries are as long as their data.
	phys := f.CompressedSize64
	if f.Method != zip.Store {
		phys = 1032*phys + 1024
	}
	if f.UncompressedSize64 > phys {
		return f, rc, Array{}, 0, r.errorf(name, "the zip directory gives %d bytes, more than its %d compressed bytes can hold",
			f.UncompressedSize64, f.CompressedSize64)
	}
	total := uint64(hlen) + uint64(a.Len())*uint64(itemSize[a.Dtype])
	if f.UncompressedSize64 != total {
		return f, rc, Array{}, 0, r.errorf(name, "the zip directory gives %d bytes, its .npy header (shape %v of %s) %d",
			f.UncompressedSize64, a.Shape, a.Dtype, total)
	}
	return f, rc, a, hlen, nil
}

func (r *Reader) errorf(name, format string, args ...any) error {
	return errors.Errorf("npz %s: array %q: %s", r.path, name, errors.Errorf(format, args...))
}

func (r *Reader) wrap(err error, name, format string, args ...any) error {
	if format == "" {
		return errors.Wrapf(err, "npz %s: array %q", r.path, name)
	}
	return errors.Wrapf(err, "npz %s: array %q %s", r.path, name, errors.Errorf(format, args...))
}

// readHeader reads a .npy header (format version 1.0, 2.0 or 3.0) from
// rd: the array's dtype and shape (Data nil, Name empty) and the header's
// length in bytes, after which the data starts.
func readHeader(rd io.Reader) (Array, int, error) {
	var a Array
	pre := make([]byte, 12)
	n, err := io.ReadFull(rd, pre[:10])
	if n < 10 || string(pre[:6]) != "\x93NUMPY" {
		if n >= 6 && string(pre[:6]) == "\x93NUMPY" {
			return a, 0, errors.New("truncated .npy header")
		}
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return a, 0, err
		}
		return a, 0, errors.New("not a .npy file (bad magic)")
	}
	var hlen, start int
	switch pre[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(pre[8:10])), 10
	case 2, 3:
		if _, err := io.ReadFull(rd, pre[10:12]); err != nil {
			return a, 0, errors.New("truncated .npy header")
		}
		h := binary.LittleEndian.Uint32(pre[8:12])
		if h > maxHeaderBytes {
			return a, 0, errors.Errorf(".npy header of %d bytes, more than %d", h, maxHeaderBytes)
		}
		hlen, start = int(h), 12
	default:
		return a, 0, errors.Errorf("unsupported .npy version %d.%d", pre[6], pre[7])
	}
	buf := make([]byte, hlen)
	if k, err := io.ReadFull(rd, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return a, 0, errors.Errorf("truncated .npy header: %d bytes announced, %d present", hlen, k)
		}
		return a, 0, err
	}
	dict := string(buf)
	m := descrRe.FindStringSubmatch(dict)
	if m == nil {
		return a, 0, errors.Errorf("npy header %q has no descr", dict)
	}
	a.Dtype = m[1]
	if _, ok := itemSize[a.Dtype]; !ok {
		return a, 0, errors.Errorf("unsupported dtype %q", a.Dtype)
	}
	if o := orderRe.FindStringSubmatch(dict); o == nil || o[1] != "False" {
		return a, 0, errors.New("only C-order arrays are supported (fortran_order must be False)")
	}
	s := shapeRe.FindStringSubmatch(dict)
	if s == nil {
		return a, 0, errors.Errorf("npy header %q has no shape", dict)
	}
	values := 1
	for _, f := range strings.Split(s[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > 1<<31 {
			return a, 0, errors.Errorf("bad dimension %q in shape (%s)", f, s[1])
		}
		if d > 0 && values > maxValues/d {
			return a, 0, errors.Errorf("shape (%s) is absurdly large", s[1])
		}
		a.Shape = append(a.Shape, d)
		values *= d
	}
	return a, start + hlen, nil
}

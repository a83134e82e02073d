// Package npz reads and writes NumPy .npz archives: a zip file of .npy
// arrays, which numpy.load opens directly. g2g stores checkpoints and
// exported models in this format so that any Python user can read them.
//
// Writes are atomic (see internal/atomicfile): a crash never leaves a
// half-written file under the final name. Reads verify every
// entry's CRC-32 (archive/zip does this) and reject malformed headers.
package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// Array is one n-dimensional array in C (row-major) order.
type Array struct {
	// Name is the key numpy.load gives the array (the entry name without ".npy").
	Name string
	// Dtype is a NumPy type string: "<f4", "<f8", "|u1" or "<i8".
	Dtype string
	// Shape lists the dimensions; a scalar has none.
	Shape []int
	// Data holds the little-endian bytes, len = product(Shape)·itemsize.
	Data []byte
}

var itemSize = map[string]int{"<f4": 4, "<f8": 8, "|u1": 1, "<u1": 1, "<i8": 8, "<i4": 4}

// Float32 returns an array holding v.
func Float32(name string, v []float32, shape ...int) Array {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Array{Name: name, Dtype: "<f4", Shape: shape, Data: b}
}

// Uint8 returns an array holding v.
func Uint8(name string, v []uint8, shape ...int) Array {
	return Array{Name: name, Dtype: "|u1", Shape: shape, Data: append([]byte(nil), v...)}
}

// Len returns the number of elements the shape describes.
func (a Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// AsFloat32 decodes a "<f4" array.
func (a Array) AsFloat32() ([]float32, error) {
	if a.Dtype != "<f4" {
		return nil, errors.Errorf("array %q has dtype %s, want <f4", a.Name, a.Dtype)
	}
	out := make([]float32, len(a.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
	}
	return out, nil
}

// Write stores the arrays in an .npz archive at path, atomically.
func Write(path string, arrays []Array) error {
	seen := map[string]bool{}
	for _, a := range arrays {
		if seen[a.Name] {
			return errors.Errorf("npz %s: array %q given twice", path, a.Name)
		}
		seen[a.Name] = true
		size, ok := itemSize[a.Dtype]
		if !ok {
			return errors.Errorf("npz %s: array %q: unsupported dtype %q", path, a.Name, a.Dtype)
		}
		if a.Len()*size != len(a.Data) {
			return errors.Errorf("npz %s: array %q: shape %v needs %d bytes, have %d", path, a.Name, a.Shape, a.Len()*size, len(a.Data))
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, a := range arrays {
			method := zip.Store
			if a.Dtype == "|u1" {
				method = zip.Deflate // masks compress well; weights do not
			}
			f, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: method})
			if err != nil {
				return err
			}
			if _, err := f.Write(header(a)); err != nil {
				return err
			}
			if _, err := f.Write(a.Data); err != nil {
				return err
			}
		}
		return zw.Close()
	})
}

// header returns the .npy v1.0 header of a, padded so the data starts at a
// multiple of 64 bytes.
func header(a Array) []byte {
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(a.Shape) == 1 {
		shape += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", a.Dtype, shape)
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&buf, binary.LittleEndian, uint16(len(dict)))
	buf.WriteString(dict)
	return buf.Bytes()
}

// Read loads every array of the .npz archive at path.
func Read(path string) (map[string]Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, errors.Wrapf(err, "npz %s: not a readable zip archive (truncated or corrupt?)", path)
	}
	defer zr.Close()
	out := map[string]Array{}
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if name == f.Name {
			return nil, errors.Errorf("npz %s: entry %q is not a .npy file", path, f.Name)
		}
		if f.UncompressedSize64 > 1<<34 {
			return nil, errors.Errorf("npz %s: entry %q claims %d bytes", path, f.Name, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errors.Wrapf(err, "npz %s: entry %q", path, f.Name)
		}
		raw, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return nil, errors.Wrapf(err, "npz %s: entry %q is corrupt", path, f.Name)
		}
		a, err := ParseNPY(raw)
		if err != nil {
			return nil, errors.Wrapf(err, "npz %s: entry %q", path, f.Name)
		}
		a.Name = name
		out[name] = a
	}
	return out, nil
}

var (
	descrRe = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	orderRe = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// ParseNPY decodes one .npy file (format version 1.0 or 2.0, C order, a
// dtype of Array.Dtype's list). The data must have exactly the size the
// header announces.
func ParseNPY(raw []byte) (Array, error) {
	var a Array
	if len(raw) < 10 || string(raw[:6]) != "\x93NUMPY" {
		return a, errors.New("not a .npy file (bad magic)")
	}
	var hlen, start int
	switch raw[6] {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(raw[8:10])), 10
	case 2, 3:
		if len(raw) < 12 {
			return a, errors.New("truncated .npy header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(raw[8:12])), 12
	default:
		return a, errors.Errorf("unsupported .npy version %d.%d", raw[6], raw[7])
	}
	if hlen > len(raw)-start {
		return a, errors.Errorf("truncated .npy header: %d bytes announced, %d present", hlen, len(raw)-start)
	}
	dict := string(raw[start : start+hlen])
	m := descrRe.FindStringSubmatch(dict)
	if m == nil {
		return a, errors.Errorf("npy header %q has no descr", dict)
	}
	a.Dtype = m[1]
	size, ok := itemSize[a.Dtype]
	if !ok {
		return a, errors.Errorf("unsupported dtype %q", a.Dtype)
	}
	if o := orderRe.FindStringSubmatch(dict); o == nil || o[1] != "False" {
		return a, errors.New("only C-order arrays are supported (fortran_order must be False)")
	}
	s := shapeRe.FindStringSubmatch(dict)
	if s == nil {
		return a, errors.Errorf("npy header %q has no shape", dict)
	}
	n := 1
	for _, f := range strings.Split(s[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 || d > 1<<31 {
			return a, errors.Errorf("bad dimension %q in shape (%s)", f, s[1])
		}
		a.Shape = append(a.Shape, d)
		if n *= d; n > 1<<34 {
			return a, errors.Errorf("shape (%s) is absurdly large", s[1])
		}
	}
	data := raw[start+hlen:]
	if len(data) != n*size {
		return a, errors.Errorf("shape (%s) of %s needs %d data bytes, found %d", s[1], a.Dtype, n*size, len(data))
	}
	a.Data = data
	return a, nil
}

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

// Read loads every array of the .npz archive at path, each of at most
// MaxEntryBytes. It is meant for files the caller trusts (its own, tests):
// loaders of files from elsewhere use Open and read each array with the
// bound they expect.
func Read(path string) (map[string]Array, error) {
	r, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := map[string]Array{}
	for _, name := range r.Names() {
		a, err := r.Read(name, MaxEntryBytes)
		if err != nil {
			return nil, err
		}
		out[name] = a
	}
	return out, nil
}

var (
	descrRe = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	orderRe = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
)

// ParseNPY decodes one .npy file (format version 1.0, 2.0 or 3.0, C order,
// a dtype of Array.Dtype's list). The data must have exactly the size the
// header announces.
func ParseNPY(raw []byte) (Array, error) {
	a, hlen, err := readHeader(bytes.NewReader(raw))
	if err != nil {
		return a, err
	}
	data := raw[hlen:]
	if n := a.Len() * itemSize[a.Dtype]; len(data) != n {
		return a, errors.Errorf("shape %v of %s needs %d data bytes, found %d", a.Shape, a.Dtype, n, len(data))
	}
	a.Data = data
	return a, nil
}

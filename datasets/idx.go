package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pkg/errors"
)

// IDX is a decoded IDX file (http://yann.lecun.com/exdb/mnist/): the magic
// bytes 0x00 0x00 Type len(Dims), the big-endian uint32 dimension sizes,
// then the data in row-major order.
type IDX struct {
	// Type is the data type code from the magic number; only 0x08
	// (unsigned byte) is supported.
	Type byte
	// Dims are the dimension sizes, outermost first.
	Dims []int
	// Data holds the product of Dims bytes.
	Data []byte
}

// IDXUnsignedByte is the IDX type code for unsigned bytes, the only data
// type this package decodes.
const IDXUnsignedByte byte = 0x08

// maxIDXDataBytes bounds the data size a header may announce, to refuse
// absurd headers before allocating anything.
const maxIDXDataBytes = 1 << 31

// maxGzipRatio bounds how many bytes a gzip file can decompress to per
// compressed byte (deflate cannot exceed about 1032:1). A header announcing
// more data than that is not trusted for preallocation.
const maxGzipRatio = 1100

// readChunk is the size of the buffers data is read through, and
// readBuffers how many of them are in flight between reader and decoder.
const (
	readChunk   = 128 << 10
	readBuffers = 4
)

// growStart is the initial capacity when the data size cannot be checked
// against the input size; the buffer then doubles as data actually arrives.
const growStart = 1 << 20

var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// ReadIDX reads an IDX file from r, transparently decompressing it if it
// starts with the gzip magic bytes 0x1f 0x8b. Only type 0x08 (unsigned byte)
// is supported. The data must be exactly as long as the header says: short
// data is an error ("truncated"), and so are bytes after it ("trailing
// data"). Headers announcing more than 1<<31 bytes are rejected; otherwise
// memory grows only as data is actually read, so a lying header cannot force
// a large allocation. Use [ReadIDXFile] for files: its errors name the file
// and it can size its buffer in one go.
func ReadIDX(r io.Reader) (*IDX, error) {
	s, err := openIDXStream(r, sizeInfo{size: -1, isize: -1})
	if err != nil {
		return nil, errors.WithMessage(err, "idx")
	}
	idx, err := s.readIDX()
	if err != nil {
		return nil, errors.WithMessage(err, "idx")
	}
	return idx, nil
}

// ReadIDXFile reads the IDX file at path, gzipped or raw, like [ReadIDX].
// Every error names the file.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := openIDXFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx, err := f.readIDX()
	if err != nil {
		return nil, errors.WithMessagef(err, "idx file %s", path)
	}
	return idx, nil
}

// sizeInfo tells what is known about the size of an input, to decide
// whether a header's data size can be allocated up front.
type sizeInfo struct {
	size  int64 // bytes in the (possibly compressed) input, -1 if unknown
	isize int64 // gzip trailer ISIZE (uncompressed size mod 2^32), -1 if unknown
}

// idxStream is an IDX input positioned after its header.
type idxStream struct {
	r      io.Reader // decompressed bytes
	gz     bool
	info   sizeInfo
	typ    byte
	dims   []int
	n      int // product of dims: bytes of data
	hdrLen int
	closer io.Closer // underlying file, if any
}

// openIDXFile opens path and reads the IDX header. Errors name the file.
func openIDXFile(path string) (*idxStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Wrap(err, "idx file")
	}
	info := sizeInfo{size: -1, isize: -1}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		info.size = st.Size()
		var tail [4]byte
		if info.size >= 18 { // smallest gzip member: 10-byte header + 8-byte trailer
			if _, err := f.ReadAt(tail[:], info.size-4); err == nil {
				info.isize = int64(binary.LittleEndian.Uint32(tail[:]))
			}
		}
	}
	s, err := openIDXStream(f, info)
	if err != nil {
		f.Close()
		return nil, errors.WithMessagef(err, "idx file %s", path)
	}
	s.closer = f
	return s, nil
}

// openIDXStream sniffs for gzip and reads the header, checking the magic
// bytes, the type and the announced data size.
func openIDXStream(r io.Reader, info sizeInfo) (*idxStream, error) {
	br := bufio.NewReaderSize(r, readChunk)
	s := &idxStream{r: br, info: info}
	if m, err := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, errors.Wrap(err, "reading gzip header")
		}
		s.r, s.gz = zr, true
	} else if err != nil && err != io.EOF {
		return nil, errors.Wrap(err, "reading header")
	}
	if err := s.readHeader(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *idxStream) readHeader() error {
	var magic [4]byte
	if k, err := io.ReadFull(s.r, magic[:]); err != nil {
		if isEOF(err) {
			return errors.Errorf("truncated header: expected 4 magic bytes, found %d", k)
		}
		return errors.Wrap(err, "reading magic bytes")
	}
	if magic[0] != 0 || magic[1] != 0 {
		return errors.Errorf("bad magic: expected 00 00 <type> <ndim>, found % x (not an IDX file?)", magic[:])
	}
	s.typ = magic[2]
	if s.typ != IDXUnsignedByte {
		if name, ok := idxTypeNames[s.typ]; ok {
			return errors.Errorf("unsupported data type 0x%02X (%s): only 0x08 (unsigned byte) is supported", s.typ, name)
		}
		return errors.Errorf("unknown data type 0x%02X in magic % x: only 0x08 (unsigned byte) is supported", s.typ, magic[:])
	}
	ndim := int(magic[3])
	if ndim == 0 {
		return errors.New("bad header: 0 dimensions, expected at least 1")
	}
	raw := make([]byte, 4*ndim)
	if k, err := io.ReadFull(s.r, raw); err != nil {
		if isEOF(err) {
			return errors.Errorf("truncated header: %d dimensions need %d bytes of sizes, found %d", ndim, 4*ndim, k)
		}
		return errors.Wrap(err, "reading dimension sizes")
	}
	s.hdrLen = 4 + 4*ndim
	s.dims = make([]int, ndim)
	zero := false
	for i := range s.dims {
		d := uint64(binary.BigEndian.Uint32(raw[4*i:]))
		if d > maxIDXDataBytes {
			return errors.Errorf("absurd header: dimension %d is %d, more than the limit of %d bytes of data", i, d, uint64(maxIDXDataBytes))
		}
		s.dims[i] = int(d)
		zero = zero || d == 0
	}
	if zero {
		s.n = 0
		return nil
	}
	p := uint64(1)
	for _, d := range s.dims {
		p *= uint64(d) // p <= 2^31 and d <= 2^31: cannot overflow
		if p > maxIDXDataBytes {
			return errors.Errorf("absurd header: dims %v describe more than the limit of %d bytes of data", s.dims, uint64(maxIDXDataBytes))
		}
	}
	s.n = int(p)
	return nil
}

// preallocOK reports whether the input is known to be large enough to hold
// the data the header announces, so that the whole buffer can be allocated
// at once.
func (s *idxStream) preallocOK() bool {
	if s.info.size < 0 {
		return false
	}
	want := int64(s.hdrLen) + int64(s.n)
	if !s.gz {
		return s.info.size >= want
	}
	return s.info.isize == want%(1<<32) && int64(s.n) <= maxGzipRatio*s.info.size
}

// Close closes the underlying file, if any.
func (s *idxStream) Close() error {
	if s.closer != nil {
		return s.closer.Close()
	}
	return nil
}

func (s *idxStream) readIDX() (*IDX, error) {
	data, err := readBody(s, func(dst, src []byte) { copy(dst, src) })
	if err != nil {
		return nil, err
	}
	return &IDX{Type: s.typ, Dims: s.dims, Data: data}, nil
}

// readBody reads exactly s.n data bytes, decoding them into a []T with one
// element per byte, then checks that nothing follows. The result is
// allocated once when preallocOK, else grown as data arrives. Reading (and
// decompressing) runs in a second goroutine, overlapped with decoding.
func readBody[T any](s *idxStream, decode func(dst []T, src []byte)) ([]T, error) {
	n := s.n
	var dst []T
	if s.preallocOK() {
		dst = make([]T, 0, n)
	} else {
		dst = make([]T, 0, min(n, growStart))
	}
	full, free := readAhead(s.r, n)
	var readErr error
	for c := range full { // always drained, so the reader goroutine ends
		if k := c.n; k > 0 {
			if len(dst)+k > cap(dst) {
				grown := make([]T, len(dst), min(n, max(2*cap(dst), len(dst)+k)))
				copy(grown, dst)
				dst = grown
			}
			decode(dst[len(dst):len(dst)+k], c.buf[:k])
			dst = dst[:len(dst)+k]
		}
		free <- c.buf
		if c.err != nil {
			readErr = c.err
		}
	}
	if readErr != nil {
		if isEOF(readErr) {
			return nil, errors.Errorf("truncated: header says %d bytes of data (dims %v), found %d", n, s.dims, len(dst))
		}
		return nil, errors.Wrapf(readErr, "reading data after %d of %d bytes", len(dst), n)
	}
	// Reading to the end also makes the gzip reader verify its checksum.
	var one [1]byte
	k, err := io.ReadFull(s.r, one[:])
	if k > 0 {
		return nil, errors.Errorf("trailing data: header says %d bytes of data (dims %v), found more", n, s.dims)
	}
	if err != io.EOF {
		return nil, errors.Wrapf(err, "after reading all %d bytes of data", n)
	}
	return dst, nil
}

// chunk is a piece of data read by readAhead: buf[:n], then err if the read
// failed.
type chunk struct {
	buf []byte
	n   int
	err error
}

// readAhead reads n bytes from r in a new goroutine, in chunks sent on full,
// which it closes after n bytes or after the first chunk with an error. The
// receiver must drain full and hand every chunk's buf back on free. r must
// not be used again until full is closed.
func readAhead(r io.Reader, n int) (full <-chan chunk, free chan<- []byte) {
	fullc := make(chan chunk, readBuffers)
	freec := make(chan []byte, readBuffers)
	if n == 0 {
		close(fullc)
		return fullc, freec
	}
	for range readBuffers {
		freec <- make([]byte, min(n, readChunk))
	}
	go func() {
		defer close(fullc)
		for left := n; left > 0; {
			buf := <-freec
			k, err := io.ReadFull(r, buf[:min(left, len(buf))])
			left -= k
			fullc <- chunk{buf: buf, n: k, err: err}
			if err != nil {
				return
			}
		}
	}()
	return fullc, freec
}

func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

// dimsString formats dims as "2-D [3 784]" for error messages.
func dimsString(dims []int) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("%d-D [%s]", len(dims), strings.Join(parts, " "))
}

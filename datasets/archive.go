package datasets

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path"
	"strings"

	"github.com/pkg/errors"
)

// maxEntryBytes bounds the size of one archive member or file read into
// memory; the largest official file (CIFAR-100's train.bin) is 150 MB.
const maxEntryBytes = 1 << 30

// cleanEntryName normalises a tar member name to a slash-separated path
// without a leading "./" or "/", or returns "" for names that are empty or
// climb out of the archive ("..").
func cleanEntryName(name string) string {
	name = strings.TrimLeft(path.Clean("/"+strings.ReplaceAll(name, "\\", "/")), "/")
	if name == "" || name == "." || strings.HasPrefix(name, "../") || name == ".." {
		return ""
	}
	return name
}

// walkArchive calls fn for every regular file in the tar archive at p,
// gzipped (detected by its magic bytes) or not, in archive order, with the
// cleaned member name and a reader of exactly size bytes. fn's errors are
// returned as they are; errors of the archive itself name p and, where
// known, the member.
func walkArchive(p string, fn func(name string, size int64, r io.Reader) error) error {
	f, err := os.Open(p)
	if err != nil {
		return errors.Wrap(err, "archive")
	}
	defer f.Close()
	return walkArchiveReader(f, p, fn)
}

// walkArchiveReader is walkArchive on a reader; label names it in errors.
func walkArchiveReader(r io.Reader, label string, fn func(name string, size int64, r io.Reader) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var src io.Reader = br
	gz := false
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return errors.Wrapf(err, "archive %s: reading gzip header", label)
		}
		defer zr.Close()
		src, gz = zr, true
	}
	tr := tar.NewReader(src)
	last := ""
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return errors.Errorf("archive %s: empty: no tar entries", label)
			}
			if gz {
				// Read what follows the tar end marker, so the gzip reader
				// checks its CRC and length trailer.
				if _, err := io.Copy(io.Discard, src); err != nil {
					return errors.Wrapf(err, "archive %s: after the last entry", label)
				}
			}
			return nil
		}
		if err != nil {
			where := "at the start"
			if last != "" {
				where = "after entry " + last
			}
			if n == 0 && !gz && err == tar.ErrHeader {
				return errors.Errorf("archive %s: not a tar or tar.gz archive (bad tar header %s)", label, where)
			}
			if isEOF(err) {
				return errors.Errorf("archive %s: truncated %s", label, where)
			}
			return errors.Wrapf(err, "archive %s: reading tar header %s", label, where)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		name := cleanEntryName(hdr.Name)
		if name == "" {
			continue
		}
		last = name
		if err := fn(name, hdr.Size, tr); err != nil {
			return err
		}
	}
}

// readEntry reads an archive member or file of the announced size. Memory
// grows with the data actually read, so a lying size cannot force a large
// allocation; sizes above maxEntryBytes are refused.
func readEntry(r io.Reader, size int64) ([]byte, error) {
	if size < 0 || size > maxEntryBytes {
		return nil, errors.Errorf("size %d outside [0, %d]", size, int64(maxEntryBytes))
	}
	var buf bytes.Buffer
	buf.Grow(int(min(size, 1<<20)))
	k, err := io.Copy(&buf, io.LimitReader(r, size))
	if err != nil {
		if isEOF(err) {
			return nil, errors.Errorf("truncated: expected %d bytes, found %d", size, k)
		}
		return nil, err
	}
	if k != size {
		return nil, errors.Errorf("truncated: expected %d bytes, found %d", size, k)
	}
	return buf.Bytes(), nil
}

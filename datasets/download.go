package datasets

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// RemoteFile is one file of a downloadable data set and its known checksum.
type RemoteFile struct {
	// Name is the file name, appended to the base URL and used in the cache.
	Name string
	// MD5 and SHA256 are lowercase hex digests; a file is accepted only if
	// every non-empty one matches. With neither set the file is not checked.
	MD5, SHA256 string
}

// RemoteSet is a downloadable data set: files fetched from BaseURL+Name.
type RemoteSet struct {
	// Name is the set's directory under the cache root, e.g. "cifar-10".
	Name string
	// BaseURL is the official location, ending in "/".
	BaseURL string
	// Files are the files to fetch.
	Files []RemoteFile
}

// The official downloads and their published checksums (those torchvision
// checks).
var (
	// CIFAR10Remote is the official CIFAR-10 binary release, 162 MB.
	CIFAR10Remote = RemoteSet{
		Name: "cifar-10", BaseURL: "https://www.cs.toronto.edu/~kriz/",
		Files: []RemoteFile{{Name: "cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530"}},
	}
	// CIFAR100Remote is the official CIFAR-100 binary release, 161 MB.
	CIFAR100Remote = RemoteSet{
		Name: "cifar-100", BaseURL: "https://www.cs.toronto.edu/~kriz/",
		Files: []RemoteFile{{Name: "cifar-100-binary.tar.gz", MD5: "03b5dce01913d631647c71ecec9e9cb8"}},
	}
	// FashionMNISTRemote is the Fashion-MNIST release from the
	// zalandoresearch/fashion-mnist repository. (The .gz files of Debian's
	// dataset-fashion-mnist package have other checksums.)
	FashionMNISTRemote = RemoteSet{
		Name: "fashion-mnist", BaseURL: "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
		Files: []RemoteFile{
			{Name: "train-images-idx3-ubyte.gz", MD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
			{Name: "train-labels-idx1-ubyte.gz", MD5: "25c81989df183df01b3e8a0aad5dffbe"},
			{Name: "t10k-images-idx3-ubyte.gz", MD5: "bef4ecab320f06d8554ea6380940ec79"},
			{Name: "t10k-labels-idx1-ubyte.gz", MD5: "bb300cfdad3c16e7a12a480ee83cd310"},
		},
	}
	// MNISTRemote is MNIST from the mirror torchvision uses.
	MNISTRemote = RemoteSet{
		Name: "mnist", BaseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/",
		Files: []RemoteFile{
			{Name: "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
			{Name: "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432"},
			{Name: "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3"},
			{Name: "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c"},
		},
	}
)

// Downloader fetches data sets into a cache directory. Files are written
// atomically: downloaded to a temporary file in the target directory,
// checked against their checksums, synced to disk and only then renamed to
// their final name, so the cache never holds a partial or unverified file
// under the real name. The zero value downloads from the official URLs into
// <os.UserCacheDir()>/g2g/<set name> without a progress display.
type Downloader struct {
	// BaseURL, if set, replaces every set's BaseURL (a mirror; file names
	// are appended to it).
	BaseURL string
	// CacheDir is the cache root; each set goes to CacheDir/<set.Name>.
	// Empty means <os.UserCacheDir()>/g2g, where [FindDir] looks.
	CacheDir string
	// Client performs the requests; nil means http.DefaultClient.
	Client *http.Client
	// Progress, if non-nil, receives a progress bar per file and notes
	// about cached and rejected files.
	Progress io.Writer
}

// DefaultCacheDir returns <os.UserCacheDir()>/g2g, the cache root of a
// zero Downloader and one of the places [FindDir] searches.
func DefaultCacheDir() (string, error) {
	c, err := os.UserCacheDir()
	if err != nil {
		return "", errors.Wrap(err, "user cache dir")
	}
	return filepath.Join(c, "g2g"), nil
}

// Dir returns the directory set's files are cached in.
func (d *Downloader) Dir(set RemoteSet) (string, error) {
	if set.Name == "" || set.Name != filepath.Base(set.Name) || strings.HasPrefix(set.Name, ".") {
		return "", errors.Errorf("download: bad set name %q", set.Name)
	}
	root := d.CacheDir
	if root == "" {
		var err error
		if root, err = DefaultCacheDir(); err != nil {
			return "", errors.Wrap(err, "download")
		}
	}
	return filepath.Join(root, set.Name), nil
}

// Fetch makes sure every file of set is in the cache, downloading the
// missing ones, and returns the cache directory. A cached file is checked
// against its checksums first; one that does not match is deleted (and
// said so on Progress) and downloaded again. A download whose checksum does
// not match is deleted and reported as an error naming the URL and both
// digests; an interrupted download leaves nothing behind.
func (d *Downloader) Fetch(ctx context.Context, set RemoteSet) (string, error) {
	dir, err := d.Dir(set)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", errors.Wrap(err, "download: creating the cache directory")
	}
	base := set.BaseURL
	if d.BaseURL != "" {
		base = d.BaseURL
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	for _, f := range set.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") {
			return "", errors.Errorf("download %s: bad file name %q", set.Name, f.Name)
		}
		dst := filepath.Join(dir, f.Name)
		if isFile(dst) {
			err := VerifyFile(dst, f)
			if err == nil {
				d.note("%s: cached, checksum ok\n", dst)
				continue
			}
			if rmErr := os.Remove(dst); rmErr != nil {
				return "", errors.Wrapf(rmErr, "download: removing the bad cached file %s", dst)
			}
			d.note("%v; deleted it, downloading again\n", err)
		}
		u, err := url.JoinPath(base, f.Name)
		if err != nil {
			return "", errors.Wrapf(err, "download %s: bad base URL %q", f.Name, base)
		}
		if err := d.fetchFile(ctx, u, dst, f); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func (d *Downloader) note(format string, args ...interface{}) {
	if d.Progress != nil {
		fmt.Fprintf(d.Progress, format, args...)
	}
}

// fetchFile downloads u to dst through a temporary file in dst's directory.
func (d *Downloader) fetchFile(ctx context.Context, u, dst string, f RemoteFile) (err error) {
	client := d.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return errors.Wrapf(err, "download %s", u)
	}
	resp, err := client.Do(req)
	if err != nil {
		return errors.Wrapf(err, "download %s", u)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.Errorf("download %s: server said %s", u, resp.Status)
	}
	// A failed or mismatching download never reaches dst: atomicfile
	// removes the temporary file on any error.
	var httpErr error
	err = atomicfile.Write(dst, func(w io.Writer) error {
		hs := newHashes(f)
		bar := newProgressBar(d.Progress, f.Name, resp.ContentLength)
		n, err := io.Copy(io.MultiWriter(w, hs, bar), resp.Body)
		bar.done(err == nil)
		switch {
		case err != nil:
			httpErr = errors.Wrapf(err, "download %s: after %d bytes (partial file deleted)", u, n)
		case resp.ContentLength >= 0 && n != resp.ContentLength:
			httpErr = errors.Errorf("download %s: truncated: got %d of %d bytes (partial file deleted)", u, n, resp.ContentLength)
		default:
			if err := hs.check(); err != nil {
				httpErr = errors.Errorf("download %s: %v; deleted the downloaded file", u, err)
			}
		}
		return httpErr
	})
	if httpErr != nil {
		return httpErr
	}
	return errors.Wrapf(err, "download %s", u)
}

// hashes computes the digests a RemoteFile asks for.
type hashes struct {
	f        RemoteFile
	md5, sha hash.Hash
}

func newHashes(f RemoteFile) *hashes {
	h := &hashes{f: f}
	if f.MD5 != "" {
		h.md5 = md5.New()
	}
	if f.SHA256 != "" {
		h.sha = sha256.New()
	}
	return h
}

func (h *hashes) Write(p []byte) (int, error) {
	if h.md5 != nil {
		h.md5.Write(p)
	}
	if h.sha != nil {
		h.sha.Write(p)
	}
	return len(p), nil
}

// check compares the digests with the expected ones.
func (h *hashes) check() error {
	if h.md5 != nil {
		if got := hex.EncodeToString(h.md5.Sum(nil)); got != strings.ToLower(h.f.MD5) {
			return errors.Errorf("md5 checksum mismatch: got %s, want %s", got, h.f.MD5)
		}
	}
	if h.sha != nil {
		if got := hex.EncodeToString(h.sha.Sum(nil)); got != strings.ToLower(h.f.SHA256) {
			return errors.Errorf("sha256 checksum mismatch: got %s, want %s", got, h.f.SHA256)
		}
	}
	return nil
}

// VerifyFile checks the file at path against f's checksums (every non-empty
// one must match). The error names the file and both digests.
func VerifyFile(path string, f RemoteFile) error {
	file, err := os.Open(path)
	if err != nil {
		return errors.Wrap(err, "verify")
	}
	defer file.Close()
	h := newHashes(f)
	if _, err := io.Copy(h, file); err != nil {
		return errors.Wrapf(err, "verify %s", path)
	}
	if err := h.check(); err != nil {
		return errors.Errorf("verify %s: %v", path, err)
	}
	return nil
}

// progressBar draws "name [=====>    ]  42%  12.3/29.4 MiB  5.1 MiB/s" on
// one terminal line, redrawn at most every 200 ms.
type progressBar struct {
	w          io.Writer
	name       string
	total, n   int64
	start, drw time.Time
}

func newProgressBar(w io.Writer, name string, total int64) *progressBar {
	now := time.Now()
	return &progressBar{w: w, name: name, total: total, start: now, drw: now}
}

func (p *progressBar) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	if p.w != nil && time.Since(p.drw) >= 200*time.Millisecond {
		p.drw = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progressBar) draw() {
	const mib = 1 << 20
	rate := float64(p.n) / mib / max(time.Since(p.start).Seconds(), 1e-3)
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s  %.1f MiB  %.1f MiB/s", p.name, float64(p.n)/mib, rate)
		return
	}
	const width = 30
	frac := min(float64(p.n)/float64(p.total), 1)
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%%  %.1f/%.1f MiB  %.1f MiB/s", p.name, bar, 100*frac, float64(p.n)/mib, float64(p.total)/mib, rate)
}

// done draws the final state and ends the line.
func (p *progressBar) done(ok bool) {
	if p.w == nil {
		return
	}
	p.draw()
	if !ok {
		fmt.Fprint(p.w, "  failed")
	}
	fmt.Fprintln(p.w)
}

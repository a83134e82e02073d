package datasets

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func md5Hex(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// fileServer serves files by name on a loopback test server and counts
// requests. Paths under /trunc/ announce more bytes than they send.
func fileServer(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		name := filepath.Base(r.URL.Path)
		data, ok := files[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/trunc/") {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)+1000))
			w.Write(data)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func TestDownloaderFetch(t *testing.T) {
	a := bytes.Repeat([]byte("first file "), 50000)
	b := []byte("second")
	srv, hits := fileServer(t, map[string][]byte{"a.bin": a, "b.bin": b})
	set := RemoteSet{Name: "toy", BaseURL: "https://invalid.example/", Files: []RemoteFile{
		{Name: "a.bin", MD5: md5Hex(a)},
		{Name: "b.bin", SHA256: sha256Hex(b), MD5: md5Hex(b)},
	}}
	var progress bytes.Buffer
	d := &Downloader{BaseURL: srv.URL + "/mirror", CacheDir: t.TempDir(), Progress: &progress}
	dir, err := d.Fetch(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(d.CacheDir, "toy") {
		t.Fatalf("dir %s", dir)
	}
	for name, want := range map[string][]byte{"a.bin": a, "b.bin": b} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	if names := dirNames(t, dir); len(names) != 2 {
		t.Fatalf("cache holds %v", names)
	}
	if s := progress.String(); !strings.Contains(s, "a.bin [==============================] 100%") || !strings.Contains(s, "0.5/0.5 MiB") {
		t.Fatalf("progress output %q", s)
	}
	if hits.Load() != 2 {
		t.Fatalf("%d requests", hits.Load())
	}
	// Cached and verified: no new request.
	progress.Reset()
	if _, err := d.Fetch(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 2 || !strings.Contains(progress.String(), "cached, checksum ok") {
		t.Fatalf("%d requests; progress %q", hits.Load(), progress.String())
	}
	// A damaged cached file is deleted, said so, and fetched again.
	if err := os.WriteFile(filepath.Join(dir, "b.bin"), []byte("damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	if _, err := d.Fetch(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "b.bin")); !bytes.Equal(got, b) {
		t.Fatalf("b.bin not restored: %q", got)
	}
	if s := progress.String(); !strings.Contains(s, "b.bin: md5 checksum mismatch") || !strings.Contains(s, "deleted it, downloading again") {
		t.Fatalf("progress %q", s)
	}
}

func TestDownloaderChecksumMismatch(t *testing.T) {
	data := []byte("the served bytes")
	srv, _ := fileServer(t, map[string][]byte{"x.tar.gz": data})
	for _, f := range []RemoteFile{
		{Name: "x.tar.gz", MD5: md5Hex([]byte("other"))},
		{Name: "x.tar.gz", MD5: md5Hex(data), SHA256: sha256Hex([]byte("other"))},
	} {
		d := &Downloader{BaseURL: srv.URL, CacheDir: t.TempDir()}
		_, err := d.Fetch(context.Background(), RemoteSet{Name: "s", Files: []RemoteFile{f}})
		wantErr(t, err, srv.URL+"/x.tar.gz", "checksum mismatch: got", "deleted the downloaded file")
		if names := dirNames(t, filepath.Join(d.CacheDir, "s")); len(names) != 0 {
			t.Fatalf("left behind %v", names)
		}
	}
}

func TestDownloaderFailures(t *testing.T) {
	data := []byte("payload")
	srv, _ := fileServer(t, map[string][]byte{"f.bin": data})
	cache := t.TempDir()
	fetch := func(base string, f RemoteFile) error {
		d := &Downloader{BaseURL: base, CacheDir: cache}
		_, err := d.Fetch(context.Background(), RemoteSet{Name: "s", Files: []RemoteFile{f}})
		return err
	}
	err := fetch(srv.URL, RemoteFile{Name: "missing.bin"})
	wantErr(t, err, srv.URL+"/missing.bin", "server said 404 Not Found")
	err = fetch(srv.URL+"/trunc/", RemoteFile{Name: "f.bin", MD5: md5Hex(data)})
	wantErr(t, err, srv.URL+"/trunc/f.bin", "partial file deleted")
	srv.Close()
	err = fetch(srv.URL, RemoteFile{Name: "f.bin"})
	wantErr(t, err, srv.URL+"/f.bin")
	if names := dirNames(t, filepath.Join(cache, "s")); len(names) != 0 {
		t.Fatalf("left behind %v", names)
	}
	d := &Downloader{CacheDir: cache}
	_, err = d.Fetch(context.Background(), RemoteSet{Name: "../up"})
	wantErr(t, err, `bad set name "../up"`)
	_, err = d.Fetch(context.Background(), RemoteSet{Name: "s", Files: []RemoteFile{{Name: "a/b"}}})
	wantErr(t, err, `bad file name "a/b"`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	srv2, _ := fileServer(t, map[string][]byte{"f.bin": data})
	_, err = (&Downloader{BaseURL: srv2.URL, CacheDir: cache}).Fetch(ctx, RemoteSet{Name: "s", Files: []RemoteFile{{Name: "f.bin"}}})
	wantErr(t, err, "context canceled")
}

func TestDownloaderDefaultDir(t *testing.T) {
	root := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", root)
	t.Setenv("HOME", root)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	dir, err := (&Downloader{}).Dir(CIFAR10Remote)
	if err != nil || dir != filepath.Join(cache, "g2g", "cifar-10") {
		t.Fatalf("Dir = %q, %v", dir, err)
	}
	// A Fashion-MNIST download lands where FindFashionMNIST looks.
	files := map[string][]byte{}
	set := FashionMNISTRemote
	set.Files = nil
	for _, f := range FashionMNISTRemote.Files {
		files[f.Name] = []byte(f.Name)
		set.Files = append(set.Files, RemoteFile{Name: f.Name, MD5: md5Hex([]byte(f.Name))})
	}
	srv, _ := fileServer(t, files)
	got, err := (&Downloader{BaseURL: srv.URL}).Fetch(context.Background(), set)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(DataEnv, "")
	if found, err := FindFashionMNIST(""); err != nil || found != got {
		t.Fatalf("FindFashionMNIST = %q, %v; want %s", found, err, got)
	}
}

func TestKnownChecksums(t *testing.T) {
	for _, set := range []RemoteSet{CIFAR10Remote, CIFAR100Remote, FashionMNISTRemote, MNISTRemote} {
		if !strings.HasPrefix(set.BaseURL, "https://") || len(set.Files) == 0 {
			t.Errorf("%s: base %q, %d files", set.Name, set.BaseURL, len(set.Files))
		}
		for _, f := range set.Files {
			if len(f.MD5) != 32 {
				t.Errorf("%s/%s: md5 %q", set.Name, f.Name, f.MD5)
			}
		}
	}
	// The shared CIFAR-10 JPEG copy, against the sha256 in its README.
	const shared = "/work/shared/data/cifar10-jpeg.tar.gz"
	if _, err := os.Stat(shared); err != nil {
		t.Skip("no shared JPEG copy")
	}
	if err := VerifyFile(shared, RemoteFile{SHA256: "efac85c8ed52f4ead1e1f1b670d8dcf435d551fccebdd8b6365e0a01a504f3a4"}); err != nil {
		t.Fatal(err)
	}
	err := VerifyFile(shared, RemoteFile{MD5: strings.Repeat("0", 32)})
	wantErr(t, err, shared, "md5 checksum mismatch")
}

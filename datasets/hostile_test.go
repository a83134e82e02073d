package datasets

import (
	"image"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Issue 16, item 5: an archive holding a member twice (say a second
// train/cat/0000.jpg appended to the tar) is refused, as the CIFAR binary
// loader refuses a file twice, instead of loading the image twice.
func TestImageFolderArchiveRefusesDuplicates(t *testing.T) {
	imgs, _ := mixedFolder(t)
	dir := t.TempDir()
	for _, gz := range []bool{true, false} {
		ms := membersOf("train/", imgs)
		dup := member{"./" + ms[1].name, ms[0].data} // same cleaned name, other content
		p := writeFile(t, dir, "dup.tar", tarBytes(t, gz, append(ms, dup)...))
		_, err := LoadImageFolders(p, ImageFolderOptions{}, "train")
		if err == nil || !strings.Contains(err.Error(), "twice") || !strings.Contains(err.Error(), ms[1].name) || !strings.Contains(err.Error(), p) {
			t.Fatalf("gz %v: duplicate member: %v", gz, err)
		}
	}
}

// Issue 16, item 4: with the expected size given, an image of another size
// is refused from its header, before any image is decoded.
func TestImageFolderExpectedSize(t *testing.T) {
	big := encodePNG(t, image.NewGray(image.Rect(0, 0, 2048, 2048)))
	var ms []member
	for _, c := range []string{"a", "b"} {
		for _, n := range []string{"0.png", "1.png", "2.png", "3.png"} {
			ms = append(ms, member{filepath.Join("train", c, n), big})
		}
	}
	p := writeFile(t, t.TempDir(), "big.tar.gz", tarBytes(t, true, ms...))
	var err error
	if n := allocated(func() {
		_, err = LoadImageFolders(p, ImageFolderOptions{Width: 32, Height: 32, Workers: 1}, "train")
	}); n > 16<<20 {
		t.Errorf("refusing 2048×2048 images allocated %d MiB", n>>20)
	}
	if err == nil || !strings.Contains(err.Error(), "2048x2048") || !strings.Contains(err.Error(), "32x32") || !strings.Contains(err.Error(), "train/a/0.png") {
		t.Fatalf("other size: %v", err)
	}
	if _, err := LoadImageFolders(p, ImageFolderOptions{Width: 2048, Height: 2048, Workers: 1, MaxBytes: 1 << 30}, "train"); err != nil {
		t.Fatalf("expected size: %v", err)
	}
	if _, err := LoadImageFolders(p, ImageFolderOptions{Width: 32}, "train"); err == nil || !strings.Contains(err.Error(), "Height") {
		t.Fatalf("width without height: %v", err)
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

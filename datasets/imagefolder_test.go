package datasets

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// testImage is an image of a fixture and the exact float32 planes a loader
// must produce for it with 1 and 3 channels.
type testImage struct {
	name       string // member path below the root, e.g. "cat/0001.png"
	data       []byte
	gray       bool
	want1      []float32 // (1, H, W)
	want3      []float32 // (3, H, W)
	tolerance3 float32   // JPEG: allowed difference to the source pixels
}

// pixelAt returns a deterministic colour for pixel (x, y) of image id.
func pixelAt(id, x, y int) (r, g, b uint8) {
	return uint8(id*37 + x*11 + y*3), uint8(id*5 + x*7 + y*13 + 50), uint8(255 - id*3 - x*2 - y*9)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeImage builds image id of w×h in the given kind ("rgb", "nrgba",
// "gray", "gray16", "paletted", "jpeg", "jpeg-gray") and the expected planes.
func makeImage(t testing.TB, name, kind string, id, w, h int) testImage {
	t.Helper()
	ti := testImage{name: name, want1: make([]float32, w*h), want3: make([]float32, 3*w*h)}
	set := func(x, y int, r, g, b uint8) {
		i := y*w + x
		ti.want3[i], ti.want3[w*h+i], ti.want3[2*w*h+i] = float32(r)/255, float32(g)/255, float32(b)/255
		ti.want1[i] = float32(luma(r, g, b)) / 255
	}
	setGray := func(x, y int, v uint8) {
		i := y*w + x
		ti.want1[i] = float32(v) / 255
		ti.want3[i], ti.want3[w*h+i], ti.want3[2*w*h+i] = ti.want1[i], ti.want1[i], ti.want1[i]
	}
	rect := image.Rect(0, 0, w, h)
	switch kind {
	case "rgb", "jpeg":
		m := image.NewRGBA(rect)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, b := pixelAt(id, x, y)
				m.Set(x, y, color.RGBA{r, g, b, 255})
				set(x, y, r, g, b)
			}
		}
		if kind == "rgb" {
			ti.data = encodePNG(t, m)
			break
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		// JPEG is lossy (and subsamples chroma): the reference is the
		// image as the standard decoder returns it, read through the
		// generic At/colour-model path rather than the loader's fast path.
		ti.data, ti.tolerance3 = buf.Bytes(), 1.0/255
		dec, err := jpeg.Decode(bytes.NewReader(ti.data))
		if err != nil {
			t.Fatal(err)
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBAModel.Convert(dec.At(x, y)).(color.NRGBA)
				set(x, y, c.R, c.G, c.B)
			}
		}
	case "nrgba": // translucent: alpha is dropped, colour kept
		m := image.NewNRGBA(rect)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				r, g, b := pixelAt(id, x, y)
				m.SetNRGBA(x, y, color.NRGBA{r, g, b, uint8(100 + x)})
				set(x, y, r, g, b)
			}
		}
		ti.data = encodePNG(t, m)
	case "paletted":
		pal := color.Palette{}
		for k := 0; k < 16; k++ {
			pal = append(pal, color.RGBA{uint8(k * 16), uint8(255 - k*16), uint8(k * 7), 255})
		}
		m := image.NewPaletted(rect, pal)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				k := (id + x + 3*y) % 16
				m.SetColorIndex(x, y, uint8(k))
				c := pal[k].(color.RGBA)
				set(x, y, c.R, c.G, c.B)
			}
		}
		ti.data = encodePNG(t, m)
	case "gray", "jpeg-gray":
		ti.gray = true
		m := image.NewGray(rect)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v, _, _ := pixelAt(id, x, y)
				m.SetGray(x, y, color.Gray{v})
				setGray(x, y, v)
			}
		}
		if kind == "gray" {
			ti.data = encodePNG(t, m)
			break
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 100}); err != nil {
			t.Fatal(err)
		}
		ti.data, ti.tolerance3 = buf.Bytes(), 3.0/255
	case "gray16":
		ti.gray = true
		m := image.NewGray16(rect)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				v, _, _ := pixelAt(id, x, y)
				m.SetGray16(x, y, color.Gray16{uint16(v)<<8 | 0x7f})
				setGray(x, y, v)
			}
		}
		ti.data = encodePNG(t, m)
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	return ti
}

// checkImages checks every value of d against the images, in order, with
// their labels.
func checkImages(t *testing.T, d *Dataset, imgs []testImage, labels []int, channels int) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != len(imgs) {
		t.Fatalf("%s: %d images, want %d", d.Name, d.Len(), len(imgs))
	}
	if d.Shape[0] != channels {
		t.Fatalf("%s: shape %v, want %d channels", d.Name, d.Shape, channels)
	}
	ss := d.SampleSize()
	for i, im := range imgs {
		if d.Y[i] != labels[i] {
			t.Fatalf("%s: image %d (%s) label %d, want %d", d.Name, i, im.name, d.Y[i], labels[i])
		}
		want := im.want3
		if channels == 1 {
			want = im.want1
		}
		tol := im.tolerance3
		for k, w := range want {
			if got := d.X[i*ss+k]; math.Abs(float64(got-w)) > float64(tol) || (tol == 0 && got != w) {
				t.Fatalf("%s: image %d (%s) value %d = %v, want %v (±%v)", d.Name, i, im.name, k, got, w, tol)
			}
		}
	}
}

// writeTree writes images below dir.
func writeTree(t *testing.T, dir string, imgs []testImage, extra ...member) {
	t.Helper()
	var ms []member
	for _, im := range imgs {
		ms = append(ms, member{im.name, im.data})
	}
	writeMembers(t, dir, append(ms, extra...))
}

func membersOf(prefix string, imgs []testImage, extra ...member) []member {
	var ms []member
	for _, im := range imgs {
		ms = append(ms, member{prefix + im.name, im.data})
	}
	for _, e := range extra {
		ms = append(ms, member{prefix + e.name, e.data})
	}
	return ms
}

// mixedFolder is a tree of 4×3 images in three classes, listed in the
// order a loader must return them (classes by name, files by path).
func mixedFolder(t *testing.T) ([]testImage, []int) {
	imgs := []testImage{
		makeImage(t, "apple/a.png", "rgb", 0, 4, 3),
		makeImage(t, "apple/b.png", "paletted", 1, 4, 3),
		makeImage(t, "apple/sub/c.PNG", "nrgba", 2, 4, 3), // nested: still class apple
		makeImage(t, "banana/01.jpg", "jpeg", 3, 4, 3),
		makeImage(t, "banana/02.png", "gray", 4, 4, 3),
		makeImage(t, "banana/10.jpeg", "jpeg-gray", 5, 4, 3),
		makeImage(t, "cherry/x.png", "gray16", 6, 4, 3),
	}
	return imgs, []int{0, 0, 0, 1, 1, 1, 2}
}

// noise is what a loader must ignore: hidden files and directories, other
// extensions and files directly in the root.
var noise = []member{
	{".hidden/z.png", []byte("not an image")},
	{"apple/.DS_Store.png", []byte("junk")},
	{"banana/notes.txt", []byte("text")},
	{"root.png", []byte("junk")},
}

func TestLoadImageFolderDir(t *testing.T) {
	imgs, labels := mixedFolder(t)
	dir := t.TempDir()
	// Write in reverse so directory order is not the expected order.
	rev := make([]testImage, len(imgs))
	for i := range imgs {
		rev[i] = imgs[len(imgs)-1-i]
	}
	writeTree(t, dir, rev, noise...)
	for _, workers := range []int{1, 3} {
		d, err := LoadImageFolder(dir, ImageFolderOptions{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		checkImages(t, d, imgs, labels, 3) // colour images present: 3 channels
		if fmt.Sprint(d.ClassNames) != "[apple banana cherry]" || d.Classes != 3 || fmt.Sprint(d.Shape) != "[3 3 4]" {
			t.Fatalf("classes %v shape %v", d.ClassNames, d.Shape)
		}
		if d.Name != filepath.Base(dir) {
			t.Fatalf("name %q", d.Name)
		}
		d1, err := LoadImageFolder(dir, ImageFolderOptions{Channels: 1, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		checkImages(t, d1, imgs, labels, 1)
	}
}

func TestLoadImageFolderGrayscaleAuto(t *testing.T) {
	imgs := []testImage{
		makeImage(t, "0/a.png", "gray", 0, 5, 5),
		makeImage(t, "1/a.png", "gray16", 1, 5, 5),
		makeImage(t, "1/b.jpg", "jpeg-gray", 2, 5, 5),
	}
	dir := t.TempDir()
	writeTree(t, dir, imgs)
	d, err := LoadImageFolder(dir, ImageFolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkImages(t, d, imgs, []int{0, 1, 1}, 1)
	d3, err := LoadImageFolder(dir, ImageFolderOptions{Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	checkImages(t, d3, imgs, []int{0, 1, 1}, 3)
}

func TestLoadImageFolderArchive(t *testing.T) {
	imgs, labels := mixedFolder(t)
	dir := t.TempDir()
	for _, gz := range []bool{true, false} {
		name := fmt.Sprintf("set-%v.tar", gz)
		if gz {
			name += ".gz"
		}
		// One top-level directory: it is the root.
		p := writeFile(t, dir, name, tarBytes(t, gz, membersOf("./top/", imgs, noise...)...))
		d, err := LoadImageFolder(p, ImageFolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkImages(t, d, imgs, labels, 3)
		if want := strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".tar"); d.Name != want {
			t.Fatalf("name %q, want %q", d.Name, want)
		}
		// Classes at the top.
		p = writeFile(t, dir, "flat-"+name, tarBytes(t, gz, membersOf("", imgs)...))
		d, err = LoadImageFolder(p, ImageFolderOptions{Channels: 1})
		if err != nil {
			t.Fatal(err)
		}
		checkImages(t, d, imgs, labels, 1)
	}
}

func TestLoadImageFolders(t *testing.T) {
	train := []testImage{
		makeImage(t, "cat/0000.png", "rgb", 0, 3, 3),
		makeImage(t, "cat/0001.png", "rgb", 1, 3, 3),
		makeImage(t, "dog/0000.png", "rgb", 2, 3, 3),
	}
	test := []testImage{
		makeImage(t, "cat/0000.png", "rgb", 3, 3, 3),
		makeImage(t, "dog/0000.png", "rgb", 4, 3, 3),
		makeImage(t, "dog/0001.png", "rgb", 5, 3, 3),
	}
	members := append(membersOf("cifar-x/train/", train), membersOf("cifar-x/test/", test)...)
	dir := t.TempDir()
	archive := writeFile(t, dir, "cifar-x.tar.gz", tarBytes(t, true, members...))
	extracted := filepath.Join(dir, "extracted")
	writeMembers(t, extracted, members)
	for _, c := range []struct {
		path   string
		splits []string
	}{
		{archive, []string{"train", "test"}},
		{archive, []string{"cifar-x/train", "cifar-x/test/"}},
		{extracted, []string{"train", "test"}},                           // single subdirectory
		{filepath.Join(extracted, "cifar-x"), []string{"train", "test"}}, // the root itself
	} {
		ds, err := LoadImageFolders(c.path, ImageFolderOptions{}, c.splits...)
		if err != nil {
			t.Fatalf("%s %v: %v", c.path, c.splits, err)
		}
		checkImages(t, ds[0], train, []int{0, 0, 1}, 3)
		checkImages(t, ds[1], test, []int{0, 1, 1}, 3)
		if !strings.HasSuffix(ds[0].Name, "/train") || !strings.HasSuffix(ds[1].Name, "/test") {
			t.Fatalf("names %q %q", ds[0].Name, ds[1].Name)
		}
	}
}

// TestImageFolderErrors checks that bad folders give an error naming the
// file or member and the problem.
func TestImageFolderErrors(t *testing.T) {
	ok := makeImage(t, "a/ok.png", "rgb", 0, 4, 4)
	okJPEG := makeImage(t, "a/ok2.jpg", "jpeg", 1, 4, 4)
	small := makeImage(t, "b/small.png", "rgb", 1, 4, 3)
	cut := ok
	cut.name, cut.data = "b/cut.png", ok.data[:len(ok.data)-20]
	cutJPEG := okJPEG
	cutJPEG.name, cutJPEG.data = "b/cut.jpg", okJPEG.data[:len(okJPEG.data)/2]
	text := testImage{name: "b/text.jpg", data: []byte("<html>404</html>")}
	hdrOnly := testImage{name: "b/hdr.png", data: ok.data[:20]}
	cases := []struct {
		name    string
		imgs    []testImage
		opt     ImageFolderOptions
		member  string // file named in the error
		phrases []string
	}{
		{"size", []testImage{ok, small}, ImageFolderOptions{}, "b/small.png", []string{"is 4x3 but", "a/ok.png (the first image) is 4x4", "all images must have the same size"}},
		{"truncated-png", []testImage{ok, cut}, ImageFolderOptions{}, "b/cut.png", []string{"decoding png"}},
		{"truncated-jpeg", []testImage{okJPEG, cutJPEG}, ImageFolderOptions{}, "b/cut.jpg", []string{"decoding jpeg"}},
		{"header-only", []testImage{ok, hdrOnly}, ImageFolderOptions{}, "b/hdr.png", []string{"decoding png header"}},
		{"unknown-format", []testImage{ok, text}, ImageFolderOptions{}, "b/text.jpg", []string{"unknown image format", "3c 68 74 6d"}},
		{"too-large", []testImage{ok}, ImageFolderOptions{MaxPixels: 15}, "a/ok.png", []string{"image too large: 4x4", "limit of 15 pixels"}},
		{"max-bytes", []testImage{ok}, ImageFolderOptions{MaxBytes: 100}, "", []string{"1 images of 3x4x4 need 192 bytes", "limit of 100"}},
		{"channels", []testImage{ok}, ImageFolderOptions{Channels: 2}, "", []string{"Channels must be 0, 1 or 3, found 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, filepath.Join(dir, "tree"), c.imgs)
			archive := writeFile(t, dir, "a.tar.gz", tarBytes(t, true, membersOf("", c.imgs)...))
			_, err := LoadImageFolder(filepath.Join(dir, "tree"), c.opt)
			wantErr(t, err, append([]string{filepath.Join(dir, "tree", c.member)}, c.phrases...)...)
			_, err = LoadImageFolder(archive, c.opt)
			wantErr(t, err, append([]string{archive + ": " + c.member}, c.phrases...)...)
		})
	}
	dir := t.TempDir()
	t.Run("empty-class", func(t *testing.T) {
		d := filepath.Join(dir, "ec")
		writeTree(t, d, []testImage{ok}, member{"b/readme.txt", []byte("x")})
		_, err := LoadImageFolder(d, ImageFolderOptions{})
		wantErr(t, err, d, "class folder(s) b hold no .png/.jpg/.jpeg image")
	})
	t.Run("no-classes", func(t *testing.T) {
		d := filepath.Join(dir, "nc")
		writeMembers(t, d, []member{{"x.png", ok.data}})
		_, err := LoadImageFolder(d, ImageFolderOptions{})
		wantErr(t, err, d, "no images: expected <class>/<name>")
		p := writeFile(t, dir, "nc.tar.gz", tarBytes(t, true, member{"x.png", ok.data}, member{"y.txt", nil}))
		_, err = LoadImageFolder(p, ImageFolderOptions{})
		wantErr(t, err, p, "no images in class folders")
	})
	t.Run("missing-split", func(t *testing.T) {
		d := filepath.Join(dir, "ms")
		writeTree(t, d, []testImage{{name: "train/a/x.png", data: ok.data}})
		_, err := LoadImageFolders(d, ImageFolderOptions{}, "train", "test")
		wantErr(t, err, d, `no split directory "test"`)
		p := writeFile(t, dir, "ms.tar.gz", tarBytes(t, true, member{"r/train/a/x.png", ok.data}))
		_, err = LoadImageFolders(p, ImageFolderOptions{}, "train", "test")
		wantErr(t, err, p, `no images in class folders of split "test"`, "expected members test/<class>/")
	})
	t.Run("class-mismatch", func(t *testing.T) {
		p := writeFile(t, dir, "cm.tar.gz", tarBytes(t, true,
			member{"train/a/x.png", ok.data}, member{"train/b/x.png", ok.data}, member{"test/a/x.png", ok.data}))
		_, err := LoadImageFolders(p, ImageFolderOptions{}, "train", "test")
		wantErr(t, err, p, `split "test" has classes [a] but split "train" has [a b]`)
	})
	t.Run("bad-split-name", func(t *testing.T) {
		_, err := LoadImageFolders(dir, ImageFolderOptions{}, "../x")
		wantErr(t, err, `bad split name "../x"`)
		_, err = LoadImageFolders(dir, ImageFolderOptions{})
		wantErr(t, err, "no splits given")
	})
	t.Run("missing-path", func(t *testing.T) {
		p := filepath.Join(dir, "nope")
		_, err := LoadImageFolder(p, ImageFolderOptions{})
		wantErr(t, err, p, "no such file or directory")
	})
	t.Run("corrupt-archive", func(t *testing.T) {
		gz := tarBytes(t, true, membersOf("", []testImage{ok, okJPEG})...)
		p := writeFile(t, dir, "cut.tar.gz", gz[:len(gz)-30])
		_, err := LoadImageFolder(p, ImageFolderOptions{})
		wantErr(t, err, p)
	})
}

// TestImageFolderOrderIsDeterministic checks the sample order does not
// depend on the number of workers or on errors racing.
func TestImageFolderOrderIsDeterministic(t *testing.T) {
	var imgs []testImage
	var labels []int
	for c := 0; c < 3; c++ {
		for i := 0; i < 12; i++ {
			imgs = append(imgs, makeImage(t, fmt.Sprintf("c%d/%04d.png", c, i), "rgb", c*12+i, 2, 2))
			labels = append(labels, c)
		}
	}
	p := writeFile(t, t.TempDir(), "s.tar.gz", tarBytes(t, true, membersOf("", imgs)...))
	for _, w := range []int{1, 2, 8} {
		d, err := LoadImageFolder(p, ImageFolderOptions{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		checkImages(t, d, imgs, labels, 3)
	}
	// Two corrupt images: the first in sample order is reported, whatever
	// the scheduling.
	bad := append([]testImage(nil), imgs...)
	bad[5].data = bad[5].data[:len(bad[5].data)-20]
	bad[30].data = bad[30].data[:len(bad[30].data)-20]
	p = writeFile(t, t.TempDir(), "b.tar.gz", tarBytes(t, true, membersOf("", bad)...))
	for _, w := range []int{1, 4} {
		_, err := LoadImageFolder(p, ImageFolderOptions{Workers: w})
		wantErr(t, err, "c0/0005.png")
	}
}

func TestParallelFor(t *testing.T) {
	seen := make([]int, 100)
	if err := parallelFor(100, 7, func(i int) error { seen[i]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("index %d visited %d times", i, n)
		}
	}
	err := parallelFor(50, 4, func(i int) error {
		if i%10 == 7 {
			return fmt.Errorf("fail %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "fail 7" {
		t.Fatalf("err = %v", err)
	}
	if err := parallelFor(0, 4, func(int) error { return fmt.Errorf("x") }); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeImageRejectsOtherSizes(t *testing.T) {
	im := makeImage(t, "x.png", "rgb", 0, 4, 4)
	err := decodeImage(im.data, make([]float32, 3*4*3), 3, 4, 3)
	wantErr(t, err, "decoded 4x4, header said 4x3")
}

// TestWritePixelsMatchesColorModels checks the fast paths of writePixels
// against the generic At/colour-model conversion, for every YCbCr chroma
// subsampling and a sub-image with a non-zero origin.
func TestWritePixelsMatchesColorModels(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	var imgs []image.Image
	for _, r := range ratios {
		m := image.NewYCbCr(image.Rect(0, 0, 9, 7), r)
		for i := range m.Y {
			m.Y[i] = uint8(i * 37)
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(i*53+7), uint8(255-i*29)
		}
		imgs = append(imgs, m, m.SubImage(image.Rect(1, 1, 8, 6)))
	}
	g := image.NewGray(image.Rect(0, 0, 5, 4))
	rgba := image.NewRGBA(image.Rect(0, 0, 5, 4))
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 13)
	}
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i*31) | 0x80
		if i%4 == 3 {
			rgba.Pix[i] = 255
		}
	}
	imgs = append(imgs, g, g.SubImage(image.Rect(1, 1, 4, 4)), rgba, rgba.SubImage(image.Rect(2, 1, 5, 3)))
	for k, img := range imgs {
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		for _, c := range []int{1, 3} {
			got := make([]float32, c*w*h)
			writePixels(img, got, c)
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					n := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
					want := []uint8{n.R, n.G, n.B}
					if c == 1 {
						want = []uint8{luma(n.R, n.G, n.B)}
						if _, gray := img.(*image.Gray); gray {
							want = []uint8{n.R}
						}
					}
					for ch, v := range want {
						if d := got[(ch*h+y)*w+x] - float32(v)/255; d > 1.0/255 || d < -1.0/255 {
							t.Fatalf("image %d (%T) channels %d: pixel (%d, %d) channel %d = %v, want %v",
								k, img, c, x, y, ch, got[(ch*h+y)*w+x], float32(v)/255)
						}
					}
				}
			}
		}
	}
}

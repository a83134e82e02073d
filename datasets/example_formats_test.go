package datasets_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/g2g-ml/g2g/datasets"
)

func ExampleLoadCIFAR10() {
	// Write a miniature release: two records per file, each record one
	// label byte and 3072 pixel bytes (R, G, B planes of 32×32).
	dir, err := os.MkdirTemp("", "cifar")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "cifar-10-batches-bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		log.Fatal(err)
	}
	for i, name := range append(datasets.CIFAR10TrainFiles, datasets.CIFAR10TestFile) {
		var data []byte
		for r := 0; r < 2; r++ {
			rec := make([]byte, 1+datasets.CIFARImageBytes)
			rec[0] = byte((i + r) % 10) // label
			rec[1] = 255                // red channel of pixel (0, 0)
			data = append(data, rec...)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	// dir, dir/cifar-10-batches-bin or cifar-10-binary.tar.gz all work.
	train, test, err := datasets.LoadCIFAR10(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Name, train.Len(), train.Shape, test.Name, test.Len())
	fmt.Println("first label:", train.ClassNames[train.Y[0]], "red(0,0):", train.X[0], "green(0,0):", train.X[1024])
	// Output:
	// cifar-10/train 10 [3 32 32] cifar-10/test 2
	// first label: airplane red(0,0): 1 green(0,0): 0
}

func ExampleLoadImageFolders() {
	// root/{train,test}/<class>/<image>.png, as torchvision's ImageFolder.
	root, err := os.MkdirTemp("", "folder")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	for _, split := range []string{"train", "test"} {
		for k, class := range []string{"dark", "light"} {
			dir := filepath.Join(root, split, class)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				log.Fatal(err)
			}
			img := image.NewGray(image.Rect(0, 0, 4, 4))
			for i := range img.Pix {
				img.Pix[i] = uint8(255 * k)
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				log.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "0.png"), buf.Bytes(), 0o644); err != nil {
				log.Fatal(err)
			}
		}
	}
	// root may also be a .tar.gz of the same tree, read without extracting.
	sets, err := datasets.LoadImageFolders(root, datasets.ImageFolderOptions{}, "train", "test")
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range sets {
		fmt.Println(filepath.Base(d.Name), d.Len(), d.Shape, d.ClassNames, d.Y, d.X[0], d.X[16])
	}
	// Output:
	// train 2 [1 4 4] [dark light] [0 1] 0 1
	// test 2 [1 4 4] [dark light] [0 1] 0 1
}

func ExampleDataset_Normalize() {
	d := &datasets.Dataset{
		Name: "two pixels", Shape: []int{3, 1, 1}, Classes: 1, Y: []int{0, 0},
		X: []float32{0.4914, 0.4822, 0.4465, 0, 0, 0},
	}
	if err := d.Normalize(datasets.CIFAR10Stats); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.3f\n", d.X)
	fmt.Printf("%.3f\n", datasets.CIFAR10Stats.Zero()) // what black becomes
	// Output:
	// [0.000 0.000 0.000 -1.989 -1.980 -1.707]
	// [-1.989 -1.980 -1.707]
}

func ExampleRandomCropFlip() {
	// One 1×3×3 image; pad by 1 (with -1), crop 3×3 at a random offset and
	// flip at random. The result depends only on (Seed, epoch, batch).
	// In training, pass aug.Apply as graph.FitConfig.Augment.
	aug := &datasets.RandomCropFlip{Shape: []int{1, 3, 3}, Pad: 1, Flip: true, Fill: []float32{-1}, Seed: 7}
	for epoch := 0; epoch < 2; epoch++ {
		x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
		if err := aug.Apply(x, 1, epoch, 0); err != nil {
			log.Fatal(err)
		}
		fmt.Println(x)
	}
	// Output:
	// [-1 3 2 -1 6 5 -1 9 8]
	// [-1 6 5 -1 9 8 -1 -1 -1]
}

func ExampleDownloader_Fetch() {
	// A local server standing in for the official site.
	payload := []byte("pretend this is cifar-10-binary.tar.gz")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(payload)
	}))
	defer srv.Close()
	sum := md5.Sum(payload)
	set := datasets.RemoteSet{Name: "toy", BaseURL: srv.URL, Files: []datasets.RemoteFile{
		{Name: "toy.tar.gz", MD5: hex.EncodeToString(sum[:])},
	}}
	cache, err := os.MkdirTemp("", "cache")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(cache)
	// The zero Downloader uses the official URL and ~/.cache/g2g; set
	// Progress to os.Stderr for a progress bar.
	d := &datasets.Downloader{CacheDir: cache}
	dir, err := d.Fetch(context.Background(), set)
	if err != nil {
		log.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "toy.tar.gz"))
	fmt.Println(filepath.Base(dir), string(got) == string(payload))
	// Output: toy true
}

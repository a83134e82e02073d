// Package datasets loads training data for g2g (MNIST, Fashion-MNIST,
// CIFAR-10, CIFAR-100 and image folders), downloads it on demand, and feeds
// it to a training loop in mini-batches.
//
// A [Dataset] holds every sample of a set decoded once into one contiguous
// []float32 (sample i is X[i*SampleSize():(i+1)*SampleSize()]) plus one int
// label per sample. [Batches] walks a Dataset in mini-batches, optionally in
// a shuffled order that depends only on (seed, epoch), so a run resumed at
// epoch k sees exactly the batches an uninterrupted run would have seen.
//
// # Getting started
//
// Fashion-MNIST is the reference data set. Install it with
//
//	apt-get install dataset-fashion-mnist
//
// (it lands in /usr/share/datasets/fashion-mnist), or put the four official
// files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) in a
// directory of your choice and point -data or $G2G_DATA at it. Then:
//
//	dir, err := datasets.FindFashionMNIST(*dataFlag) // "" searches the default places
//	if err != nil {
//		log.Fatal(err) // the error lists every place searched and how to get the data
//	}
//	train, test, err := datasets.LoadFashionMNIST(dir)
//	if err != nil {
//		log.Fatal(err)
//	}
//	train, val, err := train.Split(0.1, seed)
//	...
//	batches, err := datasets.NewBatches(train, 128, true, seed)
//	for epoch := 0; epoch < epochs; epoch++ {
//		batches.Reset(epoch)
//		for x, y, ok := batches.Next(); ok; x, y, ok = batches.Next() {
//			// x holds len(y)*train.SampleSize() pixels in [0, 1]
//		}
//	}
//
// [FindDir] searches, in order: the -data flag, $G2G_DATA/<name>, $G2G_DATA,
// <user cache dir>/g2g/<name> (e.g. ~/.cache/g2g/fashion-mnist) and
// /usr/share/datasets/<name>.
//
// # CIFAR-10, CIFAR-100 and image folders
//
// [LoadCIFAR10] and [LoadCIFAR100] read the official binary releases
// (cifar-10-batches-bin/, cifar-100-binary/), extracted or straight from
// the official .tar.gz; [FindCIFAR10] and [FindCIFAR100] search the same
// places as FindDir. [LoadImageFolder] and [LoadImageFolders] read
// torchvision-style image folders (root/<class>/<image>.png|.jpg, or
// root/{train,test}/<class>/...), from a directory or a .tar.gz, decoding
// the images on runtime.NumCPU() goroutines straight into one buffer. All
// images are stored channel-major, (C, H, W), with values in [0, 1]:
//
//	sets, err := datasets.LoadImageFolders("cifar10-jpeg.tar.gz", datasets.ImageFolderOptions{}, "train", "test")
//	train, test := sets[0], sets[1]
//
// # Targets beyond class labels
//
// Besides labels Y, a Dataset may carry float Targets of any per-sample
// shape (TargetShape): regression values, multi-hot labels, images. With
// InputTargets the targets are the inputs themselves, as the model sees
// them after augmentation (an autoencoder's data), without a copy. Fields
// holds further named arrays — the second input of a two-view model, the
// targets of an auxiliary head, as values or as labels — which
// graph.Model matches to its inputs and outputs by name. [FromArrays]
// builds a set of float targets from Go slices; [LoadNPZ] reads one from a
// NumPy archive (arrays x, y and any others). Subset, Split, Batches
// (see [Batches.Current] for a batch's targets and fields) and the
// shuffling carry every array with its samples.
//
// # Downloads
//
// A [Downloader] fetches a [RemoteSet] ([CIFAR10Remote], [CIFAR100Remote],
// [FashionMNISTRemote], [MNISTRemote], or your own) into
// <user cache dir>/g2g/<name>, where the Find functions look, checking the
// published md5/sha256 sums, writing atomically (temporary file, fsync,
// rename) and drawing a progress bar on an io.Writer. A file whose checksum
// does not match is deleted and reported.
//
// # Transforms
//
// [Dataset.Normalize] applies per-channel statistics ([CIFAR10Stats],
// [CIFAR100Stats], [MNISTStats], [FashionMNISTStats]). [RandomCropFlip] is
// the standard CIFAR training augmentation (pad, random crop, horizontal
// flip), reproducible per (seed, epoch, batch); its Apply method plugs into
// graph.FitConfig.Augment, which edits each training batch (a copy) in
// place.
//
// # File format
//
// MNIST and Fashion-MNIST are stored in the IDX format (see
// http://yann.lecun.com/exdb/mnist/): four magic bytes 0x00 0x00 <type>
// <ndim>, ndim big-endian uint32 dimension sizes, then the data in row-major
// order. [ReadIDX] and [ReadIDXFile] read it, gzipped or raw; only the
// unsigned-byte type (0x08) is supported. Readers are strict: a file whose
// data is shorter than its header says is reported as truncated, and bytes
// after the data are rejected as trailing data (for gzip files this also
// makes the reader verify the gzip checksum). A header that promises more
// than 1<<31 bytes is rejected outright; buffers are allocated in one go only
// when the file is known to be large enough, and otherwise grow with the data
// actually read, so a lying header cannot force a huge allocation. Malformed
// input yields an error naming the file, never a panic.
package datasets

package datasets

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// Stats are per-channel normalisation statistics: x ← (x − Mean[c]) / Std[c]
// for the values of channel c, with pixels already in [0, 1].
type Stats struct {
	// Mean and Std hold one value per channel (or one for all values).
	Mean, Std []float32
}

// Standard statistics of the training sets, the values torchvision examples
// use.
var (
	// CIFAR10Stats: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616).
	CIFAR10Stats = Stats{Mean: []float32{0.4914, 0.4822, 0.4465}, Std: []float32{0.2470, 0.2435, 0.2616}}
	// CIFAR100Stats: mean (0.5071, 0.4865, 0.4409), std (0.2673, 0.2564, 0.2762).
	CIFAR100Stats = Stats{Mean: []float32{0.5071, 0.4865, 0.4409}, Std: []float32{0.2673, 0.2564, 0.2762}}
	// MNISTStats: mean 0.1307, std 0.3081.
	MNISTStats = Stats{Mean: []float32{0.1307}, Std: []float32{0.3081}}
	// FashionMNISTStats: mean 0.2860, std 0.3530.
	FashionMNISTStats = Stats{Mean: []float32{0.2860}, Std: []float32{0.3530}}
)

// check validates s for samples of the given shape and returns the number
// of channels and the values per channel.
func (s Stats) check(shape []int) (channels, plane int, err error) {
	if len(s.Mean) == 0 || len(s.Mean) != len(s.Std) {
		return 0, 0, errors.Errorf("stats: need as many Std as Mean values, at least one; found %d and %d", len(s.Mean), len(s.Std))
	}
	for c, v := range s.Std {
		if !(v > 0) {
			return 0, 0, errors.Errorf("stats: Std[%d] = %v, must be positive", c, v)
		}
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	if len(s.Mean) == 1 {
		return 1, size, nil
	}
	if len(shape) == 0 || shape[0] != len(s.Mean) {
		return 0, 0, errors.Errorf("stats: %d channels of statistics for samples of shape %v: want shape (%d, ...)", len(s.Mean), shape, len(s.Mean))
	}
	return len(s.Mean), size / shape[0], nil
}

// Apply normalises x, which holds whole samples of the given per-sample
// shape, in place. With one Mean and Std every value is normalised alike;
// otherwise shape[0] must be the number of channels (a (C, H, W) layout).
func (s Stats) Apply(x []float32, shape []int) error {
	channels, plane, err := s.check(shape)
	if err != nil {
		return err
	}
	sample := channels * plane
	if sample == 0 || len(x)%sample != 0 {
		return errors.Errorf("stats: %d values is not a whole number of samples of shape %v", len(x), shape)
	}
	inv := make([]float32, channels)
	for c := range inv {
		inv[c] = 1 / s.Std[c]
	}
	for start := 0; start < len(x); start += sample {
		for c := 0; c < channels; c++ {
			m, k := s.Mean[c], inv[c]
			p := x[start+c*plane : start+(c+1)*plane]
			for i, v := range p {
				p[i] = (v - m) * k
			}
		}
	}
	return nil
}

// Zero returns, per channel, the normalised value of a black (0) pixel,
// −Mean[c]/Std[c]: the padding value that makes a random crop of normalised
// images match padding the raw images with zeros.
func (s Stats) Zero() []float32 {
	z := make([]float32, len(s.Mean))
	for c := range z {
		z[c] = -s.Mean[c] / s.Std[c]
	}
	return z
}

// Normalize normalises every sample of d in place with s (see
// [Stats.Apply]).
func (d *Dataset) Normalize(s Stats) error {
	if err := s.Apply(d.X, d.Shape); err != nil {
		return errors.WithMessagef(err, "normalize %s", d.Name)
	}
	return nil
}

// Transform edits a batch of n samples in place; epoch and batch identify
// the batch within training so that random transforms can be made
// reproducible. It has the signature of graph.FitConfig's Augment.
type Transform func(x []float32, n, epoch, batch int) error

// RandomCropFlip is the standard CIFAR training augmentation: pad each
// image by Pad pixels on every side, cut a random H×W window out of it, and
// mirror it left-right with probability 1/2 when Flip is set (torchvision's
// RandomCrop(size, padding=Pad) followed by RandomHorizontalFlip()).
//
// Samples are (C, H, W) (or (H, W) for one channel). Padded pixels take the
// value Fill[c] (0 if Fill is nil): for images normalised with s, use
// s.Zero() to match padding the raw images with black. The random offsets
// and flips depend only on (Seed, epoch, batch, sample position), never on
// earlier calls, so a resumed run sees the same augmentation, and Apply is
// safe for concurrent use.
type RandomCropFlip struct {
	// Shape is the per-sample shape, (C, H, W) or (H, W).
	Shape []int
	// Pad is the padding added on each side before cropping (>= 0).
	Pad int
	// Flip enables the random horizontal flip.
	Flip bool
	// Fill holds the padding value per channel (nil: zeros).
	Fill []float32
	// Seed drives the random choices.
	Seed int64
}

// geometry returns the channels, height and width of r.Shape.
func (r *RandomCropFlip) geometry() (c, h, w int, err error) {
	switch len(r.Shape) {
	case 2:
		c, h, w = 1, r.Shape[0], r.Shape[1]
	case 3:
		c, h, w = r.Shape[0], r.Shape[1], r.Shape[2]
	default:
		return 0, 0, 0, errors.Errorf("random crop: Shape %v must be (C, H, W) or (H, W)", r.Shape)
	}
	if c < 1 || h < 1 || w < 1 {
		return 0, 0, 0, errors.Errorf("random crop: Shape %v has a dimension below 1", r.Shape)
	}
	if r.Pad < 0 {
		return 0, 0, 0, errors.Errorf("random crop: Pad %d must be >= 0", r.Pad)
	}
	if r.Fill != nil && len(r.Fill) != c {
		return 0, 0, 0, errors.Errorf("random crop: %d Fill values for %d channels", len(r.Fill), c)
	}
	return c, h, w, nil
}

// Apply augments the n samples in x in place; it has the [Transform]
// signature, so r.Apply can be given to graph.FitConfig.Augment.
func (r *RandomCropFlip) Apply(x []float32, n, epoch, batch int) error {
	c, h, w, err := r.geometry()
	if err != nil {
		return err
	}
	sample := c * h * w
	if n < 0 || len(x) != n*sample {
		return errors.Errorf("random crop: %d values for %d samples of shape %v", len(x), n, r.Shape)
	}
	if r.Pad == 0 && !r.Flip {
		return nil
	}
	base := rngs.Index(rngs.Index(r.Seed, int64(epoch)), int64(batch))
	tmp := make([]float32, sample)
	span := uint64(2*r.Pad + 1)
	for i := 0; i < n; i++ {
		z := rngs.Mix(uint64(base) + uint64(i)*0x9e3779b97f4a7c15)
		dy := int(z%span) - r.Pad
		dx := int((z>>21)%span) - r.Pad
		flip := r.Flip && (z>>63) == 1
		s := x[i*sample : (i+1)*sample]
		copy(tmp, s)
		for ch := 0; ch < c; ch++ {
			fill := float32(0)
			if r.Fill != nil {
				fill = r.Fill[ch]
			}
			src, dst := tmp[ch*h*w:(ch+1)*h*w], s[ch*h*w:(ch+1)*h*w]
			for y := 0; y < h; y++ {
				row := dst[y*w : (y+1)*w]
				sy := y + dy
				if sy < 0 || sy >= h {
					for k := range row {
						row[k] = fill
					}
					continue
				}
				srow := src[sy*w : (sy+1)*w]
				for xx := 0; xx < w; xx++ {
					ox := xx // output column before flipping
					if flip {
						ox = w - 1 - xx
					}
					sx := xx + dx
					if sx < 0 || sx >= w {
						row[ox] = fill
					} else {
						row[ox] = srow[sx]
					}
				}
			}
		}
	}
	return nil
}

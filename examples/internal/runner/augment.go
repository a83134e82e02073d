package runner

import (
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/internal/rngs"
)

// Augmentation returns the training augmentation o asks for on ds, or nil:
// docs/design.md §5.2's random crop (padding 4, filled with the value
// normalisation maps 0 to) and horizontal flip, drawn from the seed's
// "augment" stream, for augmentable data sets with o.Augment.
func Augmentation(ds *Dataset, o *Options) *datasets.RandomCropFlip {
	if !ds.Augmentable || !o.Augment {
		return nil
	}
	return &datasets.RandomCropFlip{Shape: ds.Shape, Pad: 4, Flip: true, Fill: ds.Stats.Zero(), Seed: rngs.Derive(o.Seed, "augment")}
}

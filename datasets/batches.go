package datasets

import (
	"math/rand"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/internal/rngs"
)

// Batches iterates a Dataset in mini-batches, reusing its buffers. Call
// Reset at the start of each epoch, then Next until it reports !ok. A
// Batches is not safe for concurrent use.
type Batches struct {
	d       *Dataset
	size    int
	shuffle bool
	seed    int64
	order   []int // sample indices for the current epoch
	pos     int   // next position in order
	x       []float32
	y       []int
	n       int // samples in the current batch
	extra   *batchExtra
}

// NewBatches returns an iterator over d in batches of batchSize samples
// (batchSize >= 1). When shuffle is true each epoch visits the samples in a
// random order that depends only on (seed, epoch); otherwise in index order.
// It is positioned at the start of epoch 0. d must not be modified while
// the Batches is in use.
func NewBatches(d *Dataset, batchSize int, shuffle bool, seed int64) (*Batches, error) {
	if batchSize < 1 {
		return nil, errors.Errorf("batches: batchSize must be >= 1, found %d", batchSize)
	}
	if err := d.Validate(); err != nil {
		return nil, errors.Wrap(err, "batches")
	}
	n := d.Len()
	bs := min(batchSize, max(n, 1))
	b := &Batches{
		d:       d,
		size:    batchSize,
		shuffle: shuffle,
		seed:    seed,
		order:   make([]int, n),
		x:       make([]float32, bs*d.SampleSize()),
	}
	if d.Y != nil {
		b.y = make([]int, bs)
	}
	b.extra = newBatchExtra(d, bs)
	b.Reset(0)
	return b, nil
}

// Reset starts epoch epoch. With shuffling the order is a permutation drawn
// from a math/rand source seeded by a splitmix64 mix of (seed, epoch), so it
// does not depend on which epochs ran before: resuming at epoch k gives the
// same batches as an uninterrupted run.
func (b *Batches) Reset(epoch int) {
	for i := range b.order {
		b.order[i] = i
	}
	b.pos, b.n = 0, 0
	if !b.shuffle {
		return
	}
	rng := rand.New(rand.NewSource(rngs.Index(b.seed, int64(epoch))))
	for i := len(b.order) - 1; i > 0; i-- { // Fisher-Yates
		j := rng.Intn(i + 1)
		b.order[i], b.order[j] = b.order[j], b.order[i]
	}
}

// Next returns the next batch of the epoch: x holds n*SampleSize values
// of n samples and y their n labels (nil when the set has no labels; the
// batch's float targets and fields are in Current). All batches hold
// BatchSize samples except perhaps the last, which holds the remainder (it
// is never dropped). ok is false once the epoch is done. x and y are
// reused buffers, valid until the next call.
func (b *Batches) Next() (x []float32, y []int, ok bool) {
	n := min(b.size, len(b.order)-b.pos)
	if n <= 0 {
		b.n = 0
		return nil, nil, false
	}
	ss := b.d.SampleSize()
	x = b.x[:n*ss]
	if b.y != nil {
		y = b.y[:n]
	}
	idx := b.order[b.pos : b.pos+n]
	b.pos += n
	b.n = n
	if b.extra != nil {
		b.extra.gather(b.d, idx, !b.shuffle)
	}
	if !b.shuffle { // contiguous: one copy
		first := idx[0]
		copy(x, b.d.X[first*ss:(first+n)*ss])
		if y != nil {
			copy(y, b.d.Y[first:first+n])
		}
		return x, y, true
	}
	for j, i := range idx {
		copy(x[j*ss:(j+1)*ss], b.d.X[i*ss:(i+1)*ss])
	}
	if y != nil {
		for j, i := range idx {
			y[j] = b.d.Y[i]
		}
	}
	return x, y, true
}

// Len returns the number of batches per epoch, ceil(N / BatchSize).
func (b *Batches) Len() int {
	n := len(b.order) / b.size
	if len(b.order)%b.size != 0 {
		n++
	}
	return n
}

// BatchSize returns the batch size given to NewBatches.
func (b *Batches) BatchSize() int { return b.size }

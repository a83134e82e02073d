package datasets

// Batch is one mini-batch of every array of a Dataset: the same N samples
// of its inputs, labels, float targets and fields. Its slices are buffers
// of the Batches that returned it, valid until its next call to Next.
type Batch struct {
	// N is the number of samples.
	N int
	// X holds the N inputs (N·SampleSize values).
	X []float32
	// Y holds the N labels, or is nil when the set has none.
	Y []int
	// Targets holds the N float targets (N·TargetSize values), or is nil
	// when the set has none.
	Targets []float32
	// Fields holds the batch of each of the set's fields, in the order of
	// Dataset.Fields.
	Fields []FieldBatch
}

// FieldBatch is one field's part of a Batch: Values (N·size values) for a
// field of values, Labels (N labels) for a field of labels.
type FieldBatch struct {
	Values []float32
	Labels []int
}

// batchExtra holds the buffers of the float targets and fields of a batch.
type batchExtra struct {
	targets []float32
	fields  []FieldBatch
	cur     []FieldBatch // views of the current batch
}

// newBatchExtra returns the buffers for batches of up to bs samples of
// d's float targets and fields, or nil when d has neither.
func newBatchExtra(d *Dataset, bs int) *batchExtra {
	if d.Targets == nil && len(d.Fields) == 0 {
		return nil
	}
	e := &batchExtra{}
	if d.Targets != nil {
		e.targets = make([]float32, bs*shapeSize(d.TargetShape))
	}
	for _, f := range d.Fields {
		var fb FieldBatch
		if f.Labels != nil {
			fb.Labels = make([]int, bs)
		} else {
			fb.Values = make([]float32, bs*shapeSize(f.Shape))
		}
		e.fields = append(e.fields, fb)
	}
	e.cur = make([]FieldBatch, len(e.fields))
	return e
}

// gather copies the samples at idx (contiguous when contiguous is true)
// into the buffers.
func (e *batchExtra) gather(d *Dataset, idx []int, contiguous bool) {
	n := len(idx)
	copyRows := func(dst, src []float32, size int) []float32 {
		dst = dst[:n*size]
		if contiguous {
			copy(dst, src[idx[0]*size:(idx[0]+n)*size])
			return dst
		}
		for j, i := range idx {
			copy(dst[j*size:(j+1)*size], src[i*size:(i+1)*size])
		}
		return dst
	}
	if d.Targets != nil {
		copyRows(e.targets, d.Targets, shapeSize(d.TargetShape))
	}
	for k, f := range d.Fields {
		if f.Labels != nil {
			l := e.fields[k].Labels[:n]
			for j, i := range idx {
				l[j] = f.Labels[i]
			}
			e.cur[k] = FieldBatch{Labels: l}
			continue
		}
		e.cur[k] = FieldBatch{Values: copyRows(e.fields[k].Values, f.Values, shapeSize(f.Shape))}
	}
}

// Current returns the batch the last call to Next returned, with the float
// targets and fields of its samples. After the end of the epoch it is
// empty (N is 0).
func (b *Batches) Current() Batch {
	if b.n == 0 {
		return Batch{}
	}
	ss := b.d.SampleSize()
	bt := Batch{N: b.n, X: b.x[:b.n*ss]}
	if b.y != nil {
		bt.Y = b.y[:b.n]
	}
	if b.extra != nil {
		if b.extra.targets != nil {
			bt.Targets = b.extra.targets[:b.n*shapeSize(b.d.TargetShape)]
		}
		bt.Fields = b.extra.cur
	}
	return bt
}

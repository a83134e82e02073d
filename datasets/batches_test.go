package datasets

import (
	"fmt"
	"testing"
)

// epochOrder runs one epoch of b and returns the sample ids in visit order
// and the batch sizes.
func epochOrder(t *testing.T, b *Batches, d *Dataset, epoch int) (ids, sizes []int) {
	t.Helper()
	b.Reset(epoch)
	ss := d.SampleSize()
	for x, y, ok := b.Next(); ok; x, y, ok = b.Next() {
		if len(x) != len(y)*ss {
			t.Fatalf("len(x) = %d for %d labels of size %d", len(x), len(y), ss)
		}
		for j := range y {
			id := sampleID(t, x[j*ss:(j+1)*ss])
			if y[j] != d.Y[id] {
				t.Fatalf("sample %d has label %d, want %d", id, y[j], d.Y[id])
			}
			ids = append(ids, id)
		}
		sizes = append(sizes, len(y))
	}
	if _, _, ok := b.Next(); ok {
		t.Fatal("Next after the end of the epoch returned ok")
	}
	return ids, sizes
}

func TestBatchesEpoch(t *testing.T) {
	d := tinyDataset(23, 5)
	for _, shuffle := range []bool{false, true} {
		b, err := NewBatches(d, 5, shuffle, 42)
		if err != nil {
			t.Fatal(err)
		}
		if b.Len() != 5 || b.BatchSize() != 5 {
			t.Fatalf("Len %d BatchSize %d, want 5 5", b.Len(), b.BatchSize())
		}
		for epoch := 0; epoch < 3; epoch++ {
			ids, sizes := epochOrder(t, b, d, epoch)
			if fmt.Sprint(sizes) != "[5 5 5 5 3]" {
				t.Fatalf("batch sizes %v, want [5 5 5 5 3]", sizes)
			}
			seen := make([]bool, d.Len())
			for _, id := range ids {
				if seen[id] {
					t.Fatalf("sample %d visited twice in epoch %d", id, epoch)
				}
				seen[id] = true
			}
			if len(ids) != d.Len() {
				t.Fatalf("visited %d of %d samples", len(ids), d.Len())
			}
			identity := true
			for i, id := range ids {
				identity = identity && id == i
			}
			if identity == shuffle {
				t.Fatalf("shuffle=%v but order %v", shuffle, ids)
			}
		}
	}
}

func TestBatchesOrderDependsOnlyOnSeedAndEpoch(t *testing.T) {
	d := tinyDataset(50, 3)
	b, _ := NewBatches(d, 8, true, 1)
	var run [][]int
	for epoch := 0; epoch <= 3; epoch++ {
		ids, _ := epochOrder(t, b, d, epoch)
		run = append(run, ids)
	}
	for e := 1; e <= 3; e++ {
		if equalInts(run[e], run[e-1]) {
			t.Fatalf("epochs %d and %d have the same order", e-1, e)
		}
	}
	// A fresh iterator resumed directly at epoch 3.
	fresh, _ := NewBatches(d, 8, true, 1)
	ids, _ := epochOrder(t, fresh, d, 3)
	if !equalInts(ids, run[3]) {
		t.Fatalf("Reset(3) on a fresh iterator gave %v, want %v", ids, run[3])
	}
	// Re-running an epoch on the same iterator repeats it.
	ids, _ = epochOrder(t, b, d, 1)
	if !equalInts(ids, run[1]) {
		t.Fatal("repeating epoch 1 gave another order")
	}
	// Batch size does not change the order, only how it is cut.
	other, _ := NewBatches(d, 7, true, 1)
	ids, _ = epochOrder(t, other, d, 2)
	if !equalInts(ids, run[2]) {
		t.Fatal("batch size changed the order")
	}
	// Another seed, another order.
	s2, _ := NewBatches(d, 8, true, 2)
	ids, _ = epochOrder(t, s2, d, 0)
	if equalInts(ids, run[0]) {
		t.Fatal("seeds 1 and 2 give the same order")
	}
}

func TestBatchesEdgeCases(t *testing.T) {
	d := tinyDataset(4, 2)
	for _, bs := range []int{0, -3} {
		_, err := NewBatches(d, bs, false, 0)
		wantErr(t, err, "batchSize must be >= 1", fmt.Sprint(bs))
	}
	bad := tinyDataset(4, 2)
	bad.X = bad.X[:5]
	_, err := NewBatches(bad, 2, false, 0)
	wantErr(t, err, "batches", "len(X)")

	// Batch larger than the set: one partial batch.
	b, _ := NewBatches(d, 100, true, 0)
	if b.Len() != 1 {
		t.Fatalf("Len = %d, want 1", b.Len())
	}
	if _, sizes := epochOrder(t, b, d, 0); fmt.Sprint(sizes) != "[4]" {
		t.Fatalf("sizes %v", sizes)
	}
	// Exact multiple: no empty trailing batch.
	b, _ = NewBatches(d, 2, false, 0)
	if _, sizes := epochOrder(t, b, d, 0); fmt.Sprint(sizes) != "[2 2]" || b.Len() != 2 {
		t.Fatalf("sizes %v Len %d", sizes, b.Len())
	}
	// Empty data set: no batches.
	e := d.Subset(nil)
	b, err = NewBatches(e, 3, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := b.Next(); ok || b.Len() != 0 {
		t.Fatal("empty data set yields a batch")
	}
	// Next without Reset starts epoch 0.
	b, _ = NewBatches(d, 3, true, 9)
	first, _ := epochOrder(t, b, d, 0)
	b2, _ := NewBatches(d, 3, true, 9)
	x, _, _ := b2.Next()
	if sampleID(t, x[:6]) != first[0] {
		t.Fatal("Next before Reset does not start epoch 0")
	}
	// Huge batch size does not overflow Len.
	b, _ = NewBatches(d, int(^uint(0)>>1), false, 0)
	if b.Len() != 1 {
		t.Fatalf("Len with max batch size = %d", b.Len())
	}
}

// TestBatchesDoNotAlias checks batches are copies: writing into one does not
// change the data set.
func TestBatchesDoNotAlias(t *testing.T) {
	d := tinyDataset(4, 2)
	for _, shuffle := range []bool{false, true} {
		b, _ := NewBatches(d, 2, shuffle, 0)
		x, y, _ := b.Next()
		x[0], y[0] = -5, 1
		if err := d.Validate(); err != nil || d.X[0] != 0 && d.X[0] != 10 && d.X[0] != 20 && d.X[0] != 30 {
			t.Fatal("batch aliases the data set")
		}
		for i := 0; i < d.Len(); i++ {
			sampleID(t, d.X[i*6:(i+1)*6])
		}
	}
}

func BenchmarkBatchesNext(b *testing.B) {
	const n, ss, bs = 60000, 784, 128
	d := &Dataset{Name: "bench", X: make([]float32, n*ss), Y: make([]int, n), Shape: []int{28, 28}, Classes: 10}
	it, err := NewBatches(d, bs, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(bs * ss * 4)
	epoch := 0
	for b.Loop() {
		if _, _, ok := it.Next(); !ok {
			epoch++
			it.Reset(epoch)
		}
	}
}

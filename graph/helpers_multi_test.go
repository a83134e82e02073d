package graph

// labelBatch returns one batch of a single-input model trained on labels.
func labelBatch(x []float32, y []int) *batchData {
	return &batchData{n: len(y), inputs: [][]float32{x}, labels: [][]int{y}, targets: [][]float32{nil}}
}

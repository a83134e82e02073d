package graph

import (
	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
)

// Evaluate returns the mean cross-entropy loss and the accuracy of the
// exported model on d, in batches of batchSize (the last one may be
// smaller): the numbers Model.Evaluate gives for the model it was exported
// from, computed the same way.
func (inf *Inference) Evaluate(d *datasets.Dataset, batchSize int) (loss, acc float64, err error) {
	if d == nil || d.Len() == 0 {
		return 0, 0, errors.New("evaluate: empty dataset")
	}
	switch {
	case d.SampleSize() != inf.InputSize():
		return 0, 0, errors.Errorf("evaluate: %q has %d values per sample (shape %v), the exported model takes %d",
			d.Name, d.SampleSize(), d.Shape, inf.InputSize())
	case d.Classes > inf.Classes():
		return 0, 0, errors.Errorf("evaluate: %q has %d classes, the exported model outputs %d", d.Name, d.Classes, inf.Classes())
	}
	if err := d.Validate(); err != nil {
		return 0, 0, errors.Wrap(err, "evaluate")
	}
	logits, err := inf.Predict(d.X, batchSize)
	if err != nil {
		return 0, 0, errors.Wrap(err, "evaluate")
	}
	loss, acc = scoreLogits(logits, d.Y, inf.Classes())
	return loss, acc, nil
}

// scoreLogits returns the mean cross-entropy and the accuracy of logits
// (len(y) rows of classes values, row-major) against the labels y. The
// cross-entropy of a row is log Σ exp(z) − z_y, computed stably in float64
// by logSumExp, the training loss's helper; a row is correct when its
// first largest logit is at y, as in training (countCorrect).
func scoreLogits(logits []float32, y []int, classes int) (loss, acc float64) {
	var sum float64
	for i, c := range y {
		row := logits[i*classes : (i+1)*classes]
		mx, lse := logSumExp(row)
		sum -= float64(row[c]) - mx - lse
	}
	n := float64(len(y))
	return sum / n, float64(countCorrect(logits, y, classes)) / n
}

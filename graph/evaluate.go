package graph

import (
	"reflect"
	"slices"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/datasets"
)

// EvalConfig configures Model.EvaluateWith and Inference.EvaluateWith: the
// loss and metrics, as in FitConfig.
type EvalConfig struct {
	// BatchSize is the number of samples per forward pass (at least 1).
	BatchSize int
	// Loss is the loss (nil: SoftmaxCrossEntropy{}); with several
	// outputs, of every output Outputs does not give one.
	Loss Loss
	// Metrics are measured on the output(s) (nil: the loss's defaults, as
	// in FitConfig.Metrics).
	Metrics []Metric
	// Outputs configures outputs by name: loss, weight and metrics.
	Outputs map[string]OutputConfig
}

// Evaluate returns the mean cross-entropy loss and the accuracy of the model
// on d, in batches of batchSize (the last one may be smaller). It runs
// forward-only graphs and never touches gradients. With several outputs
// the loss is the sum of their cross-entropies and the accuracy the first
// output's; EvaluateWith evaluates any loss and metrics.
func (m *Model) Evaluate(d *datasets.Dataset, batchSize int) (loss, acc float64, err error) {
	logs, err := m.EvaluateWith(d, EvalConfig{BatchSize: batchSize})
	if err != nil {
		return 0, 0, err
	}
	return logs["loss"], logs[accKey(len(m.outputs), m.outputs[0].name)], nil
}

// accKey returns the logs key of the first output's accuracy.
func accKey(outputs int, first string) string {
	if outputs == 1 {
		return "acc"
	}
	return first + "/acc"
}

// EvaluateWith returns the loss and the metrics of cfg on d, keyed as in
// Fit's logs without the "val_" prefix: "loss" (the weighted total),
// "<output>/loss" with several outputs, and each metric's name (with
// several outputs "<output>/<name>"). The outputs are computed in batches
// of cfg.BatchSize on the engine Predict uses; built-in losses and metrics
// are then computed over the whole set (a loss of your own over each
// batch, averaged over samples).
func (m *Model) EvaluateWith(d *datasets.Dataset, cfg EvalConfig) (map[string]float64, error) {
	if d == nil || d.Len() == 0 {
		return nil, errors.New("evaluate: empty dataset")
	}
	sig := m.signature()
	obj, err := sig.resolveObjective(cfg.Loss, cfg.Metrics, cfg.Outputs)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	b, err := m.checkData(d, sig)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	return m.evaluate(d, obj, b, cfg.BatchSize)
}

// evaluate computes obj on d (bound by b) with the model's outputs.
func (m *Model) evaluate(d *datasets.Dataset, obj *objective, b *binding, batchSize int) (map[string]float64, error) {
	bd := b.whole(d)
	if batchSize < 1 {
		return nil, errors.Errorf("evaluate: predict: batch size must be at least 1, got %d", batchSize)
	}
	outs, err := m.predictMulti(bd.inputs, bd.n, batchSize)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	if m.lossGraphs == nil {
		m.lossGraphs = &lossGraphCache{}
	}
	logs, err := score(obj, m.signature(), bd, outs, batchSize, m.lossGraphs)
	return logs, errors.Wrap(err, "evaluate")
}

// Evaluate returns the mean cross-entropy loss and the accuracy of the
// exported model on d, in batches of batchSize (the last one may be
// smaller): the numbers Model.Evaluate gives for the model it was exported
// from, computed the same way.
func (inf *Inference) Evaluate(d *datasets.Dataset, batchSize int) (loss, acc float64, err error) {
	logs, err := inf.EvaluateWith(d, EvalConfig{BatchSize: batchSize})
	if err != nil {
		return 0, 0, err
	}
	return logs["loss"], logs[accKey(len(inf.sig.outNames), inf.sig.outNames[0])], nil
}

// EvaluateWith returns the loss and metrics of cfg on d, as
// Model.EvaluateWith does for the model the exported one was exported
// from. The dataset's arrays map to the inputs and outputs by name as in
// Fit.
func (inf *Inference) EvaluateWith(d *datasets.Dataset, cfg EvalConfig) (map[string]float64, error) {
	if d == nil || d.Len() == 0 {
		return nil, errors.New("evaluate: empty dataset")
	}
	obj, err := inf.sig.resolveObjective(cfg.Loss, cfg.Metrics, cfg.Outputs)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	if len(inf.sig.inNames) == 1 && len(d.Fields) == 0 {
		switch {
		case d.SampleSize() != inf.size:
			return nil, errors.Errorf("evaluate: %q has %d values per sample (shape %v), the exported model takes %d",
				d.Name, d.SampleSize(), d.Shape, inf.size)
		case len(inf.sig.outNames) == 1 && d.Y != nil && d.Targets == nil && !d.InputTargets && d.Classes > inf.classes:
			return nil, errors.Errorf("evaluate: %q has %d classes, the exported model outputs %d", d.Name, d.Classes, inf.classes)
		}
	}
	b, err := inf.sig.bind(d, true)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	if err := d.Validate(); err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	bd := b.whole(d)
	if batchSize := cfg.BatchSize; batchSize < 1 {
		return nil, errors.Errorf("evaluate: predict: batch size must be at least 1, got %d", batchSize)
	}
	outs, err := inf.predictMulti(bd.inputs, bd.n, cfg.BatchSize)
	if err != nil {
		return nil, errors.Wrap(err, "evaluate")
	}
	if inf.lossGraphs == nil {
		inf.lossGraphs = &lossGraphCache{}
	}
	logs, err := score(obj, inf.sig, bd, outs, cfg.BatchSize, inf.lossGraphs)
	return logs, errors.Wrap(err, "evaluate")
}

// score computes the losses and metrics of obj on the outputs of the
// samples of bd.
func score(obj *objective, sig *signature, bd *batchData, outs [][]float32, batchSize int, cache *lossGraphCache) (map[string]float64, error) {
	logs := map[string]float64{}
	var total float64
	for k, spec := range obj.outputs {
		width := sig.outWidths[k]
		labels := bd.labels[k]
		targets := bd.targets[k]
		// Float targets for labels, when a loss or metric needs them.
		needFloats := !(isPlainCE(spec.loss) && labels != nil)
		for _, mt := range spec.metrics {
			switch mt.(type) {
			case Accuracy, TopKAccuracy:
			default:
				needFloats = true
			}
		}
		if labels != nil && needFloats {
			targets = make([]float32, bd.n*width)
			if err := oneHot(targets, labels, bd.n, width); err != nil {
				return nil, errors.Wrapf(err, "output %q", spec.name)
			}
		}
		lv, err := outputLoss(spec, sig.outShapes[k], outs[k], labels, targets, bd.n, width, batchSize, cache)
		if err != nil {
			return nil, err
		}
		if len(obj.outputs) > 1 {
			logs[obj.logKey(k, "loss")] = lv
		}
		if len(obj.outputs) == 1 && spec.weight == 1 {
			total = lv
		} else {
			total += spec.weight * lv
		}
		for _, mt := range spec.metrics {
			st := mt.NewState()
			for start := 0; start < bd.n; start += batchSize {
				end := min(start+batchSize, bd.n)
				mb := MetricBatch{N: end - start, Width: width, Output: outs[k][start*width : end*width]}
				if targets != nil {
					mb.Target = targets[start*width : end*width]
				}
				if labels != nil {
					mb.Labels = labels[start:end]
				}
				if err := st.Update(mb); err != nil {
					return nil, errors.Wrapf(err, "metric %q of output %q", mt.Name(), spec.name)
				}
			}
			logs[obj.logKey(k, mt.Name())] = st.Result()
		}
	}
	logs["loss"] = total
	return logs, nil
}

// isPlainCE reports whether l is the default cross-entropy.
func isPlainCE(l Loss) bool {
	switch l := l.(type) {
	case SoftmaxCrossEntropy:
		return l.plain()
	case *SoftmaxCrossEntropy:
		return l.plain()
	}
	return false
}

// outputLoss returns an output's loss over n samples: the cross-entropy
// of labels as Evaluate always computed it, a built-in loss in plain Go
// over the whole set, or a loss of the user's through its graph, batch by
// batch, averaged over samples.
func outputLoss(spec outputSpec, shape []int, out []float32, labels []int, targets []float32, n, width, batchSize int, cache *lossGraphCache) (float64, error) {
	if isPlainCE(spec.loss) && labels != nil {
		loss, _ := scoreLogits(out, labels, width)
		return loss, nil
	}
	if kl, ok := spec.loss.(kernelLoss); ok {
		k, err := kl.kernel(width)
		if err != nil {
			return 0, errors.Wrapf(err, "loss %q of output %q", spec.loss.Name(), spec.name)
		}
		num, den := k.sums(out, targets, n, width)
		return num / den, nil
	}
	var sum float64
	for start := 0; start < n; start += batchSize {
		end := min(start+batchSize, n)
		lg, err := cache.get(spec, shape, end-start)
		if err != nil {
			return 0, err
		}
		v, err := lg.run(out[start*width:end*width], targets[start*width:end*width])
		if err != nil {
			return 0, errors.Wrapf(err, "loss %q of output %q", spec.loss.Name(), spec.name)
		}
		sum += v * float64(end-start)
	}
	return sum / float64(n), nil
}

// lossGraphCache keeps the loss graphs of losses of the user's across
// evaluations (Fit's validation runs one per epoch).
type lossGraphCache struct {
	entries []lossGraphEntry
}

type lossGraphEntry struct {
	loss  Loss
	shape []int
	batch int
	lg    *lossGraph
}

// get returns the graph of spec's loss for batch samples of shape,
// building it on first use. Losses are compared deeply (a loss of NewLoss
// is the same only as itself).
func (c *lossGraphCache) get(spec outputSpec, shape []int, batch int) (*lossGraph, error) {
	for _, e := range c.entries {
		if e.batch == batch && slices.Equal(e.shape, shape) && reflect.DeepEqual(e.loss, spec.loss) {
			return e.lg, nil
		}
	}
	lg, err := newLossGraph(spec, shape, batch)
	if err != nil {
		return nil, err
	}
	c.entries = append(c.entries, lossGraphEntry{loss: spec.loss, shape: append([]int(nil), shape...), batch: batch, lg: lg})
	return lg, nil
}

// lossGraph computes a loss of the user's on one batch of outputs and
// targets, outside any model graph.
type lossGraph struct {
	exec *executor
	z, y []float32
	loss *G.Node
}

// newLossGraph builds the graph of spec's loss for batch samples of the
// given per-sample shape.
func newLossGraph(spec outputSpec, shape []int, batch int) (lg *lossGraph, err error) {
	defer func() {
		if r := recover(); r != nil {
			lg, err = nil, errors.Errorf("loss %q of output %q: building its graph failed: %v", spec.loss.Name(), spec.name, r)
		}
	}()
	g := G.NewGraph()
	full := append([]int{batch}, shape...)
	size := tensor.Shape(full).TotalSize()
	lg = &lossGraph{z: make([]float32, size), y: make([]float32, size)}
	z := G.NodeFromAny(g, tensor.New(tensor.WithShape(full...), tensor.WithBacking(lg.z)), G.WithName("output"))
	y := G.NodeFromAny(g, tensor.New(tensor.WithShape(full...), tensor.WithBacking(lg.y)), G.WithName("target"))
	loss, err := buildLoss(spec, z, y)
	if err != nil {
		return nil, err
	}
	lg.loss = loss
	if lg.exec, err = newExecutor(g); err != nil {
		return nil, err
	}
	return lg, nil
}

// run returns the loss of one batch.
func (lg *lossGraph) run(z, y []float32) (float64, error) {
	copy(lg.z, z)
	copy(lg.y, y)
	if err := lg.exec.run(); err != nil {
		return 0, err
	}
	return scalarValue(lg.exec.value(lg.loss), "loss")
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

package graph

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// Metric measures a model output against its targets, accumulated over the
// batches of an epoch or of an evaluation. Fit logs every metric of every
// output under its Name (and "val_" + Name on the validation data; with
// several outputs "<output>/<name>"), where callbacks — EarlyStopping,
// ReduceLROnPlateau, ModelCheckpoint, MetricsLogger — can monitor it.
// Built-in metrics: Accuracy, TopKAccuracy, MSE, MAE, BinaryAccuracy, F1
// and MacroF1; NewMetric makes one of a function, and any type
// implementing this interface is one.
type Metric interface {
	// Name is the metric's key in the logs, e.g. "acc".
	Name() string
	// Maximize reports whether larger values are better (monitors in
	// auto mode use it).
	Maximize() bool
	// NewState returns an empty accumulator.
	NewState() MetricState
}

// MetricState accumulates a metric over batches.
type MetricState interface {
	// Update adds a batch. An error (for example an output shape the
	// metric cannot measure) stops Fit or Evaluate, naming the metric.
	Update(b MetricBatch) error
	// Result returns the metric over the batches added so far (NaN
	// before the first).
	Result() float64
}

// MetricBatch is one batch of an output as metrics see it. Its slices are
// valid only during Update: do not keep or modify them.
type MetricBatch struct {
	// N is the number of samples, Width the output values per sample.
	N, Width int
	// Output holds the raw outputs (logits for classification losses),
	// N·Width values, sample after sample.
	Output []float32
	// Target holds the targets, N·Width values (integer labels one-hot
	// encoded).
	Target []float32
	// Labels holds the class labels when the targets are labels, nil
	// otherwise.
	Labels []int
}

// label returns sample i's class: its label, or the first largest target.
func (b *MetricBatch) label(i int) int {
	if b.Labels != nil {
		return b.Labels[i]
	}
	return argmax(b.Target[i*b.Width : (i+1)*b.Width])
}

// checkTargets checks that b holds what a metric needs: Width ≥ minWidth
// and targets (float or labels) for every sample.
func (b *MetricBatch) checkTargets(minWidth int, what string) error {
	if b.Width < minWidth {
		return errors.Errorf("%s needs at least %d output values per sample, the output has %d", what, minWidth, b.Width)
	}
	if len(b.Output) != b.N*b.Width {
		return errors.Errorf("%d output values for %d samples of %d", len(b.Output), b.N, b.Width)
	}
	if b.Labels == nil && len(b.Target) != b.N*b.Width {
		return errors.Errorf("%d target values for %d samples of %d", len(b.Target), b.N, b.Width)
	}
	if b.Labels != nil && len(b.Labels) != b.N {
		return errors.Errorf("%d labels for %d samples", len(b.Labels), b.N)
	}
	return nil
}

// meanState accumulates a sum of per-sample values and their count.
type meanState struct {
	sum float64
	n   float64
	add func(b MetricBatch) (sum float64, n int, err error)
}

func (s *meanState) Update(b MetricBatch) error {
	sum, n, err := s.add(b)
	if err != nil {
		return err
	}
	s.sum += sum
	s.n += float64(n)
	return nil
}

func (s *meanState) Result() float64 {
	if s.n == 0 {
		return math.NaN()
	}
	return s.sum / s.n
}

// Accuracy is the fraction of samples whose first largest output is at
// their class: their label, or the first largest target. Its name is
// "acc".
type Accuracy struct{}

// Name returns "acc".
func (Accuracy) Name() string { return "acc" }

// Maximize returns true.
func (Accuracy) Maximize() bool { return true }

// NewState returns an empty accumulator.
func (Accuracy) NewState() MetricState {
	return &meanState{add: func(b MetricBatch) (float64, int, error) {
		if err := b.checkTargets(2, "accuracy"); err != nil {
			return 0, 0, err
		}
		if b.Labels != nil {
			return float64(countCorrect(b.Output, b.Labels, b.Width)), b.N, nil
		}
		hits := 0
		for i := 0; i < b.N; i++ {
			if argmax(b.Output[i*b.Width:(i+1)*b.Width]) == b.label(i) {
				hits++
			}
		}
		return float64(hits), b.N, nil
	}}
}

// TopKAccuracy is the fraction of samples whose class is among their K
// largest outputs (ties broken towards the lower index). Its name is
// "top<K>_acc".
type TopKAccuracy struct {
	// K is at least 1.
	K int
}

// Name returns "top<K>_acc", e.g. "top5_acc".
func (m TopKAccuracy) Name() string { return fmt.Sprintf("top%d_acc", m.K) }

// Maximize returns true.
func (TopKAccuracy) Maximize() bool { return true }

// NewState returns an empty accumulator.
func (m TopKAccuracy) NewState() MetricState {
	return &meanState{add: func(b MetricBatch) (float64, int, error) {
		if m.K < 1 {
			return 0, 0, errors.Errorf("top-k accuracy: K must be at least 1, got %d", m.K)
		}
		if err := b.checkTargets(2, "top-k accuracy"); err != nil {
			return 0, 0, err
		}
		hits := 0
		for i := 0; i < b.N; i++ {
			row := b.Output[i*b.Width : (i+1)*b.Width]
			c := b.label(i)
			// c is in the top K when fewer than K outputs rank above it.
			above := 0
			for j, v := range row {
				if v > row[c] || (v == row[c] && j < c) {
					above++
				}
			}
			if above < m.K {
				hits++
			}
		}
		return float64(hits), b.N, nil
	}}
}

// MSE is the mean over every sample and output value of (output −
// target)². Its name is "mse".
type MSE struct{}

// Name returns "mse".
func (MSE) Name() string { return "mse" }

// Maximize returns false.
func (MSE) Maximize() bool { return false }

// NewState returns an empty accumulator.
func (MSE) NewState() MetricState { return pointState("mse", func(d float64) float64 { return d * d }) }

// MAE is the mean over every sample and output value of |output −
// target|. Its name is "mae".
type MAE struct{}

// Name returns "mae".
func (MAE) Name() string { return "mae" }

// Maximize returns false.
func (MAE) Maximize() bool { return false }

// NewState returns an empty accumulator.
func (MAE) NewState() MetricState { return pointState("mae", math.Abs) }

// pointState averages f(output − target) over every value.
func pointState(what string, f func(float64) float64) MetricState {
	return &meanState{add: func(b MetricBatch) (float64, int, error) {
		if err := b.checkTargets(1, what); err != nil {
			return 0, 0, err
		}
		var sum float64
		for i, v := range b.Output {
			sum += f(float64(v) - float64(b.Target[i]))
		}
		return sum, b.N * b.Width, nil
	}}
}

// BinaryAccuracy is the fraction of output values on the right side of the
// threshold, over every sample and output value (multi-label
// classification): an output is positive when its probability — the
// sigmoid of the output, or the output itself with Probabilities — is
// above Threshold, a target when it is at least 0.5. Its name is
// "binary_acc".
type BinaryAccuracy struct {
	// Threshold is in (0, 1) (default 0.5).
	Threshold float64
	// Probabilities says the outputs are probabilities, not logits.
	Probabilities bool
}

// Name returns "binary_acc".
func (BinaryAccuracy) Name() string { return "binary_acc" }

// Maximize returns true.
func (BinaryAccuracy) Maximize() bool { return true }

// NewState returns an empty accumulator.
func (m BinaryAccuracy) NewState() MetricState {
	return &meanState{add: func(b MetricBatch) (float64, int, error) {
		pos, err := positive(m.Threshold, m.Probabilities)
		if err != nil {
			return 0, 0, err
		}
		if err := b.checkTargets(1, "binary accuracy"); err != nil {
			return 0, 0, err
		}
		hits := 0
		for i, v := range b.Output {
			if pos(v) == (b.Target[i] >= 0.5) {
				hits++
			}
		}
		return float64(hits), b.N * b.Width, nil
	}}
}

// positive returns the test "this output is predicted positive".
func positive(threshold float64, probabilities bool) (func(float32) bool, error) {
	if threshold == 0 {
		threshold = 0.5
	}
	if !(threshold > 0 && threshold < 1) {
		return nil, errors.Errorf("Threshold must be in (0, 1), got %v", threshold)
	}
	if probabilities {
		return func(v float32) bool { return float64(v) > threshold }, nil
	}
	// sigmoid(z) > t ⇔ z > log(t/(1−t)).
	logit := math.Log(threshold / (1 - threshold))
	return func(v float32) bool { return float64(v) > logit }, nil
}

// confusion counts true positives, false positives and false negatives per
// output value (label) over batches.
type confusion struct {
	tp, fp, fn []float64
	pos        func(float32) bool
	what       string
}

func newConfusion(what string, threshold float64, probabilities bool) *confusion {
	c := &confusion{what: what}
	c.pos, _ = positive(threshold, probabilities) // checked in Update
	return c
}

func (c *confusion) update(b MetricBatch, threshold float64, probabilities bool) error {
	if _, err := positive(threshold, probabilities); err != nil {
		return errors.Wrap(err, c.what)
	}
	if err := b.checkTargets(1, c.what); err != nil {
		return err
	}
	if c.tp == nil {
		c.tp, c.fp, c.fn = make([]float64, b.Width), make([]float64, b.Width), make([]float64, b.Width)
	}
	if len(c.tp) != b.Width {
		return errors.Errorf("%s: batch of %d output values per sample after %d", c.what, b.Width, len(c.tp))
	}
	for i, v := range b.Output {
		j := i % b.Width
		p, t := c.pos(v), b.Target[i] >= 0.5
		switch {
		case p && t:
			c.tp[j]++
		case p:
			c.fp[j]++
		case t:
			c.fn[j]++
		}
	}
	return nil
}

// f1 returns label j's F1 score, 2tp/(2tp + fp + fn), and 0 when the label
// was never positive nor predicted positive (as scikit-learn's default).
func (c *confusion) f1(j int) float64 {
	d := 2*c.tp[j] + c.fp[j] + c.fn[j]
	if d == 0 {
		return 0
	}
	return 2 * c.tp[j] / d
}

// F1 is the F1 score of one output value (label) of a multi-label output,
// 2·TP/(2·TP + FP + FN) over every sample, with positives decided as in
// BinaryAccuracy; 0 when the label is never positive nor predicted
// positive. Its name is "f1_<Label>".
type F1 struct {
	// Label is the output value's index.
	Label int
	// Threshold and Probabilities are as in BinaryAccuracy.
	Threshold     float64
	Probabilities bool
}

// Name returns "f1_<Label>".
func (m F1) Name() string { return "f1_" + strconv.Itoa(m.Label) }

// Maximize returns true.
func (F1) Maximize() bool { return true }

// NewState returns an empty accumulator.
func (m F1) NewState() MetricState {
	return &f1State{m: m, c: newConfusion("f1", m.Threshold, m.Probabilities)}
}

type f1State struct {
	m F1
	c *confusion
}

func (s *f1State) Update(b MetricBatch) error {
	if s.m.Label < 0 || s.m.Label >= b.Width {
		return errors.Errorf("f1: Label %d is outside the output's %d values", s.m.Label, b.Width)
	}
	return s.c.update(b, s.m.Threshold, s.m.Probabilities)
}

func (s *f1State) Result() float64 {
	if s.c.tp == nil {
		return math.NaN()
	}
	return s.c.f1(s.m.Label)
}

// MacroF1 is the unweighted mean over the output values (labels) of their
// F1 scores (see F1). Its name is "macro_f1".
type MacroF1 struct {
	// Threshold and Probabilities are as in BinaryAccuracy.
	Threshold     float64
	Probabilities bool
}

// Name returns "macro_f1".
func (MacroF1) Name() string { return "macro_f1" }

// Maximize returns true.
func (MacroF1) Maximize() bool { return true }

// NewState returns an empty accumulator.
func (m MacroF1) NewState() MetricState {
	return &macroF1State{m: m, c: newConfusion("macro-f1", m.Threshold, m.Probabilities)}
}

type macroF1State struct {
	m MacroF1
	c *confusion
}

func (s *macroF1State) Update(b MetricBatch) error {
	return s.c.update(b, s.m.Threshold, s.m.Probabilities)
}

func (s *macroF1State) Result() float64 {
	if s.c.tp == nil {
		return math.NaN()
	}
	var sum float64
	for j := range s.c.tp {
		sum += s.c.f1(j)
	}
	return sum / float64(len(s.c.tp))
}

// MetricFunc computes a metric's value on one batch: the mean over its
// samples.
type MetricFunc func(b MetricBatch) (float64, error)

// customMetric is a Metric made of a MetricFunc.
type customMetric struct {
	name     string
	maximize bool
	f        MetricFunc
}

// NewMetric returns the metric named name whose value on a batch is f's,
// averaged over batches weighted by their sample counts (so over an epoch
// it is the mean over samples when f is a mean over the batch's samples).
// maximize says whether larger is better.
func NewMetric(name string, maximize bool, f MetricFunc) Metric {
	return &customMetric{name: name, maximize: maximize, f: f}
}

func (m *customMetric) Name() string   { return m.name }
func (m *customMetric) Maximize() bool { return m.maximize }
func (m *customMetric) NewState() MetricState {
	return &meanState{add: func(b MetricBatch) (float64, int, error) {
		if m.f == nil {
			return 0, 0, errors.New("nil metric function")
		}
		v, err := m.f(b)
		return v * float64(b.N), b.N, err
	}}
}

// MetricByName returns the built-in metric of that name, with default
// settings: "acc" (also "accuracy"), "top<k>_acc" (e.g. "top5_acc"), "mse",
// "mae", "binary_acc", "f1_<label>" (e.g. "f1_3") or "macro_f1". An unknown
// name is an error naming it and listing the known ones.
func MetricByName(name string) (Metric, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "acc", "accuracy":
		return Accuracy{}, nil
	case "mse":
		return MSE{}, nil
	case "mae":
		return MAE{}, nil
	case "binary_acc", "binary_accuracy":
		return BinaryAccuracy{}, nil
	case "macro_f1":
		return MacroF1{}, nil
	}
	if k, ok := strings.CutPrefix(n, "top"); ok {
		if k, ok := strings.CutSuffix(k, "_acc"); ok {
			if v, err := strconv.Atoi(k); err == nil && v >= 1 {
				return TopKAccuracy{K: v}, nil
			}
		}
	}
	if l, ok := strings.CutPrefix(n, "f1_"); ok {
		if v, err := strconv.Atoi(l); err == nil && v >= 0 {
			return F1{Label: v}, nil
		}
	}
	return nil, errors.Errorf("unknown metric %q (known: %s)", name, strings.Join(knownMetricNames, ", "))
}

// knownMetricNames lists MetricByName's names.
var knownMetricNames = func() []string {
	s := []string{"acc", "top<k>_acc", "mse", "mae", "binary_acc", "f1_<label>", "macro_f1"}
	sort.Strings(s)
	return s
}()

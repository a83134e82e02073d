package graph

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/datasets"
)

// OutputConfig says how one output of a model with several outputs is
// trained and measured (FitConfig.Outputs, EvalConfig.Outputs).
type OutputConfig struct {
	// Loss is the output's loss (nil: the config's Loss).
	Loss Loss
	// Weight multiplies the output's loss in the total loss, Keras's
	// loss_weights (0 means 1; it must not be negative).
	Weight float64
	// Metrics are measured on the output (nil: the config's Metrics).
	Metrics []Metric
}

// outputSpec is the resolved loss, weight and metrics of one output.
type outputSpec struct {
	name    string
	loss    Loss
	weight  float64
	metrics []Metric
}

// objective is what a model is trained or evaluated for: one outputSpec
// per output, in the model's output order.
type objective struct {
	outputs []outputSpec
}

// defaultMetrics returns the metrics measured when none are given: accuracy
// for the softmax cross-entropy, binary accuracy for the sigmoid one, none
// otherwise (the loss itself is logged).
func defaultMetrics(l Loss) []Metric {
	switch l.(type) {
	case SoftmaxCrossEntropy, *SoftmaxCrossEntropy:
		return []Metric{Accuracy{}}
	case SigmoidCrossEntropy, *SigmoidCrossEntropy:
		return []Metric{BinaryAccuracy{}}
	}
	return nil
}

// signature is what binding data and objectives needs of a model or an
// exported model: its inputs' names and shapes, its outputs' names, shapes
// and widths.
type signature struct {
	inNames   []string
	inShapes  [][]int
	outNames  []string
	outShapes [][]int
	outWidths []int
}

// signature returns the model's signature.
func (m *Model) signature() *signature {
	return &signature{inNames: m.InputNames(), inShapes: m.InputShapes(),
		outNames: m.OutputNames(), outShapes: m.OutputShapes(), outWidths: append([]int(nil), m.outWidths...)}
}

func (s *signature) outputIndex(name string) int {
	for k, n := range s.outNames {
		if n == name {
			return k
		}
	}
	return -1
}

// resolveObjective combines the loss, metrics and per-output settings of
// a FitConfig or EvalConfig for the outputs of s.
func (s *signature) resolveObjective(loss Loss, metrics []Metric, outputs map[string]OutputConfig) (*objective, error) {
	names := s.outNames
	for name := range outputs {
		if s.outputIndex(name) < 0 {
			return nil, errors.Errorf("Outputs names %q, which is not an output of the model (outputs: %s)", name, strings.Join(names, ", "))
		}
	}
	if loss == nil {
		loss = SoftmaxCrossEntropy{}
	}
	obj := &objective{}
	for _, name := range names {
		spec := outputSpec{name: name, loss: loss, weight: 1, metrics: metrics}
		if oc, ok := outputs[name]; ok {
			if oc.Loss != nil {
				spec.loss = oc.Loss
			}
			switch {
			case oc.Weight < 0 || math.IsNaN(oc.Weight) || math.IsInf(oc.Weight, 0):
				return nil, errors.Errorf("output %q: loss Weight must be >= 0 and finite, got %v", name, oc.Weight)
			case oc.Weight > 0:
				spec.weight = oc.Weight
			}
			if oc.Metrics != nil {
				spec.metrics = oc.Metrics
			}
		}
		if spec.metrics == nil {
			spec.metrics = defaultMetrics(spec.loss)
		}
		if spec.loss.Name() == "" {
			return nil, errors.Errorf("output %q: the loss of type %T has an empty name", name, spec.loss)
		}
		seen := map[string]bool{"loss": true}
		for k, mt := range spec.metrics {
			if mt == nil {
				return nil, errors.Errorf("output %q: metric %d is nil", name, k)
			}
			n := mt.Name()
			switch {
			case n == "":
				return nil, errors.Errorf("output %q: metric %d (%T) has an empty name", name, k, mt)
			case seen[n]:
				return nil, errors.Errorf("output %q: two metrics are named %q (or a metric is named \"loss\")", name, n)
			case strings.HasPrefix(n, "val_"):
				return nil, errors.Errorf("output %q: metric name %q must not start with \"val_\" (Fit adds that prefix for validation data)", name, n)
			}
			seen[n] = true
		}
		obj.outputs = append(obj.outputs, spec)
	}
	return obj, nil
}

// sameTraining reports whether two objectives need the same training
// graphs: the same losses (compared deeply; a loss of NewLoss is the same
// only as itself) and weights.
func (o *objective) sameTraining(p *objective) bool {
	if o == nil || p == nil || len(o.outputs) != len(p.outputs) {
		return false
	}
	for k := range o.outputs {
		a, b := o.outputs[k], p.outputs[k]
		if a.weight != b.weight || !reflect.DeepEqual(a.loss, b.loss) {
			return false
		}
	}
	return true
}

// logKey returns the logs key of an output's metric (or "loss"): the name
// itself for a single output, "<output>/<name>" with several.
func (o *objective) logKey(out int, name string) string {
	if len(o.outputs) == 1 {
		return name
	}
	return o.outputs[out].name + "/" + name
}

// keys returns the logs keys the objective produces (prefix "" or "val_")
// with whether larger is better.
func (o *objective) keys(prefix string, into map[string]bool) {
	into[prefix+"loss"] = false
	for k, s := range o.outputs {
		if len(o.outputs) > 1 {
			into[prefix+o.logKey(k, "loss")] = false
		}
		for _, mt := range s.metrics {
			into[prefix+o.logKey(k, mt.Name())] = mt.Maximize()
		}
	}
}

// source says where one model input or one output's targets come from in
// a dataset.
type source struct {
	kind  int // srcX, srcField, srcLabels, srcTargets, srcInput
	field int // index into Dataset.Fields (srcField)
	input int // model input index (srcInput)
	what  string
}

const (
	srcX       = iota // Dataset.X
	srcField          // a Dataset field (values or labels)
	srcLabels         // Dataset.Y
	srcTargets        // Dataset.Targets
	srcInput          // the values fed to a model input (InputTargets)
)

// binding maps a dataset's arrays to a model's inputs and outputs.
type binding struct {
	inputs  []source
	targets []source // nil when binding inputs only
	labels  []bool   // per output: the targets are class labels
}

// bind maps d's arrays to m's inputs (and, with targets, its outputs'
// targets), checking sizes. Input k reads the field named like it, or X
// when no field is (X feeds one input only: the first without a field).
// Output o's targets are the field named like it, or else the set's own
// targets (InputTargets, Targets or Y), for the first output without a
// field.
func (s *signature) bind(d *datasets.Dataset, targets bool) (*binding, error) {
	b := &binding{}
	xUsed := -1
	for k, name := range s.inNames {
		in := struct {
			name  string
			shape []int
		}{name, s.inShapes[k]}
		want := shapeSize(in.shape)
		if f := d.Field(in.name); f != nil {
			if f.Labels != nil {
				return nil, errors.Errorf("input %q: field %q of %q holds labels, want values", in.name, f.Name, d.Name)
			}
			if f.Size() != want {
				return nil, errors.Errorf("input %q wants %d values per sample (shape %v); field %q of %q has %d (shape %v)",
					in.name, want, in.shape, f.Name, d.Name, f.Size(), f.Shape)
			}
			b.inputs = append(b.inputs, source{kind: srcField, field: fieldIndex(d, in.name), what: fmt.Sprintf("field %q", in.name)})
			continue
		}
		if xUsed >= 0 {
			return nil, errors.Errorf("input %q has no data: %q has no field named %q, and its X already feeds input %q (fields: %s)",
				in.name, d.Name, in.name, s.inNames[xUsed], fieldList(d))
		}
		if d.SampleSize() != want {
			return nil, errors.Errorf("%q has %d values per sample (shape %v), the model's input %q wants %d (shape %v)",
				d.Name, d.SampleSize(), d.Shape, in.name, want, in.shape)
		}
		xUsed = k
		b.inputs = append(b.inputs, source{kind: srcX, what: "X"})
	}
	if !targets {
		return b, nil
	}
	ownUsed := -1
	for o, name := range s.outNames {
		width := s.outWidths[o]
		if f := d.Field(name); f != nil {
			if f.Size() != width {
				return nil, errors.Errorf("output %q has %d values per sample (shape %v); its targets, field %q of %q, have %d%s",
					name, width, s.outShapes[o], f.Name, d.Name, f.Size(), describeField(f))
			}
			b.targets = append(b.targets, source{kind: srcField, field: fieldIndex(d, name), what: fmt.Sprintf("field %q", name)})
			b.labels = append(b.labels, f.Labels != nil)
			continue
		}
		if ownUsed >= 0 || !d.HasTargets() {
			why := "has no targets of its own"
			if ownUsed >= 0 {
				why = fmt.Sprintf("gives its own targets to output %q", s.outNames[ownUsed])
			}
			return nil, errors.Errorf("output %q has no targets: %q has no field named %q and %s (fields: %s)",
				name, d.Name, name, why, fieldList(d))
		}
		ownUsed = o
		switch {
		case d.InputTargets:
			if xUsed < 0 {
				return nil, errors.Errorf("output %q: %q has InputTargets but its X feeds no model input", name, d.Name)
			}
			if d.SampleSize() != width {
				return nil, errors.Errorf("output %q has %d values per sample (shape %v); its targets, the inputs of %q (InputTargets), have %d (shape %v)",
					name, width, s.outShapes[o], d.Name, d.SampleSize(), d.Shape)
			}
			b.targets = append(b.targets, source{kind: srcInput, input: xUsed, what: "the inputs (InputTargets)"})
			b.labels = append(b.labels, false)
		case d.Targets != nil:
			if ts := d.TargetSize(); ts != width {
				return nil, errors.Errorf("output %q has %d values per sample (shape %v); the targets of %q have %d (shape %v)",
					name, width, s.outShapes[o], d.Name, ts, d.TargetShape)
			}
			b.targets = append(b.targets, source{kind: srcTargets, what: "Targets"})
			b.labels = append(b.labels, false)
		default:
			if d.Classes > width {
				return nil, errors.Errorf("%q has %d classes, the model's output %q has %d values per sample (shape %v)",
					d.Name, d.Classes, name, width, s.outShapes[o])
			}
			b.targets = append(b.targets, source{kind: srcLabels, what: "labels Y"})
			b.labels = append(b.labels, true)
		}
	}
	return b, nil
}

func fieldIndex(d *datasets.Dataset, name string) int {
	for k := range d.Fields {
		if d.Fields[k].Name == name {
			return k
		}
	}
	return -1
}

func fieldList(d *datasets.Dataset) string {
	if len(d.Fields) == 0 {
		return "none"
	}
	return strings.Join(d.FieldNames(), ", ")
}

func describeField(f *datasets.Field) string {
	if f.Labels != nil {
		return fmt.Sprintf(" (%d classes)", f.Classes)
	}
	return fmt.Sprintf(" (shape %v)", f.Shape)
}

func shapeSize(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

// batchData is a batch (or a whole set) as the programs see it: per model
// input its values, per output its labels or float targets.
type batchData struct {
	n       int
	inputs  [][]float32
	labels  [][]int
	targets [][]float32
}

// gather returns the batch's data through the binding, reusing bd.
func (b *binding) gather(bd *batchData, n int, x []float32, y []int, tg []float32, fields []datasets.FieldBatch) *batchData {
	bd.n = n
	bd.inputs = bd.inputs[:0]
	for _, s := range b.inputs {
		if s.kind == srcX {
			bd.inputs = append(bd.inputs, x)
		} else {
			bd.inputs = append(bd.inputs, fields[s.field].Values)
		}
	}
	bd.labels, bd.targets = bd.labels[:0], bd.targets[:0]
	for _, s := range b.targets {
		var l []int
		var t []float32
		switch s.kind {
		case srcField:
			l, t = fields[s.field].Labels, fields[s.field].Values
		case srcLabels:
			l = y
		case srcTargets:
			t = tg
		case srcInput:
			t = bd.inputs[s.input]
		}
		bd.labels = append(bd.labels, l)
		bd.targets = append(bd.targets, t)
	}
	return bd
}

// whole returns the whole set d as one batchData through the binding.
func (b *binding) whole(d *datasets.Dataset) *batchData {
	fields := make([]datasets.FieldBatch, len(d.Fields))
	for k, f := range d.Fields {
		fields[k] = datasets.FieldBatch{Values: f.Values, Labels: f.Labels}
	}
	return b.gather(&batchData{}, d.Len(), d.X, d.Y, d.Targets, fields)
}

// sortedLogKeys returns the keys of a logs-keys map, sorted.
func sortedLogKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tally accumulates an epoch's training losses and metrics into the logs.
type tally struct {
	obj      *objective
	states   [][]MetricState
	keys     [][]string
	lossKeys []string
	lossSums []float64
	seen     int
}

// newTally returns empty accumulators for an epoch.
func (r *fitRun) newTally() *tally {
	t := &tally{obj: r.obj}
	for k, s := range r.obj.outputs {
		var states []MetricState
		var keys []string
		for _, mt := range s.metrics {
			states = append(states, mt.NewState())
			keys = append(keys, r.obj.logKey(k, mt.Name()))
		}
		t.states = append(t.states, states)
		t.keys = append(t.keys, keys)
		if len(r.obj.outputs) > 1 {
			t.lossKeys = append(t.lossKeys, r.obj.logKey(k, "loss"))
		}
	}
	t.lossSums = make([]float64, len(t.lossKeys))
	return t
}

// addTraining adds a training batch just run by p: each output's loss
// (with several outputs) and metrics, written to logs as running values
// over the epoch.
func (t *tally) addTraining(p *program, bd *batchData, logs map[string]float64) error {
	n := bd.n
	t.seen += n
	for k, s := range t.obj.outputs {
		if t.lossKeys != nil {
			l, err := p.outputLoss(k)
			if err != nil {
				return err
			}
			t.lossSums[k] += l * float64(n)
			logs[t.lossKeys[k]] = t.lossSums[k] / float64(t.seen)
		}
		if len(t.states[k]) == 0 {
			continue
		}
		out, err := p.outputData(k)
		if err != nil {
			return err
		}
		mb := MetricBatch{N: n, Width: p.widths[k], Output: out, Target: p.ys[k], Labels: bd.labels[k]}
		for j, st := range t.states[k] {
			if err := st.Update(mb); err != nil {
				return errors.Wrapf(err, "metric %q of output %q", s.metrics[j].Name(), s.name)
			}
			logs[t.keys[k][j]] = st.Result()
		}
	}
	return nil
}

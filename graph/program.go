package graph

import (
	"fmt"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// program is the model compiled into one gorgonia graph for one batch size:
// a training program computes the loss and the gradients of every parameter,
// an evaluation program only the outputs.
type program struct {
	batch   int
	train   bool
	classes int // values per sample of the first output

	b         *layers.Builder
	exec      *executor
	x         []float32   // backing of the first input node
	xs        [][]float32 // backing of every input node, in the model's order
	y         []float32   // backing of the first output's target node (training only)
	ys        [][]float32 // backing of every output's target node (training only)
	outs      []*G.Node   // every output
	outShapes [][]int     // per-sample shape of every output
	widths    []int       // values per sample of every output
	loss      *G.Node     // the total loss (training only)
	losses    []*G.Node   // each output's loss, with several outputs
	obj       *objective  // what a training program computes
	params    []*layers.Param
	// mirrors[i] is the layer keeping a copy of params[i]'s weights
	// (layers.WeightMirror), or nil.
	mirrors []layers.WeightMirror
	nodes   []*G.Node
	taps    []layers.Tap
	// tapBuf[k] holds batch-major copies of tap k's feature-major values
	// (Context.Activations), with the tensors wrapping them.
	tapBuf  [][2]tapCopy
	opt     []optim.Param
	gradBuf [][]float32
	// gradNodes are the gradient nodes of params, in the same order; their
	// values are read after each run: no dual values, so nothing
	// accumulates and nothing needs clearing between steps.
	gradNodes []*G.Node
}

// program returns the cached program for (batch, train), compiling it on
// first use. Training programs compute m.trainObj.
func (m *Model) program(batch int, train bool) (p *program, err error) {
	cache := m.eval
	if train {
		cache = m.train
	}
	if p, ok := cache[batch]; ok {
		return p, nil
	}
	// gorgonia panics on some malformed graphs (and a loss of the user's
	// may panic); report them as errors.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, errors.Errorf("model: building the graph for batch %d failed: %v", batch, r)
		}
	}()
	if p, err = m.compile(batch, train); err != nil {
		return nil, err
	}
	cache[batch] = p
	return p, nil
}

// featureMajorChains turns the feature-major hand-over between layers on
// (tests compare with it off).
var featureMajorChains = true

// featureMajorOutputs returns the layer applications whose output a
// training graph hands over feature-major: those of a layer that can
// (layers.FeatureMajorCapable, now) whose output is not a model output and
// is read only by single-input layers that can take it so. Consecutive
// sparse layers then skip the transposes between them; evaluation graphs
// keep every value batch-major (their products work in chunks).
func (m *Model) featureMajorOutputs(train bool) map[*Ref]bool {
	fm := map[*Ref]bool{}
	if !train || !featureMajorChains {
		return fm
	}
	capable := func(l layers.Layer) bool {
		c, ok := l.(layers.FeatureMajorCapable)
		return ok && c.FeatureMajorIO()
	}
	readers := map[*Ref][]*Ref{}
	for _, r := range m.order {
		for _, in := range r.inputs {
			readers[in] = append(readers[in], r)
		}
	}
	outputs := map[*Ref]bool{}
	for _, r := range m.outputs {
		outputs[r] = true
	}
	for _, r := range m.order {
		if r.layer == nil || outputs[r] || len(readers[r]) == 0 || !capable(r.layer) {
			continue
		}
		ok := true
		for _, c := range readers[r] {
			ok = ok && c.layer != nil && len(c.inputs) == 1 && capable(c.layer)
		}
		fm[r] = ok
	}
	return fm
}

// setObjective makes obj the objective of the training programs, dropping
// the cached ones when it needs other graphs.
func (m *Model) setObjective(obj *objective) {
	if m.trainObj != nil && m.trainObj.sameTraining(obj) {
		return
	}
	m.trainObj = obj
	m.train = map[int]*program{}
}

func (m *Model) compile(batch int, train bool) (*program, error) {
	b := layers.NewBuilder(train, batch)
	p := &program{batch: batch, train: train, b: b}
	values := map[*Ref]*G.Node{}
	for _, in := range m.inputs {
		shape := append([]int{batch}, in.shape...)
		x := make([]float32, tensor.Shape(shape).TotalSize())
		xt := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(x))
		values[in] = G.NodeFromAny(b.Graph, xt, G.WithName("input:"+in.name))
		p.xs = append(p.xs, x)
	}
	p.x = p.xs[0]
	fm := m.featureMajorOutputs(train)
	for _, r := range m.order {
		if r.layer == nil {
			continue
		}
		ins := make([]*G.Node, len(r.inputs))
		for i, in := range r.inputs {
			ins[i] = values[in]
		}
		b.SetOutputFeatureMajor(fm[r])
		out, err := r.layer.Forward(b, ins...)
		b.SetOutputFeatureMajor(false)
		if err != nil {
			return nil, errors.Wrap(err, "model")
		}
		if out == nil {
			return nil, errors.Errorf("model: layer %q returned no output node", r.layer.Name())
		}
		values[r] = out
	}
	outNodes := make([]*G.Node, len(m.outputs))
	for k, r := range m.outputs {
		out := values[r]
		s := out.Shape()
		if len(s) < 2 || s[0] != batch {
			if len(m.outputs) == 1 {
				return nil, errors.Errorf("model: output %q has shape %v, want (batch %d, classes)", r.name, s, batch)
			}
			return nil, errors.Errorf("model: output %q has shape %v, want (batch %d, ...)", r.name, s, batch)
		}
		p.outShapes = append(p.outShapes, append([]int(nil), s[1:]...))
		p.widths = append(p.widths, s.TotalSize()/batch)
		outNodes[k] = out
	}
	p.outs = outNodes
	p.classes = p.widths[0]
	p.params = b.Params()
	for _, prm := range p.params {
		p.nodes = append(p.nodes, b.ParamNode(prm))
	}
	p.mirrors = m.weightMirrors(p.params)
	p.taps = b.Taps()
	p.tapBuf = make([][2]tapCopy, len(p.taps))

	if !train {
		return p, p.prepare()
	}
	if m.trainObj == nil { // training outside Fit: the default objective
		obj, err := m.signature().resolveObjective(nil, nil, nil)
		if err != nil {
			return nil, errors.Wrap(err, "model")
		}
		m.trainObj = obj
	}
	obj := m.trainObj
	if len(obj.outputs) != len(m.outputs) {
		return nil, errors.Errorf("model: the training objective has %d outputs, the model %d", len(obj.outputs), len(m.outputs))
	}
	p.obj = obj
	var total *G.Node
	if len(outNodes) > 1 || obj.outputs[0].weight != 1 {
		p.losses = make([]*G.Node, len(outNodes))
	}
	for k, out := range outNodes {
		spec := obj.outputs[k]
		y := make([]float32, batch*p.widths[k])
		yt := tensor.New(tensor.WithShape(out.Shape().Clone()...), tensor.WithBacking(y))
		name := "target"
		if len(outNodes) > 1 {
			name = "target:" + spec.name
		}
		yNode := G.NodeFromAny(b.Graph, yt, G.WithName(name))
		p.ys = append(p.ys, y)
		loss, err := buildLoss(spec, out, yNode)
		if err != nil {
			return nil, err
		}
		if p.losses == nil {
			total = loss // one output of weight 1: the loss is the total
			break
		}
		p.losses[k] = loss
		if spec.weight != 1 {
			if loss, err = G.Mul(loss, G.NewConstant(float32(spec.weight))); err != nil {
				return nil, errors.Wrapf(err, "model: weighting the loss of output %q", spec.name)
			}
		}
		if total == nil {
			total = loss
		} else if total, err = G.Add(total, loss); err != nil {
			return nil, errors.Wrap(err, "model: total loss")
		}
	}
	p.y = p.ys[0]
	p.loss = total
	var err error
	if p.gradNodes, err = G.Grad(total, p.nodes...); err != nil {
		return nil, errors.Wrap(err, "model: gradients")
	}
	return p, p.prepare()
}

// prepare readies the built graph for runs.
func (p *program) prepare() error {
	e, err := newExecutor(p.b.Graph)
	if err != nil {
		return errors.Wrap(err, "model")
	}
	p.exec = e
	return nil
}

// buildLoss adds an output's loss against its target node: a built-in
// loss's fused op (on (batch, values) views of outputs of higher rank), or
// a loss of the user's through its Build, whose result must be a float32
// scalar. A panic in the user's code is reported as an error naming the
// loss.
func buildLoss(spec outputSpec, out, target *G.Node) (loss *G.Node, err error) {
	name := spec.loss.Name()
	defer func() {
		if r := recover(); r != nil {
			loss, err = nil, errors.Errorf("model: loss %q of output %q panicked: %v", name, spec.name, r)
		}
	}()
	if _, ok := spec.loss.(kernelLoss); ok && out.Dims() > 2 {
		s := out.Shape()
		flat := tensor.Shape{s[0], s.TotalSize() / s[0]}
		if out, err = G.Reshape(out, flat); err != nil {
			return nil, errors.Wrapf(err, "model: output %q", spec.name)
		}
		if target, err = G.Reshape(target, flat); err != nil {
			return nil, errors.Wrapf(err, "model: output %q", spec.name)
		}
	}
	loss, err = spec.loss.Build(out, target)
	if err != nil {
		return nil, errors.Wrapf(err, "model: loss %q of output %q", name, spec.name)
	}
	if loss == nil {
		return nil, errors.Errorf("model: loss %q of output %q returned no node", name, spec.name)
	}
	if !loss.IsScalar() {
		return nil, errors.Errorf("model: loss %q of output %q returned a node of shape %v, want a scalar (reduce it, for example with gorgonia.Mean)",
			name, spec.name, loss.Shape())
	}
	if loss.Dtype() != tensor.Float32 {
		return nil, errors.Errorf("model: loss %q of output %q returned a %v scalar, want float32", name, spec.name, loss.Dtype())
	}
	return loss, nil
}

// load copies n samples into the input and, for training programs, writes
// the one-hot targets: the fast path of a model with one input and one
// output trained on class labels.
func (p *program) load(x []float32, y []int) error {
	if len(x) != len(p.x) {
		return errors.Errorf("batch has %d input values, the graph wants %d", len(x), len(p.x))
	}
	copy(p.x, x)
	if p.train {
		return oneHot(p.y, y, p.batch, p.classes)
	}
	return nil
}

// oneHot writes the one-hot encoding of labels into dst (batch rows of
// width values).
func oneHot(dst []float32, labels []int, batch, width int) error {
	if len(labels) != batch {
		return errors.Errorf("batch has %d labels, the graph wants %d", len(labels), batch)
	}
	for k := range dst {
		dst[k] = 0
	}
	for i, c := range labels {
		if c < 0 || c >= width {
			return errors.Errorf("label %d of sample %d is outside [0, %d)", c, i, width)
		}
		dst[i*width+c] = 1
	}
	return nil
}

// loadInputs copies a batch's values into every input.
func (p *program) loadInputs(inputs [][]float32) error {
	if len(inputs) != len(p.xs) {
		return errors.Errorf("batch has %d inputs, the graph wants %d", len(inputs), len(p.xs))
	}
	for k, x := range inputs {
		if len(x) != len(p.xs[k]) {
			return errors.Errorf("batch has %d values for input %d, the graph wants %d", len(x), k, len(p.xs[k]))
		}
		copy(p.xs[k], x)
	}
	return nil
}

// loadData copies a batch's inputs and, for training programs, its
// targets: labels one-hot encoded, float targets copied.
func (p *program) loadData(bd *batchData) error {
	if err := p.loadInputs(bd.inputs); err != nil {
		return err
	}
	if !p.train {
		return nil
	}
	for k, y := range p.ys {
		name := p.obj.outputs[k].name
		if l := bd.labels[k]; l != nil {
			if err := oneHot(y, l, p.batch, p.widths[k]); err != nil {
				return errors.Wrapf(err, "output %q", name)
			}
			continue
		}
		if len(bd.targets[k]) != len(y) {
			return errors.Errorf("output %q: batch has %d target values, the graph wants %d", name, len(bd.targets[k]), len(y))
		}
		copy(y, bd.targets[k])
	}
	return nil
}

// run executes the graph once. The caller must call reset afterwards, once
// it has read what it needs.
func (p *program) run(step int) error {
	if err := p.b.RunHooks(step); err != nil {
		return err
	}
	return p.exec.run()
}

// reset ends a run once its caller has read what it needs. Values stay in
// the executor until the next run overwrites them; nothing needs freeing.
func (p *program) reset() {}

// logitsData returns the first output of the last run (batch × classes,
// row-major).
func (p *program) logitsData() ([]float32, error) { return p.outputData(0) }

// outputData returns output k of the last run (batch × values, row-major).
func (p *program) outputData(k int) ([]float32, error) {
	v := p.exec.value(p.outs[k])
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, errors.Errorf("model: output %d has type %T", k, v)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, errors.Errorf("model: output %d holds %v, want float32", k, t.Dtype())
	}
	return t.Float32s(), nil
}

// lossValue returns the loss of the last run.
func (p *program) lossValue() (float64, error) { return scalarValue(p.exec.value(p.loss), "loss") }

// outputLoss returns output k's own loss of the last run, with several
// outputs (the total loss otherwise).
func (p *program) outputLoss(k int) (float64, error) {
	if p.losses == nil {
		return p.lossValue()
	}
	return scalarValue(p.exec.value(p.losses[k]), "loss of output "+p.obj.outputs[k].name)
}

// scalarValue returns a scalar value read from a graph.
func scalarValue(v G.Value, what string) (float64, error) {
	switch v := v.(type) {
	case *G.F32:
		return float64(*v), nil
	case *tensor.Dense:
		if v.Dtype() == tensor.Float32 && v.DataSize() > 0 {
			return float64(v.Float32s()[0]), nil
		}
		if d, ok := v.Data().(float32); ok {
			return float64(d), nil
		}
	}
	return 0, errors.Errorf("model: %s has type %T", what, v)
}

// grads returns the gradient slices of the program's parameters from the
// last run, in a slice reused across steps. They are the gradient ops' own
// buffers: read them, do not keep them past the next run.
func (p *program) grads() ([][]float32, error) {
	if p.gradBuf == nil {
		p.gradBuf = make([][]float32, len(p.nodes))
	}
	for i, n := range p.gradNodes {
		g := p.exec.value(n)
		t, ok := g.(*tensor.Dense)
		if !ok {
			return nil, errors.Errorf("gradient of %s has type %T", p.params[i].Name, g)
		}
		p.gradBuf[i] = t.Float32s()
	}
	return p.gradBuf, nil
}

func (p *program) String() string {
	kind := "eval"
	if p.train {
		kind = "train"
	}
	return fmt.Sprintf("%s program (batch %d)", kind, p.batch)
}

// tapCopy is a reused batch-major copy of a feature-major value.
type tapCopy struct {
	data []float32
	t    *tensor.Dense
}

// batchMajor returns the feature-major value v (units × padded batch) as a
// (batch, units) tensor, transposed into c.
func (p *program) batchMajor(c *tapCopy, v *tensor.Dense) (*tensor.Dense, error) {
	s := v.Shape()
	if len(s) != 2 {
		return nil, errors.Errorf("feature-major value of shape %v", s)
	}
	units, bp := s[0], s[1]
	if cap(c.data) < p.batch*units {
		c.data = make([]float32, p.batch*units)
		c.t = tensor.New(tensor.WithShape(p.batch, units), tensor.WithBacking(c.data[:p.batch*units]))
	}
	if err := kernels.Transpose(c.data[:p.batch*units], units, v.Float32s(), bp, units, p.batch); err != nil {
		return nil, err
	}
	return c.t, nil
}

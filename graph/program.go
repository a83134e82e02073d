package graph

import (
	"fmt"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// program is the model compiled into one gorgonia graph for one batch size:
// a training program computes the loss and the gradients of every parameter,
// an evaluation program only the logits.
type program struct {
	batch   int
	train   bool
	classes int

	b       *layers.Builder
	exec    *executor
	x       []float32 // backing of the input node
	y       []float32 // backing of the one-hot target node (training only)
	logits  *G.Node
	loss    *G.Node // training only
	params  []*layers.Param
	nodes   []*G.Node
	taps    []layers.Tap
	opt     []optim.Param
	gradBuf [][]float32
	// gradNodes are the gradient nodes of params, in the same order; their
	// values are read after each run: no dual values, so nothing
	// accumulates and nothing needs clearing between steps.
	gradNodes []*G.Node
}

// program returns the cached program for (batch, train), compiling it on
// first use.
func (m *Model) program(batch int, train bool) (p *program, err error) {
	cache := m.eval
	if train {
		cache = m.train
	}
	if p, ok := cache[batch]; ok {
		return p, nil
	}
	// gorgonia panics on some malformed graphs; report them as errors.
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

func (m *Model) compile(batch int, train bool) (*program, error) {
	b := layers.NewBuilder(train, batch)
	p := &program{batch: batch, train: train, b: b}
	shape := append([]int{batch}, m.input.shape...)
	p.x = make([]float32, tensor.Shape(shape).TotalSize())
	xt := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(p.x))
	xNode := G.NodeFromAny(b.Graph, xt, G.WithName("input:"+m.input.name))

	values := map[*Ref]*G.Node{m.input: xNode}
	for _, r := range m.order {
		if r.layer == nil {
			continue
		}
		ins := make([]*G.Node, len(r.inputs))
		for i, in := range r.inputs {
			ins[i] = values[in]
		}
		out, err := r.layer.Forward(b, ins...)
		if err != nil {
			return nil, errors.Wrap(err, "model")
		}
		values[r] = out
	}
	logits := values[m.output]
	if logits.Dims() != 2 || logits.Shape()[0] != batch {
		return nil, errors.Errorf("model: output %q has shape %v, want (batch %d, classes)", m.output.name, logits.Shape(), batch)
	}
	p.classes = logits.Shape()[1]
	p.logits = logits
	p.params = b.Params()
	for _, prm := range p.params {
		p.nodes = append(p.nodes, b.ParamNode(prm))
	}
	p.taps = b.Taps()

	if !train {
		return p, p.prepare()
	}
	p.y = make([]float32, batch*p.classes)
	yt := tensor.New(tensor.WithShape(batch, p.classes), tensor.WithBacking(p.y))
	yNode := G.NodeFromAny(b.Graph, yt, G.WithName("target"))
	loss, err := crossEntropy(logits, yNode)
	if err != nil {
		return nil, errors.Wrap(err, "model: loss")
	}
	p.loss = loss
	if p.gradNodes, err = G.Grad(loss, p.nodes...); err != nil {
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

// load copies n samples into the input and, for training programs, writes
// the one-hot targets.
func (p *program) load(x []float32, y []int) error {
	if len(x) != len(p.x) {
		return errors.Errorf("batch has %d input values, the graph wants %d", len(x), len(p.x))
	}
	copy(p.x, x)
	if p.train {
		if len(y) != p.batch {
			return errors.Errorf("batch has %d labels, the graph wants %d", len(y), p.batch)
		}
		for k := range p.y {
			p.y[k] = 0
		}
		for i, c := range y {
			if c < 0 || c >= p.classes {
				return errors.Errorf("label %d of sample %d is outside [0, %d)", c, i, p.classes)
			}
			p.y[i*p.classes+c] = 1
		}
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

// logitsData returns the logits of the last run (batch × classes, row-major).
func (p *program) logitsData() ([]float32, error) {
	v := p.exec.value(p.logits)
	t, ok := v.(*tensor.Dense)
	if !ok {
		return nil, errors.Errorf("model: logits have type %T", v)
	}
	return t.Float32s(), nil
}

// lossValue returns the loss of the last run.
func (p *program) lossValue() (float64, error) {
	v := p.exec.value(p.loss)
	switch v := v.(type) {
	case *G.F32:
		return float64(*v), nil
	case *tensor.Dense:
		return float64(v.Float32s()[0]), nil
	}
	return 0, errors.Errorf("model: loss has type %T", v)
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

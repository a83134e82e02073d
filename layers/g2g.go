package layers

import (
	"math"
	"math/rand"

	"github.com/pkg/errors"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/internal/sparse"
)

// Sampling selects how a G2G mask draws its edges.
type Sampling string

const (
	// SampleBernoulli keeps each intra edge with probability Intra and each
	// inter edge with probability Inter, independently: the density is
	// exact only in expectation.
	SampleBernoulli Sampling = "bernoulli"
	// SampleExact keeps exactly round(Intra·#intra) intra edges and
	// round(Inter·#inter) inter edges, chosen uniformly at random.
	SampleExact Sampling = "exact"
	// SampleBlocks is the ensemble-level variant: whole (input ensemble,
	// output ensemble) blocks are on or off. Each output ensemble receives
	// its own input ensemble plus k = Density·Groups − 1 others, drawn at
	// random, so Density·Groups must be a whole number. Such masks run on
	// block-sparse kernels whose cost scales with the density.
	SampleBlocks Sampling = "blocks"
)

// G2GConfig configures an ensemble-to-ensemble masked dense layer.
//
// Connectivity is given either by a target Density (the fraction of the
// In·Out edges kept; Inter is then derived) or by Inter directly. With
// Density set, Inter = (Density − Intra·f)/(1 − f), where f is the fraction
// of intra-ensemble pairs (1/Groups when the groups are equal): this is
// docs/design.md §2.3's p' = (d − 1/G)/(1 − 1/G) for Intra = 1, made exact for unequal
// groups.
type G2GConfig struct {
	// Name is the layer's name (required, unique within a model).
	Name string
	// In and Out are the input and output widths.
	In, Out int
	// Groups is the number of ensembles G on each side (1 <= G <= min(In, Out)).
	Groups int
	// Grouping is the ensemble assignment strategy (default GroupIndex).
	Grouping Grouping
	// Depth is the layer's position among the model's G2G layers (0 for the
	// first); GroupMixer uses it.
	Depth int
	// Intra is p, the probability of keeping an intra-ensemble edge. Zero
	// means the default, 1.
	Intra float64
	// Inter is p', the probability of keeping an inter-ensemble edge; used
	// only when Density is 0.
	Inter float64
	// Density is the target fraction of active edges, in (0, 1]. When set,
	// Inter is derived from it.
	Density float64
	// Sampling selects Bernoulli (default) or exact-count sampling.
	Sampling Sampling
	// Edges, when positive, fixes the exact number of active edges: they
	// are drawn uniformly among all In·Out pairs, whatever their ensembles
	// (docs/design.md §2.3, "exact edge count"). This is the unstructured
	// Erdős–Rényi mask of the baselines; the ensembles then only label the
	// units (for reports and class-scoped rewiring). Density, Inter and
	// Intra must be left zero (Intra may be 1) and Sampling empty or exact.
	Edges int
	// Activation applied to the output (default Linear).
	Activation Activation
	// Init is the weight initializer (default HeUniform); each output
	// unit's active weights are then scaled by sqrt(In / active fan-in).
	Init Initializer
	// NoBias drops the bias term.
	NoBias bool
	// Kernel is the compute kernel of the layer's products (default
	// KernelAuto; see ParseKernel and SetKernel).
	Kernel Kernel
	// Seed drives the grouping, the mask and the initialization, through
	// separate streams.
	Seed int64
}

// G2G is the ensemble-to-ensemble masked dense layer of G2GNet:
// y = act(x·(W⊙M) + b) with W and the mask M shaped (In, Out).
type G2G struct {
	cfg   G2GConfig
	w     *Param
	b     *Param
	mask  *Mask
	bound float64

	keepDense bool         // keep the dense gradient (KeepDenseGrad)
	denseGrad []float32    // xᵀ·dy of the last training step, or nil
	tuning    Tuning       // thresholds of the kernel choice (SetTuning)
	plan      *sparse.Plan // the kernel and its index for the current mask, kernel and tuning
}

// NewG2G builds the layer: assigns ensembles, samples the mask and
// initializes the weights (zero at masked positions).
func NewG2G(cfg G2GConfig) (*G2G, error) {
	if err := checkName("g2g", cfg.Name); err != nil {
		return nil, err
	}
	fail := func(format string, args ...interface{}) (*G2G, error) {
		return nil, errors.Errorf("layer %q: "+format, append([]interface{}{cfg.Name}, args...)...)
	}
	if cfg.In < 1 || cfg.Out < 1 {
		return fail("In and Out must be at least 1, got %d and %d", cfg.In, cfg.Out)
	}
	if cfg.Groups < 1 {
		return fail("Groups must be at least 1, got %d", cfg.Groups)
	}
	if cfg.Groups > cfg.In || cfg.Groups > cfg.Out {
		return fail("Groups (%d) larger than the layer width (in %d, out %d)", cfg.Groups, cfg.In, cfg.Out)
	}
	if cfg.Edges != 0 {
		switch {
		case cfg.Edges < 0 || cfg.Edges > cfg.In*cfg.Out:
			return fail("Edges must be in [1, In·Out = %d], got %d", cfg.In*cfg.Out, cfg.Edges)
		case cfg.Density != 0 || cfg.Inter != 0 || (cfg.Intra != 0 && cfg.Intra != 1):
			return fail("Edges (%d) fixes the mask: leave Density, Inter and Intra unset (got %v, %v, %v)", cfg.Edges, cfg.Density, cfg.Inter, cfg.Intra)
		case cfg.Sampling != "" && cfg.Sampling != SampleExact:
			return fail("Edges (%d) draws an exact count: Sampling must be empty or exact, got %q", cfg.Edges, cfg.Sampling)
		}
		cfg.Sampling = SampleExact
	}
	if cfg.Intra == 0 {
		cfg.Intra = 1
	}
	if !(cfg.Intra > 0 && cfg.Intra <= 1) {
		return fail("Intra (p) must be in (0, 1], got %v", cfg.Intra)
	}
	if cfg.Sampling == "" {
		cfg.Sampling = SampleBernoulli
	}
	if _, err := ParseSampling(string(cfg.Sampling)); err != nil {
		return fail("%v", err)
	}
	if cfg.Sampling == SampleBlocks {
		if cfg.Density == 0 || cfg.Intra != 1 {
			return fail("blocks sampling needs a Density and Intra = 1")
		}
		if k := cfg.Density * float64(cfg.Groups); math.Abs(k-math.Round(k)) > 1e-9 || math.Round(k) < 1 {
			return fail("blocks sampling: Density·Groups = %v must be a whole number ≥ 1 (each output ensemble takes whole input ensembles)", k)
		}
	}
	if cfg.Grouping == "" {
		cfg.Grouping = GroupIndex
	}
	if cfg.Kernel == "" {
		cfg.Kernel = KernelAuto
	}
	kernel, err := ParseKernel(string(cfg.Kernel))
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	cfg.Kernel = kernel
	if _, err := ParseActivation(string(cfg.Activation)); err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	bound, err := cfg.Init.Bound(cfg.In, cfg.Out)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	inG, outG, err := Groups(cfg.Grouping, cfg.In, cfg.Out, cfg.Groups, cfg.Depth, rngs.New(cfg.Seed, "groups/"+cfg.Name))
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	mask, err := NewMask(cfg.In, cfg.Out, inG, outG)
	if err != nil {
		return nil, errors.Wrapf(err, "layer %q", cfg.Name)
	}
	mask.Groups = cfg.Groups
	nIntra := intraPairs(inG, outG, cfg.Groups)
	nInter := cfg.In*cfg.Out - nIntra
	if cfg.Density != 0 {
		if !(cfg.Density > 0 && cfg.Density <= 1) {
			return fail("Density must be in (0, 1], got %v", cfg.Density)
		}
		f := float64(nIntra) / float64(cfg.In*cfg.Out)
		switch {
		case nInter == 0:
			cfg.Inter = 0
			if math.Abs(cfg.Density-cfg.Intra) > 1e-9 {
				return fail("with Groups=1 every edge is intra-ensemble: Density must equal Intra (%v), got %v", cfg.Intra, cfg.Density)
			}
		default:
			cfg.Inter = (cfg.Density - cfg.Intra*f) / (1 - f)
		}
		if cfg.Inter < -1e-12 {
			return fail("Density %v is below the intra-ensemble share Intra·f = %.4g (f = %.4g, about 1/Groups): lower Intra or raise Groups", cfg.Density, cfg.Intra*f, f)
		}
		if cfg.Inter > 1+1e-12 {
			return fail("Density %v needs Inter = %.4g > 1: raise Intra", cfg.Density, cfg.Inter)
		}
		cfg.Inter = math.Min(1, math.Max(0, cfg.Inter))
	} else if !(cfg.Inter >= 0 && cfg.Inter <= 1) {
		return fail("Inter (p') must be in [0, 1], got %v", cfg.Inter)
	}
	sampleMask(mask, cfg, nIntra, nInter, rngs.New(cfg.Seed, "mask/"+cfg.Name))
	if mask.Active() == 0 {
		return fail("the sampled mask has no active edge (Intra %v, Inter %v): raise the density", cfg.Intra, cfg.Inter)
	}

	l := &G2G{cfg: cfg, w: newParam(cfg.Name+"/W", false, cfg.In, cfg.Out), mask: mask, bound: bound, tuning: DefaultTuning()}
	l.w.Mask = mask
	if !cfg.NoBias {
		l.b = newParam(cfg.Name+"/b", true, 1, cfg.Out)
	}
	l.initWeights(rngs.New(cfg.Seed, "init/"+cfg.Name))
	return l, nil
}

func intraPairs(inG, outG []int, g int) int {
	inCount := make([]int, g)
	outCount := make([]int, g)
	for _, v := range inG {
		inCount[v]++
	}
	for _, v := range outG {
		outCount[v]++
	}
	n := 0
	for k := range inCount {
		n += inCount[k] * outCount[k]
	}
	return n
}

func sampleMask(m *Mask, cfg G2GConfig, nIntra, nInter int, rng *rand.Rand) {
	if cfg.Edges > 0 {
		// Partial Fisher-Yates over every pair: the first Edges entries
		// become a uniform sample, blind to the ensembles.
		idx := make([]int, m.Len())
		for k := range idx {
			idx[k] = k
		}
		for a := 0; a < cfg.Edges; a++ {
			b := a + rng.Intn(len(idx)-a)
			idx[a], idx[b] = idx[b], idx[a]
			m.Set(idx[a])
		}
		return
	}
	if cfg.Sampling == SampleBlocks {
		g := cfg.Groups
		k := int(math.Round(cfg.Density*float64(g))) - 1
		on := make([][]bool, g) // on[outGroup][inGroup]
		for j := range on {
			on[j] = make([]bool, g)
			on[j][j] = true
			others := make([]int, 0, g-1)
			for i := 0; i < g; i++ {
				if i != j {
					others = append(others, i)
				}
			}
			for _, p := range rng.Perm(len(others))[:k] {
				on[j][others[p]] = true
			}
		}
		for k := 0; k < m.Len(); k++ {
			i, j := m.Edge(k)
			if on[m.OutGroup[j]][m.InGroup[i]] {
				m.Set(k)
			}
		}
		return
	}
	if cfg.Sampling == SampleBernoulli {
		for k := 0; k < m.Len(); k++ {
			p := cfg.Inter
			if m.IsIntra(k) {
				p = cfg.Intra
			}
			if p >= 1 || rng.Float64() < p {
				m.Set(k)
			}
		}
		return
	}
	intra := make([]int, 0, nIntra)
	inter := make([]int, 0, nInter)
	for k := 0; k < m.Len(); k++ {
		if m.IsIntra(k) {
			intra = append(intra, k)
		} else {
			inter = append(inter, k)
		}
	}
	pick := func(idx []int, p float64) {
		n := int(math.Round(p * float64(len(idx))))
		// Partial Fisher-Yates: the first n entries become a uniform sample.
		for a := 0; a < n; a++ {
			b := a + rng.Intn(len(idx)-a)
			idx[a], idx[b] = idx[b], idx[a]
			m.Set(idx[a])
		}
	}
	pick(intra, cfg.Intra)
	pick(inter, cfg.Inter)
}

// initWeights draws every active weight from the initializer and scales each
// output unit's active weights by sqrt(In / active fan-in). Masked weights
// are zero.
func (l *G2G) initWeights(rng *rand.Rand) {
	w := l.w.Data()
	in, out := l.cfg.In, l.cfg.Out
	fan := make([]int, out)
	for k, v := range l.mask.Data() {
		if v != 0 {
			fan[k%out]++
		}
	}
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			k := i*out + j
			if !l.mask.Has(k) {
				w[k] = 0
				continue
			}
			w[k] = uniform(rng, l.bound) * float32(math.Sqrt(float64(in)/float64(fan[j])))
		}
	}
}

// InitValue draws a fresh initial weight for edge (i, j), with the
// construction-time distribution scaled for output j's current fan-in.
func (l *G2G) InitValue(rng *rand.Rand, i, j int) float32 {
	fan := l.mask.FanIn(j)
	if fan < 1 {
		fan = 1
	}
	return uniform(rng, l.bound) * float32(math.Sqrt(float64(l.cfg.In)/float64(fan)))
}

// Name returns the layer's name.
func (l *G2G) Name() string { return l.cfg.Name }

// Config returns the configuration with defaults and the derived Inter filled in.
func (l *G2G) Config() G2GConfig { return l.cfg }

// Params returns W (masked) and, unless NoBias, b.
func (l *G2G) Params() []*Param {
	if l.b == nil {
		return []*Param{l.w}
	}
	return []*Param{l.w, l.b}
}

// Weight returns the masked weight W.
func (l *G2G) Weight() *Param { return l.w }

// Bias returns b, or nil.
func (l *G2G) Bias() *Param { return l.b }

// Mask returns the connectivity mask.
func (l *G2G) Mask() *Mask { return l.mask }

// MACs returns the multiply-accumulates per sample: the active edges.
func (l *G2G) MACs() int { return l.mask.Active() }

// Forward computes act(x·(W⊙M) + b) with one fused op (see maskedMul) and
// records the layer's input and output.
func (l *G2G) Forward(b *Builder, inputs ...*G.Node) (*G.Node, error) {
	x, err := oneInput(l, inputs)
	if err != nil {
		return nil, err
	}
	// The input may come feature-major from another sparse layer, and the
	// output may go on feature-major when the model asks (see
	// Builder.SetOutputFeatureMajor): the transposes in between are saved.
	op := &maskedMul{opBase: opBase{layer: l, pr: &sparse.Product{}, label: "x·(W⊙M)", a: 0, ra: 0, b: 1, rb: 1, batch: b.Batch},
		diffX: x.Op() != nil} // a graph input (op == nil) needs no gradient
	op.lay = sparse.Layout{InFM: b.FeatureMajor(x), OutFM: b.OutputFeatureMajor() && l.FeatureMajorIO()}
	if op.lay.InFM {
		if want := op.fmShape(l.cfg.In); !x.Shape().Eq(want) {
			return nil, errorf(l, "feature-major input shape %v, want %v", x.Shape(), want)
		}
	} else if x.Dims() != 2 || x.Shape()[1] != l.cfg.In {
		return nil, errorf(l, "input shape %v, want (batch, %d)", x.Shape(), l.cfg.In)
	}
	switch {
	case op.lay.OutFM:
		op.shape = op.fmShape(l.cfg.Out)
	case op.lay.InFM:
		op.shape = tensor.Shape{b.Batch, l.cfg.Out}
	}
	m := b.Constant(l.cfg.Name+"/mask", l.mask.Tensor())
	y, err := G.ApplyOp(op, x, b.Param(l.w), m)
	if err != nil {
		return nil, wrap(l, err, "x·(W⊙M)")
	}
	if op.lay.OutFM {
		b.MarkFeatureMajor(y)
	}
	if y, err = biasAct(l, b, y, l.b, l.cfg.Activation); err != nil {
		return nil, err
	}
	b.Record(l, x, y)
	return y, nil
}

// FeatureMajorIO reports whether the layer can take its input and give its
// output feature-major without converting: it runs on the sparse kernel
// (see FeatureMajorCapable).
func (l *G2G) FeatureMajorIO() bool {
	return l.Kernel() == KernelSparse
}

// KeepDenseGrad turns on (or off, the default) keeping the dense gradient
// xᵀ·dy of every training step, which DenseGrad returns. Keeping it costs a
// copy of W per step and, with block kernels (see SampleBlocks), a full
// dense product; a callback that ranks inactive edges by gradient (RigL, see
// callbacks.DST) turns it on in OnTrainBegin.
func (l *G2G) KeepDenseGrad(on bool) {
	l.keepDense = on
	l.denseGrad = nil
}

// DenseGrad returns dLoss/d(W⊙M) = xᵀ·dy of the last training step, shaped
// like W (In·Out, row-major): the gradient every edge would have received
// had it been active. It is nil unless KeepDenseGrad(true) was called before
// the step. The slice is overwritten by the next step.
func (l *G2G) DenseGrad() []float32 { return l.denseGrad }

// Prune deactivates the edges at the given flat indices and zeroes their
// weights. It fails, changing nothing, if an index is out of range, repeated
// or already inactive.
func (l *G2G) Prune(indices []int) error {
	if err := l.checkIndices(indices, true); err != nil {
		return errors.Wrapf(err, "layer %q: prune", l.cfg.Name)
	}
	w := l.w.Data()
	for _, k := range indices {
		l.mask.Clear(k)
		w[k] = 0
	}
	return nil
}

// Grow activates the edges at the given flat indices with the given initial
// weights (nil for zeros). It fails, changing nothing, if an index is out of
// range, repeated or already active, or if values has the wrong length.
func (l *G2G) Grow(indices []int, values []float32) error {
	if values != nil && len(values) != len(indices) {
		return errors.Errorf("layer %q: grow: %d values for %d indices", l.cfg.Name, len(values), len(indices))
	}
	if err := l.checkIndices(indices, false); err != nil {
		return errors.Wrapf(err, "layer %q: grow", l.cfg.Name)
	}
	w := l.w.Data()
	for n, k := range indices {
		l.mask.Set(k)
		w[k] = 0
		if values != nil {
			w[k] = values[n]
		}
	}
	return nil
}

func (l *G2G) checkIndices(indices []int, wantActive bool) error {
	seen := make(map[int]bool, len(indices))
	for _, k := range indices {
		if k < 0 || k >= l.mask.Len() {
			return errors.Errorf("index %d out of range [0, %d)", k, l.mask.Len())
		}
		if seen[k] {
			return errors.Errorf("index %d given twice", k)
		}
		seen[k] = true
		if l.mask.Has(k) != wantActive {
			state := "inactive"
			if !wantActive {
				state = "active"
			}
			return errors.Errorf("edge %d is already %s", k, state)
		}
	}
	return nil
}

// Package g2gnet builds the reference models of G2GNet (arXiv 2508.14140),
// as docs/design.md §5 describes them: ready-made graph.Model values to
// train, evaluate, rewire or compare.
//
// MLP builds the Fashion-MNIST network 784 → 1024 → 1024 → 1024 → 10 (ReLU
// hidden layers, a dense output layer producing logits); Reference returns
// its configuration. CIFAR puts a patch encoder (one convolution, kernel =
// stride = 8, 32 channels) in front of the same hidden stack; CIFARReference
// returns its configuration for CIFAR-10 or CIFAR-100.
//
// A configuration's Model (a Kind) says what the hidden layers are: G2G
// (ensemble-to-ensemble masked layers, layers.G2G, the paper's model),
// Dense (the dense baseline of the same width), or one of the baselines of
// the paper's comparison (docs/design.md §5.4), each matched to the G2G
// model of the same configuration: DenseMatched (dense, narrowed to the
// same active parameter count), ER (unstructured random masks with the
// same edge count per layer) and ERK (unstructured random masks with
// RigL's Erdős–Rényi-Kernel densities and the same total). The output layer
// is dense in all of them. Every initialization and mask is drawn from streams derived from
// the configuration's Seed, so one seed gives one model, bit for bit.
//
// Change a field of a reference configuration to get a variant:
//
//	cfg := g2gnet.Reference()
//	cfg.Density = 0.125                // 87.5 % sparsity
//	cfg.Grouping = layers.GroupMixer   // the paper's "proposed" grouping
//	model, err := g2gnet.MLP(cfg)
package g2gnet

import (
	"fmt"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/rngs"
	"github.com/g2g-ml/g2g/layers"
)

// Kind names what the hidden layers of a reference model are.
type Kind string

const (
	// Dense hidden layers: the dense baseline of the same widths.
	Dense Kind = "dense"
	// G2G hidden layers: ensemble-to-ensemble masked layers (layers.G2G)
	// configured by MLPConfig's Groups, Grouping, Density, Intra and
	// Sampling.
	G2G Kind = "g2g"
	// DenseMatched hidden layers: dense, narrowed so that the model has
	// within 1 % of the active parameters of the G2G model of the same
	// configuration (docs/design.md §5.4). Every hidden width h_l becomes
	// round(h_l·t/T), T the largest hidden width, with the integer t in
	// [1, T] whose parameter count is closest to the G2G model's; the count
	// grows with t, so t is found exactly by bisection. With equal hidden
	// widths this is the common width closest to the target. A
	// configuration no width comes within 1 % of is an error.
	DenseMatched Kind = "dense-matched"
	// ER hidden layers: unstructured Erdős–Rényi masks (layers.G2G with an
	// exact Edges count, drawn uniformly among all pairs) with exactly as
	// many edges, layer by layer, as the G2G model of the same
	// configuration and seed. The layers carry that model's ensembles as
	// labels only, so that reports measure the intra-ensemble fraction a
	// structure-blind mask has (about 1/Groups).
	ER Kind = "er"
	// ERK hidden layers: unstructured masks like ER, with RigL's
	// Erdős–Rényi-Kernel densities: density_l ∝ (in_l + out_l)/(in_l·out_l),
	// scaled so that the total edge count equals the G2G model's, layers
	// that would exceed density 1 made dense and the rest re-scaled (see
	// ERKEdges).
	ERK Kind = "erk"
)

// hiddenLayer is one hidden layer to build: its name, widths, depth among
// the hidden layers (0 for the first), seed and, for the unstructured
// kinds, its exact edge count.
type hiddenLayer struct {
	name    string
	in, out int
	depth   int
	seed    int64
	edges   int
}

// kinds lists every Kind with the planner of its hidden layers (nil: the
// widths of MLPConfig.Hidden as they are), the builder of one hidden layer
// and whether they are masked, in the order error messages list them.
// Adding a kind is adding its constant and an entry here.
var kinds = []struct {
	kind   Kind
	sparse bool
	plan   func(cfg MLPConfig, in, fixed int) ([]hiddenLayer, error)
	build  func(cfg MLPConfig, h hiddenLayer) (layers.Layer, error)
}{
	{Dense, false, nil, buildDense},
	{G2G, true, nil, buildG2G},
	{DenseMatched, false, planMatched, buildDense},
	{ER, true, planER, buildUnstructured},
	{ERK, true, planERK, buildUnstructured},
}

// buildDense builds a dense ReLU hidden layer.
func buildDense(_ MLPConfig, h hiddenLayer) (layers.Layer, error) {
	return layers.NewDense(layers.DenseConfig{Name: h.name, In: h.in, Out: h.out, Activation: layers.ReLU, Seed: h.seed})
}

// buildG2G builds a G2G ReLU hidden layer.
func buildG2G(cfg MLPConfig, h hiddenLayer) (layers.Layer, error) {
	return layers.NewG2G(layers.G2GConfig{
		Name: h.name, In: h.in, Out: h.out, Groups: cfg.Groups, Grouping: cfg.Grouping, Depth: h.depth,
		Intra: cfg.Intra, Density: cfg.Density, Sampling: cfg.Sampling,
		Activation: layers.ReLU, Seed: h.seed,
	})
}

// buildUnstructured builds an unstructured masked ReLU hidden layer with
// exactly h.edges edges drawn uniformly: a layers.G2G whose ensembles,
// those of the G2G layer it replaces, only label the units.
func buildUnstructured(cfg MLPConfig, h hiddenLayer) (layers.Layer, error) {
	return layers.NewG2G(layers.G2GConfig{
		Name: h.name, In: h.in, Out: h.out, Groups: cfg.Groups, Grouping: cfg.Grouping, Depth: h.depth,
		Edges: h.edges, Activation: layers.ReLU, Seed: h.seed,
	})
}

// Kinds returns every known Kind.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for n, k := range kinds {
		out[n] = k.kind
	}
	return out
}

// ParseKind converts a name ("dense", "g2g", "dense-matched", "er", "erk")
// to a Kind.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	return k, k.Validate()
}

// Validate returns an error naming k and the known kinds if k is not one
// of them.
func (k Kind) Validate() error {
	for _, e := range kinds {
		if e.kind == k {
			return nil
		}
	}
	names := make([]string, len(kinds))
	for n, e := range kinds {
		names[n] = string(e.kind)
	}
	want := names[0]
	if len(names) > 1 {
		want = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	return errors.Errorf("unknown model %q (want %s)", string(k), want)
}

// Sparse reports whether k's hidden layers are masked (layers.Sparse), so
// that rewiring callbacks have something to rewire. It is false for an
// unknown kind.
func (k Kind) Sparse() bool {
	for _, e := range kinds {
		if e.kind == k {
			return e.sparse
		}
	}
	return false
}

// String returns the kind's name.
func (k Kind) String() string { return string(k) }

// MLPConfig describes an MLP whose hidden layers are dense or G2G, followed
// by a dense output layer producing logits.
type MLPConfig struct {
	// Input is the number of input features (784 for 28×28 images).
	Input int
	// Hidden are the hidden widths, e.g. {1024, 1024, 1024}; at least one.
	Hidden []int
	// Classes is the number of outputs.
	Classes int
	// Model is what the hidden layers are: Dense, G2G, DenseMatched, ER or
	// ERK. The last three are matched to the G2G model that this
	// configuration with Model G2G describes.
	Model Kind
	// Groups is the number of ensembles G on each side of a G2G layer.
	Groups int
	// Grouping is how units are assigned to ensembles (layers.GroupIndex,
	// GroupRandom or GroupMixer).
	Grouping layers.Grouping
	// Density is the fraction of each G2G weight matrix's edges kept, in
	// (0, 1] (sparsity = 1 − Density).
	Density float64
	// Intra is p, the probability of keeping an intra-ensemble edge, in
	// (0, 1].
	Intra float64
	// Sampling is how G2G masks draw their edges (layers.SampleExact,
	// SampleBernoulli or SampleBlocks).
	Sampling layers.Sampling
	// Seed drives every initialization and mask, through streams derived
	// per layer.
	Seed int64
}

// Reference returns docs/design.md §5's Fashion-MNIST configuration: 784
// inputs, G2G hidden layers 1024 → 1024 → 1024 with index grouping, G = 8,
// p = 1, density 0.25 (75 % sparsity), exact sampling, 10 classes, seed 1.
func Reference() MLPConfig {
	return MLPConfig{
		Input: 784, Hidden: []int{1024, 1024, 1024}, Classes: 10,
		Model: G2G, Groups: 8, Grouping: layers.GroupIndex, Density: 0.25, Intra: 1,
		Sampling: layers.SampleExact, Seed: 1,
	}
}

// MLP builds the model cfg describes: ReLU hidden layers named hidden1,
// hidden2, ... (of the kind cfg.Model says) and a dense output layer
// named output, Glorot-initialized, producing logits. Its input shape is
// (Input).
func MLP(cfg MLPConfig) (*graph.Model, error) {
	ls, err := stack(cfg, cfg.Input, 0)
	if err != nil {
		return nil, err
	}
	return graph.Sequential([]int{cfg.Input}, ls...)
}

// entry returns the kinds entry of k, or an error naming the known kinds.
func entry(k Kind) (int, error) {
	if err := k.Validate(); err != nil {
		return 0, err
	}
	for n, e := range kinds {
		if e.kind == k {
			return n, nil
		}
	}
	return 0, nil // unreachable: Validate found it
}

// uniformPlan returns the hidden layers of cfg.Hidden on in features, as
// given.
func uniformPlan(cfg MLPConfig, in int) []hiddenLayer {
	var hs []hiddenLayer
	for d, width := range cfg.Hidden {
		name := fmt.Sprintf("hidden%d", d+1)
		hs = append(hs, hiddenLayer{name: name, in: in, out: width, depth: d, seed: rngs.Derive(cfg.Seed, name)})
		in = width
	}
	return hs
}

// stack returns the hidden layers of cfg on in features and the dense
// output layer. fixed counts the parameters of the layers in front of the
// stack (the CIFAR encoder), which a parameter-matched kind adds to both
// sides of its comparison.
func stack(cfg MLPConfig, in, fixed int) ([]layers.Layer, error) {
	n, err := entry(cfg.Model)
	if err != nil {
		return nil, err
	}
	if len(cfg.Hidden) == 0 {
		return nil, errors.New("no hidden layers")
	}
	plan := uniformPlan(cfg, in)
	if kinds[n].plan != nil {
		if plan, err = kinds[n].plan(cfg, in, fixed); err != nil {
			return nil, errors.Wrapf(err, "model %s", cfg.Model)
		}
	}
	var ls []layers.Layer
	for _, h := range plan {
		l, err := kinds[n].build(cfg, h)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		in = h.out
	}
	out, err := layers.NewDense(layers.DenseConfig{
		Name: "output", In: in, Out: cfg.Classes, Init: layers.GlorotUniform, Seed: rngs.Derive(cfg.Seed, "output"),
	})
	if err != nil {
		return nil, err
	}
	return append(ls, out), nil
}

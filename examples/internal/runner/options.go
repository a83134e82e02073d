// Package runner is the training command shared by the examples
// (fashion-mnist, cifar10, cifar100) and the g2g tool: flags, model
// building, data loading, rewiring callbacks, checkpoints, resume, export,
// and the results table and JSON line. Like the other packages under
// examples/internal (experiment, report, fixtures), it is the commands'
// private machinery, not library API: library users build the models with
// graph/g2gnet and train them with graph.Model.Fit.
//
// Options holds one field per flag, typed as the library types them
// (g2gnet.Kind, layers.Grouping, callbacks.Criterion, ...). RegisterFlags
// converts each flag's text with the library's own parse function when the
// flag is set, so a bad name fails at parse time with the library's message
// and the flag's name; the library validates what it builds. Options
// marshal to the same JSON as the string fields they replaced, which
// checkpoints store and -resume compares.
package runner

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
)

// Options are a training run's settings, one field per flag.
type Options struct {
	// Model.
	Model    g2gnet.Kind     `json:"model"`
	Grouping layers.Grouping `json:"grouping"`
	Density  float64         `json:"density"`
	Intra    float64         `json:"intra"`
	Groups   int             `json:"groups"`
	Sampling layers.Sampling `json:"sampling"`
	Hidden   string          `json:"hidden"`
	// Kernel forces the G2G layers' compute kernel (auto, dense, blocks
	// or sparse; "" leaves the layers' default); results agree to float32
	// rounding.
	Kernel layers.Kernel `json:"kernel,omitempty"`
	// Training.
	Epochs int     `json:"-"`
	Batch  int     `json:"batch"`
	LR     float64 `json:"lr"`
	Seed   int64   `json:"seed"`
	// WeightDecay is Adam's weight decay (biases exempt): coupled L2 as
	// torch.optim.Adam's weight_decay, or with Decoupled AdamW's; see
	// NewOptimizer. Zero values are left out of the stored configuration,
	// which therefore reads as it did before these options existed.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	Decoupled   bool    `json:"decoupled,omitempty"`
	// LRSchedule is the per-epoch learning-rate schedule ("" constant).
	LRSchedule LRSchedule `json:"lr_schedule,omitempty"`
	// Rewiring.
	DST      bool                `json:"dst"`
	Hebbian  bool                `json:"hebbian"`
	Zeta     float64             `json:"zeta"`
	Prune    callbacks.Criterion `json:"prune"`
	Regrow   callbacks.Criterion `json:"regrow"`
	Anneal   callbacks.Anneal    `json:"anneal"`
	Scope    callbacks.Scope     `json:"scope"`
	GrowInit callbacks.GrowInit  `json:"grow_init"`
	Measure  callbacks.Measure   `json:"measure"`
	HebbianN int                 `json:"hebbian_n"`
	// Data.
	Data     string `json:"-"`
	Augment  bool   `json:"augment"`
	Download bool   `json:"-"`
	Mirror   string `json:"-"`
	Labels   string `json:"labels,omitempty"`
	// Output, checkpoints.
	Log             string `json:"-"`
	JSON            bool   `json:"-"`
	Quiet           bool   `json:"-"`
	CPUProfile      string `json:"-"`
	Save            string `json:"-"`
	Export          string `json:"-"`
	CheckpointDir   string `json:"-"`
	CheckpointEvery int    `json:"-"`
	KeepCheckpoints int    `json:"-"`
	Resume          string `json:"-"`
	// DivergeFactor stops a run whose epoch loss exceeds this many times
	// its first batch's (callbacks.TerminateOnDivergence); 0: no check.
	DivergeFactor float64 `json:"-"`
}

// Defaults returns the reference settings of docs/design.md §5 for ds.
func Defaults(ds *Dataset) Options {
	return Options{
		Model: g2gnet.G2G, Grouping: layers.GroupIndex, Density: 0.25, Intra: 1, Groups: 8, Sampling: layers.SampleExact,
		Hidden: ds.Hidden, Kernel: layers.KernelAuto, Epochs: ds.Epochs, Batch: 256, LR: 1e-3, Seed: 1,
		Zeta: 0.1, Prune: callbacks.CriterionMagnitude, Regrow: callbacks.CriterionRandom, Anneal: callbacks.AnnealConstant,
		Scope: callbacks.ScopeAnywhere, GrowInit: callbacks.GrowZero, Measure: callbacks.MeasurePearson,
		HebbianN: callbacks.DefaultHebbianEveryN,
		Augment:  ds.Augmentable, Labels: ds.DefaultLabels,
		CheckpointDir: "checkpoints", DivergeFactor: callbacks.DefaultDivergenceFactor,
	}
}

// nameFlag is the flag.Value of an option whose type is a library name
// type: Set converts the text with the library's parse function, so a bad
// name is refused while the flags are parsed, with the library's message.
type nameFlag[T ~string] struct {
	p     *T
	parse func(string) (T, error)
}

func (f nameFlag[T]) String() string {
	if f.p == nil {
		return ""
	}
	return string(*f.p)
}

func (f nameFlag[T]) Set(s string) error {
	v, err := f.parse(s)
	if err != nil {
		return err
	}
	*f.p = v
	return nil
}

// nameVar defines flag name on fs for *p, parsed by parse, with *p's value
// as its default.
func nameVar[T ~string](fs *flag.FlagSet, p *T, name string, parse func(string) (T, error), usage string) {
	fs.Var(nameFlag[T]{p, parse}, name, usage)
}

// RegisterFlags defines a flag for every option on fs, with o's values as
// defaults.
func RegisterFlags(fs *flag.FlagSet, o *Options, ds *Dataset) {
	nameVar(fs, &o.Model, "model", g2gnet.ParseKind, "model: dense, g2g, or a baseline matched to the G2G model of the other flags: "+
		"dense-matched (dense, narrowed to within 1 % of its active parameters), er (unstructured random masks, the same edges per layer) "+
		"or erk (unstructured, Erdős–Rényi-Kernel densities, the same edges in all)")
	nameVar(fs, &o.Grouping, "grouping", layers.ParseGrouping, "G2G ensemble grouping: index, random or mixer")
	fs.Float64Var(&o.Density, "density", o.Density, "G2G density: fraction of edges kept, in (0, 1]")
	fs.Float64Var(&o.Intra, "intra", o.Intra, "G2G p: probability of keeping an intra-ensemble edge, in (0, 1]")
	fs.IntVar(&o.Groups, "groups", o.Groups, "G2G ensembles per layer side")
	nameVar(fs, &o.Kernel, "kernel", layers.ParseKernel, "compute kernel of the G2G layers: auto (by density), dense, blocks or sparse")
	nameVar(fs, &o.Sampling, "sampling", layers.ParseSampling, "G2G mask sampling: exact (exact edge counts), bernoulli (per edge), or blocks (ensemble-level: whole blocks, block-sparse kernels)")
	fs.StringVar(&o.Hidden, "hidden", o.Hidden, "hidden layer widths, comma-separated")
	fs.IntVar(&o.Epochs, "epochs", o.Epochs, "training epochs (in total, when resuming)")
	fs.IntVar(&o.Batch, "batch", o.Batch, "batch size")
	fs.Float64Var(&o.LR, "lr", o.LR, "Adam learning rate")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "Adam weight decay, coupled L2 as torch.optim.Adam's weight_decay (biases exempt; 0: none)")
	fs.BoolVar(&o.Decoupled, "decoupled", o.Decoupled, "decouple the weight decay from the gradient: AdamW (torch.optim.AdamW)")
	nameVar(fs, &o.LRSchedule, "lr-schedule", ParseLRSchedule, "learning rate per epoch: constant (default), cosine (to 0 over the run, as torch's CosineAnnealingLR), "+
		"linear (to 0), or step:EVERY:GAMMA (times GAMMA every EVERY epochs)")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "random seed for everything")
	fs.BoolVar(&o.DST, "dst", o.DST, "dynamic sparse training: prune and regrow after every epoch but the last")
	fs.BoolVar(&o.Hebbian, "hebbian", o.Hebbian, "Hebbian rewiring after every epoch but the last (not with -dst; use -dst -regrow hebbian)")
	fs.Float64Var(&o.Zeta, "zeta", o.Zeta, "rewiring: fraction of each layer's active edges replaced per update, in (0, 1)")
	nameVar(fs, &o.Prune, "prune", callbacks.ParseCriterion, "DST prune criterion: magnitude, random or hebbian")
	nameVar(fs, &o.Regrow, "regrow", callbacks.ParseCriterion, "DST regrowth criterion: random, gradient or hebbian")
	nameVar(fs, &o.Anneal, "anneal", callbacks.ParseAnneal, "DST update-fraction decay: constant, cosine or linear")
	nameVar(fs, &o.Scope, "scope", callbacks.ParseScope, "rewiring scope: anywhere, or class to keep the intra/inter-ensemble counts")
	nameVar(fs, &o.GrowInit, "grow-init", callbacks.ParseGrowInit, "initial weight of regrown edges: zero or init (Hebbian also: sign)")
	nameVar(fs, &o.Measure, "measure", callbacks.ParseMeasure, "Hebbian score: pearson or cosine")
	fs.IntVar(&o.HebbianN, "hebbian-n", o.HebbianN, "gather Hebbian statistics on every n-th batch")
	fs.StringVar(&o.Data, "data", o.Data, ds.DataHelp)
	if ds.Augmentable {
		fs.BoolVar(&o.Augment, "augment", o.Augment, "random crop (padding 4) and horizontal flip of training images")
	}
	if ds.Remote != nil {
		fs.BoolVar(&o.Download, "download", o.Download, "download the official set into the user cache if it is not found")
		fs.StringVar(&o.Mirror, "mirror", o.Mirror, "base URL to download from instead of the official one (with -download)")
	}
	if ds.DefaultLabels != "" {
		fs.StringVar(&o.Labels, "labels", o.Labels, "CIFAR-100 labels: fine (100 classes) or coarse (20 super-classes)")
	}
	fs.StringVar(&o.Log, "log", o.Log, "write per-epoch metrics to this file (.csv or .jsonl)")
	fs.BoolVar(&o.JSON, "json", o.JSON, "end with one JSON line of results on stdout")
	fs.BoolVar(&o.Quiet, "quiet", o.Quiet, "no progress output")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the training loop to this file (go tool pprof)")
	fs.StringVar(&o.Save, "save", o.Save, "save the final training state (weights, masks, optimizer, rewiring) to this .npz checkpoint")
	fs.StringVar(&o.Export, "export", o.Export, "export the trained model for inference (active weights only) to this .npz file")
	fs.IntVar(&o.CheckpointEvery, "checkpoint-every", o.CheckpointEvery, "save a checkpoint every n epochs into -checkpoint-dir (0: none)")
	fs.StringVar(&o.CheckpointDir, "checkpoint-dir", o.CheckpointDir, "directory for -checkpoint-every")
	fs.IntVar(&o.KeepCheckpoints, "keep-checkpoints", o.KeepCheckpoints, "keep only the newest n periodic checkpoints (0: all)")
	fs.StringVar(&o.Resume, "resume", o.Resume, "resume from this checkpoint file, or the newest one in this directory")
	fs.Float64Var(&o.DivergeFactor, "diverge-factor", o.DivergeFactor, "fail when an epoch's mean loss exceeds this many times the first batch's (0: no check)")
}

// HiddenWidths parses Hidden.
func (o *Options) HiddenWidths() ([]int, error) {
	var out []int
	for _, f := range strings.Split(o.Hidden, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || w < 1 {
			return nil, errors.Errorf("-hidden %q: want positive widths separated by commas", o.Hidden)
		}
		out = append(out, w)
	}
	return out, nil
}

// Validate checks what the library does not check, or checks only after
// the data has loaded, naming the flag at fault. The flags' names (model,
// grouping, ...) were checked when they were parsed; the model's and the
// callbacks' builders check the rest (e.g. groups wider than a layer, a
// criterion DST does not take).
func (o *Options) Validate() error {
	switch {
	case !(o.Density > 0 && o.Density <= 1):
		return errors.Errorf("-density %v: want a value in (0, 1]", o.Density)
	case !(o.Intra > 0 && o.Intra <= 1):
		return errors.Errorf("-intra %v: want a value in (0, 1]", o.Intra)
	case o.Groups < 1:
		return errors.Errorf("-groups %d: want at least 1", o.Groups)
	case o.Epochs < 1:
		return errors.Errorf("-epochs %d: want at least 1", o.Epochs)
	case o.Batch < 1:
		return errors.Errorf("-batch %d: want at least 1", o.Batch)
	case o.DST && o.Hebbian:
		return errors.New("-dst and -hebbian both rewire: use one (-dst -regrow hebbian is DST with Hebbian regrowth)")
	case (o.DST || o.Hebbian) && !o.Model.Sparse():
		return errors.Errorf("-dst and -hebbian need a sparse -model (g2g, er or erk), got %q", o.Model)
	case math.IsNaN(o.Zeta) || math.IsInf(o.Zeta, 0):
		return errors.Errorf("-zeta %v: want a value in (0, 1)", o.Zeta)
	case (o.DST || o.Hebbian) && !(o.Zeta > 0 && o.Zeta < 1):
		return errors.Errorf("-zeta %v: want a value in (0, 1)", o.Zeta)
	case o.HebbianN < 1:
		return errors.Errorf("-hebbian-n %d: want at least 1", o.HebbianN)
	case o.Mirror != "" && !o.Download:
		return errors.New("-mirror needs -download")
	case o.Labels != "" && o.Labels != "fine" && o.Labels != "coarse":
		return errors.Errorf("-labels %q: want fine or coarse", o.Labels)
	case o.CheckpointEvery < 0:
		return errors.Errorf("-checkpoint-every %d: want 0 or more", o.CheckpointEvery)
	case o.KeepCheckpoints < 0:
		return errors.Errorf("-keep-checkpoints %d: want 0 or more", o.KeepCheckpoints)
	case o.DivergeFactor != 0 && !(o.DivergeFactor > 1 && o.DivergeFactor <= math.MaxFloat64):
		return errors.Errorf("-diverge-factor %v: want 0 (no check) or a finite value above 1", o.DivergeFactor)
	}
	if _, err := o.HiddenWidths(); err != nil {
		return err
	}
	// The optimizer checks the learning rate and weight decay (Run builds
	// the same one).
	return o.checkOptimizer()
}

// Describe returns a short name of the model for tables, e.g.
// "g2g (index, G=8, d=0.25, dst magnitude/random)".
func (o *Options) Describe(rewiring string) string {
	switch o.Model {
	case g2gnet.G2G:
	case g2gnet.DenseMatched:
		return fmt.Sprintf("dense-matched (d=%g)", o.Density)
	case g2gnet.ER, g2gnet.ERK:
		s := fmt.Sprintf("%s (d=%g", o.Model, o.Density)
		if rewiring != "" {
			s += ", " + rewiring
		}
		return s + ")"
	default:
		return string(o.Model)
	}
	s := fmt.Sprintf("g2g (%s, G=%d, d=%g", o.Grouping, o.Groups, o.Density)
	if o.Sampling == layers.SampleBlocks {
		s += ", blocks"
	}
	if rewiring != "" {
		s += ", " + rewiring
	}
	return s + ")"
}

// Parse parses args into options starting from ds's defaults.
func Parse(ds *Dataset, args []string, stderr io.Writer) (Options, error) {
	o := Defaults(ds)
	fs := flag.NewFlagSet(ds.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	RegisterFlags(fs, &o, ds)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, errors.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, o.Validate()
}

package experiment

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/examples/internal/runner"
)

// Table1Methods are the methods of the table1 preset: the four rows of the
// paper's Table I (docs/design.md §5.4) — dense of the same width, dense
// with the same active parameters, Erdős–Rényi random sparse with the same
// edges, G2GNet (index and the "proposed" mixer grouping) — plus ERK, and
// the random graph and G2GNet each rewired by DST with Hebbian regrowth
// (the paper's combination), so that structure is compared with and
// without rewiring.
const Table1Methods = "dense,dense-matched,er,erk,g2g-index,g2g-mixer,er+dst-hebbian,g2g-mixer+dst-hebbian"

// AblationMethods are the methods of the ablation preset: DST on the mixer
// G2GNet with every prune rule (magnitude, random, Hebbian) crossed with
// every regrowth rule (random, Hebbian), and the static references dense,
// er and g2g-mixer that the report compares them with (shared with a
// table1 grid in the same directory).
const AblationMethods = "dense,er,g2g-mixer," +
	"g2g-mixer+dst-magnitude-random,g2g-mixer+dst-magnitude-hebbian," +
	"g2g-mixer+dst-random-random,g2g-mixer+dst-random-hebbian," +
	"g2g-mixer+dst-hebbian-random,g2g-mixer+dst-hebbian-hebbian"

// Preset is a named set of grid defaults that reproduces one of the
// paper's tables with one command (g2g experiment -preset NAME -dataset
// ...). It sets the methods, densities, seeds, epochs (per data set),
// learning rate, weight decay and batch size; flags given on the command
// line still override each of them.
type Preset struct {
	// Name is what -preset takes.
	Name string
	// Summary says what the preset reproduces, for the help text.
	Summary string
	// Epochs lists the data sets the preset is defined for, with the
	// epochs of each.
	Epochs map[string]int
	// Methods, Densities and Seeds are comma-separated lists, as the flags
	// take them.
	Methods, Densities, Seeds string
	// LR, WeightDecay and Batch are Adam's learning rate, its (coupled)
	// weight decay and the batch size.
	LR, WeightDecay float64
	Batch           int
}

// Presets returns every preset: table1 (docs/design.md §5.4's Table I at
// density 0.25, 3 seeds, 20 epochs on Fashion-MNIST and 30 on CIFAR, Adam
// lr 1e-3, weight decay 1e-4, batch 256) and ablation (its DST ablation on
// Fashion-MNIST, same recipe).
func Presets() []Preset {
	return []Preset{
		{
			Name:    "table1",
			Summary: "the paper's Table I: dense, dense-matched, er, erk, g2g-index, g2g-mixer, er and g2g-mixer with DST+Hebbian",
			Epochs:  map[string]int{"fashion-mnist": 20, "cifar10": 30, "cifar100": 30},
			Methods: Table1Methods, Densities: "0.25", Seeds: "1,2,3",
			LR: 1e-3, WeightDecay: 1e-4, Batch: 256,
		},
		{
			Name:    "ablation",
			Summary: "the DST ablation: g2g-mixer pruned by magnitude, random or hebbian × regrown by random or hebbian",
			Epochs:  map[string]int{"fashion-mnist": 20},
			Methods: AblationMethods, Densities: "0.25", Seeds: "1,2,3",
			LR: 1e-3, WeightDecay: 1e-4, Batch: 256,
		},
	}
}

// datasets returns the data sets p is defined for, sorted.
func (p Preset) datasets() []string {
	var names []string
	for n := range p.Epochs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupPreset returns the preset called name, or an error listing them.
func LookupPreset(name string) (Preset, error) {
	var names []string
	for _, p := range Presets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Preset{}, errors.Errorf("-preset %q: want one of %s", name, strings.Join(names, ", "))
}

// Apply sets p's defaults into g and the three lists, for g.Dataset; it
// refuses a data set p is not defined for.
func (p Preset) Apply(g *Grid, methods, densities, seeds *string) error {
	epochs, ok := p.Epochs[g.Dataset]
	if !ok {
		return errors.Errorf("-preset %s is defined for %s, not -dataset %s", p.Name, strings.Join(p.datasets(), ", "), g.Dataset)
	}
	g.Epochs = epochs
	g.Base.Epochs, g.Base.LR, g.Base.WeightDecay, g.Base.Batch = epochs, p.LR, p.WeightDecay, p.Batch
	*methods, *densities, *seeds = p.Methods, p.Densities, p.Seeds
	return nil
}

// presetHelp documents the -preset flag.
func presetHelp() string {
	var b strings.Builder
	b.WriteString("a named grid that reproduces one of the paper's tables (flags given still override its settings); " +
		"its default -out is paper-<dataset>, so that presets share their common cells:")
	for _, p := range Presets() {
		var sets []string
		for _, d := range p.datasets() {
			sets = append(sets, fmt.Sprintf("%s %d epochs", d, p.Epochs[d]))
		}
		fmt.Fprintf(&b, "\n%s: %s; densities %s, seeds %s, Adam lr %g, weight decay %g, batch %d; %s",
			p.Name, p.Summary, p.Densities, p.Seeds, p.LR, p.WeightDecay, p.Batch, strings.Join(sets, ", "))
	}
	return b.String()
}

// applyPreset applies the preset that a -preset flag in args names (none:
// nothing) to g and the lists, and returns its name.
func applyPreset(args []string, g *Grid, methods, densities, seeds *string) (string, error) {
	name := runner.FlagValue(args, "preset", "")
	if name == "" {
		return "", nil
	}
	p, err := LookupPreset(name)
	if err != nil {
		return name, err
	}
	return name, p.Apply(g, methods, densities, seeds)
}

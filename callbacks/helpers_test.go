package callbacks

import (
	"math/rand"
	"testing"

	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// data16 returns n samples of 16 features in [0, 1); the label says whether
// the first half sums to more than the second.
func data16(n int, seed int64) *datasets.Dataset {
	rng := rand.New(rand.NewSource(seed))
	d := &datasets.Dataset{Name: "toy16", X: make([]float32, 16*n), Y: make([]int, n), Shape: []int{16}, Classes: 2}
	for i := 0; i < n; i++ {
		x := d.X[16*i : 16*i+16]
		var a, b float32
		for j := range x {
			x[j] = rng.Float32()
			if j < 8 {
				a += x[j]
			} else {
				b += x[j]
			}
		}
		if a > b {
			d.Y[i] = 1
		}
	}
	return d
}

// tinyNet is 16 → G2G 16 → G2G 16 → dense 2 with ReLU hidden layers, 4
// ensembles and density 0.5 (intra edges kept with probability intra).
type tinyNet struct {
	model  *graph.Model
	h1, h2 *layers.G2G
}

func newTinyNet(t testing.TB, seed int64, intra float64) *tinyNet {
	t.Helper()
	mk := func(name string, s int64) *layers.G2G {
		l, err := layers.NewG2G(layers.G2GConfig{
			Name: name, In: 16, Out: 16, Groups: 4, Density: 0.5, Intra: intra,
			Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: s,
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	n := &tinyNet{h1: mk("h1", seed), h2: mk("h2", seed+1)}
	out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 2, Seed: seed + 2})
	if err != nil {
		t.Fatal(err)
	}
	if n.model, err = graph.Sequential([]int{16}, n.h1, n.h2, out); err != nil {
		t.Fatal(err)
	}
	return n
}

func newAdam(t testing.TB, lr float64) *optim.Adam {
	t.Helper()
	opt, err := optim.NewAdam(optim.AdamConfig{LR: lr})
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// fit trains n with the given callbacks on 64 samples in batches of 16.
func (n *tinyNet) fit(t testing.TB, opt optim.Optimizer, epochs int, cbs ...graph.Callback) *graph.History {
	t.Helper()
	hist, err := n.model.Fit(data16(64, 7), graph.FitConfig{
		Epochs: epochs, BatchSize: 16, Optimizer: opt, Seed: 3, Callbacks: cbs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

// masksOf returns copies of the masks of the model's sparse layers.
func masksOf(m *graph.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, l := range m.SparseLayers() {
		out[l.Name()] = append([]float32(nil), l.Mask().Data()...)
	}
	return out
}

// probe checks the rewiring invariants from inside Fit. List it after the
// rewiring callbacks.
type probe struct {
	graph.BaseCallback
	t      testing.TB
	opt    optim.Optimizer
	src    func() []RewireReport // the rewiring callback's reports
	active map[string]int
	before map[string][]float32
	seen   int // reports checked so far
	// changed counts the edges whose mask changed, over the run.
	changed int
}

func (p *probe) OnTrainBegin(c *graph.Context) error {
	p.active = map[string]int{}
	for _, l := range c.Sparse {
		p.active[l.Name()] = l.Mask().Active()
	}
	return nil
}

func (p *probe) OnEpochBegin(c *graph.Context) error {
	p.before = masksOf(c.Model)
	return nil
}

func (p *probe) OnBatchEnd(c *graph.Context) error {
	p.checkMasked(c, "after an optimizer step")
	return nil
}

// checkMasked checks that masked weights are exactly zero and that the
// active counts have not moved.
func (p *probe) checkMasked(c *graph.Context, when string) {
	p.t.Helper()
	for _, l := range c.Sparse {
		m, w := l.Mask(), l.Weight().Data()
		for k, v := range m.Data() {
			if v == 0 && w[k] != 0 {
				p.t.Fatalf("%s: layer %s edge %d is masked but its weight is %v (epoch %d, step %d)", when, l.Name(), k, w[k], c.Epoch, c.Step)
			}
		}
		if m.Active() != p.active[l.Name()] {
			p.t.Fatalf("%s: layer %s has %d active edges, started with %d", when, l.Name(), m.Active(), p.active[l.Name()])
		}
	}
}

func (p *probe) OnEpochEnd(c *graph.Context) error {
	p.t.Helper()
	p.checkMasked(c, "after the epoch's update")
	reps := p.src()
	fresh := reps[p.seen:]
	p.seen = len(reps)
	var st optim.State
	if len(fresh) > 0 {
		st = p.opt.State()
	}
	for _, l := range c.Sparse {
		name := l.Name()
		var rep *RewireReport
		for i := range fresh {
			if fresh[i].Layer == name {
				if rep != nil {
					p.t.Fatalf("two updates of %s in one epoch; the probe expects one", name)
				}
				rep = &fresh[i]
			}
		}
		prev, now := p.before[name], l.Mask().Data()
		var pruned, grown []int
		for k := range now {
			switch {
			case prev[k] != 0 && now[k] == 0:
				pruned = append(pruned, k)
			case prev[k] == 0 && now[k] != 0:
				grown = append(grown, k)
			}
		}
		if rep == nil {
			if len(pruned)+len(grown) > 0 {
				p.t.Fatalf("epoch %d: layer %s changed without an update", c.Epoch, name)
			}
			continue
		}
		// An edge pruned and regrown in the same update would not show in
		// the mask difference: the counts would fall short of the report.
		if len(pruned) != rep.Pruned || len(grown) != rep.Regrown || rep.Pruned != rep.Regrown {
			p.t.Fatalf("epoch %d: layer %s: mask shows -%d +%d, report says -%d +%d", c.Epoch, name, len(pruned), len(grown), rep.Pruned, rep.Regrown)
		}
		p.changed += len(pruned) + len(grown)
		slots := st.Slots[l.Weight().Name]
		for _, k := range append(pruned, grown...) {
			for sn, s := range slots {
				if s[k] != 0 {
					p.t.Fatalf("epoch %d: layer %s edge %d changed but optimizer slot %s is %v", c.Epoch, name, k, sn, s[k])
				}
			}
		}
		if got := c.Logs[name+"/pruned"]; got != float64(rep.Pruned) {
			p.t.Fatalf("logs %s/pruned = %v, report %d", name, got, rep.Pruned)
		}
	}
	return nil
}

func newRand(seed int64) *rand.Rand { return rand.New(rand.NewSource(seed)) }

package callbacks_test

import (
	"fmt"
	"math/rand"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/datasets"
	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

// tinyModel returns a model 8 → G2G 16 (density 0.5) → dense 2 and a
// synthetic two-class data set.
func tinyModel() (*graph.Model, *datasets.Dataset, error) {
	g, err := layers.NewG2G(layers.G2GConfig{
		Name: "hidden", In: 8, Out: 16, Groups: 2, Density: 0.5,
		Sampling: layers.SampleExact, Activation: layers.ReLU, Seed: 1,
	})
	if err != nil {
		return nil, nil, err
	}
	out, err := layers.NewDense(layers.DenseConfig{Name: "out", In: 16, Out: 2, Seed: 2})
	if err != nil {
		return nil, nil, err
	}
	model, err := graph.Sequential([]int{8}, g, out)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewSource(3))
	d := &datasets.Dataset{Name: "toy", X: make([]float32, 8*64), Y: make([]int, 64), Shape: []int{8}, Classes: 2}
	for i := range d.Y {
		for j := 0; j < 8; j++ {
			d.X[8*i+j] = rng.Float32()
		}
		if d.X[8*i] > d.X[8*i+1] {
			d.Y[i] = 1
		}
	}
	return model, d, nil
}

// DST with magnitude pruning and random regrowth (SET): after each of the
// first epochs, a quarter of the active edges are replaced; the density
// stays 0.5.
func ExampleNewDST() {
	model, train, err := tinyModel()
	if err != nil {
		fmt.Println(err)
		return
	}
	dst, err := callbacks.NewDST(callbacks.DSTConfig{
		Zeta:   0.25,
		Prune:  callbacks.CriterionMagnitude,
		Regrow: callbacks.CriterionRandom,
		Seed:   1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = model.Fit(train, graph.FitConfig{
		Epochs: 3, BatchSize: 16, Optimizer: opt, Seed: 1,
		Callbacks: []graph.Callback{dst},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range dst.Reports() {
		fmt.Printf("after epoch %d, %s: pruned %d, regrown %d, density %.2f\n", r.Epoch+1, r.Layer, r.Pruned, r.Regrown, r.Density)
	}
	// Output:
	// after epoch 1, hidden: pruned 16, regrown 16, density 0.50
	// after epoch 2, hidden: pruned 16, regrown 16, density 0.50
}

// A scheduled rule of your own: two score functions (what to drop and what
// to grow) on a Schedule (when and how much), run by Rewiring, which brings
// the update loop, the reports, the logs and the checkpoint state. Here:
// prune the weakest edges and regrow towards the output units with the
// fewest inputs, at random among equals.
func ExampleNewRewiring() {
	model, train, err := tinyModel()
	if err != nil {
		fmt.Println(err)
		return
	}
	fewestInputs := func(u *callbacks.Update) ([]float64, error) {
		m := u.Layer.Mask()
		fanIn := make([]float64, m.Out)
		for _, k := range m.ActiveIndices() {
			_, j := m.Edge(k)
			fanIn[j]++
		}
		s := make([]float64, m.Len())
		for k := range s {
			_, j := m.Edge(k)
			s[k] = -fanIn[j] + u.Rand.Float64()/2
		}
		return s, nil
	}
	rule, err := callbacks.NewRewiring(callbacks.RewiringConfig{
		Name:     "balance",
		Schedule: callbacks.Schedule{Every: 1, Zeta: 0.25},
		Rewirer:  callbacks.Rewirer{Prune: callbacks.MagnitudeScore, Grow: fewestInputs},
		Seed:     1,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
	if err != nil {
		fmt.Println(err)
		return
	}
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: 3, BatchSize: 16, Optimizer: opt, Seed: 1,
		Callbacks: []graph.Callback{rule},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rule.Reports() {
		fmt.Printf("after epoch %d, %s: pruned %d, regrown %d, density %.2f\n", r.Epoch+1, r.Layer, r.Pruned, r.Regrown, r.Density)
	}
	fmt.Println("logged:", hist.Epochs[0]["hidden/pruned"], hist.Epochs[2]["hidden/pruned"])
	// Output:
	// after epoch 1, hidden: pruned 16, regrown 16, density 0.50
	// after epoch 2, hidden: pruned 16, regrown 16, density 0.50
	// logged: 16 0
}

// A rewiring rule of your own plugs into the Rewirer as two score
// functions: here, prune the edges of the input unit 0 first, and regrow
// the inactive edges closest to the diagonal.
func ExampleRewirer() {
	l, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 4, Out: 4, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := l.Mask()
	fromInput0 := func(u *callbacks.Update) ([]float64, error) {
		s := make([]float64, m.Len())
		for k := range s {
			if i, _ := m.Edge(k); i != 0 {
				s[k] = 1
			}
		}
		return s, nil
	}
	nearDiagonal := func(u *callbacks.Update) ([]float64, error) {
		s := make([]float64, m.Len())
		for k := range s {
			i, j := m.Edge(k)
			s[k] = -float64((i - j) * (i - j))
		}
		return s, nil
	}
	show := func() {
		for i := 0; i < m.In; i++ {
			fmt.Println(m.Data()[i*m.Out : (i+1)*m.Out])
		}
	}
	show()
	r := callbacks.Rewirer{Prune: fromInput0, Grow: nearDiagonal}
	rep, err := r.Rewire(&callbacks.Update{Layer: l, Rand: rand.New(rand.NewSource(1))}, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("pruned %d, regrown %d, active %d\n", rep.Pruned, rep.Regrown, rep.Active)
	show()
	// Output:
	// [1 1 0 0]
	// [1 1 0 0]
	// [0 0 1 1]
	// [0 0 1 1]
	// pruned 2, regrown 2, active 8
	// [0 0 0 0]
	// [1 1 1 0]
	// [0 1 1 1]
	// [0 0 1 1]
}

// Hebbian rewiring on its own: statistics on every 2nd batch, the 25 % of
// active edges with the lowest Pearson correlation replaced by the inactive
// ones with the highest after each epoch but the last.
func ExampleNewHebbian() {
	model, train, err := tinyModel()
	if err != nil {
		fmt.Println(err)
		return
	}
	hebb, err := callbacks.NewHebbian(callbacks.HebbianConfig{Zeta: 0.25, EveryN: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 1e-2})
	if err != nil {
		fmt.Println(err)
		return
	}
	hist, err := model.Fit(train, graph.FitConfig{
		Epochs: 3, BatchSize: 16, Optimizer: opt, Seed: 1,
		Callbacks: []graph.Callback{hebb},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for e, logs := range hist.Epochs {
		fmt.Printf("epoch %d: pruned %v, regrown %v, density %v\n", e+1, logs["hidden/pruned"], logs["hidden/regrown"], logs["hidden/density"])
	}
	// Output:
	// epoch 1: pruned 16, regrown 16, density 0.5
	// epoch 2: pruned 16, regrown 16, density 0.5
	// epoch 3: pruned 0, regrown 0, density 0.5
}

// Scores of a tiny batch: input 1 never fires, so its correlations are 0.
func ExampleHebbianStats_Scores() {
	s := callbacks.NewHebbianStats(2, 2)
	x := []float32{ // 3 samples × 2 inputs
		1, 0,
		2, 0,
		3, 0,
	}
	y := []float32{ // 3 samples × 2 outputs
		2, 3,
		4, 2,
		6, 1,
	}
	if err := s.Add(x, y, 3); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Scores(callbacks.MeasurePearson))
	// Output:
	// [1 -1 0 0]
}

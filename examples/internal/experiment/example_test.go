package experiment_test

import (
	"fmt"

	"github.com/g2g-ml/g2g/examples/internal/experiment"
	"github.com/g2g-ml/g2g/examples/internal/runner"
)

func ExampleParseMethod() {
	for _, name := range []string{"dense", "g2g-mixer", "blocks-index", "g2g-random+dst-hebbian", "g2g-index+rigl"} {
		m, err := experiment.ParseMethod(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: model %s, grouping %q, sampling %q, dst %v, hebbian %v, hebbian regrowth %v\n",
			m.Name, m.Model, m.Grouping, m.Sampling, m.DST, m.Hebbian, m.HebbianRegrow)
	}
	// Output:
	// dense: model dense, grouping "", sampling "", dst false, hebbian false, hebbian regrowth false
	// g2g-mixer: model g2g, grouping "mixer", sampling "", dst false, hebbian false, hebbian regrowth false
	// blocks-index: model g2g, grouping "index", sampling "blocks", dst false, hebbian false, hebbian regrowth false
	// g2g-random+dst-hebbian: model g2g, grouping "random", sampling "", dst true, hebbian false, hebbian regrowth true
	// unknown method "g2g-index+rigl": rewiring "+rigl" is not dst, hebbian, dst-hebbian or dst-<prune>-<regrow>
}

func ExampleGrid_Validate() {
	ds := runner.FashionMNIST()
	g := experiment.Grid{
		Dataset: "fashion-mnist", Methods: []string{"dense", "g2g-index", "g2g-index+dst"},
		Densities: []float64{0.25, 0.5}, Seeds: []int64{1, 2}, Epochs: 2, Base: runner.Defaults(ds),
	}
	g.Base.Hidden = "64,64"
	fmt.Println(g.Validate(), len(g.Cells()), g.Cells()[0], g.Cells()[5])
	g.Densities = []float64{0.25, 0.1}
	fmt.Println(g.Validate())
	// Output:
	// <nil> 10 dense d=1 seed 1 dense d=1 seed 2
	// method g2g-index at density 0.1 is impossible: layer "hidden1": Density 0.1 is below the intra-ensemble share Intra·f = 0.125 (f = 0.125, about 1/Groups): lower Intra or raise Groups
}

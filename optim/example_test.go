package optim_test

import (
	"fmt"

	"github.com/g2g-ml/g2g/optim"
)

func ExampleNewAdam() {
	opt, err := optim.NewAdam(optim.AdamConfig{LR: 0.1})
	if err != nil {
		panic(err)
	}
	// The third entry is pruned: it has a gradient, but its mask is 0.
	p := optim.Param{
		Name:  "w",
		Value: []float32{1, -1, 0.7},
		Grad:  []float32{0.5, -2, 3},
		Mask:  []float32{1, 1, 0},
	}
	if err := opt.Step([]optim.Param{p}); err != nil {
		panic(err)
	}
	// Adam's first step moves each live weight by LR against its gradient.
	fmt.Printf("w = %.4f\n", p.Value)
	fmt.Printf("m = %.4f\n", opt.State().Slots["w"][optim.SlotM])
	fmt.Println("steps:", opt.Steps())
	// Output:
	// w = [0.9000 -0.9000 0.0000]
	// m = [0.0500 -0.2000 0.0000]
	// steps: 1
}

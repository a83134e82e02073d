package datasets_test

import (
	"fmt"
	"log"

	"github.com/g2g-ml/g2g/datasets"
)

func ExampleNewBatches() {
	// Five 1x2 samples; sample i holds {i, i} and label i%2.
	d := &datasets.Dataset{
		Name:    "tiny",
		X:       []float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4},
		Y:       []int{0, 1, 0, 1, 0},
		Shape:   []int{1, 2},
		Classes: 2,
	}
	b, err := datasets.NewBatches(d, 2, false, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("batches per epoch:", b.Len())
	b.Reset(0)
	for x, y, ok := b.Next(); ok; x, y, ok = b.Next() {
		fmt.Println(x, y)
	}
	// Output:
	// batches per epoch: 3
	// [0 0 1 1] [0 1]
	// [2 2 3 3] [0 1]
	// [4 4] [0]
}

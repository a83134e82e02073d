package sparse

import (
	"runtime"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// forBlocks runs f on every block, concurrently on GOMAXPROCS goroutines,
// except that blocks with the same destination range [b[key], b[key+1])
// run on one goroutine, in list order; so results do not depend on the
// number of goroutines. Goroutine w takes the ranges that start in the
// w-th of equal slices of the units, which balances equal ensembles.
func forBlocks(blocks [][4]int, key int, f func(k int, b [4]int)) {
	workers := min(runtime.GOMAXPROCS(0), len(blocks))
	if workers < 2 {
		for k, b := range blocks {
			f(k, b)
		}
		return
	}
	units := 0
	for _, b := range blocks {
		units = max(units, b[key+1])
	}
	kernels.ParallelFor(workers, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			for k, b := range blocks {
				if b[key]*workers/units == w {
					f(k, b)
				}
			}
		}
	})
}

package kernels

import (
	"runtime"
	"sync"
)

// ParallelFor splits [0, n) into GOMAXPROCS consecutive ranges of about
// equal length and runs f on each concurrently, the first in the caller;
// with one processor or n < 2 it calls f(0, n). Callers whose pieces are
// independent get results that do not depend on the split. Deciding that
// the work is large enough to be worth goroutines is the caller's job.
func ParallelFor(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(n*w/workers, n*(w+1)/workers)
	}
	f(0, n/workers)
	wg.Wait()
}

// ParallelRanges runs f on every range [b[i], b[i+1]) concurrently, the
// first in the caller.
func ParallelRanges(b []int, f func(lo, hi int)) {
	if len(b) < 2 {
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < len(b)-1; i++ {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(b[i], b[i+1])
	}
	f(b[0], b[1])
	wg.Wait()
}

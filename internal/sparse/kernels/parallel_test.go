package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Regions started from several goroutines at once, and regions started
// inside regions, must still hand every index to exactly one call: the pool
// runs one region at a time and the others in their callers.
func TestParallelRegionsFromManyGoroutinesAndNested(t *testing.T) {
	prev := runtime.GOMAXPROCS(4)
	defer runtime.GOMAXPROCS(prev)
	const n = 1000
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 200; rep++ {
				seen := make([]int32, n)
				ParallelFor(n, func(lo, hi int) {
					// A nested region over this piece.
					ParallelRanges([]int{lo, (lo + hi) / 2, hi}, func(a, b int) {
						for i := a; i < b; i++ {
							atomic.AddInt32(&seen[i], 1)
						}
					})
				})
				for i, c := range seen {
					if c != 1 {
						t.Errorf("index %d visited %d times", i, c)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// A region whose function captures nothing costs no allocation: the pool's
// workers are started once and handed pieces through memory, not new
// goroutines.
func TestParallelForDoesNotAllocate(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	var total atomic.Int64
	f := func(lo, hi int) { total.Add(int64(hi - lo)) }
	ParallelFor(100, f) // start the worker
	if a := testing.AllocsPerRun(100, func() { ParallelFor(100, f) }); a != 0 {
		t.Fatalf("ParallelFor allocates %v times per call, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { ParallelRanges([]int{0, 30, 100}, f) }); a != 0 {
		t.Fatalf("ParallelRanges allocates %v times per call, want 0", a)
	}
	// One call, then twice AllocsPerRun's warm-up plus 100 runs.
	if total.Load() != 100*(1+2*101) {
		t.Fatalf("covered %d indices, want %d", total.Load(), 100*(1+2*101))
	}
}

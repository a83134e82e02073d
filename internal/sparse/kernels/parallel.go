package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ParallelFor splits [0, n) into GOMAXPROCS consecutive ranges of about
// equal length and runs f on each concurrently, the first in the caller;
// with one processor or n < 2 it calls f(0, n). Callers whose pieces are
// independent get results that do not depend on the split. Deciding that
// the work is large enough to be worth it is the caller's job.
func ParallelFor(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers < 2 {
		f(0, n)
		return
	}
	if !workPool.enter() {
		f(0, n) // a region inside a region: run it here, in one piece
		return
	}
	b := workPool.bounds[:0]
	for w := 0; w <= workers; w++ {
		b = append(b, n*w/workers)
	}
	workPool.run(b, f)
}

// ParallelRanges runs f on every range [b[i], b[i+1]) concurrently, the
// first in the caller.
func ParallelRanges(b []int, f func(lo, hi int)) {
	if len(b) < 2 {
		return
	}
	if len(b) == 2 || !workPool.enter() {
		for i := 0; i+1 < len(b); i++ {
			f(b[i], b[i+1])
		}
		return
	}
	workPool.run(append(workPool.bounds[:0], b...), f)
}

// workPool runs the parallel regions of this package on goroutines that
// stay alive between regions. A training step runs dozens of short regions
// (transposes, products, element-wise passes); starting goroutines for each
// cost allocations and, on a machine whose other cores are idle, the wake-up
// of an idle processor every time. The pool's workers spin briefly on the
// region counter before parking, so a region that follows closely starts at
// once. One region runs at a time: a region started inside another (or
// from another goroutine meanwhile) runs in its caller, in one piece, which
// gives the same results since pieces are independent.
var workPool pool

// spinRounds is how many times a worker checks for the next region before
// parking on its channel: about 0.35 ms (AMD EPYC Turin). A training step
// has serial stretches longer than the 40 µs of a tenth of that (the dense
// output layer's products, the loss, the executor between ops); a worker
// that parked in one was woken through the scheduler at the next region,
// which cost about a tenth of a d=0.25 step. Waiting workers yield to the
// process's other goroutines every 256 checks.
const spinRounds = 200000

type pool struct {
	mu   sync.Mutex // guards workers' creation
	busy atomic.Bool
	// region is the current region's number (bumped at every start) times
	// 256 plus its number of pieces: one word, so a worker reads both in one
	// consistent snapshot.
	region  atomic.Uint64
	pending atomic.Int32 // pieces of the current region not yet done
	wake    []chan struct{}
	done    chan struct{} // a token when the last piece of a region ends
	// The current region: f over [bounds[i], bounds[i+1]) for piece i,
	// piece 0 in the caller, piece i ≥ 1 in worker i-1.
	f      func(lo, hi int)
	bounds []int
}

// enter claims the pool for one region; it reports false when a region is
// already running.
func (p *pool) enter() bool { return p.busy.CompareAndSwap(false, true) }

// run runs f on the pieces given by bounds (len(bounds)-1 of them) and
// returns when all are done. The caller must have entered the pool.
func (p *pool) run(bounds []int, f func(lo, hi int)) {
	pieces := len(bounds) - 1
	if pieces > 255 { // more than the region word counts: run here
		for i := 0; i < pieces; i++ {
			f(bounds[i], bounds[i+1])
		}
		p.busy.Store(false)
		return
	}
	p.ensure(pieces - 1)
	p.f, p.bounds = f, bounds
	p.pending.Store(int32(pieces - 1))
	p.region.Store((p.region.Load()>>8+1)<<8 | uint64(pieces))
	for w := 0; w < pieces-1; w++ {
		select {
		case p.wake[w] <- struct{}{}:
		default: // a token is already there: the worker will see the region
		}
	}
	f(bounds[0], bounds[1])
	// Spin for the workers' pieces, then park: on a busy machine a
	// worker may wait for a processor, and spinning would only keep it out.
	for i := 0; p.pending.Load() != 0; i++ {
		switch {
		case i >= spinRounds:
			<-p.done // a stale token only makes the loop check again
			i = 0
		case i%64 == 63:
			runtime.Gosched()
		}
	}
	p.f = nil
	p.busy.Store(false)
}

// ensure starts workers until there are at least n.
func (p *pool) ensure(n int) {
	if len(p.wake) >= n {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = make(chan struct{}, 1)
	}
	for w := len(p.wake); w < n; w++ {
		ch := make(chan struct{}, 1)
		p.wake = append(p.wake, ch)
		go p.work(w, ch, p.region.Load()>>8)
	}
}

// work is worker w's loop: wait for a region that has a piece for it, run
// the piece, report it done.
func (p *pool) work(w int, wake chan struct{}, seen uint64) {
	for {
		r := p.region.Load()
		for i := 0; r>>8 == seen; i++ {
			if i >= spinRounds {
				<-wake // a stale token only makes the loop check again
				i = 0
			} else if i%256 == 255 {
				runtime.Gosched()
			}
			r = p.region.Load()
		}
		seen = r >> 8
		// A region cannot end before its pieces are done, so f and
		// bounds, written before the region started, are still its own.
		if pieces := int(r & 255); w+1 < pieces {
			p.f(p.bounds[w+1], p.bounds[w+2])
			if p.pending.Add(-1) == 0 {
				select {
				case p.done <- struct{}{}:
				default: // a token is already there
				}
			}
		}
	}
}

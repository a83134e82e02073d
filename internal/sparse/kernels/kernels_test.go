package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"runtime"
	"sync/atomic"
	"testing"
)

// randomPattern draws an in × out matrix's active entries with the given
// density and returns the pattern by output (rows = outputs, columns =
// inputs, offsets i·out + j) and by input (rows = inputs, columns = outputs).
func randomPattern(t testing.TB, rng *rand.Rand, in, out int, density float64) (byOut, byIn *Pattern, active []bool) {
	active = make([]bool, in*out)
	for k := range active {
		active[k] = rng.Float64() < density
	}
	byOut, byIn = patternsOf(t, active, in, out)
	return byOut, byIn, active
}

// patternsOf lists the active entries of an in × out matrix by output and
// by input.
func patternsOf(t testing.TB, active []bool, in, out int) (byOut, byIn *Pattern) {
	build := func(rows, cols int, at func(r, c int) (bool, int32)) *Pattern {
		ptr := []int32{0}
		var col, off []int32
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if ok, o := at(r, c); ok {
					col = append(col, int32(c))
					off = append(off, o)
				}
			}
			ptr = append(ptr, int32(len(col)))
		}
		p, err := NewPattern(ptr, col, off)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	byOut = build(out, in, func(j, i int) (bool, int32) { return active[i*out+j], int32(i*out + j) })
	byIn = build(in, out, func(i, j int) (bool, int32) { return active[i*out+j], int32(i*out + j) })
	return byOut, byIn
}

// g2gPattern is randomPattern with G2G structure: 8 contiguous ensembles
// per side, intra-ensemble edges all active, inter-ensemble edges drawn to
// reach the density.
func g2gPattern(t testing.TB, rng *rand.Rand, in, out int, density float64) (byOut, byIn *Pattern) {
	const g = 8
	inter := (density - 1.0/g) / (1 - 1.0/g)
	p := func(i, j int) bool {
		if i*g/in == j*g/out {
			return true
		}
		return rng.Float64() < inter
	}
	active := make([]bool, in*out)
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			active[i*out+j] = p(i, j)
		}
	}
	return patternsOf(t, active, in, out)
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// bothPaths runs f with the assembly kernels (when the processor has them)
// and with the Go loops.
func bothPaths(t *testing.T, f func(t *testing.T)) {
	prev := SetAccelerated(true)
	defer SetAccelerated(prev)
	if Accelerated() {
		t.Run("asm", f)
	}
	SetAccelerated(false)
	t.Run("go", f)
}

func near(a, b float64, scale float64) bool { return math.Abs(a-b) <= 1e-4*scale+1e-5 }

func TestGatherMatchesDenseProduct(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(1))
		for _, tc := range []struct {
			in, out, batch int
			density        float64
		}{{37, 29, 1, 0.3}, {64, 48, 16, 0.25}, {100, 80, 131, 0.2}, {50, 70, 256, 0.6}, {9, 5, 200, 0}, {40, 30, 300, 1}} {
			t.Run(fmt.Sprintf("%dx%d_b%d_d%v", tc.in, tc.out, tc.batch, tc.density), func(t *testing.T) {
				byOut, _, active := randomPattern(t, rng, tc.in, tc.out, tc.density)
				w := randSlice(rng, tc.in*tc.out)
				ldx := tc.batch + 3 // strides wider than the rows
				xt := randSlice(rng, tc.in*ldx)
				ldy := tc.batch + 5
				yt := randSlice(rng, tc.out*ldy) // garbage that Gather must overwrite
				if err := Gather(byOut, w, xt, ldx, yt, ldy, tc.batch); err != nil {
					t.Fatal(err)
				}
				// GatherAdd onto a copy of the result must double it.
				twice := append([]float32(nil), yt...)
				if err := GatherAdd(byOut, w, xt, ldx, twice, ldy, tc.batch); err != nil {
					t.Fatal(err)
				}
				for j := 0; j < tc.out; j++ {
					for b := 0; b < tc.batch; b++ {
						var want, scale float64
						for i := 0; i < tc.in; i++ {
							if active[i*tc.out+j] {
								p := float64(w[i*tc.out+j]) * float64(xt[i*ldx+b])
								want += p
								scale += math.Abs(p)
							}
						}
						if got := float64(yt[j*ldy+b]); !near(got, want, scale) {
							t.Fatalf("y[%d, %d] = %v, want %v", j, b, got, want)
						}
						if got := float64(twice[j*ldy+b]); !near(got, 2*want, 2*scale) {
							t.Fatalf("after GatherAdd y[%d, %d] = %v, want %v", j, b, got, 2*want)
						}
					}
				}
			})
		}
	})
}

func TestSampledDotMatchesDenseProduct(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(2))
		for _, tc := range []struct {
			in, out, batch int
			density        float64
		}{{37, 29, 1, 0.3}, {64, 48, 16, 0.25}, {100, 80, 131, 0.2}, {50, 70, 256, 0.6}, {33, 17, 80, 1}} {
			t.Run(fmt.Sprintf("%dx%d_b%d_d%v", tc.in, tc.out, tc.batch, tc.density), func(t *testing.T) {
				_, byIn, active := randomPattern(t, rng, tc.in, tc.out, tc.density)
				lda, ldb := tc.batch+1, tc.batch+7
				a := randSlice(rng, tc.in*lda)
				b := randSlice(rng, tc.out*ldb)
				out := make([]float32, tc.in*tc.out)
				const untouched = 12345
				for k := range out {
					out[k] = untouched
				}
				if err := SampledDot(byIn, a, lda, b, ldb, tc.batch, out); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < tc.in; i++ {
					for j := 0; j < tc.out; j++ {
						got := float64(out[i*tc.out+j])
						if !active[i*tc.out+j] {
							if got != untouched {
								t.Fatalf("inactive out[%d, %d] was written: %v", i, j, got)
							}
							continue
						}
						var want, scale float64
						for c := 0; c < tc.batch; c++ {
							p := float64(a[i*lda+c]) * float64(b[j*ldb+c])
							want += p
							scale += math.Abs(p)
						}
						if !near(got, want, scale) {
							t.Fatalf("out[%d, %d] = %v, want %v", i, j, got, want)
						}
					}
				}
			})
		}
	})
}

func TestAssemblyAndGoAgree(t *testing.T) {
	if !SetAccelerated(true) && !Accelerated() {
		t.Skip("no AVX-512 on this processor")
	}
	defer SetAccelerated(true)
	rng := rand.New(rand.NewSource(3))
	byOut, _, _ := randomPattern(t, rng, 200, 150, 0.3)
	w := randSlice(rng, 200*150)
	xt := randSlice(rng, 200*272)
	run := func(on bool) []float32 {
		SetAccelerated(on)
		y := make([]float32, 150*272)
		if err := Gather(byOut, w, xt, 272, y, 272, 272); err != nil {
			t.Fatal(err)
		}
		return y
	}
	a, g := run(true), run(false)
	for k := range a {
		if !near(float64(a[k]), float64(g[k]), 20) {
			t.Fatalf("entry %d: assembly %v, Go %v", k, a[k], g[k])
		}
	}
}

func TestTranspose(t *testing.T) { bothPaths(t, testTranspose) }

func testTranspose(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, sz := range [][2]int{{1, 1}, {3, 70}, {256, 300}, {17, 33}} {
		rows, cols := sz[0], sz[1]
		lds, ldd := cols+2, rows+16
		src := randSlice(rng, rows*lds)
		dst := make([]float32, cols*ldd)
		if err := Transpose(dst, ldd, src, lds, rows, cols); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rows; r++ {
			for c := 0; c < cols; c++ {
				if dst[c*ldd+r] != src[r*lds+c] {
					t.Fatalf("%dx%d: dst[%d,%d] = %v, want %v", rows, cols, c, r, dst[c*ldd+r], src[r*lds+c])
				}
			}
		}
	}
	if err := Transpose(make([]float32, 5), 2, make([]float32, 6), 3, 2, 3); err == nil {
		t.Fatal("Transpose into a too-short destination: no error")
	}
}

func TestBadShapesAreErrors(t *testing.T) {
	if _, err := NewPattern([]int32{0, 2, 1}, []int32{0}, []int32{0}); err == nil {
		t.Fatal("decreasing pointers accepted")
	}
	if _, err := NewPattern([]int32{0, 1}, []int32{-1}, []int32{0}); err == nil {
		t.Fatal("negative column accepted")
	}
	if _, err := NewPattern([]int32{1}, nil, nil); err == nil {
		t.Fatal("pointers not starting at 0 accepted")
	}
	p, err := NewPattern([]int32{0, 1, 2}, []int32{3, 0}, []int32{7, 1})
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, 8)
	x := make([]float32, 4*16)
	y := make([]float32, 2*16)
	if err := Gather(p, w, x, 16, y, 16, 16); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"short x": func() error { return Gather(p, w, x[:3*16+15], 16, y, 16, 16) },
		"short w": func() error { return Gather(p, w[:7], x, 16, y, 16, 16) },
		"short y": func() error { return Gather(p, w, x, 16, y[:31], 16, 16) },
		"stride":  func() error { return Gather(p, w, x, 8, y, 16, 16) },
		"dot out": func() error { return SampledDot(p, y, 16, x, 16, 16, w[:7]) },
		"dot b":   func() error { return SampledDot(p, y, 16, x[:60], 16, 16, w) },
	} {
		if call() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkGather measures the forward product of a 1024 × 1024 G2G layer
// (8 ensembles, dense intra-ensemble blocks) at batch 256 and several
// densities.
func BenchmarkGather(b *testing.B) {
	for _, d := range []float64{0.5, 0.25, 0.125} {
		for _, asm := range []bool{true, false} {
			if asm && !hasAVX512() {
				continue
			}
			b.Run(fmt.Sprintf("d=%v/asm=%v", d, asm), func(b *testing.B) {
				prev := SetAccelerated(asm)
				defer SetAccelerated(prev)
				rng := rand.New(rand.NewSource(1))
				byOut, _ := g2gPattern(b, rng, 1024, 1024, d)
				w := randSlice(rng, 1024*1024)
				xt := randSlice(rng, 1024*256)
				yt := make([]float32, 1024*256)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					Gather(byOut, w, xt, 256, yt, 256, 256)
				}
				b.ReportMetric(float64(byOut.NNZ())*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}

// BenchmarkSampledDot measures the weight gradient of the same layers.
func BenchmarkSampledDot(b *testing.B) {
	for _, d := range []float64{0.5, 0.25, 0.125} {
		b.Run(fmt.Sprintf("d=%v", d), func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			_, byIn := g2gPattern(b, rng, 1024, 1024, d)
			a := randSlice(rng, 1024*256)
			bb := randSlice(rng, 1024*256)
			out := make([]float32, 1024*1024)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				SampledDot(byIn, a, 256, bb, 256, 256, out)
			}
			b.ReportMetric(float64(byIn.NNZ())*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// BenchmarkTranspose measures one 256 × 1024 transpose.
func BenchmarkTranspose(b *testing.B) {
	src := make([]float32, 256*1024)
	dst := make([]float32, 256*1024)
	for i := 0; i < b.N; i++ {
		Transpose(dst, 256, src, 1024, 256, 1024)
	}
}

func TestPadded(t *testing.T) {
	for n, want := range map[int]int{1: 16, 16: 16, 17: 32, 64: 64, 65: 128, 128: 128, 232: 256, 256: 256, 257: 384} {
		if got := Padded(n); got != want {
			t.Errorf("Padded(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestBiasReLUAndGrad(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(5))
		for _, n := range []int{1, 15, 16, 37, 256} {
			z, b, dy := randSlice(rng, n), randSlice(rng, n), randSlice(rng, n)
			z[0] = float32(math.NaN())
			for _, relu := range []bool{false, true} {
				for _, vec := range []bool{false, true} {
					y := make([]float32, n)
					bb := b
					if !vec {
						bb = nil
					}
					BiasReLU(y, z, bb, 0.25, relu)
					for k := range y {
						want := z[k] + 0.25
						if vec {
							want = z[k] + b[k]
						}
						if relu && want < 0 {
							want = 0
						}
						if k == 0 {
							if !math.IsNaN(float64(y[0])) {
								t.Fatalf("n %d relu %v: NaN input gave %v", n, relu, y[0])
							}
							continue
						}
						if y[k] != want {
							t.Fatalf("n %d relu %v vec %v: y[%d] = %v, want %v", n, relu, vec, k, y[k], want)
						}
					}
				}
			}
			y := make([]float32, n)
			BiasReLU(y, z, b, 0, true)
			dz := randSlice(rng, n)
			ReLUGrad(dz, y, dy)
			for k := range dz {
				want := float32(0)
				if y[k] > 0 {
					want = dy[k]
				}
				if dz[k] != want {
					t.Fatalf("n %d: dz[%d] = %v, want %v (y %v)", n, k, dz[k], want, y[k])
				}
			}
		}
	})
}

// ParallelFor must hand every index of [0, n) to exactly one call, whatever
// the number of processors.
func TestParallelForCoversEachIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 2, 3} {
		prev := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 7, 100} {
			seen := make([]int32, n)
			ParallelFor(n, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&seen[i], 1)
				}
			})
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("GOMAXPROCS %d, n %d: index %d visited %d times", procs, n, i, c)
				}
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

// dot4 must give the same bits as dot: it reads four edges at a time but
// sums every edge in dot's order.
func TestDot4MatchesDot(t *testing.T) {
	if !hasAVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewSource(9))
	for _, tiles := range []int{1, 2, 3, 4, 5, 8, 16, 17} {
		cols := tiles * Lane
		rows := 37
		a := randSlice(rng, cols)
		b := randSlice(rng, rows*cols)
		for n := 1; n <= 11; n++ {
			col, off := make([]int32, n), make([]int32, n)
			for e := range col {
				col[e] = int32(rng.Intn(rows))
				off[e] = int32(e)
			}
			want, got := make([]float32, n), make([]float32, n)
			for e := range col {
				dot(&a[0], &b[0], 4*cols, tiles, 1, &col[e], &off[e], &want[0])
			}
			dotRowAsm(a, b, cols, cols, col, off, got)
			for e := range got {
				if math.Float32bits(got[e]) != math.Float32bits(want[e]) {
					t.Fatalf("tiles %d, %d edges: edge %d is %v, dot gives %v", tiles, n, e, got[e], want[e])
				}
			}
		}
	}
}

// interEnsembleEdges returns the edges the edge kernels get from a 1024 ×
// 1024 G2G layer of 8 ensembles at density 0.25: the inter-ensemble pairs,
// each kept with probability 1/7 (the intra-ensemble blocks go to BLAS).
func interEnsembleEdges(b *testing.B, rng *rand.Rand) (byOut, byIn *Pattern) {
	const in, out, g = 1024, 1024, 8
	active := make([]bool, in*out)
	for i := 0; i < in; i++ {
		for j := 0; j < out; j++ {
			active[i*out+j] = i*g/in != j*g/out && rng.Float64() < 1.0/7
		}
	}
	return patternsOf(b, active, in, out)
}

// BenchmarkKernelResidency measures the edge kernels against where their
// operand rows live: the inter-ensemble edges of a 1024 × 1024 G2G layer
// (8 ensembles, 14.3 % of the inter-ensemble pairs: density 0.25 with the
// intra-ensemble blocks on BLAS) at batch 256, with the edges' rows folded
// onto the first `rows` rows of the operand — 8 rows (8 KB, in L1), 256
// (256 KB, in L2), or all 1024 (1 MB, the real case). Every edge costs 16
// vector fused multiply-adds, each reading 64 bytes of a row, so the rate
// shows how far the kernels are bound by cache bandwidth rather than
// arithmetic.
func BenchmarkKernelResidency(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	const in, out = 1024, 1024
	byOut, byIn := interEnsembleEdges(b, rng)
	w := randSlice(rng, in*out)
	xt := randSlice(rng, 1024*256)
	yt := make([]float32, 1024*256)
	dw := make([]float32, in*out)
	fold := func(p *Pattern, rows int32) *Pattern {
		col := make([]int32, len(p.Col))
		for e, c := range p.Col {
			col[e] = c % rows
		}
		q, err := NewPattern(p.Ptr, col, p.Off)
		if err != nil {
			b.Fatal(err)
		}
		return q
	}
	for _, rows := range []int32{8, 256, 1024} {
		gp, dp := fold(byOut, rows), fold(byIn, rows)
		b.Run(fmt.Sprintf("gather/rows=%d", rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Gather(gp, w, xt, 256, yt, 256, 256)
			}
			b.ReportMetric(float64(gp.NNZ())*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
		b.Run(fmt.Sprintf("sampleddot/rows=%d", rows), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				SampledDot(dp, xt, 256, yt, 256, 256, dw)
			}
			b.ReportMetric(float64(dp.NNZ())*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// GatherDot gives, bit for bit, what GatherAdd (or Gather) and SampledDot
// give separately: at widths the fused kernel takes (multiples of 128,
// with its accumulators kept across 128-column calls) and others, with
// rows of no, one, two, three and many edges, on both paths and any number
// of goroutines.
func TestGatherDotMatchesSeparateKernels(t *testing.T) {
	bothPaths(t, func(t *testing.T) {
		rng := rand.New(rand.NewSource(4))
		const in, out = 70, 90
		active := make([]bool, in*out)
		for i := 0; i < in; i++ {
			k := []int{0, 1, 2, 3, 5, 40}[i%6]
			for _, j := range rng.Perm(out)[:k] {
				active[i*out+j] = true
			}
		}
		_, byIn := patternsOf(t, active, in, out)
		w := randSlice(rng, in*out)
		for _, cols := range []int{16, 48, 128, 256, 384} {
			for _, add := range []bool{false, true} {
				for _, procs := range []int{1, 2, 3} {
					prev := runtime.GOMAXPROCS(procs)
					ld := cols + 16
					x := randSlice(rng, out*ld) // output gradient rows
					a := randSlice(rng, in*ld)  // inputs
					y0 := randSlice(rng, in*ld) // input gradient, added to with add
					y1 := append([]float32(nil), y0...)
					d0 := randSlice(rng, in*out) // weight gradient: untouched off the pattern
					d1 := append([]float32(nil), d0...)
					var err error
					if add {
						err = GatherAdd(byIn, w, x, ld, y0, ld, cols)
					} else {
						err = Gather(byIn, w, x, ld, y0, ld, cols)
					}
					if err == nil {
						err = SampledDot(byIn, a, ld, x, ld, cols, d0)
					}
					if err == nil {
						err = GatherDot(byIn, w, x, ld, y1, ld, a, ld, d1, cols, add)
					}
					runtime.GOMAXPROCS(prev)
					if err != nil {
						t.Fatal(err)
					}
					for _, pair := range [][2][]float32{{y0, y1}, {d0, d1}} {
						for k := range pair[0] {
							if math.Float32bits(pair[0][k]) != math.Float32bits(pair[1][k]) {
								t.Fatalf("cols %d add %v procs %d: value %d is %v fused, %v separately", cols, add, procs, k, pair[1][k], pair[0][k])
							}
						}
					}
				}
			}
		}
	})
}

// BenchmarkGatherDot measures a G2G layer's two backward products over its
// inter-ensemble edges (1024 × 1024, 8 ensembles, density 0.25 with the
// intra-ensemble blocks on BLAS), batch 256: GatherAdd then SampledDot, and
// GatherDot, which reads each output-gradient row once for both. GMAC/s
// counts both products.
func BenchmarkGatherDot(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	const in, out = 1024, 1024
	_, byIn := interEnsembleEdges(b, rng)
	w := randSlice(rng, in*out)
	dyt := randSlice(rng, out*256)
	xt := randSlice(rng, in*256)
	dxt := make([]float32, in*256)
	dw := make([]float32, in*out)
	rate := func(b *testing.B) {
		b.ReportMetric(2*float64(byIn.NNZ())*256*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
	}
	b.Run("separate", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GatherAdd(byIn, w, dyt, 256, dxt, 256, 256)
			SampledDot(byIn, xt, 256, dyt, 256, 256, dw)
		}
		rate(b)
	})
	b.Run("fused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			GatherDot(byIn, w, dyt, 256, dxt, 256, xt, 256, dw, 256, true)
		}
		rate(b)
	})
}

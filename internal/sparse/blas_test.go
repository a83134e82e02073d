package sparse

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Splitting a product between goroutines must give exactly the unsplit
// result, for every transpose combination and for row and column splits.
func TestParallelGemmMatchesOneCall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	impl := gonum.Implementation{}
	rng := rand.New(rand.NewSource(1))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	for _, sz := range [][3]int{{300, 200, 64}, {10, 900, 300}, {700, 5, 800}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				t.Run(fmt.Sprintf("%dx%dx%d_%c%c", m, n, k, tA, tB), func(t *testing.T) {
					lda, ldb, ldc := k+1, n+2, n+3
					if tA == blas.Trans {
						lda = m + 1
					}
					if tB == blas.Trans {
						ldb = k + 2
					}
					rowsA, rowsB := m, k
					if tA == blas.Trans {
						rowsA = k
					}
					if tB == blas.Trans {
						rowsB = n
					}
					a, b := fill(rowsA*lda), fill(rowsB*ldb)
					c0 := fill(m * ldc)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					impl.Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, ldc)
					parallelGemm(impl.Sgemm, tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, got, ldc)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("c[%d] = %v, want %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

package sparse

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// The backend's products, split between goroutines or not, must give the
// same bits whatever GOMAXPROCS is (docs/design.md §7.6): g2g experiment
// -jobs N runs cells with fewer processors than one cell at a time, and a
// Slurm task with its -cpus-per-task, and their numbers must not change.
// (With OpenBLAS a band of C gets other last bits than the whole product,
// so the bands must not follow GOMAXPROCS.)
func TestProductsDoNotDependOnGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewSource(2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	// Above parallelMACs, split by rows and (few rows) by columns.
	for _, sz := range [][3]int{{256, 256, 784}, {784, 256, 256}, {3, 4096, 2048}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				t.Run(fmt.Sprintf("%dx%dx%d_%c%c", m, n, k, tA, tB), func(t *testing.T) {
					lda, ldb := k, n
					if tA == blas.Trans {
						lda = m
					}
					if tB == blas.Trans {
						ldb = k
					}
					a, b, c0 := fill(m*k), fill(k*n), fill(m*n)
					var want []float32
					for _, procs := range []int{1, 2, 3} {
						runtime.GOMAXPROCS(procs)
						c := append([]float32(nil), c0...)
						BLAS().Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, c, n)
						if want == nil {
							want = c
							continue
						}
						for i := range want {
							if c[i] != want[i] {
								t.Fatalf("%s: GOMAXPROCS %d: c[%d] = %v, with 1: %v", BLASName(), procs, i, c[i], want[i])
							}
						}
					}
				})
			}
		}
	}
}

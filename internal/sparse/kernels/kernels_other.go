//go:build !amd64

package kernels

func gatherRowAsm(y, x []float32, ldx, cols int, col, off []int32, w []float32, acc int) int {
	return 0
}

func dotRowAsm(a, b []float32, ldb, cols int, col, off []int32, out []float32) {
	panic("kernels: no assembly on this architecture")
}

func gatherDotRowAsm(y, x []float32, ldx, cols int, col, off []int32, w []float32, acc int, a, part, out []float32) {
	panic("kernels: no assembly on this architecture")
}

func transposeTileAsm(dst []float32, ldd int, src []float32, lds int) {
	panic("kernels: no assembly on this architecture")
}

func biasAct16(y, z, b *float32, n int, scalar float32, mode int) {
	panic("kernels: no assembly on this architecture")
}

func reluGrad16(dz, y, dy *float32, n int) {
	panic("kernels: no assembly on this architecture")
}

// hasAVX512 reports false: the assembly kernels exist for amd64 only.
func hasAVX512() bool { return false }

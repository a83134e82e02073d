package kernels

//go:noescape
func gather8(y, x *float32, ldx, n int, col, off *int32, w *float32, acc int)

//go:noescape
func gather4(y, x *float32, ldx, n int, col, off *int32, w *float32, acc int)

//go:noescape
func gather1(y, x *float32, ldx, n int, col, off *int32, w *float32, acc int)

//go:noescape
func dot(a, b *float32, ldb, tiles, n int, col, off *int32, out *float32)

//go:noescape
func dot4(a, b *float32, ldb, tiles, n int, col, off *int32, out *float32)

//go:noescape
func gatherDot8(y, x *float32, ldx, n int, col, off *int32, w *float32, acc int, a, part, out *float32, mode int)

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

// hasAVX512 reports whether the processor has AVX-512F and the operating
// system saves its registers.
func hasAVX512() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave = 1 << 27
	if ecx1&osxsave == 0 {
		return false
	}
	// XCR0: SSE (bit 1), AVX (2), opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7).
	xcr0, _ := xgetbv()
	if xcr0&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	const avx512f = 1 << 16
	return ebx7&avx512f != 0
}

func init() { accelerated = hasAVX512() }

// gatherRowAsm computes y[c] = Σ_e w[off[e]]·x[col[e]·ldx+c] (or adds it
// to y[c], with acc = 1) for c < cols with the widest assembly kernels that
// fit and returns how many columns it did (a multiple of Lane).
func gatherRowAsm(y, x []float32, ldx, cols int, col, off []int32, w []float32, acc int) int {
	n, c := len(col), 0
	for ; c+8*Lane <= cols; c += 8 * Lane {
		gather8(&y[c], &x[c], 4*ldx, n, &col[0], &off[0], &w[0], acc)
	}
	for ; c+4*Lane <= cols; c += 4 * Lane {
		gather4(&y[c], &x[c], 4*ldx, n, &col[0], &off[0], &w[0], acc)
	}
	for ; c+Lane <= cols; c += Lane {
		gather1(&y[c], &x[c], 4*ldx, n, &col[0], &off[0], &w[0], acc)
	}
	return c
}

// dotRowAsm computes out[off[e]] = Σ_{c<cols} a[c]·b[col[e]·ldb+c] for cols
// a multiple of Lane.
func dotRowAsm(a, b []float32, ldb, cols int, col, off []int32, out []float32) {
	// Four edges at a time (four rows of b streaming at once), the rest
	// one at a time; both sum in the same order.
	n4 := len(col) &^ 3
	if n4 > 0 {
		dot4(&a[0], &b[0], 4*ldb, cols/Lane, n4, &col[0], &off[0], &out[0])
	}
	if n4 < len(col) {
		dot(&a[0], &b[0], 4*ldb, cols/Lane, len(col)-n4, &col[n4], &off[n4], &out[0])
	}
}

// gatherDotRowAsm is gatherRowAsm and dotRowAsm on the same edges, for cols
// a multiple of 128, in one pass over x's rows (gatherDot8); part holds 64
// values per edge when cols > 128. Both results are bit-identical to the
// two separate calls.
func gatherDotRowAsm(y, x []float32, ldx, cols int, col, off []int32, w []float32, acc int, a, part, out []float32) {
	n := len(col)
	for c := 0; c < cols; c += 8 * Lane {
		mode := 0
		if c == 0 {
			mode |= 1
		}
		if c+8*Lane == cols {
			mode |= 2
		}
		gatherDot8(&y[c], &x[c], 4*ldx, n, &col[0], &off[0], &w[0], acc, &a[c], &part[0], &out[0], mode)
	}
}

//go:noescape
func transpose16(dst *float32, ldd int, src *float32, lds int)

// transposeTileAsm transposes the 16 × 16 tile at src into dst.
func transposeTileAsm(dst []float32, ldd int, src []float32, lds int) {
	_ = src[15*lds+15]
	_ = dst[15*ldd+15]
	transpose16(&dst[0], 4*ldd, &src[0], 4*lds)
}

//go:noescape
func biasAct16(y, z, b *float32, n int, scalar float32, mode int)

//go:noescape
func reluGrad16(dz, y, dy *float32, n int)

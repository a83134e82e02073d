package sparse

import "gonum.org/v1/gonum/blas"

// Argument checks of the BLAS routines the OpenBLAS backend calls through
// cgo, as gonum (and its netlib binding) make them: a call that would read
// or write outside its slices panics with gonum's message instead of
// reaching C. Each returns false when the call has nothing to do.

const (
	errBadTranspose = "blas: illegal transpose"
	errMLT0         = "blas: m < 0"
	errNLT0         = "blas: n < 0"
	errKLT0         = "blas: k < 0"
	errBadLdA       = "blas: bad leading dimension of A"
	errBadLdB       = "blas: bad leading dimension of B"
	errBadLdC       = "blas: bad leading dimension of C"
	errZeroIncX     = "blas: zero x index increment"
	errZeroIncY     = "blas: zero y index increment"
	errShortA       = "blas: insufficient length of a"
	errShortB       = "blas: insufficient length of b"
	errShortC       = "blas: insufficient length of c"
	errShortX       = "blas: insufficient length of x"
	errShortY       = "blas: insufficient length of y"
)

// checkGemm checks a row-major gemm's arguments (lenA, lenB and lenC are
// the slices' lengths).
func checkGemm(tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) bool {
	for _, t := range []blas.Transpose{tA, tB} {
		if t != blas.NoTrans && t != blas.Trans && t != blas.ConjTrans {
			panic(errBadTranspose)
		}
	}
	switch {
	case m < 0:
		panic(errMLT0)
	case n < 0:
		panic(errNLT0)
	case k < 0:
		panic(errKLT0)
	}
	rowA, colA := m, k
	if tA != blas.NoTrans {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if tB != blas.NoTrans {
		rowB, colB = n, k
	}
	switch {
	case lda < max(1, colA):
		panic(errBadLdA)
	case ldb < max(1, colB):
		panic(errBadLdB)
	case ldc < max(1, n):
		panic(errBadLdC)
	}
	if m == 0 || n == 0 {
		return false
	}
	switch {
	case lenA < lda*(rowA-1)+colA:
		panic(errShortA)
	case lenB < ldb*(rowB-1)+colB:
		panic(errShortB)
	case lenC < ldc*(m-1)+n:
		panic(errShortC)
	}
	return true
}

// checkGemv checks a row-major gemv's arguments.
func checkGemv(tA blas.Transpose, m, n, lenA, lda, lenX, incX, lenY, incY int) bool {
	if tA != blas.NoTrans && tA != blas.Trans && tA != blas.ConjTrans {
		panic(errBadTranspose)
	}
	switch {
	case m < 0:
		panic(errMLT0)
	case n < 0:
		panic(errNLT0)
	case lda < max(1, n):
		panic(errBadLdA)
	case incX == 0:
		panic(errZeroIncX)
	case incY == 0:
		panic(errZeroIncY)
	}
	if m == 0 || n == 0 {
		return false
	}
	if lenA < lda*(m-1)+n {
		panic(errShortA)
	}
	nx, ny := n, m
	if tA != blas.NoTrans {
		nx, ny = m, n
	}
	if short(nx, lenX, incX) {
		panic(errShortX)
	}
	if short(ny, lenY, incY) {
		panic(errShortY)
	}
	return true
}

// checkGer checks a row-major ger's arguments.
func checkGer(m, n, lenX, incX, lenY, incY, lenA, lda int) bool {
	switch {
	case m < 0:
		panic(errMLT0)
	case n < 0:
		panic(errNLT0)
	case lda < max(1, n):
		panic(errBadLdA)
	case incX == 0:
		panic(errZeroIncX)
	case incY == 0:
		panic(errZeroIncY)
	}
	if m == 0 || n == 0 {
		return false
	}
	switch {
	case short(m, lenX, incX):
		panic(errShortX)
	case short(n, lenY, incY):
		panic(errShortY)
	case lenA < lda*(m-1)+n:
		panic(errShortA)
	}
	return true
}

// checkVecs checks the arguments of a routine on two vectors of n
// elements (dot, axpy).
func checkVecs(n, lenX, incX, lenY, incY int) bool {
	switch {
	case n < 0:
		panic(errNLT0)
	case incX == 0:
		panic(errZeroIncX)
	case incY == 0:
		panic(errZeroIncY)
	}
	if n == 0 {
		return false
	}
	if short(n, lenX, incX) {
		panic(errShortX)
	}
	if short(n, lenY, incY) {
		panic(errShortY)
	}
	return true
}

// checkScal checks scal's arguments; like gonum, a negative increment
// leaves x unchanged.
func checkScal(n, lenX, incX int) bool {
	switch {
	case n < 0:
		panic(errNLT0)
	case incX == 0:
		panic(errZeroIncX)
	}
	if n == 0 || incX < 0 {
		return false
	}
	if lenX <= (n-1)*incX {
		panic(errShortX)
	}
	return true
}

// short reports whether a vector of n elements with increment inc does not
// fit in a slice of length l (BLAS reads a negative increment's vector
// from its end).
func short(n, l, inc int) bool {
	if inc > 0 {
		return l <= (n-1)*inc
	}
	return l <= (1-n)*inc
}

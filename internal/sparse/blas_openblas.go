//go:build openblas

package sparse

// Built with -tags openblas, every matrix product goes through OpenBLAS
// (Debian: libopenblas-dev or libopenblas0), which is about twice as fast
// as the pure-Go default on this project's machines.
//
// The library is loaded at run time (dlopen), not linked, so that g2g
// chooses its kernels before it loads: OpenBLAS reads OPENBLAS_CORETYPE in
// its load-time constructor, and blascore.go decides the value from the
// CPU's features and G2G_BLAS_CORE. The variable is set in the C
// environment only while the library loads and restored right after, so
// neither Go's os.Getenv nor child processes see it. When the library
// cannot be loaded, the backend falls back to gonum's pure Go and says why
// in BLASName: the same binary runs everywhere.
//
// OpenBLAS runs single-threaded and g2g splits large products between
// goroutines itself (parallelGemm): OpenBLAS's own worker threads spin for
// a long while after every call, and on a 2-core machine they took a core
// from g2g's sparse kernels and gorgonia's element-wise ops.
//
// The routines gorgonia and g2g call (gemm, gemv, ger, dot, axpy and scal
// in float32 and float64) go to OpenBLAS through its CBLAS interface, in
// row-major order exactly as gonum's netlib binding called them; the rest
// of gonum's BLAS interfaces (complex types, triangular and banded
// routines) is gonum's pure Go, which g2g does not use.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { rowMajor = 101 };

static void (*p_sgemm)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static void (*p_dgemm)(int, int, int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
static void (*p_sgemv)(int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static void (*p_dgemv)(int, int, int, int, double, const double*, int, const double*, int, double, double*, int);
static void (*p_sger)(int, int, int, float, const float*, int, const float*, int, float*, int);
static void (*p_dger)(int, int, int, double, const double*, int, const double*, int, double*, int);
static float (*p_sdot)(int, const float*, int, const float*, int);
static double (*p_ddot)(int, const double*, int, const double*, int);
static void (*p_saxpy)(int, float, const float*, int, float*, int);
static void (*p_daxpy)(int, double, const double*, int, double*, int);
static void (*p_sscal)(int, float, float*, int);
static void (*p_dscal)(int, double, double*, int);
static char* (*p_corename)(void);
static char* (*p_config)(void);
static void (*p_set_threads)(int);

static char g2g_err[512];

// g2g_sym looks name up in h, recording an error when it is missing.
static void* g2g_sym(void* h, const char* lib, const char* name) {
	void* p = dlsym(h, name);
	if (!p && !g2g_err[0]) snprintf(g2g_err, sizeof g2g_err, "%s has no symbol %s", lib, name);
	return p;
}

// g2g_open loads OpenBLAS (the library lib, or libopenblas.so.0 then
// libopenblas.so when lib is NULL) with OPENBLAS_CORETYPE set to core
// (unset when core is NULL) while the library's constructor runs, restores
// the variable's previous state, looks the routines up and sets OpenBLAS
// to one thread. It returns NULL, or why the library cannot be used.
static const char* g2g_open(const char* core, const char* lib) {
	const char* libs[] = {"libopenblas.so.0", "libopenblas.so"};
	int nlibs = 2;
	if (lib) {
		libs[0] = lib;
		nlibs = 1;
	}
	const char* prev = getenv("OPENBLAS_CORETYPE");
	char* saved = prev ? strdup(prev) : NULL;
	if (core) setenv("OPENBLAS_CORETYPE", core, 1);
	else unsetenv("OPENBLAS_CORETYPE");
	void* h = NULL;
	g2g_err[0] = 0;
	for (int i = 0; i < nlibs && !h; i++) {
		lib = libs[i];
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h && i == 0) {
			const char* e = dlerror();
			snprintf(g2g_err, sizeof g2g_err, "%s", e ? e : "dlopen failed");
		}
	}
	if (saved) {
		setenv("OPENBLAS_CORETYPE", saved, 1);
		free(saved);
	} else {
		unsetenv("OPENBLAS_CORETYPE");
	}
	if (!h) return g2g_err;
	g2g_err[0] = 0;
	p_sgemm = g2g_sym(h, lib, "cblas_sgemm");
	p_dgemm = g2g_sym(h, lib, "cblas_dgemm");
	p_sgemv = g2g_sym(h, lib, "cblas_sgemv");
	p_dgemv = g2g_sym(h, lib, "cblas_dgemv");
	p_sger = g2g_sym(h, lib, "cblas_sger");
	p_dger = g2g_sym(h, lib, "cblas_dger");
	p_sdot = g2g_sym(h, lib, "cblas_sdot");
	p_ddot = g2g_sym(h, lib, "cblas_ddot");
	p_saxpy = g2g_sym(h, lib, "cblas_saxpy");
	p_daxpy = g2g_sym(h, lib, "cblas_daxpy");
	p_sscal = g2g_sym(h, lib, "cblas_sscal");
	p_dscal = g2g_sym(h, lib, "cblas_dscal");
	p_corename = g2g_sym(h, lib, "openblas_get_corename");
	p_config = g2g_sym(h, lib, "openblas_get_config");
	p_set_threads = g2g_sym(h, lib, "openblas_set_num_threads");
	if (g2g_err[0]) return g2g_err;
	p_set_threads(1);
	return NULL;
}

static const char* g2g_corename(void) { return p_corename(); }

// g2g_getenv reads the C environment (which Go's os package does not see).
static const char* g2g_getenv(const char* name) { return getenv(name); }
static const char* g2g_config(void) { return p_config(); }

static void g2g_sgemm(int tA, int tB, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
	p_sgemm(rowMajor, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void g2g_dgemm(int tA, int tB, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb, double beta, double* c, int ldc) {
	p_dgemm(rowMajor, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
static void g2g_sgemv(int tA, int m, int n, float alpha, const float* a, int lda, const float* x, int incX, float beta, float* y, int incY) {
	p_sgemv(rowMajor, tA, m, n, alpha, a, lda, x, incX, beta, y, incY);
}
static void g2g_dgemv(int tA, int m, int n, double alpha, const double* a, int lda, const double* x, int incX, double beta, double* y, int incY) {
	p_dgemv(rowMajor, tA, m, n, alpha, a, lda, x, incX, beta, y, incY);
}
static void g2g_sger(int m, int n, float alpha, const float* x, int incX, const float* y, int incY, float* a, int lda) {
	p_sger(rowMajor, m, n, alpha, x, incX, y, incY, a, lda);
}
static void g2g_dger(int m, int n, double alpha, const double* x, int incX, const double* y, int incY, double* a, int lda) {
	p_dger(rowMajor, m, n, alpha, x, incX, y, incY, a, lda);
}
static float g2g_sdot(int n, const float* x, int incX, const float* y, int incY) { return p_sdot(n, x, incX, y, incY); }
static double g2g_ddot(int n, const double* x, int incX, const double* y, int incY) { return p_ddot(n, x, incX, y, incY); }
static void g2g_saxpy(int n, float alpha, const float* x, int incX, float* y, int incY) { p_saxpy(n, alpha, x, incX, y, incY); }
static void g2g_daxpy(int n, double alpha, const double* x, int incX, double* y, int incY) { p_daxpy(n, alpha, x, incX, y, incY); }
static void g2g_sscal(int n, float alpha, float* x, int incX) { p_sscal(n, alpha, x, incX); }
static void g2g_dscal(int n, double alpha, double* x, int incX) { p_dscal(n, alpha, x, incX); }
*/
import "C"

import (
	"os"
	"strings"
	"unsafe"

	"github.com/pkg/errors"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// newBackend chooses OpenBLAS's kernels for this CPU (chooseCore), loads
// the library and sets it to one thread. OpenBLAS multiplies dense
// ensemble blocks about twice as fast per multiply-accumulate as the edge
// kernels: the sparse kernel sends blocks at least half full to it
// (DenseBlockFill 0.5). Without the library it returns gonum's pure Go.
func newBackend() backendInfo {
	setting, _ := os.LookupEnv(BLASCoreSetting)
	inherited, hasInherited := os.LookupEnv("OPENBLAS_CORETYPE")
	ch := chooseCore(kernels.CPU(), setting, inherited, hasInherited)
	var core, lib *C.char
	if ch.env != "" {
		core = C.CString(ch.env)
		defer C.free(unsafe.Pointer(core))
	}
	if l := os.Getenv(OpenBLASLibrarySetting); l != "" {
		lib = C.CString(l)
		defer C.free(unsafe.Pointer(lib))
	}
	if msg := C.g2g_open(core, lib); msg != nil {
		err := errors.Errorf("OpenBLAS not loaded: %s", C.GoString(msg))
		b := gonumBackend(err.Error())
		b.report.Err = err
		return b
	}
	r := BLASReport{Library: "OpenBLAS", Core: C.GoString(C.g2g_corename()), Reason: ch.reason, Setting: ch.setting, Err: ch.err}
	if f := strings.Fields(C.GoString(C.g2g_config())); len(f) > 1 && f[0] == "OpenBLAS" {
		r.Version = f[1]
	}
	if ch.want != "" && !strings.EqualFold(r.Core, ch.want) {
		// The library was already loaded (by another part of the process)
		// with other kernels: say so rather than claim the choice.
		r.Reason = "not " + ch.want + " as intended (" + ch.reason + "): the library was loaded before g2g chose"
	}
	return backendInfo{report: r, impl: openBLAS{}, denseBlockFill: 0.5}
}

// cEnv reads the C environment, where the backend sets OPENBLAS_CORETYPE
// while the library loads.
func cEnv(name string) (string, bool) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	v := C.g2g_getenv(cs)
	if v == nil {
		return "", false
	}
	return C.GoString(v), true
}

// openBLAS is OpenBLAS for the routines gorgonia and g2g call, with
// products split between goroutines, and gonum's pure Go for the rest.
type openBLAS struct{ gonum.Implementation }

// Sgemm splits the product into row or column bands computed concurrently.
func (openBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	parallelGemm(sgemm, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is one call of OpenBLAS's cblas_sgemm after gonum's checks.
func sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := transpose(tA), transpose(tB)
	if !checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		return
	}
	C.g2g_sgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha), f32(a), C.int(lda), f32(b), C.int(ldb), C.float(beta), f32(c), C.int(ldc))
}

// Dgemm computes C = alpha·op(A)·op(B) + beta·C with OpenBLAS.
func (openBLAS) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	ta, tb := transpose(tA), transpose(tB)
	if !checkGemm(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		return
	}
	C.g2g_dgemm(ta, tb, C.int(m), C.int(n), C.int(k), C.double(alpha), f64(a), C.int(lda), f64(b), C.int(ldb), C.double(beta), f64(c), C.int(ldc))
}

// Sgemv computes y = alpha·op(A)·x + beta·y with OpenBLAS.
func (openBLAS) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	ta := transpose(tA)
	if !checkGemv(tA, m, n, len(a), lda, len(x), incX, len(y), incY) {
		return
	}
	C.g2g_sgemv(ta, C.int(m), C.int(n), C.float(alpha), f32(a), C.int(lda), f32(x), C.int(incX), C.float(beta), f32(y), C.int(incY))
}

// Dgemv computes y = alpha·op(A)·x + beta·y with OpenBLAS.
func (openBLAS) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	ta := transpose(tA)
	if !checkGemv(tA, m, n, len(a), lda, len(x), incX, len(y), incY) {
		return
	}
	C.g2g_dgemv(ta, C.int(m), C.int(n), C.double(alpha), f64(a), C.int(lda), f64(x), C.int(incX), C.double(beta), f64(y), C.int(incY))
}

// Sger computes A += alpha·x·yᵀ with OpenBLAS.
func (openBLAS) Sger(m, n int, alpha float32, x []float32, incX int, y []float32, incY int, a []float32, lda int) {
	if !checkGer(m, n, len(x), incX, len(y), incY, len(a), lda) {
		return
	}
	C.g2g_sger(C.int(m), C.int(n), C.float(alpha), f32(x), C.int(incX), f32(y), C.int(incY), f32(a), C.int(lda))
}

// Dger computes A += alpha·x·yᵀ with OpenBLAS.
func (openBLAS) Dger(m, n int, alpha float64, x []float64, incX int, y []float64, incY int, a []float64, lda int) {
	if !checkGer(m, n, len(x), incX, len(y), incY, len(a), lda) {
		return
	}
	C.g2g_dger(C.int(m), C.int(n), C.double(alpha), f64(x), C.int(incX), f64(y), C.int(incY), f64(a), C.int(lda))
}

// Sdot returns Σ x[i]·y[i] computed by OpenBLAS.
func (openBLAS) Sdot(n int, x []float32, incX int, y []float32, incY int) float32 {
	if !checkVecs(n, len(x), incX, len(y), incY) {
		return 0
	}
	return float32(C.g2g_sdot(C.int(n), f32(x), C.int(incX), f32(y), C.int(incY)))
}

// Ddot returns Σ x[i]·y[i] computed by OpenBLAS.
func (openBLAS) Ddot(n int, x []float64, incX int, y []float64, incY int) float64 {
	if !checkVecs(n, len(x), incX, len(y), incY) {
		return 0
	}
	return float64(C.g2g_ddot(C.int(n), f64(x), C.int(incX), f64(y), C.int(incY)))
}

// Saxpy computes y += alpha·x with OpenBLAS.
func (openBLAS) Saxpy(n int, alpha float32, x []float32, incX int, y []float32, incY int) {
	if !checkVecs(n, len(x), incX, len(y), incY) {
		return
	}
	C.g2g_saxpy(C.int(n), C.float(alpha), f32(x), C.int(incX), f32(y), C.int(incY))
}

// Daxpy computes y += alpha·x with OpenBLAS.
func (openBLAS) Daxpy(n int, alpha float64, x []float64, incX int, y []float64, incY int) {
	if !checkVecs(n, len(x), incX, len(y), incY) {
		return
	}
	C.g2g_daxpy(C.int(n), C.double(alpha), f64(x), C.int(incX), f64(y), C.int(incY))
}

// Sscal computes x *= alpha with OpenBLAS.
func (openBLAS) Sscal(n int, alpha float32, x []float32, incX int) {
	if !checkScal(n, len(x), incX) {
		return
	}
	C.g2g_sscal(C.int(n), C.float(alpha), f32(x), C.int(incX))
}

// Dscal computes x *= alpha with OpenBLAS.
func (openBLAS) Dscal(n int, alpha float64, x []float64, incX int) {
	if !checkScal(n, len(x), incX) {
		return
	}
	C.g2g_dscal(C.int(n), C.double(alpha), f64(x), C.int(incX))
}

// transpose converts gonum's transpose flag to CBLAS's.
func transpose(t blas.Transpose) C.int {
	switch t {
	case blas.NoTrans:
		return 111
	case blas.Trans:
		return 112
	case blas.ConjTrans:
		return 113
	}
	panic(errBadTranspose)
}

// f32 and f64 return a pointer to the slice's first element, nil when it
// is empty (OpenBLAS reads nothing then).
func f32(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(&s[0])
}

func f64(s []float64) *C.double {
	if len(s) == 0 {
		return nil
	}
	return (*C.double)(&s[0])
}

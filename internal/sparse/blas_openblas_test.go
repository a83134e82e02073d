//go:build openblas

package sparse

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/g2g-ml/g2g/internal/sparse/kernels"
)

// TestMain lets the tests start this test binary again in another
// environment: with G2G_TEST_BLAS_REPORT set, it prints BLASInfo as JSON
// and exits.
func TestMain(m *testing.M) {
	if os.Getenv("G2G_TEST_BLAS_REPORT") != "" {
		r := BLASInfo()
		out := map[string]string{"library": r.Library, "version": r.Version, "core": r.Core, "reason": r.Reason,
			"setting": r.Setting, "name": BLASName()}
		if r.Err != nil {
			out["err"] = r.Err.Error()
		}
		v, ok := cEnv("OPENBLAS_CORETYPE")
		out["c_env"] = fmt.Sprintf("%q %v", v, ok)
		json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// reportIn runs this test binary with env added to (or, for "NAME=" with
// remove, removed from) the environment and returns its BLAS report.
func reportIn(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		if v != "\x00" { // "\x00": leave the variable unset
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, "G2G_TEST_BLAS_REPORT=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v", env, err)
	}
	var r map[string]string
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%v: %q: %v", env, out, err)
	}
	return r
}

// The loaded kernels are the ones chooseCore decides for this CPU and
// environment, and the C environment is left as it was.
func TestLoadedCoreIsTheDecision(t *testing.T) {
	r := BLASInfo()
	if r.Library != "OpenBLAS" {
		t.Fatalf("OpenBLAS not in use: %s (install libopenblas-dev)", BLASName())
	}
	setting, _ := os.LookupEnv(BLASCoreSetting)
	inherited, has := os.LookupEnv("OPENBLAS_CORETYPE")
	ch := chooseCore(kernels.CPU(), setting, inherited, has)
	if ch.want != "" && !strings.EqualFold(r.Core, ch.want) {
		t.Errorf("OpenBLAS runs %s kernels, g2g chose %s (%s)", r.Core, ch.want, ch.reason)
	}
	if r.Reason != ch.reason || r.Setting != ch.setting {
		t.Errorf("report %+v, decision %+v", r, ch)
	}
	if r.Version == "" || !strings.Contains(BLASName(), r.Core+" kernels") {
		t.Errorf("BLASName() = %q, report %+v", BLASName(), r)
	}
	if v, ok := cEnv("OPENBLAS_CORETYPE"); v != inherited || ok != has {
		t.Errorf("C environment's OPENBLAS_CORETYPE = %q (%v) after loading, was %q (%v)", v, ok, inherited, has)
	}
	t.Logf("BLAS: %s", BLASName())
}

// The settings, each in a fresh process: auto overrides a weaker
// OPENBLAS_CORETYPE, env keeps it, a core name sets it, and a refused
// setting falls back to auto's choice with an error.
func TestCoreSettings(t *testing.T) {
	cpu := kernels.CPU()
	best, _, ok := bestCore(cpu)
	if !ok {
		t.Skip("this CPU has no AVX2+FMA: auto leaves the choice to OpenBLAS")
	}
	const unset = "\x00"
	for _, c := range []struct {
		env      map[string]string
		core     string
		contains []string
		err      string
	}{
		{map[string]string{BLASCoreSetting: unset, "OPENBLAS_CORETYPE": "Prescott"}, best.runs,
			[]string{"chosen by g2g", "OPENBLAS_CORETYPE=Prescott in the environment overridden"}, ""},
		{map[string]string{BLASCoreSetting: "auto", "OPENBLAS_CORETYPE": unset}, best.runs, []string{"chosen by g2g"}, ""},
		{map[string]string{BLASCoreSetting: "env", "OPENBLAS_CORETYPE": "Prescott"}, "Prescott",
			[]string{"OPENBLAS_CORETYPE=Prescott from the environment (G2G_BLAS_CORE=env)"}, ""},
		{map[string]string{BLASCoreSetting: "prescott", "OPENBLAS_CORETYPE": unset}, "Prescott", []string{"set by G2G_BLAS_CORE=prescott"}, ""},
		{map[string]string{BLASCoreSetting: "Nonsense", "OPENBLAS_CORETYPE": "Prescott"}, best.runs,
			[]string{"chosen by g2g", "G2G_BLAS_CORE=Nonsense refused"}, "G2G_BLAS_CORE=Nonsense refused"},
	} {
		r := reportIn(t, c.env)
		if r["core"] != c.core {
			t.Errorf("%v: core %q, want %q (%s)", c.env, r["core"], c.core, r["name"])
		}
		for _, s := range c.contains {
			if !strings.Contains(r["reason"], s) {
				t.Errorf("%v: reason %q does not say %q", c.env, r["reason"], s)
			}
		}
		if r["err"] != c.err && !strings.Contains(r["err"], c.err) || c.err == "" && r["err"] != "" {
			t.Errorf("%v: error %q, want %q", c.env, r["err"], c.err)
		}
		inh := c.env["OPENBLAS_CORETYPE"]
		if want := fmt.Sprintf("%q true", inh); inh == unset && r["c_env"] != `"" false` || inh != unset && r["c_env"] != want {
			t.Errorf("%v: C environment after loading: %q", c.env, r["c_env"])
		}
	}
}

// Without the library the backend is gonum's pure Go, saying why.
func TestMissingLibraryFallsBackToGonum(t *testing.T) {
	r := reportIn(t, map[string]string{OpenBLASLibrarySetting: "/nonexistent/libopenblas.so.0"})
	if r["library"] != "gonum" || !strings.HasPrefix(r["name"], "gonum (pure Go; OpenBLAS not loaded: ") ||
		!strings.Contains(r["name"], "/nonexistent/libopenblas.so.0") || r["err"] == "" {
		t.Errorf("report %v", r)
	}
}

// OpenBLAS's results agree with gonum's pure Go up to float32 summation
// order: |got − want| ≤ 2·k·ε·Σ|a||b| entry by entry.
func TestOpenBLASMatchesGonum(t *testing.T) {
	if BLASInfo().Library != "OpenBLAS" {
		t.Fatalf("OpenBLAS not in use: %s", BLASName())
	}
	rng := rand.New(rand.NewSource(7))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	abs := func(s []float32) []float32 {
		r := make([]float32, len(s))
		for i, v := range s {
			r[i] = float32(math.Abs(float64(v)))
		}
		return r
	}
	ref, ob := gonum.Implementation{}, BLAS()
	const eps = 1.0 / (1 << 23)
	for _, sz := range [][3]int{{1, 1, 1}, {7, 5, 3}, {64, 96, 128}, {256, 300, 784}, {1024, 64, 1024}, {5, 700, 33}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
				lda, ldb, ldc := k+1, n+2, n+3
				rowsA, rowsB := m, k
				if tA == blas.Trans {
					lda, rowsA = m+1, k
				}
				if tB == blas.Trans {
					ldb, rowsB = k+2, n
				}
				a, b, c0 := fill(rowsA*lda), fill(rowsB*ldb), fill(m*ldc)
				want := append([]float32(nil), c0...)
				got := append([]float32(nil), c0...)
				bound := abs(c0)
				ref.Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, want, ldc)
				ob.Sgemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 0.25, got, ldc)
				ref.Sgemm(tA, tB, m, n, k, 0.5, abs(a), lda, abs(b), ldb, 0.25, bound, ldc)
				for i := range want {
					tol := 2 * float64(k+2) * eps * float64(bound[i])
					if d := math.Abs(float64(got[i] - want[i])); d > tol || math.IsNaN(float64(got[i])) {
						t.Fatalf("%dx%dx%d %c%c: c[%d] = %v, gonum %v (tolerance %g)", m, n, k, tA, tB, i, got[i], want[i], tol)
					}
				}
			}
		}
	}
}

// The level-1 and level-2 routines gorgonia calls go to OpenBLAS and agree
// with gonum too, in float32 and float64.
func TestOpenBLASVectorRoutines(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	ref, ob := gonum.Implementation{}, BLAS()
	m, n := 37, 53
	f32s := func(k int) []float32 {
		s := make([]float32, k)
		for i := range s {
			s[i] = float32(rng.Float64()*2 - 1)
		}
		return s
	}
	f64s := func(k int) []float64 {
		s := make([]float64, k)
		for i := range s {
			s[i] = rng.Float64()*2 - 1
		}
		return s
	}
	close32 := func(name string, got, want []float32) {
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-4 {
				t.Fatalf("%s[%d] = %v, gonum %v", name, i, got[i], want[i])
			}
		}
	}
	close64 := func(name string, got, want []float64) {
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Fatalf("%s[%d] = %v, gonum %v", name, i, got[i], want[i])
			}
		}
	}
	a, x, y := f32s(m*(n+1)), f32s(2*n+2*m), f32s(2*n+2*m)
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		g, w := append([]float32(nil), y...), append([]float32(nil), y...)
		ob.Sgemv(tA, m, n, 0.5, a, n+1, x, 2, 0.25, g, 2)
		ref.Sgemv(tA, m, n, 0.5, a, n+1, x, 2, 0.25, w, 2)
		close32(fmt.Sprintf("Sgemv %c", tA), g, w)
	}
	ga, wa := append([]float32(nil), a...), append([]float32(nil), a...)
	ob.Sger(m, n, 0.5, x, 1, y, 2, ga, n+1)
	ref.Sger(m, n, 0.5, x, 1, y, 2, wa, n+1)
	close32("Sger", ga, wa)
	close32("Sdot", []float32{ob.Sdot(n, x, 2, y, 1)}, []float32{ref.Sdot(n, x, 2, y, 1)})
	g, w := append([]float32(nil), y...), append([]float32(nil), y...)
	ob.Saxpy(n, 0.5, x, 1, g, 2)
	ref.Saxpy(n, 0.5, x, 1, w, 2)
	close32("Saxpy", g, w)
	ob.Sscal(n, 3, g, 1)
	ref.Sscal(n, 3, w, 1)
	close32("Sscal", g, w)

	a64, x64, y64 := f64s(m*(n+1)), f64s(2*n+2*m), f64s(2*n+2*m)
	g64, w64 := append([]float64(nil), y64...), append([]float64(nil), y64...)
	ob.Dgemv(blas.Trans, m, n, 0.5, a64, n+1, x64, 1, 0.25, g64, 1)
	ref.Dgemv(blas.Trans, m, n, 0.5, a64, n+1, x64, 1, 0.25, w64, 1)
	close64("Dgemv", g64, w64)
	c64 := f64s(m * n)
	gc, wc := append([]float64(nil), c64...), append([]float64(nil), c64...)
	b64 := f64s(n * 4)
	ob.Dgemm(blas.NoTrans, blas.Trans, m, n, 4, 1, a64, 4, b64, 4, 1, gc, n)
	ref.Dgemm(blas.NoTrans, blas.Trans, m, n, 4, 1, a64, 4, b64, 4, 1, wc, n)
	close64("Dgemm", gc, wc)
	ga64, wa64 := append([]float64(nil), a64...), append([]float64(nil), a64...)
	ob.Dger(m, n, 2, x64, 1, y64, 1, ga64, n+1)
	ref.Dger(m, n, 2, x64, 1, y64, 1, wa64, n+1)
	close64("Dger", ga64, wa64)
	close64("Ddot", []float64{ob.Ddot(n, x64, 1, y64, 1)}, []float64{ref.Ddot(n, x64, 1, y64, 1)})
	ob.Daxpy(n, 2, x64, 1, g64, 1)
	ref.Daxpy(n, 2, x64, 1, w64, 1)
	ob.Dscal(n, -1, g64, 1)
	ref.Dscal(n, -1, w64, 1)
	close64("Daxpy+Dscal", g64, w64)
}

// Bad arguments panic with gonum's messages before reaching C.
func TestOpenBLASChecksArguments(t *testing.T) {
	ref, ob := gonum.Implementation{}, BLAS()
	short := make([]float32, 10)
	for name, call := range map[string]func(blas.Float32){
		"short A": func(b blas.Float32) {
			b.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, short, 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		},
		"short C": func(b blas.Float32) {
			b.Sgemm(blas.NoTrans, blas.Trans, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, short, 4)
		},
		"bad lda": func(b blas.Float32) {
			b.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, make([]float32, 16), 3, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		},
		"bad trans": func(b blas.Float32) { b.Sgemv('X', 2, 2, 1, short, 2, short, 1, 0, short, 1) },
		"short x": func(b blas.Float32) {
			b.Sgemv(blas.Trans, 2, 8, 1, make([]float32, 16), 8, make([]float32, 1), 1, 0, short, 1)
		},
		"short y ger":  func(b blas.Float32) { b.Sger(2, 8, 1, short, 1, short[:3], 1, make([]float32, 16), 8) },
		"zero inc dot": func(b blas.Float32) { b.Sdot(3, short, 0, short, 1) },
		"short axpy":   func(b blas.Float32) { b.Saxpy(6, 1, short, 2, short, 1) },
		"negative n":   func(b blas.Float32) { b.Sscal(-1, 1, short, 1) },
	} {
		want, got := recovered(func() { call(ref) }), recovered(func() { call(ob) })
		if want == "" || got != want {
			t.Errorf("%s: OpenBLAS backend panics with %q, gonum with %q", name, got, want)
		}
	}
}

func recovered(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}

package optim

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// The kernel reads adamConsts as 16 consecutive float32 values.
func TestAdamConstsLayout(t *testing.T) {
	var c adamConsts
	if unsafe.Sizeof(c) != 64 || unsafe.Offsetof(c.negTinyMoment) != 60 || unsafe.Offsetof(c.keep) != 44 {
		t.Fatalf("adamConsts: size %d, negTinyMoment at %d, keep at %d; adam_asm_gen.go wants 64, 60, 44",
			unsafe.Sizeof(c), unsafe.Offsetof(c.negTinyMoment), unsafe.Offsetof(c.keep))
	}
}

// kernelValue returns a float32 drawn to reach every branch of
// adamStep.update: ordinary values of all sizes, values next to the
// tiny-gradient and tiny-moment thresholds, subnormals, signed zeros,
// infinities and values beyond a clipping bound.
func kernelValue(rng *rand.Rand) float32 {
	sign := float32(1)
	if rng.IntN(2) == 0 {
		sign = -1
	}
	near := func(x float32) float32 { // x or one of its float32 neighbours
		return math.Float32frombits(math.Float32bits(x) + uint32(rng.IntN(5)) - 2)
	}
	switch rng.IntN(12) {
	case 0:
		return sign * near(tinyGrad)
	case 1:
		return sign * near(tinyMoment)
	case 2:
		return sign * math.Float32frombits(uint32(rng.IntN(1<<23))) // subnormal
	case 3:
		return sign * 0
	case 4:
		return sign * float32(math.Inf(1))
	case 5:
		return sign * near(0.5) // the clipping bound of the tests below
	case 6:
		return sign * float32(math.Exp(rng.Float64()*180-90)) // any size
	default:
		return float32(rng.NormFloat64())
	}
}

// sameBits reports whether a and b are the same float32, bit for bit; two
// NaNs count as the same (a NaN's payload depends on which operand an
// instruction takes it from).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// The AVX-512 kernel must give exactly the results of adamStep.update, on
// every path: runs of consecutive indices, scattered indices, no indices,
// and every tail length.
func TestAdamKernelMatchesScalar(t *testing.T) {
	if !useAsm() {
		t.Skip("no AVX-512 on this processor")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	steps := []adamStep{
		{b1: 0.9, b2: 0.999, omb1: 0.1, omb2: 0.001, eps: 1e-8, scale: 1, stepSize: 0.01, sqrtBc2: 0.0316, keep: 1},
		{b1: 0.9, b2: 0.999, omb1: 0.1, omb2: 0.001, eps: 1e-8, cv: 0.5, scale: 0.7, stepSize: 3e-4, sqrtBc2: 0.9, l2: 0.01, keep: 1},
		{b1: 0.5, b2: 0.75, omb1: 0.5, omb2: 0.25, eps: 1e-3, scale: 1, stepSize: 1, sqrtBc2: 1, keep: 0.999},
	}
	for si, k := range steps {
		c := k.consts()
		for _, n := range []int{1, 7, 15, 16, 17, 31, 32, 33, 47, 100, 517} {
			for _, mode := range []string{"dense", "runs", "scattered", "mixed"} {
				size := 4 * n
				var idx []int32
				switch mode {
				case "runs":
					for i := 0; len(idx) < n; i += 17 + rng.IntN(5) {
						for r := 0; r < 20 && len(idx) < n; r++ {
							idx = append(idx, int32(i))
							i++
						}
					}
				case "scattered":
					for i := rng.IntN(3); len(idx) < n; i += 2 + rng.IntN(3) {
						idx = append(idx, int32(i))
					}
				case "mixed":
					for i := 0; len(idx) < n; i++ {
						if rng.IntN(3) > 0 {
							idx = append(idx, int32(i))
						}
					}
				default:
					size = n
				}
				if len(idx) > 0 {
					size = int(idx[len(idx)-1]) + 1 + rng.IntN(3)
				}
				w, g := make([]float32, size), make([]float32, size)
				m, v := make([]float32, n), make([]float32, n)
				for i := range w {
					w[i], g[i] = kernelValue(rng), kernelValue(rng)
				}
				for j := range m {
					m[j], v[j] = kernelValue(rng), float32(math.Abs(float64(kernelValue(rng))))
				}
				wantW, wantM, wantV := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
				for j := range n {
					i := j
					if idx != nil {
						i = int(idx[j])
					}
					k.update(&wantW[i], g[i], &wantM[j], &wantV[j])
				}
				var ip *int32
				if idx != nil {
					ip = &idx[0]
				}
				adamAVX512(&c, &w[0], &g[0], &m[0], &v[0], ip, n, nil, nil)
				for i := range w {
					if !sameBits(w[i], wantW[i]) {
						t.Fatalf("step %d, n %d, %s: w[%d] = %g (%#x), want %g (%#x)", si, n, mode, i,
							w[i], math.Float32bits(w[i]), wantW[i], math.Float32bits(wantW[i]))
					}
				}
				for j := range m {
					if !sameBits(m[j], wantM[j]) || !sameBits(v[j], wantV[j]) {
						t.Fatalf("step %d, n %d, %s: m, v[%d] = %g, %g, want %g, %g", si, n, mode, j, m[j], v[j], wantM[j], wantV[j])
					}
				}
			}
		}
	}
}

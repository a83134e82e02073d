package kernels

// BiasReLU sets y[k] = z[k] + b[k] — or z[k] + scalar when b is nil — and,
// with relu, replaces negative results by 0. y and z may be the same slice;
// b, when given, is as long as y.
func BiasReLU(y, z, b []float32, scalar float32, relu bool) {
	z = z[:len(y)]
	if b != nil {
		b = b[:len(y)]
	}
	k := 0
	if accelerated && len(y) >= Lane {
		k = len(y) / Lane * Lane
		mode := 0
		if relu {
			mode = 1
		}
		var bp *float32
		if b != nil {
			bp = &b[0]
		}
		biasAct16(&y[0], &z[0], bp, k, scalar, mode)
	}
	for ; k < len(y); k++ {
		v := z[k] + scalar
		if b != nil {
			v = z[k] + b[k]
		}
		if relu && !(v > 0) && v == v {
			v = 0 // like the assembly's max(v, 0), NaN stays NaN
		}
		y[k] = v
	}
}

// ReLUGrad sets dz[k] = dy[k] where y[k] > 0 and 0 elsewhere: the gradient
// through a ReLU, from its output y.
func ReLUGrad(dz, y, dy []float32) {
	y, dy = y[:len(dz)], dy[:len(dz)]
	k := 0
	if accelerated && len(dz) >= Lane {
		k = len(dz) / Lane * Lane
		reluGrad16(&dz[0], &y[0], &dy[0], k)
	}
	for ; k < len(dz); k++ {
		if y[k] > 0 {
			dz[k] = dy[k]
		} else {
			dz[k] = 0
		}
	}
}

// Mask sets dst[k] = src[k] where m[k] > 0 and 0 elsewhere (m holds 0s and
// 1s); dst and src may be the same slice.
func Mask(dst, src, m []float32) { ReLUGrad(dst, m, src) }

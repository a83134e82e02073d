package optim_test

import (
	"math"

	"github.com/g2g-ml/g2g/optim"
)

// refOptimizer is the definition the optimizers are held to: the scalar
// algorithm of optim as it was before the state of masked parameters was
// packed (commit 95c4bfb, core.go, adam.go, sgd.go), with full-size state
// slots and, every step, a full pass over each mask that zeroes masked
// weights and their state (the old code's pass over Param.Active was
// tested bit-identical to that pass). The per-entry updates are the old
// ones, each product converted to float32 as the optimizers now write them
// (a no-op in the default amd64 build, where Go does not fuse
// multiply-adds). It is not an optim.Optimizer: it keeps only what the
// tests compare.
type refOptimizer struct {
	adam, decoupled       bool
	baseLR                float64
	sched                 optim.Schedule
	beta1, beta2, eps, wd float64
	momentum              float64
	nesterov              bool
	clipNorm, clipValue   float64
	steps                 int
	slots                 map[string][][]float32
	slotNames             []string
	tinyGrad, tinyMoment  float32
}

func refAdam(cfg optim.AdamConfig, decoupled bool) *refOptimizer {
	r := &refOptimizer{adam: true, decoupled: decoupled, baseLR: cfg.LR, sched: cfg.Schedule,
		beta1: cfg.Beta1, beta2: cfg.Beta2, eps: cfg.Eps, wd: cfg.WeightDecay,
		clipNorm: cfg.ClipNorm, clipValue: cfg.ClipValue, slotNames: []string{optim.SlotM, optim.SlotV}}
	if r.beta1 == 0 {
		r.beta1 = optim.DefaultBeta1
	}
	if r.beta2 == 0 {
		r.beta2 = optim.DefaultBeta2
	}
	if r.eps == 0 {
		r.eps = optim.DefaultEps
	}
	return r.init()
}

func refSGD(cfg optim.SGDConfig) *refOptimizer {
	r := &refOptimizer{baseLR: cfg.LR, sched: cfg.Schedule, momentum: cfg.Momentum, nesterov: cfg.Nesterov,
		wd: cfg.WeightDecay, clipNorm: cfg.ClipNorm, clipValue: cfg.ClipValue}
	if cfg.Momentum > 0 {
		r.slotNames = []string{optim.SlotMomentum}
	}
	return r.init()
}

func (r *refOptimizer) init() *refOptimizer {
	if r.sched == nil {
		r.sched = optim.Constant()
	}
	r.slots = map[string][][]float32{}
	r.tinyGrad, r.tinyMoment = 1e-17, 1e-34 // optim's tinyGrad and tinyMoment
	return r
}

// Step is the old Step for valid params.
func (r *refOptimizer) Step(params []optim.Param) {
	lr := r.baseLR * r.sched.Factor(r.steps)
	scale := float32(1)
	if r.clipNorm > 0 {
		scale = float32(r.normScale(params))
	}
	for _, p := range params {
		st, ok := r.slots[p.Name]
		if !ok {
			st = make([][]float32, len(r.slotNames))
			for k := range st {
				st[k] = make([]float32, len(p.Value))
			}
			r.slots[p.Name] = st
		}
		k := r.adamStep(lr, scale, p.NoDecay)
		for i := range p.Value {
			if p.Mask != nil && p.Mask[i] == 0 {
				p.Value[i] = 0
				for _, s := range st {
					s[i] = 0
				}
				continue
			}
			if r.adam {
				k.update(&p.Value[i], p.Grad[i], &st[0][i], &st[1][i])
			} else {
				var buf *float32
				if len(st) > 0 {
					buf = &st[0][i]
				}
				r.sgdUpdate(lr, scale, p.NoDecay, &p.Value[i], p.Grad[i], buf)
			}
		}
	}
	r.steps++
}

func (r *refOptimizer) clip(g float32) float32 {
	cv := float32(r.clipValue)
	if g > cv {
		return cv
	}
	if g < -cv {
		return -cv
	}
	return g
}

func (r *refOptimizer) normScale(params []optim.Param) float64 {
	var sum float64
	for _, p := range params {
		for j, g := range p.Grad {
			if p.Mask != nil && p.Mask[j] == 0 {
				continue
			}
			if r.clipValue > 0 {
				g = r.clip(g)
			}
			sum += float64(g) * float64(g)
		}
	}
	s := r.clipNorm / (math.Sqrt(sum) + 1e-6)
	if s > 1 || math.IsNaN(s) {
		return 1
	}
	return s
}

// refAdamStep is the old adamStep: one step's constants for one parameter.
type refAdamStep struct {
	b1, b2, omb1, omb2, eps, cv, scale float32
	stepSize, sqrtBc2, l2, keep        float32
	tinyGrad, tinyMoment               float32
}

func (r *refOptimizer) adamStep(lr float64, scale float32, noDecay bool) refAdamStep {
	t := float64(r.steps + 1)
	bc1 := 1 - math.Pow(r.beta1, t)
	bc2 := 1 - math.Pow(r.beta2, t)
	stepSize := float32(lr / bc1)
	sqrtBc2 := float32(math.Sqrt(bc2))
	b1, b2 := float32(r.beta1), float32(r.beta2)
	omb1, omb2 := float32(1-r.beta1), float32(1-r.beta2)
	eps := float32(r.eps)
	var l2 float32
	keep := float32(1)
	if !noDecay && r.wd > 0 {
		if r.decoupled {
			keep = float32(1 - lr*r.wd)
		} else {
			l2 = float32(r.wd)
		}
	}
	return refAdamStep{b1: b1, b2: b2, omb1: omb1, omb2: omb2, eps: eps, cv: float32(r.clipValue), scale: scale,
		stepSize: stepSize, sqrtBc2: sqrtBc2, l2: l2, keep: keep, tinyGrad: r.tinyGrad, tinyMoment: r.tinyMoment}
}

func (k *refAdamStep) update(w *float32, g float32, m, v *float32) {
	if g < k.tinyGrad && g > -k.tinyGrad {
		g = 0
	}
	if k.cv > 0 {
		if g > k.cv {
			g = k.cv
		} else if g < -k.cv {
			g = -k.cv
		}
	}
	wi := *w
	g = float32(g*k.scale) + float32(k.l2*wi)
	wi *= k.keep
	var g2 float32
	if g > k.tinyGrad || g < -k.tinyGrad {
		g2 = g * g
	}
	mi := float32(k.b1**m) + float32(k.omb1*g)
	vi := float32(k.b2**v) + float32(k.omb2*g2)
	if mi < k.tinyMoment && mi > -k.tinyMoment {
		mi = 0
	}
	if vi < k.tinyMoment {
		vi = 0
	}
	*m, *v = mi, vi
	denom := float32(math.Sqrt(float64(vi)))/k.sqrtBc2 + k.eps
	*w = wi - k.stepSize*mi/denom
}

func (r *refOptimizer) sgdUpdate(lr float64, scale float32, noDecay bool, w *float32, g float32, buf *float32) {
	wd := float32(r.wd)
	if noDecay {
		wd = 0
	}
	mom := float32(r.momentum)
	if r.clipValue > 0 {
		g = r.clip(g)
	}
	g = float32(g*scale) + float32(wd**w)
	if buf != nil {
		b := float32(mom**buf) + g
		if b < r.tinyMoment && b > -r.tinyMoment {
			b = 0
		}
		*buf = b
		if r.nesterov {
			g += float32(mom * b)
		} else {
			g = b
		}
	}
	*w -= float32(float32(lr) * g)
}

// ResetAt is the old ResetAt for valid indices.
func (r *refOptimizer) ResetAt(name string, indices []int) {
	for _, s := range r.slots[name] {
		for _, i := range indices {
			s[i] = 0
		}
	}
}

// State is the old State: full-size copies of the slots.
func (r *refOptimizer) State() optim.State {
	s := optim.State{Step: r.steps, BaseLR: r.baseLR, Slots: map[string]map[string][]float32{}}
	for name, st := range r.slots {
		m := map[string][]float32{}
		for k, sn := range r.slotNames {
			m[sn] = append([]float32(nil), st[k]...)
		}
		s.Slots[name] = m
	}
	return s
}

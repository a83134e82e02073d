package optim

import (
	"math"

	"github.com/pkg/errors"
)

// Slot names of Adam's state in State.Slots.
const (
	// SlotM is the name of Adam's first-moment (mean) slot.
	SlotM = "m"
	// SlotV is the name of Adam's second-moment (uncentred variance) slot.
	SlotV = "v"
)

// Adam defaults, used when the corresponding AdamConfig field is zero.
const (
	// DefaultBeta1 is the default first-moment decay rate.
	DefaultBeta1 = 0.9
	// DefaultBeta2 is the default second-moment decay rate.
	DefaultBeta2 = 0.999
	// DefaultEps is the default denominator term.
	DefaultEps = 1e-8
)

// AdamConfig configures Adam and AdamW. LR is required; a zero Beta1, Beta2
// or Eps means DefaultBeta1, DefaultBeta2 or DefaultEps (so a beta of
// exactly 0 cannot be asked for); any other zero disables its feature. In
// particular a zero WeightDecay means no weight decay, for AdamW too (unlike
// torch.optim.AdamW, whose default is 0.01).
type AdamConfig struct {
	// LR is the base learning rate; it must be > 0 and finite.
	LR float64
	// Beta1 is the first-moment decay rate, in [0, 1).
	Beta1 float64
	// Beta2 is the second-moment decay rate, in [0, 1).
	Beta2 float64
	// Eps is added to the denominator, > 0.
	Eps float64
	// WeightDecay is the weight-decay factor, >= 0: coupled L2 (added to
	// the gradient) unless Decoupled. Params with NoDecay are exempt.
	WeightDecay float64
	// ClipNorm, when > 0, rescales the gradients of all params of a step so
	// that their global L2 norm is at most ClipNorm.
	ClipNorm float64
	// ClipValue, when > 0, clamps every gradient entry to
	// [-ClipValue, ClipValue]. It is applied before ClipNorm.
	ClipValue float64
	// Decoupled selects AdamW's decoupled weight decay. NewAdam and NewAdamW
	// set it themselves, ignoring the caller's value.
	Decoupled bool
	// Schedule scales LR per step; nil means Constant().
	Schedule Schedule
}

// Adam is the Adam optimizer (torch.optim.Adam) or, when built by NewAdamW,
// AdamW (torch.optim.AdamW). At step t = Steps()+1, for each unmasked entry:
//
//	g  = clip(grad) (+ wd*w for Adam)
//	w *= 1 - lr*wd                              (AdamW only)
//	m  = β1*m + (1-β1)*g
//	v  = β2*v + (1-β2)*g²
//	w -= lr/(1-β1^t) * m / (sqrt(v)/sqrt(1-β2^t) + eps)
//
// which is lr*m̂/(sqrt(v̂)+eps) with the bias-corrected moments m̂, v̂. It keeps
// two slots per parameter, SlotM and SlotV. The bias correction uses the
// optimizer's step counter, shared by all parameters; a parameter first seen
// after the first step, or whose slots were reset by ResetAt, starts from
// zero moments with that shared t (PyTorch would count its steps
// separately). Adam is not safe for concurrent use.
type Adam struct {
	c            core
	beta1, beta2 float64
	eps          float64
	wd           float64
	decoupled    bool
	work         adamWork // the parameter being updated, reused across steps
}

var _ Optimizer = (*Adam)(nil)

// NewAdam returns an Adam optimizer with coupled L2 weight decay
// (g += WeightDecay*w, like torch.optim.Adam), or an error naming the first
// invalid field of cfg. cfg.Decoupled is ignored.
func NewAdam(cfg AdamConfig) (*Adam, error) {
	cfg.Decoupled = false
	return newAdam("Adam", cfg)
}

// NewAdamW returns an AdamW optimizer with decoupled weight decay
// (w -= LR*WeightDecay*w before the Adam update, like torch.optim.AdamW), or
// an error naming the first invalid field of cfg. A zero WeightDecay means no
// decay. cfg.Decoupled is ignored.
func NewAdamW(cfg AdamConfig) (*Adam, error) {
	cfg.Decoupled = true
	return newAdam("AdamW", cfg)
}

func newAdam(kind string, cfg AdamConfig) (*Adam, error) {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = DefaultBeta1
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = DefaultBeta2
	}
	if cfg.Eps == 0 {
		cfg.Eps = DefaultEps
	}
	if err := checkUnit(kind, "Beta1", cfg.Beta1); err != nil {
		return nil, err
	}
	if err := checkUnit(kind, "Beta2", cfg.Beta2); err != nil {
		return nil, err
	}
	if !(cfg.Eps > 0) || math.IsInf(cfg.Eps, 0) {
		return nil, errors.Errorf("optim: %s: Eps must be > 0 and finite, got %v", kind, cfg.Eps)
	}
	if err := checkNonNeg(kind, "WeightDecay", cfg.WeightDecay); err != nil {
		return nil, err
	}
	c, err := newCore(kind, cfg.LR, cfg.ClipNorm, cfg.ClipValue, cfg.Schedule, SlotM, SlotV)
	if err != nil {
		return nil, err
	}
	return &Adam{
		c:         c,
		beta1:     cfg.Beta1,
		beta2:     cfg.Beta2,
		eps:       cfg.Eps,
		wd:        cfg.WeightDecay,
		decoupled: cfg.Decoupled,
	}, nil
}

// Step applies one Adam update to every parameter and advances the step
// counter. On error (mismatched lengths, a name given twice, an invalid
// learning rate) no Value is modified and the counter does not move.
func (o *Adam) Step(params []Param) error {
	lr, scale, err := o.c.begin(params)
	if err != nil {
		return err
	}
	t := float64(o.c.steps + 1)
	bc1 := 1 - math.Pow(o.beta1, t)
	bc2 := 1 - math.Pow(o.beta2, t)
	stepSize := float32(lr / bc1)
	sqrtBc2 := float32(math.Sqrt(bc2))
	b1, b2 := float32(o.beta1), float32(o.beta2)
	omb1, omb2 := float32(1-o.beta1), float32(1-o.beta2)
	eps := float32(o.eps)
	cv := float32(o.c.clipValue)
	asm := useAsm()
	for pi := range params {
		p := &params[pi]
		k := adamStep{b1: b1, b2: b2, omb1: omb1, omb2: omb2, eps: eps, cv: cv, scale: scale,
			stepSize: stepSize, sqrtBc2: sqrtBc2, keep: 1}
		if !p.NoDecay && o.wd > 0 {
			if o.decoupled {
				k.keep = float32(1 - lr*o.wd) // decoupled decay multiplies the weight
			} else {
				k.l2 = float32(o.wd) // coupled decay is added to the gradient
			}
		}
		n := len(p.Value)
		st := o.c.cur[pi]
		w, grad, m, v := p.Value, p.Grad[:n], st.slots[0], st.slots[1]
		mask := p.Mask
		if !st.packed {
			m, v = m[:n], v[:n]
			if mask != nil {
				mask = mask[:n]
			}
		}
		o.work = adamWork{k: k, w: w, grad: grad, m: m, v: v, mask: mask, asm: asm}
		o.work.mirror, o.work.at = mirrorOf(p, st)
		if asm {
			o.work.c = k.consts()
		}
		o.c.spans(p, st, &o.work)
	}
	o.c.end()
	return nil
}

// adamWork is one parameter's update, run on spans of it: on packed state
// (s.idx set: m and v hold the entries s.idx lists), on a dense parameter,
// or as a full pass over a masked one.
type adamWork struct {
	k                   adamStep
	w, grad, m, v, mask []float32
	// mirror and at, with packed state: Param.Mirror and Param.MirrorAt.
	mirror []float32
	at     []int32
	asm    bool       // use the AVX-512 kernel
	c      adamConsts // k for the kernel
}

func (a *adamWork) run(s span) {
	if s.lo >= s.hi {
		return
	}
	k, w, grad, m, v, mask := &a.k, a.w, a.grad, a.m, a.v, a.mask
	switch {
	case s.idx != nil:
		idx, m, v := s.idx[s.lo:s.hi], m[s.lo:s.hi], v[s.lo:s.hi]
		var at []int32
		if a.at != nil {
			at = a.at[s.lo:s.hi]
		}
		if a.asm {
			// The indices were checked against len(w) = len(grad) when
			// the state was packed (begin, checkActive), at against
			// len(mirror) by checkMirror.
			var mp *float32
			var ap *int32
			if at != nil && len(a.mirror) > 0 {
				mp, ap = &a.mirror[0], &at[0]
			}
			adamAVX512(&a.c, &w[0], &grad[0], &m[0], &v[0], &idx[0], len(idx), mp, ap)
			return
		}
		for j, i := range idx {
			k.update(&w[i], grad[i], &m[j], &v[j])
		}
		mirrorActive(a.mirror, at, w, idx)
		return
	case mask == nil:
		w, grad, m, v := w[s.lo:s.hi], grad[s.lo:s.hi], m[s.lo:s.hi], v[s.lo:s.hi]
		if a.asm {
			adamAVX512(&a.c, &w[0], &grad[0], &m[0], &v[0], nil, len(w), nil, nil)
			return
		}
		for i := range w {
			k.update(&w[i], grad[i], &m[i], &v[i])
		}
		return
	}
	for i := s.lo; i < s.hi; i++ {
		if mask != nil && mask[i] == 0 {
			w[i], m[i], v[i] = 0, 0, 0
			continue
		}
		k.update(&w[i], grad[i], &m[i], &v[i])
	}
}

// WritesMirrors reports true: Step writes Param.Mirror.
func (o *Adam) WritesMirrors() bool { return true }

// adamStep holds one step's constants for one parameter.
type adamStep struct {
	b1, b2, omb1, omb2, eps, cv, scale float32
	stepSize, sqrtBc2, l2, keep        float32
}

// Subnormal floats make x86 arithmetic about 15 times slower, and late in
// training many gradients are tiny: their squares (and the moments' decay)
// would fall into the subnormal range. So squared gradients below
// tinySquare are dropped and moments below tinyMoment flushed to zero; at
// these sizes √v is ten orders of magnitude below ε, so the update changes
// by less than float32 rounding.
const (
	tinyGrad   = 1e-17 // |g| below this: treated as 0, g² left out of v
	tinyMoment = 1e-34 // |m| or v below this: stored as 0
)

// update applies the step to one entry. The conversions to float32 keep
// every product rounded on its own, as on amd64 by default: they stop the
// compiler from fusing a*b + c into one fused multiply-add (which it does
// for GOAMD64=v3 and on other architectures), so that every build gives the
// numbers of the AVX-512 kernel (adamAVX512), which does the same operations
// in the same order.
func (k *adamStep) update(w *float32, g float32, m, v *float32) {
	if g < tinyGrad && g > -tinyGrad {
		g = 0 // also keeps subnormal gradients out of the arithmetic
	}
	if k.cv > 0 {
		g = clip(g, k.cv)
	}
	wi := *w
	g = float32(g*k.scale) + float32(k.l2*wi)
	wi *= k.keep
	var g2 float32
	if g > tinyGrad || g < -tinyGrad {
		g2 = g * g
	}
	mi := float32(k.b1**m) + float32(k.omb1*g)
	vi := float32(k.b2**v) + float32(k.omb2*g2)
	if mi < tinyMoment && mi > -tinyMoment {
		mi = 0
	}
	if vi < tinyMoment {
		vi = 0
	}
	*m, *v = mi, vi
	denom := float32(math.Sqrt(float64(vi)))/k.sqrtBc2 + k.eps
	*w = wi - k.stepSize*mi/denom
}

// adamConsts is one step's constants for one parameter as the AVX-512
// kernel reads them: 16 float32 values, each broadcast to a register, in
// this order (adam_asm_gen.go).
type adamConsts struct {
	b1, b2, omb1, omb2        float32
	eps                       float32
	cv, negCV                 float32 // ±ClipValue, or ±Inf when it is off
	scale                     float32
	stepSize, sqrtBc2         float32
	l2, keep                  float32
	tinyGrad, negTinyGrad     float32
	tinyMoment, negTinyMoment float32
}

// consts returns k as the kernel reads it.
func (k *adamStep) consts() adamConsts {
	cv, negCV := float32(math.Inf(1)), float32(math.Inf(-1))
	if k.cv > 0 {
		cv, negCV = k.cv, -k.cv // clip's bounds; compared like clip does
	}
	return adamConsts{
		b1: k.b1, b2: k.b2, omb1: k.omb1, omb2: k.omb2, eps: k.eps, cv: cv, negCV: negCV,
		scale: k.scale, stepSize: k.stepSize, sqrtBc2: k.sqrtBc2, l2: k.l2, keep: k.keep,
		tinyGrad: tinyGrad, negTinyGrad: -tinyGrad, tinyMoment: tinyMoment, negTinyMoment: -tinyMoment,
	}
}

// LR returns the learning rate the next Step will use: the base learning
// rate times the schedule's factor at Steps().
func (o *Adam) LR() float64 { return o.c.lr() }

// SetBaseLR changes the base learning rate that the schedule scales. A value
// that is not > 0 and finite makes the next Step fail.
func (o *Adam) SetBaseLR(lr float64) { o.c.baseLR = lr }

// BaseLR returns the base learning rate that the schedule scales.
func (o *Adam) BaseLR() float64 { return o.c.baseLR }

// Steps returns how many steps have been taken.
func (o *Adam) Steps() int { return o.c.steps }

// State returns a deep copy of the optimizer state: for every parameter
// seen, its SlotM and SlotV slots, full-size (see State.Slots).
func (o *Adam) State() State { return o.c.state() }

// SetState replaces the optimizer state with a deep copy of s. It fails,
// changing nothing, if s.Step < 0, s.BaseLR is not > 0, a slot name is not
// SlotM or SlotV, a slot is missing, or a slot's length differs from the
// parameter's known length (or from its sibling slot). Parameters absent
// from s are forgotten and start from zero state when next seen. A masked
// parameter's state is packed again by its next Step with Param.Active.
func (o *Adam) SetState(s State) error { return o.c.setState(s) }

// ResetAt zeroes both moments of the named parameter at the given flat
// indices. An index of an entry that was not active in the last step
// (packed state, see Param.Active) is accepted: its moments are zero
// already, and a new active entry starts from zero. It fails, changing
// nothing, for a parameter never seen or an index out of range.
func (o *Adam) ResetAt(name string, indices []int) error { return o.c.resetAt(name, indices) }

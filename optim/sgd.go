package optim

import "github.com/pkg/errors"

// SlotMomentum is the name of SGD's momentum-buffer slot in State.Slots.
const SlotMomentum = "momentum"

// SGDConfig configures stochastic gradient descent. Zero values disable the
// corresponding feature, except LR, which is required.
type SGDConfig struct {
	// LR is the base learning rate; it must be > 0 and finite.
	LR float64
	// Momentum is the momentum factor, in [0, 1); 0 disables momentum, and
	// then SGD keeps no state slot.
	Momentum float64
	// Nesterov enables Nesterov momentum; it requires Momentum > 0.
	Nesterov bool
	// WeightDecay is the coupled L2 penalty (added to the gradient as
	// WeightDecay*w), >= 0. Params with NoDecay are exempt.
	WeightDecay float64
	// ClipNorm, when > 0, rescales the gradients of all params of a step so
	// that their global L2 norm is at most ClipNorm.
	ClipNorm float64
	// ClipValue, when > 0, clamps every gradient entry to
	// [-ClipValue, ClipValue]. It is applied before ClipNorm.
	ClipValue float64
	// Schedule scales LR per step; nil means Constant().
	Schedule Schedule
}

// SGD is stochastic gradient descent with optional (Nesterov) momentum and
// coupled weight decay, with the semantics of torch.optim.SGD (no
// dampening):
//
//	g   = clip(grad) + wd*w
//	buf = momentum*buf + g          (buf starts at zero, so the first step sets buf = g)
//	u   = g + momentum*buf          (Nesterov) or u = buf (otherwise; u = g without momentum)
//	w  -= lr*u
//
// With momentum it keeps one slot per parameter, SlotMomentum. SGD is not
// safe for concurrent use.
type SGD struct {
	c        core
	momentum float64
	nesterov bool
	wd       float64
	work     sgdWork // the parameter being updated, reused across steps
}

var _ Optimizer = (*SGD)(nil)

// NewSGD returns an SGD optimizer, or an error naming the first invalid
// field of cfg.
func NewSGD(cfg SGDConfig) (*SGD, error) {
	const kind = "SGD"
	if err := checkUnit(kind, "Momentum", cfg.Momentum); err != nil {
		return nil, err
	}
	if cfg.Nesterov && cfg.Momentum == 0 {
		return nil, errors.Errorf("optim: %s: Nesterov requires Momentum > 0", kind)
	}
	if err := checkNonNeg(kind, "WeightDecay", cfg.WeightDecay); err != nil {
		return nil, err
	}
	var slots []string
	if cfg.Momentum > 0 {
		slots = []string{SlotMomentum}
	}
	c, err := newCore(kind, cfg.LR, cfg.ClipNorm, cfg.ClipValue, cfg.Schedule, slots...)
	if err != nil {
		return nil, err
	}
	return &SGD{c: c, momentum: cfg.Momentum, nesterov: cfg.Nesterov, wd: cfg.WeightDecay}, nil
}

// Step applies one SGD update to every parameter and advances the step
// counter. On error (mismatched lengths, a name given twice, an invalid
// learning rate) no Value is modified and the counter does not move.
func (o *SGD) Step(params []Param) error {
	lr, scale, err := o.c.begin(params)
	if err != nil {
		return err
	}
	lr32 := float32(lr)
	mom := float32(o.momentum)
	cv := float32(o.c.clipValue)
	hasMom := o.momentum > 0
	for pi := range params {
		p := &params[pi]
		k := sgdStep{lr: lr32, mom: mom, cv: cv, scale: scale, wd: float32(o.wd), hasMom: hasMom, nesterov: o.nesterov}
		if p.NoDecay {
			k.wd = 0
		}
		n := len(p.Value)
		st := o.c.cur[pi]
		w, grad, mask := p.Value, p.Grad[:n], p.Mask
		buf := w // unused without momentum
		if hasMom {
			buf = st.slots[0]
		}
		if !st.packed {
			buf = buf[:n]
			if mask != nil {
				mask = mask[:n]
			}
		}
		o.work = sgdWork{k: k, w: w, grad: grad, buf: buf, mask: mask}
		o.work.mirror, o.work.at = mirrorOf(p, st)
		o.c.spans(p, st, &o.work)
	}
	o.c.end()
	return nil
}

// sgdWork is one parameter's update, run on spans of it.
type sgdWork struct {
	k                  sgdStep
	w, grad, buf, mask []float32
	// mirror and at, with packed state: Param.Mirror and Param.MirrorAt.
	mirror []float32
	at     []int32
}

func (a *sgdWork) run(s span) {
	k, w, grad, buf, mask := &a.k, a.w, a.grad, a.buf, a.mask
	if s.idx != nil {
		// Packed: buf[j] is the momentum of entry idx[j].
		idx := s.idx[s.lo:s.hi]
		if a.at != nil {
			defer mirrorActive(a.mirror, a.at[s.lo:s.hi], w, idx)
		}
		if !k.hasMom {
			for _, i := range idx {
				k.update(&w[i], grad[i], nil)
			}
			return
		}
		buf := buf[s.lo:s.hi]
		for j, i := range idx {
			k.update(&w[i], grad[i], &buf[j])
		}
		return
	}
	for i := s.lo; i < s.hi; i++ {
		if mask != nil && mask[i] == 0 {
			w[i] = 0
			if k.hasMom {
				buf[i] = 0
			}
			continue
		}
		k.update(&w[i], grad[i], &buf[i])
	}
}

// WritesMirrors reports true: Step writes Param.Mirror.
func (o *SGD) WritesMirrors() bool { return true }

// sgdStep holds one step's constants for one parameter.
type sgdStep struct {
	lr, mom, cv, scale, wd float32
	hasMom, nesterov       bool
}

// update applies the step to one entry; buf is its momentum (unused, and
// may be nil, without momentum). The conversions to float32 keep every
// product rounded on its own, as on amd64 by default, in every build (see
// adamStep.update).
func (k *sgdStep) update(w *float32, g float32, buf *float32) {
	if k.cv > 0 {
		g = clip(g, k.cv)
	}
	g = float32(g*k.scale) + float32(k.wd**w)
	if k.hasMom {
		b := float32(k.mom**buf) + g
		if b < tinyMoment && b > -tinyMoment {
			b = 0 // keep the decaying momentum out of subnormals (see Adam)
		}
		*buf = b
		if k.nesterov {
			g += float32(k.mom * b)
		} else {
			g = b
		}
	}
	*w -= float32(k.lr * g)
}

// LR returns the learning rate the next Step will use: the base learning
// rate times the schedule's factor at Steps().
func (o *SGD) LR() float64 { return o.c.lr() }

// SetBaseLR changes the base learning rate that the schedule scales. A value
// that is not > 0 and finite makes the next Step fail.
func (o *SGD) SetBaseLR(lr float64) { o.c.baseLR = lr }

// BaseLR returns the base learning rate that the schedule scales.
func (o *SGD) BaseLR() float64 { return o.c.baseLR }

// Steps returns how many steps have been taken.
func (o *SGD) Steps() int { return o.c.steps }

// State returns a deep copy of the optimizer state, full-size (see
// State.Slots). Without momentum every parameter seen maps to an empty slot
// map.
func (o *SGD) State() State { return o.c.state() }

// SetState replaces the optimizer state with a deep copy of s. It fails,
// changing nothing, if s.Step < 0, s.BaseLR is not > 0, a slot name is not
// this optimizer's, a slot is missing, or a slot's length differs from the
// parameter's known length (or from its sibling slots). Parameters absent
// from s are forgotten and start from zero state when next seen. A masked
// parameter's state is packed again by its next Step with Param.Active.
func (o *SGD) SetState(s State) error { return o.c.setState(s) }

// ResetAt zeroes every state slot of the named parameter at the given flat
// indices. An index of an entry that was not active in the last step
// (packed state, see Param.Active) is accepted: its state is zero already.
// It fails, changing nothing, for a parameter never seen or an index out of
// range.
func (o *SGD) ResetAt(name string, indices []int) error { return o.c.resetAt(name, indices) }

package layers

import (
	"github.com/pkg/errors"
	"gorgonia.org/tensor"
)

// Mask is the connectivity of a sparse weight W shaped (In, Out): entry
// (i, j), at flat index k = i·Out + j, is 1 when the edge from input i to
// output j is active and 0 otherwise. Its tensor is bound without copying to
// the mask node of every graph the layer is built into, so edits are seen by
// the next run. Edit it through the owning layer's Prune and Grow, which keep
// the weights consistent, or directly with Set and Clear.
type Mask struct {
	// In and Out are the weight's dimensions.
	In, Out int
	// Groups is the number of ensembles per side (1 for an unstructured mask).
	Groups int
	// InGroup and OutGroup give the ensemble of every input and output unit.
	InGroup, OutGroup []int

	t       *tensor.Dense
	data    []float32
	active  int
	version uint64

	offsets        []int32 // Offsets' cache
	offsetsVersion uint64
	offsetsValid   bool
}

// NewMask returns an empty mask (no active edge) of shape (in, out) with the
// given group assignments; nil assignments mean one group per side.
func NewMask(in, out int, inGroup, outGroup []int) (*Mask, error) {
	if in < 1 || out < 1 {
		return nil, errors.Errorf("mask shape (%d, %d): both sides must be at least 1", in, out)
	}
	if inGroup == nil {
		inGroup = make([]int, in)
	}
	if outGroup == nil {
		outGroup = make([]int, out)
	}
	if len(inGroup) != in || len(outGroup) != out {
		return nil, errors.Errorf("mask shape (%d, %d): group assignments have lengths %d and %d", in, out, len(inGroup), len(outGroup))
	}
	g := 0
	for _, s := range [][]int{inGroup, outGroup} {
		for _, v := range s {
			if v < 0 {
				return nil, errors.Errorf("negative group %d in assignment", v)
			}
			if v+1 > g {
				g = v + 1
			}
		}
	}
	data := make([]float32, in*out)
	return &Mask{
		In: in, Out: out, Groups: g, InGroup: inGroup, OutGroup: outGroup,
		t:    tensor.New(tensor.WithShape(in, out), tensor.WithBacking(data)),
		data: data,
	}, nil
}

// Tensor returns the live (In, Out) float32 tensor of 0s and 1s.
func (m *Mask) Tensor() *tensor.Dense { return m.t }

// Data returns the live flat backing slice. Writing to it directly bypasses
// the active count: call Recount afterwards.
func (m *Mask) Data() []float32 { return m.data }

// Len returns In·Out.
func (m *Mask) Len() int { return len(m.data) }

// Active returns the number of active edges.
func (m *Mask) Active() int { return m.active }

// Density returns Active / (In·Out).
func (m *Mask) Density() float64 { return float64(m.active) / float64(len(m.data)) }

// Version increases with every edit, so code that caches an index of the
// mask can tell when to rebuild it.
func (m *Mask) Version() uint64 { return m.version }

// Index returns the flat index of edge (i, j).
func (m *Mask) Index(i, j int) int { return i*m.Out + j }

// Edge returns the (input, output) pair of flat index k.
func (m *Mask) Edge(k int) (i, j int) { return k / m.Out, k % m.Out }

// Has reports whether the edge at flat index k is active.
func (m *Mask) Has(k int) bool { return m.data[k] != 0 }

// IsIntra reports whether flat index k joins units of the same ensemble.
func (m *Mask) IsIntra(k int) bool {
	i, j := m.Edge(k)
	return m.InGroup[i] == m.OutGroup[j]
}

// Set activates the edge at flat index k; it reports whether it was inactive.
func (m *Mask) Set(k int) bool {
	if m.data[k] != 0 {
		return false
	}
	m.data[k] = 1
	m.active++
	m.version++
	return true
}

// Clear deactivates the edge at flat index k; it reports whether it was active.
func (m *Mask) Clear(k int) bool {
	if m.data[k] == 0 {
		return false
	}
	m.data[k] = 0
	m.active--
	m.version++
	return true
}

// Recount recomputes the active count after direct writes to Data, and
// checks that every entry is 0 or 1.
func (m *Mask) Recount() error {
	n := 0
	for k, v := range m.data {
		switch v {
		case 0:
		case 1:
			n++
		default:
			return errors.Errorf("mask entry %d is %v, want 0 or 1", k, v)
		}
	}
	m.active = n
	m.version++
	return nil
}

// ActiveIndices returns the flat indices of the active edges, ascending.
func (m *Mask) ActiveIndices() []int {
	out := make([]int, 0, m.active)
	for k, v := range m.data {
		if v != 0 {
			out = append(out, k)
		}
	}
	return out
}

// Offsets returns the flat indices of the active edges, ascending, as a
// slice shared until the mask next changes (do not modify it). It is what
// optimizers iterate over to update active weights only; it is recomputed
// once per mask version, so edits through Data must be followed by Recount.
func (m *Mask) Offsets() []int32 {
	if m.offsetsValid && m.offsetsVersion == m.version {
		return m.offsets
	}
	out := make([]int32, 0, m.active)
	for k, v := range m.data {
		if v != 0 {
			out = append(out, int32(k))
		}
	}
	m.offsets, m.offsetsVersion, m.offsetsValid = out, m.version, true
	return out
}

// InactiveIndices returns the flat indices of the inactive edges, ascending.
func (m *Mask) InactiveIndices() []int {
	out := make([]int, 0, len(m.data)-m.active)
	for k, v := range m.data {
		if v == 0 {
			out = append(out, k)
		}
	}
	return out
}

// IntraCount returns the number of active intra-ensemble edges.
func (m *Mask) IntraCount() int {
	n := 0
	for i := 0; i < m.In; i++ {
		gi := m.InGroup[i]
		row := m.data[i*m.Out : (i+1)*m.Out]
		for j, v := range row {
			if v != 0 && m.OutGroup[j] == gi {
				n++
			}
		}
	}
	return n
}

// IntraFraction returns the fraction of active edges that are
// intra-ensemble (0 when no edge is active).
func (m *Mask) IntraFraction() float64 {
	if m.active == 0 {
		return 0
	}
	return float64(m.IntraCount()) / float64(m.active)
}

// FanIn returns the number of active edges into output unit j.
func (m *Mask) FanIn(j int) int {
	n := 0
	for i := 0; i < m.In; i++ {
		if m.data[i*m.Out+j] != 0 {
			n++
		}
	}
	return n
}

// Clone returns an independent copy of the mask.
func (m *Mask) Clone() *Mask {
	c, _ := NewMask(m.In, m.Out, append([]int(nil), m.InGroup...), append([]int(nil), m.OutGroup...))
	copy(c.data, m.data)
	c.active = m.active
	c.Groups = m.Groups
	return c
}

package callbacks

import (
	"fmt"
	"io"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
)

// SparsityReport is a callback that reports, at every epoch end and for
// every sparse layer of the model: its density, the fraction of its active
// edges that are intra-ensemble, the edges pruned and regrown during the
// epoch, and the churn. It puts them in Context.Logs as "<layer>/density",
// "<layer>/intra_fraction", "<layer>/pruned", "<layer>/regrown" and
// "<layer>/churn", and prints one line per epoch to its writer:
//
//	sparsity epoch 3/20: hidden1 density 0.2500 intra 0.4762 -20070 +20070 churn 0.1000 | hidden2 ...
//
// Pruned and regrown are the sums of the epoch's reports of the layer in
// Context.Rewires, where the rewiring callbacks (DST, Hebbian, any
// Rewiring) put them, which requires them to come before SparsityReport in
// the callback list; for a layer without a report they are counted from
// the mask: edges active at the beginning of the epoch and inactive at its
// end, and the converse. Churn is always measured on the mask: the fraction
// of the edges active at the beginning of the epoch that are inactive at
// its end (for one update per epoch, DST's churn).
type SparsityReport struct {
	// BaseCallback supplies the hooks SparsityReport does not use.
	graph.BaseCallback

	w     io.Writer
	start map[string][]float32
}

// NewSparsityReport returns the callback, printing to w (nil: logs only).
func NewSparsityReport(w io.Writer) *SparsityReport {
	return &SparsityReport{w: w, start: map[string][]float32{}}
}

// Name returns "sparsity-report".
func (s *SparsityReport) Name() string { return "sparsity-report" }

// OnEpochBegin takes a copy of every mask.
func (s *SparsityReport) OnEpochBegin(c *graph.Context) error {
	for _, l := range c.Sparse {
		s.start[l.Name()] = append(s.start[l.Name()][:0], l.Mask().Data()...)
	}
	return nil
}

// OnEpochEnd computes, logs and prints the epoch's numbers.
func (s *SparsityReport) OnEpochEnd(c *graph.Context) error {
	if c.Logs == nil {
		c.Logs = map[string]float64{}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "sparsity epoch %d/%d:", c.Epoch+1, c.Epochs)
	for n, l := range c.Sparse {
		name := l.Name()
		m := l.Mask()
		var removed, added, before int
		if prev, ok := s.start[name]; ok && len(prev) == m.Len() {
			for k, v := range m.Data() {
				was := prev[k] != 0
				if was {
					before++
				}
				switch {
				case was && v == 0:
					removed++
				case !was && v != 0:
					added++
				}
			}
		} else {
			before = m.Active()
		}
		pruned, regrown, reported := 0, 0, false
		for _, r := range c.Rewires {
			if r.Layer == name {
				pruned += r.Pruned
				regrown += r.Regrown
				reported = true
			}
		}
		if !reported {
			pruned, regrown = removed, added
		}
		churn := 0.0
		if before > 0 {
			churn = float64(removed) / float64(before)
		}
		c.Logs[name+"/density"] = m.Density()
		c.Logs[name+"/intra_fraction"] = m.IntraFraction()
		c.Logs[name+"/pruned"] = float64(pruned)
		c.Logs[name+"/regrown"] = float64(regrown)
		c.Logs[name+"/churn"] = churn
		if n > 0 {
			sb.WriteString(" |")
		}
		fmt.Fprintf(&sb, " %s density %.4f intra %.4f -%d +%d churn %.4f", name, m.Density(), m.IntraFraction(), pruned, regrown, churn)
	}
	if s.w == nil || len(c.Sparse) == 0 {
		return nil
	}
	sb.WriteByte('\n')
	if _, err := io.WriteString(s.w, sb.String()); err != nil {
		return errors.Wrap(err, "write")
	}
	return nil
}

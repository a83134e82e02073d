package callbacks

import (
	"math"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// Mode says whether a monitored value should go down or up.
type Mode string

const (
	// ModeAuto (default) takes the direction Fit knows for the monitored
	// Logs entry (graph.Context.Maximize: losses go down, each metric
	// says which way it improves); for entries Fit does not write it is
	// ModeMax when the name contains "acc" and ModeMin otherwise.
	ModeAuto Mode = "auto"
	// ModeMin treats a decrease as an improvement (losses).
	ModeMin Mode = "min"
	// ModeMax treats an increase as an improvement (accuracies).
	ModeMax Mode = "max"
)

// DefaultMonitor is the Logs entry EarlyStopping and ReduceLROnPlateau
// watch by default.
const DefaultMonitor = "val_loss"

// monitor tracks the best value of one Logs entry.
type monitor struct {
	key      string
	max      bool
	auto     bool // the direction is resolved when training begins
	minDelta float64
	best     float64
}

func newMonitor(key string, mode Mode, minDelta float64) (monitor, error) {
	if key == "" {
		key = DefaultMonitor
	}
	if !(minDelta >= 0) || math.IsInf(minDelta, 0) {
		return monitor{}, errors.Errorf("MinDelta must be >= 0 and finite, got %v", minDelta)
	}
	m := monitor{key: key, minDelta: minDelta}
	switch mode {
	case "", ModeAuto:
		m.max, m.auto = strings.Contains(key, "acc"), true
	case ModeMin:
	case ModeMax:
		m.max = true
	default:
		return monitor{}, errors.Errorf("unknown Mode %q (want auto, min or max)", string(mode))
	}
	m.reset()
	return m, nil
}

// begin resolves auto mode with what Fit knows of the monitored entry and
// resets the best value. (An entry missing from the logs is reported at
// epoch end: callbacks may add entries, so it cannot be judged before.)
func (m *monitor) begin(c *graph.Context) error {
	if m.auto {
		m.max = autoMax(c, m.key)
	}
	m.reset()
	return nil
}

// autoMax returns the auto direction of key: Fit's when it knows the key,
// larger-is-better for names containing "acc" otherwise.
func autoMax(c *graph.Context, key string) bool {
	if max, ok := c.Maximize(key); ok {
		return max
	}
	return strings.Contains(key, "acc")
}

func (m *monitor) reset() {
	m.best = math.Inf(1)
	if m.max {
		m.best = math.Inf(-1)
	}
}

// value returns the monitored entry of logs, or an error naming the
// available ones.
func (m *monitor) value(logs map[string]float64) (float64, error) {
	v, ok := logs[m.key]
	if !ok {
		keys := make([]string, 0, len(logs))
		for k := range logs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return 0, errors.Errorf("monitored value %q is not in the logs (have %s)", m.key, strings.Join(keys, ", "))
	}
	return v, nil
}

// improves reports whether v beats the best by more than MinDelta. NaN
// never improves.
func (m *monitor) improves(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if m.max {
		return v > m.best+m.minDelta
	}
	return v < m.best-m.minDelta
}

// baseLR returns the optimizer's base learning rate (the one SetBaseLR
// sets).
func baseLR(opt optim.Optimizer) float64 {
	if b, ok := opt.(interface{ BaseLR() float64 }); ok {
		return b.BaseLR()
	}
	return opt.State().BaseLR
}

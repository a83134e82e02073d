package callbacks

import (
	"math"
	"sort"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/optim"
)

// Mode says whether a monitored value should go down or up.
type Mode string

const (
	// ModeAuto is ModeMax for monitors whose name contains "acc" and
	// ModeMin otherwise (default).
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
		m.max = strings.Contains(key, "acc")
	case ModeMin:
	case ModeMax:
		m.max = true
	default:
		return monitor{}, errors.Errorf("unknown Mode %q (want auto, min or max)", string(mode))
	}
	m.reset()
	return m, nil
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

package graph

import (
	"strings"

	"github.com/pkg/errors"
)

// LogKeys returns, sorted, the entries Fit writes into Logs by every
// epoch end: "loss", the metrics (and per-output losses) of the run, their
// "val_" variants when there is validation data, "lr" and "epoch_seconds".
// Callbacks may add others. It is nil outside Fit.
func (c *Context) LogKeys() []string {
	if c.logKeys == nil {
		return nil
	}
	return sortedLogKeys(c.logKeys)
}

// Maximize reports whether larger values of the Logs entry key are better,
// and whether Fit knows (known is false for entries Fit does not write):
// false for losses, lr and epoch_seconds, the metric's Maximize for
// metrics. Monitors in auto mode use it.
func (c *Context) Maximize(key string) (maximize, known bool) {
	maximize, known = c.logKeys[key]
	return maximize, known
}

// CheckMonitor returns an error when key names a validation entry
// ("val_...") that Fit will not write — a misspelt metric, or no
// validation data — naming it and listing the entries Fit writes. Other
// keys may come from callbacks, so it accepts them. Monitoring callbacks
// call it in OnTrainBegin, to fail before the first epoch rather than at
// its end. It accepts everything outside Fit.
func (c *Context) CheckMonitor(key string) error {
	if c.logKeys == nil || !strings.HasPrefix(key, "val_") {
		return nil
	}
	if _, ok := c.logKeys[key]; ok {
		return nil
	}
	why := "no such metric"
	if _, ok := c.logKeys["val_loss"]; !ok {
		why = "there is no validation data (FitConfig.Validation)"
	}
	return errors.Errorf("monitored value %q will not be in the logs: %s (Fit writes %s)", key, why, strings.Join(c.LogKeys(), ", "))
}

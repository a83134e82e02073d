package graph

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

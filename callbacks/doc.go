// Package callbacks provides ready-made callbacks for graph.Fit:
//
//   - Progress reports training progress: on a terminal, a one-line
//     progress bar per epoch redrawn in place; elsewhere (files, pipes, CI
//     logs), one plain line per epoch.
//   - MetricsLogger writes one record per epoch, with the epoch's logs and
//     the density and intra-ensemble fraction of every sparse layer, as CSV
//     (NewCSVLogger) or JSON Lines (NewJSONLLogger).
//
// Attach them through graph.FitConfig.Callbacks:
//
//	logger, err := callbacks.NewCSVLogger("metrics.csv")
//	if err != nil { ... }
//	defer logger.Close() // in case Fit stops on an error before OnTrainEnd
//	hist, err := model.Fit(train, graph.FitConfig{
//		Epochs: 20, BatchSize: 64, Optimizer: opt,
//		Callbacks: []graph.Callback{callbacks.NewProgress(os.Stderr), logger},
//	})
//
// # Writing your own callback
//
// A callback is any value implementing graph.Callback. Embed
// graph.BaseCallback, whose hooks do nothing, and override only the hooks you
// need; add a Name method to name the callback in Fit's errors. Every hook
// receives the same *graph.Context, updated by the loop: read the epoch, the
// step and the logs from it, add your own entries to Context.Logs (the hooks
// of later callbacks, and the History returned by Fit, see them), and call
// Context.StopTraining to end training early. A hook that returns an error
// stops Fit, which returns the error wrapped with the callback's name.
//
//	// StopAtAccuracy stops training once the epoch's accuracy reaches Target.
//	type StopAtAccuracy struct {
//		graph.BaseCallback
//		Target float64
//	}
//
//	func (s *StopAtAccuracy) Name() string { return "stop-at-accuracy" }
//
//	func (s *StopAtAccuracy) OnEpochEnd(c *graph.Context) error {
//		if c.Logs["acc"] >= s.Target {
//			c.StopTraining(fmt.Sprintf("accuracy %.4f reached %.4f", c.Logs["acc"], s.Target))
//		}
//		return nil
//	}
//
// Callbacks run in the order they are listed, at every hook, so a callback
// that adds entries to Context.Logs at epoch end must come before Progress
// and MetricsLogger for them to be reported.
package callbacks

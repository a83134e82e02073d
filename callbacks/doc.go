// Package callbacks provides ready-made callbacks for graph.Fit.
//
// Reporting:
//
//   - Progress reports training progress: on a terminal, a one-line
//     progress bar per epoch redrawn in place; elsewhere (files, pipes, CI
//     logs), one plain line per epoch.
//   - MetricsLogger writes one record per epoch, with the epoch's logs and
//     the density and intra-ensemble fraction of every sparse layer, as CSV
//     (NewCSVLogger) or JSON Lines (NewJSONLLogger).
//   - SparsityReport prints and logs, per sparse layer and epoch, the
//     density, the intra-ensemble fraction, the edges pruned and regrown
//     and the mask churn.
//
// Sparse training (docs/design.md §3 and §4):
//
//   - DST prunes and regrows edges on a schedule: SET (magnitude pruning,
//     random regrowth), RigL (gradient regrowth), Hebbian criteria, mixes.
//   - Hebbian gathers co-activity statistics of every sparse layer's input
//     and output and rewires by correlation ("fire together, wire
//     together"); it also serves DST as the source of Hebbian scores.
//   - Both are built from three separate, exported parts, so that a rule of
//     your own is two score functions (ScoreFunc) away (see "Writing a
//     rewiring rule" below): the criteria (ScoreFunc, and Rewirer, which
//     prunes and regrows one layer by them), the Schedule (when, and how
//     much) and Rewiring, the callback that runs a Rewirer on a Schedule and
//     brings the reports, the logs and the checkpoint state.
//
// Training control, with Keras's names and habits:
//
//   - EarlyStopping stops when a monitored value stops improving, and can
//     restore the best weights and masks.
//   - LearningRateScheduler sets the learning rate per epoch, from a
//     function or from one of optim's schedules (NewEpochSchedule).
//   - ReduceLROnPlateau divides the learning rate when a monitored value
//     stops improving.
//   - TerminateOnNaN ends training on a NaN or infinite batch loss or
//     monitored value, with an error (default) or through StopTraining.
//
// Attach them through graph.FitConfig.Callbacks:
//
//	logger, err := callbacks.NewCSVLogger("metrics.csv")
//	if err != nil { ... }
//	defer logger.Close() // in case Fit stops on an error before OnTrainEnd
//	dst, err := callbacks.NewDST(callbacks.DSTConfig{Zeta: 0.1, Seed: 1})
//	if err != nil { ... }
//	hist, err := model.Fit(train, graph.FitConfig{
//		Epochs: 20, BatchSize: 64, Optimizer: opt,
//		Callbacks: []graph.Callback{callbacks.NewProgress(os.Stderr), dst, logger},
//	})
//
// # Order
//
// Fit calls the callbacks in the order of the slice, at every hook: for
// each hook, every callback's method runs before the next hook starts, and
// a later callback sees what earlier ones did in the same hook (entries
// added to Context.Logs, edited masks, a StopTraining request). So:
//
//   - Callbacks that add Logs entries at epoch end (DST, Hebbian,
//     SparsityReport, your own) must come before MetricsLogger, and before
//     Progress if its epoch line should show them. Putting the rewiring
//     callbacks after Progress keeps Progress's line short and prints their
//     one-line summaries after it.
//   - SparsityReport takes the pruned and regrown counts from the reports
//     the rewiring callbacks listed before it put in Context.Rewires (from
//     the mask otherwise).
//   - EarlyStopping, ReduceLROnPlateau and TerminateOnNaN must come after
//     whatever adds the values they monitor; ModelCheckpoint after the
//     rewiring callbacks, so that it saves the rewired masks.
//   - At the end of an epoch, the validation metrics of that epoch are
//     computed before any OnEpochEnd hook, so they describe the network
//     before the epoch's rewiring.
//
// A hook that returns an error stops Fit, which returns the error wrapped
// with the callback's name (its Name method), the hook, the epoch and the
// step, for example
//
//	callback dst: OnEpochEnd (epoch 3, step 940): rewire layer "hidden1": ...
//
// Fit does not call OnTrainEnd after an error, so close files yourself.
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
// # Writing a rewiring rule
//
// A rewiring rule decides which active edges to remove and which inactive
// ones to add. Express each choice as a ScoreFunc, one score per edge
// (the lowest active edges are pruned, the highest inactive ones regrown),
// and let a Rewirer do the rest: it picks k edges each way (deterministically,
// ties broken by index), never regrows an edge it just pruned, edits the
// mask and the weights through the layer's Prune and Grow, resets the
// optimizer's moments at every changed position and returns a RewireReport.
//
// To run the rule during training, give the Rewirer and a Schedule to
// NewRewiring: the callback rewires every sparse layer (or those named) on
// the schedule, with k = round(ζ_t·active) (or what its K hook returns),
// draws each update's randomness from the stream "<name>/<layer>/<at>" of
// its seed, and records the reports (Rewiring.Reports, Context.Rewires for
// SparsityReport, the Logs entries, a summary line, the checkpoint state).
// Its hooks carry what your scores need: Gather runs at every batch end,
// where Context.Activations and Context.DenseGrad are valid, and is told
// how many batches remain until the next update; AfterRewire runs after
// each layer's update, to reset what was gathered for it; TrainBegin runs
// once the layers are known. DST and Hebbian are such rules. For the
// built-in schedule with criteria of your own, DSTConfig.PruneFunc and
// GrowFunc are shorter still. A callback written from scratch may also call
// Rewirer.Rewire itself, typically in OnEpochEnd, and append the report to
// Context.Rewires so that SparsityReport counts it.
//
// A sparse layer of your own takes part through capabilities of package
// layers: recording its input and output with layers.Builder.Record makes
// them available to Hebbian rules, implementing layers.DenseGradProvider
// enables gradient regrowth (RigL).
//
// # Checkpoints
//
// Rewiring, DST and Hebbian expose their state as plain data (State and
// SetState), and as JSON (MarshalState and UnmarshalState) for checkpoint
// writers.
// Their random choices come from streams derived from their seed, the
// layer's name and the epoch (or step) of the update, so a run resumed at an
// epoch boundary, with the weights, masks, optimizer state and these states
// restored, rewires exactly as the uninterrupted run.
package callbacks

// Package report turns finished training runs into the tables and figures
// of an experiment report (issue 7): a Markdown and a CSV table of test
// accuracy (mean ± std over seeds), parameter counts, multiply-accumulates
// per sample, seconds per epoch and accuracy gain over the dense baseline,
// and PNG figures of learning curves, accuracy versus density and mask
// heatmaps before and after training.
//
// Start with one [Run] per finished training run (grid cell and seed), fold
// them into table rows with [Aggregate], then write them with
// [WriteMarkdown] and [WriteCSV] (written to files atomically with internal/atomicfile), and
// draw [PlotLearningCurves], [PlotAccuracyVsDensity] and [PlotMaskHeatmap].
// Every file is written atomically: to a temporary file in the same
// directory, then renamed, so a reader never sees half a file.
//
// Units: accuracies in [Run] and [Row] are fractions in [0, 1]; tables and
// figures show them in percent, and [Row.GainOverDense] is in percentage
// points. Densities are fractions of the edges kept (1 for dense).
//
// Like the other packages under examples/internal (runner, experiment,
// fixtures), it is the commands' private machinery, not library API.
package report

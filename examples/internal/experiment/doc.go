// Package experiment runs the paper's comparisons as one resumable grid
// (issue 7): methods (dense; G2G with index, random or mixer grouping,
// static or rewired by DST, Hebbian rewiring or DST with Hebbian regrowth;
// ensemble-level blocks; the baselines dense-matched, er and erk of issue
// 13) × densities × seeds on one data set, each cell a [runner.Run],
// followed by the report: a Markdown and a CSV table, paired differences
// to er and dense with confidence intervals, and PNG figures (learning
// curves, accuracy versus density and versus active parameters, mask
// heatmaps). A [Preset] (table1, ablation) fixes the grid of one of the
// paper's tables.
//
// Start with [ParseGrid] (the g2g experiment command's flags) or fill a
// [Grid] yourself and call [Grid.Validate], which refuses a bad grid —
// unknown method, empty list, duplicate entry, density out of (0, 1] or
// impossible for the model — before anything runs. Then [Run] trains the
// cells one after the other and calls [Report], which re-makes the table
// and figures from the files the cells left in the output directory (the
// g2g plot command calls it alone).
//
// Output directory layout:
//
//	OUT/experiment.json                   settings shared by every cell, and the last grid
//	OUT/runs/<dataset>/<method>/d<density>/seed<seed>.json   one finished cell
//	OUT/runs/.../seed<seed>.masks.npz     first sparse layer's mask before and after training
//	OUT/runs/.../seed<seed>.log           the cell's training log
//	OUT/results.md, OUT/results.csv       the table (results.md also the paired differences)
//	OUT/comparisons.csv                   paired differences to er and dense, 95 % intervals
//	OUT/acc_vs_density.png, OUT/acc_vs_params.png, OUT/curves_val_acc.png, OUT/curves_loss.png
//	OUT/mask_<method>_d<density>.png      mask heatmaps
//
// A cell is finished when its JSON file exists (it is written atomically,
// last): running the same grid again skips it, so an interrupted grid
// resumes where it stopped, and a grid can be extended with more methods,
// densities or seeds. The settings every cell shares (data set, epochs,
// subset, model and training options) are fixed per output directory;
// [Run] refuses a directory written with other settings.
//
// Memory: a runner.Run currently leaves about 0.2 GB of the reference MLP
// reachable after it returns, so a long grid in one process grows by that
// much per cell. [RunConfig.Subprocess] runs every cell in a child process
// instead; the g2g command does so.
//
// Like the other packages under examples/internal (runner, report,
// fixtures), it is the commands' private machinery, not library API.
package experiment

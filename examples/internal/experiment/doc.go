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
// unfinished cells and calls [Report], which re-makes the table and
// figures from the files the cells left in the output directory (the g2g
// plot command calls it alone).
//
// Output directory layout:
//
//	OUT/experiment.json                   settings shared by every cell, and the last grid
//	OUT/runs/<dataset>/<method>/d<density>/seed<seed>.json   one finished cell
//	OUT/runs/.../seed<seed>.masks.npz     first sparse layer's mask before and after training
//	OUT/runs/.../seed<seed>.log           the cell's training log
//	OUT/runs/.../seed<seed>.lock          the cell's lock (flock), naming its last holder
//	OUT/runs/.../seed<seed>.failed        why the cell's last attempt failed (JSON; gone once it succeeds)
//	OUT/slurm/job-<ID>.sh, job-<ID>.json  a submitted job array's script and record (slurm executor)
//	OUT/slurm/<ID>_<task>.out             an array task's output
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
// [Run] refuses a directory written with other settings, and claims a
// directory (writes experiment.json) only once the grid's data has loaded.
// Each result records where and how its cell ran ([RunInfo]: host,
// process, command line, scheduler job, start and end).
//
// Executors ([RunConfig.Executor]) say where the cells run:
//
//   - local (the default) trains them on this machine, [RunConfig.Jobs]
//     at once, each in a child process ([RunConfig.Subprocess], which g2g
//     sets to itself) with its share of the cores (GOMAXPROCS and
//     OPENBLAS_NUM_THREADS); the numbers do not depend on it
//     (docs/design.md §7.6). Children die with the parent (Pdeathsig on
//     Linux), and SIGINT or SIGTERM is forwarded to them.
//   - slurm submits the unfinished cells as one Slurm job array (sbatch
//     --array) whose task i runs the cell command with -cell-index i —
//     cell i of [Grid.Cells] — into the same OUT on a shared file system.
//     Running the same command again submits only the cells that are
//     neither finished nor still queued or running; [Status] (-status)
//     tells which are which from the result files, the locks and squeue.
//     The same per-cell command drives any array runner, e.g. a
//     Kubernetes Indexed Job (-cell-index $JOB_COMPLETION_INDEX).
//
// A cell is exclusive: whoever trains it holds an flock on its lock file,
// which the kernel releases when the holder dies; a second runner skips a
// locked cell and says who holds it.
//
// Memory: a runner.Run currently leaves about 0.2 GB of the reference MLP
// reachable after it returns, so a long grid in one process grows by that
// much per cell. [RunConfig.Subprocess] runs every cell in a child process
// instead; the g2g command does so.
//
// Like the other packages under examples/internal (runner, report,
// fixtures), it is the commands' private machinery, not library API.
package experiment

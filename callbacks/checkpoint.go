package callbacks

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/internal/atomicfile"
)

// CheckpointConfig configures ModelCheckpoint.
type CheckpointConfig struct {
	// Dir is the directory the checkpoints are written to (created if
	// missing). Required.
	Dir string
	// Every saves a periodic checkpoint every Every epochs (default 1), as
	// Dir/epoch-NNNN.npz where NNNN is the number of completed epochs.
	Every int
	// KeepLast keeps only the KeepLast newest periodic checkpoints (0 keeps
	// all), counting those in Dir, so that a resumed run prunes the files
	// of the run it continues.
	KeepLast int
	// Monitor, when set, also keeps Dir/best.npz: the checkpoint of the
	// epoch with the best value of this Logs key (for example "val_acc").
	Monitor string
	// Mode is "min" or "max" for Monitor; "" takes the direction Fit
	// knows for the entry (see ModeAuto) when training begins.
	Mode string
	// BestOnly writes only best.npz, no periodic checkpoints.
	BestOnly bool
	// Config is stored in every checkpoint (as JSON) so a resume can check
	// it is continuing the same run.
	Config interface{}
}

// ModelCheckpoint saves the whole training state — weights, masks,
// optimizer state, epoch and step, the state of Stateful callbacks and
// Config — at epoch ends. Place it after the callbacks that rewire or change
// state at epoch end, so their changes are included. Writes are atomic: a
// crash never leaves a half-written checkpoint under a final name, and the
// temporary file a crash leaves behind is removed when training starts
// again (OnTrainBegin).
type ModelCheckpoint struct {
	graph.BaseCallback
	cfg    CheckpointConfig
	auto   bool // Mode was "": resolved when training begins
	config json.RawMessage
	best   float64
}

// NewModelCheckpoint validates cfg and returns the callback.
func NewModelCheckpoint(cfg CheckpointConfig) (*ModelCheckpoint, error) {
	if cfg.Dir == "" {
		return nil, errors.New("model-checkpoint: Dir is required")
	}
	if cfg.Every == 0 {
		cfg.Every = 1
	}
	if cfg.Every < 0 {
		return nil, errors.Errorf("model-checkpoint: Every must be positive, got %d", cfg.Every)
	}
	if cfg.KeepLast < 0 {
		return nil, errors.Errorf("model-checkpoint: KeepLast must not be negative, got %d", cfg.KeepLast)
	}
	if cfg.BestOnly && cfg.Monitor == "" {
		return nil, errors.New("model-checkpoint: BestOnly needs Monitor")
	}
	auto := false
	switch cfg.Mode {
	case "":
		cfg.Mode, auto = "min", true
		if strings.Contains(cfg.Monitor, "acc") {
			cfg.Mode = "max"
		}
	case "min", "max":
	default:
		return nil, errors.Errorf("model-checkpoint: Mode must be min or max, got %q", cfg.Mode)
	}
	c := &ModelCheckpoint{cfg: cfg, auto: auto, best: math.Inf(1)}
	if cfg.Mode == "max" {
		c.best = math.Inf(-1)
	}
	if cfg.Config != nil {
		js, err := json.Marshal(cfg.Config)
		if err != nil {
			return nil, errors.Wrap(err, "model-checkpoint: encode Config")
		}
		c.config = js
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, errors.Wrap(err, "model-checkpoint")
	}
	return c, nil
}

// Name returns "model-checkpoint".
func (c *ModelCheckpoint) Name() string { return "model-checkpoint" }

// periodicName matches the names of periodic checkpoints; the group is the
// number of completed epochs.
var periodicName = regexp.MustCompile(`^epoch-([0-9]{4,})\.npz$`)

// OnTrainBegin removes the temporary files that checkpoint writes killed
// midway left in Dir (see internal/atomicfile): those named after a
// periodic checkpoint or best.npz, nothing else. Training into a directory
// is assumed exclusive: a write of another process under way there would
// lose its temporary file. When Mode was "", it also takes the monitored
// entry's direction from Fit (see ModeAuto) before the first best value.
func (c *ModelCheckpoint) OnTrainBegin(ctx *graph.Context) error {
	stale, err := atomicfile.StaleTemps(c.cfg.Dir, func(name string) bool {
		return name == "best.npz" || periodicName.MatchString(name)
	})
	if err != nil {
		return err
	}
	for _, p := range stale {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return errors.Wrap(err, "remove a stale temporary checkpoint")
		}
	}
	if c.cfg.Monitor != "" && c.auto && math.IsInf(c.best, 0) {
		c.cfg.Mode, c.best = "min", math.Inf(1)
		if autoMax(ctx, c.cfg.Monitor) {
			c.cfg.Mode, c.best = "max", math.Inf(-1)
		}
	}
	return nil
}

// prune removes the periodic checkpoints of Dir beyond the KeepLast newest
// among those of at most done completed epochs: what is on disk counts, so
// a resumed run prunes the files of the run it continues. Files of more
// epochs (left by another history of the run) are not touched.
func (c *ModelCheckpoint) prune(done int) error {
	entries, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return errors.Wrap(err, "list old checkpoints")
	}
	type ckpt struct {
		epoch int
		path  string
	}
	var old []ckpt
	for _, e := range entries {
		m := periodicName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		if n, err := strconv.Atoi(m[1]); err == nil && n <= done {
			old = append(old, ckpt{n, filepath.Join(c.cfg.Dir, e.Name())})
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].epoch < old[j].epoch })
	for k := 0; k < len(old)-c.cfg.KeepLast; k++ {
		if err := os.Remove(old[k].path); err != nil && !os.IsNotExist(err) {
			return errors.Wrap(err, "remove old checkpoint")
		}
	}
	return nil
}

// OnEpochEnd writes the periodic and best checkpoints that are due.
func (c *ModelCheckpoint) OnEpochEnd(ctx *graph.Context) error {
	done := ctx.Epoch + 1
	periodic := !c.cfg.BestOnly && done%c.cfg.Every == 0
	better := false
	if c.cfg.Monitor != "" {
		v, ok := ctx.Logs[c.cfg.Monitor]
		if !ok {
			return errors.Errorf("monitored metric %q is not in the logs (have %s)", c.cfg.Monitor, strings.Join(logKeys(ctx.Logs), ", "))
		}
		better = (c.cfg.Mode == "min" && v < c.best) || (c.cfg.Mode == "max" && v > c.best)
		if better {
			c.best = v
		}
	}
	if !periodic && !better {
		return nil
	}
	st, err := graph.Capture(ctx)
	if err != nil {
		return err
	}
	st.Config = c.config
	if periodic {
		path := filepath.Join(c.cfg.Dir, fmt.Sprintf("epoch-%04d.npz", done))
		if err := ctx.Model.SaveCheckpoint(path, st); err != nil {
			return err
		}
		if c.cfg.KeepLast > 0 {
			if err := c.prune(done); err != nil {
				return err
			}
		}
	}
	if better {
		if err := ctx.Model.SaveCheckpoint(filepath.Join(c.cfg.Dir, "best.npz"), st); err != nil {
			return err
		}
	}
	return nil
}

// LatestCheckpoint returns the periodic checkpoint with the most completed
// epochs in dir, or an error naming dir when there is none.
func LatestCheckpoint(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "epoch-*.npz"))
	if err != nil {
		return "", errors.Wrapf(err, "checkpoints in %s", dir)
	}
	if len(matches) == 0 {
		return "", errors.Errorf("no checkpoint (epoch-NNNN.npz) in %s", dir)
	}
	sort.Strings(matches) // zero-padded epoch numbers sort in order
	return matches[len(matches)-1], nil
}

func logKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

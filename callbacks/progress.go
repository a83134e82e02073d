package callbacks

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
)

// DefaultProgressInterval is the minimum time between two redraws of the
// terminal progress bar when ProgressConfig.Interval is zero.
const DefaultProgressInterval = 200 * time.Millisecond

// defaultBarWidth is the widest the bar gets, between its brackets.
const (
	defaultBarWidth = 30
	minBarWidth     = 10
	defaultColumns  = 80
)

// ProgressConfig configures a Progress callback. Its zero value gives the
// defaults used by NewProgress.
type ProgressConfig struct {
	// Interval is the minimum time between two redraws of the terminal bar;
	// zero means DefaultProgressInterval and a negative value redraws after
	// every batch.
	Interval time.Duration
	// Terminal, when non-nil, forces terminal mode (true) or plain mode
	// (false). When nil, terminal mode is used when the writer is an
	// *os.File on a character device.
	Terminal *bool
	// Every, in plain mode, also prints a line every Every batches; zero
	// prints only the line at the end of every epoch. Terminal mode ignores
	// it.
	Every int
	// Columns is the terminal width that redrawn lines are kept within;
	// zero means $COLUMNS, or 80 when it is unset or invalid.
	Columns int
}

// Progress is a callback that reports training progress on a writer.
//
// In terminal mode it draws one line per epoch, redrawn in place with '\r'
// at most every ProgressConfig.Interval:
//
//	epoch 3/20 [=========>                    ] 117/235  loss 0.4123 acc 0.8512  12.3s ETA 10.1s
//
// The bar holds width·done/total '=' characters (done counting the finished
// batches), followed by a '>' while the epoch is not over. At the end of the
// epoch the line is replaced by a final one with a full bar and every entry
// of the epoch's logs, and a newline.
//
// In plain mode (when the writer is not a terminal) it prints one line at
// the end of every epoch, and optionally one every ProgressConfig.Every
// batches:
//
//	epoch 3/20  loss 0.4123  acc 0.8512  val_loss 0.4456  val_acc 0.8401  lr 0.001  4.1s
//
// Logs are listed as loss, acc, val_loss and val_acc first (those present),
// then the other entries in sorted order; "epoch_seconds" is shown last as a
// duration. Learning rates ("lr") are printed exactly, other values with 4
// decimals (in exponent notation below 1e-3). Apart from the durations, the
// output depends only on the logs.
//
// A write error is returned by the hook, which stops Fit.
type Progress struct {
	// BaseCallback supplies the hooks Progress does not use.
	graph.BaseCallback

	w        io.Writer
	interval time.Duration
	terminal bool
	every    int
	columns  int
	now      func() time.Time

	epochStart time.Time
	lastDraw   time.Time
	drawn      bool // a redrawn line is on screen without its newline
	prevLen    int  // length of the line on screen, to blank leftovers
}

// NewProgress returns a Progress callback writing to w with the default
// configuration: terminal mode if w is a terminal, redraws at most every
// 200ms, and in plain mode one line per epoch.
func NewProgress(w io.Writer) *Progress {
	return NewProgressWithConfig(w, ProgressConfig{})
}

// NewProgressWithConfig returns a Progress callback writing to w, configured
// by cfg.
func NewProgressWithConfig(w io.Writer, cfg ProgressConfig) *Progress {
	p := &Progress{w: w, interval: cfg.Interval, every: cfg.Every, columns: cfg.Columns, now: time.Now}
	if p.interval == 0 {
		p.interval = DefaultProgressInterval
	}
	if cfg.Terminal != nil {
		p.terminal = *cfg.Terminal
	} else {
		p.terminal = isTerminal(w)
	}
	if p.columns <= 0 {
		p.columns = envColumns()
	}
	return p
}

// isTerminal reports whether w is an *os.File on a character device.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// envColumns returns $COLUMNS, or defaultColumns.
func envColumns() int {
	if n, err := strconv.Atoi(strings.TrimSpace(os.Getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return defaultColumns
}

// Name returns "progress".
func (p *Progress) Name() string { return "progress" }

// Terminal reports whether p draws a terminal progress bar rather than plain
// lines.
func (p *Progress) Terminal() bool { return p.terminal }

// OnTrainBegin resets the display state.
func (p *Progress) OnTrainBegin(*graph.Context) error {
	p.drawn, p.prevLen = false, 0
	return nil
}

// OnEpochBegin starts the epoch's clock.
func (p *Progress) OnEpochBegin(*graph.Context) error {
	p.epochStart = p.now()
	p.lastDraw = time.Time{}
	return nil
}

// OnBatchEnd redraws the bar in terminal mode when the interval has passed,
// and in plain mode prints a line every Every batches if so configured.
func (p *Progress) OnBatchEnd(c *graph.Context) error {
	done := c.Batch + 1
	if !p.terminal {
		if p.every <= 0 || done%p.every != 0 {
			return nil
		}
		var sb strings.Builder
		sb.WriteString(epochLabel(c))
		if c.Batches > 0 {
			fmt.Fprintf(&sb, "  batch %d/%d", done, c.Batches)
		} else {
			fmt.Fprintf(&sb, "  batch %d", done)
		}
		for _, k := range []string{"loss", "acc"} {
			if v, ok := c.Logs[k]; ok {
				fmt.Fprintf(&sb, "  %s %s", k, formatMetric(k, v))
			}
		}
		sb.WriteByte('\n')
		return p.write(sb.String())
	}
	now := p.now()
	if c.Batches > 0 && done >= c.Batches {
		return nil // the epoch-end line follows
	}
	if !p.lastDraw.IsZero() && p.interval > 0 && now.Sub(p.lastDraw) < p.interval {
		return nil
	}
	p.lastDraw = now
	return p.redraw(p.barLine(c, done, now))
}

// barLine returns the in-epoch terminal line, kept within the terminal
// width.
func (p *Progress) barLine(c *graph.Context, done int, now time.Time) string {
	prefix := epochLabel(c) + " "
	var suffix strings.Builder
	if c.Batches > 0 {
		fmt.Fprintf(&suffix, " %d/%d", done, c.Batches)
	} else {
		fmt.Fprintf(&suffix, " %d", done)
	}
	sep := "  "
	for _, k := range []string{"loss", "acc"} {
		if v, ok := c.Logs[k]; ok {
			fmt.Fprintf(&suffix, "%s%s %s", sep, k, formatMetric(k, v))
			sep = " "
		}
	}
	elapsed := now.Sub(p.epochStart)
	fmt.Fprintf(&suffix, "  %s", formatDuration(elapsed))
	if c.Batches > 0 && done > 0 {
		eta := time.Duration(float64(elapsed) * float64(c.Batches-done) / float64(done))
		fmt.Fprintf(&suffix, " ETA %s", formatDuration(eta))
	}
	s := suffix.String()
	width := min(defaultBarWidth, p.columns-1-len(prefix)-len(s)-2)
	width = max(width, minBarWidth)
	line := prefix + "[" + bar(width, done, c.Batches) + "]" + s
	if len(line) > p.columns-1 && p.columns > 1 {
		line = line[:p.columns-1] // a wrapped line cannot be redrawn with '\r'
	}
	return line
}

// bar returns the inside of a progress bar of the given width: width·done/total
// '=' characters, then a '>' while done < total, then spaces. An unknown
// total (0) gives an empty bar.
func bar(width, done, total int) string {
	if total <= 0 {
		return strings.Repeat(" ", width)
	}
	done = min(max(done, 0), total)
	filled := width * done / total
	var sb strings.Builder
	sb.WriteString(strings.Repeat("=", filled))
	if filled < width {
		sb.WriteByte('>')
		sb.WriteString(strings.Repeat(" ", width-filled-1))
	}
	return sb.String()
}

// OnEpochEnd prints the epoch's final line with all its logs.
func (p *Progress) OnEpochEnd(c *graph.Context) error {
	elapsed := p.now().Sub(p.epochStart)
	if v, ok := c.Logs["epoch_seconds"]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
		elapsed = time.Duration(v * float64(time.Second))
	}
	logs := formatLogs(c.Logs)
	if !p.terminal {
		return p.write(epochLabel(c) + logs + "  " + formatDuration(elapsed) + "\n")
	}
	done := c.Batches
	width := defaultBarWidth
	line := fmt.Sprintf("%s [%s] %d/%d%s  %s", epochLabel(c), bar(width, done, c.Batches), done, c.Batches, logs, formatDuration(elapsed))
	if err := p.redraw(line); err != nil {
		return err
	}
	p.drawn, p.prevLen = false, 0
	return p.write("\n")
}

// OnTrainEnd ends a bar line left without its newline (training stopped
// mid-epoch).
func (p *Progress) OnTrainEnd(*graph.Context) error {
	if p.terminal && p.drawn {
		p.drawn, p.prevLen = false, 0
		return p.write("\n")
	}
	return nil
}

// redraw replaces the line on screen by line.
func (p *Progress) redraw(line string) error {
	pad := ""
	if n := p.prevLen - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.drawn, p.prevLen = true, len(line)
	return p.write("\r" + line + pad)
}

func (p *Progress) write(s string) error {
	if _, err := io.WriteString(p.w, s); err != nil {
		return errors.Wrap(err, "progress: write")
	}
	return nil
}

// epochLabel returns "epoch E/N" with a 1-based E.
func epochLabel(c *graph.Context) string {
	return fmt.Sprintf("epoch %d/%d", c.Epoch+1, c.Epochs)
}

// leadingKeys are listed first, in this order, by formatLogs.
var leadingKeys = []string{"loss", "acc", "val_loss", "val_acc"}

// formatLogs returns "  key value" for every entry of logs but
// epoch_seconds: leadingKeys first, then the others sorted.
func formatLogs(logs map[string]float64) string {
	var sb strings.Builder
	for _, k := range orderedKeys(logs) {
		fmt.Fprintf(&sb, "  %s %s", k, formatMetric(k, logs[k]))
	}
	return sb.String()
}

func orderedKeys(logs map[string]float64) []string {
	keys := make([]string, 0, len(logs))
	for _, k := range leadingKeys {
		if _, ok := logs[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range logs {
		switch k {
		case "loss", "acc", "val_loss", "val_acc", "epoch_seconds":
			continue
		}
		rest = append(rest, k)
	}
	sort.Strings(rest)
	return append(keys, rest...)
}

// formatMetric formats a log value: learning rates exactly, other values
// with 4 decimals, or in exponent notation when below 1e-3 in magnitude.
func formatMetric(key string, v float64) string {
	if key == "lr" || strings.HasSuffix(key, "/lr") {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v != 0 && math.Abs(v) < 1e-3 {
		return strconv.FormatFloat(v, 'e', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// formatDuration formats d as "12.3s", "4m05s" or "2h03m".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		s := int(d.Round(time.Second) / time.Second)
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		m := int(d.Round(time.Minute) / time.Minute)
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
}

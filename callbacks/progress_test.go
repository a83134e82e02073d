package callbacks

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/g2g-ml/g2g/graph"
)

// fakeClock advances by step at every call.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func boolPtr(b bool) *bool { return &b }

// runEpoch drives p through one epoch of batches batches.
func runEpoch(t *testing.T, p *Progress, c *graph.Context, batches int, endLogs map[string]float64) {
	t.Helper()
	c.Batches = batches
	c.Logs = map[string]float64{}
	if err := p.OnEpochBegin(c); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < batches; b++ {
		c.Batch = b
		c.Step++
		c.Logs["loss"] = 1 / float64(b+1)
		c.Logs["acc"] = float64(b) / float64(batches)
		if err := p.OnBatchEnd(c); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range endLogs {
		c.Logs[k] = v
	}
	if err := p.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
}

func TestProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf)
	if p.Terminal() {
		t.Fatal("bytes.Buffer detected as a terminal")
	}
	if graph.CallbackName(p) != "progress" {
		t.Errorf("name %q", graph.CallbackName(p))
	}
	c := &graph.Context{Epochs: 20}
	if err := p.OnTrainBegin(c); err != nil {
		t.Fatal(err)
	}
	for e := 0; e < 2; e++ {
		c.Epoch = e
		runEpoch(t, p, c, 5, map[string]float64{
			"val_loss": 0.4456, "val_acc": 0.84012, "lr": 0.001, "epoch_seconds": 4.1, "zeta": 2e-5,
		})
	}
	if err := p.OnTrainEnd(c); err != nil {
		t.Fatal(err)
	}
	want := "epoch 1/20  loss 0.2000  acc 0.8000  val_loss 0.4456  val_acc 0.8401  lr 0.001  zeta 2.0000e-05  4.1s\n" +
		"epoch 2/20  loss 0.2000  acc 0.8000  val_loss 0.4456  val_acc 0.8401  lr 0.001  zeta 2.0000e-05  4.1s\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestProgressPlainEvery(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressWithConfig(&buf, ProgressConfig{Every: 2})
	c := &graph.Context{Epoch: 2, Epochs: 3}
	runEpoch(t, p, c, 5, map[string]float64{"epoch_seconds": 65})
	want := "epoch 3/3  batch 2/5  loss 0.5000  acc 0.2000\n" +
		"epoch 3/3  batch 4/5  loss 0.2500  acc 0.6000\n" +
		"epoch 3/3  loss 0.2000  acc 0.8000  1m05s\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

var barRE = regexp.MustCompile(`^epoch 1/2 \[([=> ]+)\] (\d+)/(\d+)  loss \S+ acc \S+  \S+s ETA \S+s *$`)

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressWithConfig(&buf, ProgressConfig{Terminal: boolPtr(true), Interval: -1, Columns: 120})
	p.now = fakeClock(100 * time.Millisecond)
	if !p.Terminal() {
		t.Fatal("Terminal override ignored")
	}
	c := &graph.Context{Epoch: 0, Epochs: 2}
	const batches = 7
	runEpoch(t, p, c, batches, map[string]float64{"val_loss": 0.5, "lr": 0.01, "epoch_seconds": 1.5})
	if err := p.OnTrainEnd(c); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("want exactly one newline, at the end: %q", out)
	}
	parts := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	if parts[0] != "" {
		t.Fatalf("output does not start with '\\r': %q", out)
	}
	redraws := parts[1 : len(parts)-1]
	// Every batch but the last is redrawn (Interval < 0); the last one is
	// replaced by the epoch-end line.
	if len(redraws) != batches-1 {
		t.Fatalf("%d redraws, want %d: %q", len(redraws), batches-1, out)
	}
	for i, line := range redraws {
		m := barRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("redraw %d %q does not match %v", i, line, barRE)
		}
		inner := m[1]
		if len(inner) != defaultBarWidth {
			t.Errorf("redraw %d: bar width %d, want %d", i, len(inner), defaultBarWidth)
		}
		done := i + 1
		if wantEq := defaultBarWidth * done / batches; strings.Count(inner, "=") != wantEq {
			t.Errorf("redraw %d (%d/%d): %d '=', want %d: %q", i, done, batches, strings.Count(inner, "="), wantEq, inner)
		}
		if strings.Count(inner, ">") != 1 {
			t.Errorf("redraw %d: want one '>' head: %q", i, inner)
		}
		if len(line) > 119 {
			t.Errorf("redraw %d longer than the terminal: %d", i, len(line))
		}
	}
	final := parts[len(parts)-1]
	wantFinal := "epoch 1/2 [" + strings.Repeat("=", defaultBarWidth) + "] 7/7  loss 0.1429  acc 0.8571  val_loss 0.5000  lr 0.01  1.5s"
	if final != wantFinal {
		t.Errorf("final line\n%q\nwant\n%q", final, wantFinal)
	}
}

func TestProgressTerminalInterval(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressWithConfig(&buf, ProgressConfig{Terminal: boolPtr(true), Columns: 100})
	p.now = fakeClock(50 * time.Millisecond) // default 200ms: one redraw in 4 batches
	c := &graph.Context{Epochs: 1}
	runEpoch(t, p, c, 10, nil)
	// Batches 1, 5 and 9 are drawn; batch 10 is the epoch end.
	if n := strings.Count(buf.String(), "\r"); n != 4 {
		t.Errorf("%d '\\r', want 4 (3 redraws and the final line): %q", n, buf.String())
	}
}

func TestProgressTerminalNarrowAndPadding(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressWithConfig(&buf, ProgressConfig{Terminal: boolPtr(true), Interval: -1, Columns: 50})
	p.now = fakeClock(time.Millisecond)
	c := &graph.Context{Epochs: 1, Batches: 4, Logs: map[string]float64{"loss": 12345.678, "acc": 0.5}}
	if err := p.OnEpochBegin(c); err != nil {
		t.Fatal(err)
	}
	if err := p.OnBatchEnd(c); err != nil {
		t.Fatal(err)
	}
	c.Batch = 1
	c.Logs["loss"] = 1
	if err := p.OnBatchEnd(c); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\r")[1:]
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		if len(l) > 49 {
			t.Errorf("line %q is %d long, terminal has 50 columns", l, len(l))
		}
	}
	if len(lines[1]) < len(lines[0]) {
		t.Errorf("shorter redraw not padded to blank the previous line: %q", lines)
	}
	// Stopped mid-epoch: OnTrainEnd ends the line.
	if err := p.OnTrainEnd(c); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\n") {
		t.Errorf("no newline after OnTrainEnd: %q", buf.String())
	}
}

func TestProgressWriteError(t *testing.T) {
	for _, term := range []bool{false, true} {
		p := NewProgressWithConfig(errWriter{}, ProgressConfig{Terminal: boolPtr(term), Interval: -1})
		c := &graph.Context{Epochs: 1, Batches: 3, Logs: map[string]float64{"loss": 1}}
		if err := p.OnEpochBegin(c); err != nil {
			t.Fatal(err)
		}
		if term {
			if err := p.OnBatchEnd(c); !errors.Is(err, errBroken) {
				t.Errorf("terminal OnBatchEnd: %v", err)
			}
		}
		if err := p.OnEpochEnd(c); !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "progress") {
			t.Errorf("terminal=%v OnEpochEnd: %v", term, err)
		}
	}
}

func TestTerminalDetection(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if NewProgress(f).Terminal() {
		t.Error("regular file detected as a terminal")
	}
	if !NewProgressWithConfig(f, ProgressConfig{Terminal: boolPtr(true)}).Terminal() {
		t.Error("override ignored")
	}
	t.Setenv("COLUMNS", "132")
	if got := NewProgress(f).columns; got != 132 {
		t.Errorf("columns %d from $COLUMNS=132", got)
	}
	t.Setenv("COLUMNS", "junk")
	if got := NewProgress(f).columns; got != 80 {
		t.Errorf("columns %d, want default 80", got)
	}
}

func TestBarAndFormat(t *testing.T) {
	for _, tc := range []struct {
		width, done, total int
		want               string
	}{
		{10, 0, 4, ">         "},
		{10, 1, 4, "==>       "},
		{10, 4, 4, "=========="},
		{10, 9, 10, "=========>"},
		{4, 1, 0, "    "},
	} {
		if got := bar(tc.width, tc.done, tc.total); got != tc.want {
			t.Errorf("bar(%d, %d, %d) = %q, want %q", tc.width, tc.done, tc.total, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{12300 * time.Millisecond, "12.3s"},
		{125 * time.Second, "2m05s"},
		{2*time.Hour + 3*time.Minute, "2h03m"},
		{-time.Second, "0.0s"},
	} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

package callbacks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/layers"
)

// errWriter fails every write.
type errWriter struct{}

var errBroken = errors.New("broken pipe")

func (errWriter) Write([]byte) (int, error) { return 0, errBroken }

func newG2G(t *testing.T) *layers.G2G {
	t.Helper()
	l, err := layers.NewG2G(layers.G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Density: 0.5, Sampling: layers.SampleExact, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestCSVHeaderAndRows(t *testing.T) {
	var buf bytes.Buffer
	l, err := NewMetricsLogger(&buf, "csv")
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Context{Epoch: 0, Epochs: 3, Step: 10, Logs: map[string]float64{"loss": 0.5, "acc": 0.75, "lr": 0.001}}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	// Epoch 1: a new key (ignored in CSV) and a missing one (empty field).
	c.Epoch, c.Step = 1, 20
	c.Logs = map[string]float64{"loss": math.NaN(), "lr": math.Inf(1), "val_loss": 0.25}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	c.Epoch, c.Step = 2, 30
	c.Logs = map[string]float64{"loss": 1e-7, "acc": 1, "lr": math.Inf(-1)}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	if err := l.OnTrainEnd(c); err != nil {
		t.Fatal(err)
	}
	want := "epoch,step,acc,loss,lr\n" +
		"0,10,0.75,0.5,0.001\n" +
		"1,20,,NaN,+Inf\n" +
		"2,30,1,1e-07,-Inf\n"
	if got := buf.String(); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}

func TestCSVSparseLayerKeys(t *testing.T) {
	g := newG2G(t)
	path := filepath.Join(t.TempDir(), "m.csv")
	l, err := NewCSVLogger(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c := &graph.Context{Epoch: 4, Step: 7, Sparse: []layers.Sparse{g}, Logs: map[string]float64{"loss": 2}}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	// Flushed at epoch end: readable before Close.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := g.Mask()
	want := "epoch,step,g/density,g/intra_fraction,loss\n4,7," +
		ff(m.Density()) + "," + ff(m.IntraFraction()) + ",2\n"
	if string(data) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", data, want)
	}
	if m.Density() != 0.5 {
		t.Errorf("density %v, want 0.5 (exact sampling)", m.Density())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.OnEpochEnd(c); err == nil {
		t.Error("OnEpochEnd after Close: no error")
	}
}

func TestJSONL(t *testing.T) {
	g := newG2G(t)
	path := filepath.Join(t.TempDir(), "m.jsonl")
	l, err := NewJSONLLogger(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &graph.Context{Epoch: 0, Step: 5, Sparse: []layers.Sparse{g}, Logs: map[string]float64{"loss": 0.5, "acc": 0.25}}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	c.Epoch, c.Step = 1, 10
	c.Logs = map[string]float64{"loss": math.NaN(), "acc": 0.5, "val_acc": math.Inf(1), "epoch": 99}
	if err := l.OnEpochEnd(c); err != nil {
		t.Fatal(err)
	}
	if err := l.OnTrainEnd(c); err != nil {
		t.Fatal(err)
	}
	recs := readJSONL(t, path)
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	m := g.Mask()
	want0 := map[string]any{"epoch": 0.0, "step": 5.0, "loss": 0.5, "acc": 0.25, "g/density": m.Density(), "g/intra_fraction": m.IntraFraction()}
	checkRecord(t, recs[0], want0)
	want1 := map[string]any{"epoch": 1.0, "step": 10.0, "loss": nil, "acc": 0.5, "val_acc": nil, "g/density": m.Density(), "g/intra_fraction": m.IntraFraction()}
	checkRecord(t, recs[1], want1)
	// Key order: epoch, step, then sorted.
	data, _ := os.ReadFile(path)
	first := strings.SplitN(string(data), "\n", 2)[0]
	if wantLine := `{"epoch":0,"step":5,"acc":0.25,"g/density":0.5,"g/intra_fraction":` + ff(m.IntraFraction()) + `,"loss":0.5}`; first != wantLine {
		t.Errorf("line %s, want %s", first, wantLine)
	}
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRecord(t *testing.T, got, want map[string]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("record %v has %d keys, want %d (%v)", got, len(got), len(want), want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("record %v lacks %q", got, k)
			continue
		}
		if g != w {
			t.Errorf("record[%q] = %v, want %v", k, g, w)
		}
	}
}

func TestMetricsLoggerErrors(t *testing.T) {
	if _, err := NewMetricsLogger(&bytes.Buffer{}, "xml"); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Errorf("unknown format: err = %v", err)
	}
	if _, err := NewCSVLogger(filepath.Join(t.TempDir(), "no", "such", "dir.csv")); err == nil {
		t.Error("NewCSVLogger in a missing directory: no error")
	}
	for _, format := range []string{FormatCSV, FormatJSONL} {
		l, err := NewMetricsLogger(errWriter{}, format)
		if err != nil {
			t.Fatal(err)
		}
		err = l.OnEpochEnd(&graph.Context{Logs: map[string]float64{"loss": 1}})
		if !errors.Is(err, errBroken) {
			t.Errorf("%s: write error %v, want one wrapping %v", format, err, errBroken)
		}
	}
}

func TestMetricsLoggerName(t *testing.T) {
	l, err := NewMetricsLogger(&bytes.Buffer{}, FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	if got := graph.CallbackName(l); got != "metrics-logger" {
		t.Errorf("name %q", got)
	}
	if l.Format() != FormatJSONL {
		t.Errorf("format %q", l.Format())
	}
}

func ff(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func TestAppendLoggersDropRecordsAfterTheCheckpoint(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatJSONL} {
		path := filepath.Join(t.TempDir(), "m."+format)
		l, err := newFileLogger(path, format)
		if err != nil {
			t.Fatal(err)
		}
		for e := 0; e < 3; e++ {
			c := &graph.Context{Epoch: e, Step: 10 * (e + 1), Logs: map[string]float64{"loss": float64(e)}}
			if err := l.OnEpochEnd(c); err != nil {
				t.Fatal(err)
			}
		}
		l.Close()
		// Resumed from the checkpoint after epoch index 1 (2 epochs done):
		// the record of epoch 2 came from the interrupted run and goes.
		a, err := appendFileLogger(path, format, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.OnEpochEnd(&graph.Context{Epoch: 2, Step: 30, Logs: map[string]float64{"loss": 9}}); err != nil {
			t.Fatal(err)
		}
		a.Close()
		got, _ := os.ReadFile(path)
		want := "epoch,step,loss\n0,10,0\n1,20,1\n2,30,9\n"
		if format == FormatJSONL {
			want = `{"epoch":0,"step":10,"loss":0}` + "\n" + `{"epoch":1,"step":20,"loss":1}` + "\n" + `{"epoch":2,"step":30,"loss":9}` + "\n"
		}
		if string(got) != want {
			t.Fatalf("%s after resume:\n%s\nwant:\n%s", format, got, want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("nonsense\n"), 0o644)
	if _, err := AppendCSVLogger(bad, 1); err == nil || !strings.Contains(err.Error(), "bad.csv") {
		t.Fatalf("foreign file: %v", err)
	}
}

package callbacks

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// feed calls OnEpochEnd of cb with logs {key: v} for each value, and returns
// the epoch at whose end it asked to stop (-1 if never).
func feed(t *testing.T, cb graph.Callback, c *graph.Context, key string, values ...float64) int {
	t.Helper()
	if err := cb.OnTrainBegin(c); err != nil {
		t.Fatal(err)
	}
	for e, v := range values {
		c.Epoch = e
		c.Logs = map[string]float64{key: v}
		if err := cb.OnEpochEnd(c); err != nil {
			t.Fatal(err)
		}
		if stopped, _ := c.Stopped(); stopped {
			return e
		}
	}
	return -1
}

func TestEarlyStoppingPatience(t *testing.T) {
	cases := []struct {
		cfg    EarlyStoppingConfig
		key    string
		values []float64
		stop   int
		best   int
	}{
		{EarlyStoppingConfig{}, "val_loss", []float64{1, 0.9, 0.95, 0.8}, 2, 1},
		{EarlyStoppingConfig{Patience: 2}, "val_loss", []float64{1, 0.9, 0.95, 0.91, 0.8}, 3, 1},
		{EarlyStoppingConfig{Patience: 2}, "val_loss", []float64{1, 0.9, 0.95, 0.8, 0.85, 0.9}, 5, 3},
		{EarlyStoppingConfig{Patience: 1, MinDelta: 0.05}, "val_loss", []float64{1, 0.97, 0.9}, 1, 0},
		{EarlyStoppingConfig{Monitor: "val_acc"}, "val_acc", []float64{0.5, 0.6, 0.55}, 2, 1}, // auto: max
		{EarlyStoppingConfig{Monitor: "val_acc", Mode: ModeMin}, "val_acc", []float64{0.5, 0.6}, 1, 0},
		{EarlyStoppingConfig{Patience: 1}, "val_loss", []float64{1, math.NaN(), 0.5}, 1, 0},
	}
	for n, cs := range cases {
		e, err := NewEarlyStopping(cs.cfg)
		if err != nil {
			t.Fatal(err)
		}
		c := &graph.Context{}
		if got := feed(t, e, c, cs.key, cs.values...); got != cs.stop {
			t.Errorf("case %d: stopped at %d, want %d", n, got, cs.stop)
		}
		if _, be := e.Best(); be != cs.best || e.StoppedEpoch() != cs.stop {
			t.Errorf("case %d: best epoch %d (want %d), stopped %d", n, be, cs.best, e.StoppedEpoch())
		}
	}
	e, _ := NewEarlyStopping(EarlyStoppingConfig{Patience: 1})
	c := &graph.Context{}
	feed(t, e, c, "val_loss", 1, 2, 3)
	if _, reason := c.Stopped(); reason != "early stopping: val_loss did not improve for 1 epochs (best 1 at epoch 1)" {
		t.Errorf("reason %q", reason)
	}
	for _, cfg := range []EarlyStoppingConfig{{Patience: -1}, {MinDelta: -1}, {Mode: "up"}} {
		if _, err := NewEarlyStopping(cfg); err == nil || !strings.HasPrefix(err.Error(), "early-stopping: ") {
			t.Errorf("%+v: err = %v", cfg, err)
		}
	}
	e, _ = NewEarlyStopping(EarlyStoppingConfig{})
	if err := e.OnEpochEnd(&graph.Context{Logs: map[string]float64{"loss": 1, "acc": 0.5}}); err == nil ||
		err.Error() != `monitored value "val_loss" is not in the logs (have acc, loss)` {
		t.Errorf("missing monitor: err = %v", err)
	}
}

func TestEarlyStoppingRestoresWeightsAndMasks(t *testing.T) {
	net := newTinyNet(t, 21, 1)
	// A fake validation metric, best at epoch 1, and DST changing the masks
	// every epoch after it.
	fake := &hook{epochEnd: func(c *graph.Context) { c.Logs["val_loss"] = []float64{3, 1, 2, 2.5, 4}[c.Epoch] }}
	var bestW []float32
	var bestM map[string][]float32
	grab := &hook{epochEnd: func(c *graph.Context) {
		if c.Epoch == 1 {
			bestW = append([]float32(nil), net.h1.Weight().Data()...)
			bestM = masksOf(c.Model)
		}
	}}
	d := newDST(t, DSTConfig{Zeta: 0.2, End: 10})
	es, err := NewEarlyStopping(EarlyStoppingConfig{Patience: 2, RestoreBestWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	hist := net.fit(t, newAdam(t, 1e-2), 5, d, fake, grab, es)
	if len(hist.Epochs) != 4 || !strings.HasPrefix(hist.StopReason, "early stopping: val_loss") {
		t.Fatalf("%d epochs, stop reason %q", len(hist.Epochs), hist.StopReason)
	}
	if !slices.Equal(bestW, net.h1.Weight().Data()) {
		t.Fatal("weights not restored to epoch 1")
	}
	now := masksOf(net.model)
	for name := range bestM {
		if !slices.Equal(bestM[name], now[name]) {
			t.Fatalf("mask of %s not restored", name)
		}
	}
	if net.h1.Mask().Active() != 128 {
		t.Fatalf("restored mask count %d", net.h1.Mask().Active())
	}
}

func TestLearningRateScheduler(t *testing.T) {
	net := newTinyNet(t, 22, 1)
	opt := newAdam(t, 0.01)
	s, err := NewLearningRateScheduler(func(epoch int, lr float64) float64 {
		if epoch == 0 {
			return lr
		}
		return lr / 2
	})
	if err != nil {
		t.Fatal(err)
	}
	hist := net.fit(t, opt, 3, s)
	for e, want := range []float64{0.01, 0.005, 0.0025} {
		if got := hist.Epochs[e]["lr"]; got != want {
			t.Errorf("epoch %d: lr %v, want %v", e, got, want)
		}
	}
	decay, err := optim.StepDecay(2, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	es, err := NewEpochSchedule(0.1, decay)
	if err != nil {
		t.Fatal(err)
	}
	hist = newTinyNet(t, 22, 1).fit(t, newAdam(t, 1), 4, es)
	for e, want := range []float64{0.1, 0.1, 0.01, 0.01} {
		if got := hist.Epochs[e]["lr"]; math.Abs(got-want) > 1e-15 {
			t.Errorf("epoch schedule, epoch %d: lr %v, want %v", e, got, want)
		}
	}
	bad, _ := NewLearningRateScheduler(func(int, float64) float64 { return math.NaN() })
	_, err = newTinyNet(t, 22, 1).model.Fit(data16(16, 1), graph.FitConfig{Epochs: 1, BatchSize: 16, Optimizer: newAdam(t, 1), Callbacks: []graph.Callback{bad}})
	if err == nil || !strings.Contains(err.Error(), "callback lr-scheduler: OnEpochBegin (epoch 0, step 0): the schedule gave learning rate NaN for epoch 0") {
		t.Errorf("err = %v", err)
	}
	if _, err := NewLearningRateScheduler(nil); err == nil {
		t.Error("nil function accepted")
	}
	if _, err := NewEpochSchedule(0, decay); err == nil {
		t.Error("zero base accepted")
	}
}

func TestReduceLROnPlateau(t *testing.T) {
	var log bytes.Buffer
	r, err := NewReduceLROnPlateau(ReduceLROnPlateauConfig{Patience: 1, Factor: 0.5, Cooldown: 1, MinLR: 0.02, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	opt := newAdam(t, 0.1)
	c := &graph.Context{Optimizer: opt}
	if err := r.OnTrainBegin(c); err != nil {
		t.Fatal(err)
	}
	// epoch: value -> lr after the epoch
	steps := []struct {
		v, lr float64
	}{
		{1, 0.1},     // best
		{1.1, 0.05},  // 1 epoch without improvement: reduce, cooldown 1
		{1.2, 0.05},  // cooldown
		{1.3, 0.025}, // reduce again
		{0.5, 0.025}, // improvement (in cooldown)
		{0.6, 0.02},  // reduce, floored at MinLR
		{0.7, 0.02},  // cooldown
		{0.8, 0.02},  // at MinLR: no further reduction
	}
	for e, s := range steps {
		c.Epoch, c.Logs = e, map[string]float64{"val_loss": s.v}
		if err := r.OnEpochEnd(c); err != nil {
			t.Fatal(err)
		}
		if got := opt.LR(); math.Abs(got-s.lr) > 1e-15 {
			t.Fatalf("after epoch %d: lr %v, want %v", e, got, s.lr)
		}
	}
	if n := strings.Count(log.String(), "\n"); n != 3 || !strings.Contains(log.String(), "learning rate 0.1 -> 0.05") {
		t.Errorf("log:\n%s", log.String())
	}
	for _, cfg := range []ReduceLROnPlateauConfig{{Factor: 1}, {Factor: -1}, {Patience: -1}, {Cooldown: -1}, {MinLR: -1}, {Mode: "x"}} {
		if _, err := NewReduceLROnPlateau(cfg); err == nil || !strings.HasPrefix(err.Error(), "reduce-lr-on-plateau: ") {
			t.Errorf("%+v: err = %v", cfg, err)
		}
	}
}

func TestTerminateOnNaN(t *testing.T) {
	tn := NewTerminateOnNaN()
	c := &graph.Context{Epoch: 2, Step: 57, Batch: 3, Loss: math.Inf(1)}
	if err := tn.OnBatchEnd(c); err == nil || err.Error() != "batch loss is +Inf at epoch 2, step 57 (batch 3)" {
		t.Errorf("batch: err = %v", err)
	}
	c.Loss = 0.5
	if err := tn.OnBatchEnd(c); err != nil {
		t.Error(err)
	}
	c.Logs = map[string]float64{"loss": 0.5, "val_loss": math.NaN()}
	if err := tn.OnEpochEnd(c); err == nil || err.Error() != "val_loss is NaN at the end of epoch 2, step 57" {
		t.Errorf("epoch: err = %v", err)
	}
	stop, err := NewTerminateOnNaNWithConfig(TerminateOnNaNConfig{Monitor: []string{"loss"}, Stop: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := stop.OnEpochEnd(c); err != nil {
		t.Errorf("val_loss is not monitored: %v", err)
	}
	c.Logs["loss"] = math.NaN()
	if err := stop.OnEpochEnd(c); err != nil {
		t.Error(err)
	}
	if stopped, reason := c.Stopped(); !stopped || reason != "loss is NaN at the end of epoch 2, step 57" {
		t.Errorf("stopped %v %q", stopped, reason)
	}
	delete(c.Logs, "loss")
	if err := stop.OnEpochEnd(c); err == nil || !strings.Contains(err.Error(), `"loss" is not in the logs`) {
		t.Errorf("missing key: err = %v", err)
	}
	if _, err := NewTerminateOnNaNWithConfig(TerminateOnNaNConfig{Monitor: []string{""}}); err == nil {
		t.Error("empty monitor accepted")
	}
}

func TestSparsityReport(t *testing.T) {
	// Without a rewiring callback: zeros, from the mask.
	var out bytes.Buffer
	net := newTinyNet(t, 23, 1)
	hist := net.fit(t, newAdam(t, 1e-2), 1, NewSparsityReport(&out))
	last := hist.Last()
	for _, k := range []string{"h1/pruned", "h1/regrown", "h1/churn", "h2/pruned"} {
		if v, ok := last[k]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0", k, v, ok)
		}
	}
	if last["h1/density"] != 0.5 || last["h1/intra_fraction"] != 0.5 {
		t.Errorf("density %v intra %v", last["h1/density"], last["h1/intra_fraction"])
	}
	if want := "sparsity epoch 1/1: h1 density 0.5000 intra 0.5000 -0 +0 churn 0.0000 | h2 density 0.5000 intra 0.5000 -0 +0 churn 0.0000\n"; out.String() != want {
		t.Errorf("output %q\nwant   %q", out.String(), want)
	}

	// With DST before it (step mode: two updates per epoch), pruned and
	// regrown are the sums of the updates; churn is net, from the mask.
	out.Reset()
	net = newTinyNet(t, 23, 1)
	d := newDST(t, DSTConfig{Zeta: 0.1, EverySteps: 2})
	rep := NewSparsityReport(&out)
	hist = net.fit(t, newAdam(t, 1e-2), 2, d, rep)
	e0 := hist.Epochs[0]
	if e0["h1/pruned"] != 26 || e0["h1/regrown"] != 26 { // 2 × round(0.1·128)
		t.Errorf("epoch 0: pruned %v regrown %v, want 26", e0["h1/pruned"], e0["h1/regrown"])
	}
	if c := e0["h1/churn"]; !(c > 0 && c <= 26.0/128) {
		t.Errorf("epoch 0 churn %v", c)
	}
	// A custom rewiring without log entries is counted from the mask.
	out.Reset()
	net = newTinyNet(t, 23, 1)
	custom := &hook{epochEnd: func(c *graph.Context) {
		r := Rewirer{Prune: MagnitudeScore, Grow: RandomScore}
		if _, err := r.Rewire(&Update{Layer: net.h1, Rand: newRand(1), Context: c}, 10); err != nil {
			t.Fatal(err)
		}
	}}
	hist = net.fit(t, newAdam(t, 1e-2), 1, custom, NewSparsityReport(&out))
	if l := hist.Last(); l["h1/pruned"] != 10 || l["h1/regrown"] != 10 || l["h1/churn"] != 10.0/128 || l["h2/pruned"] != 0 {
		t.Errorf("custom rewiring: %v", l)
	}
	if !strings.Contains(out.String(), "h1 density 0.5000 intra ") || !strings.Contains(out.String(), " -10 +10 churn 0.0781") {
		t.Errorf("output %q", out.String())
	}
}

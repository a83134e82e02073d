package callbacks_test

import (
	"fmt"
	"math"
	"os"

	"github.com/g2g-ml/g2g/callbacks"
	"github.com/g2g-ml/g2g/graph"
)

// Fit calls the hooks; here they are called by hand on a Context built for
// the example.
func ExampleNewMetricsLogger() {
	logger, err := callbacks.NewMetricsLogger(os.Stdout, callbacks.FormatJSONL)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := &graph.Context{Epochs: 2, Logs: map[string]float64{}}
	for epoch, loss := range []float64{0.6931, math.NaN()} {
		c.Epoch, c.Step = epoch, 100*(epoch+1)
		c.Logs = map[string]float64{"loss": loss, "acc": 0.5 + 0.25*float64(epoch), "lr": 0.001}
		if err := logger.OnEpochEnd(c); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := logger.OnTrainEnd(c); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"epoch":0,"step":100,"acc":0.5,"loss":0.6931,"lr":0.001}
	// {"epoch":1,"step":200,"acc":0.75,"loss":null,"lr":0.001}
}

func ExampleNewMetricsLogger_csv() {
	logger, err := callbacks.NewMetricsLogger(os.Stdout, callbacks.FormatCSV)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := &graph.Context{Epoch: 0, Epochs: 1, Step: 235, Logs: map[string]float64{
		"loss": 0.4123, "acc": 0.8512, "val_loss": math.Inf(1),
	}}
	if err := logger.OnEpochEnd(c); err != nil {
		fmt.Println(err)
	}
	// Output:
	// epoch,step,acc,loss,val_loss
	// 0,235,0.8512,0.4123,+Inf
}

func ExampleNewProgress() {
	plain := false // os.Stdout may be a terminal; force plain lines
	p := callbacks.NewProgressWithConfig(os.Stdout, callbacks.ProgressConfig{Terminal: &plain})
	c := &graph.Context{Epoch: 2, Epochs: 20, Batches: 235, Logs: map[string]float64{
		"loss": 0.41234, "acc": 0.85123, "val_loss": 0.44561, "val_acc": 0.84012,
		"lr": 0.001, "epoch_seconds": 4.1,
	}}
	if err := p.OnEpochBegin(c); err != nil {
		fmt.Println(err)
	}
	if err := p.OnEpochEnd(c); err != nil {
		fmt.Println(err)
	}
	// Output:
	// epoch 3/20  loss 0.4123  acc 0.8512  val_loss 0.4456  val_acc 0.8401  lr 0.001  4.1s
}

// StopAtAccuracy stops training once the epoch's accuracy reaches Target.
type StopAtAccuracy struct {
	graph.BaseCallback
	Target float64
}

// Name names the callback in Fit's errors.
func (s *StopAtAccuracy) Name() string { return "stop-at-accuracy" }

// OnEpochEnd asks Fit to stop when the accuracy is high enough.
func (s *StopAtAccuracy) OnEpochEnd(c *graph.Context) error {
	if c.Logs["acc"] >= s.Target {
		c.StopTraining(fmt.Sprintf("accuracy %.4f reached %.4f", c.Logs["acc"], s.Target))
	}
	return nil
}

// A custom callback embeds graph.BaseCallback and overrides the hooks it
// needs.
func Example_customCallback() {
	var cb graph.Callback = &StopAtAccuracy{Target: 0.9}
	c := &graph.Context{Logs: map[string]float64{"acc": 0.93}}
	if err := cb.OnEpochEnd(c); err != nil {
		fmt.Println(err)
	}
	stopped, reason := c.Stopped()
	fmt.Println(graph.CallbackName(cb), stopped, reason)
	// Output:
	// stop-at-accuracy true accuracy 0.9300 reached 0.9000
}

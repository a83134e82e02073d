package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/pkg/errors"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/optim"
)

// A run reacts to SIGINT (Ctrl-C) and SIGTERM (a supervisor, timeout) as
// Keras users expect: the first one stops training after the current
// batch, writes the state reached (when the run saves checkpoints or its
// state) and exits non-zero; a second one kills the process at once.

// SignalError is the cause of a run's context when a signal stopped it.
type SignalError struct{ Signal os.Signal }

// Error names the signal.
func (e *SignalError) Error() string { return "received " + e.Signal.String() }

// InterruptContext returns a context cancelled, with a *SignalError
// cause, by the first SIGINT or SIGTERM the process receives; it prints on
// stderr that training stops after the current batch. The handler is then
// removed, so a second signal has its default effect: it kills the process
// at once. release removes the handler if no signal came.
func InterruptContext(stderr io.Writer) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch) // the next one kills
			fmt.Fprintf(stderr, "\n%v: stopping after the current batch (send it again to quit at once)\n", s)
			cancel(&SignalError{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// ExitStatus returns the exit status of a command that failed with err: 128
// plus the signal's number when a signal interrupted it (130 for SIGINT,
// 143 for SIGTERM, as shells report), 1 otherwise.
func ExitStatus(err error) int {
	var se *SignalError
	if errors.As(err, &se) {
		if s, ok := se.Signal.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 1
}

// saveInterrupted writes the state of an interrupted run — the weights
// after its last batch, the optimizer's and the callbacks' state, and
// intr.Epoch completed epochs — into the checkpoint directory as
// interrupted.npz when the run writes periodic checkpoints, and to -save
// when given, and returns an error saying where, wrapping intr. The state
// is not a point an uninterrupted run passes through: resuming from it
// runs the interrupted epoch again, from its start, on those weights;
// -resume with the checkpoint directory continues exactly from the last
// periodic checkpoint instead.
func saveInterrupted(model *graph.Model, opt optim.Optimizer, cbs []graph.Callback, o *Options, config []byte, last map[string]float64, intr *graph.Interrupted) error {
	var paths []string
	if o.CheckpointEvery > 0 {
		paths = append(paths, filepath.Join(o.CheckpointDir, "interrupted.npz"))
	}
	if o.Save != "" {
		paths = append(paths, o.Save)
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w; nothing saved (no -save, no -checkpoint-every)", intr)
	}
	st, err := graph.CaptureState(opt, cbs, intr.Epoch-1, intr.Step, last)
	if err != nil {
		return fmt.Errorf("%w; saving the state failed: %v", intr, err)
	}
	st.Config = config
	for _, p := range paths {
		if err := model.SaveCheckpoint(p, st); err != nil {
			return fmt.Errorf("%w; saving the state failed: %v", intr, err)
		}
	}
	what := fmt.Sprintf("the state after its last batch is in %s", paths[0])
	if len(paths) > 1 {
		what += " and " + paths[1]
	}
	return fmt.Errorf("%w; %s (resuming from it reruns epoch %d from its start)", intr, what, intr.Epoch)
}

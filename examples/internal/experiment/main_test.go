package experiment

import (
	"fmt"
	"os"
	"testing"
)

// asMainEnv makes the test binary stand in for the g2g experiment command
// (without the subcommand's name): the cells' child processes, and the
// parents that the signal tests kill.
const asMainEnv = "G2G_EXPERIMENT_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(asMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// asMain runs the experiment command as g2g does, each cell in a child
// process running this binary.
func asMain(args []string) int {
	g, cfg, err := ParseGrid(args, os.Stderr)
	if err == nil {
		cfg.Log = os.Stderr
		if cfg.Cell == "" {
			cfg.Subprocess = append([]string{os.Args[0]}, cfg.GridArgs...)
		}
		_, err = Run(g, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "experiment:", err)
		return 1
	}
	return 0
}

// asChildren makes the test binary the cells' child process for the rest
// of the test and returns the command that runs one cell of cfg's grid.
func asChildren(t *testing.T, cfg RunConfig) []string {
	t.Helper()
	t.Setenv(asMainEnv, "1")
	return append([]string{os.Args[0]}, cfg.GridArgs...)
}

package graph

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/internal/sparse"
)

// Layers defined in another module (testdata/extlayer, whose go.mod
// replaces this module by the working tree) can take part in the inference
// runtime and in exported models through layers.Inferable,
// layers.Exportable and layers.RegisterKind, or stay on the graph path.
// The module's own tests check that; this one runs them, offline: the
// module requires the versions this module does, so the module cache has
// every dependency. It builds with -tags openblas when this test does.
func TestLayerFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds another module")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "extlayer"))
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"test", "-count=1"}
	if strings.HasPrefix(sparse.BLASName(), "OpenBLAS") {
		args = append(args, "-tags", "openblas") // the backend this test runs on
	}
	cmd := exec.Command(gobin, append(args, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in %s: %v\n%s", dir, err, out)
	}
	t.Logf("%s", out)
}

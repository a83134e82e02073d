//go:build openblas

package graph

// Built with -tags openblas, g2g routes gorgonia's matrix products through
// OpenBLAS (Debian: libopenblas-dev) via gonum's cgo binding, which is about
// twice as fast as the pure-Go default on this project's machines.

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	G "gorgonia.org/gorgonia"
	"gonum.org/v1/netlib/blas/netlib"
)

func init() {
	G.Use(netlib.Implementation{})
	blasBackend = "OpenBLAS (cgo)"
}

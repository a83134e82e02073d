//go:build openblas

package graph

// Built with -tags openblas, g2g routes gorgonia's matrix products through
// OpenBLAS (Debian: libopenblas-dev) via gonum's cgo binding, which is about
// twice as fast as the pure-Go default on this project's machines.

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
	G "gorgonia.org/gorgonia"
)

func init() {
	G.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{}) // g2g's own kernels (masked products, exported inference)
	blasBackend = "OpenBLAS (cgo)"
}

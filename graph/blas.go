package graph

import "github.com/g2g-ml/g2g/internal/sparse"

// BLAS returns the name of the BLAS implementation every matrix product
// runs on (gorgonia's, the sparse engine's and the inference runtime's),
// with the kernels in use and why: "gonum (pure Go)" by default; in
// binaries built with -tags openblas, OpenBLAS with the kernels g2g chose
// for the CPU, e.g. "OpenBLAS 0.3.21 (Cooperlake kernels; chosen by g2g for
// AVX-512 BF16)", or gonum with the reason OpenBLAS could not be loaded.
// The environment variable G2G_BLAS_CORE chooses OpenBLAS's kernels: auto
// (the default: the best the CPU runs), env (OPENBLAS_CORETYPE or
// OpenBLAS's own detection) or a core name such as SkylakeX (refused when
// the CPU cannot run it); see docs/design.md §6.2.
func BLAS() string { return sparse.BLASName() }

package optim

//go:generate go run adam_asm_gen.go

import "github.com/g2g-ml/g2g/internal/sparse/kernels"

// useAsm reports whether the optimizers' assembly kernels run: on amd64
// processors with AVX-512, unless kernels.SetAccelerated turned the
// assembly kernels off. The results are the same either way, bit for bit.
func useAsm() bool { return hasAsm && kernels.Accelerated() }

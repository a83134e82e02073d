package layers

import "github.com/pkg/errors"

// ParseKernel converts a name ("auto", "dense", "blocks", "sparse") to a
// Kernel.
func ParseKernel(s string) (Kernel, error) {
	switch k := Kernel(s); k {
	case KernelAuto, KernelDense, KernelBlocks, KernelSparse:
		return k, nil
	}
	return "", errors.Errorf("unknown kernel %q (want auto, dense, blocks or sparse)", s)
}

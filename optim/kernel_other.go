//go:build !amd64

package optim

// hasAsm is set where adamAVX512 exists.
const hasAsm = false

func adamAVX512(c *adamConsts, w, grad, m, v *float32, idx *int32, n int, mirror *float32, at *int32) {
	panic("optim: no assembly on this architecture")
}

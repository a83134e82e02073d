//go:build !amd64

package kernels

// detectCPU returns no x86 features on other architectures.
func detectCPU() CPUFeatures { return CPUFeatures{} }

package kernels

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

// The features read with CPUID must agree with the flags Linux reports in
// /proc/cpuinfo (which the kernel clears for extensions it does not
// enable, so the AVX-512 flags also reflect the saved zmm state). AMD's
// SSE4A and FMA4 are left out: some hypervisors' /proc/cpuinfo omits them
// while CPUID reports them.
func TestCPUMatchesProcCPUInfo(t *testing.T) {
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skip("needs linux/amd64")
	}
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skip(err)
	}
	flags, vendor := map[string]bool{}, ""
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "flags":
			if len(flags) == 0 {
				for _, f := range strings.Fields(v) {
					flags[f] = true
				}
			}
		case "vendor_id":
			if vendor == "" {
				vendor = strings.TrimSpace(v)
			}
		}
	}
	if len(flags) == 0 {
		t.Skip("no flags line in /proc/cpuinfo")
	}
	f := CPU()
	if f.Vendor != vendor {
		t.Errorf("Vendor = %q, /proc/cpuinfo says %q", f.Vendor, vendor)
	}
	for _, c := range []struct {
		flag string
		got  bool
	}{
		{"sse2", f.SSE2}, {"pni", f.SSE3}, {"ssse3", f.SSSE3}, {"sse4_1", f.SSE41}, {"sse4_2", f.SSE42},
		{"avx", f.CanAVX()}, {"avx2", f.AVX2 && f.OSYMM}, {"fma", f.FMA && f.OSYMM},
		{"avx512f", f.AVX512F && f.OSZMM}, {"avx512cd", f.AVX512CD && f.OSZMM}, {"avx512bw", f.AVX512BW && f.OSZMM},
		{"avx512dq", f.AVX512DQ && f.OSZMM}, {"avx512vl", f.AVX512VL && f.OSZMM}, {"avx512_bf16", f.AVX512BF16 && f.OSZMM},
	} {
		if c.got != flags[c.flag] {
			t.Errorf("%s: CPUID says %v, /proc/cpuinfo says %v", c.flag, c.got, flags[c.flag])
		}
	}
	// The sparse kernels' own check must agree with CanAVX512's F part.
	if hasAVX512() != (f.AVX512F && f.OSZMM) {
		t.Errorf("hasAVX512() = %v, features say AVX512F %v with zmm state %v", hasAVX512(), f.AVX512F, f.OSZMM)
	}
}

// The Can methods combine the CPUID bits with the operating system's
// saved state: a bit without the state is not usable.
func TestCPUFeaturesCan(t *testing.T) {
	full := CPUFeatures{AVX: true, AVX2: true, FMA: true, AVX512F: true, AVX512CD: true, AVX512BW: true,
		AVX512DQ: true, AVX512VL: true, AVX512BF16: true, OSYMM: true, OSZMM: true}
	if !full.CanAVX() || !full.CanAVX2FMA() || !full.CanAVX512() || !full.CanAVX512BF16() {
		t.Fatalf("full feature set: %+v not usable", full)
	}
	noZMM := full
	noZMM.OSZMM = false
	if noZMM.CanAVX512() || noZMM.CanAVX512BF16() || !noZMM.CanAVX2FMA() {
		t.Errorf("without the zmm state: CanAVX512 %v, CanAVX512BF16 %v, CanAVX2FMA %v", noZMM.CanAVX512(), noZMM.CanAVX512BF16(), noZMM.CanAVX2FMA())
	}
	noYMM := full
	noYMM.OSYMM = false
	if noYMM.CanAVX() || noYMM.CanAVX2FMA() || noYMM.CanAVX512() {
		t.Error("without the ymm state nothing 256-bit or wider may run")
	}
	noVL := full
	noVL.AVX512VL = false
	if noVL.CanAVX512() {
		t.Error("AVX-512 without VL is not the SkylakeX set")
	}
	noBF16 := full
	noBF16.AVX512BF16 = false
	if !noBF16.CanAVX512() || noBF16.CanAVX512BF16() {
		t.Error("AVX-512 without BF16: CanAVX512 true, CanAVX512BF16 false")
	}
	if (CPUFeatures{}).CanAVX() {
		t.Error("zero value can run AVX")
	}
}

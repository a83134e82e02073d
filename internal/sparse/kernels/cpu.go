package kernels

// CPUFeatures lists the instruction-set extensions of the processor that
// matter for choosing kernels, as CPUID reports them, and whether the
// operating system saves the wide registers they use (XCR0 read with
// XGETBV). An extension is usable when its bit is set and the operating
// system saves its registers: see CanAVX, CanAVX2FMA, CanAVX512 and
// CanAVX512BF16. The zero value is a processor with none of them (and the
// value on other architectures than amd64).
type CPUFeatures struct {
	// Vendor is the CPUID vendor string, e.g. "GenuineIntel",
	// "AuthenticAMD" or "HygonGenuine".
	Vendor string
	// SSE2 to SSE42 are the SSE generations (leaf 1); SSE4A is AMD's
	// (leaf 0x80000001).
	SSE2, SSE3, SSSE3, SSE41, SSE42, SSE4A bool
	// AVX, AVX2, FMA (FMA3) and FMA4 (AMD's four-operand FMA) are the
	// 256-bit extensions.
	AVX, AVX2, FMA, FMA4 bool
	// AVX512F, CD, BW, DQ and VL are the AVX-512 subsets OpenBLAS's
	// SkylakeX kernels need; AVX512BF16 adds the bfloat16 instructions of
	// Cooper Lake and later (leaf 7, subleaf 1).
	AVX512F, AVX512CD, AVX512BW, AVX512DQ, AVX512VL, AVX512BF16 bool
	// OSYMM is set when the operating system saves the SSE and AVX state
	// (XCR0 bits 1 and 2); OSZMM when it also saves the AVX-512 state
	// (opmask, ZMM_Hi256 and Hi16_ZMM: bits 5, 6 and 7).
	OSYMM, OSZMM bool
}

// CanAVX reports whether AVX instructions can run: the processor has them
// and the operating system saves the ymm registers.
func (f CPUFeatures) CanAVX() bool { return f.AVX && f.OSYMM }

// CanAVX2FMA reports whether AVX2 and FMA3 instructions can run.
func (f CPUFeatures) CanAVX2FMA() bool { return f.CanAVX() && f.AVX2 && f.FMA }

// CanAVX512 reports whether the AVX-512 subsets F, CD, BW, DQ and VL can
// run: the processor has them and the operating system saves the zmm and
// opmask registers.
func (f CPUFeatures) CanAVX512() bool {
	return f.CanAVX2FMA() && f.OSZMM && f.AVX512F && f.AVX512CD && f.AVX512BW && f.AVX512DQ && f.AVX512VL
}

// CanAVX512BF16 reports whether AVX-512 with the bfloat16 instructions can
// run (CanAVX512 and AVX512_BF16).
func (f CPUFeatures) CanAVX512BF16() bool { return f.CanAVX512() && f.AVX512BF16 }

// CPU returns the features of the processor the program runs on, read once
// at start-up.
func CPU() CPUFeatures { return cpuFeatures }

var cpuFeatures = detectCPU()

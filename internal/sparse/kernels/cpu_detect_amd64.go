package kernels

// detectCPU reads the processor's features with CPUID and the operating
// system's saved register state with XGETBV (using the cpuid and xgetbv
// assembly functions of cpu_amd64.s).
func detectCPU() CPUFeatures {
	var f CPUFeatures
	maxLeaf, ebx0, ecx0, edx0 := cpuid(0, 0)
	f.Vendor = string(le32(ebx0)) + string(le32(edx0)) + string(le32(ecx0))
	if maxLeaf < 1 {
		return f
	}
	_, _, ecx1, edx1 := cpuid(1, 0)
	bit := func(r uint32, n uint) bool { return r&(1<<n) != 0 }
	f.SSE2 = bit(edx1, 26)
	f.SSE3 = bit(ecx1, 0)
	f.SSSE3 = bit(ecx1, 9)
	f.FMA = bit(ecx1, 12)
	f.SSE41 = bit(ecx1, 19)
	f.SSE42 = bit(ecx1, 20)
	f.AVX = bit(ecx1, 28)
	if bit(ecx1, 27) { // OSXSAVE: XGETBV is available
		xcr0, _ := xgetbv()
		f.OSYMM = xcr0&0x6 == 0x6
		f.OSZMM = f.OSYMM && xcr0&0xe0 == 0xe0
	}
	if maxLeaf >= 7 {
		maxSub, ebx7, _, _ := cpuid(7, 0)
		f.AVX2 = bit(ebx7, 5)
		f.AVX512F = bit(ebx7, 16)
		f.AVX512DQ = bit(ebx7, 17)
		f.AVX512CD = bit(ebx7, 28)
		f.AVX512BW = bit(ebx7, 30)
		f.AVX512VL = bit(ebx7, 31)
		if maxSub >= 1 {
			eax71, _, _, _ := cpuid(7, 1)
			f.AVX512BF16 = bit(eax71, 5)
		}
	}
	if maxExt, _, _, _ := cpuid(0x80000000, 0); maxExt >= 0x80000001 {
		_, _, ecxE, _ := cpuid(0x80000001, 0)
		f.SSE4A = bit(ecxE, 6)
		f.FMA4 = bit(ecxE, 16)
	}
	return f
}

// le32 returns the four bytes of r, least significant first (how CPUID
// returns the vendor string).
func le32(r uint32) []byte { return []byte{byte(r), byte(r >> 8), byte(r >> 16), byte(r >> 24)} }

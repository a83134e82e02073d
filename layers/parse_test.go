package layers

import (
	"strings"
	"testing"
)

// TestParseNames checks that every parse function accepts exactly its
// constants and names the bad value and the good ones otherwise.
func TestParseNames(t *testing.T) {
	for _, c := range []struct {
		parse func(string) (string, error)
		good  []string
		want  string
	}{
		{func(s string) (string, error) { v, err := ParseGrouping(s); return string(v), err },
			[]string{string(GroupIndex), string(GroupRandom), string(GroupMixer)}, "(want index, random or mixer)"},
		{func(s string) (string, error) { v, err := ParseSampling(s); return string(v), err },
			[]string{string(SampleBernoulli), string(SampleExact), string(SampleBlocks)}, "(want bernoulli, exact or blocks)"},
		{func(s string) (string, error) { v, err := ParseKernel(s); return string(v), err },
			[]string{string(KernelAuto), string(KernelDense), string(KernelBlocks), string(KernelSparse)}, "(want auto, dense, blocks or sparse)"},
	} {
		for _, g := range c.good {
			if v, err := c.parse(g); err != nil || v != g {
				t.Fatalf("parse(%q) = %q, %v", g, v, err)
			}
		}
		for _, bad := range []string{"", "gpu", strings.ToUpper(c.good[0])} {
			if v, err := c.parse(bad); err == nil || v != "" || !strings.Contains(err.Error(), `"`+bad+`" `+c.want) {
				t.Fatalf("parse(%q) = %q, %v; want an error ending %q", bad, v, err, c.want)
			}
		}
	}
	// NewG2G refuses an unknown sampling with the same message, naming the layer.
	_, err := NewG2G(G2GConfig{Name: "g", In: 8, Out: 8, Groups: 2, Density: 0.5, Sampling: "poisson"})
	if err == nil || err.Error() != `layer "g": unknown sampling "poisson" (want bernoulli, exact or blocks)` {
		t.Fatalf("NewG2G: err = %v", err)
	}
}

package layers

import (
	"testing"

	G "gorgonia.org/gorgonia"
)

// free is a user's layer without the capability.
type free struct{}

func (free) Name() string                                  { return "free" }
func (free) Params() []*Param                              { return nil }
func (free) Forward(*Builder, ...*G.Node) (*G.Node, error) { return nil, nil }

// costly is a user's layer that counts its own multiply-accumulates.
type costly struct {
	free
	macs int
}

func (c costly) MACs() int { return c.macs }

func TestMACsUsesMACCounter(t *testing.T) {
	var _ MACCounter = costly{}
	if got := MACs(costly{macs: 1234}); got != 1234 {
		t.Fatalf("MACs(user layer) = %d, want 1234", got)
	}
	if got := MACs(free{}); got != 0 {
		t.Fatalf("MACs(layer without MACCounter) = %d, want 0", got)
	}
	g, err := NewG2G(G2GConfig{Name: "g", In: 8, Out: 4, Groups: 2, Density: 0.5, Sampling: SampleExact, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := MACs(g); got != 16 { // active edges: 0.5·32
		t.Fatalf("MACs(G2G) = %d, want 16", got)
	}
}

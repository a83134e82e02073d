package g2gnet

import (
	"fmt"
	"strings"
	"testing"
)

func TestCIFARModel(t *testing.T) {
	for _, c := range []struct {
		model   Kind
		classes int
		active  int
	}{
		// Encoder 6176, hidden biases 3·1024, output 1024·k + k, and the
		// hidden weights: all of them dense, a quarter of them G2G.
		{Dense, 10, 6176 + 3*1024 + 10250 + 512*1024 + 2*1024*1024},
		{G2G, 100, 6176 + 3*1024 + 102500 + (512*1024+2*1024*1024)/4},
	} {
		cfg := CIFARReference(c.classes)
		cfg.Model = c.model
		m, err := CIFAR(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(m.InputShape()) != "[3 32 32]" || m.Classes() != c.classes {
			t.Fatalf("input %v classes %d", m.InputShape(), m.Classes())
		}
		if got := m.ActiveParams(); got != c.active {
			t.Fatalf("%s: %d active params, want %d", c.model, got, c.active)
		}
		if !strings.Contains(m.Summary(), "patch            Conv2D") || len(m.SparseLayers()) != map[Kind]int{Dense: 0, G2G: 3}[c.model] {
			t.Fatalf("%s:\n%s", c.model, m.Summary())
		}
		logits, err := m.Predict(make([]float32, 2*3072), 2)
		if err != nil || len(logits) != 2*c.classes {
			t.Fatalf("predict: %d logits, %v", len(logits), err)
		}
	}
	cfg := CIFARReference(10)
	cfg.Model = "cnn"
	if _, err := CIFAR(cfg); err == nil || !strings.Contains(err.Error(), `unknown model "cnn"`) {
		t.Fatalf("err = %v", err)
	}
	cfg = CIFARReference(10)
	cfg.Patch = 7
	cfg.Hidden = nil
	if _, err := CIFAR(cfg); err == nil {
		t.Fatal("no hidden layers accepted")
	}
}

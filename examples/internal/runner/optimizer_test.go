package runner

import (
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/g2g-ml/g2g/graph"
	"github.com/g2g-ml/g2g/graph/g2gnet"
	"github.com/g2g-ml/g2g/layers"
	"github.com/g2g-ml/g2g/optim"
)

func TestParseLRSchedule(t *testing.T) {
	for in, want := range map[string]LRSchedule{
		"constant": LRConstant, "": LRConstant, "cosine": LRCosine, "linear": LRLinear, "step:10:0.5": "step:10:0.5",
	} {
		if got, err := ParseLRSchedule(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		"cos":          `unknown learning-rate schedule "cos" (want constant, cosine, linear or step:EVERY:GAMMA`,
		"step:0:0.5":   "EVERY must be a whole number of epochs ≥ 1",
		"step:2":       `unknown learning-rate schedule "step:2"`,
		"step:2:-1":    "GAMMA must be a number > 0",
		"step:2:x":     "GAMMA must be a number > 0",
		"step:1.5:0.1": "EVERY must be a whole number",
	} {
		if _, err := ParseLRSchedule(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

// TestTrainingFlags checks the weight-decay and schedule flags: parsed
// into their fields, checked before anything runs, stored in the
// configuration only when set.
func TestTrainingFlags(t *testing.T) {
	o, err := Parse(FashionMNIST(), strings.Fields("-weight-decay 1e-4 -decoupled -lr-schedule cosine -model er"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.WeightDecay != 1e-4 || !o.Decoupled || o.LRSchedule != LRCosine || o.Model != g2gnet.ER {
		t.Fatalf("parsed %+v", o)
	}
	js, _ := json.Marshal(o)
	for _, s := range []string{`"weight_decay":0.0001`, `"decoupled":true`, `"lr_schedule":"cosine"`} {
		if !strings.Contains(string(js), s) {
			t.Errorf("stored config lacks %s: %s", s, js)
		}
	}
	js, _ = json.Marshal(Defaults(FashionMNIST()))
	for _, s := range []string{"weight_decay", "decoupled", "lr_schedule"} {
		if strings.Contains(string(js), s) {
			t.Errorf("the default config stores %s: %s", s, js)
		}
	}
	for args, want := range map[string]string{
		"-weight-decay -1":              "-weight-decay -1: optim: Adam: WeightDecay",
		"-decoupled":                    "-decoupled: give a -weight-decay",
		"-lr-schedule bogus":            `invalid value "bogus" for flag -lr-schedule`,
		"-model dense-matched -dst":     "-dst and -hebbian need a sparse -model (g2g, er or erk), got \"dense-matched\"",
		"-lr 0 -weight-decay 1e-4":      "-lr 0",
		"-model erk -hebbian -zeta 0":   "-zeta 0",
		"-lr-schedule step:3:0.5 -lr 0": "-lr 0",
	} {
		if _, err := Parse(FashionMNIST(), strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
}

// TestWeightDecayCoupling takes one Adam step with a zero gradient from
// w = 1 (lr 0.1, weight decay 0.5). Coupled (torch.optim.Adam): the
// gradient becomes 0.5·w = 0.5, so m̂ = 0.5, v̂ = 0.25 and the step is
// 0.1·0.5/(0.5 + 1e-8) ≈ 0.1: w = 0.9. Decoupled (AdamW): w becomes
// 1·(1 − 0.1·0.5) = 0.95 and the zero moments move it no further. The
// bias (NoDecay) stays 1 either way.
func TestWeightDecayCoupling(t *testing.T) {
	for _, tc := range []struct {
		decoupled bool
		want      float64
	}{{false, 0.9}, {true, 0.95}} {
		o := Defaults(FashionMNIST())
		o.LR, o.WeightDecay, o.Decoupled = 0.1, 0.5, tc.decoupled
		opt, err := NewOptimizer(&o)
		if err != nil {
			t.Fatal(err)
		}
		w, b := []float32{1}, []float32{1}
		if err := opt.Step([]optim.Param{{Name: "w", Value: w, Grad: []float32{0}}, {Name: "b", Value: b, Grad: []float32{0}, NoDecay: true}}); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(w[0])-tc.want) > 1e-6 || b[0] != 1 {
			t.Errorf("decoupled %v: w = %v (want %v), b = %v (want 1)", tc.decoupled, w[0], tc.want, b[0])
		}
	}
}

// TestLRScheduleFactors checks the per-epoch rates of a 4-epoch run at
// lr 0.01: cosine (1 + cos(π·e/4))/2 = 1, 0.853553, 0.5, 0.146447 (torch's
// CosineAnnealingLR(T_max=4)); linear 1 − e/4; step:2:0.1 1, 1, 0.1, 0.1.
func TestLRScheduleFactors(t *testing.T) {
	for s, want := range map[LRSchedule][]float64{
		LRCosine:     {1, 0.8535533905932737, 0.5, 0.14644660940672627},
		LRLinear:     {1, 0.75, 0.5, 0.25},
		"step:2:0.1": {1, 1, 0.1, 0.1},
	} {
		o := Defaults(FashionMNIST())
		o.LR, o.Epochs, o.LRSchedule = 0.01, 4, s
		cb, err := lrScheduler(&o)
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := NewOptimizer(&o)
		var got []float64
		for e := 0; e < 4; e++ {
			if err := cb.OnEpochBegin(&graph.Context{Optimizer: opt, Epoch: e, Epochs: 4}); err != nil {
				t.Fatal(err)
			}
			got = append(got, opt.BaseLR()/0.01)
		}
		for e := range want {
			if math.Abs(got[e]-want[e]) > 1e-12 {
				t.Errorf("%s: factors %v, want %v", s, got, want)
				break
			}
		}
	}
	o := Defaults(FashionMNIST())
	if cb, err := lrScheduler(&o); cb != nil || err != nil {
		t.Fatalf("constant: %v, %v", cb, err)
	}
}

// TestCIFARRecipe pins docs/design.md §5.2's CIFAR model and augmentation
// as the runner builds them: 16 patches of 8×8 (kernel = stride = 8 on
// 3×32×32), 32 channels, 4·4·32 = 512 features, then hidden layers
// 1024 → 1024 → 1024 and the classes; random crop with padding 4 and
// horizontal flips. Fashion-MNIST is not augmented.
func TestCIFARRecipe(t *testing.T) {
	for _, ds := range []*Dataset{CIFAR10(), CIFAR100()} {
		o := Defaults(ds)
		m, err := BuildModel(ds, &o)
		if err != nil {
			t.Fatal(err)
		}
		ls := m.Layers()
		enc, ok := ls[0].(*layers.Conv2D)
		if !ok {
			t.Fatalf("%s: first layer %T, want the patch encoder", ds.Name, ls[0])
		}
		c := enc.Config()
		if c.InChannels != 3 || c.Height != 32 || c.Width != 32 || c.Kernel != 8 || c.Stride != 8 || c.Padding != 0 ||
			c.OutChannels != 32 || c.Activation != layers.ReLU || !reflect.DeepEqual(enc.OutputShape(), []int{512}) {
			t.Fatalf("%s: encoder %+v, output %v", ds.Name, c, enc.OutputShape())
		}
		if patches := (c.Height / c.Kernel) * (c.Width / c.Kernel); patches != 16 {
			t.Fatalf("%s: %d patches", ds.Name, patches)
		}
		var widths [][2]int
		for _, l := range ls[1:] {
			switch l := l.(type) {
			case *layers.G2G:
				widths = append(widths, [2]int{l.Config().In, l.Config().Out})
			case *layers.Dense:
				widths = append(widths, [2]int{l.Config().In, l.Config().Out})
			}
		}
		classes := map[string]int{"cifar10": 10, "cifar100": 100}[ds.Name]
		if want := [][2]int{{512, 1024}, {1024, 1024}, {1024, 1024}, {1024, classes}}; !reflect.DeepEqual(widths, want) {
			t.Fatalf("%s: layers %v, want %v", ds.Name, widths, want)
		}
		aug := Augmentation(ds, &o)
		if aug == nil || aug.Pad != 4 || !aug.Flip || !reflect.DeepEqual(aug.Shape, []int{3, 32, 32}) {
			t.Fatalf("%s: augmentation %+v", ds.Name, aug)
		}
	}
	o := Defaults(FashionMNIST())
	if Augmentation(FashionMNIST(), &o) != nil {
		t.Fatal("fashion-mnist augmented")
	}
}

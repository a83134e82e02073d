package layers

import (
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestIndexGroupsByHand(t *testing.T) {
	// floor(i·3/10) for i = 0..9: 0 0 0 0 1 1 1 2 2 2 (3/10 = 0.3, so i=4 → 1.2 → 1, i=7 → 2.1 → 2).
	got, err := IndexGroups(10, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("IndexGroups(10, 3) = %v, want %v", got, want)
	}
}

func TestInterleavedGroupsByHand(t *testing.T) {
	got, err := InterleavedGroups(7, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 2, 0, 1, 2, 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("InterleavedGroups(7, 3) = %v, want %v", got, want)
	}
}

func groupSizes(a []int, g int) []int {
	s := make([]int, g)
	for _, v := range a {
		s[v]++
	}
	return s
}

func TestGroupSizesDifferByAtMostOne(t *testing.T) {
	for n := 1; n <= 40; n++ {
		for g := 1; g <= n; g++ {
			for _, f := range []func(int, int) ([]int, error){IndexGroups, InterleavedGroups} {
				a, err := f(n, g)
				if err != nil {
					t.Fatal(err)
				}
				s := groupSizes(a, g)
				sort.Ints(s)
				if s[0] < 1 || s[len(s)-1]-s[0] > 1 {
					t.Fatalf("n=%d g=%d: sizes %v", n, g, s)
				}
			}
		}
	}
}

func TestRandomGroupsIsSeededPermutationOfIndex(t *testing.T) {
	a, _ := RandomGroups(50, 4, rand.New(rand.NewSource(7)))
	b, _ := RandomGroups(50, 4, rand.New(rand.NewSource(7)))
	c, _ := RandomGroups(50, 4, rand.New(rand.NewSource(8)))
	idx, _ := IndexGroups(50, 4)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different assignments")
	}
	if reflect.DeepEqual(a, c) || reflect.DeepEqual(a, idx) {
		t.Fatal("random assignment equals another seed's or the index assignment")
	}
	if !reflect.DeepEqual(groupSizes(a, 4), groupSizes(idx, 4)) {
		t.Fatalf("sizes %v differ from index sizes %v", groupSizes(a, 4), groupSizes(idx, 4))
	}
}

func TestRandomGroupingDrawsInputsAndOutputsSeparately(t *testing.T) {
	in, out, err := Groups(GroupRandom, 40, 40, 4, 0, rand.New(rand.NewSource(3)))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(in, out) {
		t.Fatal("inputs and outputs got the same permutation")
	}
}

func TestMixerAlternatesWithDepth(t *testing.T) {
	idx, _ := IndexGroups(12, 3)
	inter, _ := InterleavedGroups(12, 3)
	for depth, want := range [][]int{idx, inter, idx, inter} {
		in, out, err := Groups(GroupMixer, 12, 12, 3, depth, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(in, want) || !reflect.DeepEqual(out, want) {
			t.Fatalf("depth %d: got in %v out %v, want %v on both sides", depth, in, out, want)
		}
	}
	// An odd layer's output ensemble 0 takes one slice (units 0, 3, 6, 9)
	// from each index ensemble of the layer before ({0..3}, {4..7}, {8..11}).
	prev, _ := IndexGroups(12, 3)
	seen := map[int]int{}
	for i, g := range inter {
		if g == 0 {
			seen[prev[i]]++
		}
	}
	if len(seen) != 3 {
		t.Fatalf("odd-layer ensemble 0 draws from previous ensembles %v, want all 3", seen)
	}
}

func TestGroupsErrors(t *testing.T) {
	if _, err := IndexGroups(4, 5); err == nil || !strings.Contains(err.Error(), "larger than the layer width") {
		t.Fatalf("G > width: err = %v", err)
	}
	if _, err := IndexGroups(4, 0); err == nil {
		t.Fatal("G = 0 accepted")
	}
	if _, _, err := Groups("blocks", 4, 4, 2, 0, nil); err == nil || !strings.Contains(err.Error(), "unknown grouping") {
		t.Fatalf("unknown grouping: err = %v", err)
	}
	if _, err := ParseGrouping("mixer"); err != nil {
		t.Fatal(err)
	}
}

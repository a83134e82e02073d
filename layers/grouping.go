package layers

import (
	"math/rand"

	"github.com/pkg/errors"
)

// Grouping names a strategy for splitting a layer's units into ensembles.
type Grouping string

// The grouping strategies of docs/design.md §2.2.
const (
	// GroupIndex assigns contiguous ranges: group(i) = floor(i·G/n).
	GroupIndex Grouping = "index"
	// GroupRandom shuffles the index assignment with a seeded permutation,
	// drawn separately for the inputs and the outputs of each layer.
	GroupRandom Grouping = "random"
	// GroupMixer alternates with depth: even layers use index grouping, odd
	// layers interleaved grouping, group(i) = i mod G, on both sides, so every
	// ensemble of an odd layer draws one slice from every ensemble before it.
	GroupMixer Grouping = "mixer"
)

// ParseGrouping converts a name ("index", "random", "mixer") to a Grouping.
func ParseGrouping(s string) (Grouping, error) {
	switch g := Grouping(s); g {
	case GroupIndex, GroupRandom, GroupMixer:
		return g, nil
	}
	return "", errors.Errorf("unknown grouping %q (want index, random or mixer)", s)
}

// IndexGroups returns the contiguous assignment of n units to g groups,
// group(i) = floor(i·g/n). Group sizes differ by at most one.
func IndexGroups(n, g int) ([]int, error) {
	if err := checkGroups(n, g); err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i * g / n
	}
	return out, nil
}

// InterleavedGroups returns the assignment group(i) = i mod g.
func InterleavedGroups(n, g int) ([]int, error) {
	if err := checkGroups(n, g); err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i % g
	}
	return out, nil
}

// RandomGroups returns the index assignment shuffled by a permutation drawn
// from rng: group sizes are those of IndexGroups, membership is random.
func RandomGroups(n, g int, rng *rand.Rand) ([]int, error) {
	idx, err := IndexGroups(n, g)
	if err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i, p := range rng.Perm(n) {
		out[p] = idx[i]
	}
	return out, nil
}

// Groups returns the input and output group assignments of a layer at the
// given depth (0 for the first layer) under strategy s. rng is used by
// GroupRandom only (inputs are drawn first, then outputs).
func Groups(s Grouping, in, out, g, depth int, rng *rand.Rand) (inGroup, outGroup []int, err error) {
	switch s {
	case GroupIndex, "":
		inGroup, err = IndexGroups(in, g)
		if err == nil {
			outGroup, err = IndexGroups(out, g)
		}
	case GroupRandom:
		inGroup, err = RandomGroups(in, g, rng)
		if err == nil {
			outGroup, err = RandomGroups(out, g, rng)
		}
	case GroupMixer:
		f := IndexGroups
		if depth%2 == 1 {
			f = InterleavedGroups
		}
		inGroup, err = f(in, g)
		if err == nil {
			outGroup, err = f(out, g)
		}
	default:
		err = errors.Errorf("unknown grouping %q (want index, random or mixer)", s)
	}
	return inGroup, outGroup, err
}

func checkGroups(n, g int) error {
	if g < 1 {
		return errors.Errorf("groups must be at least 1, got %d", g)
	}
	if g > n {
		return errors.Errorf("groups (%d) larger than the layer width (%d)", g, n)
	}
	return nil
}

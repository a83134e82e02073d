// Package rngs derives independent, reproducible random streams from one seed.
//
// Every random decision in g2g (initialisation, masks, shuffling, rewiring,
// dropout) draws from its own named stream, so enabling one feature does not
// shift the numbers drawn by another.
package rngs

import (
	"hash/fnv"
	"math/rand"
)

// Derive returns a seed for the stream called name under the root seed. The
// same (seed, name) always gives the same result; different names give
// unrelated seeds.
func Derive(seed int64, name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	z := uint64(seed) ^ h.Sum64()
	// splitmix64 finaliser: spreads nearby inputs over the whole range.
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int64(z)
}

// New returns a *rand.Rand for the stream called name under the root seed.
func New(seed int64, name string) *rand.Rand {
	return rand.New(rand.NewSource(Derive(seed, name)))
}

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
	return int64(Mix(uint64(seed) ^ h.Sum64()))
}

// Mix is the splitmix64 finaliser: it spreads nearby inputs over the whole
// 64-bit range, so counters and small seeds give unrelated outputs.
func Mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Index derives a seed for element k of a numbered family of streams (an
// epoch's shuffle, a batch's augmentation): Mix(seed·1,000,003 + k). Unlike
// Derive it needs no formatting, so it suits per-epoch and per-batch use.
func Index(seed, k int64) int64 {
	return int64(Mix(uint64(seed)*1_000_003 + uint64(k)))
}

// New returns a *rand.Rand for the stream called name under the root seed.
func New(seed int64, name string) *rand.Rand {
	return rand.New(rand.NewSource(Derive(seed, name)))
}

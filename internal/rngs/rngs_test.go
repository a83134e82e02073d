package rngs

import "testing"

func TestDeriveIsStableAndSeparatesStreams(t *testing.T) {
	if Derive(1, "init/a") != Derive(1, "init/a") {
		t.Fatal("same seed and name gave different seeds")
	}
	seen := map[int64]string{}
	for _, seed := range []int64{0, 1, 2, -1} {
		for _, name := range []string{"", "init/a", "init/b", "mask/a", "shuffle"} {
			d := Derive(seed, name)
			if prev, dup := seen[d]; dup {
				t.Fatalf("seed %d stream %q collides with %s", seed, name, prev)
			}
			seen[d] = name
		}
	}
	a, b := New(7, "x"), New(7, "x")
	for i := 0; i < 10; i++ {
		if a.Int63() != b.Int63() {
			t.Fatal("streams with the same seed and name diverge")
		}
	}
}

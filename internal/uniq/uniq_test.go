package uniq

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// naiveAppend is what Append must do, by its definition: one value
// at a time, scanning.
func naiveAppend(held, add []string, skipEmpty bool) []string {
	for _, v := range add {
		if (v != "" || !skipEmpty) && !slices.Contains(held, v) {
			held = append(held, v)
		}
	}
	return held
}

// TestAppendMatchesScan: on random lists (small and large, so that both
// the scan and the set are used, with duplicates, empties and values
// already held), Append gives what adding one value at a time does.
func TestAppendMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		pool := 1 + rng.IntN(400)
		list := func(n int) []string {
			out := make([]string, n)
			for j := range out {
				if k := rng.IntN(pool + 1); k < pool {
					out[j] = fmt.Sprint("g", k)
				} // else "": an empty value
			}
			return out
		}
		held := list(rng.IntN(300)) // duplicates and empties included: Append leaves them
		add := list(rng.IntN(600))
		for _, skip := range []bool{true, false} {
			want := naiveAppend(slices.Clone(held), add, skip)
			got := Append(slices.Clone(held), add, skip)
			if !slices.Equal(got, want) {
				t.Fatalf("held %d, add %d, skipEmpty %v:\n got %q\nwant %q", len(held), len(add), skip, got, want)
			}
		}
	}
}

// TestRemoveMatchesScan: on random lists (with duplicates, and drop
// lists short and long, so that both the scan and the set are used),
// Remove gives what deleting by scanning drop does.
func TestRemoveMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 2000; i++ {
		pool := 1 + rng.IntN(300)
		list := make([]string, rng.IntN(300))
		for j := range list {
			list[j] = fmt.Sprint("g", rng.IntN(pool))
		}
		drop := make([]string, rng.IntN(200))
		for j := range drop {
			drop[j] = fmt.Sprint("g", rng.IntN(pool))
		}
		want := slices.DeleteFunc(slices.Clone(list), func(v string) bool { return slices.Contains(drop, v) })
		if got := Remove(list, drop); !slices.Equal(got, want) {
			t.Fatalf("list %d, drop %d:\n got %q\nwant %q", len(list), len(drop), got, want)
		}
	}
}

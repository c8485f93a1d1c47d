package wire

import (
	"math/rand/v2"
	"testing"
)

// TestExtents adds random ranges to a set and checks it against a bitmap
// of the same bytes: sorted, merged (no two ranges meet), and Overlaps
// true exactly where a byte of the query is in the set.
func TestExtents(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const size = 512
	for round := range 200 {
		var e Extents
		var bits [size]bool
		for range rng.IntN(12) {
			off := rng.Int64N(size)
			end := min(off+rng.Int64N(40), size)
			e = e.Add(off, end)
			for i := off; i < end; i++ {
				bits[i] = true
			}
		}
		for i := 1; i < len(e); i++ {
			if e[i-1].End >= e[i].Off || e[i].Off >= e[i].End {
				t.Fatalf("round %d: not sorted and merged: %v", round, e)
			}
		}
		for range 50 {
			off := rng.Int64N(size)
			end := min(off+1+rng.Int64N(60), size)
			want := false
			for i := off; i < end; i++ {
				want = want || bits[i]
			}
			if got := e.Overlaps(off, end); got != want {
				t.Fatalf("round %d: %v.Overlaps(%d, %d) = %t, want %t", round, e, off, end, got, want)
			}
		}
	}
}

package blockstore

import (
	"context"
	"slices"
	"testing"
)

// order lists the page indexes of ev least valuable first.
func order(ev evictor) []int64 {
	var out []int64
	ev.walk(func(n *pageNode) bool {
		out = append(out, n.idx)
		return true
	})
	return out
}

func TestEvictorOrder(t *testing.T) {
	tests := []struct {
		name string
		kind string
		// ops: page index >= 0 adds it (first time) or touches it; -i-1
		// removes page i.
		ops  []int64
		want []int64
	}{
		{"LRU insertion order", EvictorLRU, []int64{0, 1, 2}, []int64{0, 1, 2}},
		{"LRU touch moves to the back of the line", EvictorLRU, []int64{0, 1, 2, 0}, []int64{1, 2, 0}},
		{"LRU remove", EvictorLRU, []int64{0, 1, 2, -2}, []int64{0, 2}},
		{"LRFU insertion order", EvictorLRFU, []int64{0, 1, 2}, []int64{0, 1, 2}},
		{"LRFU frequency beats recency", EvictorLRFU, []int64{0, 0, 0, 0, 1, 2}, []int64{1, 2, 0}},
		// Page 0's two accesses give it crf 1+2^-0.25 = 1.84; it outranks
		// a page read once k ticks later until 1.84 < 2^(0.25k): k >= 4.
		{"LRFU old frequency decays", EvictorLRFU, []int64{0, 0, 1, 2, 3, 4, 5, 6},
			[]int64{1, 2, 3, 0, 4, 5, 6}},
		{"LRFU remove", EvictorLRFU, []int64{0, 1, 2, -2, 0}, []int64{2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := newEvictor(tt.kind, DefaultLRFUStepFactor, DefaultLRFUAttenuationFactor)
			nodes := map[int64]*pageNode{}
			for _, op := range tt.ops {
				if op < 0 {
					ev.remove(nodes[-op-1])
					continue
				}
				if n := nodes[op]; n != nil {
					ev.touch(n)
					continue
				}
				nodes[op] = &pageNode{idx: op, hidx: -1}
				ev.add(nodes[op])
			}
			if got := order(ev); !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
			// A walk that stops early leaves every page in place.
			ev.walk(func(*pageNode) bool { return false })
			if got := order(ev); !slices.Equal(got, tt.want) {
				t.Fatalf("after a stopped walk: %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLRFUKeepsHotPage: a page read often survives a scan of pages read
// once under LRFU, and does not under LRU.
func TestLRFUKeepsHotPage(t *testing.T) {
	tests := []struct {
		evictor     string
		wantHotKept bool
	}{
		{EvictorLRU, false},
		{EvictorLRFU, true},
		{"alluxio.worker.block.annotator.LRFUAnnotator", true},
	}
	for _, tt := range tests {
		t.Run(tt.evictor, func(t *testing.T) {
			cfg := testConfig(t, 4)
			cfg.Tiers[0].High, cfg.Tiers[0].Low = 1, 0.75
			cfg.Evictor = tt.evictor
			s := openStore(t, cfg)
			hot := newMemSource(randomBytes(1, testPage))
			hotKey := FileKey{ID: 1, Fingerprint: "hot"}
			p := make([]byte, 100)
			for range 10 {
				if _, err := s.ReadAt(context.Background(), hotKey, testPage, hot.open, p, 0, ReadCache); err != nil {
					t.Fatal(err)
				}
			}
			scan := newMemSource(randomBytes(2, 6*testPage))
			readAll(t, s, FileKey{ID: 2, Fingerprint: "scan"}, scan, testPage, ReadCache)
			if got := isPresent(s, hotKey, 0); got != tt.wantHotKept {
				t.Errorf("hot page kept = %t, want %t", got, tt.wantHotKept)
			}
			if s.Stats().Evictions != 3 {
				t.Errorf("evictions %d, want 3", s.Stats().Evictions)
			}
			checkAccounting(t, s)
		})
	}
}

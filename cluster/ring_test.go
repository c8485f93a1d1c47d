package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// workers returns n members named like real workers, 10.0.0.<i>:29999.
func workers(n int) []Member {
	out := make([]Member, n)
	for i := range out {
		addr := fmt.Sprintf("10.0.0.%d:29999", i+1)
		out[i] = Member{Name: addr, RPCAddr: addr, Gossip: fmt.Sprintf("10.0.0.%d:29997", i+1), StartTime: int64(1000 + i)}
	}
	return out
}

// keys returns k ring keys the way the client makes them: blocks of
// files with consecutive ids.
func keys(k int) []uint64 {
	out := make([]uint64, 0, k)
	for f := uint64(1); len(out) < k; f++ {
		for b := int64(0); b < 100 && len(out) < k; b++ {
			out = append(out, BlockKey(f, b))
		}
	}
	return out
}

const numKeys = 100_000

func TestRingEmpty(t *testing.T) {
	for _, r := range []*Ring{nil, {}, NewRing(nil, 0)} {
		if r.Len() != 0 || len(r.Members()) != 0 {
			t.Fatalf("empty ring has members: %v", r.Members())
		}
		if m, ok := r.Home(42); ok {
			t.Fatalf("empty ring Home = %+v, true", m)
		}
		if s := r.Successors(42, 3); s != nil {
			t.Fatalf("empty ring Successors = %v", s)
		}
	}
}

func TestRingMembersSortedAndDeduplicated(t *testing.T) {
	in := []Member{
		{Name: "c", StartTime: 1},
		{Name: "a", StartTime: 1},
		{Name: "b", StartTime: 1, RPCAddr: "old:1"},
		{Name: "b", StartTime: 2, RPCAddr: "new:1"},
	}
	r := NewRing(in, 8)
	got := r.Members()
	if len(got) != 3 || got[0].Name != "a" || got[1].Name != "b" || got[2].Name != "c" {
		t.Fatalf("Members = %+v, want a, b, c", got)
	}
	if got[1].RPCAddr != "new:1" {
		t.Fatalf("kept %+v of the two b's, want the later start", got[1])
	}
	got[0].Name = "changed"
	if r.Members()[0].Name != "a" {
		t.Fatal("Members returned the ring's own slice")
	}
	// The order of the input must not matter.
	rev := NewRing([]Member{in[3], in[2], in[1], in[0]}, 8)
	if rev.Version() != r.Version() {
		t.Fatal("the same members in another order give another version")
	}
}

func TestRingVersion(t *testing.T) {
	base := workers(4)
	restarted := workers(4)
	restarted[2].StartTime++
	tests := []struct {
		name string
		a, b *Ring
		same bool
	}{
		{"same members", NewRing(base, 0), NewRing(workers(4), 0), true},
		{"default vnodes spelled out", NewRing(base, 0), NewRing(base, DefaultVirtualNodes), true},
		{"a member more", NewRing(base, 0), NewRing(workers(5), 0), false},
		{"a member restarted", NewRing(base, 0), NewRing(restarted, 0), false},
		{"other vnodes", NewRing(base, 0), NewRing(base, 100), false},
		{"empty vs one", NewRing(nil, 0), NewRing(workers(1), 0), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Version() == tc.b.Version(); got != tc.same {
				t.Fatalf("versions %x and %x: equal = %v, want %v", tc.a.Version(), tc.b.Version(), got, tc.same)
			}
		})
	}
}

// TestRingDeterministic pins the hash functions: every process on every
// machine must place keys alike, so a change here is a change of the
// placement of all cached data.
func TestRingDeterministic(t *testing.T) {
	// Cross-checked against an independent Python implementation.
	tests := []struct {
		name      string
		got, want uint64
	}{
		{"BlockKey(1, 0)", BlockKey(1, 0), 0xafe5d660580bbfa9},
		{"BlockKey(0xdeadbeef, 12345)", BlockKey(0xdeadbeef, 12345), 0xfb199afe7d4d4b52},
		{`point "10.0.0.1:29999#0"`, hashBytes([]byte("10.0.0.1:29999#0")), 0xd70872a0a71ba3b8},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	r := NewRing(workers(5), 0)
	homes := []struct {
		key  uint64
		want string
	}{
		{0, "10.0.0.4:29999"},
		{1, "10.0.0.4:29999"},
		{1 << 32, "10.0.0.4:29999"},
		{1 << 63, "10.0.0.3:29999"},
		{math.MaxUint64, "10.0.0.4:29999"},
		{BlockKey(7, 3), "10.0.0.2:29999"},
	}
	for _, h := range homes {
		if m, _ := r.Home(h.key); m.Name != h.want {
			t.Errorf("Home(%#x) = %s, want %s", h.key, m.Name, h.want)
		}
	}
}

func TestBlockKeyDistinct(t *testing.T) {
	seen := map[uint64][2]int64{}
	for f := uint64(0); f < 200; f++ {
		for b := int64(0); b < 500; b++ {
			k := BlockKey(f, b)
			if prev, ok := seen[k]; ok {
				t.Fatalf("BlockKey(%d, %d) = BlockKey(%d, %d) = %#x", f, b, prev[0], prev[1], k)
			}
			seen[k] = [2]int64{int64(f), b}
		}
	}
}

func TestRingBalance(t *testing.T) {
	ks := keys(numKeys)
	for n := 3; n <= 10; n++ {
		t.Run(fmt.Sprint(n, " members"), func(t *testing.T) {
			r := NewRing(workers(n), 0)
			count := map[string]int{}
			for _, k := range ks {
				m, _ := r.Home(k)
				count[m.Name]++
			}
			fair := float64(len(ks)) / float64(n)
			for _, m := range r.Members() {
				share := float64(count[m.Name]) / fair
				if share < 0.75 || share > 1.25 {
					t.Errorf("%s has %d keys, %.2f of a fair share %.0f", m.Name, count[m.Name], share, fair)
				}
			}
		})
	}
}

func TestRingJoinMovesOnlyToNewMember(t *testing.T) {
	ks := keys(numKeys)
	for n := 3; n <= 10; n++ {
		t.Run(fmt.Sprint(n, "+1 members"), func(t *testing.T) {
			all := workers(n + 1)
			before, after := NewRing(all[:n], 0), NewRing(all, 0)
			newcomer := all[n].Name
			moved := 0
			for _, k := range ks {
				a, _ := before.Home(k)
				b, _ := after.Home(k)
				if a.Name == b.Name {
					continue
				}
				if b.Name != newcomer {
					t.Fatalf("key %#x moved from %s to %s, not to the newcomer %s", k, a.Name, b.Name, newcomer)
				}
				moved++
			}
			checkFraction(t, "moved on join", moved, len(ks), 1/float64(n+1))
		})
	}
}

func TestRingLeaveMovesOnlyLeaversKeys(t *testing.T) {
	ks := keys(numKeys)
	for n := 3; n <= 10; n++ {
		t.Run(fmt.Sprint(n, "-1 members"), func(t *testing.T) {
			all := workers(n)
			leaver := all[n/2]
			rest := append(append([]Member{}, all[:n/2]...), all[n/2+1:]...)
			before, after := NewRing(all, 0), NewRing(rest, 0)
			moved := 0
			for _, k := range ks {
				a, _ := before.Home(k)
				b, _ := after.Home(k)
				if a.Name == b.Name {
					continue
				}
				if a.Name != leaver.Name {
					t.Fatalf("key %#x moved from %s to %s though only %s left", k, a.Name, b.Name, leaver.Name)
				}
				// The fail-over order predicted the new home.
				if s := before.Successors(k, 2); s[1].Name != b.Name {
					t.Fatalf("key %#x: new home %s, but Successors said %s would follow %s", k, b.Name, s[1].Name, a.Name)
				}
				moved++
			}
			checkFraction(t, "moved on leave", moved, len(ks), 1/float64(n))
		})
	}
}

// checkFraction fails unless got/total is within 25% of want.
func checkFraction(t *testing.T, what string, got, total int, want float64) {
	t.Helper()
	frac := float64(got) / float64(total)
	if math.Abs(frac-want) > 0.25*want {
		t.Errorf("%s: %d of %d keys (%.3f), want about %.3f", what, got, total, frac, want)
	}
}

func TestRingSuccessors(t *testing.T) {
	r := NewRing(workers(5), 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		k := rng.Uint64()
		home, _ := r.Home(k)
		for _, n := range []int{1, 2, 3, 5, 9} {
			s := r.Successors(k, n)
			if want := min(n, 5); len(s) != want {
				t.Fatalf("Successors(%#x, %d) has %d members, want %d", k, n, len(s), want)
			}
			if s[0] != home {
				t.Fatalf("Successors(%#x, %d)[0] = %s, want the home %s", k, n, s[0].Name, home.Name)
			}
			seen := map[string]bool{}
			for _, m := range s {
				if seen[m.Name] {
					t.Fatalf("Successors(%#x, %d) repeats %s: %v", k, n, m.Name, s)
				}
				seen[m.Name] = true
			}
			// A shorter list is a prefix of a longer one.
			if full := r.Successors(k, 5); fmt.Sprint(full[:len(s)]) != fmt.Sprint(s) {
				t.Fatalf("Successors(%#x, %d) = %v is not a prefix of %v", k, n, s, full)
			}
		}
		if s := r.Successors(k, 0); s != nil {
			t.Fatalf("Successors(%#x, 0) = %v, want nil", k, s)
		}
	}
}

func TestRingVirtualNodes(t *testing.T) {
	tests := []struct{ in, want int }{{0, DefaultVirtualNodes}, {-3, DefaultVirtualNodes}, {1, 1}, {77, 77}, {1 << 20, MaxVirtualNodes}}
	for _, tc := range tests {
		r := NewRing(workers(2), tc.in)
		if r.VirtualNodes() != tc.want || len(r.hashes) != 2*tc.want {
			t.Errorf("NewRing(2 members, %d): VirtualNodes %d with %d points, want %d per member", tc.in, r.VirtualNodes(), len(r.hashes), tc.want)
		}
	}
}

func BenchmarkRingHome(b *testing.B) {
	r := NewRing(workers(100), 0)
	var k uint64
	for b.Loop() {
		r.Home(BlockKey(k, 0))
		k++
	}
}

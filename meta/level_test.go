package meta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestExchangeWaitsForEveryMaster: a leader proposes an exchange (a
// command of level 2) only once every other master says it applies it. A
// member that cannot be asked, or that runs an older build, gets the
// exchange refused with EINVAL naming that member, with nothing swapped in
// the namespace or the under-store; once every member says so, the
// exchange goes through, and the answers are kept for the next one, but a
// "too old" answer is not.
func TestExchangeWaitsForEveryMaster(t *testing.T) {
	g := newGroup(t, 3)
	li := g.leader(-1)
	m := g.masters[li]
	ctx := context.Background()
	ufsDir := g.cfgs[li].RootUFS
	for _, name := range []string{"a", "b"} {
		if _, err := m.CreateFile(ctx, "/"+name, CreateOptions{Mode: 0o644, Persisted: true, Complete: true}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ufsDir, name), []byte("bytes of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		t.Helper()
		var out []string
		for _, name := range []string{"a", "b"} {
			fi, err := m.GetStatus(ctx, "/"+name)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(ufsDir, name))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, name, string(rune('0'+fi.ID%10)), string(b))
		}
		return strings.Join(out, " ")
	}
	before := state()

	var (
		mu     sync.Mutex
		levels = map[string]int{} // by client address; missing: unreachable
		asked  int
	)
	// Members that never led have no address in the journal: they are
	// taken to listen on this master's port, on their own host.
	if got := m.peerRPCAddr(g.cfgs[(li+1)%3].RaftAddr); got != "127.0.0.1:1" {
		t.Errorf("a member's client address, guessed: %q, want 127.0.0.1:1", got)
	}
	m.cfg.PeerRPC = map[string]string{}
	for _, c := range g.cfgs {
		m.cfg.PeerRPC[c.RaftAddr] = c.RPCAddr
	}
	m.cfg.PeerLevel = func(_ context.Context, rpcAddr string) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		asked++
		l, ok := levels[rpcAddr]
		if !ok {
			return 0, errors.New("connection refused")
		}
		return l, nil
	}
	behind := (li + 1) % 3
	other := (li + 2) % 3
	set := func(i, level int) {
		mu.Lock()
		levels[m.peerRPCAddr(g.cfgs[i].RaftAddr)] = level
		mu.Unlock()
	}

	err := m.Exchange(ctx, "/a", "/b")
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "could not say") {
		t.Fatalf("exchange with members that cannot be asked: %v", err)
	}
	set(behind, 1)
	set(other, CommandLevel)
	err = m.Exchange(ctx, "/a", "/b")
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), g.cfgs[behind].RaftAddr) ||
		!strings.Contains(err.Error(), "older build") {
		t.Fatalf("exchange with a member on an older build: %v", err)
	}
	if got := state(); got != before {
		t.Fatalf("a refused exchange changed something:\n got %s\nwant %s", got, before)
	}

	// The last member upgraded: the refusal is not remembered.
	set(behind, CommandLevel)
	if err := m.Exchange(ctx, "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	after := state()
	if after == before || !strings.Contains(after, "a ") || !strings.HasSuffix(after, "bytes of a") {
		t.Fatalf("the exchange did not swap the entries: %s (before %s)", after, before)
	}
	// Both answers are kept: swapping back asks nobody.
	mu.Lock()
	n := asked
	mu.Unlock()
	if err := m.Exchange(ctx, "/a", "/b"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if asked != n {
		t.Errorf("the members were asked again (%d times) within the time their answers are kept", asked-n)
	}
	if got := state(); got != before {
		t.Errorf("swapped back: %s, want %s", got, before)
	}
}

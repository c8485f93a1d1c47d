package meta

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestFollowerReads: a follower answers a read marked WithFollowerRead
// from its own state while it hears from the leader, refuses unmarked
// reads, and stops answering once the leader is gone for longer than the
// staleness bound.
func TestFollowerReads(t *testing.T) {
	g := newGroup(t, 3)
	for i := range g.cfgs {
		g.cfgs[i].FollowerReadStaleness = 300 * time.Millisecond
		g.masters[i].cfg.FollowerReadStaleness = 300 * time.Millisecond
	}
	ctx := context.Background()
	li := g.leader(-1)
	leader := g.masters[li]
	(&testEnv{m: leader}).mkdir(t, "/seen")
	// Loading a directory from the under-store is a change: the leader
	// lists "/" first (a follower's listing of an unloaded directory goes
	// to the leader).
	if _, err := leader.ListStatus(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, g.masters, leader.node.raft.AppliedIndex())

	fctx := WithFollowerRead(ctx)
	for i, m := range g.masters {
		if i == li {
			continue
		}
		if _, err := m.GetStatus(ctx, "/seen"); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("follower %d answered an unmarked read: %v", i, err)
		}
		// Freshness is a moment's state (applied behind committed while
		// an entry is on its way): poll.
		deadline := time.Now().Add(5 * time.Second)
		for {
			fi, err := m.GetStatus(fctx, "/seen")
			if err == nil && fi.IsDir {
				_, err = m.ListStatus(fctx, "/")
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("follower %d follower read: %v", i, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n := m.Stats().FollowerReads; n < 2 {
			t.Errorf("follower %d counts %d follower reads, want 2", i, n)
		}
	}
	// The leader answers marked reads as usual.
	if _, err := leader.GetStatus(fctx, "/seen"); err != nil {
		t.Fatal(err)
	}

	// With the leader gone, followers stop answering within the bound
	// (and, being two of three, elect a new leader meanwhile: wait for
	// the one that stays a follower to refuse or for it to lead).
	leader.node.close()
	f := (li + 1) % 3
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := g.masters[f].GetStatus(fctx, "/seen")
		if errors.Is(err, ErrNotLeader) || g.masters[f].IsLeader() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follower %d kept answering follower reads 10s after the leader died: %v", f, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFollowerReadsLeaderMark: a follower that heard from the leader but
// has not applied what the leader had applied when it last asked (a
// lagging log, which heartbeats do not show) refuses follower reads, and
// answers them again once it has.
func TestFollowerReadsLeaderMark(t *testing.T) {
	var ahead atomic.Uint64 // added to the leader's applied index
	var started atomic.Pointer[[]*Master]
	g := newGroupWith(t, 3, func(c *Config) {
		c.FollowerReadStaleness = 300 * time.Millisecond
		c.LeaderApplied = func(ctx context.Context, rpcAddr string) (uint64, error) {
			if ms := started.Load(); ms != nil {
				for _, m := range *ms {
					if m.cfg.RPCAddr == rpcAddr && m.IsLeader() {
						return m.node.raft.AppliedIndex() + ahead.Load(), nil
					}
				}
			}
			return 0, ErrNotLeader
		}
	})
	ms := slices.Clone(g.masters)
	started.Store(&ms)
	ctx := context.Background()
	li := g.leader(-1)
	leader := g.masters[li]
	(&testEnv{m: leader}).mkdir(t, "/seen")
	if _, err := leader.ListStatus(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, g.masters, leader.node.raft.AppliedIndex())
	f := g.masters[(li+1)%3]
	fctx := WithFollowerRead(ctx)
	serves := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, err := f.GetStatus(fctx, "/seen")
			if (err == nil) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("follower read: %v; want answered %v", err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	serves(true)
	ahead.Store(1000) // the leader has applied more than the follower knows of
	serves(false)
	ahead.Store(0)
	serves(true)
}

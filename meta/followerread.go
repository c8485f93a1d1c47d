package meta

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Follower reads: a client that opts in sends reads to any master, and a
// follower answers from its own state when that state is fresh: it heard
// from the leader (or, on the UFS journal, replayed the journal) less than
// Config.FollowerReadStaleness ago, has applied everything it knows to be
// committed, and (with Config.LeaderApplied) has applied everything the
// leader had applied when it last asked, less than that bound ago. Such a
// read may miss what was committed in that window; the client keeps
// read-your-writes by reading from the leader for that long after each of
// its own writes.

// DefaultFollowerReadStaleness bounds how old a follower's state may be
// for it to answer a follower read, when the configuration says nothing.
const DefaultFollowerReadStaleness = time.Second

type followerReadKey struct{}

// WithFollowerRead marks ctx as a read that a fresh follower may serve.
func WithFollowerRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, followerReadKey{}, true)
}

func followerReadOK(ctx context.Context) bool {
	ok, _ := ctx.Value(followerReadKey{}).(bool)
	return ok
}

// servesFollowerRead reports whether this master, not leading, may answer
// a follower read now.
func (m *Master) servesFollowerRead() bool {
	if m.IsLeader() || len(m.Mounts()) == 0 {
		return false
	}
	limit := m.cfg.FollowerReadStaleness
	if limit <= 0 {
		limit = DefaultFollowerReadStaleness
	}
	var st RaftStats
	m.jr.fill(&st)
	if m.cfg.LeaderApplied != nil && !m.leaderMark.covered(st.LastApplied, limit) {
		return false
	}
	if m.node != nil {
		r := m.node.raft
		return r.State() == raft.Follower && !r.LastContact().IsZero() &&
			time.Since(r.LastContact()) < limit && r.AppliedIndex() >= r.CommitIndex()
	}
	// A UFS journal standby looks for new entries every TailInterval.
	tail := m.cfg.TailInterval
	if tail <= 0 {
		tail = time.Second
	}
	return !st.LastContact.IsZero() && time.Since(st.LastContact) < limit+tail && st.LastApplied >= st.CommitIndex
}

// leaderMark is the leader's applied index as a follower last learnt it,
// and when it asked. Heartbeats keep a follower's contact with the leader
// fresh while its log lags (a slow disk, a snapshot on its way), and it
// knows only of the commits it received; a follower answers reads only
// while it has applied what the leader had applied when asked, less than
// the staleness bound ago, so that its answers are at most that old.
type leaderMark struct {
	mu    sync.Mutex
	index uint64
	asked time.Time
}

// covered reports whether applied reaches the leader's index asked for
// less than limit ago.
func (l *leaderMark) covered(applied uint64, limit time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.asked.IsZero() && time.Since(l.asked) < limit && applied >= l.index
}

func (l *leaderMark) set(index uint64, asked time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if asked.After(l.asked) {
		l.index, l.asked = index, asked
	}
}

// followLeader asks the leader for its applied index four times a
// staleness bound while this master follows (leaderMark).
func (m *Master) followLeader() {
	limit := m.cfg.FollowerReadStaleness
	if limit <= 0 {
		limit = DefaultFollowerReadStaleness
	}
	t := time.NewTicker(max(limit/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		leader := m.LeaderRPC()
		if m.IsLeader() || leader == "" {
			continue
		}
		asked := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		index, err := m.cfg.LeaderApplied(ctx, leader)
		cancel()
		if err == nil {
			m.leaderMark.set(index, asked)
		}
	}
}

package meta

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// Follower reads: a client that opts in sends reads to any master, and a
// follower answers from its own state when that state is fresh: it heard
// from the leader (or, on the UFS journal, replayed the journal) less than
// Config.FollowerReadStaleness ago and has applied everything it knows to
// be committed. Such a read may miss what was committed in that window;
// the client keeps read-your-writes by reading from the leader for that
// long after each of its own writes.

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
	var st RaftStats
	m.jr.fill(&st)
	return !st.LastContact.IsZero() && time.Since(st.LastContact) < limit+tail && st.LastApplied >= st.CommitIndex
}

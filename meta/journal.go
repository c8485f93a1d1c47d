package meta

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// Journal types (alluxio.master.journal.type).
const (
	// JournalEmbedded is a Raft group among the masters (the default).
	JournalEmbedded = "EMBEDDED"
	// JournalUFS is a log on a shared under-store, written by the master
	// that ZooKeeper elects and replayed by the others.
	JournalUFS = "UFS"
)

// errNotLeading reports a journal that cannot take or confirm a command
// because this master does not lead (any more).
var errNotLeading = errors.New("not the journal's leader")

// journal replicates commands to the masters and knows who leads. Master
// uses nothing else of the replication layer, so the embedded Raft journal
// and the UFS journal serve the same namespace code.
type journal interface {
	// submit appends an encoded command and returns without waiting for
	// it to apply; the returned wait gives what applying it on this
	// master returned (an *applyResult), or ctx's error when ctx ends
	// first. It fails with errNotLeading when this master does not lead.
	// Split so that a caller can do other work, such as the under-store's
	// part of a change, in its own goroutine while the entry commits.
	submit(ctx context.Context, data []byte, timeout time.Duration) (wait func(context.Context) (any, error))
	// leading reports whether this master leads now.
	leading() bool
	// term identifies the current leadership: it changes whenever a
	// leadership is won.
	term() uint64
	// leader returns the leader's journal address (id) and, where the
	// journal knows it, its client RPC address.
	leader() (id, rpc string)
	// barrier returns once every entry committed before it is applied
	// on this master.
	barrier(timeout time.Duration) error
	// verify confirms that this master still leads (errNotLeading if not).
	verify() error
	// lease is how long a confirmed leadership is trusted for reads.
	lease() time.Duration
	// handOff gives leadership to another master before this one stops.
	handOff() error
	// fill adds the journal's state to a RaftStats.
	fill(st *RaftStats)
	// close stops the journal.
	close() error
}

// notLeaderErr maps Raft's "not the leader" family of errors to
// errNotLeading.
func notLeaderErr(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", errNotLeading, err)
	}
	return err
}

// submit implements journal. Raft's future has no channel to select on,
// so waiting with a context that can end takes a goroutine; it only
// waits, and its stack stays small.
func (n *raftNode) submit(_ context.Context, data []byte, timeout time.Duration) func(context.Context) (any, error) {
	f := n.raft.Apply(data, timeout)
	return func(ctx context.Context) (any, error) {
		var err error
		if ctx.Done() == nil {
			err = f.Error()
		} else {
			done := make(chan error, 1)
			go func() { done <- f.Error() }()
			select {
			case err = <-done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err != nil {
			if errors.Is(err, raft.ErrEnqueueTimeout) {
				return nil, fmt.Errorf("%w: %w", err, syscall.ETIMEDOUT)
			}
			return nil, notLeaderErr(err)
		}
		return f.Response(), nil
	}
}

// leading implements journal.
func (n *raftNode) leading() bool { return n.raft.State() == raft.Leader }

// term implements journal.
func (n *raftNode) term() uint64 { return n.raft.CurrentTerm() }

// leader implements journal.
func (n *raftNode) leader() (string, string) {
	addr, _ := n.raft.LeaderWithID()
	return string(addr), ""
}

// barrier implements journal.
func (n *raftNode) barrier(timeout time.Duration) error {
	return notLeaderErr(n.raft.Barrier(timeout).Error())
}

// verify implements journal.
func (n *raftNode) verify() error { return notLeaderErr(n.raft.VerifyLeader().Error()) }

// lease implements journal.
func (n *raftNode) lease() time.Duration { return n.leaseTimeout }

// handOff implements journal.
func (n *raftNode) handOff() error { return n.raft.LeadershipTransfer().Error() }

// fill implements journal.
func (n *raftNode) fill(st *RaftStats) {
	r := n.raft
	st.State = r.State().String()
	st.Term = r.CurrentTerm()
	st.LastApplied = r.AppliedIndex()
	st.CommitIndex = r.CommitIndex()
	st.LastIndex = r.LastIndex()
	st.LastContact = r.LastContact()
	if r.State() == raft.Leader {
		st.LastContact = time.Time{}
	}
	st.LogWrites = n.logCount.writes.Load()
	st.LogEntries = n.logCount.entries.Load()
}

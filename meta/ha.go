package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// High availability: a group of 1, 3 or 5 masters. Only the leader serves
// the namespace; a follower answers every call with a NotLeaderError that
// names the leader's Raft and RPC addresses. The leader serves nothing
// until it has applied the entries of earlier terms (watchLeadership), and
// it confirms its leadership before a read (confirmLeader), so reads are
// linearizable.

// bucketMasters maps a master's Raft address to the client RPC address
// it recorded when it became leader.
var bucketMasters = []byte("masters")

// NodeIDFor returns the Raft server id of the master whose Raft address is
// addr. Ids are derived from addresses so that every member bootstraps the
// group with the same configuration and ids stay stable across restarts.
func NodeIDFor(addr string) string { return addr }

// setMasterAddrCmd records the client RPC address of a master.
type setMasterAddrCmd struct {
	RaftAddr string `json:"raftAddr"`
	RPCAddr  string `json:"rpcAddr"`
}

func (*setMasterAddrCmd) commandType() commandType { return cmdSetMasterAddr }

func (c *setMasterAddrCmd) apply(t *txn) (any, error) {
	if c.RaftAddr == "" || c.RPCAddr == "" {
		return nil, fmt.Errorf("meta: master address record %q -> %q: %w", c.RaftAddr, c.RPCAddr, syscall.EINVAL)
	}
	t.fail(t.tx.Bucket(bucketMasters).Put([]byte(c.RaftAddr), []byte(c.RPCAddr)))
	return nil, t.err
}

// recordedRPCAddr returns the RPC address recorded for a Raft address.
func (t *txn) recordedRPCAddr(raftAddr string) string {
	b := t.tx.Bucket(bucketMasters)
	if b == nil {
		return ""
	}
	return string(b.Get([]byte(raftAddr)))
}

// RPCAddrOf returns the client RPC address of the master at Raft address
// raftAddr: this master's own, else the one that master recorded in the
// journal when it led, else the configured one (Config.PeerRPC); "" when
// none is known.
func (m *Master) RPCAddrOf(raftAddr string) string {
	if raftAddr == "" {
		return ""
	}
	if raftAddr == m.cfg.RaftAddr && m.cfg.RPCAddr != "" {
		return m.cfg.RPCAddr
	}
	var rec string
	_ = m.fsm.view(func(t *txn) error { rec = t.recordedRPCAddr(raftAddr); return nil })
	if rec != "" {
		return rec
	}
	return m.cfg.PeerRPC[raftAddr]
}

// registerSelf records this master's RPC address in the journal when the
// record is missing or differs.
func (m *Master) registerSelf(ctx context.Context) error {
	if m.cfg.RPCAddr == "" {
		return nil
	}
	var rec string
	if err := m.fsm.view(func(t *txn) error { rec = t.recordedRPCAddr(m.cfg.RaftAddr); return nil }); err != nil {
		return err
	}
	if rec == m.cfg.RPCAddr {
		return nil
	}
	_, err := m.propose(ctx, &setMasterAddrCmd{RaftAddr: m.cfg.RaftAddr, RPCAddr: m.cfg.RPCAddr})
	return err
}

// confirmLeader checks that this master still leads before a read is
// served from its state. A quorum round (raft VerifyLeader) proves it; a
// round that succeeded less than the leader lease ago (shorter than the
// followers' heartbeat timeout, so no other leader can have been elected
// since) is trusted instead. Concurrent reads share one round.
func (m *Master) confirmLeader(ctx context.Context) error {
	if err := m.checkLeader(); err != nil {
		return err
	}
	if time.Now().UnixNano() < m.leaseUntil.Load() {
		return nil
	}
	return m.verify.do(ctx, m.verifyLeader)
}

// verifyLeader runs one quorum round and extends the read lease on success.
func (m *Master) verifyLeader() error {
	start := time.Now()
	err := m.jr.verify()
	if err != nil {
		m.leaseUntil.Store(0)
		if errors.Is(err, errNotLeading) {
			return m.notLeader()
		}
		return fmt.Errorf("meta: confirm leadership: %w: %w", err, syscall.EIO)
	}
	if !m.transferring.Load() {
		m.leaseUntil.Store(start.Add(m.jr.lease()).UnixNano())
	}
	return nil
}

// verifier runs quorum rounds one at a time. A caller waits for a round
// that starts after it arrived, so a read never relies on a round that
// began before it; all callers that arrive during a round share the next.
type verifier struct {
	mu      sync.Mutex // guards next and running
	next    *verifyRound
	running bool
}

// verifyRound is one quorum round and its outcome.
type verifyRound struct {
	done chan struct{}
	err  error
}

// do waits for the outcome of the next round of fn. The goroutine that
// runs rounds stops when no caller waits for another.
func (v *verifier) do(ctx context.Context, fn func() error) error {
	v.mu.Lock()
	r := v.next
	if r == nil {
		r = &verifyRound{done: make(chan struct{})}
		v.next = r
	}
	if !v.running {
		v.running = true
		go v.run(fn)
	}
	v.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return fmt.Errorf("meta: confirm leadership: %w", ctx.Err())
	}
}

// run runs rounds while callers wait for one.
func (v *verifier) run(fn func() error) {
	for {
		v.mu.Lock()
		r := v.next
		v.next = nil
		if r == nil {
			v.running = false
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		r.err = fn()
		close(r.done)
	}
}

// QuorumServer is one member of the master group.
type QuorumServer struct {
	// ID is the member's Raft server id.
	ID string `json:"id"`
	// Address is its Raft (embedded journal) address.
	Address string `json:"address"`
	// RPCAddr is its client RPC address, "" when not known.
	RPCAddr string `json:"rpcAddr"`
	// Voter is false for a non-voting member.
	Voter bool `json:"voter"`
	// Leader marks the leader as this master knows it.
	Leader bool `json:"leader"`
}

// Quorum returns the members of the group, as of the latest configuration
// this master knows.
func (m *Master) Quorum() ([]QuorumServer, error) {
	if err := m.embedded("info"); err != nil {
		return nil, err
	}
	f := m.node.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("meta: quorum: %w: %w", err, syscall.EIO)
	}
	leader := m.Leader()
	var out []QuorumServer
	for _, s := range f.Configuration().Servers {
		out = append(out, QuorumServer{
			ID: string(s.ID), Address: string(s.Address), RPCAddr: m.RPCAddrOf(string(s.Address)),
			Voter: s.Suffrage == raft.Voter, Leader: string(s.Address) == leader,
		})
	}
	return out, nil
}

// embedded fails unless this master runs the embedded journal, the only
// one with a quorum to show or change.
func (m *Master) embedded(op string) error {
	if m.node == nil {
		return fmt.Errorf("quorum %s: the masters run the %s journal, which ZooKeeper elects for; "+
			"quorum commands apply to the %s journal (alluxio.master.journal.type): %w",
			op, JournalUFS, JournalEmbedded, syscall.ENOTSUP)
	}
	return nil
}

// findServer returns the member named by addr: its Raft address, its id or
// its client RPC address.
func (m *Master) findServer(op, addr string) (QuorumServer, error) {
	servers, err := m.Quorum()
	if err != nil {
		return QuorumServer{}, err
	}
	var names []string
	for _, s := range servers {
		if addr == s.Address || addr == s.ID || (s.RPCAddr != "" && addr == s.RPCAddr) {
			return s, nil
		}
		names = append(names, s.Address)
	}
	return QuorumServer{}, fmt.Errorf("quorum %s %s: not a member (members: %s): %w",
		op, addr, strings.Join(names, ", "), syscall.ENOENT)
}

// HasJournal reports whether journalDir holds an embedded journal (a
// master that ran there before and rejoins with its stored membership).
func HasJournal(journalDir string) bool {
	_, err := os.Stat(filepath.Join(journalDir, raftDBName))
	return err == nil
}

// AddServer adds the master at Raft address addr, whose clients reach it
// at rpcAddr, to the group as a voter; it catches up from the leader. Only
// the leader can; adding a member again is a no-op.
func (m *Master) AddServer(ctx context.Context, addr, rpcAddr string) error {
	if err := m.embedded("add"); err != nil {
		return err
	}
	if err := m.checkLeader(); err != nil {
		return err
	}
	if _, err := parsePeer(addr); err != nil {
		return fmt.Errorf("quorum add: %w: %w", err, syscall.EINVAL)
	}
	if rpcAddr != "" {
		if _, err := m.propose(ctx, &setMasterAddrCmd{RaftAddr: addr, RPCAddr: rpcAddr}); err != nil {
			return err
		}
	}
	err := m.node.raft.AddVoter(raft.ServerID(NodeIDFor(addr)), raft.ServerAddress(addr), 0, timeoutOf(ctx)).Error()
	if err != nil {
		if errors.Is(notLeaderErr(err), errNotLeading) {
			return m.notLeader()
		}
		return fmt.Errorf("quorum add %s: %w: %w", addr, err, syscall.EIO)
	}
	m.log.Info("added master to the quorum", "address", addr, "rpc", rpcAddr)
	return nil
}

// RemoveServer removes the member at addr (Raft, id or RPC address) from
// the group. Only the leader can; removing the leader itself makes it step
// down once the change is committed.
func (m *Master) RemoveServer(ctx context.Context, addr string) error {
	if err := m.checkLeader(); err != nil {
		return err
	}
	s, err := m.findServer("remove", addr)
	if err != nil {
		return err
	}
	err = m.node.raft.RemoveServer(raft.ServerID(s.ID), 0, timeoutOf(ctx)).Error()
	if err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return m.notLeader()
		}
		return fmt.Errorf("quorum remove %s: %w: %w", addr, err, syscall.EIO)
	}
	m.log.Info("removed master from the quorum", "id", s.ID, "address", s.Address)
	return nil
}

// TransferLeadership hands leadership to the voter at addr (Raft, id or
// RPC address) and returns once it has left this master. While the
// transfer runs this master serves nothing, and its read lease is dropped,
// so no read is answered from a state the new leader has moved past.
func (m *Master) TransferLeadership(ctx context.Context, addr string) error {
	if err := m.checkLeader(); err != nil {
		return err
	}
	s, err := m.findServer("elect", addr)
	if err != nil {
		return err
	}
	switch {
	case s.Address == m.cfg.RaftAddr:
		return nil // already the leader
	case !s.Voter:
		return fmt.Errorf("quorum elect %s: not a voter: %w", addr, syscall.EINVAL)
	}
	m.transferring.Store(true)
	m.leaseUntil.Store(0)
	defer m.transferring.Store(false)
	err = m.node.raft.LeadershipTransferToServer(raft.ServerID(s.ID), raft.ServerAddress(s.Address)).Error()
	if err != nil {
		return fmt.Errorf("quorum elect %s: %w: %w", addr, err, syscall.EIO)
	}
	m.log.Info("transferred leadership", "to", s.Address)
	return nil
}

// timeoutOf is the time left before ctx's deadline, or the default apply
// timeout.
func timeoutOf(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d > 0 {
			return d
		}
		return time.Millisecond
	}
	return defaultApplyTimeout
}

// Masters lists the masters of the group for display: the Raft members
// with the embedded journal, or, with the UFS journal, the masters standing
// in the election (with no Raft address; ids are RPC addresses there, and
// all of them vote).
func (m *Master) Masters() ([]QuorumServer, error) {
	uj, ok := m.jr.(*ufsJournal)
	if !ok {
		return m.Quorum()
	}
	leader, all, err := uj.cfg.Elect.Leader()
	if err != nil {
		return nil, fmt.Errorf("meta: masters: %w: %w", err, syscall.EIO)
	}
	out := make([]QuorumServer, 0, len(all))
	for _, a := range all {
		out = append(out, QuorumServer{ID: a, RPCAddr: a, Voter: true, Leader: a == leader})
	}
	return out, nil
}

package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
	"golang.org/x/sync/singleflight"
)

// defaultApplyTimeout bounds a replicated command when the caller's
// context has no deadline.
const defaultApplyTimeout = 30 * time.Second

// ErrNotLeader is the class of errors returned by a master that is not the
// Raft leader. It wraps EAGAIN: the request can be retried at the leader.
var ErrNotLeader = fmt.Errorf("meta: not the leader: %w", syscall.EAGAIN)

// NotLeaderError is returned by a master that cannot serve a call as the
// leader: a follower, a candidate, or a leader that was just elected and is
// still applying the entries of earlier terms (Pending).
type NotLeaderError struct {
	// Leader is the leader's Raft address, "" when no leader is known.
	Leader string
	// LeaderRPC is the leader's client RPC address, "" when unknown.
	LeaderRPC string
	// Pending is set when this master is the leader but not ready yet.
	Pending bool
}

// Error says that this master is not the leader and names the leader.
func (e *NotLeaderError) Error() string {
	switch {
	case e.Pending:
		return "meta: this master was just elected and is still applying the journal; retry shortly"
	case e.Leader == "":
		return "meta: not the leader, and no leader is elected"
	case e.LeaderRPC != "":
		return "meta: not the leader; the leader is at " + e.LeaderRPC + " (raft " + e.Leader + ")"
	}
	return "meta: not the leader; the leader is at " + e.Leader
}

// Unwrap makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// Config configures a master.
type Config struct {
	// JournalDir holds raft.db, snapshots/ and metastore.db; with the UFS
	// journal it is the URI (or local path) of the shared journal folder.
	JournalDir string
	// JournalType is JournalEmbedded (the default) or JournalUFS.
	JournalType string
	// JournalOptions configure the under-store of a UFS journal folder.
	JournalOptions map[string]string
	// MetastoreDir holds metastore.db; default JournalDir (required with
	// the UFS journal, whose folder is shared).
	MetastoreDir string
	// Metastore is MetastoreROCKS (on disk, the default) or MetastoreHEAP
	// (rebuilt from the journal at every start).
	Metastore string
	// ZooKeeper configures the election of the UFS journal's leader.
	ZooKeeper zkelect.Config
	// TailInterval is how often a UFS journal standby looks for new
	// entries; 0 means one second.
	TailInterval time.Duration
	// Join makes a master with an empty journal wait to be added to a
	// running group (AddServer on its leader) instead of bootstrapping
	// one from Peers.
	Join bool
	// Permissions checks the calls that carry a caller (WithCaller)
	// against modes and owners (alluxio.security.authorization.permission.enabled).
	Permissions bool
	// RootSquash checks a root caller as the nobody user.
	RootSquash bool
	// FollowerReadStaleness bounds how far behind the leader a follower
	// may be to serve reads marked WithFollowerRead; 0 means
	// DefaultFollowerReadStaleness.
	FollowerReadStaleness time.Duration
	// NodeID is this master's Raft id; default "master-0". In a group,
	// use NodeIDFor(RaftAddr) so that ids are stable and agree with the
	// ids of Peers given as plain addresses.
	NodeID string
	// RaftAddr is the address Raft binds to and advertises, e.g.
	// "127.0.0.1:19200".
	RaftAddr string
	// Peers are the members of the group ("id=host:port" or "host:port";
	// this master may be listed too). Empty for a single node. Every
	// member bootstraps with the same list on first start; later starts
	// use the configuration stored in the journal.
	Peers []string
	// RPCAddr is the address clients reach this master at. It is recorded
	// in the journal when this master becomes leader, so that followers
	// can send clients to it.
	RPCAddr string
	// PeerRPC maps other members' Raft addresses to their client RPC
	// addresses; it is used for members that have not recorded theirs.
	PeerRPC map[string]string
	// PeerLevel asks the master at a client RPC address for its
	// CommandLevel, before a command of a newer level is proposed
	// (requireLevel). Nil: the members are taken to run this build.
	PeerLevel func(ctx context.Context, rpcAddr string) (int, error)
	// LeaderApplied asks the leader at a client RPC address for the
	// index of the last entry it applied (nil: follower reads are bounded
	// by the time since the leader was last heard from only).
	LeaderApplied func(ctx context.Context, rpcAddr string) (uint64, error)
	// RootUFS is the URI of the root mount.
	RootUFS string
	// RootOptions configure the root under-store (may hold credentials).
	RootOptions map[string]string
	// RootReadOnly makes the root mount read-only.
	RootReadOnly bool
	// SyncInterval is how long under-store metadata is trusted: < 0 never
	// sync again after the first load, 0 sync on every call.
	SyncInterval time.Duration
	// DeferUfsDeletes lets an unlink of a file in a store that removes
	// many files a request return before the store removed it; the
	// leader removes such files in batches (deferdelete.go).
	DeferUfsDeletes bool
	// Checkpoint says when the journal snapshots the metastore and
	// compacts its log (the UFS journal writes a checkpoint every
	// PeriodEntries entries); the zero value takes the defaults.
	Checkpoint CheckpointConfig
	// OpenUFS opens an under-store; default ufs.Open.
	OpenUFS func(uri string, opts map[string]string) (ufs.UFS, error)
	// Logger receives the master's and Raft's logs; default slog.Default().
	Logger *slog.Logger
}

// Master serves the namespace and the mount table. Mutations are
// validated on local state, applied to the under-store (on the leader) and
// then replicated through Raft; reads are served from the local metastore.
type Master struct {
	cfg  Config
	log  *slog.Logger
	fsm  *fsm
	jr   journal   // the replication layer
	node *raftNode // the embedded journal; nil with the UFS journal
	sync *syncer
	// locks serialise the requests on the same paths (pathLocks).
	locks *pathLocks

	ufsGroup singleflight.Group
	ufsMu    sync.Mutex // guards ufsCache
	ufsCache map[uint64]*openedUFS

	rootMu sync.Mutex // serialises ensureRootMount

	// caughtUpTerm is the Raft term in which this master, as leader, has
	// applied every entry of earlier terms, so it may propose; readyTerm
	// the term in which, besides, its start-up tasks as leader are done,
	// so it serves calls (0: none). Comparing with the current term makes
	// a leadership lost and won again count as new. transferring is set
	// while it hands leadership over.
	caughtUpTerm atomic.Uint64
	readyTerm    atomic.Uint64
	transferring atomic.Bool
	// leaseUntil (unix nanoseconds) is when the leadership confirmed by
	// the last quorum round stops being trusted for reads.
	leaseUntil atomic.Int64
	verify     verifier
	// levels are the other members' command levels (requireLevel).
	levels peerLevels
	// followerReads counts the reads served as a follower.
	followerReads atomic.Uint64
	// leaderMark is what this master, following, last learnt of the
	// leader's applied index (followLeader).
	leaderMark leaderMark
	// inodes caches the size of the namespace for reports.
	inodes inodeCounter

	// deletes sends the deferred under-store deletes (deferdelete.go).
	deletes *deferrer
	// leaderCh carries Raft's leadership changes to watchLeadership;
	// it and deletes.run stop when stop is closed; watching tracks them.
	leaderCh chan bool
	stop     chan struct{}
	watching sync.WaitGroup
	// termMu guards termEnd, which is closed, and replaced, at each
	// leadership change (leadingContext).
	termMu  sync.Mutex
	termEnd chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// openedUFS is a cached under-store and the mount record it was opened for.
type openedUFS struct {
	mount MountInfo
	u     ufs.UFS
}

// Open opens the journal and starts Raft. A single master waits (bounded
// by ctx) until it leads, has applied the journal and has checked the
// root mount against the configuration. A member of a group returns at
// once: the group may still be forming, and until a leader is elected
// every call fails with a NotLeaderError, which clients retry.
func Open(ctx context.Context, cfg Config) (*Master, error) {
	if cfg.NodeID == "" {
		cfg.NodeID = "master-0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OpenUFS == nil {
		cfg.OpenUFS = ufs.Open
	}
	if cfg.JournalType == "" {
		cfg.JournalType = JournalEmbedded
	}
	ufsJournal := cfg.JournalType == JournalUFS
	switch {
	case cfg.JournalType != JournalEmbedded && !ufsJournal:
		return nil, fmt.Errorf("meta: journal type %q: want %s or %s: %w", cfg.JournalType, JournalEmbedded, JournalUFS, syscall.EINVAL)
	case cfg.JournalDir == "":
		return nil, fmt.Errorf("meta: Config.JournalDir is empty: %w", syscall.EINVAL)
	case cfg.RaftAddr == "" && !ufsJournal:
		return nil, fmt.Errorf("meta: Config.RaftAddr is empty: %w", syscall.EINVAL)
	case cfg.RootUFS == "":
		return nil, fmt.Errorf("meta: Config.RootUFS is empty: %w", syscall.EINVAL)
	case ufsJournal && cfg.MetastoreDir == "":
		return nil, fmt.Errorf("meta: the %s journal needs a local metastore directory (Config.MetastoreDir): %w", JournalUFS, syscall.EINVAL)
	case ufsJournal && cfg.RPCAddr == "":
		return nil, fmt.Errorf("meta: the %s journal needs this master's RPC address (Config.RPCAddr): %w", JournalUFS, syscall.EINVAL)
	}
	if cfg.MetastoreDir == "" {
		cfg.MetastoreDir = cfg.JournalDir
	}
	if !ufsJournal {
		if err := os.MkdirAll(cfg.JournalDir, 0o700); err != nil {
			return nil, fmt.Errorf("meta: journal folder: %w", err)
		}
	}
	log := cfg.Logger.With("component", "meta")
	f, err := openMetastore(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	m := &Master{
		cfg: cfg, log: log, fsm: f, sync: newSyncer(cfg.SyncInterval), locks: newPathLocks(), ufsCache: map[uint64]*openedUFS{},
		leaderCh: make(chan bool, 16), stop: make(chan struct{}), termEnd: make(chan struct{}),
	}
	m.deletes = newDeferrer(m)
	f.onRestore = m.dropCaches
	if ufsJournal {
		m.jr, err = m.openUFSJournal()
	} else {
		m.node, err = startRaft(raftConfig{
			NodeID: cfg.NodeID, BindAddr: cfg.RaftAddr, Peers: cfg.Peers, Dir: cfg.JournalDir, Notify: m.leaderCh,
			Applied: f.lastApplied(), NoBootstrap: cfg.Join, Checkpoint: cfg.Checkpoint,
		}, f, cfg.Logger)
		if err == nil {
			m.jr = m.node
		}
	}
	if err != nil {
		f.close()
		return nil, err
	}
	m.watching.Add(2)
	go m.watchLeadership()
	if m.cfg.LeaderApplied != nil {
		go m.followLeader()
	}
	go m.deletes.run()
	if !m.group() {
		if err := m.waitReady(ctx); err != nil {
			m.Close()
			return nil, err
		}
		if err := m.ensureRootMount(ctx); err != nil {
			m.Close()
			return nil, err
		}
	}
	log.Info("master started", "node", cfg.NodeID, "raft", cfg.RaftAddr, "rpc", cfg.RPCAddr,
		"members", len(m.cfg.Peers), "leader", m.Leader(), "lastApplied", m.fsm.lastApplied())
	return m, nil
}

// group reports whether this master is configured as one of several
// (always with the UFS journal: how many candidates there are is
// ZooKeeper's to know).
func (m *Master) group() bool {
	if m.node == nil {
		return true
	}
	for _, p := range m.cfg.Peers {
		if s, err := parsePeer(p); err == nil && string(s.ID) != m.cfg.NodeID && string(s.Address) != m.cfg.RaftAddr {
			return true
		}
	}
	return false
}

// waitReady waits until this master leads and has applied the journal.
func (m *Master) waitReady(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !m.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("meta: no raft leader elected (node %s at %s): %w", m.cfg.NodeID, m.cfg.RaftAddr, ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// watchLeadership reacts to leadership changes. On election it waits until
// the entries of earlier terms are applied (a Barrier) and only then marks
// the master ready, so that no read or retried request is answered from a
// state that misses a committed entry; it then records this master's RPC
// address and checks the root mount. It returns when stop is closed.
func (m *Master) watchLeadership() {
	defer m.watching.Done()
	for {
		select {
		case <-m.stop:
			return
		case leader := <-m.leaderCh:
			m.readyTerm.Store(0)
			m.caughtUpTerm.Store(0)
			m.leaseUntil.Store(0)
			m.endTerm()
			if !leader {
				m.log.Info("lost leadership", "node", m.cfg.NodeID)
				continue
			}
			m.sync.reset()
			term := m.jr.term()
			err := m.jr.barrier(defaultApplyTimeout)
			if err == nil && m.IsLeader() && m.jr.term() == term {
				m.caughtUpTerm.Store(term)
				ctx, cancel := context.WithTimeout(context.Background(), defaultApplyTimeout)
				if m.node != nil {
					err = m.registerSelf(ctx)
				}
				err = errors.Join(err, m.ensureRootMount(ctx))
				cancel()
				// Serve even when a task failed (an under-store that is
				// down must not keep the namespace down); the root mount
				// is checked again on the next election.
				m.readyTerm.Store(term)
				m.log.Info("elected leader", "node", m.cfg.NodeID, "term", term,
					"lastApplied", m.fsm.lastApplied())
			}
			if err != nil && !errors.Is(err, errNotLeading) && !errors.Is(err, ErrNotLeader) {
				m.log.Warn("leader start-up tasks failed", "err", err)
			}
		}
	}
}

// endTerm cancels the contexts of leadingContext.
func (m *Master) endTerm() {
	m.termMu.Lock()
	close(m.termEnd)
	m.termEnd = make(chan struct{})
	m.termMu.Unlock()
}

// leadingContext returns a context derived from ctx that is cancelled
// when this master's leadership changes, for under-store work that only
// the leader may do and that must not outlive its term (a deposed
// leader's retried DELETE could take an object the new leader let be
// written); ErrNotLeader when this master does not serve as leader now.
func (m *Master) leadingContext(ctx context.Context) (context.Context, context.CancelFunc, error) {
	m.termMu.Lock()
	end := m.termEnd
	m.termMu.Unlock()
	// Read after end: a change from here on closes it.
	if !m.Ready() {
		return nil, nil, m.notLeader()
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-end:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel, nil
}

// Close stops Raft and closes the journal and the opened under-stores.
func (m *Master) Close() error {
	m.closeOnce.Do(func() {
		m.handOff()
		m.readyTerm.Store(0)
		m.caughtUpTerm.Store(0)
		errs := []error{m.jr.close()}
		close(m.stop)
		m.watching.Wait()
		errs = append(errs, m.fsm.close())
		m.ufsMu.Lock()
		for id, o := range m.ufsCache {
			errs = append(errs, o.u.Close())
			delete(m.ufsCache, id)
		}
		m.ufsMu.Unlock()
		m.closeErr = errors.Join(errs...)
	})
	return m.closeErr
}

// handOff hands leadership to another member before a leader of a group
// stops, so that clients wait for a transfer instead of an election.
func (m *Master) handOff() {
	if !m.group() || !m.IsLeader() {
		return
	}
	m.transferring.Store(true)
	m.leaseUntil.Store(0)
	if err := m.jr.handOff(); err != nil {
		m.log.Warn("could not hand leadership over before stopping", "err", err)
		return
	}
	m.log.Info("handed leadership over before stopping", "leader", m.Leader())
}

// NamespaceVersion counts the changes this master applied to the
// namespace: count grows by exactly one for each command that changed
// something a metadata cache holds (changesNamespace). epoch is random,
// drawn at start and again when a snapshot replaced the state; counts of
// different epochs (or masters) are unrelated. Two equal readings mean
// nothing changed in between. A change is counted only after readers can
// see it, so a read that starts after a reading of n sees every change up
// to n. Clients use it to keep metadata caches exact (wire.Stamp).
func (m *Master) NamespaceVersion() (epoch, count uint64) {
	return m.fsm.epoch.Load(), m.fsm.changes.Load()
}

// IsLeader reports whether this master leads the Raft group (it may not be
// ready to serve yet; see Ready).
func (m *Master) IsLeader() bool { return m.jr.leading() }

// Ready reports whether this master leads and serves calls.
func (m *Master) Ready() bool {
	return m.inTerm(&m.readyTerm) && !m.transferring.Load()
}

// inTerm reports whether this master leads in the term stored in t.
func (m *Master) inTerm(t *atomic.Uint64) bool {
	term := t.Load()
	return term != 0 && m.IsLeader() && m.jr.term() == term
}

// Leader returns the leader's Raft address, "" when none is known.
func (m *Master) Leader() string {
	addr, _ := m.jr.leader()
	return addr
}

// LeaderRPC returns the leader's client RPC address, "" when no leader is
// known or its RPC address is not.
func (m *Master) LeaderRPC() string {
	addr, rpc := m.jr.leader()
	if rpc != "" {
		return rpc
	}
	return m.RPCAddrOf(addr)
}

// RaftStats is a summary of this master's Raft state.
type RaftStats struct {
	// NodeID is this master's id in the group.
	NodeID string
	// RaftAddr and RPCAddr are this master's addresses.
	RaftAddr, RPCAddr string
	// State is "Leader", "Follower", "Candidate" or "Shutdown".
	State string
	// Ready is set on a leader that serves calls.
	Ready bool
	// Term is the current Raft term.
	Term uint64
	// LastApplied is the index of the last entry applied to the metastore.
	LastApplied uint64
	// CommitIndex is the index of the last committed entry known here.
	CommitIndex uint64
	// LastIndex is the index of the last entry in the local log.
	LastIndex uint64
	// Leader is the leader's Raft address, "" when unknown.
	Leader string
	// LeaderRPC is the leader's client RPC address, "" when unknown.
	LeaderRPC string
	// LastContact is when a follower last heard from the leader (zero on
	// the leader and before any contact).
	LastContact time.Time
	// LogWrites and LogEntries count the writes to the Raft log and the
	// entries they held; ApplyBatches and AppliedEntries count the
	// metastore transactions that applied entries and the entries. Their
	// ratios show how well concurrent commands are batched.
	LogWrites, LogEntries, ApplyBatches, AppliedEntries uint64
	// FollowerReads counts the reads this master answered as a follower.
	FollowerReads uint64
}

// Stats returns this master's Raft state.
func (m *Master) Stats() RaftStats {
	st := RaftStats{
		NodeID: m.cfg.NodeID, RaftAddr: m.cfg.RaftAddr, RPCAddr: m.cfg.RPCAddr,
		Ready:        m.Ready(),
		Leader:       m.Leader(),
		LeaderRPC:    m.LeaderRPC(),
		ApplyBatches: m.fsm.batches.Load(), AppliedEntries: m.fsm.entries.Load(),
		FollowerReads: m.followerReads.Load(),
	}
	m.jr.fill(&st)
	return st
}

// checkLeader returns a NotLeaderError unless this master leads and is
// ready to serve.
func (m *Master) checkLeader() error {
	if m.Ready() {
		return nil
	}
	return m.notLeader()
}

// notLeader describes why this master cannot serve as the leader now.
func (m *Master) notLeader() error {
	return &NotLeaderError{Leader: m.Leader(), LeaderRPC: m.LeaderRPC(), Pending: m.IsLeader()}
}

// propose replicates a command and returns its apply result. The wait
// ends with ctx, but a command already handed to Raft may still apply.
func (m *Master) propose(ctx context.Context, c command) (any, error) {
	data, err := encodeCommand(c)
	if err != nil {
		return nil, err
	}
	return m.submitData(ctx, c, data)(ctx)
}

// proposeRequest replicates the command that carries out a client request.
// When ctx carries a RequestID the command is wrapped with it, so that the
// state machine applies a retried request once and answers every attempt
// with the first result.
func (m *Master) proposeRequest(ctx context.Context, c command) (any, error) {
	return awaitApplied(ctx, m.submitRequest(ctx, c))
}

// awaitApplied waits for a submitted command's result. A request holding
// path locks keeps them until its command is applied, even when its caller
// gave up (a connection dropped): its retry, waiting for the paths, then
// finds the first attempt's recorded result, instead of acting again on a
// state the first attempt's command is about to change.
func awaitApplied(ctx context.Context, wait func(context.Context) (any, error)) (any, error) {
	if _, held := ctx.Value(lockCtxKey{}).(heldLocks); !held {
		return wait(ctx)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultApplyTimeout)
	defer cancel()
	return wait(wctx)
}

// submitRequest is proposeRequest without the wait: the command is handed
// to the journal, and the returned wait gives its result.
func (m *Master) submitRequest(ctx context.Context, c command) func(context.Context) (any, error) {
	data, err := encodeCommand(c)
	if err != nil {
		return failedWait(err)
	}
	if id, ok := requestIDFrom(ctx); ok {
		data = encodeRequest(id, data)
	}
	return m.submitData(ctx, c, data)
}

// failedWait is the wait of a command that was not handed to the journal.
func failedWait(err error) func(context.Context) (any, error) {
	return func(context.Context) (any, error) { return nil, err }
}

// submitData hands an encoded command c to the journal; the returned wait
// gives its result.
func (m *Master) submitData(ctx context.Context, c command, data []byte) func(context.Context) (any, error) {
	if !m.inTerm(&m.caughtUpTerm) || m.transferring.Load() {
		return failedWait(m.notLeader())
	}
	timeout := defaultApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return failedWait(ctx.Err())
		}
	}
	wait := m.jr.submit(ctx, data, timeout)
	return func(ctx context.Context) (any, error) {
		resp, err := wait(ctx)
		switch {
		case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
			return nil, fmt.Errorf("meta: replicate %T: %w", c, err)
		case errors.Is(err, errNotLeading):
			return nil, m.notLeader()
		case errors.Is(err, syscall.ETIMEDOUT):
			return nil, fmt.Errorf("meta: replicate %T: %w", c, err)
		case err != nil:
			return nil, fmt.Errorf("meta: replicate %T: %w: %w", c, err, syscall.EIO)
		}
		r, ok := resp.(*applyResult)
		if !ok {
			return nil, fmt.Errorf("meta: replicate %T: unexpected apply response %T: %w", c, resp, syscall.EIO)
		}
		return r.value, r.err
	}
}

// result converts the value of an applied command to the type its
// command returns.
func result[T any](v any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	r, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("meta: apply returned %T, want %T: %w", v, zero, syscall.EIO)
	}
	return r, nil
}

// begin validates the path of a request and checks leadership.
func (m *Master) begin(op, p string) (string, error) {
	p, err := cleanPath(op, p)
	if err != nil {
		return "", err
	}
	return p, m.checkLeader()
}

// beginRead is begin for a read: leadership is confirmed with a quorum
// (or a lease from a recent confirmation), so that a deposed leader that
// has not noticed yet never answers from a stale state.
func (m *Master) beginRead(ctx context.Context, op, p string) (string, error) {
	p, err := cleanPath(op, p)
	if err != nil {
		return "", err
	}
	if followerReadOK(ctx) && m.servesFollowerRead() {
		m.followerReads.Add(1)
		return p, nil
	}
	return p, m.confirmLeader(ctx)
}

// StatChanged describes the entries at paths as the metastore holds them,
// without syncing them with their under-store or checking permissions:
// the caller names the entries its own change just made or touched (the
// parent of a removed file, the two ends of a rename). Entries that are
// not there are left out.
func (m *Master) StatChanged(paths ...string) []FileInfo {
	var out []FileInfo
	for _, p := range paths {
		clean, err := cleanPath("stat", p)
		if err != nil {
			continue
		}
		if fi, err := m.stat("stat", clean); err == nil {
			out = append(out, fi)
		}
	}
	return out
}

// stat returns the entry at p from the metastore.
func (m *Master) stat(op, p string) (fi FileInfo, err error) {
	err = m.fsm.view(func(t *txn) error {
		n, err := t.lookup(op, p)
		if err != nil {
			return err
		}
		fi = t.mountTable().toInfo(n, p)
		return nil
	})
	return fi, err
}

// GetStatus describes the entry at path, loading it from the under-store
// when the namespace does not have it yet.
func (m *Master) GetStatus(ctx context.Context, path string) (FileInfo, error) {
	p, err := m.beginRead(ctx, "stat", path)
	if err != nil {
		return FileInfo{}, err
	}
	if err := m.authorize(ctx, "stat", p, accTraverse); err != nil {
		return FileInfo{}, err
	}
	_, fi, err := m.lookupSynced(ctx, "stat", p)
	return fi, err
}

// CreateOptions tune CreateFile.
type CreateOptions struct {
	// Mode is the permission (07777) of the new file.
	Mode uint32
	// UID and GID are the owner.
	UID, GID uint32
	// Overwrite empties an existing file into a new, incomplete version;
	// it keeps its inode, mode and owner, as O_TRUNC does.
	Overwrite bool
	// Exclusive fails with EEXIST when the path exists, whatever
	// Overwrite says (O_EXCL).
	Exclusive bool
	// Persisted is true when the bytes will be written to the
	// under-store (false for MUST_CACHE). Overwriting a persisted file
	// with one that will not be persisted deletes the old under-store
	// copy, so that the old bytes cannot come back on a later sync.
	Persisted bool
	// Complete asks for a new file to be made complete and empty at
	// once, its empty copy in the under-store, so that a writer that
	// writes nothing has no completion to make; its first commit
	// replaces that version (CompleteOptions.Replaces). The file is
	// incomplete as before when it exists (an overwrite), its mount is
	// read-only, its under-store is not on this machine
	// (ufs.LocalStore) or metadata sync is on: FileInfo.Completed says
	// which.
	Complete bool `json:",omitempty"`
}

// CreateFile makes an incomplete file at path, for a writer to fill and
// complete with CompleteFile. The parent must exist (ENOENT) and be a
// directory (ENOTDIR).
func (m *Master) CreateFile(ctx context.Context, path string, o CreateOptions) (FileInfo, error) {
	const op = "create"
	p, err := m.begin(op, path)
	if err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	if err := m.syncPath(ctx, p); err != nil {
		return FileInfo{}, err
	}
	if err := m.authorizeCreateFile(ctx, op, p, o.Overwrite); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	m.ownerFor(ctx, &o.UID, &o.GID)
	m.inheritGroup(p, &o.GID, &o.Mode, false)
	var (
		dropUFS, born, deferred bool
		mi                      MountInfo
		rel                     string
	)
	err = m.fsm.view(func(t *txn) error {
		_, existing, err := checkCreateFile(t, p, o.Overwrite, o.Exclusive)
		if err != nil {
			return err
		}
		// With metadata sync on, a sync could take the copy's bytes
		// as the file's while the writer fills it in place.
		born = o.Complete && existing == nil && m.cfg.SyncInterval < 0
		dropUFS = existing != nil && existing.Persisted && !o.Persisted
		mi, rel, _ = t.mountTable().resolve(p)
		deferred = hasDeferred(t, mi, rel)
		return nil
	})
	if err != nil {
		return FileInfo{}, err
	}
	if deferred {
		// An unlinked file of this name still to leave the store must
		// not take the new one with it.
		if err := m.flushDeletes(ctx, mi, rel); err != nil {
			return FileInfo{}, err
		}
	}
	if dropUFS {
		if err := m.ufsDelete(ctx, op, p, mi, rel, false); err != nil {
			return FileInfo{}, err
		}
	}
	m.sync.forget(p)
	c := &createFileCmd{
		Path: p, Mode: o.Mode, UID: o.UID, GID: o.GID, Now: time.Now().UnixNano(),
		Overwrite: o.Overwrite, Exclusive: o.Exclusive, UfsKept: !dropUFS,
	}
	if born && !mi.ReadOnly && m.localStore(mi) {
		return m.createComplete(ctx, op, mi, rel, c)
	}
	return result[FileInfo](m.proposeRequest(ctx, c))
}

// createComplete makes the new file c describes complete and empty
// (CreateOptions.Complete): the empty file goes into the under-store,
// and its directory's sync runs with the journal's append. An empty file
// left in the under-store by a create that failed is removed unless the
// namespace has a file there.
func (m *Master) createComplete(ctx context.Context, op string, mi MountInfo, rel string, c *createFileCmd) (FileInfo, error) {
	ufi, sync, err := m.createEmptyUFS(ctx, op, c.Path, mi, rel, c.Mode&0o7777)
	if err != nil {
		return FileInfo{}, err
	}
	c.Complete, c.UfsFingerprint = true, ufi.Fingerprint()
	fi, err := result[FileInfo](m.proposeSynced(ctx, c, sync))
	if err != nil && refused(err) {
		if derr := m.DropOrphan(ctx, mi.ID, rel, c.UfsFingerprint); derr != nil {
			m.log.Warn("could not remove the empty file of a failed create", "path", c.Path, "err", derr)
		}
	}
	return fi, err
}

// localStore reports whether mount mi's under-store is on this machine
// (ufs.LocalStore), where a new file's empty copy costs a system call: an
// object store would pay a request for it and another for the bytes.
func (m *Master) localStore(mi MountInfo) bool {
	u, err := m.ufsFor(mi)
	if err != nil {
		return false
	}
	l, ok := u.(ufs.LocalStore)
	return ok && l.Local()
}

// refused reports whether err from a proposal is the command's own
// refusal (EEXIST, ENOENT, ...), not a failure to learn its fate: not
// leading, timed out, cancelled, or the journal's I/O error.
func refused(err error) bool {
	var nl *NotLeaderError
	return !errors.As(err, &nl) && !errors.Is(err, syscall.ETIMEDOUT) && !errors.Is(err, syscall.EIO) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// proposeSynced proposes cmd while sync (an under-store directory's sync)
// runs: what cmd records is in the under-store, visible, before the
// command says so, and the call succeeds only once both are durable; a
// failed sync's error is returned as sync gives it.
func (m *Master) proposeSynced(ctx context.Context, cmd command, sync func() error) (any, error) {
	wait := m.submitRequest(ctx, cmd)
	serr := sync()
	v, err := awaitApplied(ctx, wait)
	if serr != nil && err == nil {
		return nil, serr
	}
	return v, err
}

// CompleteOptions describe a finished write.
type CompleteOptions struct {
	// Size is the final length of the file.
	Size int64
	// Persisted reports that the bytes are in the under-store.
	Persisted bool
	// UfsFingerprint is the under-store's fingerprint of the written file
	// (ufs.FileInfo.Fingerprint of what the writer's Close returned).
	UfsFingerprint string
	// Location is the RPC address (host:port) of the worker holding the
	// only copy of the bytes of a file that is not persisted (MUST_CACHE,
	// or ASYNC_THROUGH until MarkPersisted). It is ignored when Persisted.
	Location string
	// Kept are attributes the writer set while it had the file open
	// (KeptAttrs).
	Kept KeptAttrs
	// Replaces is the fingerprint of the empty version the file was
	// created complete with (CreateOptions.Complete): the writer's first
	// commit replaces that version while it is still as it was made.
	Replaces string `json:",omitempty"`
	// UfsPath is where in the under-store a persisted commit put the
	// bytes (FileInfo.UfsPath as the writer knew it); empty: where the
	// file is now. See Master.landed.
	UfsPath string `json:",omitempty"`
}

// KeptAttrs are attributes set on a file while its writer had it open and
// not completed: chmod, chown and utimes before close, as tar -x and cp -p
// do. The completion gives them to the file, in the namespace and, when
// the file is persisted, in the under-store. A modification time kept is
// the file's instead of the completion's own (the writer drops it when it
// writes after it). Nil fields are unchanged.
type KeptAttrs struct {
	Mode  *uint32 `json:"mode,omitempty"`
	UID   *uint32 `json:"uid,omitempty"`
	GID   *uint32 `json:"gid,omitempty"`
	Mtime *int64  `json:"mtime,omitempty"`
	Atime *int64  `json:"atime,omitempty"`
}

// Empty reports that nothing is kept.
func (k KeptAttrs) Empty() bool { return k == KeptAttrs{} }

// apply makes k's changes to n.
func (k KeptAttrs) apply(n *inode) {
	if k.Mode != nil {
		n.Mode = *k.Mode & 0o7777
	}
	if k.UID != nil {
		n.UID = *k.UID
	}
	if k.GID != nil {
		n.GID = *k.GID
	}
	if k.Mtime != nil {
		n.Mtime = *k.Mtime
	}
	if k.Atime != nil {
		n.Atime = *k.Atime
	}
}

// setAttr is the change k makes, as SetAttr options.
func (k KeptAttrs) setAttr() SetAttrOptions {
	return SetAttrOptions{Mode: k.Mode, UID: k.UID, GID: k.GID, Mtime: k.Mtime, Atime: k.Atime}
}

// authorizeKept checks that the caller may make the change of kept
// attributes to the file at p; a refused change is dropped from k, and
// its error returned for the completion to go on without it.
func (m *Master) authorizeKept(ctx context.Context, p string, k *KeptAttrs) error {
	if k.Empty() {
		return nil
	}
	if err := m.authorizeSetAttr(ctx, p, k.setAttr()); err != nil {
		*k = KeptAttrs{}
		return err
	}
	return nil
}

// keptFor checks that the caller may make the change of kept attributes
// to the file with inode id, and applies it to the under-store when the
// file is persisted there (ufsAttr: a changed mtime gives a new
// fingerprint, returned). A refused change is dropped, and its error
// returned as denied, for the completion to go on without it.
func (m *Master) keptFor(ctx context.Context, op string, id uint64, k *KeptAttrs, persisted bool) (fp *string, denied error, err error) {
	if k.Empty() {
		return nil, nil, nil
	}
	var (
		n   *inode
		p   string
		mi  MountInfo
		rel string
	)
	err = m.fsm.view(func(t *txn) error {
		var err error
		if n, p, err = inodeByID(t, op, id); err != nil {
			return err
		}
		mi, rel, _ = t.mountTable().resolve(p)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if denied := m.authorizeKept(ctx, p, k); denied != nil {
		return nil, denied, nil
	}
	o := k.setAttr()
	if !persisted || ufsUntouched(o) || !n.isFile() {
		return nil, nil, nil
	}
	fp, err = m.setUFSAttr(ctx, n, mi, rel, o, false)
	if err != nil {
		return nil, nil, m.ufsError(op, p, mi, err)
	}
	return fp, nil, nil
}

// pathOfUfs returns the namespace path of the place rel (ufs-relative) in
// the mount of file id, when that is not the file's own place; none when
// the file is there or cannot be found.
func (m *Master) pathOfUfs(id uint64, rel string) []string {
	var out []string
	m.fsm.view(func(t *txn) error {
		_, p, err := inodeByID(t, "complete", id)
		if err != nil {
			return err
		}
		mi, now, _ := t.mountTable().resolve(p)
		if now != rel {
			out = append(out, joinPath(mi.AlluxioPath, rel))
		}
		return nil
	})
	return out
}

// landed makes sure the bytes a persisted commit put in the under-store at
// o.UfsPath are where the file is now. A rename by another client, of the
// file or of a directory above it, made between the writer's look at the
// file and its completion leaves them at the old place, or (a directory
// renamed by copying after they landed) takes them along. The first are
// moved to the file's place; the second are taken as they are, with the
// store's fingerprint of the copy. Bytes found at neither place, or at an
// old place that is another entry's now, fail the completion with EIO:
// the file keeps its version, and the writer reports the error.
func (m *Master) landed(ctx context.Context, id uint64, o *CompleteOptions) error {
	const op = "complete"
	var (
		p, rel string
		mi     MountInfo
		taken  bool // the old place is another entry's
	)
	err := m.fsm.view(func(t *txn) error {
		var err error
		if _, p, err = inodeByID(t, op, id); err != nil {
			return err
		}
		mt := t.mountTable()
		mi, rel, _ = mt.resolve(p)
		if rel == o.UfsPath {
			return nil
		}
		old := joinPath(mi.AlluxioPath, o.UfsPath)
		if om, _, _ := mt.resolve(old); om.ID == mi.ID {
			_, err := t.lookup(op, old)
			taken = err == nil
		}
		return nil
	})
	if err != nil || rel == o.UfsPath {
		return err
	}
	lost := func(why string) error {
		return fmt.Errorf("%s %s: the commit wrote the under-store's %s, which %s: %w", op, p, o.UfsPath, why, syscall.EIO)
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return m.ufsError(op, p, mi, err)
	}
	st, err := u.Stat(ctx, o.UfsPath)
	switch {
	case err == nil && !st.IsDir() && st.Fingerprint() == o.UfsFingerprint:
		if taken {
			return lost("is another entry's now")
		}
		if err := u.Rename(ctx, o.UfsPath, rel); err != nil {
			return m.ufsError(op, p, mi, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		// Taken along by the rename, or never there.
	case err != nil:
		return m.ufsError(op, p, mi, err)
	default:
		return lost("holds other bytes now")
	}
	now, err := u.Stat(ctx, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return lost("is gone, and the file's place is empty")
	}
	if err != nil {
		return m.ufsError(op, p, mi, err)
	}
	same := now.Fingerprint() == o.UfsFingerprint
	if mk, ok := u.(ufs.MoveKeeper); !same && ok && !mk.MoveKeeps(o.UfsFingerprint) {
		same = !now.IsDir() && now.Size == o.Size
	}
	if !same {
		return lost("is gone, and the file's place holds other bytes")
	}
	m.log.Info("a commit that landed before its file moved is where the file is now", "path", p, "wrote", o.UfsPath)
	o.UfsFingerprint = now.Fingerprint()
	return nil
}

// CompleteFile marks the file with inode id as written: it gets its size,
// a new content fingerprint, the location of an unpersisted file's bytes,
// and becomes visible as complete. A Location that is not host:port fails
// with EINVAL.
func (m *Master) CompleteFile(ctx context.Context, id uint64, o CompleteOptions) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	loc := o.Location
	if o.Persisted {
		loc = ""
	}
	if loc != "" {
		if _, _, err := net.SplitHostPort(loc); err != nil {
			return FileInfo{}, fmt.Errorf("complete inode %d: worker location %q: want host:port: %w", id, loc, syscall.EINVAL)
		}
	}
	var old []string
	if o.Persisted && o.UfsPath != "" {
		// Where the commit wrote, should the file have moved: held too,
		// so that no file is made there while landed looks at it.
		old = m.pathOfUfs(id, o.UfsPath)
	}
	ctx, unlock, replay, err := m.lockInode(ctx, "complete", id, old...)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	if o.Persisted && o.UfsPath != "" {
		if err := m.landed(ctx, id, &o); err != nil {
			return FileInfo{}, err
		}
	}
	fp, denied, err := m.keptFor(ctx, "complete", id, &o.Kept, o.Persisted)
	if err != nil {
		return FileInfo{}, err
	}
	if fp != nil {
		o.UfsFingerprint = *fp
	}
	done := &completeFileCmd{
		ID: id, Size: o.Size, Persisted: o.Persisted, UfsFingerprint: o.UfsFingerprint, Now: time.Now().UnixNano(),
		Location: loc, Replaces: o.Replaces,
	}
	if !o.Kept.Empty() {
		done.Kept = &o.Kept
	}
	fi, err := result[FileInfo](m.proposeRequest(ctx, done))
	if err == nil && denied != nil {
		return FileInfo{}, denied
	}
	return fi, err
}

// MkdirOptions tune CreateDirectory.
type MkdirOptions struct {
	// Mode is the permission (07777) of the new directory.
	Mode uint32
	// UID and GID are the owner.
	UID, GID uint32
	// Recursive creates missing parents.
	Recursive bool
	// AllowExists makes an existing directory a success.
	AllowExists bool
}

// CreateDirectory makes a directory, in the under-store too.
func (m *Master) CreateDirectory(ctx context.Context, path string, o MkdirOptions) (FileInfo, error) {
	const op = "mkdir"
	p, err := m.begin(op, path)
	if err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	if err := m.syncPath(ctx, p); err != nil {
		return FileInfo{}, err
	}
	if err := m.authorize(ctx, op, p, accCreate); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	m.ownerFor(ctx, &o.UID, &o.GID)
	m.inheritGroup(p, &o.GID, &o.Mode, true)
	var (
		w        walkResult
		exists   bool
		mi       MountInfo
		fi       FileInfo
		deferred []string // missing directories with an unlinked file of their name still to leave the store
	)
	err = m.fsm.view(func(t *txn) error {
		var err error
		if w, exists, err = checkMkdir(t, p, o.Recursive, o.AllowExists); err != nil {
			return err
		}
		mt := t.mountTable()
		if exists {
			fi = mt.toInfo(w.node, p)
			return nil
		}
		mi, _, _ = mt.resolve(p)
		dir := w.lastPath
		for _, name := range w.missing {
			dir = joinPath(dir, name)
			if rel := relativeTo(mi, dir); t.deferred(mi.ID, rel) {
				deferred = append(deferred, rel)
			}
		}
		return nil
	})
	if err != nil || exists {
		return fi, err
	}
	// In an object store a file's key hides a directory of the same
	// name: an unlinked one still to leave goes first.
	if err := m.flushPaths(ctx, mi, deferred...); err != nil {
		return FileInfo{}, err
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return FileInfo{}, err
	}
	loaded := true
	dir := w.lastPath
	for i, name := range w.missing {
		dir = joinPath(dir, name)
		mode := o.Mode & 0o7777
		if i < len(w.missing)-1 {
			mode |= 0o300
		}
		rel := relativeTo(mi, dir)
		err := u.Mkdir(ctx, rel, fileMode(mode))
		if errors.Is(err, fs.ErrExist) {
			loaded = false // it was there already: list it when asked
			continue
		}
		if err != nil {
			return FileInfo{}, m.ufsError(op, dir, mi, err)
		}
	}
	return result[FileInfo](m.proposeRequest(ctx, &createDirectoryCmd{
		Path: p, Mode: o.Mode, UID: o.UID, GID: o.GID, Now: time.Now().UnixNano(),
		Recursive: o.Recursive, AllowExists: o.AllowExists, Loaded: loaded,
	}))
}

// Delete removes the entry at path, from the under-store too for
// persisted entries. A non-empty directory needs recursive (ENOTEMPTY).
func (m *Master) Delete(ctx context.Context, path string, recursive bool) error {
	return m.DeleteWith(ctx, path, DeleteOptions{Recursive: recursive})
}

// DeleteOptions tune DeleteWith.
type DeleteOptions struct {
	// Recursive removes a directory with everything below it.
	Recursive bool
	// Unlink removes only a file or symbolic link (EISDIR for a
	// directory), as unlink(2); Rmdir only a directory (ENOTDIR
	// otherwise), as rmdir(2).
	Unlink, Rmdir bool
}

// DeleteWith is Delete with the kind of entry checked in the same call,
// sparing the FUSE daemon a status call before each unlink and rmdir.
func (m *Master) DeleteWith(ctx context.Context, path string, o DeleteOptions) error {
	const op = "delete"
	recursive := o.Recursive
	p, err := m.begin(op, path)
	if err != nil {
		return err
	}
	if r, ok := m.replayed(ctx); ok {
		return r.err
	}
	if err := m.syncPath(ctx, p); err != nil {
		return err
	}
	if err := m.authorize(ctx, op, p, accDelete); err != nil {
		return err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	var (
		n        *inode
		mi       MountInfo
		rel      string
		deferred bool // files under the directory n are still to leave the store
	)
	check := func() error {
		return m.fsm.view(func(t *txn) error {
			var err error
			if _, n, err = checkDelete(t, p, recursive); err != nil {
				return err
			}
			mi, rel, _ = t.mountTable().resolve(p)
			deferred = n.IsDir && hasDeferred(t, mi, rel)
			return nil
		})
	}
	if err := check(); err != nil {
		return err
	}
	switch {
	case o.Unlink && n.IsDir:
		return &fs.PathError{Op: op, Path: p, Err: syscall.EISDIR}
	case o.Rmdir && !n.IsDir:
		return &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
	}
	if n.IsDir && !recursive {
		// Empty here may still mean not listed yet.
		if err := m.syncDir(ctx, p, n.Loaded); err != nil {
			return err
		}
		if err := check(); err != nil {
			return err
		}
	}
	if deferred {
		// A directory goes from the store whole, or a listing would show
		// it still there.
		if err := m.flushDeletes(ctx, mi, rel); err != nil {
			return err
		}
	}
	switch {
	case n.IsDir && recursive:
		u, err := m.ufsFor(mi)
		if err != nil {
			return err
		}
		if err := removeAll(ctx, u, rel); err != nil {
			return m.ufsError(op, p, mi, err)
		}
	case n.Persisted && n.isFile():
		return m.deleteFile(ctx, op, p, mi, rel, recursive)
	case n.Persisted:
		if err := m.ufsDelete(ctx, op, p, mi, rel, false); err != nil {
			return err
		}
	}
	if _, err := m.proposeRequest(ctx, &deleteCmd{Path: p, Recursive: recursive, Now: time.Now().UnixNano()}); err != nil {
		return err
	}
	m.sync.forget(p)
	return nil
}

// removeAll deletes rel and everything below it from an under-store.
func removeAll(ctx context.Context, u ufs.UFS, rel string) error {
	var kids []ufs.FileInfo
	err := u.List(ctx, rel, func(fi ufs.FileInfo) error {
		kids = append(kids, fi)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var files []string
	for _, k := range kids {
		child := ufs.Join(rel, k.Name)
		if !k.IsDir() {
			files = append(files, child)
			continue
		}
		if err := removeAll(ctx, u, child); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// An object store's files go a batch a request.
	if err := deleteFiles(ctx, u, files); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := u.Delete(ctx, rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ufsDelete removes one entry from the under-store; an absent one is fine.
// An entry known to be a file goes with the store's cheaper call where it
// has one (ufs.FileDeleter: no HEAD before an object store's DELETE).
func (m *Master) ufsDelete(ctx context.Context, op, p string, mi MountInfo, rel string, file bool) error {
	u, err := m.ufsFor(mi)
	if err != nil {
		return err
	}
	del := u.Delete
	if fd, ok := u.(ufs.FileDeleter); ok && file {
		del = fd.DeleteFile
	}
	if err := del(ctx, rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return m.ufsError(op, p, mi, err)
	}
	return nil
}

// deleteFile removes the persisted file p from its under-store and from
// the namespace. In a store that removes many files a request the
// removal is left to the leader's batches (deferdelete.go); otherwise it
// is made at once: an unlink waits for the longer of the store's
// DELETE and the Raft commit, not for the two in turn. It succeeds only
// when both did. When the commit went through but the DELETE failed, the
// file, still in the store, is loaded back from it (with the store's
// metadata) and the store's error returned; when the commit failed, the
// store's copy may be gone while the namespace keeps the file, as when the
// DELETE went first.
func (m *Master) deleteFile(ctx context.Context, op, p string, mi MountInfo, rel string, recursive bool) error {
	if m.canDefer(ctx, mi) {
		c := &deleteCmd{Path: p, Recursive: recursive, Now: time.Now().UnixNano(), Later: true}
		if _, err := m.proposeRequest(ctx, c); err != nil {
			return err
		}
		m.sync.forget(p)
		m.deletes.wake()
		return nil
	}
	// Both run in this goroutine, the command committing while the store
	// deletes: an SDK's request path is deep, and a goroutine of its own
	// would grow its stack by copying on every unlink (13% of the
	// master's CPU in an rm of S3 files), where the caller's has grown
	// already.
	wait := m.submitRequest(ctx, &deleteCmd{Path: p, Recursive: recursive, Now: time.Now().UnixNano()})
	uerr := m.ufsDelete(ctx, op, p, mi, rel, true)
	_, err := awaitApplied(ctx, wait)
	if err != nil {
		return err
	}
	m.sync.forget(p)
	if uerr != nil {
		var w walkResult
		if verr := m.fsm.view(func(t *txn) error { w = t.walk(p); return nil }); verr == nil && w.node == nil {
			if _, lerr := m.loadMissing(context.WithoutCancel(ctx), p, time.Now()); lerr != nil {
				m.log.Warn("a file the under-store failed to delete is not in the namespace until its directory is listed again",
					"path", p, "err", lerr)
			}
		}
		return uerr
	}
	return nil
}

// ufsError wraps an under-store failure with the namespace path and the
// mount's URI, without credentials.
func (m *Master) ufsError(op, p string, mi MountInfo, err error) error {
	return scrubError(fmt.Errorf("%s %s: under-store %s: %w", op, p, ufs.Redact(mi.UfsURI), err), mi.UfsURI, mi.Options)
}

// Rename moves src to dst with POSIX semantics, in the under-store too.
// Moving across mounts fails with EXDEV.
func (m *Master) Rename(ctx context.Context, src, dst string) error {
	return m.RenameWith(ctx, src, dst, RenameOptions{})
}

// RenameOptions tune RenameWith.
type RenameOptions struct {
	// NoReplace fails with EEXIST when dst exists (RENAME_NOREPLACE); the
	// check is made again when the command is applied, so it holds
	// against a concurrent create.
	NoReplace bool
}

// beginMove is begin for a move of src to dst (a rename, or one way of
// an exchange): both paths cleaned and synced, and the move authorized.
// done says to return err at once: the error of the step that failed, or
// the recorded answer of a replayed request (nil when it succeeded).
func (m *Master) beginMove(ctx context.Context, op, src, dst string) (s, d string, done bool, err error) {
	if s, err = m.begin(op, src); err != nil {
		return "", "", true, err
	}
	if r, ok := m.replayed(ctx); ok {
		return "", "", true, r.err
	}
	if d, err = cleanPath(op, dst); err != nil {
		return "", "", true, err
	}
	for _, p := range []string{s, d} {
		if err := m.syncPath(ctx, p); err != nil {
			return "", "", true, err
		}
	}
	if err := m.authorizeRename(ctx, s, d); err != nil {
		return "", "", true, err
	}
	return s, d, false, nil
}

// RenameWith is Rename with options.
func (m *Master) RenameWith(ctx context.Context, src, dst string, o RenameOptions) error {
	const op = "rename"
	s, d, done, err := m.beginMove(ctx, op, src, dst)
	if done {
		return err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, s, d)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	var (
		rp                renamePlan
		mi                MountInfo
		srcRel, dstRel    string
		existingPersisted bool
		deferred          bool
	)
	check := func() error {
		return m.fsm.view(func(t *txn) error {
			var err error
			if o.NoReplace {
				if err := checkNoReplace(t, d); err != nil {
					return err
				}
			}
			if rp, err = checkRename(t, s, d); err != nil {
				return err
			}
			mt := t.mountTable()
			mi, srcRel, _ = mt.resolve(s)
			_, dstRel, _ = mt.resolve(d)
			existingPersisted = rp.existing != nil && rp.existing.Persisted
			deferred = hasDeferred(t, mi, srcRel) || hasDeferred(t, mi, dstRel)
			return nil
		})
	}
	if err := check(); err != nil || rp.noop {
		return err
	}
	if deferred {
		// What the store moves or writes over must not be a file still
		// to leave it: a directory's move copies what is under it.
		if err := m.flushPaths(ctx, mi, srcRel, dstRel); err != nil {
			return err
		}
	}
	if ex := rp.existing; ex != nil && ex.IsDir {
		// The directory replaced must be empty in the under-store too.
		if err := m.syncDir(ctx, d, ex.Loaded); err != nil {
			return err
		}
		if err := check(); err != nil {
			return err
		}
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return err
	}
	if existingPersisted && (rp.existing.IsDir || !rp.n.Persisted) {
		// An empty directory is replaced by removing it first; a file
		// replaced by an unpersisted one must not come back from the
		// under-store later.
		if err := m.ufsDelete(ctx, op, d, mi, dstRel, false); err != nil {
			return err
		}
	}
	if rp.n.Persisted {
		if err := u.Rename(ctx, srcRel, dstRel); err != nil {
			return m.ufsError(op, s+" -> "+d, mi, err)
		}
	}
	if _, err := m.proposeRequest(ctx, &renameCmd{Src: s, Dst: d, NoReplace: o.NoReplace, Now: time.Now().UnixNano()}); err != nil {
		return err
	}
	m.sync.forget(s)
	m.sync.forget(d)
	return nil
}

// Exchange swaps the entries at a and b atomically, in the under-store
// too, as renameat2's RENAME_EXCHANGE does: both must exist, in one
// mount, and neither may be above the other. Entries persisted in the
// under-store need one that swaps atomically (ufs.Exchanger: a local
// directory); on others the exchange is EINVAL, as it is when only one of
// the two is persisted.
func (m *Master) Exchange(ctx context.Context, a, b string) error {
	const op = "exchange"
	pa, pb, done, err := m.beginMove(ctx, op, a, b)
	if done {
		return err
	}
	if err := m.authorizeRename(ctx, pb, pa); err != nil {
		return err
	}
	if err := m.requireLevel(ctx, cmdExchange, fmt.Sprintf("exchange %s and %s", pa, pb)); err != nil {
		return err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, pa, pb)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	var (
		xp         exchangePlan
		mi         MountInfo
		relA, relB string
		deferred   bool
	)
	if err := m.fsm.view(func(t *txn) error {
		var err error
		if xp, err = checkExchange(t, pa, pb); err != nil {
			return err
		}
		mt := t.mountTable()
		mi, relA, _ = mt.resolve(pa)
		_, relB, _ = mt.resolve(pb)
		deferred = hasDeferred(t, mi, relA) || hasDeferred(t, mi, relB)
		return nil
	}); err != nil || xp.noop {
		return err
	}
	if deferred {
		if err := m.flushPaths(ctx, mi, relA, relB); err != nil {
			return err
		}
	}
	var x ufs.Exchanger // the store that swapped, when the entries are in it
	switch {
	case xp.a.Persisted && xp.b.Persisted:
		u, err := m.ufsFor(mi)
		if err != nil {
			return err
		}
		var ok bool
		if x, ok = u.(ufs.Exchanger); !ok {
			return fmt.Errorf("exchange %s and %s: under-store %s cannot swap two entries atomically: %w",
				pa, pb, ufs.Redact(mi.UfsURI), syscall.EINVAL)
		}
		if err := x.Exchange(ctx, relA, relB); err != nil {
			return m.ufsError(op, pa+" <-> "+pb, mi, err)
		}
	case xp.a.Persisted || xp.b.Persisted:
		return fmt.Errorf("exchange %s and %s: only one of them is in the under-store yet: %w", pa, pb, syscall.EINVAL)
	}
	if _, err := m.proposeRequest(ctx, &exchangeCmd{A: pa, B: pb, Now: time.Now().UnixNano()}); err != nil {
		if x != nil && refused(err) {
			// Changed meanwhile: the under-store gets its names back.
			if uerr := x.Exchange(context.WithoutCancel(ctx), relA, relB); uerr != nil {
				m.log.Warn("could not swap back the under-store entries of a refused exchange", "a", pa, "b", pb, "err", uerr)
			}
		}
		return err
	}
	m.sync.forget(pa)
	m.sync.forget(pb)
	return nil
}

// SetAttrOptions are the attributes SetAttr changes; nil leaves one as is.
type SetAttrOptions struct {
	// Mode is the new permission (07777).
	Mode *uint32
	// UID and GID are the new owner.
	UID, GID *uint32
	// Mtime is the new modification time in unix nanoseconds.
	Mtime *int64
	// Atime is the new access time in unix nanoseconds (namespace only:
	// under-stores keep no access time).
	Atime *int64
	// Size: 0 truncates, the current size is a no-op, anything else is
	// EOPNOTSUPP for now.
	Size *int64
	// Pinned pins or unpins (alluxio fs pin|unpin; those pass Recursive
	// too, as Alluxio's do). Entries made in a pinned directory later are
	// pinned.
	Pinned *bool
	// TTL is the time to live in milliseconds, counted from the entry's
	// creation; 0 removes it. Negative is EINVAL.
	TTL *int64
	// TTLAction is "DELETE" (the default) or "FREE", in any case; anything
	// else is EINVAL.
	TTLAction *string
	// Recursive gives Pinned, TTL and TTLAction to everything below a
	// directory too (the other attributes change on path only).
	Recursive bool
}

// SetAttr changes attributes of the entry at path. Mode, owner and mtime
// are applied to the under-store where it supports them (ufs.Chmoder,
// ufs.Chowner, ufs.Chtimeser); truncation to 0 uses ufs.Truncater or an
// empty Create. Pin and TTL are the namespace's own: a change of only
// those is allowed in a read-only mount, unless the TTL would delete. A TTL
// with action DELETE on a mount point (or the root) is EINVAL.
//
// A recursive change of a tree of up to maxAttrBatch (10,000) entries is
// one command; a bigger tree is changed in batches of that many, and
// entries made in it meanwhile may miss the TTL (they still inherit the
// pin from their directory once it is changed).
func (m *Master) SetAttr(ctx context.Context, path string, o SetAttrOptions) (FileInfo, error) {
	const op = "setattr"
	p, err := m.begin(op, path)
	if err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	if err := m.syncPath(ctx, p); err != nil {
		return FileInfo{}, err
	}
	if err := m.authorizeSetAttr(ctx, p, o); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	cmd := &setAttrCmd{
		Path: p, Mode: o.Mode, UID: o.UID, GID: o.GID, Mtime: o.Mtime, Atime: o.Atime, Size: o.Size,
		nsAttrs: nsAttrs{Pinned: o.Pinned, TTL: o.TTL, TTLAction: o.TTLAction}, Recursive: o.Recursive,
		Now: time.Now().UnixNano(),
	}
	var (
		n        *inode
		truncate bool
		mi       MountInfo
		rel      string
		tree     []uint64
	)
	err = m.fsm.view(func(t *txn) error {
		var err error
		if n, truncate, err = checkSetAttr(t, cmd); err != nil {
			return err
		}
		mi, rel, _ = t.mountTable().resolve(p)
		if cmd.Recursive && n.IsDir && cmd.nsAttrs.set() {
			tree, err = treeIDs(t, n.ID)
		}
		return err
	})
	if err != nil {
		return FileInfo{}, err
	}
	if n.Persisted && !n.IsSymlink && !ufsUntouched(o) {
		fp, err := m.setUFSAttr(ctx, n, mi, rel, o, truncate)
		if err != nil {
			return FileInfo{}, m.ufsError(op, p, mi, err)
		}
		cmd.UfsFingerprint = fp
	}
	if tree != nil {
		return m.setAttrTree(ctx, cmd, tree)
	}
	return result[FileInfo](m.proposeRequest(ctx, cmd))
}

// ufsUntouched reports a change of namespace-only attributes, which needs
// no under-store call.
func ufsUntouched(o SetAttrOptions) bool {
	return o.Mode == nil && o.UID == nil && o.GID == nil && o.Mtime == nil && o.Size == nil
}

// setUFSAttr applies an attribute change to the under-store. For a file
// whose bytes or mtime changed there it returns the new fingerprint, so
// that the next sync does not take our own change for a foreign one.
func (m *Master) setUFSAttr(ctx context.Context, n *inode, mi MountInfo, rel string, o SetAttrOptions, truncate bool) (*string, error) {
	u, err := m.ufsFor(mi)
	if err != nil {
		return nil, err
	}
	changed := false
	if truncate {
		if tr, ok := u.(ufs.Truncater); ok {
			err = tr.Truncate(ctx, rel, 0)
		} else {
			err = createEmpty(ctx, u, rel, fileMode(n.Mode))
		}
		if err != nil {
			return nil, err
		}
		changed = true
	}
	if c, ok := u.(ufs.Chmoder); ok && o.Mode != nil {
		if err := c.Chmod(ctx, rel, fileMode(*o.Mode)); err != nil {
			return nil, err
		}
	}
	if c, ok := u.(ufs.Chowner); ok && (o.UID != nil || o.GID != nil) {
		uid, gid := n.UID, n.GID
		if o.UID != nil {
			uid = *o.UID
		}
		if o.GID != nil {
			gid = *o.GID
		}
		if err := c.Chown(ctx, rel, uid, gid); err != nil {
			return nil, err
		}
	}
	if c, ok := u.(ufs.Chtimeser); ok && o.Mtime != nil {
		if err := c.Chtimes(ctx, rel, time.Unix(0, *o.Mtime)); err != nil {
			return nil, err
		}
		changed = true
	}
	if !changed || !n.isFile() {
		return nil, nil
	}
	fi, err := u.Stat(ctx, rel)
	if err != nil {
		return nil, err
	}
	fp := fi.Fingerprint()
	return &fp, nil
}

// createEmpty replaces a file in an under-store with an empty one.
func createEmpty(ctx context.Context, u ufs.UFS, rel string, mode fs.FileMode) error {
	w, err := u.Create(ctx, rel, ufs.CreateOptions{Mode: mode, SizeHint: 0})
	if err != nil {
		return err
	}
	if _, err := w.Close(ctx); err != nil {
		w.Abort()
		return err
	}
	return nil
}

// CreateSymlink makes a symbolic link at path. Where the under-store is a
// ufs.Symlinker the link is made there too (and the entry is persisted);
// elsewhere the link lives in the metastore only.
func (m *Master) CreateSymlink(ctx context.Context, path, target string, uid, gid uint32) (FileInfo, error) {
	const op = "symlink"
	p, err := m.begin(op, path)
	if err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	if target == "" {
		return FileInfo{}, &fs.PathError{Op: op, Path: p, Err: syscall.ENOENT}
	}
	if err := m.syncPath(ctx, p); err != nil {
		return FileInfo{}, err
	}
	if err := m.authorize(ctx, op, p, accCreate); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, replay, err := m.lockPaths(ctx, p)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	m.ownerFor(ctx, &uid, &gid)
	var (
		mi       MountInfo
		rel      string
		deferred bool
	)
	err = m.fsm.view(func(t *txn) error {
		if _, err := checkCreateNew(t, op, p); err != nil {
			return err
		}
		mi, rel, _ = t.mountTable().resolve(p)
		deferred = hasDeferred(t, mi, rel)
		return nil
	})
	if err != nil {
		return FileInfo{}, err
	}
	if deferred {
		if err := m.flushDeletes(ctx, mi, rel); err != nil {
			return FileInfo{}, err
		}
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return FileInfo{}, err
	}
	persisted := false
	if sl, ok := u.(ufs.Symlinker); ok {
		if err := sl.Symlink(ctx, target, rel); err != nil {
			return FileInfo{}, m.ufsError(op, p, mi, err)
		}
		persisted = true
	}
	return result[FileInfo](m.proposeRequest(ctx, &createSymlinkCmd{Path: p, Target: target, UID: uid, GID: gid, Now: time.Now().UnixNano(), Persisted: persisted}))
}

// MarkPersisted records that the completed file with inode id is now in
// the under-store with the given fingerprint (asynchronous persistence).
// With v, the worker names what it uploaded: a file given another version
// or moved while the worker uploaded is left as it is, ESTALE, for the
// worker to find out which (its new version is persisted by its own
// upload; a moved one is uploaded again, at its new place). A nil v (a
// worker from before versions were named) marks whatever version the file
// has.
func (m *Master) MarkPersisted(ctx context.Context, id uint64, v *PersistedVersion, ufsFingerprint string) error {
	if err := m.checkLeader(); err != nil {
		return err
	}
	if r, ok := m.replayed(ctx); ok {
		return r.err
	}
	ctx, unlock, replay, err := m.lockInode(ctx, "persist", id)
	if replay != nil || err != nil {
		return answeredErr(replay, err)
	}
	defer unlock()
	var c command = &markPersistedCmd{ID: id, UfsFingerprint: ufsFingerprint}
	switch {
	case v == nil:
	case m.requireLevel(ctx, cmdPersistVersion, fmt.Sprintf("persist a version of file %d", id)) == nil:
		c = &persistVersionCmd{ID: id, PersistedVersion: *v, UfsFingerprint: ufsFingerprint}
	default:
		// A master of the group applies no persistVersionCmd yet: the
		// leader checks here, leaving only a change applied between
		// this read and the command unnoticed.
		err := m.fsm.view(func(t *txn) error {
			n, p, err := inodeByID(t, "persist", id)
			if err != nil {
				return err
			}
			return v.check(t.mountTable().toInfo(n, p))
		})
		if err != nil {
			return err
		}
	}
	_, err = m.proposeRequest(ctx, c)
	return err
}

// dropCaches forgets state derived from the metastore after a snapshot
// replaced it.
func (m *Master) dropCaches() {
	m.sync.reset()
	m.ufsMu.Lock()
	old := m.ufsCache
	m.ufsCache = map[uint64]*openedUFS{}
	m.ufsMu.Unlock()
	for _, o := range old {
		o.u.Close()
	}
}

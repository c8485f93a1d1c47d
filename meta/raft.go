package meta

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/alluxio-go/alluxio/internal/atomicfile"
)

// Files and directories of the journal folder.
const (
	raftDBName      = "raft.db"      // Raft's stable store (and the log, before raftLogDirName)
	snapshotDirName = "snapshots"    // made by raft.FileSnapshotStore under the journal folder
	metastoreName   = "metastore.db" // the FSM state
	snapshotsRetain = 2
	// recentEntries is how many of the newest log entries are kept in
	// memory for reading back.
	recentEntries = 1024
)

// raftConfig is what starting this node's Raft needs.
type raftConfig struct {
	// NodeID is this server's id in the group.
	NodeID string
	// BindAddr is the TCP address to listen on and advertise.
	BindAddr string
	// Peers are the other members, as "id=host:port" or "host:port" (then
	// the id is the address). Empty: a single-node group.
	Peers []string
	// Dir is the journal folder.
	Dir string
	// Notify receives true when this node becomes leader and false when
	// it stops being one; Raft blocks on it, so it must be consumed.
	Notify chan<- bool
	// NoBootstrap starts a node with no state without bootstrapping: it
	// waits for a running group's leader to add it.
	NoBootstrap bool
	// Applied is the metastore's last applied index: when the newest
	// snapshot is past it (a new or HEAP metastore), Raft restores that
	// snapshot at start instead of replaying from the metastore.
	Applied uint64
	// Checkpoint says when snapshots are taken and the log compacted.
	Checkpoint CheckpointConfig
}

// raftNode is a running Raft server with the stores it owns.
type raftNode struct {
	raft  *raft.Raft
	trans *raft.NetworkTransport
	// stable is raft.db: Raft's term and vote.
	stable *raftboltdb.BoltStore
	logs   *segLog
	// logCount counts the writes to the log store.
	logCount *countingLogStore
	// leaseTimeout is how long a confirmed leadership is trusted for
	// reads: the leader lease, shorter than the heartbeat timeout after
	// which a follower may start an election.
	leaseTimeout time.Duration
}

// countingLogStore counts the writes to a Raft log store and the entries
// they carry: with concurrent commands, Raft's leader loop groups the
// waiting ones into one StoreLogs (one fsync).
type countingLogStore struct {
	raft.LogStore
	writes, entries atomic.Uint64
}

// IsMonotonic implements raft.MonotonicLogStore for the store counted.
func (c *countingLogStore) IsMonotonic() bool {
	m, ok := c.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// StoreLog implements raft.LogStore.
func (c *countingLogStore) StoreLog(l *raft.Log) error {
	c.writes.Add(1)
	c.entries.Add(1)
	return c.LogStore.StoreLog(l)
}

// StoreLogs implements raft.LogStore.
func (c *countingLogStore) StoreLogs(logs []*raft.Log) error {
	c.writes.Add(1)
	c.entries.Add(uint64(len(logs)))
	return c.LogStore.StoreLogs(logs)
}

// parsePeer splits an "id=addr" or "addr" member description.
func parsePeer(s string) (raft.Server, error) {
	id, addr, ok := strings.Cut(s, "=")
	if !ok {
		id, addr = s, s
	}
	if id == "" || addr == "" {
		return raft.Server{}, fmt.Errorf("meta: raft peer %q: want id=host:port or host:port", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return raft.Server{}, fmt.Errorf("meta: raft peer %q: %w", s, err)
	}
	return raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(addr)}, nil
}

// newRaftConfig returns hashicorp/raft's configuration tuned for local use:
// a single node becomes leader in about a second.
func newRaftConfig(nodeID string, log *slog.Logger) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(nodeID)
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 20 * time.Millisecond
	// Commands waiting to be appended are written to the log together
	// (one fsync for up to MaxAppendEntries), and applied to the
	// metastore together (fsm.ApplyBatch, one transaction).
	c.MaxAppendEntries = 256
	c.BatchApplyCh = true
	// The FSM state is persistent: restarting replays only the log entries
	// after the metastore's lastApplied, never a snapshot.
	c.NoSnapshotRestoreOnStart = true
	c.Logger = newHclog(log)
	return c
}

// startRaft opens the log store and snapshot store in the journal folder,
// bootstraps the group on first start and starts the Raft server.
func startRaft(cfg raftConfig, f raft.FSM, log *slog.Logger) (_ *raftNode, err error) {
	rlog := log.With("component", "raft")
	rc := newRaftConfig(cfg.NodeID, rlog)
	rc.NotifyCh = cfg.Notify
	cfg.Checkpoint.apply(rc)
	hl := rc.Logger

	var peers []raft.Server
	for _, p := range cfg.Peers {
		s, err := parsePeer(p)
		if err != nil {
			return nil, err
		}
		if s.ID != rc.LocalID && string(s.Address) != cfg.BindAddr {
			peers = append(peers, s)
		}
	}
	advertise, err := net.ResolveTCPAddr("tcp", cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("meta: raft address %q: %w", cfg.BindAddr, err)
	}

	n := &raftNode{leaseTimeout: rc.LeaderLeaseTimeout}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	dbPath := filepath.Join(cfg.Dir, raftDBName)
	// Refuse damaged journal files before anything opens them read-write.
	if err := checkRaftFiles(cfg.Dir, cfg.Applied, storeOpenTimeout); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	err = openBolt("raft log", dbPath, storeOpenTimeout, func() (err error) {
		n.stable, err = raftboltdb.New(raftboltdb.Options{
			Path: dbPath,
			// The free list is rebuilt when the file opens rather
			// than written with every append (fewer pages per commit).
			BoltOptions: &bbolt.Options{Timeout: storeOpenTimeout, NoFreelistSync: true},
		})
		return err
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("meta: raft store %s: %w (is a master running?): %w", dbPath, errLocked, syscall.EBUSY)
		}
		if errors.Is(err, errDamaged) {
			return nil, fmt.Errorf("meta: %w", err)
		}
		return nil, fmt.Errorf("meta: raft store %s: %w", dbPath, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, snapshotsRetain, hl)
	if err != nil {
		return nil, fmt.Errorf("meta: raft snapshots in %s: %w", cfg.Dir, err)
	}
	token, err := readFormatToken(cfg.Dir)
	if err != nil {
		return nil, err
	}
	stream, err := listenRaft(cfg.BindAddr, advertise, token, rlog)
	if err != nil {
		return nil, fmt.Errorf("meta: raft transport on %s: %w", cfg.BindAddr, err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: stream, MaxPool: 3, Timeout: 10 * time.Second, Logger: hl,
	})

	// The log must reach the entries the metastore applied, unless a
	// snapshot holds them.
	need := cfg.Applied
	if metas, err := snaps.List(); err == nil && len(metas) > 0 {
		if metas[0].Index > cfg.Applied {
			rc.NoSnapshotRestoreOnStart = false
			rlog.Info("metastore is behind the newest snapshot; restoring it", "applied", cfg.Applied, "snapshot", metas[0].ID)
		}
		if metas[0].Index >= cfg.Applied {
			need = 0
		}
	}
	logDir := filepath.Join(cfg.Dir, raftLogDirName)
	if err := moveBoltLog(n.stable, logDir, rlog); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	if n.logs, err = openSegLog(logDir, need, rlog); err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	existing, err := raft.HasExistingState(n.logs, n.stable, snaps)
	if err != nil {
		return nil, fmt.Errorf("meta: raft state in %s: %w", cfg.Dir, err)
	}
	if token == "" && emptyJournal(existing, n.logs, snaps) {
		// A master that starts with nothing (its volume replaced, or
		// added to a group) takes the token of the group that reaches
		// it first, as long as it still has nothing; one with a journal
		// keeps what it has.
		stream.allowAdopt(func(t string) error {
			if !emptyJournal(true, n.logs, snaps) {
				return errNotEmpty
			}
			return writeFormatToken(cfg.Dir, t)
		})
	}
	if !existing && !cfg.NoBootstrap {
		servers := append([]raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: n.trans.LocalAddr()}}, peers...)
		if err := raft.BootstrapCluster(rc, n.logs, n.stable, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("meta: raft bootstrap: %w", err)
		}
		rlog.Info("bootstrapped raft group", "node", cfg.NodeID, "members", len(servers))
	}
	// Followers read back what they stored to apply it; the cache
	// spares them the file.
	cached, err := raft.NewLogCache(recentEntries, n.logs)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	n.logCount = &countingLogStore{LogStore: cached}
	err = guarded(func() (err error) {
		n.raft, err = raft.NewRaft(rc, f, n.logCount, n.stable, snaps, n.trans)
		return err
	})
	if err != nil && errors.Is(err, errPanicked) {
		return nil, fmt.Errorf("meta: %w", damagedFile("raft log", dbPath, err.Error()))
	}
	if err != nil {
		return nil, fmt.Errorf("meta: start raft: %w", err)
	}
	return n, nil
}

// emptyJournal reports whether a journal holds nothing but, perhaps, the
// configuration its bootstrap wrote: its master never was part of a group.
func emptyJournal(existing bool, logs raft.LogStore, snaps raft.SnapshotStore) bool {
	if !existing {
		return true
	}
	last, err := logs.LastIndex()
	if err != nil || last > 1 {
		return false
	}
	metas, err := snaps.List()
	return err == nil && len(metas) == 0
}

// close stops Raft and releases its stores.
func (n *raftNode) close() error {
	var errs []error
	if n.raft != nil {
		errs = append(errs, n.raft.Shutdown().Error())
	}
	if n.trans != nil {
		errs = append(errs, n.trans.Close())
	}
	if n.logs != nil {
		errs = append(errs, n.logs.Close())
	}
	if n.stable != nil {
		errs = append(errs, n.stable.Close())
	}
	return errors.Join(errs...)
}

// moveBoltLog moves the log entries of a journal written before the log
// had its own files out of raft.db into a new log at dir: copied into a
// folder beside it, synced, renamed into place, then deleted from
// raft.db. A crash in between leaves either no dir (the move starts
// again) or the whole of it (raft.db's copy is deleted at the next start).
func moveBoltLog(bolt *raftboltdb.BoltStore, dir string, log *slog.Logger) error {
	first, err := bolt.FirstIndex()
	if err != nil {
		return fmt.Errorf("raft log in %s: %w", raftDBName, err)
	}
	last, err := bolt.LastIndex()
	if err != nil {
		return fmt.Errorf("raft log in %s: %w", raftDBName, err)
	}
	if last == 0 {
		return nil
	}
	if _, err := os.Stat(dir); err == nil {
		return bolt.DeleteRange(first, last)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("raft log %s: %w", dir, err)
	}
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("raft log %s: %w", tmp, err)
	}
	l, err := openSegLog(tmp, 0, log)
	if err != nil {
		return err
	}
	batch := make([]*raft.Log, 0, 256)
	for i := first; i <= last; i++ {
		e := new(raft.Log)
		if err := bolt.GetLog(i, e); err != nil {
			l.Close()
			return fmt.Errorf("raft log in %s: entry %d: %w", raftDBName, i, err)
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == last {
			if err := l.StoreLogs(batch); err != nil {
				l.Close()
				return err
			}
			batch = batch[:0]
		}
	}
	if err := l.Close(); err != nil {
		return fmt.Errorf("raft log %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("raft log %s: %w", dir, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("raft log %s: %w", dir, err)
	}
	log.Info("moved the raft log out of "+raftDBName, "entries", last-first+1, "to", dir)
	return bolt.DeleteRange(first, last)
}

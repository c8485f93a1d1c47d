package meta

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Files and directories of the journal folder.
const (
	raftDBName      = "raft.db"      // Raft log and stable store
	snapshotDirName = "snapshots"    // made by raft.FileSnapshotStore under the journal folder
	metastoreName   = "metastore.db" // the FSM state
	snapshotsRetain = 2
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
	logs  *raftboltdb.BoltStore
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
		n.logs, err = raftboltdb.New(raftboltdb.Options{
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
	n.trans, err = raft.NewTCPTransportWithLogger(cfg.BindAddr, advertise, 3, 10*time.Second, hl)
	if err != nil {
		return nil, fmt.Errorf("meta: raft transport on %s: %w", cfg.BindAddr, err)
	}

	if metas, err := snaps.List(); err == nil && len(metas) > 0 && metas[0].Index > cfg.Applied {
		rc.NoSnapshotRestoreOnStart = false
		rlog.Info("metastore is behind the newest snapshot; restoring it", "applied", cfg.Applied, "snapshot", metas[0].ID)
	}
	existing, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("meta: raft state in %s: %w", cfg.Dir, err)
	}
	if !existing && !cfg.NoBootstrap {
		servers := append([]raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: n.trans.LocalAddr()}}, peers...)
		if err := raft.BootstrapCluster(rc, n.logs, n.logs, snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("meta: raft bootstrap: %w", err)
		}
		rlog.Info("bootstrapped raft group", "node", cfg.NodeID, "members", len(servers))
	}
	n.logCount = &countingLogStore{LogStore: n.logs}
	err = guarded(func() (err error) {
		n.raft, err = raft.NewRaft(rc, f, n.logCount, n.logs, snaps, n.trans)
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
	return errors.Join(errs...)
}

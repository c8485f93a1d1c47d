package meta

import (
	"context"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// CommandLevel is the newest kind of journal command this master applies.
// Each level adds command types to those of the levels before it:
//
//	1: everything up to the exchange of two entries
//	2: the exchange (renameat2 RENAME_EXCHANGE)
//	3: the restore of a file's version a writer could not replace
//	4: deferred under-store deletes (deleteCmd.Later, ufsDeletedCmd)
//	5: an asynchronous persist of one version of a file (persistVersionCmd)
//
// A master that meets a command type it does not know cannot apply it, and
// its state would silently part from the group's; so a leader proposes a
// command of a level above 1 only once every other member of the group has
// said it applies that level (Config.PeerLevel). During a rolling upgrade,
// until the last master runs the new build, the new kinds of change are
// refused (EINVAL, as a store that cannot make them refuses them) or made
// the older way (an unlink waits for its delete; a persist is checked by
// the leader before its command).
const CommandLevel = 5

// levelOf returns the level that introduced command type ct.
func levelOf(ct commandType) int {
	switch ct {
	case cmdExchange:
		return 2
	case cmdRestoreVersion:
		return 3
	case cmdUfsDeleted:
		return 4
	case cmdPersistVersion:
		return 5
	}
	return 1
}

// peerLevelTTL is how long a member's answer is trusted. A member
// replaced by an older build at the same address within it could get a
// command it does not know; it then stops rather than part (fsm.go).
const peerLevelTTL = 30 * time.Second

// peerLevels remembers what the other members said of their level.
type peerLevels struct {
	mu   sync.Mutex
	seen map[raft.ServerAddress]peerLevel
}

type peerLevel struct {
	level int
	at    time.Time
}

// requireLevel fails with EINVAL, naming the member, unless every member
// of the group applies commands of type ct; what names the change for the
// error. A member that cannot be asked counts as one that does not.
func (m *Master) requireLevel(ctx context.Context, ct commandType, what string) error {
	need := levelOf(ct)
	if need <= 1 || m.node == nil || m.cfg.PeerLevel == nil {
		// The first level every build applies; a UFS journal's
		// standbys, or a group of one build (tests), are not asked.
		return nil
	}
	f := m.node.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("%s: read the group's members: %w: %w", what, err, syscall.EIO)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.Address) == m.cfg.RaftAddr {
			continue
		}
		level, err := m.peerLevel(ctx, s.Address, need)
		if err != nil {
			m.log.Warn("a change waits for every master to apply it; one could not be asked",
				"change", what, "master", s.Address, "err", err)
			return fmt.Errorf("%s: master %s could not say whether it applies this change (%v); "+
				"it is refused until every master can: %w", what, s.Address, err, syscall.EINVAL)
		}
		if level < need {
			m.log.Warn("a change waits for every master to apply it; one runs an older build",
				"change", what, "master", s.Address, "level", level, "needed", need)
			return fmt.Errorf("%s: master %s runs an older build that cannot apply it (journal command level %d, "+
				"needs %d); upgrade every master: %w", what, s.Address, level, need, syscall.EINVAL)
		}
	}
	return nil
}

// peerLevel returns the command level of the member at Raft address addr,
// asking it unless it said need or more less than peerLevelTTL ago (a
// lower answer is not kept: the member may be upgraded any moment).
func (m *Master) peerLevel(ctx context.Context, addr raft.ServerAddress, need int) (int, error) {
	pl := &m.levels
	pl.mu.Lock()
	p, ok := pl.seen[addr]
	pl.mu.Unlock()
	if ok && p.level >= need && time.Since(p.at) < peerLevelTTL {
		return p.level, nil
	}
	rpcAddr := m.peerRPCAddr(string(addr))
	if rpcAddr == "" {
		return 0, fmt.Errorf("no client address known for it")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	level, err := m.cfg.PeerLevel(ctx, rpcAddr)
	if err != nil {
		return 0, fmt.Errorf("at %s: %w", rpcAddr, err)
	}
	pl.mu.Lock()
	if pl.seen == nil {
		pl.seen = map[raft.ServerAddress]peerLevel{}
	}
	pl.seen[addr] = peerLevel{level: level, at: time.Now()}
	pl.mu.Unlock()
	return level, nil
}

// peerRPCAddr is the client address of the member at Raft address addr:
// the one known (RPCAddrOf), else its host with this master's RPC port,
// as a group configured alike has it.
func (m *Master) peerRPCAddr(addr string) string {
	if a := m.RPCAddrOf(addr); a != "" {
		return a
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	_, port, err := net.SplitHostPort(m.cfg.RPCAddr)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, port)
}

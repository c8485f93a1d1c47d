package daemon

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// Adding a master to a running group, as Alluxio does it: list the new
// master in alluxio.master.embedded.journal.addresses (and its RPC address
// in alluxio.master.rpc.addresses) on its host and start it. With an empty
// journal it asks the other masters for the group's membership: when the
// group exists and does not list it, it starts without bootstrapping and
// asks the leader to add it; it then catches up from the leader. The other
// masters need no restart (update their configuration for their next one).

// joinProbeTimeout bounds the membership question asked of one master.
const joinProbeTimeout = 2 * time.Second

// peerRPCs returns the other masters' RPC addresses.
func peerRPCs(mc *meta.Config) []string {
	var out []string
	for raftAddr, rpc := range mc.PeerRPC {
		if raftAddr != mc.RaftAddr && rpc != mc.RPCAddr {
			out = append(out, rpc)
		}
	}
	slices.Sort(out)
	return out
}

// decideJoin sets mc.Join for a master of an embedded group that has no
// journal yet while a group that does not list it runs already. When no
// other master answers, or one lists this master, it bootstraps from the
// configured addresses as every first start does.
func decideJoin(ctx context.Context, mc *meta.Config, log *slog.Logger) {
	if mc.JournalType == meta.JournalUFS || len(mc.Peers) < 2 || meta.HasJournal(mc.JournalDir) {
		return
	}
	peers := peerRPCs(mc)
	ms := client.NewMasters(peers, 0, log)
	defer ms.Close()
	for _, p := range peers {
		cctx, cancel := context.WithTimeout(ctx, joinProbeTimeout)
		var resp wire.QuorumResponse
		err := ms.CallAt(cctx, p, wire.MasterQuorumInfo, nil, &resp)
		cancel()
		if err != nil || len(resp.Servers) == 0 {
			continue
		}
		if slices.ContainsFunc(resp.Servers, func(s meta.QuorumServer) bool { return s.Address == mc.RaftAddr }) {
			return
		}
		log.Info("a master group runs without this master; joining it", "asked", p, "journal", mc.RaftAddr)
		mc.Join = true
		return
	}
}

// joinGroup asks the leader to add this master until it does or ctx ends.
func (m *Master) joinGroup(ctx context.Context) {
	mc := m.cfg.Meta
	ms := client.NewMasters(peerRPCs(&mc), 10*time.Second, m.log)
	defer ms.Close()
	for {
		err := ms.Call(ctx, wire.MasterQuorumAdd, true, wire.QuorumAddRequest{Address: mc.RaftAddr, RPCAddr: m.cfg.RPCAddr}, nil)
		if err == nil {
			m.log.Info("added to the master group", "journal", mc.RaftAddr)
			return
		}
		m.log.Warn("could not join the master group yet", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

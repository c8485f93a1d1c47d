// Package daemon runs the three processes of a cluster — master, worker and
// FUSE daemon — from a typed configuration. Local mode is these same three
// processes on one machine.
package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
)

// MasterConfigFrom builds a master's configuration from the properties.
//
// With several addresses in alluxio.master.embedded.journal.addresses the
// master is one of a group: it finds itself in the list by
// alluxio.master.hostname and alluxio.master.embedded.journal.port, and
// its Raft server id is derived from that address (meta.NodeIDFor). When
// alluxio.master.rpc.addresses lists as many addresses, the two lists are
// taken to be in the same order: the i-th RPC address is the i-th
// journal address's master. Besides, every master records its own RPC
// address in the journal when it becomes leader, which is what followers
// use first to send clients to the leader.
func MasterConfigFrom(c *conf.Config, log *slog.Logger) (MasterConfig, error) {
	host := c.String("alluxio.master.hostname")
	self := net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.master.embedded.journal.port")))
	mc := meta.Config{RaftAddr: self}
	if journal := c.Strings("alluxio.master.embedded.journal.addresses"); len(journal) > 1 {
		i := indexOfAddr(journal, self)
		if i < 0 {
			return MasterConfig{}, fmt.Errorf("this master's journal address %s (alluxio.master.hostname and "+
				"alluxio.master.embedded.journal.port) is not in alluxio.master.embedded.journal.addresses (%s): %w",
				self, strings.Join(journal, ","), syscall.EINVAL)
		}
		mc.RaftAddr = journal[i]
		mc.NodeID = meta.NodeIDFor(journal[i])
		mc.Peers = slices.Clone(journal)
		if rpcs := c.Strings("alluxio.master.rpc.addresses"); len(rpcs) == len(journal) {
			mc.PeerRPC = make(map[string]string, len(journal))
			for j, a := range journal {
				mc.PeerRPC[a] = rpcs[j]
			}
		}
	}
	if err := journalConfig(c, &mc); err != nil {
		return MasterConfig{}, err
	}
	return MasterConfig{
		RPCAddr:       c.MasterRPCAddr(),
		WebAddr:       net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.master.web.port"))),
		TTLInterval:   c.Duration("alluxio.master.ttl.checker.interval"),
		WorkerTimeout: c.Duration("alluxio.master.worker.timeout"),
		Logger:        log,
		Conf:          c,
		Meta: meta.Config{
			JournalDir:            c.String("alluxio.master.journal.folder"),
			JournalType:           mc.JournalType,
			MetastoreDir:          mc.MetastoreDir,
			Metastore:             c.String("alluxio.master.metastore"),
			FollowerReadStaleness: c.Duration("alluxio.master.follower.reads.max.staleness"),
			TailInterval:          c.Duration("alluxio.master.journal.tailer.sleep.time"),
			Permissions:           c.Bool("alluxio.security.authorization.permission.enabled"),
			RootSquash:            c.Bool("alluxio.security.authorization.root.squash"),
			ZooKeeper:             mc.ZooKeeper,
			JournalOptions:        mc.JournalOptions,
			NodeID:                mc.NodeID,
			RaftAddr:              mc.RaftAddr,
			Peers:                 mc.Peers,
			RPCAddr:               c.MasterRPCAddr(),
			PeerRPC:               mc.PeerRPC,
			RootUFS:               c.String("alluxio.master.mount.table.root.ufs"),
			RootOptions:           rootOptions(c),
			RootReadOnly:          c.Bool("alluxio.master.mount.table.root.readonly"),
			SyncInterval:          c.Duration("alluxio.user.file.metadata.sync.interval"),
			DeferUfsDeletes:       c.Bool("alluxio.master.ufs.delete.deferred"),
			OpenUFS:               ufs.Open,
			Logger:                log,
			Checkpoint: meta.CheckpointConfig{
				PeriodEntries: uint64(c.Int("alluxio.master.journal.checkpoint.period.entries")),
				Interval:      c.Duration("alluxio.master.journal.checkpoint.check.interval"),
			},
		},
	}, nil
}

// journalConfig fills in the journal type, the metastore directory and,
// for the UFS journal, the ZooKeeper election and the folder's options.
//
// With the embedded journal the metastore stays beside the Raft log in
// the journal folder unless alluxio.master.metastore.dir is set; the UFS
// journal's folder is shared, so its metastore is always in
// alluxio.master.metastore.dir.
func journalConfig(c *conf.Config, mc *meta.Config) error {
	mc.JournalType = c.String("alluxio.master.journal.type")
	zkOn := c.Bool("alluxio.zookeeper.enabled")
	if src, _ := c.Source("alluxio.master.metastore.dir"); src != conf.Default || mc.JournalType == meta.JournalUFS {
		mc.MetastoreDir = c.String("alluxio.master.metastore.dir")
	}
	if mc.JournalType != meta.JournalUFS {
		if zkOn {
			return fmt.Errorf("alluxio.zookeeper.enabled=true needs alluxio.master.journal.type=%s (it is %s): "+
				"ZooKeeper elects the leader of the UFS journal; the embedded journal elects its own: %w",
				meta.JournalUFS, mc.JournalType, syscall.EINVAL)
		}
		return nil
	}
	mc.JournalOptions = rootOptions(c)
	for k, v := range c.WithPrefix("alluxio.master.journal.ufs.option.") {
		mc.JournalOptions[k] = v
	}
	if zkOn {
		addrs := c.Strings("alluxio.zookeeper.address")
		if len(addrs) == 0 {
			return fmt.Errorf("alluxio.zookeeper.enabled=true but alluxio.zookeeper.address is empty: %w", syscall.EINVAL)
		}
		mc.ZooKeeper = zkelect.Config{Servers: addrs, Path: c.String("alluxio.zookeeper.election.path"),
			SessionTimeout: c.Duration("alluxio.zookeeper.session.timeout")}
	}
	return nil
}

// mastersFrom says how clients find the masters: with
// alluxio.zookeeper.enabled, ZooKeeper names the leader and the masters
// (alluxio.master.rpc.addresses is then optional, and
// alluxio.master.hostname is not needed); otherwise the RPC addresses.
func mastersFrom(c *conf.Config) (zkelect.Config, []string) {
	if !c.Bool("alluxio.zookeeper.enabled") {
		return zkelect.Config{}, c.MasterRPCAddrs()
	}
	return zkelect.Config{
		Servers:        c.Strings("alluxio.zookeeper.address"),
		Path:           c.String("alluxio.zookeeper.election.path"),
		SessionTimeout: c.Duration("alluxio.zookeeper.session.timeout"),
	}, c.Strings("alluxio.master.rpc.addresses")
}

// followerReads is how stale a follower's answer to this client's reads
// may be: alluxio.master.follower.reads.max.staleness when
// alluxio.user.master.follower.reads.enabled, else 0 (leader only).
func followerReads(c *conf.Config) time.Duration {
	if !c.Bool("alluxio.user.master.follower.reads.enabled") {
		return 0
	}
	return c.Duration("alluxio.master.follower.reads.max.staleness")
}

// indexOfAddr finds addr (host:port) in list: the same string, or the same
// port on a host that resolves to one of the same IP addresses.
func indexOfAddr(list []string, addr string) int {
	if i := slices.Index(list, addr); i >= 0 {
		return i
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return -1
	}
	ips := resolveHost(host)
	for i, a := range list {
		h, p, err := net.SplitHostPort(a)
		if err != nil || p != port {
			continue
		}
		for _, ip := range resolveHost(h) {
			if slices.Contains(ips, ip) {
				return i
			}
		}
	}
	return -1
}

// resolveHost returns the IP addresses of host (itself when it is one).
func resolveHost(host string) []string {
	if ip := net.ParseIP(host); ip != nil {
		return []string{ip.String()}
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return nil
	}
	return ips
}

// WorkerConfigFrom builds a worker's configuration from the properties.
func WorkerConfigFrom(c *conf.Config, log *slog.Logger) WorkerConfig {
	host := c.String("alluxio.worker.hostname")
	var tiers []blockstore.TierConfig
	for _, t := range c.Tiers() {
		tiers = append(tiers, blockstore.TierConfig{Alias: t.Alias, Dirs: t.Dirs, Quotas: t.Quotas,
			MediumTypes: t.MediumTypes, High: t.High, Low: t.Low})
	}
	zk, addrs := mastersFrom(c)
	return WorkerConfig{
		MasterAddrs:  addrs,
		ZooKeeper:    zk,
		RPCAddr:      net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.worker.rpc.port"))),
		SocketPath:   c.String("alluxio.worker.data.server.domain.socket.address"),
		WebAddr:      net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.worker.web.port"))),
		GossipAddr:   net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.worker.membership.port"))),
		Seeds:        splitList(c.String("alluxio.worker.membership")),
		BlockSize:    c.Bytes("alluxio.user.block.size.bytes.default"),
		VirtualNodes: c.Int("alluxio.worker.membership.virtual.nodes"),
		Store: blockstore.Config{
			Tiers:                 tiers,
			PageSize:              c.Bytes("alluxio.worker.page.store.page.size"),
			PrefetchPages:         prefetchPages(c),
			DataFolder:            c.String("alluxio.worker.data.folder"),
			Evictor:               c.String("alluxio.worker.block.annotator.class"),
			LRFUStepFactor:        c.Float("alluxio.worker.block.annotator.lrfu.step.factor"),
			LRFUAttenuationFactor: c.Float("alluxio.worker.block.annotator.lrfu.attenuation.factor"),
		},
		Logger: log,
		Conf:   c,
	}
}

// underStoreKeys are the property families that configure under-stores.
// Alluxio's guides set them as plain properties for the root mount
// (fs.kodo.accesskey=..., s3a.accessKeyId=...).
var underStoreKeys = []string{"fs.", "s3a.", "aws.", "alluxio.underfs.", "alluxio.security.login.username"}

// rootOptions are the root mount's options: the under-store properties,
// then alluxio.master.mount.table.root.option.<key>, which wins.
func rootOptions(c *conf.Config) map[string]string {
	opts := map[string]string{}
	for _, k := range c.Keys() {
		for _, prefix := range underStoreKeys {
			if strings.HasPrefix(k, prefix) {
				opts[k] = c.Get(k)
			}
		}
	}
	for k, v := range c.WithPrefix("alluxio.master.mount.table.root.option.") {
		opts[k] = v
	}
	return opts
}

// prefetchPages is alluxio.worker.network.reader.buffer.size in pages
// (rounded up), or -1 (off) when it is 0.
func prefetchPages(c *conf.Config) int {
	ahead, page := c.Bytes("alluxio.worker.network.reader.buffer.size"), c.Bytes("alluxio.worker.page.store.page.size")
	if ahead <= 0 || page <= 0 {
		return -1
	}
	return int((ahead + page - 1) / page)
}

// Package daemon runs the three processes of a cluster — master, worker and
// FUSE daemon — from a typed configuration. Local mode is these same three
// processes on one machine.
package daemon

import (
	"log/slog"
	"net"
	"strconv"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
)

// MasterConfigFrom builds a master's configuration from the properties.
func MasterConfigFrom(c *conf.Config, log *slog.Logger) MasterConfig {
	host := c.String("alluxio.master.hostname")
	return MasterConfig{
		RPCAddr: c.MasterRPCAddr(),
		WebAddr: net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.master.web.port"))),
		Logger:  log,
		Meta: meta.Config{
			JournalDir:   c.String("alluxio.master.journal.folder"),
			RaftAddr:     net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.master.embedded.journal.port"))),
			RootUFS:      c.String("alluxio.master.mount.table.root.ufs"),
			RootOptions:  c.WithPrefix("alluxio.master.mount.table.root.option."),
			RootReadOnly: c.Bool("alluxio.master.mount.table.root.readonly"),
			SyncInterval: c.Duration("alluxio.user.file.metadata.sync.interval"),
			OpenUFS:      ufs.Open,
			Logger:       log,
		},
	}
}

// WorkerConfigFrom builds a worker's configuration from the properties.
func WorkerConfigFrom(c *conf.Config, log *slog.Logger) WorkerConfig {
	host := c.String("alluxio.worker.hostname")
	var tiers []blockstore.TierConfig
	for _, t := range c.Tiers() {
		tiers = append(tiers, blockstore.TierConfig{Alias: t.Alias, Dirs: t.Dirs, Quotas: t.Quotas, High: t.High, Low: t.Low})
	}
	return WorkerConfig{
		MasterAddr: c.MasterRPCAddr(),
		RPCAddr:    net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.worker.rpc.port"))),
		SocketPath: c.String("alluxio.worker.data.server.domain.socket.address"),
		WebAddr:    net.JoinHostPort(host, strconv.Itoa(c.Int("alluxio.worker.web.port"))),
		Store: blockstore.Config{
			Tiers:      tiers,
			PageSize:   c.Bytes("alluxio.worker.page.store.page.size"),
			DataFolder: c.String("alluxio.worker.data.folder"),
		},
		Logger: log,
	}
}

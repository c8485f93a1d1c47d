package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/fuse"
)

// FuseConfig configures one FUSE mount served by this process.
type FuseConfig struct {
	Client client.Config
	Mount  fuse.Options
	// WebAddr serves the mount's metrics (host:port; "" for none).
	WebAddr string
	// NoShortCircuit turns short-circuit reads off
	// (alluxio.user.short.circuit.enabled=false).
	NoShortCircuit bool
}

// FuseConfigFrom builds a FUSE daemon's configuration from the properties,
// with the mount point, cluster path and extra -o options given on the
// command line taking precedence when set.
func FuseConfigFrom(c *conf.Config, mountPoint, alluxioPath string, extraOpts []string, log *slog.Logger) FuseConfig {
	if mountPoint == "" {
		mountPoint = c.String("alluxio.fuse.mount.point")
	}
	if alluxioPath == "" {
		alluxioPath = c.String("alluxio.fuse.mount.alluxio.path")
	}
	opts := splitList(c.String("alluxio.fuse.mount.options"))
	opts = append(opts, extraOpts...)
	var web string
	if port := c.Int("alluxio.fuse.web.port"); port > 0 {
		web = net.JoinHostPort(c.String("alluxio.worker.hostname"), strconv.Itoa(port))
	}
	cc := ClientConfigFrom(c, log)
	// A sync interval of 0 asks the under-store on every access, which
	// only a call to the master does.
	if c.Duration("alluxio.user.file.metadata.sync.interval") != 0 {
		cc.MetadataCache = client.MetadataCacheConfig{
			MaxSize:      c.Int("alluxio.user.metadata.cache.max.size"),
			Expiration:   c.Duration("alluxio.user.metadata.cache.expiration.time"),
			SyncInterval: c.Duration("alluxio.user.file.metadata.sync.interval"),
		}
	}
	return FuseConfig{
		WebAddr:        web,
		Client:         cc,
		NoShortCircuit: !c.Bool("alluxio.user.short.circuit.enabled"),
		Mount: fuse.Options{
			MountPoint:   mountPoint,
			Root:         alluxioPath,
			MountOptions: opts,
			EntryTimeout: c.Duration("alluxio.fuse.entry.timeout"),
			AttrTimeout:  c.Duration("alluxio.fuse.attr.timeout"),
			MaxIO:        int(c.Bytes("alluxio.fuse.max.read.bytes")),
			BlockSize:    int(c.Bytes("alluxio.worker.page.store.page.size")),
			Passthrough:  c.Bool("alluxio.fuse.passthrough.enabled"),
			FsName:       "alluxio:" + alluxioPath,
			Debug:        c.Bool("alluxio.fuse.debug.enabled"),
			Logger:       log,
		},
	}
}

// ClientConfigFrom builds a cluster client's configuration from the
// properties: the master by TCP, the local worker by its UNIX socket.
func ClientConfigFrom(c *conf.Config, log *slog.Logger) client.Config {
	zk, addrs := mastersFrom(c)
	return client.Config{
		MasterAddr:    c.MasterRPCAddr(),
		MasterAddrs:   addrs,
		ZooKeeper:     zk,
		FollowerReads: followerReads(c),
		WorkerNetwork: "unix",
		WorkerAddr:    c.String("alluxio.worker.data.server.domain.socket.address"),
		ReadType:      c.String("alluxio.user.file.readtype.default"),
		WriteType:     c.String("alluxio.user.file.writetype.default"),
		RetryFor:      c.Duration("alluxio.user.rpc.retry.max.duration"),
		BlockSize:     c.Bytes("alluxio.user.block.size.bytes.default"),
		VirtualNodes:  c.Int("alluxio.worker.membership.virtual.nodes"),
		Logger:        log,
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// FuseDaemon is a running FUSE mount and its client.
type FuseDaemon struct {
	client *client.Client
	mount  *fuse.Mount
	dir    string
	log    *slog.Logger
	web    *webServer
}

// StartFuse checks that the master answers, then mounts.
func StartFuse(ctx context.Context, cfg FuseConfig) (*FuseDaemon, error) {
	log := cfg.Mount.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := fuse.CheckMountPoint(cfg.Mount.MountPoint); err != nil {
		return nil, err
	}
	cl := client.New(cfg.Client)
	cl.SetShortCircuit(!cfg.NoShortCircuit)
	root := cfg.Mount.Root
	if root == "" {
		root = "/"
	}
	fi, err := cl.GetStatus(ctx, root)
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("alluxio path %s at master %s: %w", root, cfg.Client.MasterAddr, err)
	}
	if !fi.IsDir {
		cl.Close()
		return nil, fmt.Errorf("alluxio path %s: not a directory", root)
	}
	m, err := fuse.Serve(cl.FS(), cfg.Mount)
	if err != nil {
		cl.Close()
		return nil, err
	}
	d := &FuseDaemon{client: cl, mount: m, dir: cfg.Mount.MountPoint, log: log}
	if cfg.WebAddr != "" {
		if d.web, err = startWeb(cfg.WebAddr, log, d.webRoutes()); err != nil {
			d.Close()
			return nil, fmt.Errorf("fuse metrics (alluxio.fuse.web.port): %w", err)
		}
	}
	log.Info("fuse mounted", "mountpoint", cfg.Mount.MountPoint, "alluxioPath", root,
		"passthrough", m.Passthrough, "master", cfg.Client.MasterAddr, "worker", cfg.Client.WorkerAddr, "web", cfg.WebAddr)
	return d, nil
}

// Wait blocks until the mount goes away.
func (d *FuseDaemon) Wait() { d.mount.Wait() }

// Close unmounts and closes the client.
func (d *FuseDaemon) Close() error {
	if d.web != nil {
		d.web.Close()
	}
	err := d.mount.Unmount()
	d.client.Close()
	return err
}

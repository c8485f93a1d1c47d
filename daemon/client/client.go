// Package client is the cluster client used by the FUSE daemon and the CLI:
// metadata calls go to the master over TCP, data calls to the node's worker
// over its UNIX socket.
package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	pathpkg "path"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/meta/zkelect"
)

// Config says where the cluster is and how files are read and written.
type Config struct {
	// MasterAddr is the master's RPC address (host:port), used when
	// MasterAddrs is empty.
	MasterAddr string
	// MasterAddrs are the RPC addresses of every master of a highly
	// available group (alluxio.master.rpc.addresses). Calls go to the
	// leader, following followers' redirects and failing over.
	MasterAddrs []string
	// ZooKeeper, when it names servers, is asked for the leading master
	// (masters on the UFS journal); MasterAddrs may then be empty.
	ZooKeeper zkelect.Config
	// FollowerReads, when positive, lets any master answer reads with a
	// state at most this old (Masters.WithFollowerReads); 0 sends every
	// call to the leader.
	FollowerReads time.Duration
	// Caller, when set, is who the calls are made for (the CLI's user);
	// the masters check permissions against it.
	Caller *meta.Caller
	// WorkerNetwork and WorkerAddr reach the data worker: "unix" and the
	// domain socket path for the local worker, or "tcp" and host:port.
	WorkerNetwork, WorkerAddr string
	// ReadType is CACHE, CACHE_PROMOTE or NO_CACHE.
	ReadType string
	// WriteType is MUST_CACHE, CACHE_THROUGH, THROUGH or ASYNC_THROUGH.
	WriteType string
	// BlockSize is the unit of data placement: each block of a file has a
	// home worker (alluxio.user.block.size.bytes.default; 0 means
	// DefaultBlockSize).
	BlockSize int64
	// VirtualNodes is the number of ring points per worker, used when the
	// worker list comes from the masters (0 means the cluster default).
	VirtualNodes int
	// RetryFor bounds how long metadata calls are retried while no master
	// serves (unreachable, or an election in progress).
	RetryFor time.Duration
	// Umask is applied to the modes of new files and directories created
	// through the CLI (the kernel applies the caller's own through FUSE).
	Umask uint32
	// MetadataCache, when its MaxSize is positive, keeps the attributes
	// of paths for the FUSE view (FS.Stat); other calls always ask the
	// master.
	MetadataCache MetadataCacheConfig
	Logger        *slog.Logger
}

// DefaultBlockSize is the placement unit when Config.BlockSize is 0, as
// Alluxio's alluxio.user.block.size.bytes.default.
const DefaultBlockSize = 64 << 20

// Client talks to the master group and the workers: the node's own worker
// over its UNIX socket, the others over TCP.
type Client struct {
	cfg     Config
	masters *Masters
	worker  *rpc.Client
	workers *workerSet
	// mc is the FUSE daemon's metadata cache (nil when off).
	mc  *metaCache
	log *slog.Logger
}

// New returns a client; connections are made on first use.
func New(cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ReadType == "" {
		cfg.ReadType = "CACHE"
	}
	if cfg.WriteType == "" {
		cfg.WriteType = "CACHE_THROUGH"
	}
	addrs := cfg.MasterAddrs
	if len(addrs) == 0 && cfg.MasterAddr != "" {
		addrs = []string{cfg.MasterAddr}
	}
	log := cfg.Logger.With("component", "client")
	c := &Client{cfg: cfg, log: log, masters: MastersFor(addrs, cfg.ZooKeeper, cfg.RetryFor, log).WithFollowerReads(cfg.FollowerReads).WithCaller(cfg.Caller)}
	c.workers = &workerSet{c: c}
	c.mc = newMetaCache(cfg.MetadataCache)
	if cfg.WorkerAddr != "" {
		c.worker = rpc.NewClient(cfg.WorkerNetwork, cfg.WorkerAddr)
	}
	return c
}

// MastersFor returns a caller of the masters at addrs that, when zk names
// servers, asks ZooKeeper for the leader first.
func MastersFor(addrs []string, zk zkelect.Config, retryFor time.Duration, log *slog.Logger) *Masters {
	m := NewMasters(addrs, retryFor, log)
	if len(zk.Servers) > 0 {
		zk.Logger = log
		if w, err := zkelect.NewWatcher(zk); err == nil {
			m.WithDiscovery(w)
		} else {
			log.Warn("cannot ask ZooKeeper for the leading master", "err", err)
		}
	}
	return m
}

// Close closes the connections.
func (c *Client) Close() error {
	err := errors.Join(c.masters.Close(), c.workers.close())
	if c.worker != nil {
		err = errors.Join(err, c.worker.Close())
	}
	return err
}

// WithTypes returns a client sharing the connections but reading and
// writing with other types (for runTests and per-command flags).
func (c *Client) WithTypes(readType, writeType string) *Client {
	cc := *c
	if readType != "" {
		cc.cfg.ReadType = readType
	}
	if writeType != "" {
		cc.cfg.WriteType = writeType
	}
	return &cc
}

// callMaster calls the leader of the master group (see Masters.Call):
// calls are retried across unreachable masters and elections until
// cfg.RetryFor has passed. A call that is not idempotent carries a request
// id, so that retrying it is safe: the masters apply it once and answer
// every attempt with the first result.
//
// A call that may change the namespace stops the metadata cache from
// serving entries until a stamp confirms them (metaCache.distrust); the
// calls whose effect the cache knows restore it themselves (callInfo,
// callDone).
func (c *Client) callMaster(ctx context.Context, method string, idempotent bool, req, resp any) error {
	err := c.masters.Call(ctx, method, idempotent, req, resp)
	if !readOnlyCalls[method] {
		c.mc.distrust()
	}
	return err
}

// readOnlyCalls are the master calls that change nothing.
var readOnlyCalls = map[string]bool{
	wire.MasterGetStatus: true, wire.MasterListStatus: true, wire.MasterListStatusPage: true,
	wire.MasterStatusByID: true, wire.MasterInfo: true, wire.MasterMounts: true,
	wire.MasterGetXattr: true, wire.MasterListXattr: true, wire.MasterCheckConsistency: true,
	wire.MasterRaftStatus: true, wire.MasterQuorumInfo: true,
}

// callInfo makes a call that answers with one file's status and applies
// the answer to the metadata cache: the new entry of a create, the new
// status of anything else.
func (c *Client) callInfo(ctx context.Context, method string, idempotent bool, req any) (meta.FileInfo, error) {
	var r wire.StampedInfo
	sent := time.Now()
	if err := c.callMaster(ctx, method, idempotent, req, &r); err != nil {
		return meta.FileInfo{}, err
	}
	c.mc.update(sent, r.NS, !readOnlyCalls[method], func(u cacheUpdate) {
		switch method {
		case wire.MasterCreateFile, wire.MasterCreateDirectory, wire.MasterCreateSymlink:
			u.created(r.FileInfo)
		default:
			u.putInfo(r.FileInfo)
		}
	})
	return r.FileInfo, nil
}

// callDone makes a call that answers with its stamp and the statuses of
// what it changed, and applies effect, then those statuses, to the
// metadata cache when the stamp shows the call's own change and nothing
// else.
func (c *Client) callDone(ctx context.Context, method string, req any, effect func(u cacheUpdate)) error {
	var r wire.Stamped
	sent := time.Now()
	if err := c.callMaster(ctx, method, false, req, &r); err != nil {
		return err
	}
	c.mc.update(sent, r.NS, true, func(u cacheUpdate) {
		effect(u)
		for _, fi := range r.Infos {
			u.putInfo(fi)
		}
	})
	return nil
}

// unreachable reports whether err means the peer could not be reached at
// all, or the connection broke (as opposed to an answer that the call
// failed).
func unreachable(err error) bool {
	var rerr *rpc.Error
	if errors.As(err, &rerr) {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ECONNABORTED)
}

func (c *Client) workerClient() (*rpc.Client, error) {
	if c.worker == nil {
		return nil, fmt.Errorf("no worker configured for data access: %w", syscall.ENOTCONN)
	}
	return c.worker, nil
}

// GetStatus describes one path. With the metadata cache on, the answer
// (or that the path is missing) goes into the cache.
func (c *Client) GetStatus(ctx context.Context, path string) (meta.FileInfo, error) {
	if c.mc == nil {
		var fi meta.FileInfo
		err := c.callMaster(ctx, wire.MasterGetStatus, true, wire.PathRequest{Path: path}, &fi)
		return fi, err
	}
	var r wire.StampedInfo
	sent := time.Now()
	if err := c.callMaster(ctx, wire.MasterGetStatus, true, wire.StatRequest{Path: path, Probe: true}, &r); err != nil {
		return meta.FileInfo{}, err
	}
	c.mc.update(sent, r.NS, false, func(u cacheUpdate) {
		if !r.Missing {
			u.put(path, r.FileInfo)
		}
	})
	if r.Missing {
		return meta.FileInfo{}, &fs.PathError{Op: "stat", Path: path, Err: syscall.ENOENT}
	}
	return r.FileInfo, nil
}

// ListStatus lists a directory (or describes a file).
func (c *Client) ListStatus(ctx context.Context, path string) ([]meta.FileInfo, error) {
	var resp wire.ListResponse
	err := c.callMaster(ctx, wire.MasterListStatus, true, wire.PathRequest{Path: path}, &resp)
	return resp.Entries, err
}

// CreateDirectory makes a directory.
func (c *Client) CreateDirectory(ctx context.Context, path string, o meta.MkdirOptions) (meta.FileInfo, error) {
	return c.callInfo(ctx, wire.MasterCreateDirectory, false, wire.MkdirRequest{Path: path, Options: o})
}

// Delete removes a path.
func (c *Client) Delete(ctx context.Context, path string, recursive bool) error {
	return c.callDone(ctx, wire.MasterDelete, wire.DeleteRequest{Path: path, Recursive: recursive}, removed(path))
}

// removed is the cache effect of removing p: nothing at or under it
// remains, its name is out of its directory's listing, and its parent
// changed (its new status comes with the answer, unless the master could
// not read it).
func removed(p string) func(u cacheUpdate) {
	return func(u cacheUpdate) {
		u.forgetTree(p)
		u.unlist(p)
		u.forget(pathpkg.Dir(p))
	}
}

// Remove removes a file or symbolic link (dir false: EISDIR for a
// directory), or an empty directory (dir true: ENOTDIR for anything
// else), in one call.
func (c *Client) Remove(ctx context.Context, path string, dir bool) error {
	req := wire.DeleteRequest{Path: path, Unlink: !dir, Rmdir: dir}
	return c.callDone(ctx, wire.MasterDelete, req, removed(path))
}

// Rename moves a path.
func (c *Client) Rename(ctx context.Context, src, dst string, noReplace bool) error {
	return c.callDone(ctx, wire.MasterRename, wire.RenameRequest{Src: src, Dst: dst, NoReplace: noReplace}, renamed(src, dst))
}

// renamed is the cache effect of moving src to dst: what was under either
// name is gone or moved (the moved entry's and the parents' statuses come
// with the answer), and the name moved from one listing to the other.
func renamed(src, dst string) func(u cacheUpdate) {
	return func(u cacheUpdate) {
		u.forgetTree(dst)
		u.forgetTree(src)
		u.unlist(src)
		u.enlist(dst)
		u.forget(pathpkg.Dir(src))
		u.forget(pathpkg.Dir(dst))
	}
}

// Exchange swaps the entries at a and b atomically (renameat2's
// RENAME_EXCHANGE; see meta.Master.Exchange). A master from before
// exchanges were known refuses with EINVAL.
func (c *Client) Exchange(ctx context.Context, a, b string) error {
	err := c.callDone(ctx, wire.MasterExchange, wire.ExchangeRequest{A: a, B: b}, func(u cacheUpdate) {
		// Both entries moved, with all below them (their new statuses
		// and the parents' come with the answer).
		u.forgetTree(a)
		u.forgetTree(b)
		u.forget(pathpkg.Dir(a))
		u.forget(pathpkg.Dir(b))
	})
	if errors.Is(err, syscall.ENOSYS) {
		return fmt.Errorf("exchange %s and %s: the master does not know exchanges: %w", a, b, syscall.EINVAL)
	}
	return err
}

// SetAttr changes attributes.
func (c *Client) SetAttr(ctx context.Context, path string, o meta.SetAttrOptions) (meta.FileInfo, error) {
	return c.callInfo(ctx, wire.MasterSetAttr, false, wire.SetAttrRequest{Path: path, Options: o})
}

// CreateSymlink makes a symbolic link.
func (c *Client) CreateSymlink(ctx context.Context, path, target string, uid, gid uint32) (meta.FileInfo, error) {
	return c.callInfo(ctx, wire.MasterCreateSymlink, false, wire.SymlinkRequest{Path: path, Target: target, UID: uid, GID: gid})
}

// LoadMetadata syncs path (recursive: its whole tree) with its under-store
// now, whatever the sync interval says.
func (c *Client) LoadMetadata(ctx context.Context, path string, recursive bool) (meta.LoadStats, error) {
	var st meta.LoadStats
	err := c.callMaster(ctx, wire.MasterLoadMetadata, true, wire.LoadMetadataRequest{Path: path, Recursive: recursive}, &st)
	return st, err
}

// CheckConsistency lists the entries at and below path that differ from
// their under-store (at most limit; 0: all).
func (c *Client) CheckConsistency(ctx context.Context, path string, limit int) ([]meta.Inconsistency, error) {
	var out []meta.Inconsistency
	err := c.callMaster(ctx, wire.MasterCheckConsistency, true, wire.CheckConsistencyRequest{Path: path, Limit: limit}, &out)
	return out, err
}

// Mount adds an under-store at an Alluxio path.
func (c *Client) Mount(ctx context.Context, path, uri string, o meta.MountOptions) error {
	return c.callMaster(ctx, wire.MasterMount, false, wire.MountRequest{Path: path, URI: uri, Options: o}, nil)
}

// Unmount removes a mount.
func (c *Client) Unmount(ctx context.Context, path string) error {
	return c.callMaster(ctx, wire.MasterUnmount, false, wire.PathRequest{Path: path}, nil)
}

// Mounts lists the mount table (credentials masked by the master).
func (c *Client) Mounts(ctx context.Context) ([]meta.MountInfo, error) {
	var resp wire.MountsResponse
	err := c.callMaster(ctx, wire.MasterMounts, true, nil, &resp)
	return resp.Mounts, err
}

// Info describes the master and its workers.
func (c *Client) Info(ctx context.Context) (wire.InfoResponse, error) {
	var resp wire.InfoResponse
	err := c.callMaster(ctx, wire.MasterInfo, true, nil, &resp)
	return resp, err
}

// WorkerStats asks the data worker for its counters.
func (c *Client) WorkerStats(ctx context.Context) (wire.WorkerStats, error) {
	var st wire.WorkerStats
	w, err := c.workerClient()
	if err != nil {
		return st, err
	}
	_, err = w.Call(ctx, wire.WorkerGetStats, nil, nil, &st, nil)
	return st, err
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
)

// WorkerConfig configures a worker process.
type WorkerConfig struct {
	// MasterAddrs are the masters' RPC addresses; calls follow the leader.
	MasterAddrs []string
	// ZooKeeper, when it names servers, is asked for the leading master.
	ZooKeeper zkelect.Config
	// RPCAddr is the TCP address for remote clients (host:port).
	RPCAddr string
	// SocketPath is the UNIX domain socket for the node's FUSE daemons.
	SocketPath string
	// WebAddr serves metrics (host:port; "" for none).
	WebAddr string
	// Store configures the page cache.
	Store blockstore.Config
	// GossipAddr is the worker's membership address (host:port); empty
	// means the worker serves alone, without a cluster.
	GossipAddr string
	// Seeds are gossip addresses of workers to join
	// (alluxio.worker.membership); empty asks the masters.
	Seeds []string
	// BlockSize is the unit of data placement over the workers.
	BlockSize int64
	// VirtualNodes is the number of ring points per worker.
	VirtualNodes int
	// Heartbeat is how often the worker reports to the master.
	Heartbeat time.Duration
	Logger    *slog.Logger
	// Conf is the configuration the worker was built from, shown (masked)
	// by its web page; nil shows none.
	Conf *conf.Config
}

// Worker serves cached file data to clients and moves it to and from the
// under-stores.
type Worker struct {
	cfg    WorkerConfig
	log    *slog.Logger
	store  *blockstore.Store
	master *client.Masters
	server *rpc.Server
	// members is the live worker cluster; nil when serving alone. It is
	// set while the RPC server already serves (joinCluster).
	members atomic.Pointer[cluster.Membership]
	// pinned holds the inode ids known pinned (alluxio fs pin).
	pinned sync.Map
	start  time.Time

	// ufsMu guards ufsByMount, the opened under-store of each mount.
	ufsMu      sync.Mutex
	ufsByMount map[uint64]ufs.UFS

	// stateMu guards the sessions and leases tables.
	stateMu  sync.Mutex
	sessions map[uint64]*writeSession
	leases   map[uint64]lease
	filling  map[blockstore.FileKey]bool
	nextID   uint64

	// stagingDir holds the staging files of random-access writes;
	// persistDir the records of files waiting for an ASYNC_THROUGH persist.
	stagingDir, persistDir string

	counters workerCounters
	// persists tracks background goroutines (persists, cache fills);
	// bgCtx is cancelled by Close to stop them.
	persists sync.WaitGroup
	bgCtx    context.Context
	stop     context.CancelFunc
	web      *webServer
	// level sets the level of the worker's logger (web UI /logs).
	level *slog.LevelVar
	// lands orders the uploads landing at one name of an under-store.
	lands landLocks
}

type workerCounters struct {
	bytesReadDomain, bytesReadRemote       atomic.Int64
	bytesWrittenDomain, bytesWrittenRemote atomic.Int64
	bytesWrittenUfs, bytesCopiedUfs        atomic.Int64
	passthroughOpens, bytesPassedThrough   atomic.Int64
	bytesShortCircuit, shortCircuitFiles   atomic.Int64
	ufsPassthroughOpens                    atomic.Int64
	pendingPersists                        atomic.Int64
}

type lease struct {
	conn    uint64
	release func()
}

// StartWorker opens the page store and starts serving on the socket and TCP
// address.
func StartWorker(ctx context.Context, cfg WorkerConfig) (*Worker, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	var level *slog.LevelVar
	cfg.Logger, level = withLevelVar(cfg.Logger)
	log := cfg.Logger.With("component", "worker")
	cfg.Store.Logger = log
	store, err := blockstore.Open(cfg.Store)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg: cfg, log: log, store: store, start: time.Now(),
		master:     client.MastersFor(cfg.MasterAddrs, cfg.ZooKeeper, 30*time.Second, log),
		server:     rpc.NewServer(log),
		ufsByMount: map[uint64]ufs.UFS{},
		sessions:   map[uint64]*writeSession{},
		leases:     map[uint64]lease{},
		level:      level,
		// Ids of a restarted worker do not repeat the last run's, so a
		// client's late release of an old lease ends nobody's new one.
		nextID: uint64(time.Now().UnixNano()),
	}
	w.stagingDir = stagingDir(cfg.Store)
	os.RemoveAll(w.stagingDir) // leftovers of a killed worker
	w.persistDir = PersistQueueDir(cfg.Store)
	w.bgCtx, w.stop = context.WithCancel(context.Background())
	w.routes()
	if err := w.listen(); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.joinCluster(ctx); err != nil {
		w.Close()
		return nil, err
	}
	go w.heartbeatLoop(w.bgCtx)
	go w.sweepLoop(w.bgCtx)
	w.resumePersists(w.bgCtx)
	if cfg.WebAddr != "" {
		w.web, err = startWeb(cfg.WebAddr, log, w.webRoutes())
		if err != nil {
			w.Close()
			return nil, err
		}
	}
	log.Info("worker started", "rpc", cfg.RPCAddr, "socket", cfg.SocketPath, "web", cfg.WebAddr)
	return w, nil
}

// stagingDir is where staged writes live: beside the data folder of the
// first tier directory.
func stagingDir(c blockstore.Config) string {
	folder := strings.Trim(c.DataFolder, "/")
	if folder == "" {
		folder = blockstore.DefaultDataFolder
	}
	dir := os.TempDir()
	if len(c.Tiers) > 0 && len(c.Tiers[0].Dirs) > 0 {
		dir = c.Tiers[0].Dirs[0]
	}
	return filepath.Join(dir, folder+".staging")
}

func (w *Worker) listen() error {
	if dir := filepath.Dir(w.cfg.SocketPath); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("worker socket dir (alluxio.worker.data.server.domain.socket.address): %w", err)
		}
	}
	// A socket file left by a killed worker would make bind fail; nobody
	// answers on it, so it is safe to remove.
	if c, err := net.Dial("unix", w.cfg.SocketPath); err == nil {
		c.Close()
		return fmt.Errorf("worker socket %s: another worker is serving on it", w.cfg.SocketPath)
	}
	os.Remove(w.cfg.SocketPath)
	ul, err := net.Listen("unix", w.cfg.SocketPath)
	if err != nil {
		return fmt.Errorf("worker socket %s (alluxio.worker.data.server.domain.socket.address): %w", w.cfg.SocketPath, err)
	}
	// 0660 as Alluxio does; FUSE daemons run as root or in the group.
	os.Chmod(w.cfg.SocketPath, 0o660)
	go w.server.Serve(ul)
	if w.cfg.RPCAddr != "" {
		tl, err := net.Listen("tcp", w.cfg.RPCAddr)
		if err != nil {
			return fmt.Errorf("worker rpc address %s (alluxio.worker.rpc.port): %w", w.cfg.RPCAddr, err)
		}
		go w.server.Serve(tl)
	}
	return nil
}

// Close stops serving, waits for background persists and closes the store.
func (w *Worker) Close() error {
	w.stop()
	if m := w.members.Load(); m != nil {
		// Tell the others at once, so clients stop routing here.
		if err := m.Leave(2 * time.Second); err != nil {
			w.log.Debug("leaving the worker cluster", "err", err)
		}
	}
	if w.web != nil {
		w.web.Close()
	}
	w.server.Close()
	w.persists.Wait()
	w.stateMu.Lock()
	for id, s := range w.sessions {
		s.abort()
		delete(w.sessions, id)
	}
	var releases []func()
	for id, l := range w.leases {
		releases = append(releases, l.release)
		delete(w.leases, id)
	}
	w.stateMu.Unlock()
	for _, release := range releases {
		release() // outside stateMu: a release may start a cache fill
	}
	w.ufsMu.Lock()
	for _, u := range w.ufsByMount {
		u.Close()
	}
	w.ufsMu.Unlock()
	w.master.Close()
	os.Remove(w.cfg.SocketPath)
	return w.store.Close()
}

func (w *Worker) routes() {
	w.server.Handle(wire.WorkerRead, w.handleRead)
	w.server.Handle(wire.WorkerReadLocal, w.handleReadLocal)
	w.server.Handle(wire.WorkerOpenWhole, w.handleOpenWhole)
	w.server.Handle(wire.WorkerReleaseLease, w.handleReleaseLease)
	w.server.Handle(wire.WorkerWriteOpen, w.handleWriteOpen)
	w.server.Handle(wire.WorkerWrite, w.handleWrite)
	w.server.Handle(wire.WorkerWriteCommit, w.handleWriteCommit)
	w.server.Handle(wire.WorkerWriteAbort, w.handleWriteAbort)
	w.server.Handle(wire.WorkerWriteTrunc, w.handleWriteTruncate)
	w.server.Handle(wire.WorkerWriteRead, w.handleWriteRead)
	w.server.Handle(wire.WorkerMembers, w.handleMembers)
	w.server.Handle(wire.WorkerFree, w.handleFree)
	w.server.Handle(wire.WorkerSetPinned, w.handleSetPinned)
	w.server.Handle(wire.WorkerPersist, w.handlePersist)
	w.server.Handle(wire.WorkerClearMetrics, w.handleClearMetrics)
	w.server.Handle(wire.WorkerGetStats, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		return &rpc.Response{Body: w.Stats()}, nil
	})
	w.server.OnDisconnect(w.dropConn)
}

// dropConn ends the sessions and leases of a client that went away.
func (w *Worker) dropConn(peer string, conn uint64) {
	var releases []func()
	w.stateMu.Lock()
	for id, s := range w.sessions {
		if s.conn == conn {
			w.log.Info("aborting write session of disconnected client", "peer", peer, "file", s.ref.ID)
			s.abort()
			delete(w.sessions, id)
		}
	}
	for id, l := range w.leases {
		if l.conn == conn {
			releases = append(releases, l.release)
			delete(w.leases, id)
		}
	}
	w.stateMu.Unlock()
	for _, release := range releases {
		release() // outside stateMu: a release may start a cache fill
	}
}

// ufsOf returns the under-store of a mount, asking the master for the mount
// the first time.
func (w *Worker) ufsOf(ctx context.Context, mountID uint64) (ufs.UFS, error) {
	w.ufsMu.Lock()
	u := w.ufsByMount[mountID]
	w.ufsMu.Unlock()
	if u != nil {
		return u, nil
	}
	var mi meta.MountInfo
	if err := w.master.Call(ctx, wire.MasterGetMount, true, wire.GetMountRequest{ID: mountID}, &mi); err != nil {
		return nil, fmt.Errorf("resolve mount %d: %w", mountID, err)
	}
	u, err := ufs.Open(mi.UfsURI, mi.Options)
	if err != nil {
		return nil, err
	}
	w.ufsMu.Lock()
	defer w.ufsMu.Unlock()
	if prev := w.ufsByMount[mountID]; prev != nil {
		u.Close()
		return prev, nil
	}
	w.ufsByMount[mountID] = u
	return u, nil
}

// source reads a file's bytes from its under-store; files whose bytes exist
// only in the cache have none. A ref names the file where it was when its
// holder looked: when the under-store has no file there any more, or
// (where the store can tell) another version, the master says where the
// version is now. A version moved within its mount is read at its new
// name; one that was removed or replaced (a reader's file unlinked or
// renamed over) is gone from the under-store, and its pages not cached
// fail with ESTALE rather than return the bytes now at its name.
func (w *Worker) source(ref wire.FileRef) blockstore.Source {
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		if !ref.Persisted {
			return nil, fmt.Errorf("file %d (%s): not persisted and not in this worker's cache: %w",
				ref.ID, ref.UfsPath, syscall.EIO)
		}
		u, err := w.ufsOf(ctx, ref.MountID)
		if err != nil {
			return nil, err
		}
		var rc io.ReadCloser
		if vo, ok := u.(ufs.VersionOpener); ok && ref.UfsFingerprint != "" {
			rc, err = vo.OpenRangeVersion(ctx, ref.UfsPath, off, n, ref.UfsFingerprint)
		} else {
			rc, err = u.OpenRange(ctx, ref.UfsPath, off, n)
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ESTALE) &&
			!errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.ENOTDIR) {
			return rc, err
		}
		var fi meta.FileInfo
		merr := w.master.Call(ctx, wire.MasterStatusByID, true, wire.IDRequest{ID: ref.ID}, &fi)
		if merr != nil && !errors.Is(merr, syscall.ENOENT) {
			return nil, err // the master cannot tell; the store's answer stands
		}
		if merr != nil || fi.Fingerprint != ref.Fingerprint || fi.MountID != ref.MountID {
			return nil, fmt.Errorf("file %d (%s): this version is no longer in the under-store (removed or replaced while open; %v): %w",
				ref.ID, ref.UfsPath, err, syscall.ESTALE)
		}
		if fi.UfsPath == ref.UfsPath && !mayHaveMoved(ctx, u, ref, fi) {
			// Where the master has it, the store holds something else:
			// the object was replaced there, not through the mount,
			// and the master has not synced it yet. Its bytes must not
			// be cached as this version's.
			return nil, fmt.Errorf("file %d (%s): replaced in the under-store (%v); load its metadata again to read the new content: %w",
				ref.ID, ref.UfsPath, err, syscall.ESTALE)
		}
		// The same version, at its name now (renamed: a store that
		// renames by copying may have given it a new ETag).
		return u.OpenRange(ctx, fi.UfsPath, off, n)
	}
}

// mayHaveMoved reports whether the file at fi's place (where ref, the
// version asked for, is too) can be that version although the store's
// fingerprint of it differs from ref's: a rename by copying (of the file
// or of a directory above it) gave it another, and its length is still
// the version's.
func mayHaveMoved(ctx context.Context, u ufs.UFS, ref wire.FileRef, fi meta.FileInfo) bool {
	mk, ok := u.(ufs.MoveKeeper)
	if !ok || mk.MoveKeeps(ref.UfsFingerprint) {
		return false
	}
	st, err := u.Stat(ctx, fi.UfsPath)
	return err == nil && !st.IsDir() && st.Size == fi.Size
}

func keyOf(ref wire.FileRef) blockstore.FileKey {
	return blockstore.FileKey{ID: ref.ID, Fingerprint: ref.Fingerprint}
}

func readTypeOf(s string) blockstore.ReadType {
	switch s {
	case "NO_CACHE":
		return blockstore.ReadNoCache
	case "CACHE_PROMOTE":
		return blockstore.ReadCachePromote
	}
	return blockstore.ReadCache
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 4<<20); return &b }}

func (w *Worker) handleRead(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.ReadRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	if r.Length < 0 || r.Length > 4<<20 || r.Offset < 0 {
		return nil, fmt.Errorf("read of file %d: bad range offset %d length %d: %w", r.File.ID, r.Offset, r.Length, syscall.EINVAL)
	}
	if r.PrefetchLimit > 0 {
		ctx = blockstore.WithPrefetchLimit(ctx, r.PrefetchLimit)
	}
	if r.File.Pinned {
		w.notePinned(r.File.ID)
	}
	bp := readBufs.Get().(*[]byte)
	buf := (*bp)[:r.Length]
	n, err := w.store.ReadAt(ctx, keyOf(r.File), r.File.Size, w.source(r.File), buf, r.Offset, readTypeOf(r.ReadType))
	if err != nil && !errors.Is(err, io.EOF) {
		readBufs.Put(bp)
		return nil, err
	}
	w.countRead(req, int64(n))
	return &rpc.Response{Data: buf[:n], Done: func() { readBufs.Put(bp) }}, nil
}

func (w *Worker) countRead(req *rpc.Request, n int64) {
	if isUnixPeer(req.Peer) {
		w.counters.bytesReadDomain.Add(n)
	} else {
		w.counters.bytesReadRemote.Add(n)
	}
}

func isUnixPeer(peer string) bool {
	_, _, err := net.SplitHostPort(peer)
	return err != nil
}

// handleOpenWhole passes a descriptor the kernel can serve reads from: the
// fully cached backing file (pinned by a lease until released), or, for a
// file not cached yet in an under-store of local files, the under-store
// file itself while the cache fills in the background.
func (w *Worker) handleOpenWhole(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.OpenWholeRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	ref := r.File
	conn, _ := rpc.ConnID(ctx)
	f, release, ok := w.store.OpenWhole(keyOf(ref), ref.Size)
	if !ok {
		// Only the home of every block serves the under-store file: in a
		// cluster the others read it by block from their homes.
		if uf := w.openUnderFileIfHome(ctx, ref); uf != nil {
			// The cache fills once the reader is done: filling while
			// the kernel reads the same file would halve its speed on
			// a small machine, and the reader pulled the bytes into the
			// page cache meanwhile.
			fill := func() {}
			if r.ReadType != "NO_CACHE" {
				fill = func() { w.fillLater(ref) }
			}
			id := w.addLease(conn, fill)
			w.counters.ufsPassthroughOpens.Add(1)
			return &rpc.Response{Body: wire.OpenWholeResponse{OK: true, Lease: id}, Files: []*os.File{uf}}, nil
		}
		return &rpc.Response{Body: wire.OpenWholeResponse{}}, nil
	}
	id := w.addLease(conn, release)
	w.counters.passthroughOpens.Add(1)
	w.counters.bytesPassedThrough.Add(ref.Size)
	return &rpc.Response{Body: wire.OpenWholeResponse{OK: true, Lease: id}, Files: []*os.File{f}}, nil
}

// addLease records a lease of connection conn, released by the client or
// when the connection goes away.
func (w *Worker) addLease(conn uint64, release func()) uint64 {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	w.nextID++
	w.leases[w.nextID] = lease{conn: conn, release: release}
	return w.nextID
}

// openUnderFileIfHome is openUnderFile when this worker is the home of
// every block of the file.
func (w *Worker) openUnderFileIfHome(ctx context.Context, ref wire.FileRef) *os.File {
	if !w.homeOfAll(ref) {
		return nil
	}
	return w.openUnderFile(ctx, ref)
}

// openUnderFile opens the under-store's own file when the store holds
// local files and the file is still the version asked for; nil otherwise.
func (w *Worker) openUnderFile(ctx context.Context, ref wire.FileRef) *os.File {
	if !ref.Persisted || ref.UfsFingerprint == "" {
		return nil
	}
	u, err := w.ufsOf(ctx, ref.MountID)
	if err != nil {
		return nil
	}
	fo, ok := u.(ufs.FileOpener)
	if !ok {
		return nil
	}
	f, fi, err := fo.OpenFile(ctx, ref.UfsPath)
	if err != nil {
		return nil
	}
	if fi.Fingerprint() != ref.UfsFingerprint || fi.Size != ref.Size {
		f.Close() // changed behind our back: let the range path decide
		return nil
	}
	return f
}

// fillLater reads a file into the cache in the background, once per file
// version at a time, when it fits comfortably in the tier.
func (w *Worker) fillLater(ref wire.FileRef) {
	if w.bgCtx.Err() != nil {
		return // closing
	}
	if st := w.store.Stats(); ref.Size > st.Capacity/2 {
		return
	}
	key := keyOf(ref)
	w.stateMu.Lock()
	if w.filling == nil {
		w.filling = map[blockstore.FileKey]bool{}
	}
	if w.filling[key] {
		w.stateMu.Unlock()
		return
	}
	w.filling[key] = true
	w.stateMu.Unlock()
	w.persists.Add(1)
	go func() {
		defer w.persists.Done()
		defer func() {
			w.stateMu.Lock()
			delete(w.filling, key)
			w.stateMu.Unlock()
		}()
		ctx, cancel := context.WithCancel(w.bgCtx)
		defer cancel()
		if err := w.readVersion(ctx, ref, nil); err != nil {
			w.log.Debug("background cache fill stopped", "file", ref.ID, "err", err)
		}
	}()
}

func (w *Worker) handleReleaseLease(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
	var r wire.LeaseRequest
	if err := req.Decode(&r); err != nil {
		return nil, err
	}
	w.stateMu.Lock()
	l, ok := w.leases[r.Lease]
	delete(w.leases, r.Lease)
	w.stateMu.Unlock()
	if ok {
		l.release()
	}
	conn, _ := rpc.ConnID(ctx)
	w.releaseLeases(conn, r.Leases)
	return &rpc.Response{}, nil
}

// Stats reports capacity and traffic.
func (w *Worker) Stats() wire.WorkerStats {
	st := w.store.Stats()
	w.stateMu.Lock()
	active := int64(len(w.sessions))
	w.stateMu.Unlock()
	return wire.WorkerStats{
		Capacity: st.Capacity, Used: st.Used, Pages: st.Pages,
		BytesReadCache: st.BytesReadCache, BytesReadUfs: st.BytesReadSource,
		BytesWrittenCache: st.BytesWritten, BytesWrittenUfs: w.counters.bytesWrittenUfs.Load(),
		BytesCopiedUfs:        w.counters.bytesCopiedUfs.Load(),
		Evictions:             st.Evictions,
		PassthroughOpens:      w.counters.passthroughOpens.Load(),
		UfsPassthroughOpens:   w.counters.ufsPassthroughOpens.Load(),
		BytesPassedThrough:    w.counters.bytesPassedThrough.Load(),
		PendingPersists:       w.counters.pendingPersists.Load(),
		BytesReadDomain:       w.counters.bytesReadDomain.Load(),
		BytesReadShortCircuit: w.counters.bytesShortCircuit.Load(),
		ShortCircuitFiles:     w.counters.shortCircuitFiles.Load(),
		BytesReadRemote:       w.counters.bytesReadRemote.Load(),
		BytesWrittenDomain:    w.counters.bytesWrittenDomain.Load(),
		BytesWrittenRemote:    w.counters.bytesWrittenRemote.Load(),
		ActiveWriteSessions:   active,
		ChecksumErrors:        st.ChecksumErrors,
		Demotions:             st.Demotions,
		Promotions:            st.Promotions,
		RecoveredPages:        int64(st.RecoveredPages),
		RecoveryDamaged:       int64(st.RecoveryDamaged),
	}
}

func (w *Worker) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(w.cfg.Heartbeat)
	defer t.Stop()
	for {
		w.heartbeat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) heartbeat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Heartbeat)
	defer cancel()
	info := wire.WorkerInfo{Address: w.cfg.RPCAddr, Gossip: w.cfg.GossipAddr, StartTime: w.start.UnixMilli(),
		Stats: w.Stats(), Tiers: w.tiers()}
	if w.cfg.WebAddr != "" {
		if _, port, err := net.SplitHostPort(w.cfg.WebAddr); err == nil {
			fmt.Sscan(port, &info.WebPort)
		}
	}
	if err := w.master.Call(ctx, wire.MasterHeartbeat, true, info, nil); err != nil && ctx.Err() == nil {
		w.log.Debug("heartbeat to master failed", "masters", w.cfg.MasterAddrs, "err", err)
	}
}

package blockstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// errClosed is returned by calls on a closed Store.
var errClosed = fmt.Errorf("blockstore: store is closed: %w", syscall.ESHUTDOWN)

// maxPrefetching caps the background page fetches in flight for the whole
// store, so many sequential readers cannot flood the under-store.
const maxPrefetching = 64

// Store is the worker's page cache over its tier directories. All methods
// are safe for concurrent use.
type Store struct {
	log      *slog.Logger
	pageSize int64
	prefetch int        // pages to prefetch ahead of sequential readers; 0 = off
	dirs     []*tierDir // level 0 directories
	bufs     sync.Pool  // *[]byte of pageSize, for fetched pages

	// ctx is cancelled by Close; fetches derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	// fetchers counts running fetch goroutines; Close waits for them.
	fetchers sync.WaitGroup

	// indexMu guards the index: files, pending, inflight, prefetching, pages
	// and closed, every mutable field of each file, and the usage and LRU of
	// each tierDir. It is held for bookkeeping only, never across I/O.
	indexMu     sync.Mutex
	files       map[FileKey]*file
	pending     map[FileKey]chan struct{} // key being created or unlinked; closed when done
	inflight    map[pageKey]*fetch
	prefetching int
	pages       int
	closed      bool

	bytesReadCache  atomic.Int64
	bytesReadSource atomic.Int64
	bytesWritten    atomic.Int64
	evictions       atomic.Int64
}

// Open prepares the tier directories of cfg (emptying the store's data folder
// in each) and returns a Store over them. A tier dir that is missing or not
// writable is an error naming the dir and its property.
func Open(cfg Config) (*Store, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	log := c.Logger.With("component", "blockstore")
	s := &Store{
		log:      log,
		pageSize: c.PageSize,
		prefetch: max(c.PrefetchPages, 0),
		files:    map[FileKey]*file{},
		pending:  map[FileKey]chan struct{}{},
		inflight: map[pageKey]*fetch{},
	}
	s.bufs.New = func() any {
		b := make([]byte, s.pageSize)
		return &b
	}
	t := c.Tiers[0]
	for i, dir := range t.Dirs {
		d, err := openDir(0, t.Alias, dir, t.Quotas[i], t.High, t.Low, c.DataFolder, log)
		if err != nil {
			return nil, err
		}
		s.dirs = append(s.dirs, d)
	}
	for level, t := range c.Tiers[1:] {
		log.Warn("tier level not used yet: only level 0 caches pages", "level", level+1, "tier", t.Alias, "dirs", t.Dirs)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	log.Info("page store open", "tier", t.Alias, "dirs", t.Dirs, "quotas", t.Quotas,
		"pageSize", s.pageSize, "prefetchPages", s.prefetch)
	return s, nil
}

// Close stops background fetches, waits for them, and closes the backing
// files once their current users are done. The backing files stay on disk.
// Close is idempotent; other calls fail after it.
func (s *Store) Close() error {
	s.indexMu.Lock()
	if s.closed {
		s.indexMu.Unlock()
		return nil
	}
	s.closed = true
	s.indexMu.Unlock()
	s.cancel()
	s.fetchers.Wait()

	s.indexMu.Lock()
	var toClose []*file
	for key, f := range s.files {
		delete(s.files, key)
		s.lruDetachLocked(f)
		f.removed = true
		if f.refs == 0 && !f.fdClosed {
			f.fdClosed = true
			toClose = append(toClose, f)
		}
	}
	s.indexMu.Unlock()
	var errs []error
	for _, f := range toClose {
		if err := f.fd.Close(); err != nil {
			errs = append(errs, fmt.Errorf("blockstore: close backing file of file %d: %w", f.key.ID, err))
		}
	}
	return errors.Join(errs...)
}

// settleLocked waits, with indexMu held on entry and on return, until no
// creation or unlink of key's backing file is in progress.
func (s *Store) settleLocked(ctx context.Context, key FileKey) error {
	for {
		ch := s.pending[key]
		if ch == nil {
			return nil
		}
		s.indexMu.Unlock()
		var err error
		select {
		case <-ch:
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.indexMu.Lock()
		if err != nil {
			return err
		}
	}
}

// installLocked creates key's backing file in the roomiest dir and adds it to
// the index with one reference held for the caller. indexMu is held on entry
// and on return but released while the file is created; key must be settled
// and absent.
func (s *Store) installLocked(key FileKey, setup func(f *file)) (*file, error) {
	d := s.dirs[0]
	for _, o := range s.dirs[1:] {
		if o.free() > d.free() {
			d = o
		}
	}
	done := make(chan struct{})
	s.pending[key] = done
	s.indexMu.Unlock()
	f, err := newFile(key, d)
	s.indexMu.Lock()
	delete(s.pending, key)
	close(done)
	if err != nil {
		return nil, err
	}
	if s.closed {
		f.fd.Close()
		os.Remove(f.path)
		return nil, errClosed
	}
	setup(f)
	f.refs = 1
	s.files[key] = f
	return f, nil
}

// acquire returns key's cached version of length size with a reference held,
// creating it if create is set. It returns nil and no error when there is
// nothing to use: the version is absent and create is not set, or a Writer
// is filling it.
func (s *Store) acquire(ctx context.Context, key FileKey, size int64, create bool) (*file, error) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for {
		if s.closed {
			return nil, errClosed
		}
		if err := s.settleLocked(ctx, key); err != nil {
			return nil, err
		}
		f := s.files[key]
		if f == nil {
			break
		}
		if f.writing {
			return nil, nil
		}
		if f.size == size {
			f.refs++
			return f, nil
		}
		// The same key with another length: the caller's view is the
		// newer one, so the cached version goes.
		s.log.Debug("file length changed under the same key; dropping the cached version",
			"file", key.ID, "cachedSize", f.size, "size", size)
		gone := s.removeLocked(f)
		s.indexMu.Unlock()
		s.finishRemove(f, gone)
		s.indexMu.Lock()
	}
	if !create {
		return nil, nil
	}
	return s.installLocked(key, func(f *file) { f.size = size })
}

// release drops a reference to f taken by acquire or a fetch.
func (s *Store) release(f *file) {
	s.indexMu.Lock()
	after := s.releaseLocked(f)
	s.indexMu.Unlock()
	if after != nil {
		after()
	}
}

// releaseLocked drops a reference to f. It returns the I/O the caller must
// run after unlocking, or nil: closing the descriptor of a removed file no
// longer used, or removing a version left with no page (all evicted, or
// none could be cached), so empty versions do not pile up open descriptors.
func (s *Store) releaseLocked(f *file) func() {
	f.refs--
	if f.refs > 0 {
		return nil
	}
	if f.removed {
		if f.fdClosed {
			return nil
		}
		f.fdClosed = true
		return func() { f.fd.Close() }
	}
	// An empty file (written by a Writer) is whole with no page; keep it.
	if f.npresent == 0 && f.size > 0 && !f.writing && f.leases == 0 && len(f.busy) == 0 {
		gone := s.removeLocked(f)
		return func() { s.finishRemove(f, gone) }
	}
	return nil
}

// removeLocked drops f from the index and returns the channel the caller
// must pass to finishRemove after unlocking; until then key stays pending.
func (s *Store) removeLocked(f *file) chan struct{} {
	delete(s.files, f.key)
	f.removed = true
	s.lruDetachLocked(f)
	f.eachPresent(func(idx int64) {
		f.dir.used -= pageLen(f.size, s.pageSize, idx)
	})
	s.pages -= f.npresent
	f.npresent = 0
	f.present = nil
	gone := make(chan struct{})
	s.pending[f.key] = gone
	return gone
}

// finishRemove unlinks a removed file's backing file, closes its descriptor
// if no one uses it, and lets its key be created again.
func (s *Store) finishRemove(f *file, gone chan struct{}) {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("remove backing file", "tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "err", err)
	}
	s.indexMu.Lock()
	if s.pending[f.key] == gone {
		delete(s.pending, f.key)
	}
	close(gone)
	closeFd := f.refs == 0 && !f.fdClosed
	if closeFd {
		f.fdClosed = true
	}
	s.indexMu.Unlock()
	if closeFd {
		f.fd.Close()
	}
}

// Remove drops a cached file version, e.g. because the file was deleted or
// rewritten. Reads in progress finish with the bytes they started on.
func (s *Store) Remove(key FileKey) {
	s.indexMu.Lock()
	s.settleLocked(context.Background(), key)
	f := s.files[key]
	if f == nil {
		s.indexMu.Unlock()
		return
	}
	gone := s.removeLocked(f)
	s.indexMu.Unlock()
	s.finishRemove(f, gone)
}

// RemoveID drops every cached version of inode id.
func (s *Store) RemoveID(id uint64) {
	s.indexMu.Lock()
	var keys []FileKey
	for key := range s.files {
		if key.ID == id {
			keys = append(keys, key)
		}
	}
	s.indexMu.Unlock()
	for _, key := range keys {
		s.Remove(key)
	}
}

// Unpin makes the pages of a file created with pinned=true evictable, once
// its data also exists elsewhere (e.g. it was persisted to the under-store).
func (s *Store) Unpin(key FileKey) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f := s.files[key]
	if f == nil || !f.unevictable {
		return
	}
	f.unevictable = false
	if f.evictable() {
		s.lruAttachLocked(f)
	}
}

// OpenWhole returns a read-only descriptor of key's backing file if every
// page of the file (of length size) is present, so that the backing file is
// the whole file. Until release is called the file is pinned: none of its
// pages is evicted. The caller closes f when done with it; release only ends
// the pin and may be called any number of times.
func (s *Store) OpenWhole(key FileKey, size int64) (f *os.File, release func(), ok bool) {
	s.indexMu.Lock()
	cf := s.files[key]
	if s.closed || cf == nil || cf.writing || cf.size != size || int64(cf.npresent) != numPages(size, s.pageSize) {
		s.indexMu.Unlock()
		return nil, nil, false
	}
	if cf.evictable() {
		s.lruDetachLocked(cf)
	}
	cf.leases++
	cf.refs++
	s.indexMu.Unlock()

	var once sync.Once
	release = func() {
		once.Do(func() {
			s.indexMu.Lock()
			cf.leases--
			if cf.evictable() {
				s.lruAttachLocked(cf)
			}
			after := s.releaseLocked(cf)
			s.indexMu.Unlock()
			if after != nil {
				after()
			}
		})
	}
	f, err := os.Open(cf.path)
	if err != nil {
		// Removed in the meantime.
		release()
		return nil, nil, false
	}
	// The path may name a newer version if this one was removed meanwhile.
	fi, err1 := f.Stat()
	ci, err2 := cf.fd.Stat()
	if err1 != nil || err2 != nil || !os.SameFile(fi, ci) {
		f.Close()
		release()
		return nil, nil, false
	}
	return f, release, true
}

// Cached reports how many of the pages of key's version (of length size) are
// present, out of total.
func (s *Store) Cached(key FileKey, size int64) (pages, total int) {
	total = int(numPages(max(size, 0), s.pageSize))
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f := s.files[key]
	if f == nil || f.writing || f.size != size {
		return 0, total
	}
	return f.npresent, total
}

// Stats is a snapshot of the store's usage and counters.
type Stats struct {
	// Capacity is the sum of the quotas of the tier dirs in use.
	Capacity int64
	// Used is the sum of the lengths of present pages.
	Used int64
	// Pages is the number of present pages.
	Pages int
	// Files is the number of cached file versions.
	Files int
	// BytesReadCache counts bytes returned by ReadAt from cached pages.
	BytesReadCache int64
	// BytesReadSource counts bytes fetched from sources, prefetches included.
	BytesReadSource int64
	// BytesWritten counts bytes written through Writers.
	BytesWritten int64
	// Evictions counts pages evicted to make room.
	Evictions int64
	// Tiers holds one entry per tier dir in use.
	Tiers []TierStats
}

// TierStats is the usage of one tier dir.
type TierStats struct {
	// Alias is the tier's storage class, e.g. "MEM".
	Alias string
	// Dir is the tier dir as configured.
	Dir string
	// Capacity is the dir's quota.
	Capacity int64
	// Used is the bytes of present pages in the dir.
	Used int64
}

// Stats returns a snapshot of usage and counters.
func (s *Store) Stats() Stats {
	st := Stats{
		BytesReadCache:  s.bytesReadCache.Load(),
		BytesReadSource: s.bytesReadSource.Load(),
		BytesWritten:    s.bytesWritten.Load(),
		Evictions:       s.evictions.Load(),
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	st.Pages = s.pages
	st.Files = len(s.files)
	for _, d := range s.dirs {
		st.Capacity += d.quota
		st.Used += d.used
		st.Tiers = append(st.Tiers, TierStats{Alias: d.alias, Dir: d.path, Capacity: d.quota, Used: d.used})
	}
	return st
}

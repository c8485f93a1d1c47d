package blockstore

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// errClosed is returned by calls on a closed Store.
var errClosed = fmt.Errorf("blockstore: store is closed: %w", syscall.ESHUTDOWN)

// Store is the worker's page cache over its tier directories. All methods
// are safe for concurrent use.
type Store struct {
	log        *slog.Logger
	pageSize   int64
	prefetch   int          // pages to fetch ahead of sequential readers; 0 = off
	dirs       []*tierDir   // every dir, level by level
	levels     [][]*tierDir // dirs by level
	probeEvery time.Duration
	bufs       sync.Pool // *[]byte of pageSize, for fetched pages

	// ctx is cancelled by Close; fetches and moves derive from it.
	ctx    context.Context
	cancel context.CancelFunc
	// fetchers counts running fetch goroutines; Close waits for them.
	fetchers sync.WaitGroup
	// mover is the background goroutine (demotion, promotion, probes);
	// it stops when ctx is cancelled and Close waits for it.
	mover sync.WaitGroup
	kick  chan struct{} // wakes the mover; buffered, never blocks

	// indexMu guards the index: files, pending, inflight, prefetching, fresh,
	// pages, closed, pinnedIDs and the promotion queue, every mutable field
	// of each file, and the mutable fields of each tierDir. It is held for
	// bookkeeping only, never across I/O.
	indexMu     sync.Mutex
	files       map[FileKey]*file
	pending     map[FileKey]chan struct{} // key being created, unlinked or renamed; closed when done
	inflight    map[pageKey]*fetch
	prefetching int64 // bytes of pages being fetched ahead of readers
	fresh       map[pageKey]*freshPage
	freshQ      list.List // of *freshPage, oldest first
	freshBytes  int64
	freshCap    int64 // bytes of fresh pages kept at most; never changes
	freshGen    uint64
	pages       int
	closed      bool
	pinnedIDs   map[uint64]bool // SetPinned ids
	promoteQ    []FileKey       // files to move to level 0
	promoteSet  map[FileKey]bool

	bytesReadCache  atomic.Int64
	bytesReadSource atomic.Int64
	bytesWritten    atomic.Int64
	evictions       atomic.Int64
	checksumErrors  atomic.Int64
	demotions       atomic.Int64
	promotions      atomic.Int64
	recovered       recoveryStats // guarded by indexMu
}

// Open opens the tier directories of cfg, recovers the pages cached in them
// by an earlier run (verifying each against its checksum), and returns a
// Store over them. A dir that is missing, not writable or cannot punch holes
// is marked failed (see Stats) and probed every Config.ProbeInterval; Open
// fails only when no dir at all is usable, with an error naming each dir,
// its property and the cause.
func Open(cfg Config) (*Store, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	log := c.Logger.With("component", "blockstore")
	s := &Store{
		log:        log,
		pageSize:   c.PageSize,
		prefetch:   max(c.PrefetchPages, 0),
		probeEvery: c.ProbeInterval,
		kick:       make(chan struct{}, 1),
		files:      map[FileKey]*file{},
		pending:    map[FileKey]chan struct{}{},
		inflight:   map[pageKey]*fetch{},
		fresh:      map[pageKey]*freshPage{},
		pinnedIDs:  map[uint64]bool{},
		promoteSet: map[FileKey]bool{},
	}
	s.freshCap = min(2*int64(s.prefetch)*s.pageSize, maxFreshBytes)
	s.bufs.New = func() any {
		b := make([]byte, s.pageSize)
		return &b
	}
	var errs []error
	usable := 0
	for level, t := range c.Tiers {
		var dirs []*tierDir
		for i := range t.Dirs {
			d := newTierDir(c, level, i, c.DataFolder)
			if err := d.probe(); err != nil {
				d.failed, d.reason = true, err.Error()
				errs = append(errs, err)
				log.Warn("tier dir unusable; it is probed again later", "tier", d.alias, "dir", d.path,
					"property", d.prop, "err", err, "probeEvery", s.probeEvery)
			} else {
				d.warnSize(log)
				usable++
			}
			dirs = append(dirs, d)
			s.dirs = append(s.dirs, d)
		}
		s.levels = append(s.levels, dirs)
	}
	if usable == 0 {
		return nil, fmt.Errorf("blockstore: no usable tier dir: %w", errors.Join(errs...))
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var scan []*tierDir
	for _, d := range s.dirs {
		if !d.failed {
			scan = append(scan, d)
		}
	}
	s.recover(scan)
	for _, t := range c.Tiers {
		log.Info("page store tier", "tier", t.Alias, "dirs", t.Dirs, "quotas", t.Quotas, "high", t.High, "low", t.Low)
	}
	log.Info("page store open", "levels", len(c.Tiers), "pageSize", s.pageSize, "prefetchPages", s.prefetch,
		"evictor", c.Evictor, "verifyReads", c.VerifyReads)
	s.mover.Add(1)
	go s.runMover()
	return s, nil
}

// Close stops background fetches and moves, waits for them, and closes the
// backing files once their current users are done. The backing files and
// their page logs stay on disk for the next Open to recover. Close is
// idempotent; other calls fail after it.
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
	s.mover.Wait()

	s.indexMu.Lock()
	s.dropAllFreshLocked()
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
		f.log.close()
		if err := f.fd.Close(); err != nil {
			errs = append(errs, fmt.Errorf("blockstore: close backing file of file %d: %w", f.key.ID, err))
		}
	}
	return errors.Join(errs...)
}

// settleLocked waits, with indexMu held on entry and on return, until no
// creation, unlink or rename of key's backing file is in progress.
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

// errNoDir is returned when no tier dir can take a new file.
var errNoDir = fmt.Errorf("blockstore: no usable tier dir: %w", syscall.ENOSPC)

// placeLocked picks the dir for a new file version of size bytes (-1 when
// unknown, for a Writer): the first level, fastest first, whose roomiest
// usable dir (most free bytes) has a high watermark of at least size, so
// that the whole file can live there once room is made by eviction or
// demotion. A file larger than that everywhere goes to the roomiest usable
// dir of the slowest usable level. It returns nil when every dir failed.
func (s *Store) placeLocked(size int64) *tierDir {
	var last *tierDir
	for _, level := range s.levels {
		var best *tierDir
		for _, d := range level {
			if !d.failed && (best == nil || d.free() > best.free()) {
				best = d
			}
		}
		if best == nil {
			continue
		}
		if size < 0 || size <= best.high {
			return best
		}
		last = best
	}
	return last
}

// installLocked creates key's backing file in the dir placement picks and
// adds it to the index with one reference held for the caller. indexMu is
// held on entry and on return but released while the file is created; key
// must be settled and absent. size is -1 for a Writer's file.
func (s *Store) installLocked(key FileKey, size int64, pinned bool) (*file, error) {
	d := s.placeLocked(size)
	if d == nil {
		return nil, errNoDir
	}
	writing := size < 0
	userPinned := s.pinnedIDs[key.ID]
	flags := (&file{pinned: pinned, userPinned: userPinned}).logFlags()
	if writing {
		flags |= logWriting
	}
	done := make(chan struct{})
	s.pending[key] = done
	s.indexMu.Unlock()
	f, err := newFile(key, d, s.pageSize, max(size, 0), flags)
	if err != nil {
		s.noteWriteError(d, err)
	}
	s.indexMu.Lock()
	delete(s.pending, key)
	close(done)
	if err != nil {
		return nil, err
	}
	if s.closed {
		s.indexMu.Unlock()
		f.closeFiles()
		s.unlinkFiles(f)
		s.indexMu.Lock()
		return nil, errClosed
	}
	f.writing = writing
	f.pinned = pinned
	f.userPinned = s.pinnedIDs[key.ID]
	f.refs = 1
	s.files[key] = f
	if f.userPinned != userPinned {
		// SetPinned ran while the file was made, and did not find it: the
		// pin its header lacks goes in a record of its own. SetPinned
		// calls from now on find the file.
		s.indexMu.Unlock()
		s.logPins(f)
		s.indexMu.Lock()
	}
	return f, nil
}

// acquire returns key's cached version of length size with a reference held,
// creating it if create is set. It returns nil and no error when there is
// nothing to use: the version is absent and create is not set or no dir can
// take it, a Writer is filling it, or it is pinned with another length.
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
		if f.pinned || f.userPinned || f.partial {
			// Pinned data may be the only copy: never dropped by a
			// reader's different view; the read bypasses the cache.
			return nil, nil
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
	f, err := s.installLocked(key, size, false)
	if errors.Is(err, errClosed) {
		return nil, err
	}
	if err != nil {
		// The read is served uncached.
		s.log.Debug("cannot cache file", "file", key.ID, "err", err)
		return nil, nil
	}
	return f, nil
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
// run after unlocking, or nil: closing the descriptors of a removed file no
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
		return f.closeFiles
	}
	// An empty file (written by a Writer) is whole with no page; keep it.
	if f.npresent == 0 && f.size > 0 && !f.writing && !f.moving && f.leases == 0 && len(f.busy) == 0 {
		gone := s.removeLocked(f)
		return func() { s.finishRemove(f, gone) }
	}
	return nil
}

// removeLocked drops f from the index and returns the channel the caller
// must pass to finishRemove after unlocking; until then key stays pending.
func (s *Store) removeLocked(f *file) chan struct{} {
	delete(s.files, f.key)
	s.dropStateLocked(f)
	gone := make(chan struct{})
	s.pending[f.key] = gone
	return gone
}

// dropStateLocked marks f removed and takes its pages out of the
// accounting.
func (s *Store) dropStateLocked(f *file) {
	f.removed = true
	s.lruDetachLocked(f)
	f.eachPresent(func(idx int64) {
		f.dir.used -= pageLen(f.size, s.pageSize, idx)
	})
	s.pages -= f.npresent
	f.npresent = 0
	f.present, f.verified, f.crcs, f.nodes = nil, nil, nil, nil
}

// finishRemove unlinks a removed file's backing file and page log, closes
// its descriptors if no one uses them, and lets its key be created again.
func (s *Store) finishRemove(f *file, gone chan struct{}) {
	s.unlinkFiles(f)
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
		f.closeFiles()
	}
}

// unlinkFiles removes f's backing file and page log from its dir. It waits
// for a rewrite of the log in progress, and keeps later ones from
// re-creating it where a new version of the key may live.
func (s *Store) unlinkFiles(f *file) {
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	f.log.unlinked = true
	for _, p := range []string{f.log.path, f.path} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("remove cached file", "tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "path", p, "err", err)
		}
	}
}

// Remove drops a cached file version, e.g. because the file was deleted or
// rewritten, pinned or not. Reads in progress finish with the bytes they
// started on.
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
	for _, key := range s.keysOf(id) {
		s.Remove(key)
	}
}

// FreeID drops the cached versions of inode id that exist elsewhere too
// (alluxio fs free): a version being written, or pinned as the only copy
// of its bytes (Create(key, true): MUST_CACHE, or ASYNC_THROUGH not yet
// persisted), stays. It returns the number of versions kept.
func (s *Store) FreeID(id uint64) (kept int) {
	for _, key := range s.keysOf(id) {
		s.indexMu.Lock()
		s.settleLocked(context.Background(), key)
		f := s.files[key]
		switch {
		case f == nil:
			s.indexMu.Unlock()
		case f.pinned || f.writing:
			s.indexMu.Unlock()
			kept++
		default:
			gone := s.removeLocked(f)
			s.indexMu.Unlock()
			s.finishRemove(f, gone)
		}
	}
	return kept
}

func (s *Store) keysOf(id uint64) []FileKey {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	var keys []FileKey
	for key := range s.files {
		if key.ID == id {
			keys = append(keys, key)
		}
	}
	return keys
}

// Unpin ends the pin of a file created with pinned=true, once its data also
// exists elsewhere (e.g. it was persisted to the under-store): its pages
// become evictable unless the inode is also pinned with SetPinned. The
// change is recorded in the page log, so it survives a restart.
func (s *Store) Unpin(key FileKey) {
	s.indexMu.Lock()
	f := s.files[key]
	if f == nil || !f.pinned {
		s.indexMu.Unlock()
		return
	}
	f.pinned = false
	if f.evictable() {
		s.lruAttachLocked(f)
	}
	f.refs++
	s.indexMu.Unlock()
	s.logPins(f)
	s.release(f)
}

// SetPinned pins (or unpins) every cached version of inode id, now and
// later ones, as Alluxio's `alluxio fs pin` does: the pages of a pinned
// version are never evicted. The pin is recorded in the page log of each
// cached version, so it survives a restart through them (an id with no
// cached version forgets its pin at restart: the worker should re-apply the
// master's pin list). It combines with the pin of Create(key, true) by
// "either": a version's pages are evictable only once Unpin(key) was called
// for a Create pin and SetPinned(id, false) for a user pin.
func (s *Store) SetPinned(id uint64, pinned bool) {
	s.indexMu.Lock()
	if pinned {
		s.pinnedIDs[id] = true
	} else {
		delete(s.pinnedIDs, id)
	}
	var changed []*file
	for key, f := range s.files {
		if key.ID != id || f.userPinned == pinned {
			continue
		}
		f.userPinned = pinned
		if f.evictable() {
			s.lruAttachLocked(f)
		} else {
			s.lruDetachLocked(f)
		}
		f.refs++
		changed = append(changed, f)
	}
	s.indexMu.Unlock()
	for _, f := range changed {
		s.logPins(f)
		s.release(f)
	}
}

// OpenWhole returns a read-only descriptor of key's backing file if every
// page of the file (of length size) is present, so that the backing file is
// the whole file. Until release is called the file is pinned: none of its
// pages is evicted. The caller closes f when done with it; release only ends
// the pin and may be called any number of times.
//
// On a tier that verifies reads, the pages not verified since they were
// written or recovered are checked first; a page that fails its checksum is
// punched out (to be fetched again by the next read) and ok is false.
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
	var check []hit
	if cf.dir.verify {
		cf.eachPresent(func(idx int64) {
			if !cf.isVerified(idx) {
				check = append(check, hit{idx: idx, crc: cf.crc(idx)})
			}
		})
	}
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
	if len(check) > 0 && !s.verifyLeased(cf, check) {
		release()
		return nil, nil, false
	}
	s.indexMu.Lock()
	// A reader may have punched out a page that failed its checksum.
	whole := !cf.removed && int64(cf.npresent) == numPages(size, s.pageSize)
	s.indexMu.Unlock()
	if !whole {
		release()
		return nil, nil, false
	}
	f, err := os.Open(cf.path)
	if err != nil {
		// Removed or moved in the meantime.
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

// verifyLeased checks pages of a leased file against their checksums; it
// punches out the bad ones and reports whether all were good.
func (s *Store) verifyLeased(f *file, pages []hit) bool {
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	var good, bad []int64
	for _, h := range pages {
		n := pageLen(f.size, s.pageSize, h.idx)
		buf := (*bp)[:n]
		if _, err := f.fd.ReadAt(buf, h.idx*s.pageSize); err != nil || pageCRC(buf) != h.crc {
			s.corrupt(f, h.idx, err)
			bad = append(bad, h.idx)
			continue
		}
		good = append(good, h.idx)
	}
	s.indexMu.Lock()
	for _, idx := range good {
		if f.has(idx) {
			f.setVerified(idx)
		}
	}
	var victims []victim
	for _, idx := range bad {
		if f.has(idx) && f.busy[idx] == 0 && f.pins[idx] == 0 {
			victims = append(victims, s.dropPageLocked(f, idx))
		}
	}
	s.indexMu.Unlock()
	s.punch(victims)
	return len(bad) == 0
}

// corrupt counts and logs a cached page that failed its checksum (err nil)
// or could not be read (err set; a failing device marks the dir failed).
func (s *Store) corrupt(f *file, idx int64, err error) {
	if err != nil {
		s.indexMu.Lock()
		newly := err != nil && s.markFailedLocked(f.dir, err)
		s.indexMu.Unlock()
		if newly {
			s.logFailed(f.dir, err)
		}
		s.warnOnce(&f.dir.warnedRead, "reading a cached page failed; it is fetched again",
			"tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "page", idx, "err", err)
		return
	}
	s.checksumErrors.Add(1)
	s.indexMu.Lock()
	first := !f.warnedCorrupt
	f.warnedCorrupt = true
	s.indexMu.Unlock()
	msg := "cached page failed its checksum; it is punched out and fetched again"
	if first {
		s.log.Warn(msg, "tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "page", idx, "path", f.path)
	} else {
		s.log.Debug(msg, "tier", f.dir.alias, "dir", f.dir.path, "file", f.key.ID, "page", idx)
	}
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

// CachedFile describes one cached file version, as Files lists them.
type CachedFile struct {
	// Key is the file version.
	Key FileKey
	// Size is the file's length; for a Partial file, the bytes of the pages
	// its Writer completed.
	Size int64
	// Pages is the number of present pages, out of Total.
	Pages, Total int
	// Tier is the alias of the tier level holding the file, e.g. "MEM".
	Tier string
	// Level is that tier level, 0 the fastest.
	Level int
	// Dir is the tier dir holding the file, as configured.
	Dir string
	// Pinned is set while the file's pages are unevictable because of
	// Create(key, true) (not yet Unpin'ned) or SetPinned.
	Pinned bool
	// Held is set while the file is pinned by Create(key, true), not
	// Unpin'ned yet: the caller said its bytes exist nowhere else.
	Held bool
	// Partial is set for a file whose pinned Writer had not closed when the
	// worker stopped: its pages were kept (they may be the only copy of the
	// data) but its real length is unknown. Reads with another length
	// bypass it; Remove drops it.
	Partial bool
	// Writing is set while a Writer fills the file.
	Writing bool
}

// Files lists the cached file versions, e.g. so that after a restart the
// worker can re-queue work for the pinned ones (a persist that was
// pending). The order is unspecified.
func (s *Store) Files() []CachedFile {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	out := make([]CachedFile, 0, len(s.files))
	for _, f := range s.files {
		out = append(out, CachedFile{
			Key:     f.key,
			Size:    f.size,
			Pages:   f.npresent,
			Total:   int(numPages(f.size, s.pageSize)),
			Tier:    f.dir.alias,
			Level:   f.dir.level,
			Dir:     f.dir.path,
			Pinned:  f.pinned || f.userPinned,
			Held:    f.pinned,
			Partial: f.partial,
			Writing: f.writing,
		})
	}
	return out
}

// Stats is a snapshot of the store's usage and counters.
type Stats struct {
	// Capacity is the sum of the quotas of the tier dirs in use (not
	// failed).
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
	// ChecksumErrors counts cached pages found corrupt while serving them
	// (ReadAt, OpenWhole, a move between tiers); each was punched out.
	ChecksumErrors int64
	// Demotions counts files moved to a lower tier level to make room.
	Demotions int64
	// Promotions counts files moved to level 0 by ReadCachePromote reads.
	Promotions int64
	// RecoveredFiles and RecoveredPages count what Open found again from
	// an earlier run; RecoveryDamaged counts the pages it dropped because
	// they failed their checksum.
	RecoveredFiles, RecoveredPages, RecoveryDamaged int
	// Tiers holds one entry per tier dir, failed ones included, level by
	// level.
	Tiers []TierStats
}

// TierStats is the usage and state of one tier dir.
type TierStats struct {
	// Alias is the tier's storage class, e.g. "MEM".
	Alias string
	// Level is the tier level, 0 the fastest.
	Level int
	// MediumType is the dir's medium type (the alias unless configured).
	MediumType string
	// Dir is the tier dir as configured.
	Dir string
	// Capacity is the dir's quota.
	Capacity int64
	// Used is the bytes of present pages in the dir.
	Used int64
	// Failed is set while the dir takes no new pages (it could not be
	// opened, or a write to it failed); Reason says why.
	Failed bool
	// Reason is the error that made the dir fail.
	Reason string
	// Demotions counts files moved out of this dir to a lower level.
	Demotions int64
	// Promotions counts files moved into this dir from a lower level.
	Promotions int64
}

// Stats returns a snapshot of usage and counters.
func (s *Store) Stats() Stats {
	st := Stats{
		BytesReadCache:  s.bytesReadCache.Load(),
		BytesReadSource: s.bytesReadSource.Load(),
		BytesWritten:    s.bytesWritten.Load(),
		Evictions:       s.evictions.Load(),
		ChecksumErrors:  s.checksumErrors.Load(),
		Demotions:       s.demotions.Load(),
		Promotions:      s.promotions.Load(),
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	st.RecoveredFiles = s.recovered.files
	st.RecoveredPages = s.recovered.pages
	st.RecoveryDamaged = s.recovered.damaged
	st.Pages = s.pages
	st.Files = len(s.files)
	for _, d := range s.dirs {
		if !d.failed {
			st.Capacity += d.quota
		}
		st.Used += d.used
		st.Tiers = append(st.Tiers, TierStats{
			Alias: d.alias, Level: d.level, MediumType: d.mediumType, Dir: d.path,
			Capacity: d.quota, Used: d.used, Failed: d.failed, Reason: d.reason,
			Demotions: d.demotions, Promotions: d.promotions,
		})
	}
	return st
}

// ResetCounters sets the traffic counters of Stats back to zero (alluxio
// fsadmin metrics clear); capacity, usage and recovery figures stay.
func (s *Store) ResetCounters() {
	for _, c := range []*atomic.Int64{&s.bytesReadCache, &s.bytesReadSource, &s.bytesWritten,
		&s.evictions, &s.checksumErrors, &s.demotions, &s.promotions} {
		c.Store(0)
	}
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for _, d := range s.dirs {
		d.demotions, d.promotions = 0, 0
	}
}

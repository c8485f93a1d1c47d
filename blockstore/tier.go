package blockstore

import (
	"container/list"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// tierDir is one directory of a tier level with its quota, usage and LRU.
//
// alias, level, path, data, quota, high and low never change; used, reserved
// and lru are guarded by Store.indexMu.
type tierDir struct {
	alias string
	level int
	path  string // the tier dir as configured
	data  string // path/<data folder>, owned by the store
	quota int64
	high  int64 // bytes above which eviction starts
	low   int64 // bytes eviction brings usage down to

	used     int64      // bytes of present pages
	reserved int64      // bytes reserved for pages being written
	lru      *list.List // of *lruPage, front = most recently used; evictable pages only

	warnedWrite atomic.Bool // a page write failed (log once)
	warnedPunch atomic.Bool // a hole punch failed (log once)
}

// lruPage is the LRU entry of one present page.
type lruPage struct {
	f   *file
	idx int64
}

// victim is an evicted page whose hole still has to be punched.
type victim struct {
	f   *file
	idx int64
	off int64
	n   int64
}

// openDir checks a tier directory, empties the store's data folder in it and
// checks that its file system can punch holes.
func openDir(level int, alias, dir string, quota int64, high, low float64, folder string, log *slog.Logger) (*tierDir, error) {
	prop := propTier(level, "dirs.path")
	fail := func(what string, err error) error {
		return fmt.Errorf("blockstore: tier %s dir %s (%s): %s: %w", alias, dir, prop, what, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fail("cannot use directory", err)
	}
	if !fi.IsDir() {
		return nil, fail("not a directory", syscall.ENOTDIR)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return nil, fail("not writable", err)
	}
	data := filepath.Join(dir, folder)
	// Leftovers of an earlier run are dropped; recovering them on restart is
	// a later step.
	if err := os.RemoveAll(data); err != nil {
		return nil, fail("remove leftovers", err)
	}
	if err := os.Mkdir(data, 0o700); err != nil {
		return nil, fail("create data folder", err)
	}
	if err := probePunch(data); err != nil {
		return nil, fail("file system cannot punch holes, which eviction needs", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil {
		if total := int64(st.Blocks) * st.Bsize; total > 0 && quota > total {
			log.Warn("tier dir quota exceeds the size of its file system", "tier", alias, "dir", dir,
				"quota", quota, "fsSize", total)
		}
	}
	return &tierDir{
		alias: alias,
		level: level,
		path:  dir,
		data:  data,
		quota: quota,
		high:  int64(high * float64(quota)),
		low:   int64(low * float64(quota)),
		lru:   list.New(),
	}, nil
}

// probePunch punches a hole in a scratch file, so that a file system without
// hole punching is refused at Open rather than silently never freeing space.
func probePunch(dir string) error {
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 2*pageAlign), 0); err != nil {
		return err
	}
	return punchHole(f, 0, pageAlign)
}

// punchHole frees the blocks of [off, off+n) of f, keeping its size.
func punchHole(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Control(func(fd uintptr) {
		for {
			perr = unix.Fallocate(int(fd), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
			if !errors.Is(perr, unix.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return perr
}

// free is the room left in d for new pages.
func (d *tierDir) free() int64 {
	return d.quota - d.used - d.reserved
}

// reserveLocked reserves n bytes in d for a page about to be written. If that
// would pass the high watermark, it first evicts least-recently-used pages
// until usage is at the low watermark (and the page fits the quota, which
// matters only when low is 1). The evicted pages are returned even when the
// reservation fails; the caller punches them after unlocking.
func (s *Store) reserveLocked(d *tierDir, n int64) (victims []victim, ok bool) {
	if d.used+d.reserved+n > d.high {
		for e := d.lru.Back(); e != nil && (d.used+d.reserved > d.low || d.used+d.reserved+n > d.quota); {
			prev := e.Prev()
			pg := e.Value.(*lruPage)
			if pg.f.pins[pg.idx] == 0 {
				victims = append(victims, s.evictLocked(pg.f, pg.idx, e))
			}
			e = prev
		}
	}
	if d.used+d.reserved+n > d.quota {
		return victims, false
	}
	d.reserved += n
	return victims, true
}

// evictLocked drops page idx of f from the index and marks it as being
// punched; the returned victim holds a reference to f until punched.
func (s *Store) evictLocked(f *file, idx int64, e *list.Element) victim {
	d := f.dir
	d.lru.Remove(e)
	delete(f.elems, idx)
	f.clear(idx)
	f.npresent--
	s.pages--
	n := pageLen(f.size, s.pageSize, idx)
	d.used -= n
	f.setBusy(idx, pagePunching)
	f.refs++
	s.evictions.Add(1)
	return victim{f: f, idx: idx, off: idx * s.pageSize, n: n}
}

// punch punches the holes of evicted pages and lets them be filled again.
func (s *Store) punch(victims []victim) {
	for _, v := range victims {
		err := punchHole(v.f.fd, v.off, v.n)
		if err != nil {
			s.warnOnce(&v.f.dir.warnedPunch, "punching an evicted page's hole failed; the tier dir may hold more than its usage shows",
				"tier", v.f.dir.alias, "dir", v.f.dir.path, "file", v.f.key.ID, "page", v.idx, "err", err)
		}
		s.indexMu.Lock()
		delete(v.f.busy, v.idx)
		after := s.releaseLocked(v.f)
		s.indexMu.Unlock()
		if after != nil {
			after()
		}
	}
}

// markPresentLocked records that page idx of f (n bytes) now holds its bytes.
func (s *Store) markPresentLocked(f *file, idx, n int64) {
	f.set(idx)
	f.npresent++
	f.dir.used += n
	s.pages++
	if f.evictable() {
		f.elems[idx] = f.dir.lru.PushFront(&lruPage{f: f, idx: idx})
	}
}

// touchLocked moves page idx of f to the front of its LRU.
func (s *Store) touchLocked(f *file, idx int64) {
	if e := f.elems[idx]; e != nil {
		f.dir.lru.MoveToFront(e)
	}
}

// lruDetachLocked takes f's pages out of the LRU, making them unevictable.
func (s *Store) lruDetachLocked(f *file) {
	for idx, e := range f.elems {
		f.dir.lru.Remove(e)
		delete(f.elems, idx)
	}
}

// lruAttachLocked puts f's present pages back into the LRU as recently used.
func (s *Store) lruAttachLocked(f *file) {
	f.eachPresent(func(idx int64) {
		if f.elems[idx] == nil {
			f.elems[idx] = f.dir.lru.PushFront(&lruPage{f: f, idx: idx})
		}
	})
}

// warnOnce logs at Warn the first time flag is raised and at Debug after.
func (s *Store) warnOnce(flag *atomic.Bool, msg string, args ...any) {
	if flag.CompareAndSwap(false, true) {
		s.log.Warn(msg, args...)
		return
	}
	s.log.Debug(msg, args...)
}

package blockstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// tierDir is one directory of a tier level with its quota, usage and
// evictor.
//
// alias, mediumType, level, path, data, prop, quota, high, low and verify
// never change; the other fields (but the atomics) are guarded by
// Store.indexMu.
type tierDir struct {
	alias      string
	mediumType string
	level      int
	path       string // the tier dir as configured
	data       string // path/<data folder>, owned by the store
	prop       string // the property that configures path, for messages
	quota      int64
	high       int64 // bytes above which eviction or demotion starts
	low        int64 // bytes eviction or demotion brings usage down to
	verify     bool  // check page checksums on every cache hit

	used     int64   // bytes of present pages
	reserved int64   // bytes reserved for pages being written or files being moved in
	ev       evictor // evictable pages of the dir

	failed   bool   // no new page goes here; probed until it works again
	reason   string // why it failed
	scanned  bool   // its data folder was recovered (false if it failed at Open)
	needRoom bool   // passed its high watermark; the mover will demote from it

	demotions  int64 // files moved out of this dir to a lower level
	promotions int64 // files moved into this dir from a lower level

	warnedWrite atomic.Bool // a page write failed (log once)
	warnedPunch atomic.Bool // a hole punch failed (log once)
	warnedRead  atomic.Bool // a cached page read failed (log once)
}

// victim is an evicted page whose hole still has to be punched.
type victim struct {
	f   *file
	idx int64
	off int64
	n   int64
}

// newTierDir returns the (not yet opened) dir i of tier level.
func newTierDir(c Config, level, i int, folder string) *tierDir {
	t := c.Tiers[level]
	mt := t.Alias
	if len(t.MediumTypes) > 0 && t.MediumTypes[i] != "" {
		mt = t.MediumTypes[i]
	}
	verify := c.VerifyReads == VerifyAlways || c.VerifyReads == VerifyAuto && !strings.EqualFold(t.Alias, "MEM")
	q := t.Quotas[i]
	return &tierDir{
		alias:      t.Alias,
		mediumType: mt,
		level:      level,
		path:       t.Dirs[i],
		data:       filepath.Join(t.Dirs[i], folder),
		prop:       propTier(level, "dirs.path"),
		quota:      q,
		high:       int64(t.High * float64(q)),
		low:        int64(t.Low * float64(q)),
		verify:     verify,
		ev:         newEvictor(c.Evictor, c.LRFUStepFactor, c.LRFUAttenuationFactor),
	}
}

// probe checks that d can hold pages: it is a writable directory, its data
// folder exists (it is created if missing), and its file system can punch
// holes. The error names the dir and its property.
func (d *tierDir) probe() error {
	fail := func(what string, err error) error {
		return fmt.Errorf("blockstore: tier %s dir %s (%s): %s: %w", d.alias, d.path, d.prop, what, err)
	}
	fi, err := os.Stat(d.path)
	if err != nil {
		return fail("cannot use directory", err)
	}
	if !fi.IsDir() {
		return fail("not a directory", syscall.ENOTDIR)
	}
	if err := unix.Access(d.path, unix.W_OK|unix.X_OK); err != nil {
		return fail("not writable", err)
	}
	if err := os.Mkdir(d.data, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fail("create data folder", err)
	}
	if fi, err := os.Stat(d.data); err != nil || !fi.IsDir() {
		if err == nil {
			err = syscall.ENOTDIR
		}
		return fail("data folder", err)
	}
	if err := probePunch(d.data); err != nil {
		return fail("cannot write or punch holes (eviction needs both)", err)
	}
	return nil
}

// warnSize logs when d's quota exceeds the size of its file system, and
// hints at huge pages for a tmpfs without them (see hintHugePages).
func (d *tierDir) warnSize(log *slog.Logger) {
	var st unix.Statfs_t
	if err := unix.Statfs(d.path, &st); err == nil {
		if total := int64(st.Blocks) * st.Bsize; total > 0 && d.quota > total {
			log.Warn("tier dir quota exceeds the size of its file system", "tier", d.alias, "dir", d.path,
				"quota", d.quota, "fsSize", total)
		}
		if st.Type == unix.TMPFS_MAGIC {
			d.hintHugePages(log)
		}
	}
}

// probePunch writes and punches a hole in a scratch file, so that a file
// system without hole punching is refused rather than silently never
// freeing space, and a dir that cannot be written is found out.
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

// dirFailure reports whether a write error means the dir itself is
// unusable: a failing device, a read-only or inaccessible file system, a
// quota, or a file system full below the dir's quota (every write the store
// makes fits the quota, so an ENOSPC means the disk is smaller than
// configured or shared).
func dirFailure(err error) bool {
	for _, e := range []syscall.Errno{syscall.EIO, syscall.EROFS, syscall.EACCES, syscall.EDQUOT, syscall.ENOSPC} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// markFailedLocked marks d failed because of err, if err says so, and
// returns whether it newly failed; the caller logs it after unlocking with
// logFailed.
func (s *Store) markFailedLocked(d *tierDir, err error) bool {
	if d.failed || !dirFailure(err) {
		return false
	}
	d.failed = true
	d.reason = err.Error()
	d.needRoom = false
	return true
}

// noteWriteError marks d failed if err is a dir failure, and logs it.
func (s *Store) noteWriteError(d *tierDir, err error) {
	s.indexMu.Lock()
	newly := s.markFailedLocked(d, err)
	s.indexMu.Unlock()
	if newly {
		s.logFailed(d, err)
	}
}

func (s *Store) logFailed(d *tierDir, err error) {
	s.log.Warn("tier dir failed: no new pages go to it until a probe succeeds; cached pages are still read",
		"tier", d.alias, "dir", d.path, "property", d.prop, "err", err, "probeEvery", s.probeEvery)
}

// free is the room left in d for new pages.
func (d *tierDir) free() int64 {
	return d.quota - d.used - d.reserved
}

// reserveLocked reserves n bytes in d for a page about to be written. If that
// would pass the high watermark, either the mover is asked to demote files
// to a lower level (canDemote, and a usable lower level exists), or
// least-recently-used pages are evicted until usage is at the low watermark
// (and the page fits the quota, which matters only when low is 1). The
// evicted pages are returned even when the reservation fails; the caller
// punches them after unlocking.
func (s *Store) reserveLocked(d *tierDir, n int64, canDemote bool) (victims []victim, ok bool) {
	if d.used+d.reserved+n > d.high {
		if canDemote && s.lowerUsableLocked(d) {
			s.needRoomLocked(d)
		} else {
			victims = s.evictDownLocked(d, n)
		}
	}
	if d.used+d.reserved+n > d.quota {
		return victims, false
	}
	d.reserved += n
	return victims, true
}

// evictDownLocked evicts pages of d, least valuable first, until d's usage
// plus n is at its low watermark and within its quota, and returns them.
// Pages being read are skipped.
func (s *Store) evictDownLocked(d *tierDir, n int64) []victim {
	var victims []victim
	d.ev.walk(func(pn *pageNode) bool {
		if d.used+d.reserved <= d.low && d.used+d.reserved+n <= d.quota {
			return false
		}
		if pn.f.pins[pn.idx] == 0 {
			victims = append(victims, s.dropPageLocked(pn.f, pn.idx))
			s.evictions.Add(1)
		}
		return true
	})
	return victims
}

// dropPageLocked drops present page idx of f from the index and marks it as
// being punched; the returned victim holds a reference to f until punched.
func (s *Store) dropPageLocked(f *file, idx int64) victim {
	d := f.dir
	if pn := f.node(idx); pn != nil {
		d.ev.remove(pn)
		f.nodes[idx] = nil
	}
	f.clear(idx)
	f.npresent--
	s.pages--
	n := pageLen(f.size, s.pageSize, idx)
	d.used -= n
	f.setBusy(idx, pagePunching)
	f.refs++
	return victim{f: f, idx: idx, off: idx * s.pageSize, n: n}
}

// punch punches the holes of dropped pages, records them in the page logs,
// and lets them be filled again.
func (s *Store) punch(victims []victim) {
	for i, v := range victims {
		err := punchHole(v.f.fd, v.off, v.n)
		if err != nil {
			s.warnOnce(&v.f.dir.warnedPunch, "punching an evicted page's hole failed; the tier dir may hold more than its usage shows",
				"tier", v.f.dir.alias, "dir", v.f.dir.path, "file", v.f.key.ID, "page", v.idx, "err", err)
		}
		// One append per run of victims of the same file.
		if i+1 == len(victims) || victims[i+1].f != v.f {
			var recs []logRecord
			for j := i; j >= 0 && victims[j].f == v.f; j-- {
				recs = append(recs, logRecord{typ: recPunch, value: uint64(victims[j].idx)})
			}
			s.logAppend(v.f, recs...)
		}
	}
	if len(victims) == 0 {
		return
	}
	var afters []func()
	s.indexMu.Lock()
	for _, v := range victims {
		delete(v.f.busy, v.idx)
		if after := s.releaseLocked(v.f); after != nil {
			afters = append(afters, after)
		}
	}
	s.indexMu.Unlock()
	for _, after := range afters {
		after()
	}
}

// markPresentLocked records that page idx of f (n bytes, checksum crc) now
// holds its bytes.
func (s *Store) markPresentLocked(f *file, idx, n int64, crc uint32) {
	f.set(idx, crc)
	f.npresent++
	f.dir.used += n
	s.pages++
	pn := &pageNode{f: f, idx: idx, hidx: -1}
	f.setNode(idx, pn)
	if f.evictable() {
		f.dir.ev.add(pn)
	}
}

// touchLocked records an access to present page idx of f.
func (s *Store) touchLocked(f *file, idx int64) {
	if pn := f.node(idx); pn != nil {
		f.dir.ev.touch(pn)
	}
}

// lruDetachLocked takes f's pages out of the evictor, making them
// unevictable.
func (s *Store) lruDetachLocked(f *file) {
	for _, pn := range f.nodes {
		if pn != nil {
			f.dir.ev.remove(pn)
		}
	}
}

// lruAttachLocked puts f's present pages back into the evictor.
func (s *Store) lruAttachLocked(f *file) {
	for _, pn := range f.nodes {
		if pn != nil && !pn.inEv {
			f.dir.ev.add(pn)
		}
	}
}

// warnOnce logs at Warn the first time flag is raised and at Debug after.
func (s *Store) warnOnce(flag *atomic.Bool, msg string, args ...any) {
	if flag.CompareAndSwap(false, true) {
		s.log.Warn(msg, args...)
		return
	}
	s.log.Debug(msg, args...)
}

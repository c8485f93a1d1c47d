package blockstore

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The mover is one background goroutine per store. It demotes whole files
// out of dirs that passed their high watermark, promotes files that
// ReadCachePromote reads hit on a lower level, and probes failed dirs every
// probeEvery. It stops when the store's context is cancelled (Close).

// maxPromoteQueue bounds the files waiting for promotion; more are dropped
// (a later read asks again).
const maxPromoteQueue = 1024

// demoteScan bounds how many pages the search for a demotable file looks
// at, so the index lock is never held long.
const demoteScan = 4096

// move is a file being copied to another dir.
type move struct {
	f        *file
	dst      *tierDir
	pages    []int64  // the pages present when the move started
	crcs     []uint32 // their checksums
	reserved int64    // bytes reserved in dst
	promote  bool
}

// wake nudges the mover; it never blocks.
func (s *Store) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// needRoomLocked asks the mover to bring d down to its low watermark.
func (s *Store) needRoomLocked(d *tierDir) {
	if !d.needRoom {
		d.needRoom = true
		s.wake()
	}
}

// lowerUsableLocked reports whether a level below d's has a usable dir.
func (s *Store) lowerUsableLocked(d *tierDir) bool {
	for _, level := range s.levels[d.level+1:] {
		for _, o := range level {
			if !o.failed {
				return true
			}
		}
	}
	return false
}

// queuePromoteLocked asks the mover to move f to level 0.
func (s *Store) queuePromoteLocked(f *file) {
	if s.promoteSet[f.key] || len(s.promoteQ) >= maxPromoteQueue {
		return
	}
	s.promoteSet[f.key] = true
	s.promoteQ = append(s.promoteQ, f.key)
	s.wake()
}

func (s *Store) runMover() {
	defer s.mover.Done()
	t := time.NewTicker(s.probeEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
			s.moveWork()
		case <-t.C:
			s.probeFailed()
			s.expireFresh()
		}
	}
}

// moveWork makes room in the dirs that need it, then runs the promotions
// asked for, until there is nothing left to do.
func (s *Store) moveWork() {
	for s.ctx.Err() == nil {
		s.indexMu.Lock()
		var room *tierDir
		for _, d := range s.dirs {
			if d.needRoom {
				room = d
				break
			}
		}
		var key FileKey
		promote := false
		if room == nil && len(s.promoteQ) > 0 {
			key, s.promoteQ = s.promoteQ[0], s.promoteQ[1:]
			delete(s.promoteSet, key)
			promote = true
		}
		s.indexMu.Unlock()
		switch {
		case room != nil:
			s.makeRoom(room)
		case promote:
			s.promote(key)
		default:
			return
		}
	}
}

// makeRoom demotes d's least recently used files to lower levels until d
// is at its low watermark. When no file can go down (none is eligible, or
// no lower dir can take it) it evicts pages instead, as a one-level store
// does.
func (s *Store) makeRoom(d *tierDir) {
	for s.ctx.Err() == nil {
		s.indexMu.Lock()
		if d.used+d.reserved <= d.low || d.failed {
			d.needRoom = false
			s.indexMu.Unlock()
			return
		}
		var mv *move
		var victims []victim
		if f := s.demoteCandidateLocked(d); f != nil {
			mv, victims = s.startMoveLocked(f, s.targetsLocked(d.level+1, len(s.levels)), false)
		}
		if mv == nil {
			victims = append(victims, s.evictDownLocked(d, 0)...)
			d.needRoom = false
			s.indexMu.Unlock()
			s.punch(victims)
			return
		}
		s.indexMu.Unlock()
		s.punch(victims)
		if !s.runMove(mv) {
			s.indexMu.Lock()
			victims = s.evictDownLocked(d, 0)
			d.needRoom = false
			s.indexMu.Unlock()
			s.punch(victims)
			return
		}
	}
}

// movable reports whether f may be moved now: not being written, moved or
// leased, and with pages.
func movable(f *file) bool {
	return !f.removed && !f.writing && !f.partial && !f.moving && f.leases == 0 && f.npresent > 0
}

// demoteCandidateLocked returns the movable file of d's least valuable
// page, or nil.
func (s *Store) demoteCandidateLocked(d *tierDir) *file {
	var found *file
	seen := 0
	d.ev.walk(func(pn *pageNode) bool {
		if movable(pn.f) {
			found = pn.f
			return false
		}
		seen++
		return seen < demoteScan
	})
	return found
}

// targetsLocked lists the usable dirs of levels [from, to), level by level,
// roomiest first within a level.
func (s *Store) targetsLocked(from, to int) []*tierDir {
	var out []*tierDir
	for _, level := range s.levels[from:to] {
		var ds []*tierDir
		for _, d := range level {
			if !d.failed {
				ds = append(ds, d)
			}
		}
		slices.SortStableFunc(ds, func(a, b *tierDir) int { return cmp.Compare(b.free(), a.free()) })
		out = append(out, ds...)
	}
	return out
}

// startMoveLocked reserves room for f in the first of targets that can
// take it and marks f moving. A promotion only takes room below the
// target's high watermark; a demotion may evict the target's pages to make
// room (the evicted pages are returned to be punched). It returns nil when
// no target can take f.
func (s *Store) startMoveLocked(f *file, targets []*tierDir, promote bool) (*move, []victim) {
	bytes := f.presentBytes(s.pageSize)
	var victims []victim
	var dst *tierDir
	for _, t := range targets {
		if t == f.dir || bytes > t.high {
			continue
		}
		if promote {
			if t.used+t.reserved+bytes <= t.high {
				t.reserved += bytes
				dst = t
				break
			}
			continue
		}
		v, ok := s.reserveLocked(t, bytes, false)
		victims = append(victims, v...)
		if ok {
			dst = t
			break
		}
	}
	if dst == nil {
		return nil, victims
	}
	mv := &move{f: f, dst: dst, reserved: bytes, promote: promote}
	f.eachPresent(func(idx int64) {
		mv.pages = append(mv.pages, idx)
		mv.crcs = append(mv.crcs, f.crc(idx))
	})
	f.moving = true
	s.lruDetachLocked(f)
	f.refs++
	return mv, victims
}

// promote moves key's file to level 0 if it is on a lower level and fits
// there below the high watermark.
func (s *Store) promote(key FileKey) {
	s.indexMu.Lock()
	f := s.files[key]
	if f == nil || f.dir.level == 0 || !movable(f) {
		s.indexMu.Unlock()
		return
	}
	mv, _ := s.startMoveLocked(f, s.targetsLocked(0, 1), true)
	s.indexMu.Unlock()
	if mv != nil {
		s.runMove(mv)
	}
}

// runMove copies the pages of a move into a new backing file (and page log)
// in the target dir under temporary names, then swaps it in: the names are
// renamed into place while the key is pending (readers wait for two
// renames), the index points at the new file, and the old files are
// removed. Pages that fail their checksum on the way are left behind. A
// crash at any point leaves at most two copies, which recovery dedups. It
// reports whether the file moved.
func (s *Store) runMove(mv *move) bool {
	f, dst := mv.f, mv.dst
	name := f.key.backingName()
	final := filepath.Join(dst.data, name)
	tmp := final + ".moving"
	ltmp := logName(final) + ".moving"
	var nfd *os.File
	var nl *pageLog
	var bad []int64
	fail := func(why string, err error) bool {
		if nl != nil {
			nl.close()
		}
		if nfd != nil {
			nfd.Close()
		}
		os.Remove(tmp)
		os.Remove(ltmp)
		s.indexMu.Lock()
		dst.reserved -= mv.reserved
		f.moving = false
		var victims []victim
		for _, idx := range bad {
			if f.has(idx) && f.busy[idx] == 0 && f.pins[idx] == 0 {
				victims = append(victims, s.dropPageLocked(f, idx))
			}
		}
		if f.evictable() {
			s.lruAttachLocked(f)
		}
		after := s.releaseLocked(f)
		s.indexMu.Unlock()
		s.punch(victims)
		if after != nil {
			after()
		}
		s.log.Debug("file not moved", "file", f.key.ID, "from", f.dir.path, "to", dst.path, "reason", why, "err", err)
		return false
	}
	var err error
	nfd, err = os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		s.noteWriteError(dst, err)
		return fail("create backing file", err)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	var copied []int64
	var crcs []uint32
	for i, idx := range mv.pages {
		if s.ctx.Err() != nil {
			return fail("store closing", s.ctx.Err())
		}
		n := pageLen(f.size, s.pageSize, idx)
		buf := (*bp)[:n]
		if _, err := f.fd.ReadAt(buf, idx*s.pageSize); err != nil || pageCRC(buf) != mv.crcs[i] {
			s.corrupt(f, idx, err)
			bad = append(bad, idx)
			continue
		}
		if _, err := nfd.WriteAt(buf, idx*s.pageSize); err != nil {
			s.noteWriteError(dst, err)
			return fail("write page", err)
		}
		copied = append(copied, idx)
		crcs = append(crcs, mv.crcs[i])
	}
	if len(copied) == 0 {
		return fail("no good page", nil)
	}
	if err := nfd.Truncate(f.size); err != nil {
		s.noteWriteError(dst, err)
		return fail("size backing file", err)
	}
	s.indexMu.Lock()
	hdr := logHeader{key: f.key, pageSize: s.pageSize, size: f.size, flags: f.logFlags()}
	s.indexMu.Unlock()
	recs := make([]logRecord, len(copied))
	for i, idx := range copied {
		recs[i] = logRecord{typ: recPage, crc: crcs[i], value: uint64(idx)}
	}
	if nl, err = writeLogFile(ltmp, hdr, recs); err != nil {
		s.noteWriteError(dst, err)
		return fail("write page log", err)
	}

	// Swap.
	s.indexMu.Lock()
	if err := s.settleLocked(s.ctx, f.key); err != nil || f.removed || s.closed {
		s.indexMu.Unlock()
		return fail("file removed meanwhile", err)
	}
	done := make(chan struct{})
	s.pending[f.key] = done
	s.indexMu.Unlock()
	err = os.Rename(tmp, final)
	if err == nil {
		if err = os.Rename(ltmp, logName(final)); err != nil {
			os.Remove(final)
		}
	}
	s.indexMu.Lock()
	delete(s.pending, f.key)
	close(done)
	if err != nil || f.removed {
		s.indexMu.Unlock()
		if err != nil {
			s.noteWriteError(dst, err)
		}
		return fail("rename into place", err)
	}
	nl.path = logName(final)
	nf := &file{key: f.key, dir: dst, path: final, fd: nfd, log: nl, size: f.size, lastEnd: f.lastEnd,
		pinned: f.pinned, userPinned: f.userPinned}
	for i, idx := range copied {
		if f.has(idx) && f.crc(idx) == crcs[i] {
			s.markPresentLocked(nf, idx, pageLen(f.size, s.pageSize, idx), crcs[i])
		}
	}
	dst.reserved -= mv.reserved
	flags := nf.logFlags()
	src := f.dir
	s.dropStateLocked(f)
	f.moving = false
	s.files[f.key] = nf
	if mv.promote {
		dst.promotions++
		s.promotions.Add(1)
	} else {
		src.demotions++
		s.demotions.Add(1)
	}
	nf.refs++ // until the flags are logged
	moved := nf.npresent
	after := s.releaseLocked(f)
	s.indexMu.Unlock()
	s.unlinkFiles(f)
	if after != nil {
		after()
	}
	if flags != hdr.flags {
		s.logPins(nf)
	}
	s.release(nf)
	s.log.Debug("file moved", "file", f.key.ID, "from", src.path, "to", dst.path, "promote", mv.promote,
		"pages", moved)
	return true
}

// probeFailed probes every failed dir and puts back those that work again,
// first recovering the files of a dir that failed at Open.
func (s *Store) probeFailed() {
	s.indexMu.Lock()
	var failed []*tierDir
	for _, d := range s.dirs {
		if d.failed {
			failed = append(failed, d)
		}
	}
	s.indexMu.Unlock()
	for _, d := range failed {
		if s.ctx.Err() != nil {
			return
		}
		if err := d.probe(); err != nil {
			s.indexMu.Lock()
			d.reason = err.Error()
			s.indexMu.Unlock()
			s.log.Debug("tier dir still failing", "tier", d.alias, "dir", d.path, "err", err)
			continue
		}
		if !d.scanned {
			s.recover([]*tierDir{d})
		}
		s.indexMu.Lock()
		d.failed, d.reason = false, ""
		s.indexMu.Unlock()
		d.warnedWrite.Store(false)
		s.log.Info("tier dir usable again", "tier", d.alias, "dir", d.path, "property", d.prop)
	}
}

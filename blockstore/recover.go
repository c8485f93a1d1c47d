package blockstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// recoveryParallelism is how many cached files are verified at once when
// the store opens.
const recoveryParallelism = 4

// recoveryStats counts what recovery found, at Open and when a dir that
// failed at Open comes back.
type recoveryStats struct {
	files, pages, damaged int
}

// recoveredFile is a cached file found again by recovery, not yet indexed.
type recoveredFile struct {
	f       *file
	mtime   time.Time
	damaged int
}

// isBackingName reports whether name is a backing file's name:
// "<id>-<16 hex digits>".
func isBackingName(name string) bool {
	id, sum, ok := strings.Cut(name, "-")
	if !ok || len(sum) != 16 {
		return false
	}
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return false
	}
	for _, c := range sum {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// recover scans the data folders of dirs, verifies and indexes the cached
// files it finds, and removes everything else there: backing files without
// a readable page log, logs without a backing file, temp files of
// interrupted moves and log rewrites, strays. Files are verified in
// parallel; the outcome is logged once.
func (s *Store) recover(dirs []*tierDir) {
	start := time.Now()
	type job struct {
		d    *tierDir
		name string
	}
	var jobs []job
	for _, d := range dirs {
		entries, err := os.ReadDir(d.data)
		if err != nil {
			s.log.Warn("cannot list tier dir data folder; nothing recovered from it", "tier", d.alias, "dir", d.path, "err", err)
			continue
		}
		backing := map[string]bool{}
		for _, e := range entries {
			if e.Type().IsRegular() && isBackingName(e.Name()) {
				backing[e.Name()] = true
			}
		}
		for _, e := range entries {
			name := e.Name()
			switch {
			case backing[name]:
				jobs = append(jobs, job{d, name})
			case strings.HasSuffix(name, logSuffix) && backing[strings.TrimSuffix(name, logSuffix)]:
				// Read with its backing file.
			default:
				if err := os.RemoveAll(filepath.Join(d.data, name)); err != nil {
					s.log.Warn("remove stray file in tier dir", "tier", d.alias, "dir", d.path, "name", name, "err", err)
				} else {
					s.log.Debug("removed stray file in tier dir", "tier", d.alias, "dir", d.path, "name", name)
				}
			}
		}
	}
	found := make([]*recoveredFile, len(jobs))
	var g errgroup.Group
	g.SetLimit(recoveryParallelism)
	for i, j := range jobs {
		g.Go(func() error {
			found[i] = s.recoverFile(j.d, j.name)
			return nil
		})
	}
	g.Wait()

	// Oldest first, so the most recently written files end up the most
	// recently used.
	found = slices.DeleteFunc(found, func(r *recoveredFile) bool { return r == nil })
	slices.SortStableFunc(found, func(a, b *recoveredFile) int { return a.mtime.Compare(b.mtime) })
	var st recoveryStats
	var dups []*file
	s.indexMu.Lock()
	for _, r := range found {
		f := r.f
		if s.pending[f.key] != nil {
			// Being cached anew elsewhere while this dir was failed.
			dups = append(dups, f)
			continue
		}
		if old := s.files[f.key]; old != nil {
			// Two copies (a move between dirs was interrupted, or the key
			// was cached again while this dir was failed): keep the live
			// one (from a dir recovered earlier), else the one with more
			// pages.
			if !slices.Contains(dirs, old.dir) || old.npresent >= f.npresent {
				dups = append(dups, f)
				continue
			}
			s.dropStateLocked(old)
			delete(s.files, old.key)
			st.files--
			st.pages -= old.npresent
			dups = append(dups, old)
		}
		s.files[f.key] = f
		st.files++
		st.pages += f.npresent
		st.damaged += r.damaged
		f.eachPresent(func(idx int64) {
			f.dir.used += pageLen(f.size, s.pageSize, idx)
			s.pages++
			pn := &pageNode{f: f, idx: idx, hidx: -1}
			f.setNode(idx, pn)
			if f.evictable() {
				f.dir.ev.add(pn)
			}
		})
		if f.userPinned {
			s.pinnedIDs[f.key.ID] = true
		}
	}
	for _, d := range dirs {
		d.scanned = true
		if d.used > d.high {
			s.needRoomLocked(d)
		}
	}
	s.recovered.files += st.files
	s.recovered.pages += st.pages
	s.recovered.damaged += st.damaged
	s.indexMu.Unlock()
	for _, f := range dups {
		f.closeFiles()
		s.unlinkFiles(f)
	}
	names := make([]string, len(dirs))
	for i, d := range dirs {
		names[i] = d.path
	}
	s.log.Info(fmt.Sprintf("recovered %d files, %d pages, %d damaged, in %v", st.files, st.pages, st.damaged, time.Since(start).Round(time.Millisecond)),
		"dirs", names, "files", st.files, "pages", st.pages, "damaged", st.damaged)
}

// recoverFile reads the page log of backing file name in d, verifies every
// page the log says is present, punches out the damaged ones and rewrites
// the log. It returns nil, having removed both files, when there is nothing
// to keep.
func (s *Store) recoverFile(d *tierDir, name string) *recoveredFile {
	path := filepath.Join(d.data, name)
	lpath := logName(path)
	var fd *os.File
	drop := func(why string, err error) *recoveredFile {
		s.log.Debug("cached file dropped at recovery", "tier", d.alias, "dir", d.path, "name", name, "reason", why, "err", err)
		if fd != nil {
			fd.Close()
		}
		os.Remove(path)
		os.Remove(lpath)
		return nil
	}
	h, recs, err := readLogFile(lpath)
	if err != nil {
		return drop("no readable page log", err)
	}
	if h.pageSize != s.pageSize {
		return drop("page size changed", fmt.Errorf("log page size %d, store %d", h.pageSize, s.pageSize))
	}
	if h.key.backingName() != name {
		return drop("page log names another file", nil)
	}
	fd, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return drop("cannot open backing file", err)
	}
	fi, err := fd.Stat()
	if err != nil {
		return drop("cannot stat backing file", err)
	}
	f := &file{key: h.key, dir: d, path: path, fd: fd, size: h.size, lastEnd: -1}
	f.pinned = h.flags&logPinned != 0
	f.userPinned = h.flags&logUserPinned != 0
	writing := h.flags&logWriting != 0
	// Page indexes beyond the backing file are bogus: never allocate for them.
	limit := numPages(fi.Size(), s.pageSize)
	for _, r := range recs {
		idx := int64(r.value)
		switch r.typ {
		case recPage:
			if idx >= 0 && idx < limit && !f.has(idx) {
				f.set(idx, r.crc)
				f.npresent++
			} else if f.has(idx) {
				f.crcs[idx] = r.crc
			}
		case recPunch:
			if idx >= 0 && f.has(idx) {
				f.clear(idx)
				f.npresent--
			}
		case recFlags:
			f.pinned = r.value&logPinned != 0
			f.userPinned = r.value&logUserPinned != 0
		case recSize:
			f.size = int64(r.value)
			writing = false
		}
	}
	if f.size < 0 {
		return drop("bad size in page log", nil)
	}
	if writing {
		if !f.pinned && !f.userPinned {
			return drop("its Writer did not close and the data is also elsewhere", nil)
		}
		// Only the full pages a Writer completed are in the log.
		f.partial = true
		f.size = 0
		f.eachPresent(func(idx int64) { f.size = (idx + 1) * s.pageSize })
	}
	np := numPages(f.size, s.pageSize)
	f.eachPresent(func(idx int64) {
		if idx >= np {
			f.clear(idx)
			f.npresent--
		}
	})

	// Verify every page kept.
	damaged := 0
	buf := make([]byte, s.pageSize)
	f.eachPresent(func(idx int64) {
		n := pageLen(f.size, s.pageSize, idx)
		_, err := fd.ReadAt(buf[:n], idx*s.pageSize)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil || pageCRC(buf[:n]) != f.crc(idx) {
			f.clear(idx)
			f.npresent--
			damaged++
			return
		}
		f.setVerified(idx)
	})
	if damaged > 0 {
		s.log.Warn("cached file had damaged pages; they were dropped", "tier", d.alias, "dir", d.path,
			"file", f.key.ID, "damaged", damaged, "kept", f.npresent)
	}
	if f.npresent == 0 && (f.size > 0 || f.partial) {
		return drop("no page left", nil)
	}
	// Give back the blocks of pages not present: damaged ones, and any
	// written but never logged before the process died.
	if fi.Size() > f.size {
		if err := fd.Truncate(f.size); err != nil {
			return drop("cannot truncate backing file", err)
		}
	}
	for idx := int64(0); idx < np; {
		if f.has(idx) {
			idx++
			continue
		}
		end := idx
		for end < np && !f.has(end) {
			end++
		}
		if err := punchHole(fd, idx*s.pageSize, min(end*s.pageSize, f.size)-idx*s.pageSize); err != nil && !errors.Is(err, os.ErrInvalid) {
			return drop("cannot punch holes", err)
		}
		idx = end
	}
	hdr, recs2 := s.logStateLocked(f) // f is not shared yet
	l, err := writeLogFile(lpath, hdr, recs2)
	if err != nil {
		return drop("cannot rewrite page log", err)
	}
	f.log = l
	return &recoveredFile{f: f, mtime: fi.ModTime(), damaged: damaged}
}

package blockstore

import (
	"container/list"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
)

// FileKey names one version of a file: the inode id plus a fingerprint of the
// content (an ETag, or mtime and size), so a rewritten file is a new key and
// stale pages are never served.
type FileKey struct {
	// ID is the inode id.
	ID uint64
	// Fingerprint identifies the content of this version.
	Fingerprint string
}

// backingName is the name of the key's backing file inside the data folder.
func (k FileKey) backingName() string {
	sum := sha1.Sum([]byte(k.Fingerprint))
	return fmt.Sprintf("%d-%s", k.ID, hex.EncodeToString(sum[:])[:16])
}

// pageState marks a page in transition; such a page is not present.
type pageState uint8

const (
	// pageFilling: space is reserved and the page's bytes are being written.
	pageFilling pageState = iota + 1
	// pagePunching: the page was evicted and its hole is being punched; it
	// must not be refilled until then or the punch would erase new bytes.
	pagePunching
)

// file is one cached file version and its sparse backing file.
//
// key, dir, path and fd never change after creation. Every other field is
// guarded by Store.indexMu.
type file struct {
	key  FileKey
	dir  *tierDir
	path string
	fd   *os.File // O_RDWR; closed once removed and unreferenced

	size     int64    // file length; while writing, the bytes of completed pages
	writing  bool     // a Writer is filling the file; reads bypass the cache
	present  []uint64 // bitmap of present pages, grown on demand
	npresent int

	elems map[int64]*list.Element // LRU entry of each present page while evictable
	pins  map[int64]int32         // pages being read by pread right now
	busy  map[int64]pageState     // pages being filled or punched

	leases      int  // OpenWhole holders
	unevictable bool // pinned at Create until Unpin
	refs        int  // users of fd: readers, fetchers, punchers, the writer, leases
	removed     bool // dropped from the index; fd closes when refs reaches 0
	fdClosed    bool
	lastEnd     int64 // where the previous ReadAt ended, for prefetch; -1 at first
}

func newFile(key FileKey, d *tierDir) (*file, error) {
	path := filepath.Join(d.data, key.backingName())
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blockstore: create backing file of file %d in tier dir %s: %w", key.ID, d.path, err)
	}
	return &file{key: key, dir: d, path: path, fd: fd, lastEnd: -1, elems: map[int64]*list.Element{}}, nil
}

func (f *file) has(idx int64) bool {
	w := idx >> 6
	return w < int64(len(f.present)) && f.present[w]&(1<<(idx&63)) != 0
}

func (f *file) set(idx int64) {
	w := idx >> 6
	for int64(len(f.present)) <= w {
		f.present = append(f.present, 0)
	}
	f.present[w] |= 1 << (idx & 63)
}

func (f *file) clear(idx int64) {
	if w := idx >> 6; w < int64(len(f.present)) {
		f.present[w] &^= 1 << (idx & 63)
	}
}

// eachPresent calls fn for every present page in ascending order.
func (f *file) eachPresent(fn func(idx int64)) {
	for w, word := range f.present {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			fn(int64(w)<<6 | int64(b))
			word &^= 1 << b
		}
	}
}

// evictable reports whether the file's present pages belong in the LRU.
func (f *file) evictable() bool {
	return !f.unevictable && f.leases == 0 && !f.removed
}

func (f *file) pin(idx int64) {
	if f.pins == nil {
		f.pins = map[int64]int32{}
	}
	f.pins[idx]++
}

func (f *file) unpin(idx int64) {
	if f.pins[idx] <= 1 {
		delete(f.pins, idx)
		return
	}
	f.pins[idx]--
}

func (f *file) setBusy(idx int64, st pageState) {
	if f.busy == nil {
		f.busy = map[int64]pageState{}
	}
	f.busy[idx] = st
}

// numPages is the number of pages of a file of length size.
func numPages(size, pageSize int64) int64 {
	return (size + pageSize - 1) / pageSize
}

// pageLen is the length of page idx of a file of length size; the last page
// may be short.
func pageLen(size, pageSize, idx int64) int64 {
	return min(pageSize, size-idx*pageSize)
}

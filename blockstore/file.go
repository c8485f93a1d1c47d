package blockstore

import (
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
// key, dir, path, fd and log never change after creation (a file moved to
// another dir is a new file). Every other field is guarded by
// Store.indexMu.
type file struct {
	key  FileKey
	dir  *tierDir
	path string
	fd   *os.File // O_RDWR; closed once removed and unreferenced
	log  *pageLog

	size     int64       // file length; while writing, the bytes of completed pages
	writing  bool        // a Writer is filling the file; reads bypass the cache
	partial  bool        // recovered from a pinned Writer that never closed
	present  []uint64    // bitmap of present pages, grown on demand
	verified []uint64    // bitmap of present pages checked since written or recovered
	crcs     []uint32    // crc32c of each present page, grown on demand
	nodes    []*pageNode // eviction entry of each present page, grown on demand
	npresent int

	pins map[int64]int32     // pages being read by pread right now, or leased (ReadLease)
	busy map[int64]pageState // pages being filled or punched

	leases        int  // OpenWhole holders
	pinned        bool // created pinned (Create(key, true)) until Unpin
	userPinned    bool // SetPinned(key.ID, true)
	moving        bool // being copied to another dir; no fill, no eviction
	refs          int  // users of fd: readers, fetchers, punchers, the writer, leases, moves
	removed       bool // dropped from the index; fd closes when refs reaches 0
	fdClosed      bool
	warnedCorrupt bool      // a checksum mismatch was logged at Warn
	lastEnd       int64     // where the previous ReadAt ended, for prefetch; -1 at first
	runPages      int64     // length of the next run fetched ahead of a sequential reader; 0 at first
	ident         BackingID // the backing file's device and inode, once identOK
	identOK       bool
}

// logName is the name of a backing file's page log.
func logName(backing string) string { return backing + logSuffix }

// newFile creates key's backing file and page log in d. The log's header
// records size and flags.
func newFile(key FileKey, d *tierDir, pageSize, size int64, flags uint32) (*file, error) {
	path := filepath.Join(d.data, key.backingName())
	fd, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("blockstore: create backing file of file %d in tier dir %s: %w", key.ID, d.path, err)
	}
	h := logHeader{key: key, pageSize: pageSize, size: size, flags: flags}
	l, err := writeLogFile(logName(path), h, nil)
	if err != nil {
		fd.Close()
		os.Remove(path)
		return nil, fmt.Errorf("blockstore: create page log of file %d in tier dir %s: %w", key.ID, d.path, err)
	}
	return &file{key: key, dir: d, path: path, fd: fd, log: l, size: size, lastEnd: -1}, nil
}

// logFlags is the pin state of f as the page log records it.
func (f *file) logFlags() uint32 {
	var fl uint32
	if f.pinned {
		fl |= logPinned
	}
	if f.userPinned {
		fl |= logUserPinned
	}
	return fl
}

// closeFiles closes f's descriptors; f must be unreferenced.
func (f *file) closeFiles() {
	f.log.close()
	f.fd.Close()
}

func (f *file) has(idx int64) bool {
	w := idx >> 6
	return w < int64(len(f.present)) && f.present[w]&(1<<(idx&63)) != 0
}

// set marks page idx present with checksum crc, not verified yet.
func (f *file) set(idx int64, crc uint32) {
	setBit(&f.present, idx)
	clearBit(f.verified, idx)
	for int64(len(f.crcs)) <= idx {
		f.crcs = append(f.crcs, 0)
	}
	f.crcs[idx] = crc
}

func (f *file) clear(idx int64) {
	clearBit(f.present, idx)
	clearBit(f.verified, idx)
}

// crc is the checksum of present page idx.
func (f *file) crc(idx int64) uint32 { return f.crcs[idx] }

func (f *file) isVerified(idx int64) bool {
	w := idx >> 6
	return w < int64(len(f.verified)) && f.verified[w]&(1<<(idx&63)) != 0
}

func (f *file) setVerified(idx int64) { setBit(&f.verified, idx) }

// node returns the eviction entry of page idx, or nil.
func (f *file) node(idx int64) *pageNode {
	if idx < int64(len(f.nodes)) {
		return f.nodes[idx]
	}
	return nil
}

func (f *file) setNode(idx int64, n *pageNode) {
	for int64(len(f.nodes)) <= idx {
		f.nodes = append(f.nodes, nil)
	}
	f.nodes[idx] = n
}

func setBit(b *[]uint64, idx int64) {
	w := idx >> 6
	for int64(len(*b)) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (idx & 63)
}

func clearBit(b []uint64, idx int64) {
	if w := idx >> 6; w < int64(len(b)) {
		b[w] &^= 1 << (idx & 63)
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

// evictable reports whether the file's present pages belong in the
// evictor of its dir.
func (f *file) evictable() bool {
	return !f.pinned && !f.userPinned && f.leases == 0 && !f.removed && !f.moving
}

// presentBytes is the sum of the lengths of f's present pages.
func (f *file) presentBytes(pageSize int64) int64 {
	var n int64
	f.eachPresent(func(idx int64) { n += pageLen(f.size, pageSize, idx) })
	return n
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

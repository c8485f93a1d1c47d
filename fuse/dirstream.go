package fuse

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// Lister is implemented by clients that list a directory a page at a time,
// so that readdir of a directory of any size holds one page in memory.
// Clients without it are listed whole with Client.List.
type Lister interface {
	// ListPage returns at most limit entries (0: the client's page size)
	// of directory path whose names sort after startAfter, in name
	// order, and whether more follow. startAfter "" starts a listing.
	ListPage(ctx context.Context, path, startAfter string, limit int) (entries []Entry, more bool, err error)
}

// wholeLister lists a directory of a client without Lister as one page.
type wholeLister struct{ c Client }

func (w wholeLister) ListPage(ctx context.Context, path, startAfter string, limit int) ([]Entry, bool, error) {
	entries, err := w.c.List(ctx, path)
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	i, found := slices.BinarySearchFunc(entries, startAfter, func(e Entry, name string) int { return strings.Compare(e.Name, name) })
	if found {
		i++
	}
	return entries[i:], false, nil
}

// pageMark records where a page began: the offset of the entry before
// its first, and the name the page was asked to start after.
type pageMark struct {
	off   uint64
	after string
}

// dirStream is a readdir stream that fetches the next page of the listing
// only when the kernel has read the current one. Entry offsets count the
// entries from the start of the listing (1 for the first), which the
// kernel hands back for telldir/seekdir; a seek goes back to the page
// where the offset lies and counts forward from there. go-fuse serialises
// the calls on one open directory, so the stream needs no lock.
type dirStream struct {
	n      *node
	ctx    context.Context
	lister Lister
	path   string

	page    []Entry // the current page
	idx     int     // next entry of page
	pageOff uint64  // offset of the entry before page[0]
	off     uint64  // offset of the last entry returned
	more    bool    // pages follow the current one
	after   string  // the name the next page starts after
	err     syscall.Errno
	marks   []pageMark // where each page fetched began, by offset
}

var (
	_ fs.DirStream     = (*dirStream)(nil)
	_ fs.FileSeekdirer = (*dirStream)(nil)
)

// newDirStream starts a listing of n and fetches its first page, so that
// an error listing the directory fails the readdir that asked.
func newDirStream(ctx context.Context, n *node, lister Lister, path string) (*dirStream, syscall.Errno) {
	s := &dirStream{n: n, ctx: ctx, lister: lister, path: path, more: true}
	if errno := s.fetch(); errno != 0 {
		return nil, errno
	}
	return s, 0
}

// fetch reads the page after s.after and makes it current.
func (s *dirStream) fetch() syscall.Errno {
	entries, more, err := s.lister.ListPage(s.ctx, s.path, s.after, 0)
	if err != nil {
		return s.n.errno("readdir", s.path, err)
	}
	if i := len(s.marks); i == 0 || s.marks[i-1].off < s.off {
		s.marks = append(s.marks, pageMark{off: s.off, after: s.after})
	}
	s.page, s.idx, s.pageOff = entries, 0, s.off
	s.more = more && len(entries) > 0
	if len(entries) > 0 {
		s.after = entries[len(entries)-1].Name
	}
	s.n.rememberPage(entries, s.pageOff == 0)
	return 0
}

// HasNext reports whether an entry (or an error) is ready, fetching the
// next page when the current one is used up.
func (s *dirStream) HasNext() bool {
	if s.err != 0 || s.idx < len(s.page) {
		return true
	}
	if !s.more {
		return false
	}
	if errno := s.fetch(); errno != 0 {
		s.err = errno
		return true
	}
	return s.idx < len(s.page)
}

// Next returns the next entry. An error to fetch a page is returned once;
// a later read tries the page again.
func (s *dirStream) Next() (gofuse.DirEntry, syscall.Errno) {
	if errno := s.err; errno != 0 {
		s.err = 0
		return gofuse.DirEntry{}, errno
	}
	e := s.page[s.idx]
	s.idx++
	s.off++
	return gofuse.DirEntry{Name: e.Name, Ino: e.Attr.Ino, Mode: typeBits(e.Attr), Off: s.off}, 0
}

// last returns the entry Next returned last, if it is still in the page.
func (s *dirStream) last() (Entry, bool) {
	if s.idx == 0 || s.idx > len(s.page) {
		return Entry{}, false
	}
	return s.page[s.idx-1], true
}

// Close drops the current page.
func (s *dirStream) Close() { s.page = nil }

// dirHandle is an open directory: a listing, started by the first read,
// and the lookups of the entries a READDIRPLUS returns.
//
// An entry whose inode the kernel already holds under that name goes
// without its attributes (node ID 0, which the kernel takes as "no
// attributes for this one", as in a plain READDIR): linking it again
// would only cost go-fuse's registration of the child, about as much as
// the rest of the readdir. Its attributes stay as the kernel has them,
// until they time out. A name that now names another inode is looked up
// in full.
type dirHandle struct {
	n *node
	s *dirStream // nil until the first read
}

var (
	_ fs.FileReaddirenter = (*dirHandle)(nil)
	_ fs.FileSeekdirer    = (*dirHandle)(nil)
	_ fs.FileReleasedirer = (*dirHandle)(nil)
	_ fs.FileLookuper     = (*dirHandle)(nil)
)

func (h *dirHandle) stream(ctx context.Context) syscall.Errno {
	if h.s != nil {
		return 0
	}
	s, errno := h.n.readdir(ctx)
	if errno != 0 {
		return errno
	}
	h.s = s
	return 0
}

// Readdirent returns the next entry, or nil at the end.
func (h *dirHandle) Readdirent(ctx context.Context) (*gofuse.DirEntry, syscall.Errno) {
	if errno := h.stream(ctx); errno != 0 {
		return nil, errno
	}
	if !h.s.HasNext() {
		return nil, 0
	}
	e, errno := h.s.Next()
	return &e, errno
}

// Seekdir moves the listing to offset off.
func (h *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := h.stream(ctx); errno != 0 {
		return errno
	}
	return h.s.Seekdir(ctx, off)
}

// Releasedir drops the listing.
func (h *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	if h.s != nil {
		h.s.Close()
	}
}

// errKnown makes go-fuse send an entry of a READDIRPLUS without
// attributes; no lookup fails with it.
const errKnown = syscall.EEXIST

// Lookup answers the lookup of READDIRPLUS for name, the entry returned
// last.
func (h *dirHandle) Lookup(ctx context.Context, name string, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if h.s != nil {
		if e, ok := h.s.last(); ok && e.Name == name {
			if ch := h.n.GetChild(name); ch != nil && ch.StableAttr().Ino == e.Attr.Ino {
				return nil, errKnown
			}
		}
	}
	return h.n.Lookup(ctx, name, out)
}

// Seekdir moves to offset off: 0 starts the listing again (and so sees
// the directory as it is now); an offset in the current page moves within
// it; a later one counts entries forward from here; an earlier one goes
// back to the start of its page and counts forward from there.
func (s *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	s.err = 0
	switch {
	case off == 0:
		s.restart(pageMark{}, 0)
	case off >= s.pageOff && off <= s.pageOff+uint64(len(s.page)):
		s.idx, s.off = int(off-s.pageOff), off
		return 0
	case off > s.off:
		// Forward from here.
	default:
		i, found := slices.BinarySearchFunc(s.marks, off, func(m pageMark, off uint64) int {
			return cmp.Compare(m.off, off)
		})
		if !found {
			i-- // the last page that begins before off
		}
		if i < 0 {
			s.restart(pageMark{}, 0)
		} else {
			s.restart(s.marks[i], i)
		}
	}
	for s.off < off {
		if s.idx == len(s.page) {
			if !s.more {
				return 0 // the directory is shorter now: stay at its end
			}
			if errno := s.fetch(); errno != 0 {
				return errno
			}
			continue
		}
		step := min(off-s.off, uint64(len(s.page)-s.idx))
		s.idx += int(step)
		s.off += step
	}
	return 0
}

// restart positions the stream at the start of the page recorded by m,
// the i-th mark, to be fetched again.
func (s *dirStream) restart(m pageMark, i int) {
	s.marks = s.marks[:i]
	s.page, s.idx, s.pageOff, s.off, s.after, s.more = nil, 0, m.off, m.off, m.after, true
}

package fuse

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// fileHandle is an open file served through user space.
type fileHandle struct {
	node  *node
	h     Handle
	write bool
	// shared marks a reference to the inode's shared write handle.
	shared bool
	// mode records which open counter of the node this handle holds.
	mode openMode
	// killPriv runs dropPrivileges once, before the handle's first write.
	killPriv sync.Once
}

// handle returns the handle's current Handle: a reader opened before a
// writer is moved onto the writer's handle, so it sees the writes.
func (fh *fileHandle) handle() Handle {
	fh.node.mu.Lock()
	defer fh.node.mu.Unlock()
	return fh.h
}

// sharedHandle is a write-capable handle with the number of opens using it.
type sharedHandle struct {
	h    Handle
	refs int
}

// passthroughHandle is an open file whose reads the kernel serves from the
// worker's backing file directly. It is a separate type because go-fuse
// decides on passthrough by the handle's type.
type passthroughHandle struct {
	*fileHandle
}

type openMode int

const (
	modeDirect      openMode = iota // FOPEN_DIRECT_IO: mixes with any other mode
	modeCached                      // kernel page cache
	modePassthrough                 // kernel passthrough of the backing file
)

var (
	_ fs.FileReader          = (*fileHandle)(nil)
	_ fs.FileWriter          = (*fileHandle)(nil)
	_ fs.FileFlusher         = (*fileHandle)(nil)
	_ fs.FileFsyncer         = (*fileHandle)(nil)
	_ fs.FileReleaser        = (*fileHandle)(nil)
	_ fs.FilePassthroughFder = passthroughHandle{}
	_ fs.FileLseeker         = (*fileHandle)(nil)
	_ fs.FileAllocater       = (*fileHandle)(nil)
)

// fallocate(2) modes.
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
	fallocZeroRange = 0x10
)

// Allocate implements fallocate(2) as far as a cache can keep its promise:
// mode 0 grows the file to cover the range (the bytes read as zeros),
// FALLOC_FL_KEEP_SIZE reserves nothing and succeeds, and punching a hole
// or zeroing a range writes zeros there. Space is not reserved ahead:
// a later write can still find the cache or the under-store full.
func (fh *fileHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	h, p := fh.handle(), fh.node.path()
	end := int64(off + size)
	switch mode {
	case 0:
		if end > h.Size() {
			return fh.node.errno("fallocate", p, h.Truncate(ctx, end))
		}
		return 0
	case fallocKeepSize:
		return 0
	case fallocPunchHole | fallocKeepSize, fallocZeroRange, fallocZeroRange | fallocKeepSize:
		stop := end
		if mode&fallocKeepSize != 0 {
			stop = min(end, h.Size())
		}
		zero := make([]byte, min(max(stop-int64(off), 0), 1<<20))
		for at := int64(off); at < stop; at += int64(len(zero)) {
			if _, err := h.WriteAt(ctx, zero[:min(int64(len(zero)), stop-at)], at); err != nil {
				return fh.node.errno("fallocate", p, err)
			}
		}
		if mode == fallocZeroRange && end > h.Size() {
			return fh.node.errno("fallocate", p, h.Truncate(ctx, end))
		}
		return 0
	}
	return syscall.EOPNOTSUPP
}

// lseek(2) whences the kernel passes on (the others it answers itself).
const (
	seekData = 3
	seekHole = 4
)

// Lseek answers SEEK_DATA and SEEK_HOLE from the handle's own length, which
// it knows even after the file's name is gone (go-fuse's fallback asks for
// the attributes of the name). The whole file counts as data.
func (fh *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	size := uint64(max(fh.handle().Size(), 0))
	switch whence {
	case seekData:
		if off >= size {
			return 0, syscall.ENXIO
		}
		return off, 0
	case seekHole:
		if off > size {
			return 0, syscall.ENXIO
		}
		return size, 0
	}
	return 0, syscall.EINVAL
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	p := n.path()
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	n.openMu.Lock()
	defer n.openMu.Unlock()
	if fh := n.joinWriter(); fh != nil {
		// Someone is writing: share their handle, reads included, so
		// this open sees the bytes written so far.
		fh.write = write
		if flags&syscall.O_TRUNC != 0 { // Linux truncates read-only opens too
			if err := fh.h.Truncate(ctx, 0); err != nil {
				fh.release(ctx) // openMu is held
				return nil, 0, n.errno("open", p, err)
			}
		}
		return fh, gofuse.FOPEN_DIRECT_IO, 0
	}
	if (write || flags&syscall.O_TRUNC != 0) && n.passthroughActive() {
		// The kernel serves every open of an inode with a backing file
		// through that file, and refuses (EIO) an open that is not; a
		// writer cannot share the read-only cached copy, so it must wait
		// until the readers close. So must a read-only open that
		// truncates: the readers would go on reading the old bytes.
		n.fsys.log.Info("write or truncating open refused while the file is read through kernel passthrough", "path", p)
		return nil, 0, syscall.ETXTBSY
	}
	h, err := n.fsys.client.Open(ctx, p, flags, caller(ctx))
	if err != nil {
		return nil, 0, n.errno("open", p, err)
	}
	if flags&syscall.O_TRUNC != 0 {
		// The open emptied the file under the readers already open,
		// and under its directory's listing.
		n.refreshReaders(ctx)
		n.forgetParentListing()
	}
	fh, fuseFlags := n.admit(h, write)
	if fh.mode == modePassthrough {
		return passthroughHandle{fh}, fuseFlags, 0
	}
	return fh, fuseFlags, 0
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *gofuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	p := n.child(name)
	n.forgetListing()
	h, a, err := n.fsys.client.Create(ctx, p, flags, mode&07777, caller(ctx))
	if err != nil {
		return nil, nil, 0, n.errno("create", p, err)
	}
	ch := n.newChild(ctx, a, out)
	cn := ch.Operations().(*node)
	cn.openMu.Lock()
	defer cn.openMu.Unlock()
	fh, fuseFlags := cn.admit(h, true)
	return ch, fh, fuseFlags, 0
}

// adoptReaders moves the open readers onto the new shared writer, so that
// they see its writes as they would on a local file system. Caller holds
// n.mu; the readers' own handles are released in the background.
func (n *node) adoptReaders() {
	for fh := range n.readers {
		if fh.mode == modePassthrough {
			continue
		}
		old := fh.h
		fh.h, fh.shared = n.writer.h, true
		n.writer.refs++
		delete(n.readers, fh)
		go old.Release(context.Background())
	}
}

func (n *node) passthroughActive() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ptOpens > 0
}

// joinWriter returns a new reference to the inode's shared write handle,
// or nil when nobody writes.
func (n *node) joinWriter() *fileHandle {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writer == nil {
		return nil
	}
	n.writer.refs++
	return &fileHandle{node: n, h: n.writer.h, shared: true, mode: modeDirect}
}

// ptSettle is how long after the last passthrough open of one version of a
// file is released an open of another version may have passthrough
// (node.ptLeft): go-fuse's own release of the backing file follows ours
// within microseconds.
const ptSettle = time.Second

// admit picks the kernel I/O mode of a new open so that it never clashes
// with the opens already on the inode: passthrough for a read of a fully
// cached file when nothing else is in page-cache mode, page-cache mode when
// no passthrough is active, and direct I/O (which mixes with both) for
// writers and for the rest.
func (n *node) admit(h Handle, write bool) (*fileHandle, uint32) {
	fh := &fileHandle{node: n, h: h, write: write}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case write:
		fh.mode = modeDirect
		fh.shared = true
		if n.writer != nil {
			// A writer from a Create racing this open: keep the first.
			n.writer.refs++
			fh.h = n.writer.h
			break
		}
		n.writer = &sharedHandle{h: h, refs: 1}
		n.fsys.setWriting(n.StableAttr().Ino, n)
		n.adoptReaders()
	case n.fsys.passthrough.Load() && h.Passthrough() != nil && n.cachedOpens == 0 &&
		(n.ptVersion == h.Version() || n.ptOpens == 0 && time.Since(n.ptLeft) >= ptSettle):
		fh.mode = modePassthrough
		n.ptOpens++
		n.ptVersion = h.Version()
	case n.ptOpens == 0:
		fh.mode = modeCached
		n.cachedOpens++
	default:
		fh.mode = modeDirect
	}
	if !fh.shared {
		if n.readers == nil {
			n.readers = map[*fileHandle]struct{}{}
		}
		n.readers[fh] = struct{}{}
	}
	if fh.mode == modeDirect {
		return fh, gofuse.FOPEN_DIRECT_IO
	}
	return fh, 0
}

func (fh *fileHandle) Read(ctx context.Context, dest []byte, off int64) (gofuse.ReadResult, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h := fh.handle()
	if sr, ok := h.(SpliceReader); ok {
		sp, n, err := sr.ReadSplice(ctx, dest, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fh.node.errno("read", fh.node.path(), err)
		}
		if sp != nil {
			r := &spliceResult{sp: sp}
			if fitsPipe(sp.Off, sp.Len) {
				return r, 0
			}
			// go-fuse would send part of the range as a short read.
			defer r.Done()
			b, st := r.Bytes(dest)
			if !st.Ok() {
				return nil, syscall.Errno(st)
			}
			return gofuse.ReadResultData(b), 0
		}
		return gofuse.ReadResultData(dest[:n]), 0
	}
	n, err := h.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fh.node.errno("read", fh.node.path(), err)
	}
	return gofuse.ReadResultData(dest[:n]), 0
}

// Splice is a read answered by a range of a file the daemon holds open:
// the kernel copies the bytes from it to the reader itself (splice(2)
// into /dev/fuse), never through the daemon's memory.
type Splice struct {
	// Fd is the file's descriptor; it stays open, and the range holds
	// the read's bytes, until Done is called.
	Fd uintptr
	// Off and Len are the range: the read's bytes, fewer at the end of
	// the file.
	Off int64
	Len int
	// Done is called once the reply was sent (or failed).
	Done func()
}

// SpliceReader is a Handle that can answer a read with a Splice. go-fuse
// tests a handle for it as it tests for its optional interfaces.
type SpliceReader interface {
	// ReadSplice reads len(dest) bytes at off: either as a Splice (n is
	// 0), or into dest as ReadAt does (sp is nil; io.EOF at the end).
	ReadSplice(ctx context.Context, dest []byte, off int64) (sp *Splice, n int, err error)
}

// outHeaderSize is the length of a FUSE reply's header.
const outHeaderSize = 16

// fitsPipe reports whether go-fuse splices the n bytes at off of a file
// whole. It writes the reply's header into a pipe, where it takes a
// buffer, then splices the range in, a buffer for every page the range
// touches; it grows the pipe to the reply's length and a page, which the
// kernel rounds up to a power of two of pages. A range that does not
// start on a page can touch one page more than that leaves room for, and
// go-fuse then answers with the part that fitted: a short read, which a
// reader takes for the end of the file.
func fitsPipe(off int64, n int) bool {
	page := os.Getpagesize()
	need := 1 + (int(off%int64(page))+n+page-1)/page
	grown := (outHeaderSize + n + page + page - 1) / page
	have := 1
	for have < grown {
		have <<= 1
	}
	return need <= have
}

// spliceResult hands a Splice to go-fuse, which splices from a result that
// has a Seekable method and calls Done after the reply, whatever path the
// reply took.
type spliceResult struct {
	sp *Splice
}

func (r *spliceResult) Size() int { return r.sp.Len }

// Seekable is the range go-fuse splices from.
func (r *spliceResult) Seekable() (fd uintptr, off int64, sz int) {
	return r.sp.Fd, r.sp.Off, r.sp.Len
}

// Bytes reads the range into buf when go-fuse cannot splice.
func (r *spliceResult) Bytes(buf []byte) ([]byte, gofuse.Status) {
	sz := min(len(buf), r.sp.Len)
	n, err := syscall.Pread(int(r.sp.Fd), buf[:sz], r.sp.Off)
	if n < 0 {
		n = 0
	}
	return buf[:n], gofuse.ToStatus(err)
}

func (r *spliceResult) Done() {
	if r.sp.Done != nil {
		r.sp.Done()
		r.sp.Done = nil
	}
}

func (fh *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if c := caller(ctx); c.UID != 0 {
		fh.killPriv.Do(func() { fh.dropPrivileges(ctx) })
	}
	n, err := fh.handle().WriteAt(ctx, data, off)
	if err != nil {
		return uint32(n), fh.node.errno("write", fh.node.path(), err)
	}
	return uint32(n), 0
}

// dropPrivileges clears S_ISUID, and S_ISGID with group execute, when a
// user other than root writes the file, as a local file system does: a
// user allowed to write a set-user-ID program must not keep its
// privilege. The kernel leaves this to the FUSE server for direct I/O
// writes (FUSE_WRITE_KILL_SUIDGID, which go-fuse does not pass on), so it
// is done here, from the mode the handle knows.
func (fh *fileHandle) dropPrivileges(ctx context.Context) {
	ah, ok := fh.handle().(Attributer)
	if !ok {
		return
	}
	mode := ah.Attr().Perm
	kill := mode & syscall.S_ISUID
	if mode&(syscall.S_ISGID|syscall.S_IXGRP) == syscall.S_ISGID|syscall.S_IXGRP {
		kill |= syscall.S_ISGID
	}
	if kill == 0 {
		return
	}
	mode &^= kill
	p, named := fh.node.named()
	if !named {
		return // unlinked while open: no file at the master to change
	}
	if _, err := fh.node.fsys.client.SetAttr(ctx, p, SetAttr{Mode: &mode}); err != nil {
		fh.node.fsys.log.Warn("could not clear set-id bits on write", "path", p, "err", err)
	}
}

func (fh *fileHandle) Flush(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	return fh.node.errno("flush", fh.node.path(), fh.handle().Flush(ctx))
}

func (fh *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	return fh.node.errno("fsync", fh.node.path(), fh.handle().Fsync(ctx))
}

func (fh *fileHandle) Release(ctx context.Context) syscall.Errno {
	ctx = uninterrupted(ctx)
	n := fh.node
	// The kernel sends the release after close() returned, so it may
	// overlap the caller's next unlink or rename of the file. Those wait
	// for openMu: a writer that leaves the inode here commits before the
	// name changes, never after the master removed or moved it.
	n.openMu.Lock()
	defer n.openMu.Unlock()
	return fh.release(ctx)
}

// release is Release, with n.openMu held.
func (fh *fileHandle) release(ctx context.Context) syscall.Errno {
	n := fh.node
	last := true
	n.mu.Lock()
	h := fh.h
	switch fh.mode {
	case modePassthrough:
		n.ptOpens--
		// Stamped once the handle is released (its lease given back
		// may take a while): go-fuse lets go of the backing file only
		// after this returns.
		defer func() {
			n.mu.Lock()
			if n.ptOpens == 0 {
				n.ptLeft = time.Now()
			}
			n.mu.Unlock()
		}()
	case modeCached:
		n.cachedOpens--
	}
	delete(n.readers, fh)
	if fh.shared && n.writer != nil && n.writer.h == h {
		n.writer.refs--
		last = n.writer.refs == 0
		if last {
			n.writer = nil
			n.fsys.setWriting(n.StableAttr().Ino, nil)
		}
	}
	n.mu.Unlock()
	if fh.write {
		n.forgetParentListing()
	}
	if !last {
		// Other opens still use the shared handle; commit what this
		// open wrote, as close does.
		return n.errno("release", n.path(), h.Flush(ctx))
	}
	return n.errno("release", n.path(), h.Release(ctx))
}

// PassthroughFd hands the backing file to go-fuse, which registers it with
// the kernel once per inode.
func (ph passthroughHandle) PassthroughFd() (int, bool) {
	f := ph.h.Passthrough()
	if f == nil {
		return -1, false
	}
	return int(f.Fd()), true
}

func (n *node) forgetParentListing() {
	if _, parent := n.Parent(); parent != nil {
		if pn, ok := parent.Operations().(*node); ok {
			pn.forgetListing()
		}
	}
}

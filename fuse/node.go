package fuse

import (
	"context"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// node is one file, directory or symlink of the mount. It keeps no
// metadata of its own beyond a short-lived directory listing: the master is
// the source of truth and the kernel caches attributes for the configured
// timeouts.
type node struct {
	fs.Inode
	fsys *fileSystem

	// mu guards the open-mode counters and the listing cache below.
	mu sync.Mutex
	// ptOpens counts handles served by kernel passthrough of the backing
	// file of version ptVersion; cachedOpens counts page-cache mode opens.
	// The kernel refuses to mix the two on one inode (ETXTBSY), so opens
	// choose a mode that fits what is already open.
	ptOpens, cachedOpens int
	ptVersion            string
	// ptLeft is when the last passthrough open of version ptVersion was
	// released. go-fuse drops the inode's backing file only after our
	// Release returns, and hands a passthrough open in between the one
	// still registered: an open of another version waits ptSettle before
	// it may have passthrough, or it would read the old version's file.
	ptLeft time.Time
	// writer is the inode's write-capable handle while any open writes:
	// every open of the inode shares it, so they all see each other's
	// writes, and a truncate that arrives without a handle (open with
	// O_TRUNC) reaches it too.
	writer *sharedHandle
	// openMu serialises the opens and releases of the inode's handles
	// and the removal or move of its name through this mount: two
	// writers never make two handles, and a name change never runs while
	// a writer that just left the inode still commits (its commit would
	// write the file back to the under-store at the old name).
	openMu sync.Mutex
	// readers are the open handles with their own view of the bytes;
	// a truncate by path tells them their view is stale.
	readers map[*fileHandle]struct{}
	// listing caches the entries readdir fetched last, so that
	// readdirplus's lookups of the entries it just returned (and ls -l's
	// right after a readdir) do not each cost a master round trip. It
	// gathers a listing's pages up to maxListing entries, then starts
	// again from the page at hand, so it stays bounded whatever the size
	// of the directory; it is trusted for attrTimeout from its oldest
	// page.
	listing     map[string]Attr
	listingTime time.Time
}

var (
	_ fs.NodeLookuper       = (*node)(nil)
	_ fs.NodeGetattrer      = (*node)(nil)
	_ fs.NodeSetattrer      = (*node)(nil)
	_ fs.NodeOpendirHandler = (*node)(nil)
	_ fs.NodeOpener         = (*node)(nil)
	_ fs.NodeCreater        = (*node)(nil)
	_ fs.NodeMkdirer        = (*node)(nil)
	_ fs.NodeUnlinker       = (*node)(nil)
	_ fs.NodeRmdirer        = (*node)(nil)
	_ fs.NodeRenamer        = (*node)(nil)
	_ fs.NodeSymlinker      = (*node)(nil)
	_ fs.NodeReadlinker     = (*node)(nil)
	_ fs.NodeStatfser       = (*node)(nil)
	_ fs.NodeFsyncer        = (*node)(nil)
	_ fs.NodeLinker         = (*node)(nil)
	_ fs.NodeMknoder        = (*node)(nil)
)

// nameMax is the longest name a directory entry may have (NAME_MAX). The
// kernel passes FUSE names of up to 1024 bytes, so the check is ours.
const nameMax = 255

// Link refuses hard links, a documented limit: the namespace gives each
// inode one name. EPERM is what link(2) returns on a file system that
// does not support them (the kernel would answer ENOTSUP without this).
func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if len(name) > nameMax {
		return nil, syscall.ENAMETOOLONG
	}
	return nil, syscall.EPERM
}

// Mknod makes an empty regular file, and refuses special files (FIFOs,
// sockets, devices) with EPERM, as mknod(2) does where the file system
// does not support the type.
func (n *node) Mknod(ctx context.Context, name string, mode, dev uint32, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if len(name) > nameMax {
		return nil, syscall.ENAMETOOLONG
	}
	if mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, syscall.EPERM
	}
	p := n.child(name)
	n.forgetListing()
	h, a, err := n.fsys.client.Create(ctx, p, syscall.O_WRONLY|syscall.O_EXCL, mode&07777, caller(ctx))
	if err != nil {
		return nil, n.errno("mknod", p, err)
	}
	if err := h.Release(ctx); err != nil {
		return nil, n.errno("mknod", p, err)
	}
	return n.newChild(ctx, a, out), 0
}

// Fsync of a directory (or of a file through a handle) makes changes
// durable; metadata is durable once the master answered, so a directory
// has nothing left to do.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if fh := n.handleOf(f); fh != nil {
		return fh.Fsync(ctx, flags)
	}
	return 0
}

// path is the node's absolute path in the cluster namespace. A node whose
// name was removed (orphan) has none: go-fuse gives it the empty path,
// which would name the mount's root, so it gets orphanPath, which the
// master refuses (EINVAL) should a caller not check named first.
func (n *node) path() string {
	if n.orphan() {
		return orphanPath
	}
	return path.Join(n.fsys.root, n.Path(nil))
}

// orphanPath is the path of a node whose name was removed: no valid path.
const orphanPath = "\x00unlinked"

// named returns the node's path, and false when its name was removed.
func (n *node) named() (string, bool) {
	p := n.path()
	return p, p != orphanPath
}

func (n *node) child(name string) string {
	return path.Join(n.path(), name)
}

func (n *node) errno(op, p string, err error) syscall.Errno {
	return toErrno(n.fsys.log, op, p, err)
}

func caller(ctx context.Context) Caller {
	c, ok := gofuse.FromContext(ctx)
	if !ok {
		return Caller{}
	}
	return Caller{UID: c.Uid, GID: c.Gid, PID: c.Pid}
}

// newChild makes (or finds) the kernel inode for an entry.
func (n *node) newChild(ctx context.Context, a Attr, out *gofuse.EntryOut) *fs.Inode {
	ch := n.NewInode(ctx, &node{fsys: n.fsys}, fs.StableAttr{Mode: typeBits(a), Ino: a.Ino})
	// NewInode makes a fresh node even when the kernel already knows
	// this inode (go-fuse swaps in the existing one later), so the open
	// writer is found by inode number.
	a = n.fsys.live(a)
	n.fsys.fillAttr(a, &out.Attr)
	out.SetEntryTimeout(n.fsys.entryTimeout)
	out.SetAttrTimeout(n.fsys.attrTimeout)
	return ch
}

// live corrects attributes from the master with what an open writer on
// this mount knows better: the length written so far. Without it a lookup
// would shrink the kernel's idea of the file, and the next O_APPEND write
// would land at the old end.
func (f *fileSystem) live(a Attr) Attr {
	f.writersMu.Lock()
	n := f.writers[a.Ino]
	f.writersMu.Unlock()
	if n == nil {
		return a
	}
	if w := n.writerHandle(); w != nil {
		a.Size = w.Size()
		if k, ok := w.(AttrKeeper); ok {
			a = k.Kept(a)
		}
	}
	return a
}

// setWriting records (or forgets) the node as having an open writer.
func (f *fileSystem) setWriting(ino uint64, n *node) {
	f.writersMu.Lock()
	defer f.writersMu.Unlock()
	if n == nil {
		delete(f.writers, ino)
		return
	}
	if f.writers == nil {
		f.writers = map[uint64]*node{}
	}
	f.writers[ino] = n
}

func (n *node) Lookup(ctx context.Context, name string, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if len(name) > nameMax {
		// Every call that names a new entry looks it up first.
		return nil, syscall.ENAMETOOLONG
	}
	if a, ok := n.cachedEntry(name); ok {
		return n.newChild(ctx, a, out), 0
	}
	p := n.child(name)
	a, err := n.fsys.client.Stat(ctx, p)
	if err != nil {
		return nil, n.errno("lookup", p, err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *node) cachedEntry(name string) (Attr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.listing == nil || time.Since(n.listingTime) > n.fsys.attrTimeout {
		n.listing = nil
		return Attr{}, false
	}
	a, ok := n.listing[name]
	return a, ok
}

func (n *node) forgetListing() {
	n.mu.Lock()
	n.listing = nil
	n.mu.Unlock()
}

func (n *node) Getattr(ctx context.Context, f fs.FileHandle, out *gofuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	if fh := n.handleOf(f); fh != nil && n.orphan() {
		// Unlinked while open: the file lives on in its handle, with
		// no name to ask the master about.
		if ah, ok := fh.handle().(Attributer); ok {
			a := ah.Attr()
			a.Nlink = 0
			n.fsys.fillAttr(a, &out.Attr)
			out.Attr.Nlink = 0
			out.SetTimeout(n.fsys.attrTimeout)
			return 0
		}
	}
	p, ok := n.named()
	if !ok {
		return syscall.ENOENT // a removed directory someone is still in
	}
	a, err := n.fsys.client.Stat(ctx, p)
	if err != nil {
		return n.errno("getattr", p, err)
	}
	a = n.fsys.live(a)
	n.fsys.fillAttr(a, &out.Attr)
	out.SetTimeout(n.fsys.attrTimeout)
	return 0
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *gofuse.SetAttrIn, out *gofuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	// The directory's listing holds the old attributes, which a lookup
	// would answer with (a mode just made stricter, a length cut).
	n.forgetParentListing()
	var s SetAttr
	if m, ok := in.GetMode(); ok {
		m &= 07777
		s.Mode = &m
	}
	if u, ok := in.GetUID(); ok {
		s.UID = &u
	}
	if g, ok := in.GetGID(); ok {
		s.GID = &g
	}
	if t, ok := in.GetMTime(); ok {
		s.Mtime = &t
	}
	if t, ok := in.GetATime(); ok {
		s.Atime = &t
	}
	p := n.path()
	if _, ok := in.GetSize(); ok {
		// A resize changes the bytes under every open handle: it waits
		// for the opens and releases in flight, like a write open.
		n.openMu.Lock()
		defer n.openMu.Unlock()
		if n.writerHandle() == nil && n.passthroughActive() {
			// The kernel would go on serving the readers' cached copy
			// at its old length.
			n.fsys.log.Info("truncate refused while the file is read through kernel passthrough", "path", p)
			return syscall.ETXTBSY
		}
	}
	w := n.writerHandle()
	if sz, ok := in.GetSize(); ok {
		size := int64(sz)
		if w != nil {
			if err := w.Truncate(ctx, size); err != nil {
				return n.errno("truncate", p, err)
			}
		} else {
			s.Size = &size
		}
	}
	if p == orphanPath {
		// Unlinked while open: the change has no file at the master to
		// go to; the handle's file lives on, unseen, until it closes.
		return n.orphanAttr(f, w, s, out)
	}
	if k, ok := w.(AttrKeeper); ok && s.Size == nil {
		if a, kept := k.KeepAttr(s); kept {
			n.fsys.fillAttr(a, &out.Attr)
			out.SetTimeout(n.fsys.attrTimeout)
			return 0
		}
	}
	a, err := n.fsys.client.SetAttr(ctx, p, s)
	if err != nil {
		return n.errno("setattr", p, err)
	}
	if _, resized := in.GetSize(); resized {
		n.refreshReaders(ctx)
	}
	if w != nil {
		a.Size = w.Size()
	}
	n.fsys.fillAttr(a, &out.Attr)
	out.SetTimeout(n.fsys.attrTimeout)
	return 0
}

// AttrKeeper is implemented by write handles that complete their file
// when they close: KeepAttr takes a change of mode, owner or times (never
// size) made while the handle is open, to give it to the file with the
// completion, and returns the file's attributes with it; kept is false
// when the change must go to the master now.
type AttrKeeper interface {
	KeepAttr(s SetAttr) (a Attr, kept bool)
	// Kept returns a with the changes the handle keeps applied.
	Kept(a Attr) Attr
}

// Attributer is implemented by handles that know their file's attributes
// (for a file unlinked while open).
type Attributer interface {
	Attr() Attr
}

// orphanAttr answers a setattr of a file unlinked while open with its
// handle's attributes, the change s made to them: as on a local file
// system, it succeeds on the file that has no name, which nothing else can
// see. A resize went to the writer already.
func (n *node) orphanAttr(f fs.FileHandle, w Handle, s SetAttr, out *gofuse.AttrOut) syscall.Errno {
	var ah Attributer
	if fh := n.handleOf(f); fh != nil {
		ah, _ = fh.handle().(Attributer)
	}
	if a, ok := w.(Attributer); ok && ah == nil {
		ah = a
	}
	if ah == nil {
		return syscall.ENOENT
	}
	a := ah.Attr()
	if s.Mode != nil {
		a.Perm = *s.Mode
	}
	if s.UID != nil {
		a.UID = *s.UID
	}
	if s.GID != nil {
		a.GID = *s.GID
	}
	if s.Mtime != nil {
		a.Mtime = *s.Mtime
	}
	if s.Atime != nil {
		a.Atime = *s.Atime
	}
	if w != nil {
		a.Size = w.Size()
	}
	a.Nlink = 0
	n.fsys.fillAttr(a, &out.Attr)
	out.Attr.Nlink = 0
	out.SetTimeout(n.fsys.attrTimeout)
	return 0
}

// orphan reports a node whose name was removed: go-fuse keeps it while the
// kernel holds it, without a parent.
func (n *node) orphan() bool {
	_, parent := n.Parent()
	return parent == nil && !n.IsRoot()
}

// Refresher is implemented by read handles that can take the file's
// current version when it changed under them (truncated by path).
type Refresher interface {
	Refresh(ctx context.Context) error
}

// refreshReaders has the open readers take the new version at once, while
// the file surely still exists.
func (n *node) refreshReaders(ctx context.Context) {
	n.mu.Lock()
	var rs []Refresher
	for fh := range n.readers {
		if r, ok := fh.h.(Refresher); ok {
			rs = append(rs, r)
		}
	}
	n.mu.Unlock()
	for _, r := range rs {
		if err := r.Refresh(ctx); err != nil {
			n.fsys.log.Debug("reader refresh failed", "path", n.path(), "err", err)
		}
	}
}

// writerHandle returns the inode's shared write handle, or nil.
func (n *node) writerHandle() Handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.writer == nil {
		return nil
	}
	return n.writer.h
}

// handleOf unwraps a go-fuse file handle of this package.
func (n *node) handleOf(f fs.FileHandle) *fileHandle {
	switch fh := f.(type) {
	case *fileHandle:
		return fh
	case passthroughHandle:
		return fh.fileHandle
	}
	return nil
}

// OpendirHandle opens n for reading (see dirHandle); the listing starts
// with the first read.
func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return &dirHandle{n: n}, 0, 0
}

// readdir starts a listing of n, streamed a page at a time (see
// dirStream): the next page is fetched when the kernel has read the last
// one.
func (n *node) readdir(ctx context.Context) (*dirStream, syscall.Errno) {
	ctx = uninterrupted(ctx)
	lister, ok := n.fsys.client.(Lister)
	if !ok {
		lister = wholeLister{n.fsys.client}
	}
	return newDirStream(ctx, n, lister, n.path())
}

// maxListing bounds the entries of a node's listing cache.
const maxListing = 10000

// rememberPage adds a page just listed to the node's listing cache; first
// marks the first page of a listing, which starts the cache afresh.
func (n *node) rememberPage(entries []Entry, first bool) {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	if first || n.listing == nil || len(n.listing)+len(entries) > maxListing ||
		now.Sub(n.listingTime) > n.fsys.attrTimeout {
		n.listing, n.listingTime = make(map[string]Attr, len(entries)), now
	}
	for _, e := range entries {
		n.listing[e.Name] = e.Attr
	}
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	p := n.child(name)
	n.forgetListing()
	a, err := n.fsys.client.Mkdir(ctx, p, mode&07777, caller(ctx))
	if err != nil {
		return nil, n.errno("mkdir", p, err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	p := n.child(name)
	n.forgetListing()
	remove := func(ctx context.Context) error { return n.fsys.client.Remove(ctx, p, false) }
	if cn := n.childNode(name); cn != nil {
		cn.openMu.Lock()
		defer cn.openMu.Unlock()
		if u, ok := cn.writerHandle().(Unlinkable); ok {
			return n.errno("unlink", p, u.Unlink(ctx, remove))
		}
	}
	return n.errno("unlink", p, remove(ctx))
}

// Unlinkable is implemented by write handles that can outlive their file's
// name, as POSIX lets an open file do.
type Unlinkable interface {
	// Unlink calls remove, which takes the file's name away, with the
	// handle's commits held off. It first moves the bytes written so
	// far somewhere private, so that the handle goes on reading and
	// writing them; once remove succeeded the handle never commits
	// again. A commit in between (the close of another open of the file)
	// would put the file back in the under-store after the master
	// deleted it, and the next lookup would find it there again.
	Unlink(ctx context.Context, remove func(context.Context) error) error
}

// Movable is implemented by write handles whose commits must not overlap
// a move of their file: a commit finds the file's name and then writes the
// under-store at that name.
type Movable interface {
	// Move calls rename, which moves the file, with the handle's
	// commits held off.
	Move(ctx context.Context, rename func(context.Context) error) error
}

// childNode returns the node of the entry name if the kernel knows it.
func (n *node) childNode(name string) *node {
	ch := n.GetChild(name)
	if ch == nil {
		return nil
	}
	cn, _ := ch.Operations().(*node)
	return cn
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx = uninterrupted(ctx)
	p := n.child(name)
	n.forgetListing()
	return n.errno("rmdir", p, n.fsys.client.Remove(ctx, p, true))
}

// Linux renameat2 flags.
const (
	renameNoReplace = 1
	renameExchange  = 2
)

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	// RENAME_WHITEOUT (for overlayfs's upper layer) has no whiteout
	// file here to leave; refusing it makes overlayfs fall back.
	if flags&^(renameNoReplace|renameExchange) != 0 || flags&renameExchange != 0 && flags&renameNoReplace != 0 {
		return syscall.EINVAL
	}
	if len(newName) > nameMax {
		return syscall.ENAMETOOLONG
	}
	dst, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	src, to := n.child(name), dst.child(newName)
	n.forgetListing()
	dst.forgetListing()
	if flags&renameExchange != 0 {
		return n.exchange(ctx, name, dst, newName)
	}
	noReplace := flags&renameNoReplace != 0
	rename := func(ctx context.Context) error { return n.fsys.client.Rename(ctx, src, to, noReplace) }
	// Hold off the commits of the writers of both files on this mount:
	// the moved file's would land at the old name, the replaced file's
	// would put it back. Two renames that could take the same two nodes
	// in the opposite order never run at once (the kernel holds the
	// directory's lock, or the file system's rename lock across
	// directories), so taking two nodes' openMu cannot deadlock.
	sn := n.childNode(name)
	if sn != nil {
		sn.openMu.Lock()
		defer sn.openMu.Unlock()
	}
	if dn := dst.childNode(newName); !noReplace && dn != nil && dn != sn {
		dn.openMu.Lock()
		defer dn.openMu.Unlock()
		if u, ok := dn.writerHandle().(Unlinkable); ok {
			inner := rename
			rename = func(ctx context.Context) error { return u.Unlink(ctx, inner) }
		}
	}
	if sn != nil {
		if m, ok := sn.writerHandle().(Movable); ok {
			inner := rename
			rename = func(ctx context.Context) error { return m.Move(ctx, inner) }
		}
	}
	return n.errno("rename", src, rename(ctx))
}

// exchange swaps name with newName in dst (RENAME_EXCHANGE), holding off
// the commits of both files' writers on this mount, as a rename does for
// the file it moves: each writer finds its file by its id afterwards.
func (n *node) exchange(ctx context.Context, name string, dst *node, newName string) syscall.Errno {
	a, b := n.child(name), dst.child(newName)
	exchange := func(ctx context.Context) error { return n.fsys.client.Exchange(ctx, a, b) }
	held := []*node{n.childNode(name)}
	if bn := dst.childNode(newName); bn != held[0] {
		held = append(held, bn)
	}
	for _, cn := range held {
		if cn == nil {
			continue
		}
		cn.openMu.Lock()
		defer cn.openMu.Unlock()
		if m, ok := cn.writerHandle().(Movable); ok {
			inner := exchange
			exchange = func(ctx context.Context) error { return m.Move(ctx, inner) }
		}
	}
	return n.errno("exchange", a, exchange(ctx))
}

func (n *node) Symlink(ctx context.Context, target, name string, out *gofuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	p := n.child(name)
	n.forgetListing()
	a, err := n.fsys.client.Symlink(ctx, p, target, caller(ctx))
	if err != nil {
		return nil, n.errno("symlink", p, err)
	}
	return n.newChild(ctx, a, out), 0
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ctx = uninterrupted(ctx)
	p := n.path()
	a, err := n.fsys.client.Stat(ctx, p)
	if err != nil {
		return nil, n.errno("readlink", p, err)
	}
	if !a.IsSymlink {
		return nil, syscall.EINVAL
	}
	return []byte(a.Target), 0
}

func (n *node) Statfs(ctx context.Context, out *gofuse.StatfsOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	st, err := n.fsys.client.StatFS(ctx)
	if err != nil {
		return n.errno("statfs", "/", err)
	}
	const bsize = 4096
	out.Bsize = bsize
	out.Frsize = bsize
	out.NameLen = 255
	out.Blocks = uint64(st.Capacity) / bsize
	free := st.Capacity - st.Used
	if free < 0 {
		free = 0
	}
	out.Bfree = uint64(free) / bsize
	out.Bavail = out.Bfree
	out.Files = st.Files
	out.Ffree = 1 << 30
	return 0
}

func typeBits(a Attr) uint32 {
	switch {
	case a.IsDir:
		return syscall.S_IFDIR
	case a.IsSymlink:
		return syscall.S_IFLNK
	}
	return syscall.S_IFREG
}

func (f *fileSystem) fillAttr(a Attr, out *gofuse.Attr) {
	out.Ino = a.Ino
	out.Size = uint64(a.Size)
	out.Blocks = (uint64(a.Size) + 511) / 512
	out.Blksize = uint32(f.blockSize)
	out.Mode = typeBits(a) | a.Perm&07777
	out.Nlink = a.Nlink
	if out.Nlink == 0 {
		out.Nlink = 1
	}
	out.Owner = gofuse.Owner{Uid: a.UID, Gid: a.GID}
	out.SetTimes(&a.Atime, &a.Mtime, &a.Ctime)
	if a.IsSymlink {
		out.Size = uint64(len(a.Target))
	}
}

package meta

import (
	"errors"
	"fmt"
	"github.com/alluxio-go/alluxio/ufs"
	"io/fs"
	"os"
	"syscall"
)

// The checks below validate a mutation against the current state. Apply
// functions run them before writing anything, and the master runs the same
// ones on its local state before doing the under-store side effect, so a
// request that is bound to fail does not touch the under-store.

// checkWritable refuses a mutation of p when p lies in a read-only mount.
func checkWritable(t *txn, op, p string) error {
	if m, _, ok := t.mountTable().resolve(p); ok && m.ReadOnly {
		return &fs.PathError{Op: op, Path: p, Err: syscall.EROFS}
	}
	return nil
}

// checkCreateFile validates the creation of a file at p and returns its
// parent and the entry it replaces (nil when none).
func checkCreateFile(t *txn, p string, overwrite, exclusive bool) (parent, existing *inode, err error) {
	const op = "create"
	if p == "/" {
		return nil, nil, &fs.PathError{Op: op, Path: p, Err: syscall.EISDIR}
	}
	if err := checkWritable(t, op, p); err != nil {
		return nil, nil, err
	}
	dir, name := splitParent(p)
	if parent, err = t.lookupDir(op, dir, p); err != nil {
		return nil, nil, err
	}
	id, ok := t.child(parent.ID, name)
	if !ok {
		return parent, nil, t.err
	}
	if existing, ok = t.inode(id); !ok {
		return nil, nil, t.err
	}
	switch {
	case exclusive || !overwrite:
		return nil, nil, &fs.PathError{Op: op, Path: p, Err: syscall.EEXIST}
	case existing.IsDir:
		return nil, nil, &fs.PathError{Op: op, Path: p, Err: syscall.EISDIR}
	}
	return parent, existing, nil
}

// checkCreateNew validates the creation of a new entry at p that must not
// exist yet, and returns its parent.
func checkCreateNew(t *txn, op, p string) (*inode, error) {
	if p == "/" {
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.EEXIST}
	}
	if err := checkWritable(t, op, p); err != nil {
		return nil, err
	}
	dir, name := splitParent(p)
	parent, err := t.lookupDir(op, dir, p)
	if err != nil {
		return nil, err
	}
	if _, ok := t.child(parent.ID, name); ok {
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.EEXIST}
	}
	return parent, t.err
}

// checkMkdir validates a directory creation. exists reports a directory
// already there that AllowExists accepts.
func checkMkdir(t *txn, p string, recursive, allowExists bool) (w walkResult, exists bool, err error) {
	const op = "mkdir"
	w = t.walk(p)
	if t.err != nil {
		return w, false, t.err
	}
	if w.node != nil {
		if w.node.IsDir && allowExists {
			return w, true, nil
		}
		return w, false, &fs.PathError{Op: op, Path: p, Err: syscall.EEXIST}
	}
	if err := checkWritable(t, op, p); err != nil {
		return w, false, err
	}
	if !w.last.IsDir {
		return w, false, &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
	}
	if len(w.missing) > 1 && !recursive {
		return w, false, &fs.PathError{Op: op, Path: p, Err: syscall.ENOENT}
	}
	return w, false, nil
}

// checkDelete validates the removal of p and returns the entry and its
// parent.
func checkDelete(t *txn, p string, recursive bool) (parent, n *inode, err error) {
	const op = "delete"
	if p == "/" {
		return nil, nil, &fs.PathError{Op: op, Path: p, Err: syscall.EBUSY}
	}
	if err := checkWritable(t, op, p); err != nil {
		return nil, nil, err
	}
	if n, err = t.lookup(op, p); err != nil {
		return nil, nil, err
	}
	mt := t.mountTable()
	if _, ok := mt.mountAt(p); ok {
		return nil, nil, fmt.Errorf("delete %s: is a mount point (unmount it first): %w", p, syscall.EBUSY)
	}
	if n.IsDir {
		if !recursive && t.hasChildren(n.ID) {
			return nil, nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOTEMPTY}
		}
		if m, ok := mt.mountBelow(p); ok {
			return nil, nil, fmt.Errorf("delete %s: holds mount point %s: %w", p, m.AlluxioPath, syscall.EBUSY)
		}
	}
	if parent, err = parentOf(t, op, p, n); err != nil {
		return nil, nil, err
	}
	return parent, n, nil
}

// parentOf loads the parent directory of n (found at p).
func parentOf(t *txn, op, p string, n *inode) (*inode, error) {
	parent, ok := t.inode(n.ParentID)
	if !ok {
		if t.err != nil {
			return nil, t.err
		}
		return nil, fmt.Errorf("%s %s: parent inode %d missing: %w", op, p, n.ParentID, syscall.EIO)
	}
	return parent, nil
}

// renamePlan is a validated rename.
type renamePlan struct {
	n                    *inode // the entry moved
	srcParent, dstParent *inode
	existing             *inode // the entry replaced at dst, or nil
	noop                 bool   // src == dst
}

// checkRename validates a POSIX rename of src to dst.
// checkNoReplace fails with EEXIST when dst exists (RENAME_NOREPLACE).
func checkNoReplace(t *txn, dst string) error {
	if w := t.walk(dst); w.node != nil {
		return &fs.PathError{Op: "rename", Path: dst, Err: syscall.EEXIST}
	}
	return t.err
}

func checkRename(t *txn, src, dst string) (renamePlan, error) {
	const op = "rename"
	var rp renamePlan
	fail := func(errno syscall.Errno) (renamePlan, error) {
		return renamePlan{}, &os.LinkError{Op: op, Old: src, New: dst, Err: errno}
	}
	if src == "/" || dst == "/" {
		return fail(syscall.EBUSY)
	}
	n, err := t.lookup(op, src)
	if err != nil {
		return rp, err
	}
	rp.n = n
	if src == dst {
		rp.noop = true
		return rp, nil
	}
	if within(dst, src) {
		return fail(syscall.EINVAL)
	}
	mt := t.mountTable()
	if m, ok := mt.mountAt(src); ok {
		return rp, fmt.Errorf("rename %s: is mount point of %s (unmount it first): %w", src, ufs.Redact(m.UfsURI), syscall.EBUSY)
	}
	if m, ok := mt.mountBelow(src); ok {
		return rp, fmt.Errorf("rename %s: holds mount point %s: %w", src, m.AlluxioPath, syscall.EBUSY)
	}
	if _, ok := mt.mountAt(dst); ok {
		return rp, fmt.Errorf("rename to %s: is a mount point: %w", dst, syscall.EBUSY)
	}
	ms, _, _ := mt.resolve(src)
	md, _, _ := mt.resolve(dst)
	if ms.ID != md.ID {
		return fail(syscall.EXDEV)
	}
	if ms.ReadOnly {
		return fail(syscall.EROFS)
	}
	dstDir, dstName := splitParent(dst)
	if rp.dstParent, err = t.lookupDir(op, dstDir, dst); err != nil {
		return rp, err
	}
	if id, ok := t.child(rp.dstParent.ID, dstName); ok {
		ex, ok := t.inode(id)
		if !ok {
			return rp, t.err
		}
		switch {
		case n.IsDir && !ex.IsDir:
			return fail(syscall.ENOTDIR)
		case !n.IsDir && ex.IsDir:
			return fail(syscall.EISDIR)
		case ex.IsDir && t.hasChildren(ex.ID):
			return fail(syscall.ENOTEMPTY)
		}
		rp.existing = ex
	}
	if rp.srcParent, err = parentOf(t, op, src, n); err != nil {
		return rp, err
	}
	if rp.srcParent.ID == rp.dstParent.ID {
		rp.dstParent = rp.srcParent // one record, so that both updates land
	}
	return rp, nil
}

// exchangePlan is a validated exchange of two entries.
type exchangePlan struct {
	a, b             *inode // the entries at the first and the second path
	aParent, bParent *inode // one record when they share a directory
	noop             bool   // the same path twice
}

// checkExchange validates swapping the entries at a and b
// (renameat2's RENAME_EXCHANGE): both must exist, in one writable mount,
// neither the root, a mount point, above a mount point, or above the
// other. Their kinds may differ.
func checkExchange(t *txn, a, b string) (exchangePlan, error) {
	const op = "exchange"
	var xp exchangePlan
	fail := func(errno syscall.Errno) (exchangePlan, error) {
		return exchangePlan{}, &os.LinkError{Op: op, Old: a, New: b, Err: errno}
	}
	if a == "/" || b == "/" {
		return fail(syscall.EBUSY)
	}
	var err error
	if xp.a, err = t.lookup(op, a); err != nil {
		return exchangePlan{}, err
	}
	if xp.b, err = t.lookup(op, b); err != nil {
		return exchangePlan{}, err
	}
	if a == b {
		xp.noop = true
		return xp, nil
	}
	if within(a, b) || within(b, a) {
		return fail(syscall.EINVAL)
	}
	mt := t.mountTable()
	for _, p := range []string{a, b} {
		if m, ok := mt.mountAt(p); ok {
			return exchangePlan{}, fmt.Errorf("exchange %s: is mount point of %s (unmount it first): %w", p, ufs.Redact(m.UfsURI), syscall.EBUSY)
		}
		if m, ok := mt.mountBelow(p); ok {
			return exchangePlan{}, fmt.Errorf("exchange %s: holds mount point %s: %w", p, m.AlluxioPath, syscall.EBUSY)
		}
	}
	ma, _, _ := mt.resolve(a)
	mb, _, _ := mt.resolve(b)
	if ma.ID != mb.ID {
		return fail(syscall.EXDEV)
	}
	if ma.ReadOnly {
		return fail(syscall.EROFS)
	}
	if xp.aParent, err = parentOf(t, op, a, xp.a); err != nil {
		return exchangePlan{}, err
	}
	if xp.bParent, err = parentOf(t, op, b, xp.b); err != nil {
		return exchangePlan{}, err
	}
	if xp.aParent.ID == xp.bParent.ID {
		xp.bParent = xp.aParent // one record, so that both updates land
	}
	return xp, nil
}

// checkSetAttr validates the attribute change c (normalising its TTL
// action) and returns the entry. truncate reports a size change to 0.
//
// A change of the namespace-only attributes alone (pin, TTL) is allowed in
// a read-only mount, except a TTL that would delete the entry. A TTL that
// would delete a mount point (or the root) is refused: unmount it instead.
func checkSetAttr(t *txn, c *setAttrCmd) (n *inode, truncate bool, err error) {
	const op = "setattr"
	p, size := c.Path, c.Size
	if err := c.nsAttrs.validate(op, p); err != nil {
		return nil, false, err
	}
	nsOnly := c.nsAttrs.set() && c.Mode == nil && c.UID == nil && c.GID == nil &&
		c.Mtime == nil && c.Atime == nil && c.Size == nil
	if !nsOnly {
		if err := checkWritable(t, op, p); err != nil {
			return nil, false, err
		}
	}
	if n, err = t.lookup(op, p); err != nil {
		return nil, false, err
	}
	if ttl, action := c.nsAttrs.outcome(n); (c.TTL != nil || c.TTLAction != nil) && ttl > 0 && action == TTLActionDelete {
		mt := t.mountTable()
		if _, ok := mt.mountAt(p); ok {
			return nil, false, fmt.Errorf("setattr %s: a mount point cannot expire with action %s (unmount it instead): %w", p, action, syscall.EINVAL)
		}
		if nsOnly {
			if err := checkWritable(t, op, p); err != nil {
				return nil, false, err
			}
		}
	}
	if size == nil || *size == n.Size {
		return n, false, nil
	}
	switch {
	case n.IsDir:
		return nil, false, &fs.PathError{Op: "truncate", Path: p, Err: syscall.EISDIR}
	case n.IsSymlink:
		return nil, false, &fs.PathError{Op: "truncate", Path: p, Err: syscall.EINVAL}
	case *size < 0:
		return nil, false, &fs.PathError{Op: "truncate", Path: p, Err: syscall.EINVAL}
	case *size != 0:
		return nil, false, fmt.Errorf("truncate %s to %d bytes: only truncation to 0 is supported: %w", p, *size, syscall.EOPNOTSUPP)
	}
	return n, true, nil
}

// checkMount validates a new mount point at p (not the root) and returns
// its parent.
func checkMount(t *txn, p string) (*inode, error) {
	const op = "mount"
	dir, name := splitParent(p)
	parent, err := t.lookupDir(op, dir, p)
	if err != nil {
		return nil, err
	}
	if _, ok := t.child(parent.ID, name); ok {
		return nil, fmt.Errorf("mount point %s already exists: %w", p, syscall.EEXIST)
	}
	return parent, t.err
}

// checkUnmount validates the removal of the mount at p.
func checkUnmount(t *txn, p string) (MountInfo, error) {
	if p == "/" {
		return MountInfo{}, fmt.Errorf("unmount /: the root mount cannot be unmounted: %w", syscall.EINVAL)
	}
	mt := t.mountTable()
	m, ok := mt.mountAt(p)
	if !ok {
		return MountInfo{}, fmt.Errorf("unmount %s: not a mount point: %w", p, syscall.EINVAL)
	}
	if nested, ok := mt.mountBelow(p); ok {
		return MountInfo{}, fmt.Errorf("unmount %s: mount point %s lies below it: %w", p, nested.AlluxioPath, syscall.EBUSY)
	}
	return m, t.err
}

// removable reports whether n and everything below it may be dropped by a
// sync because the under-store no longer has it: only persisted, completed
// entries, and no mount point.
func removable(t *txn, mt mountTable, n *inode, p string) bool {
	if !n.Persisted || !n.Completed {
		return false
	}
	if !n.IsDir {
		return true
	}
	if _, ok := mt.mountAt(p); ok {
		return false
	}
	if _, ok := mt.mountBelow(p); ok {
		return false
	}
	ok := true
	err := t.children(n.ID, func(name string, id uint64) error {
		c, found := t.inode(id)
		if !found || !removable(t, mt, c, joinPath(p, name)) {
			ok = false
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		t.fail(err)
	}
	return ok && t.err == nil
}

// errStop ends an iteration early; it never leaves the function that
// started the iteration.
var errStop = errors.New("stop")

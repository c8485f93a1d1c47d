package meta

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"syscall"
)

// Permissions: a call that carries its caller (WithCaller) is checked
// against the mode, owner and group of the entries it touches, as a local
// file system checks them (alluxio.security.authorization.permission.enabled):
// search permission on every directory on the way, read to list, write and
// search on a directory to add or remove entries (the owner of the entry or
// of the directory only, in a sticky directory), the owner to change the
// mode, root to change the owner. Root passes every check, unless root is
// squashed (Config.RootSquash), when it is the nobody user. A call without
// a caller (the FUSE daemon for ordinary users, whose kernel checks with
// default_permissions; the workers) is not checked here.

// Caller is who makes a call.
type Caller struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Nobody is the user a squashed root becomes.
var Nobody = Caller{UID: 65534, GID: 65534}

type callerKey struct{}

// WithCaller makes the calls made with ctx checked as c's.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// access is what a call needs of the entry at a path.
type access int

const (
	accTraverse access = iota // search permission on the way to it
	accRead                   // read it (a file's bytes, a directory's names, xattrs)
	accWrite                  // write it
	accCreate                 // add it: write and search on its directory
	accDelete                 // remove it: as accCreate, and the sticky bit's rule
	accOwner                  // be its owner
	accRoot                   // be root
)

// Permission bits.
const (
	permR = 4
	permW = 2
	permX = 1
)

// checkedCaller returns the caller to check, false when nothing is to be
// checked (no caller, permissions off, root not squashed).
func (m *Master) checkedCaller(ctx context.Context) (Caller, bool) {
	c, ok := CallerFrom(ctx)
	if !ok || !m.cfg.Permissions {
		return Caller{}, false
	}
	if c.UID == 0 {
		if !m.cfg.RootSquash {
			return Caller{}, false
		}
		c = Nobody
	}
	return c, true
}

// authorize checks that the caller of ctx may do op with need on p.
func (m *Master) authorize(ctx context.Context, op, p string, need access) error {
	c, ok := m.checkedCaller(ctx)
	if !ok {
		return nil
	}
	return m.fsm.view(func(t *txn) error { return t.authorize(c, op, p, need) })
}

// authorize is Master.authorize within a transaction. An entry that does
// not exist is not this check's business (the call reports ENOENT): only
// the directories that exist on the way are checked.
func (t *txn) authorize(c Caller, op, p string, need access) error {
	denied := func(errno syscall.Errno) error { return &fs.PathError{Op: op, Path: p, Err: errno} }
	cur, ok := t.inode(rootID)
	if !ok {
		return t.err
	}
	elems := splitPath(p)
	// Search permission on every existing directory above the entry.
	var parent *inode
	for i, name := range elems {
		if !cur.IsDir {
			return nil
		}
		if !allowed(c, cur, permX) {
			return denied(syscall.EACCES)
		}
		id, found := t.child(cur.ID, name)
		if !found {
			if i < len(elems)-1 {
				// A missing directory on the way: the nearest
				// existing one must take new entries, for mkdir -p.
				if need == accCreate && !allowed(c, cur, permW) {
					return denied(syscall.EACCES)
				}
				return nil
			}
			parent, cur = cur, nil
			break
		}
		next, ok := t.inode(id)
		if !ok {
			return t.err
		}
		parent, cur = cur, next
	}
	if len(elems) == 0 {
		parent = nil
	}
	switch need {
	case accTraverse:
		return nil
	case accRead:
		if cur != nil && !allowed(c, cur, permR) {
			return denied(syscall.EACCES)
		}
	case accWrite:
		if cur != nil && !allowed(c, cur, permW) {
			return denied(syscall.EACCES)
		}
	case accCreate, accDelete:
		if parent == nil {
			return denied(syscall.EACCES) // the root has no directory to change
		}
		if !allowed(c, parent, permW|permX) {
			return denied(syscall.EACCES)
		}
		if need == accDelete && cur != nil && parent.Mode&01000 != 0 && c.UID != cur.UID && c.UID != parent.UID {
			return denied(syscall.EACCES)
		}
	case accOwner:
		if cur != nil && c.UID != cur.UID {
			return denied(syscall.EPERM)
		}
	case accRoot:
		return denied(syscall.EPERM)
	}
	return nil
}

// allowed reports whether c has the bits want on n.
func allowed(c Caller, n *inode, want uint32) bool {
	mode := n.Mode & 0o777
	var bits uint32
	switch {
	case c.UID == n.UID:
		bits = mode >> 6
	case c.GID == n.GID || slices.Contains(c.Groups, n.GID):
		bits = mode >> 3
	default:
		bits = mode
	}
	return bits&7&want == want
}

// inGroup reports whether c belongs to gid.
func inGroup(c Caller, gid uint32) bool { return c.GID == gid || slices.Contains(c.Groups, gid) }

// authorizeSetAttr checks a change of attributes: the mode by the owner,
// the owner by root, the group by the owner to a group of theirs, times
// and pins by the owner or a writer, the length by a writer.
func (m *Master) authorizeSetAttr(ctx context.Context, p string, o SetAttrOptions) error {
	c, ok := m.checkedCaller(ctx)
	if !ok {
		return nil
	}
	const op = "setattr"
	return m.fsm.view(func(t *txn) error {
		if err := t.authorize(c, op, p, accTraverse); err != nil {
			return err
		}
		n, err := t.lookup(op, p)
		if err != nil {
			return nil // reported by the call itself
		}
		eperm := &fs.PathError{Op: op, Path: p, Err: syscall.EPERM}
		owner := c.UID == n.UID
		if o.Mode != nil && !owner {
			return eperm
		}
		if o.UID != nil && *o.UID != n.UID {
			return eperm
		}
		if o.GID != nil && *o.GID != n.GID && (!owner || !inGroup(c, *o.GID)) {
			return eperm
		}
		writer := allowed(c, n, permW)
		if (o.Mtime != nil || o.Atime != nil || o.Pinned != nil || o.TTL != nil) && !owner && !writer {
			return &fs.PathError{Op: op, Path: p, Err: syscall.EACCES}
		}
		if o.Size != nil && !writer {
			return &fs.PathError{Op: op, Path: p, Err: syscall.EACCES}
		}
		return nil
	})
}

// authorizeRename checks a rename: removing src from its directory, adding
// dst to its own (and removing what dst replaces), and, for a directory
// moved to another parent, writing the directory itself (its "..").
func (m *Master) authorizeRename(ctx context.Context, src, dst string) error {
	c, ok := m.checkedCaller(ctx)
	if !ok {
		return nil
	}
	const op = "rename"
	return m.fsm.view(func(t *txn) error {
		if err := t.authorize(c, op, src, accDelete); err != nil {
			return err
		}
		if err := t.authorize(c, op, dst, accDelete); err != nil {
			return err
		}
		if n, err := t.lookup(op, src); err == nil && n.IsDir && path.Dir(src) != path.Dir(dst) && !allowed(c, n, permW) {
			return &fs.PathError{Op: op, Path: src, Err: syscall.EACCES}
		}
		return nil
	})
}

// inheritGroup gives a new entry the group of a set-group-ID directory it
// is made in, and a new directory there the set-group-ID bit too, as
// local file systems do.
func (m *Master) inheritGroup(p string, gid *uint32, mode *uint32, dir bool) {
	_ = m.fsm.view(func(t *txn) error {
		w := t.walk(path.Dir(p))
		parent := w.node
		if parent == nil {
			parent = w.last // mkdir -p: the nearest existing directory
		}
		if parent == nil || !parent.IsDir || parent.Mode&02000 == 0 {
			return nil
		}
		*gid = parent.GID
		if dir {
			*mode |= 02000
		}
		return nil
	})
}

// authorizeCreateFile checks a create: adding the entry to its directory,
// or, for a file that exists and is truncated, writing it.
func (m *Master) authorizeCreateFile(ctx context.Context, op, p string, overwrite bool) error {
	c, ok := m.checkedCaller(ctx)
	if !ok {
		return nil
	}
	return m.fsm.view(func(t *txn) error {
		if overwrite {
			if n, err := t.lookup(op, p); err == nil && !n.IsDir {
				return t.authorize(c, op, p, accWrite)
			}
		}
		return t.authorize(c, op, p, accCreate)
	})
}

// ownerFor makes the caller the owner of what it creates: a user of the
// CLI, or nobody for a squashed root. Root, unsquashed, gives the owner it
// names (the FUSE daemon passes the kernel's caller).
func (m *Master) ownerFor(ctx context.Context, uid, gid *uint32) {
	c, ok := CallerFrom(ctx)
	switch {
	case !ok:
	case c.UID != 0:
		*uid, *gid = c.UID, c.GID
	case m.cfg.Permissions && m.cfg.RootSquash:
		*uid, *gid = Nobody.UID, Nobody.GID
	}
}

package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"
)

// LoadStats counts what LoadMetadata looked at.
type LoadStats struct {
	// Dirs and Files are the entries compared with the under-store.
	Dirs, Files int
}

// LoadMetadata brings the namespace at path up to date with its
// under-store now, whatever alluxio.user.file.metadata.sync.interval says
// (alluxio fs loadMetadata, alluxio fs ls --sync): entries added in the
// under-store appear, changed files get a new fingerprint (so no cached
// page of the old content is served again), removed ones vanish. A
// directory's children are listed again; with recursive, every directory
// below it too.
func (m *Master) LoadMetadata(ctx context.Context, path string, recursive bool) (LoadStats, error) {
	const op = "loadMetadata"
	var st LoadStats
	p, err := m.begin(op, path)
	if err != nil {
		return st, err
	}
	if p != "/" && !m.isMountPoint(p) {
		// The parent's listing decides whether p itself still exists;
		// the parent is loaded first, when the namespace lacks it.
		dir, _ := splitParent(p)
		if err := m.syncPath(ctx, dir); err != nil {
			return st, err
		}
		if _, err := m.stat(op, dir); err != nil {
			var errno syscall.Errno = syscall.ENOENT
			errors.As(err, &errno)
			return st, &fs.PathError{Op: op, Path: p, Err: errno}
		}
		if err := m.loadDir(ctx, dir); err != nil {
			return st, err
		}
	}
	if err := m.syncPath(ctx, p); err != nil {
		return st, err
	}
	fi, err := m.stat(op, p)
	if err != nil {
		return st, err
	}
	if !fi.IsDir {
		st.Files++
		return st, m.loadFile(ctx, p)
	}
	err = m.loadTree(ctx, p, recursive, &st)
	return st, err
}

// loadTree lists directory p again, then (recursive) the directories
// below it.
func (m *Master) loadTree(ctx context.Context, p string, recursive bool, st *LoadStats) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.loadDir(ctx, p); err != nil {
		return err
	}
	st.Dirs++
	children, err := m.ListStatus(ctx, p)
	if err != nil {
		return err
	}
	for _, c := range children {
		if !c.IsDir {
			st.Files++
			continue
		}
		if recursive {
			if err := m.loadTree(ctx, c.Path, true, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadDir lists directory p from its under-store and applies the
// difference, due or not. It makes a listing of its own, after any in
// flight (which holds p): one that began before the user asked may not
// hold what they want loaded.
func (m *Master) loadDir(ctx context.Context, p string) error {
	return m.listUFS(ctx, p, time.Now())
}

// loadFile stats file p in its under-store and applies a change, due or
// not.
func (m *Master) loadFile(ctx context.Context, p string) error {
	var n *inode
	if err := m.fsm.view(func(t *txn) error { n = t.walk(p).node; return nil }); err != nil {
		return err
	}
	if n == nil {
		return &fs.PathError{Op: "loadMetadata", Path: p, Err: syscall.ENOENT}
	}
	return m.restat(ctx, p, time.Now()) // a no-op for what has no copy in the store yet
}

// isMountPoint reports whether p is where a mount is attached.
func (m *Master) isMountPoint(p string) bool {
	for _, mi := range m.Mounts() {
		if mi.AlluxioPath == p {
			return true
		}
	}
	return false
}

// Inconsistency is one entry whose namespace metadata disagrees with its
// under-store.
type Inconsistency struct {
	// Path is the namespace path.
	Path string `json:"path"`
	// Reason says how: "missing in the under-store", "changed in the
	// under-store", "not a directory in the under-store", ...
	Reason string `json:"reason"`
}

// CheckConsistency compares the persisted entries at and below path with
// their under-store and reports those that differ, changing nothing
// (alluxio fs checkConsistency; LoadMetadata repairs). Entries not
// persisted yet are skipped; limit bounds the report (0: no bound).
func (m *Master) CheckConsistency(ctx context.Context, path string, limit int) ([]Inconsistency, error) {
	const op = "checkConsistency"
	p, err := m.beginRead(ctx, op, path)
	if err != nil {
		return nil, err
	}
	root, err := m.stat(op, p)
	if err != nil {
		return nil, err
	}
	var out []Inconsistency
	var check func(fi FileInfo) error
	check = func(fi FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if limit > 0 && len(out) >= limit {
			return nil
		}
		if fi.Persisted && !fi.IsSymlink {
			if reason := m.differs(ctx, fi); reason != "" {
				out = append(out, Inconsistency{Path: fi.Path, Reason: reason})
			}
		}
		if !fi.IsDir {
			return nil
		}
		var children []FileInfo
		err := m.fsm.view(func(t *txn) error {
			mt := t.mountTable()
			return t.children(fi.ID, func(name string, id uint64) error {
				if n, ok := t.inode(id); ok {
					children = append(children, mt.toInfo(n, joinPath(fi.Path, name)))
				}
				return t.err
			})
		})
		if err != nil {
			return err
		}
		for _, c := range children {
			if err := check(c); err != nil {
				return err
			}
		}
		return nil
	}
	return out, check(root)
}

// differs compares one persisted entry with its under-store: "" when they
// agree or the under-store cannot tell.
func (m *Master) differs(ctx context.Context, fi FileInfo) string {
	mi, rel, err := m.Resolve(fi.Path)
	if err != nil {
		return ""
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return ""
	}
	ui, err := u.Stat(ctx, rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing in the under-store"
	case err != nil:
		return ""
	case fi.IsDir && !ui.IsDir():
		return "a file in the under-store, a directory here"
	case !fi.IsDir && ui.IsDir():
		return "a directory in the under-store, a file here"
	case !fi.IsDir && ui.Fingerprint() != fi.UfsFingerprint:
		return fmt.Sprintf("changed in the under-store (size %d here, %d there)", fi.Size, ui.Size)
	}
	return ""
}

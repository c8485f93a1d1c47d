package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"syscall"
)

// DefaultListPageSize is how many entries a page of a listing holds when
// the caller asks for no particular number.
const DefaultListPageSize = 1000

// ListStatus lists a directory (listing it from the under-store on first
// use and when its sync is due); for a file it returns the file itself.
// The whole listing is built in memory: callers that may meet a big
// directory page through it with ListStatusPage instead.
func (m *Master) ListStatus(ctx context.Context, path string) ([]FileInfo, error) {
	const op = "list"
	p, err := m.beginRead(ctx, op, path)
	if err != nil {
		return nil, err
	}
	if err := m.authorize(ctx, op, p, accRead); err != nil {
		return nil, err
	}
	fi, err := m.prepareList(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir {
		return []FileInfo{fi}, nil
	}
	var out []FileInfo
	err = m.fsm.view(func(t *txn) error {
		var err error
		out, _, err = listPage(t, op, p, "", -1)
		return err
	})
	return out, err
}

// ListStatusPage lists directory path one page at a time: at most limit
// entries (DefaultListPageSize when limit <= 0) whose names sort after
// startAfter, in name order, and whether more follow.
//
// The first page (startAfter "") syncs the directory with its under-store
// as ListStatus does; later pages read the namespace only. Each page
// starts where the last one ended by name, so names removed or added
// between pages do not shift the listing: an entry present from the first
// page to the last is listed exactly once, and the memory a listing takes
// is bounded by the page, whatever the size of the directory. For a file
// the first page is the file itself; a later page of a path that is no
// longer a directory fails with ENOTDIR.
func (m *Master) ListStatusPage(ctx context.Context, path, startAfter string, limit int) (entries []FileInfo, more bool, err error) {
	const op = "list"
	p, err := m.beginRead(ctx, op, path)
	if err != nil {
		return nil, false, err
	}
	if err := m.authorize(ctx, op, p, accRead); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		limit = DefaultListPageSize
	}
	if startAfter == "" {
		fi, err := m.prepareList(ctx, op, p)
		if err != nil {
			return nil, false, err
		}
		if !fi.IsDir {
			return []FileInfo{fi}, false, nil
		}
	}
	err = m.fsm.view(func(t *txn) error {
		var err error
		entries, more, err = listPage(t, op, p, startAfter, limit)
		return err
	})
	return entries, more, err
}

// prepareList brings the entry at p up to date with its under-store before
// a listing starts (load on miss, and for a directory a listing of the
// under-store when it was never listed or its sync is due), and returns it.
// A directory that was listed before is served from the namespace when the
// under-store fails.
func (m *Master) prepareList(ctx context.Context, op, p string) (FileInfo, error) {
	n, fi, err := m.lookupSynced(ctx, op, p)
	if err != nil || !fi.IsDir {
		return fi, err
	}
	loaded := n.Loaded
	if err := m.syncDir(ctx, p, loaded); err != nil {
		if !loaded {
			return FileInfo{}, err
		}
		m.log.Warn("directory sync failed; serving the namespace", "path", p, "err", err)
	}
	return fi, nil
}

// listPage reads up to limit entries (all when limit < 0) of the directory
// at p whose names sort after startAfter, and reports whether more
// follow. A file at p lists as itself when startAfter is "".
func listPage(t *txn, op, p, startAfter string, limit int) ([]FileInfo, bool, error) {
	dir, err := t.lookup(op, p)
	if err != nil {
		return nil, false, err
	}
	mt := t.mountTable()
	if !dir.IsDir {
		if startAfter != "" {
			return nil, false, &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
		}
		return []FileInfo{mt.toInfo(dir, p)}, false, nil
	}
	var (
		out  []FileInfo
		more bool
	)
	if limit > 0 {
		out = make([]FileInfo, 0, min(limit, 64))
	}
	t.childrenAfter(dir.ID, startAfter, func(name string, id uint64) bool {
		if limit >= 0 && len(out) == limit {
			more = true
			return false
		}
		if n, ok := t.inode(id); ok {
			out = append(out, mt.toInfo(n, joinPath(p, name)))
		}
		return t.err == nil
	})
	return out, more, t.err
}

// childrenAfter calls fn for each entry of directory parent whose name
// sorts after after ("" from the first), in name order, until fn returns
// false. Edges are keyed by parent id and name, so this is a cursor seek:
// the cost does not depend on how many entries come before.
func (t *txn) childrenAfter(parent uint64, after string, fn func(name string, id uint64) bool) {
	prefix := u64(parent)
	start := edgeKey(parent, after)
	c := t.tx.Bucket(bucketEdges).Cursor()
	k, v := c.Seek(start)
	if after != "" && bytes.Equal(k, start) {
		k, v = c.Next()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 {
			continue
		}
		if !fn(string(k[8:]), binary.BigEndian.Uint64(v)) {
			return
		}
	}
}

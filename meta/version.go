package meta

import (
	"context"
	"io/fs"
	"syscall"
	"time"
)

// newVersionCmd starts a new version of an existing file, by inode id: the
// bytes are dropped, the inode stays. A writer uses it to rewrite a file it
// holds open even after the file was renamed, and fails cleanly once the
// file was removed.
type newVersionCmd struct {
	ID  uint64 `json:"id"`
	Now int64  `json:"now"`
}

func (*newVersionCmd) commandType() commandType { return cmdNewVersion }

func (c *newVersionCmd) apply(t *txn) (any, error) {
	n, p, err := inodeByID(t, "rewrite", c.ID)
	if err != nil {
		return nil, err
	}
	if !n.isFile() {
		return nil, &fs.PathError{Op: "rewrite", Path: p, Err: syscall.EINVAL}
	}
	// Persisted stays: the under-store keeps the old bytes at the path
	// until the new ones replace them, and removing the file must remove
	// them.
	n.Size, n.Completed, n.UfsFingerprint, n.Location = 0, false, "", ""
	n.Mtime, n.Ctime = c.Now, c.Now
	n.Fingerprint = writtenFingerprint(n.ID, c.Now)
	t.putInode(n)
	return infoOf(t, n, p)
}

// NewVersion starts a new, empty and incomplete version of the file with
// inode id, for a writer to fill and complete with CompleteFile. The file
// keeps its inode, name, mode and owner; the under-store keeps the old bytes
// until the writer's new ones replace them.
func (m *Master) NewVersion(ctx context.Context, id uint64) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	return result[FileInfo](m.proposeRequest(ctx, &newVersionCmd{ID: id, Now: time.Now().UnixNano()}))
}

// StatusByID describes the file with inode id at its current path (a writer
// holding a file open finds where it went, or ENOENT once it was removed).
func (m *Master) StatusByID(ctx context.Context, id uint64) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	var fi FileInfo
	err := m.fsm.view(func(t *txn) error {
		n, p, err := inodeByID(t, "stat", id)
		if err != nil {
			return err
		}
		v, err := infoOf(t, n, p)
		if err != nil {
			return err
		}
		fi = v.(FileInfo)
		return nil
	})
	return fi, err
}

package meta

import (
	"context"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
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
	ctx, unlock, replay, err := m.lockInode(ctx, "new version", id)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	return result[FileInfo](m.proposeRequest(ctx, &newVersionCmd{ID: id, Now: time.Now().UnixNano()}))
}

// Version is what names one version of a file's content, as
// RestoreVersion gives it back.
type Version struct {
	Size           int64  `json:"size,omitempty"`
	Mtime          int64  `json:"mtime"`
	Persisted      bool   `json:"persisted,omitempty"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
	Location       string `json:"location,omitempty"`
}

// VersionOf is the version fi describes.
func VersionOf(fi FileInfo) Version {
	return Version{Size: fi.Size, Mtime: fi.Mtime, Persisted: fi.Persisted, Fingerprint: fi.Fingerprint,
		UfsFingerprint: fi.UfsFingerprint, Location: fi.Location}
}

// restoreVersionCmd gives a file back the complete version a writer's new
// one (Made, its fingerprint) replaced, when the writer could not start
// writing it.
type restoreVersionCmd struct {
	ID   uint64  `json:"id"`
	Made string  `json:"made"`
	Old  Version `json:"old"`
	Now  int64   `json:"now"`
}

func (*restoreVersionCmd) commandType() commandType { return cmdRestoreVersion }

func (c *restoreVersionCmd) apply(t *txn) (any, error) {
	const op = "restore version"
	n, p, err := inodeByID(t, op, c.ID)
	if err != nil {
		return nil, err
	}
	if !n.isFile() {
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.EINVAL}
	}
	if n.Completed || n.Fingerprint != c.Made {
		// Written or rewritten since: that version stands.
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ESTALE}
	}
	o := c.Old
	n.Size, n.Mtime, n.Ctime, n.Completed = o.Size, o.Mtime, c.Now, true
	n.Persisted, n.Fingerprint, n.UfsFingerprint, n.Location = o.Persisted, o.Fingerprint, o.UfsFingerprint, o.Location
	t.putInode(n)
	return infoOf(t, n, p)
}

// RestoreVersion gives the file with inode id back its version old, for a
// writer whose new version made (NewVersion, whose fingerprint made is)
// could not start: the worker refused the session, and the file must not
// stay empty and incomplete. A file completed or given another version
// since is left as it is (ESTALE).
func (m *Master) RestoreVersion(ctx context.Context, id uint64, made string, old Version) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	if err := m.requireLevel(ctx, cmdRestoreVersion, fmt.Sprintf("restore a version of file %d", id)); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, replay, err := m.lockInode(ctx, "restore version", id)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	return result[FileInfo](m.proposeRequest(ctx, &restoreVersionCmd{ID: id, Made: made, Old: old, Now: time.Now().UnixNano()}))
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

// SettledStatusByID is StatusByID once the requests holding the file's
// path have ended: a rename that has moved the file in the under-store
// and not yet in the namespace is answered after, with the file's new
// place.
func (m *Master) SettledStatusByID(ctx context.Context, id uint64) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	ctx, unlock, _, err := m.lockInode(ctx, "stat", id)
	if err != nil {
		return FileInfo{}, err
	}
	defer unlock()
	return m.StatusByID(ctx, id)
}

// EmptyOptions tune CompleteEmpty.
type EmptyOptions struct {
	// Persist makes the empty file in the under-store.
	Persist bool
	// Kept are attributes the writer set while it had the file open
	// (KeptAttrs).
	Kept KeptAttrs
}

// CompleteEmpty completes the file with inode id as an empty file, for a
// writer that created it and wrote nothing: when o.Persist is set the master
// creates the empty file in the under-store itself (where the file is now,
// so a rename while it was open is followed), sparing the writer a worker
// session. A file completed already is returned as it is (a retried call);
// one removed meanwhile is ENOENT.
func (m *Master) CompleteEmpty(ctx context.Context, id uint64, o EmptyOptions) (FileInfo, error) {
	const op = "complete"
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	ctx, unlock, replay, err := m.lockInode(ctx, op, id)
	if replay != nil || err != nil {
		return answered[FileInfo](replay, err)
	}
	defer unlock()
	var (
		fi   FileInfo
		n    *inode
		mode uint32
		mi   MountInfo
		rel  string
	)
	err = m.fsm.view(func(t *txn) error {
		var (
			p   string
			err error
		)
		n, p, err = inodeByID(t, op, id)
		if err != nil {
			return err
		}
		if !n.isFile() {
			return &fs.PathError{Op: op, Path: p, Err: syscall.EINVAL}
		}
		v, err := infoOf(t, n, p)
		if err != nil {
			return err
		}
		fi, mode = v.(FileInfo), n.Mode
		mi, rel, _ = t.mountTable().resolve(p)
		return nil
	})
	if err != nil || fi.Completed {
		return fi, err
	}
	// Authorised here; the under-store gets the kept mode with the
	// file, the rest once it is there.
	denied := m.authorizeKept(ctx, fi.Path, &o.Kept)
	if o.Kept.Mode != nil {
		mode = *o.Kept.Mode
	}
	done := &completeFileCmd{ID: id, Now: time.Now().UnixNano()}
	if !o.Kept.Empty() {
		done.Kept = &o.Kept
	}
	answer := func(v any, err error) (FileInfo, error) {
		fi, err := result[FileInfo](v, err)
		if err == nil && denied != nil {
			return FileInfo{}, denied
		}
		return fi, err
	}
	if o.Persist {
		if mi.ReadOnly {
			return FileInfo{}, &fs.PathError{Op: op, Path: fi.Path, Err: syscall.EROFS}
		}
		ufi, sync, err := m.createEmptyUFS(ctx, op, fi.Path, mi, rel, mode)
		if err != nil {
			return FileInfo{}, err
		}
		done.Persisted, done.UfsFingerprint = true, ufi.Fingerprint()
		if a := o.Kept.setAttr(); a.UID != nil || a.GID != nil || a.Mtime != nil {
			a.Mode, a.Atime = nil, nil
			fp, err := m.setUFSAttr(ctx, n, mi, rel, a, false)
			if err != nil {
				sync()
				return FileInfo{}, m.ufsError(op, fi.Path, mi, err)
			}
			if fp != nil {
				done.UfsFingerprint = *fp
			}
		}
		return answer(m.proposeSynced(ctx, done, sync))
	}
	return answer(m.proposeRequest(ctx, done))
}

// createEmptyUFS makes the empty file at rel in mount mi's under-store,
// for the file at p, leaving its directory's sync to the returned function
// (closeDeferred), whose error names p and the store as the others do.
func (m *Master) createEmptyUFS(ctx context.Context, op, p string, mi MountInfo, rel string, mode uint32) (ufs.FileInfo, func() error, error) {
	u, err := m.ufsFor(mi)
	if err != nil {
		return ufs.FileInfo{}, nil, err
	}
	w, err := u.Create(ctx, rel, ufs.CreateOptions{Mode: fileMode(mode)})
	if err != nil {
		return ufs.FileInfo{}, nil, m.ufsError(op, p, mi, err)
	}
	fi, sync, err := closeDeferred(ctx, w)
	if err != nil {
		return ufs.FileInfo{}, nil, m.ufsError(op, p, mi, err)
	}
	return fi, func() error {
		if err := sync(); err != nil {
			return m.ufsError(op, p, mi, err)
		}
		return nil
	}, nil
}

// closeDeferred closes w, leaving its last durability step to sync where
// the writer can (ufs.SyncDeferrer).
func closeDeferred(ctx context.Context, w ufs.Writer) (ufs.FileInfo, func() error, error) {
	if d, ok := w.(ufs.SyncDeferrer); ok {
		return d.CloseDeferred(ctx)
	}
	fi, err := w.Close(ctx)
	return fi, func() error { return nil }, err
}

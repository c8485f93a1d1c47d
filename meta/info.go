package meta

import (
	"fmt"
	"io/fs"
	"sort"

	"github.com/alluxio-go/alluxio/ufs"
)

// FileInfo describes one namespace entry as callers see it. It crosses the
// wire, hence the JSON tags.
type FileInfo struct {
	// ID is the inode id, stable for the life of the entry.
	ID uint64 `json:"id"`
	// ParentID is the inode id of the parent directory (0 for the root).
	ParentID uint64 `json:"parentId"`
	// Name is the base name ("" for the root).
	Name string `json:"name"`
	// Path is the absolute namespace path.
	Path string `json:"path"`
	// IsDir reports a directory.
	IsDir bool `json:"isDir"`
	// Mode holds the permission bits only (07777).
	Mode uint32 `json:"mode"`
	// UID and GID are the owner.
	UID uint32 `json:"uid"`
	// GID is the owning group.
	GID uint32 `json:"gid"`
	// Size is the length of a file in bytes.
	Size int64 `json:"size"`
	// Mtime is the modification time in unix nanoseconds.
	Mtime int64 `json:"mtime"`
	// Atime is the access time in unix nanoseconds.
	Atime int64 `json:"atime"`
	// Ctime is the status change time in unix nanoseconds.
	Ctime int64 `json:"ctime"`
	// Symlink is the target of a symbolic link.
	Symlink string `json:"symlink,omitempty"`
	// IsSymlink reports a symbolic link (then IsDir is false).
	IsSymlink bool `json:"isSymlink"`
	// Completed is false while a writer holds the file open.
	Completed bool `json:"completed"`
	// Persisted reports that the bytes are in the under-store.
	Persisted bool `json:"persisted"`
	// Fingerprint is the content identity for caches: it changes whenever
	// the bytes change.
	Fingerprint string `json:"fingerprint"`
	// UfsFingerprint is the last known ufs.FileInfo.Fingerprint(), used to
	// notice changes made behind the namespace's back.
	UfsFingerprint string `json:"ufsFingerprint"`
	// MountID is the mount the path resolves to.
	MountID uint64 `json:"mountId"`
	// UfsPath is the path inside that mount's under-store (ufs-relative).
	UfsPath string `json:"ufsPath"`
	// Nlink is the link count: 1 for files, 2 plus the number of
	// subdirectories for directories.
	Nlink uint32 `json:"nlink"`
	// CreationTime is when the entry was made, in unix nanoseconds (for
	// an entry loaded from an under-store, its mtime there, as Alluxio
	// does). A TTL counts from it.
	CreationTime int64 `json:"creationTime"`
	// Pinned keeps a file's cached data from eviction (alluxio fs pin).
	// New entries inherit it from their directory.
	Pinned bool `json:"pinned"`
	// TTL is the time to live in milliseconds from CreationTime; 0 means
	// none.
	TTL int64 `json:"ttl,omitempty"`
	// TTLAction is what happens when the TTL passes: TTLActionDelete (the
	// default whenever TTL is set) or TTLActionFree.
	TTLAction string `json:"ttlAction,omitempty"`
	// Location is the RPC address (host:port) of the worker that holds
	// the only copy of a file's bytes while the file is not persisted
	// (MUST_CACHE, or ASYNC_THROUGH before its persist); "" otherwise.
	Location string `json:"location,omitempty"`
	// HasXattrs reports that the entry has extended attributes, so that a
	// client that knows the entry can answer "none" without asking.
	HasXattrs bool `json:"hasXattrs,omitempty"`
	// Loaded marks a directory whose children the namespace holds: it
	// was listed from its under-store, or made there empty.
	Loaded bool `json:"loaded,omitempty"`
}

// MountInfo describes one entry of the mount table.
type MountInfo struct {
	// ID identifies the mount; the root mount is the first one made.
	ID uint64 `json:"id"`
	// AlluxioPath is the mount point in the namespace.
	AlluxioPath string `json:"alluxioPath"`
	// UfsURI is the under-store URI mounted there.
	UfsURI string `json:"ufsUri"`
	// Options configure the under-store. They may hold credentials: never
	// log them.
	Options map[string]string `json:"options,omitempty"`
	// ReadOnly mounts refuse every mutation with EROFS.
	ReadOnly bool `json:"readOnly"`
	// Shared marks a mount visible to every user.
	Shared bool `json:"shared"`
}

// String describes the mount without its options, so that printing a
// MountInfo can never leak a credential.
func (m MountInfo) String() string {
	return fmt.Sprintf("mount %d %s -> %s", m.ID, m.AlluxioPath, ufs.Redact(m.UfsURI))
}

// inode is the stored record of one namespace entry. Path, mount and link
// count are derived at read time and not stored.
type inode struct {
	ID             uint64 `json:"id"`
	ParentID       uint64 `json:"parentId"`
	Name           string `json:"name"`
	IsDir          bool   `json:"isDir,omitempty"`
	Mode           uint32 `json:"mode"`
	UID            uint32 `json:"uid"`
	GID            uint32 `json:"gid"`
	Size           int64  `json:"size,omitempty"`
	Mtime          int64  `json:"mtime"`
	Atime          int64  `json:"atime"`
	Ctime          int64  `json:"ctime"`
	Symlink        string `json:"symlink,omitempty"`
	IsSymlink      bool   `json:"isSymlink,omitempty"`
	Completed      bool   `json:"completed,omitempty"`
	Persisted      bool   `json:"persisted,omitempty"`
	Fingerprint    string `json:"fingerprint,omitempty"`
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
	// Loaded marks a directory whose children were listed from the
	// under-store at least once (or that was created empty by us).
	Loaded bool `json:"loaded,omitempty"`
	// SubDirs counts child directories, for the link count.
	SubDirs uint32 `json:"subDirs,omitempty"`
	// CreationTime is fixed when the entry is made. Inodes stored before
	// it existed get it from Ctime (or Mtime) when decoded: see
	// txn.inode.
	CreationTime int64 `json:"creationTime,omitempty"`
	// Pinned, TTL and TTLAction are namespace-only attributes (see
	// attr.go); Location names the worker holding the only copy of an
	// unpersisted file's bytes.
	Pinned    bool   `json:"pinned,omitempty"`
	TTL       int64  `json:"ttl,omitempty"`
	TTLAction string `json:"ttlAction,omitempty"`
	Location  string `json:"location,omitempty"`
	// Xattrs are the extended attributes (xattr.go), namespace only.
	Xattrs map[string][]byte `json:"xattrs,omitempty"`
}

// isFile reports a regular file.
func (n *inode) isFile() bool { return !n.IsDir && !n.IsSymlink }

// writtenFingerprint is the fingerprint of a file whose bytes came through
// the system.
func writtenFingerprint(id uint64, mtime int64) string {
	return fmt.Sprintf("w:%d:%d", id, mtime)
}

// Default permissions for entries loaded from an under-store that keeps none.
const (
	defaultDirMode  = 0o755
	defaultFileMode = 0o644
	symlinkMode     = 0o777
)

// permBits converts an fs.FileMode to unix permission bits (07777).
func permBits(m fs.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// fileMode converts unix permission bits to an fs.FileMode.
func fileMode(b uint32) fs.FileMode { return FileMode(b) }

// FileMode turns permission bits as the namespace keeps them (07777) into
// an fs.FileMode with the set-id and sticky bits in Go's places.
func FileMode(b uint32) fs.FileMode {
	m := fs.FileMode(b & 0o777)
	if b&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if b&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if b&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// ufsEntry is an under-store entry as carried by sync commands: everything
// apply needs, chosen by the leader so that replicas agree.
type ufsEntry struct {
	// Name is the base name (SyncDir) or absolute namespace path
	// (AddUFSEntries, SyncFile).
	Name        string `json:"name"`
	IsDir       bool   `json:"isDir,omitempty"`
	Symlink     string `json:"symlink,omitempty"`
	IsSymlink   bool   `json:"isSymlink,omitempty"`
	Mode        uint32 `json:"mode"`
	UID         uint32 `json:"uid"`
	GID         uint32 `json:"gid"`
	Size        int64  `json:"size,omitempty"`
	Mtime       int64  `json:"mtime"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// entryFromUFS converts an under-store entry, applying the default
// permissions where the store gives none.
func entryFromUFS(name string, fi ufs.FileInfo, target string) ufsEntry {
	e := ufsEntry{
		Name:  name,
		IsDir: fi.IsDir(),
		Mode:  permBits(fi.Mode),
		UID:   fi.UID,
		GID:   fi.GID,
		Mtime: fi.ModTime.UnixNano(),
	}
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		e.IsSymlink, e.Symlink, e.Mode = true, target, symlinkMode
		e.Size = int64(len(target))
	case e.IsDir:
		if e.Mode == 0 {
			e.Mode = defaultDirMode
		}
	default:
		if e.Mode == 0 {
			e.Mode = defaultFileMode
		}
		e.Size = fi.Size
		e.Fingerprint = fi.Fingerprint()
	}
	return e
}

// newInodeFromEntry builds the inode of an entry loaded from an under-store.
func newInodeFromEntry(id, parent uint64, name string, e ufsEntry) *inode {
	n := &inode{
		ID: id, ParentID: parent, Name: name,
		IsDir: e.IsDir, IsSymlink: e.IsSymlink, Symlink: e.Symlink,
		Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size,
		Mtime: e.Mtime, Atime: e.Mtime, Ctime: e.Mtime, CreationTime: e.Mtime,
		Completed: true, Persisted: true,
	}
	if n.isFile() {
		n.Fingerprint, n.UfsFingerprint = e.Fingerprint, e.Fingerprint
	}
	return n
}

// sameKind reports whether an inode and an under-store entry are the same
// kind of thing (file, directory, link).
func (n *inode) sameKind(e ufsEntry) bool {
	return n.IsDir == e.IsDir && n.IsSymlink == e.IsSymlink
}

// mountTable resolves namespace paths to mounts by longest prefix.
type mountTable []MountInfo

// newMountTable orders mounts longest mount point first.
func newMountTable(ms []MountInfo) mountTable {
	sort.Slice(ms, func(i, j int) bool {
		if len(ms[i].AlluxioPath) != len(ms[j].AlluxioPath) {
			return len(ms[i].AlluxioPath) > len(ms[j].AlluxioPath)
		}
		return ms[i].AlluxioPath < ms[j].AlluxioPath
	})
	return ms
}

// resolve returns the mount a clean path lies in and the path relative to
// the mount's under-store root. ok is false only when there is no root
// mount yet.
func (mt mountTable) resolve(p string) (m MountInfo, ufsPath string, ok bool) {
	for _, m := range mt {
		if within(p, m.AlluxioPath) {
			return m, relativeTo(m, p), true
		}
	}
	return MountInfo{}, "", false
}

// mountAt returns the mount whose mount point is exactly p.
func (mt mountTable) mountAt(p string) (MountInfo, bool) {
	for _, m := range mt {
		if m.AlluxioPath == p {
			return m, true
		}
	}
	return MountInfo{}, false
}

// mountBelow reports a mount point strictly below p.
func (mt mountTable) mountBelow(p string) (MountInfo, bool) {
	for _, m := range mt {
		if m.AlluxioPath != p && within(m.AlluxioPath, p) {
			return m, true
		}
	}
	return MountInfo{}, false
}

// toInfo builds the caller's view of an inode at path p.
func (mt mountTable) toInfo(n *inode, p string) FileInfo {
	fi := FileInfo{
		ID: n.ID, ParentID: n.ParentID, Name: n.Name, Path: p,
		IsDir: n.IsDir, Mode: n.Mode & 0o7777, UID: n.UID, GID: n.GID,
		Size: n.Size, Mtime: n.Mtime, Atime: n.Atime, Ctime: n.Ctime,
		Symlink: n.Symlink, IsSymlink: n.IsSymlink,
		Completed: n.Completed, Persisted: n.Persisted,
		Fingerprint: n.Fingerprint, UfsFingerprint: n.UfsFingerprint,
		Nlink:        1,
		CreationTime: n.CreationTime,
		Pinned:       n.Pinned, TTL: n.TTL, TTLAction: n.TTLAction, Location: n.Location,
		HasXattrs: len(n.Xattrs) > 0, Loaded: n.IsDir && n.Loaded,
	}
	if fi.TTL > 0 && fi.TTLAction == "" {
		fi.TTLAction = TTLActionDelete
	}
	if n.IsDir {
		fi.Nlink = 2 + n.SubDirs
	}
	if m, rel, ok := mt.resolve(p); ok {
		fi.MountID, fi.UfsPath = m.ID, rel
	}
	return fi
}

// Package fuse serves the cluster's namespace through a kernel FUSE mount.
//
// The layer is thin on purpose: each kernel operation is a short method that
// calls the Client below, which the daemon implements over RPC to the master
// and the local worker. This package knows nothing of pages, Raft or wire
// formats; it owns the kernel session, attribute conversion and the one
// place where errors become errno values.
package fuse

import (
	"context"
	"os"
	"time"
)

// Attr is what the FUSE layer needs to know about one entry.
type Attr struct {
	// Ino is a stable inode number (the master's inode id).
	Ino uint64
	// Size is the file length in bytes.
	Size int64
	// Perm holds the permission bits (07777).
	Perm uint32
	// IsDir and IsSymlink give the entry type; neither means a regular file.
	IsDir, IsSymlink bool
	// Target is a symlink's target.
	Target string
	// UID and GID are the owner.
	UID, GID uint32
	// Mtime, Atime and Ctime are the entry's times.
	Mtime, Atime, Ctime time.Time
	// Nlink is the link count.
	Nlink uint32
}

// Entry is one name in a directory listing.
type Entry struct {
	Name string
	Attr Attr
}

// Caller identifies who makes a request, from the kernel's FUSE context.
type Caller struct {
	UID, GID uint32
	PID      uint32
}

// SetAttr carries the fields of a setattr request; nil fields are unchanged.
type SetAttr struct {
	Mode         *uint32
	UID, GID     *uint32
	Size         *int64
	Mtime, Atime *time.Time
}

// StatFS reports the capacity of the file system.
type StatFS struct {
	Capacity, Used int64
	Files          uint64
}

// Client is what the FUSE layer needs from the cluster. Paths are absolute
// paths in the cluster namespace. Errors wrap a syscall.Errno where the
// failure has a POSIX meaning.
type Client interface {
	Stat(ctx context.Context, path string) (Attr, error)
	List(ctx context.Context, path string) ([]Entry, error)
	Mkdir(ctx context.Context, path string, perm uint32, c Caller) (Attr, error)
	// Remove unlinks a file (dir false) or removes an empty directory.
	Remove(ctx context.Context, path string, dir bool) error
	// Rename moves src to dst, replacing dst as POSIX rename does unless
	// noReplace is set.
	Rename(ctx context.Context, src, dst string, noReplace bool) error
	// Exchange swaps the entries at a and b atomically
	// (RENAME_EXCHANGE).
	Exchange(ctx context.Context, a, b string) error
	SetAttr(ctx context.Context, path string, s SetAttr) (Attr, error)
	Symlink(ctx context.Context, path, target string, c Caller) (Attr, error)
	// Open opens an existing file with open(2) flags.
	Open(ctx context.Context, path string, flags uint32, c Caller) (Handle, error)
	// Create creates (or truncates) a file and opens it for writing.
	Create(ctx context.Context, path string, flags, perm uint32, c Caller) (Handle, Attr, error)
	StatFS(ctx context.Context) (StatFS, error)
}

// Handle is an open file.
type Handle interface {
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
	WriteAt(ctx context.Context, p []byte, off int64) (int, error)
	// Flush makes what was written visible to other opens (close-to-open).
	Flush(ctx context.Context) error
	// Fsync makes what was written durable as the write type promises.
	Fsync(ctx context.Context) error
	// Release ends the handle; it completes a written file if Flush did
	// not.
	Release(ctx context.Context) error
	// Truncate changes the length of a file open for writing.
	Truncate(ctx context.Context, size int64) error
	// Size is the current length as seen through this handle.
	Size() int64
	// Version identifies the content the handle reads (the file's
	// fingerprint when it was opened).
	Version() string
	// Passthrough returns a file the kernel may read directly (the fully
	// cached backing file), or nil.
	Passthrough() *os.File
}

// Package ufs defines the under-store interface that every storage back end
// (local directory, S3, Kodo, HDFS) implements, and a registry that opens a
// store from its URI scheme.
//
// Paths handed to a UFS are slash-separated and relative to the store's root
// (the mount URI); "" and "/" both name the root. Errors wrap a
// syscall.Errno (through *fs.PathError) so that callers can test them with
// errors.Is(err, fs.ErrNotExist) and the FUSE layer can map them to errno in
// one place.
package ufs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FileInfo describes one entry of an under-store.
type FileInfo struct {
	// Name is the base name of the entry.
	Name string
	// Size is the length in bytes of a file (0 for directories).
	Size int64
	// Mode holds the permission bits and fs.ModeDir / fs.ModeSymlink.
	Mode fs.FileMode
	// ModTime is the last modification time.
	ModTime time.Time
	// UID and GID are the owner where the store knows one (local stores).
	UID, GID uint32
	// ETag is the store's content identity where it has one (object stores).
	ETag string
}

// IsDir reports whether the entry is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode.IsDir() }

// Fingerprint identifies the content of a file as the store sees it: it
// changes whenever the bytes change, so caches keyed by it never serve stale
// data after the file was rewritten behind their back.
func (fi FileInfo) Fingerprint() string {
	if fi.ETag != "" {
		return "etag:" + fi.ETag
	}
	return fmt.Sprintf("mt:%d:%d", fi.ModTime.UnixNano(), fi.Size)
}

// Writer streams a new file into the store. Close makes the file visible
// with everything written; Abort discards it.
type Writer interface {
	io.Writer
	// Close finishes the upload and returns the stored file's info.
	Close(ctx context.Context) (FileInfo, error)
	// Abort discards what was written; the target is left as it was.
	Abort() error
}

// Retargeter is implemented by writers that can change where the file
// lands when Close makes it visible: a file renamed while a writer had it
// open lands at its new name, and nothing else is touched at the old one.
type Retargeter interface {
	Retarget(ctx context.Context, path string) error
}

// SyncDeferrer is implemented by writers whose Close ends with a step
// that only makes the file durable (a directory sync): CloseDeferred makes
// the file visible at its path as Close does and returns that step to
// run, so that a caller with durable work of its own (a journal append)
// can do both at once. The file is durable once sync returned nil; sync
// must be called once after a CloseDeferred that succeeded.
type SyncDeferrer interface {
	CloseDeferred(ctx context.Context) (fi FileInfo, sync func() error, err error)
}

// CreateOptions tune a file creation.
type CreateOptions struct {
	// Mode is the permission of the new file where the store keeps one.
	Mode fs.FileMode
	// SizeHint is the expected length, -1 when unknown.
	SizeHint int64
	// Fill is the fingerprint of an empty file at the path that the
	// bytes may go into in place: the copy a file made complete and empty
	// at its creation left there (meta.CreateOptions.Complete). A store
	// that can (a LocalStore) writes into that file while it is still
	// the one fingerprinted, sparing a new file and its rename, and
	// leaves its mode as it is (Mode is for a new file); any other store,
	// or another file found there, is written as usual.
	Fill string
	// Base, when set, is the stored version the new file starts from (a
	// rewrite of part of a file, an append): a store that copies ranges
	// of a stored file on its own side (an object store's multipart
	// copy) may take the ranges Base.Unchanged names from it instead of
	// uploading them again. Every byte is still written to the Writer.
	Base *BaseVersion
}

// BaseVersion is the version a rewrite of a file starts from
// (CreateOptions.Base).
type BaseVersion struct {
	// Path and Fingerprint name the stored version; Size is its length.
	Path        string
	Fingerprint string
	Size        int64
	// Unchanged reports whether the new file's bytes [off, end) are the
	// base's at the same offsets. The writer calls it from Write and
	// Close, once every byte of the range has been written.
	Unchanged func(off, end int64) bool
	// ReadAt, when set, reads the new file's bytes again: a writer may
	// then copy ranges without holding their bytes, reading them back
	// should the store refuse a copy. It is asked only for ranges
	// Unchanged named (so the base's own bytes will do), until the
	// writer's Close, Abort or Settle returned; it must be safe for
	// concurrent use.
	ReadAt func(p []byte, off int64) (int, error)
}

// BaseTaker is implemented by writers that can take the leading bytes of
// their CreateOptions.Base on the store's side, without their being
// written (an append to a big file): TakeBase(n) makes the new file's
// bytes [0, n) the base's, and must come before any Write. A failure
// wrapping errors.ErrUnsupported says the writer cannot (no base it can
// take from) and took nothing; the bytes must then be written. Others may
// show at TakeBase or later, as a write's would (see Settler).
type BaseTaker interface {
	TakeBase(n int64) error
}

// Settler is implemented by writers that send parts in the background:
// Settle waits until every part sent so far is stored, and returns the
// writer's failure if one did not make it.
type Settler interface {
	Settle() error
}

// CopyReporter is implemented by writers that can take ranges of a
// BaseVersion on the store's side: Copied is how many bytes they took so.
type CopyReporter interface {
	Copied() int64
}

// UFS is what every under-store implements.
type UFS interface {
	// OpenRange returns a reader of n bytes starting at off; n < 0 reads to
	// the end. Reading past the end yields fewer bytes, not an error.
	OpenRange(ctx context.Context, path string, off, n int64) (io.ReadCloser, error)
	// Stat describes one entry.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// List calls fn for each entry of the directory, in pages where the
	// store pages; fn returning an error stops the listing with it.
	List(ctx context.Context, dir string, fn func(FileInfo) error) error
	// Create starts writing a new file, replacing any file at path once
	// the writer is closed.
	Create(ctx context.Context, path string, opts CreateOptions) (Writer, error)
	// Delete removes a file or an empty directory.
	Delete(ctx context.Context, path string) error
	// Rename moves a file or directory, replacing a file at dst.
	Rename(ctx context.Context, src, dst string) error
	// Mkdir creates a directory; its parents must exist.
	Mkdir(ctx context.Context, path string, perm fs.FileMode) error
	// Close releases connections and other resources.
	Close() error
}

// LocalStore is implemented by stores kept in this machine's file systems,
// where a file is made by a system call rather than a request to a
// server: making a new file's empty copy at once, to be replaced by its
// bytes later, costs little (meta.CreateOptions.Complete).
type LocalStore interface {
	Local() bool
}

// VersionOpener is implemented by stores that can read a range of a file
// only while it is a given version: OpenRangeVersion fails with ESTALE
// when the file at the path is not the one whose Fingerprint is given (a
// file renamed over it, or rewritten), where OpenRange would read it.
type VersionOpener interface {
	OpenRangeVersion(ctx context.Context, path string, off, n int64, fingerprint string) (io.ReadCloser, error)
}

// MoveKeeper is implemented by stores where a renamed file may not keep
// its Fingerprint: an object store renames by copying, and the copy of an
// object uploaded in parts gets another ETag. MoveKeeps reports whether
// a file with fingerprint keeps it through a rename. In stores that do
// not implement it every file does.
type MoveKeeper interface {
	MoveKeeps(fingerprint string) bool
}

// Chmoder is implemented by stores that keep permission bits.
type Chmoder interface {
	Chmod(ctx context.Context, path string, mode fs.FileMode) error
}

// Chowner is implemented by stores that keep an owner.
type Chowner interface {
	Chown(ctx context.Context, path string, uid, gid uint32) error
}

// Chtimeser is implemented by stores that can set modification times.
type Chtimeser interface {
	Chtimes(ctx context.Context, path string, mtime time.Time) error
}

// Symlinker is implemented by stores that can hold symbolic links.
type Symlinker interface {
	Symlink(ctx context.Context, target, path string) error
	Readlink(ctx context.Context, path string) (string, error)
}

// Truncater is implemented by stores that can change a file's length in
// place.
type Truncater interface {
	Truncate(ctx context.Context, path string, size int64) error
}

// Exchanger is implemented by stores that swap two entries atomically
// (renameat2's RENAME_EXCHANGE): both must exist, and either may be a
// directory.
type Exchanger interface {
	Exchange(ctx context.Context, a, b string) error
}

// FileDeleter is implemented by stores that remove an entry known to be a
// file more cheaply than Delete, which must first find out what is at the
// path (an object store's HEAD before its DELETE). A missing file is not
// an error.
type FileDeleter interface {
	DeleteFile(ctx context.Context, path string) error
}

// BatchFileDeleter is implemented by stores that can remove many files in
// one request (an object store's multi-object DELETE). The master then
// takes an unlink's file out of the store later, with others, instead of
// in the unlink (meta's deferred deletes).
type BatchFileDeleter interface {
	// BatchDeletes reports whether DeleteFiles removes many files in one
	// request; when it does not, it is not worth deferring a delete for.
	BatchDeletes() bool
	// DeleteFiles removes the files at paths, each known to be a file.
	// Missing files are not an error. A failure may leave some removed
	// and others not: removing them again is harmless.
	DeleteFiles(ctx context.Context, paths []string) error
}

// FileOpener is implemented by stores whose files are local files. It
// returns the open read-only file with its info, so that a worker can hand
// the descriptor to the kernel for passthrough reads of a file it has not
// cached yet.
type FileOpener interface {
	OpenFile(ctx context.Context, path string) (*os.File, FileInfo, error)
}

// Factory opens a store for a parsed URI with its mount options.
type Factory func(uri *url.URL, options map[string]string) (UFS, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a store available under a URI scheme. It is meant to be
// called from the init function of the store's package.
func Register(scheme string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[strings.ToLower(scheme)] = f
}

// Schemes lists the registered URI schemes.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	var s []string
	for k := range registry {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// ParseURI parses a mount URI. A bare absolute path means the local store.
func ParseURI(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("ufs: empty under-store URI: %w", syscall.EINVAL)
	}
	if strings.HasPrefix(raw, "/") {
		return &url.URL{Scheme: "file", Path: path.Clean(raw)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's reason quotes the URI's parts, a password among them.
		why := "a password in it must have '/', '?', '#' and '@' written %2F, %3F, %23 and %40, or the keys be given as options"
		var ue *url.Error
		if _, _, secret := passwordSpan(raw); !secret && errors.As(err, &ue) {
			why = ue.Err.Error()
		}
		return nil, fmt.Errorf("ufs: bad under-store URI %q (%s): %w", Redact(raw), why, syscall.EINVAL)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("ufs: under-store URI %q has no scheme and is not an absolute path: %w", Redact(raw), syscall.EINVAL)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// Open opens the store named by a mount URI.
func Open(raw string, options map[string]string) (UFS, error) {
	u, err := ParseURI(raw)
	if err != nil {
		return nil, err
	}
	registryMu.RLock()
	f := registry[u.Scheme]
	registryMu.RUnlock()
	if f == nil {
		return nil, fmt.Errorf("ufs: under-store URI %q: unsupported scheme %q (supported: %s): %w",
			Redact(raw), u.Scheme, strings.Join(Schemes(), ", "), syscall.EINVAL)
	}
	s, err := f(u, options)
	if err != nil {
		return nil, fmt.Errorf("ufs: open %q: %w", Redact(raw), err)
	}
	return s, nil
}

// Redact hides the password of a URI's user information
// (s3://key:secret@bucket), for error messages and logs.
func Redact(raw string) string { return RedactWith(raw, "xxxxx") }

// RedactWith shows the password of a URI's user information as mask. A
// secret pasted into a URI unescaped may hold '/', '?', '#' or '@' (AWS
// secret keys hold '/'), which ends the URI's authority early; so the
// password is taken to run from the first ':' after the user to the last
// '@', and more is hidden rather than less. Only host:port followed by a
// path holding '@' (hdfs://nn:8020/a@b) is told apart from a password, and
// never in an object store's URI, whose authority is a bucket.
func RedactWith(raw, mask string) string {
	i, j, ok := passwordSpan(raw)
	if !ok {
		return raw
	}
	return raw[:i] + mask + raw[j:]
}

// Password returns the password of a URI's user information as RedactWith
// finds it, unescaped where it can be.
func Password(raw string) (string, bool) {
	i, j, ok := passwordSpan(raw)
	if !ok || i == j {
		return "", false
	}
	pw := raw[i:j]
	if un, err := url.PathUnescape(pw); err == nil {
		pw = un
	}
	return pw, true
}

// passwordSpan finds the password of raw's user information: raw[i:j].
func passwordSpan(raw string) (i, j int, ok bool) {
	scheme, rest, found := strings.Cut(raw, "://")
	if !found {
		return 0, 0, false
	}
	start := len(scheme) + 3
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 || strings.ContainsAny(rest[:colon], "/?#") {
		return 0, 0, false // no password, or the '@' is in the path
	}
	pw := rest[colon+1 : at]
	if port, _, cut := strings.Cut(pw, "/"); cut && !objectScheme(scheme) && isPort(port) {
		return 0, 0, false // hdfs://nn:8020/a@b: a port, and '@' in the path
	}
	return start + colon + 1, start + at, true
}

// objectScheme reports whether a scheme names an object store, whose
// URI's authority is a bucket and never has a port.
func objectScheme(scheme string) bool {
	switch strings.ToLower(scheme) {
	case "s3", "s3a", "s3n", "kodo", "oss", "gs", "cos", "cosn", "obs":
		return true
	}
	return false
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Clean normalises a store-relative path: no leading slash, no "." or ".."
// elements, "" for the root. It reports an error for a path that would climb
// above the root.
func Clean(p string) (string, error) {
	if p == "" || p == "/" {
		return "", nil
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.EINVAL}
		}
	}
	c := path.Clean("/" + p)
	return strings.TrimPrefix(c, "/"), nil
}

// Join joins store-relative path elements.
func Join(elem ...string) string {
	j := strings.TrimPrefix(path.Join(elem...), "/")
	if j == "." {
		return ""
	}
	return j
}

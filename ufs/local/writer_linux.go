//go:build linux

package local

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/ufs"
)

// writer is the ufs.Writer of Create: it writes a temporary file next to
// the target and renames it over the target on Close.
var _ ufs.SyncDeferrer = (*writer)(nil)

type writer struct {
	// out is the temporary file; its mu also guards the target.
	out
	dfd  int    // O_PATH descriptor of the target's directory
	base string // target name in dfd
	tmp  string // temporary file name in dfd

	// tdfd and tbase are where Close renames the file to: dfd and base
	// unless Retarget moved the target (then tdfd is owned too).
	tdfd  int
	tbase string
	// openParent resolves a new target for Retarget.
	openParent func(p string) (int, string, error)
}

// out is the file a writer writes, shared by both kinds.
type out struct {
	mu   sync.Mutex // guards everything below, and what the writer adds
	path string     // store-relative target, for errors
	f    *os.File
	done bool // Close or Abort has run
}

// end marks the file done (under mu) and reports whether it was not
// already: Close and Abort run once.
func (o *out) end() bool {
	if o.done {
		return false
	}
	o.done = true
	return true
}

// Write appends b to the file.
func (o *out) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return 0, &fs.PathError{Op: "write", Path: o.path, Err: syscall.EBADF}
	}
	n, err := o.f.Write(b)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: o.path, Err: errnoOf(err)}
	}
	return n, nil
}

// Retarget makes Close land the file at p instead (ufs.Retargeter).
func (w *writer) Retarget(ctx context.Context, p string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return &fs.PathError{Op: "retarget", Path: w.path, Err: syscall.EBADF}
	}
	c, err := ufs.Clean(p)
	if err != nil || c == "" {
		return &fs.PathError{Op: "retarget", Path: p, Err: syscall.EINVAL}
	}
	dfd, base, err := w.openParent(c)
	if err != nil {
		return &fs.PathError{Op: "retarget", Path: c, Err: err}
	}
	if w.tdfd != w.dfd {
		unix.Close(w.tdfd)
	}
	w.tdfd, w.tbase, w.path = dfd, base, c
	return nil
}

// releaseTarget closes a retargeted directory descriptor.
func (w *writer) releaseTarget() {
	if w.tdfd != w.dfd {
		unix.Close(w.tdfd)
	}
}

// newWriter creates the temporary file in dfd with mode exactly (no umask).
// On success the writer owns dfd.
func newWriter(dfd int, base, p string, mode uint32) (*writer, error) {
	var st unix.Stat_t
	switch err := unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return nil, syscall.EISDIR
	case err != nil && err != unix.ENOENT:
		return nil, err
	}
	for tries := 0; ; tries++ {
		tmp := tmpName()
		fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		if err == unix.EEXIST && tries < 8 {
			continue
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := unix.Fchmod(fd, mode); err != nil {
			unix.Close(fd)
			unix.Unlinkat(dfd, tmp, 0)
			return nil, err
		}
		return &writer{out: out{path: p, f: os.NewFile(uintptr(fd), p)}, dfd: dfd, base: base, tmp: tmp, tdfd: dfd, tbase: base}, nil
	}
}

// Close fsyncs the temporary file (unless it is empty), renames it over
// the target and fsyncs the directory. If ctx is already done, or anything fails before the
// rename, the temporary file is removed and the target left as it was.
func (w *writer) Close(ctx context.Context) (ufs.FileInfo, error) {
	fi, sync, err := w.CloseDeferred(ctx)
	if err != nil {
		return fi, err
	}
	return fi, sync()
}

// CloseDeferred is Close with the directory's fsync left to the returned
// function (ufs.SyncDeferrer), which must be called once.
func (w *writer) CloseDeferred(ctx context.Context) (ufs.FileInfo, func() error, error) {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.end() {
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: syscall.EBADF}
	}
	defer unix.Close(w.dfd)
	defer w.releaseTarget()
	fail := func(err error) (ufs.FileInfo, func() error, error) {
		w.f.Close()
		unix.Unlinkat(w.dfd, w.tmp, 0)
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: err}
	}
	if err := ctxErr(ctx); err != nil {
		return fail(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(w.f.Fd()), &st); err != nil {
		return fail(err)
	}
	// An empty file has no data to sync: the directory's fsync below
	// commits the new inode together with its name.
	if st.Size > 0 {
		if err := w.f.Sync(); err != nil {
			return fail(errnoOf(err))
		}
	}
	if err := w.f.Close(); err != nil {
		unix.Unlinkat(w.dfd, w.tmp, 0)
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: errnoOf(err)}
	}
	if err := unix.Renameat(w.dfd, w.tmp, w.tdfd, w.tbase); err != nil {
		unix.Unlinkat(w.dfd, w.tmp, 0)
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: err}
	}
	// The rename is durable only once the directory is synced. An O_PATH
	// descriptor cannot be synced, so open the directory for reading; if
	// that is not permitted the rename stays as durable as the kernel
	// makes it.
	dir, derr := unix.Openat(w.tdfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	sync := func() error {
		if derr != nil {
			return nil
		}
		serr := unix.Fsync(dir)
		unix.Close(dir)
		if serr != nil {
			return &fs.PathError{Op: op, Path: w.path, Err: serr}
		}
		return nil
	}
	return toInfo(w.tbase, &st), sync, nil
}

// Abort removes the temporary file. It does nothing after Close or a
// previous Abort.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.end() {
		return nil
	}
	defer unix.Close(w.dfd)
	defer w.releaseTarget()
	w.f.Close()
	if err := unix.Unlinkat(w.dfd, w.tmp, 0); err != nil && err != unix.ENOENT {
		return &fs.PathError{Op: "abort", Path: w.path, Err: err}
	}
	return nil
}

// fillWriter writes into the empty file already at its target, the copy
// a file made complete at its creation left there (ufs.CreateOptions.Fill):
// no new file and no rename, and no directory sync, as the name is
// durable already. A rename of the file while it is written moves that
// very file, so Retarget has nothing to move.
var _ ufs.SyncDeferrer = (*fillWriter)(nil)

type fillWriter struct {
	out
	base string // the target's name, for the returned info
}

// openFill opens the file base in dfd for writing in place when it is an
// empty regular file with fingerprint fill, or returns nil. The file keeps
// its mode: the one it was made with, or one a chmod gave it since (a
// chmod through another mount while this one writes the file).
func openFill(dfd int, base, p string, fill string) *fillWriter {
	// O_NONBLOCK keeps a FIFO planted at the name from blocking the open
	// (one with no reader fails it with ENXIO); it is refused below anyway.
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 0 ||
		toInfo(base, &st).Fingerprint() != fill || unix.SetNonblock(fd, false) != nil {
		unix.Close(fd)
		return nil
	}
	return &fillWriter{out: out{path: p, f: os.NewFile(uintptr(fd), p)}, base: base}
}

// Retarget follows a rename of the file while it is written
// (ufs.Retargeter): the renamed file is the one being written.
func (w *fillWriter) Retarget(ctx context.Context, p string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := ufs.Clean(p)
	if err != nil || c == "" {
		return &fs.PathError{Op: "retarget", Path: p, Err: syscall.EINVAL}
	}
	w.path = c
	if i := strings.LastIndexByte(c, '/'); i >= 0 {
		w.base = c[i+1:]
	} else {
		w.base = c
	}
	return nil
}

// Close fsyncs the file.
func (w *fillWriter) Close(ctx context.Context) (ufs.FileInfo, error) {
	fi, _, err := w.CloseDeferred(ctx)
	return fi, err
}

// CloseDeferred is Close; there is no directory sync to leave.
func (w *fillWriter) CloseDeferred(ctx context.Context) (ufs.FileInfo, func() error, error) {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.end() {
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: syscall.EBADF}
	}
	defer w.f.Close()
	if err := ctxErr(ctx); err != nil {
		w.f.Truncate(0)
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: err}
	}
	if err := w.f.Sync(); err != nil {
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: errnoOf(err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(w.f.Fd()), &st); err != nil {
		return ufs.FileInfo{}, nil, &fs.PathError{Op: op, Path: w.path, Err: err}
	}
	return toInfo(w.base, &st), func() error { return nil }, nil
}

// Abort empties the file again. It does nothing after Close or a previous
// Abort.
func (w *fillWriter) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.end() {
		return nil
	}
	defer w.f.Close()
	if err := w.f.Truncate(0); err != nil {
		return &fs.PathError{Op: "abort", Path: w.path, Err: errnoOf(err)}
	}
	return nil
}

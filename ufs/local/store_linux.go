//go:build linux

package local

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/ufs"
)

// Scheme is the URI scheme the local store registers under.
const Scheme = "file"

// tmpPrefix starts the name of a file that Create is still writing. Such
// names are hidden from List and Stat and cannot be created by callers.
const tmpPrefix = ".alluxio.tmp."

// listBatch is how many directory entries List reads at a time, so that a
// huge directory streams instead of being loaded whole.
const listBatch = 1024

func init() {
	ufs.Register(Scheme, openURI)
}

// Store is an under-store backed by a local directory. It is safe for
// concurrent use.
type Store struct {
	root     string // host path of the root as opened, cleaned
	realRoot string // root with symbolic links resolved, for the fallback check
	beneath  bool   // openat2(RESOLVE_BENEATH) is available

	rootMu sync.RWMutex // guards rootFD: held for reading while a path is resolved
	rootFD int          // O_PATH descriptor of the root, -1 once closed
}

var (
	_ ufs.UFS       = (*Store)(nil)
	_ ufs.Chmoder   = (*Store)(nil)
	_ ufs.Chowner   = (*Store)(nil)
	_ ufs.Chtimeser = (*Store)(nil)
	_ ufs.Symlinker = (*Store)(nil)
	_ ufs.Truncater = (*Store)(nil)
	_ ufs.Exchanger = (*Store)(nil)
)

// openURI is the registry factory: it accepts file:///abs/path (host empty
// or "localhost"). The local store takes no options.
func openURI(u *url.URL, _ map[string]string) (ufs.UFS, error) {
	name := u.Redacted()
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") || !path.IsAbs(u.Path) {
		return nil, &fs.PathError{Op: "open", Path: name,
			Err: fmt.Errorf("local store needs file:///absolute/path: %w", syscall.EINVAL)}
	}
	return open(u.Path, name)
}

// New opens the directory root, an absolute host path, as a store. The
// directory must exist.
func New(root string) (*Store, error) {
	return open(root, root)
}

// open opens root; errors name the store by name (its URI or path).
func open(root, name string) (*Store, error) {
	if !filepath.IsAbs(root) {
		return nil, &fs.PathError{Op: "open", Path: name,
			Err: fmt.Errorf("root is not an absolute path: %w", syscall.EINVAL)}
	}
	root = filepath.Clean(root)
	fd, err := openRetry(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: name, Err: errnoOf(err)}
	}
	s := &Store{root: root, realRoot: realRoot, rootFD: fd, beneath: probeOpenat2(fd)}
	if !s.beneath {
		slog.Warn("openat2 unavailable; confining paths by EvalSymlinks checks, which race with concurrent changes",
			"component", "ufs/local", "root", root)
	}
	return s, nil
}

// probeOpenat2 reports whether openat2 with RESOLVE_BENEATH works: it is
// missing before Linux 5.6 and refused by some seccomp profiles.
func probeOpenat2(rootFD int) bool {
	fd, err := unix.Openat2(rootFD, ".", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

// Root returns the host path of the store's root directory.
func (s *Store) Root() string { return s.root }

// Close releases the root directory. Operations after Close fail with
// EBADF; a second Close does nothing.
func (s *Store) Close() error {
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	if s.rootFD < 0 {
		return nil
	}
	err := unix.Close(s.rootFD)
	s.rootFD = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: s.root, Err: err}
	}
	return nil
}

// begin checks the context and cleans p. A name that Create uses for its
// temporary files is reported as missing to lookups and as invalid to
// operations that would create it (creating is true).
func (s *Store) begin(ctx context.Context, op, p string, creating bool) (string, error) {
	if err := ctxErr(ctx); err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	c, err := ufs.Clean(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: errClimb}
	}
	if strings.IndexByte(c, 0) >= 0 {
		return "", &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("path contains a NUL byte: %w", syscall.EINVAL)}
	}
	if reserved(c) {
		if creating {
			return "", &fs.PathError{Op: op, Path: c, Err: errReserved}
		}
		return "", &fs.PathError{Op: op, Path: c, Err: syscall.ENOENT}
	}
	return c, nil
}

// reserved reports whether any element of the clean path c is a temporary
// file name of Create.
func reserved(c string) bool {
	for _, el := range strings.Split(c, "/") {
		if strings.HasPrefix(el, tmpPrefix) {
			return true
		}
	}
	return false
}

// atEntry calls fn with a directory descriptor and a name that together
// designate the entry c, and with the flag that stops the *at system calls
// from following a final symbolic link. For the root itself the name is a
// /proc/self/fd path of a root descriptor, which is never a link.
func (s *Store) atEntry(op, c string, fn func(dfd int, name string, nofollow int) error) error {
	if c == "" {
		fd, err := s.openBeneath("", unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return &fs.PathError{Op: op, Path: c, Err: err}
		}
		defer unix.Close(fd)
		if err := fn(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), 0); err != nil {
			return &fs.PathError{Op: op, Path: c, Err: err}
		}
		return nil
	}
	dfd, base, err := s.openParent(c)
	if err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	defer unix.Close(dfd)
	if err := fn(dfd, base, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	return nil
}

// openParent opens, as an O_PATH descriptor, the directory that holds the
// non-root entry c, and returns it with c's base name.
func (s *Store) openParent(c string) (int, string, error) {
	dir, base := path.Split(c)
	fd, err := s.openBeneath(strings.TrimSuffix(dir, "/"), unix.O_PATH|unix.O_DIRECTORY, 0)
	return fd, base, err
}

// Stat describes the entry at p without following a final symbolic link.
func (s *Store) Stat(ctx context.Context, p string) (ufs.FileInfo, error) {
	const op = "stat"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	var st unix.Stat_t
	if c == "" {
		fd, err := s.openBeneath("", unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return ufs.FileInfo{}, &fs.PathError{Op: op, Path: c, Err: err}
		}
		defer unix.Close(fd)
		if err := unix.Fstat(fd, &st); err != nil {
			return ufs.FileInfo{}, &fs.PathError{Op: op, Path: c, Err: err}
		}
		return toInfo("", &st), nil
	}
	var base string
	err = s.atEntry(op, c, func(dfd int, name string, nofollow int) error {
		base = name
		return unix.Fstatat(dfd, name, &st, nofollow)
	})
	if err != nil {
		return ufs.FileInfo{}, err
	}
	return toInfo(base, &st), nil
}

// OpenRange returns a reader of n bytes of the regular file at p starting
// at off (n < 0: to the end). Symbolic links are followed while they stay
// inside the root. The reader also implements io.ReaderAt and io.Seeker
// over the range, and fails once ctx is done.
func (s *Store) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return s.openRange(ctx, p, off, n, "")
}

// OpenRangeVersion is OpenRange of the file at p only while it is the
// version with the given fingerprint (ufs.FileInfo.Fingerprint); another
// file there (one renamed or exchanged into its name, or rewritten) fails
// with ESTALE, so that a reader of a version never gets another's bytes.
func (s *Store) OpenRangeVersion(ctx context.Context, p string, off, n int64, fingerprint string) (io.ReadCloser, error) {
	return s.openRange(ctx, p, off, n, fingerprint)
}

// openRange is OpenRange, checking the fingerprint when there is one.
func (s *Store) openRange(ctx context.Context, p string, off, n int64, fingerprint string) (io.ReadCloser, error) {
	const op = "open"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, &fs.PathError{Op: op, Path: c, Err: fmt.Errorf("negative offset %d: %w", off, syscall.EINVAL)}
	}
	// O_NONBLOCK keeps a FIFO planted in the tree from blocking the open;
	// it is refused below anyway.
	fd, err := s.openBeneath(c, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: c, Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil {
		err = regular(&st)
	}
	if err == nil && fingerprint != "" {
		if now := toInfo(path.Base("/"+c), &st).Fingerprint(); now != fingerprint {
			err = fmt.Errorf("another version is there (%s, not %s): %w", now, fingerprint, syscall.ESTALE)
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: op, Path: c, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: op, Path: c, Err: err}
	}
	if n < 0 {
		n = math.MaxInt64 // NewSectionReader caps off+n at MaxInt64
	}
	f := os.NewFile(uintptr(fd), c)
	return &rangeReader{ctx: ctx, f: f, sr: io.NewSectionReader(f, off, n)}, nil
}

// OpenFile opens the regular file at p read-only and describes it
// (ufs.FileOpener), for passthrough reads of the file itself.
func (s *Store) OpenFile(ctx context.Context, p string) (*os.File, ufs.FileInfo, error) {
	const op = "open"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return nil, ufs.FileInfo{}, err
	}
	fd, err := s.openBeneath(c, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, ufs.FileInfo{}, &fs.PathError{Op: op, Path: c, Err: err}
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil {
		err = regular(&st)
	}
	if err != nil {
		unix.Close(fd)
		return nil, ufs.FileInfo{}, &fs.PathError{Op: op, Path: c, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, ufs.FileInfo{}, &fs.PathError{Op: op, Path: c, Err: err}
	}
	return os.NewFile(uintptr(fd), c), toInfo(path.Base("/"+c), &st), nil
}

// checkRegular fails with EISDIR for a directory and EINVAL for anything
// else that is not a regular file.
func checkRegular(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	return regular(&st)
}

// regular is checkRegular of what fstat said.
func regular(st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return nil
	case unix.S_IFDIR:
		return syscall.EISDIR
	default:
		return fmt.Errorf("not a regular file: %w", syscall.EINVAL)
	}
}

// rangeReader reads a section of a local file until its context is done.
type rangeReader struct {
	ctx context.Context
	f   *os.File
	sr  *io.SectionReader
}

func (r *rangeReader) Read(p []byte) (int, error) {
	if err := ctxErr(r.ctx); err != nil {
		return 0, &fs.PathError{Op: "read", Path: r.f.Name(), Err: err}
	}
	return r.sr.Read(p)
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if err := ctxErr(r.ctx); err != nil {
		return 0, &fs.PathError{Op: "read", Path: r.f.Name(), Err: err}
	}
	return r.sr.ReadAt(p, off)
}

func (r *rangeReader) Seek(off int64, whence int) (int64, error) { return r.sr.Seek(off, whence) }

func (r *rangeReader) Close() error { return r.f.Close() }

// List calls fn for each entry of the directory dir, in directory order,
// reading the directory listBatch entries at a time. Symbolic links are
// reported as links; Create's temporary files are skipped.
func (s *Store) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	const op = "list"
	c, err := s.begin(ctx, op, dir, false)
	if err != nil {
		return err
	}
	fd, err := s.openBeneath(c, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	f := os.NewFile(uintptr(fd), c)
	defer f.Close()
	for {
		if err := ctxErr(ctx); err != nil {
			return &fs.PathError{Op: op, Path: c, Err: err}
		}
		ents, rerr := f.ReadDir(listBatch)
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				if err == unix.ENOENT { // removed since ReadDir
					continue
				}
				return &fs.PathError{Op: op, Path: ufs.Join(c, name), Err: err}
			}
			if err := fn(toInfo(name, &st)); err != nil {
				return err
			}
		}
		if rerr == io.EOF || (rerr == nil && len(ents) == 0) {
			return nil
		}
		if rerr != nil {
			return &fs.PathError{Op: op, Path: c, Err: errnoOf(rerr)}
		}
	}
}

// Local implements ufs.LocalStore: the store is a directory here.
func (s *Store) Local() bool { return true }

// Create starts writing the file at p. The bytes go to a hidden temporary
// file in the same directory, which Close fsyncs and renames over p; with
// opts.Fill, into the empty file at p when it is still that one (openFill).
// opts.Mode sets the permission exactly (the process umask is not
// applied, as the caller's was already); a zero Mode means 0644.
// opts.SizeHint is not used.
func (s *Store) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	const op = "create"
	c, err := s.begin(ctx, op, p, true)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, &fs.PathError{Op: op, Path: c, Err: syscall.EISDIR}
	}
	mode := opts.Mode
	if mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
		mode |= 0o644
	}
	dfd, base, err := s.openParent(c)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: c, Err: err}
	}
	if opts.Fill != "" {
		if w := openFill(dfd, base, c, opts.Fill); w != nil {
			unix.Close(dfd)
			return w, nil
		}
	}
	w, err := newWriter(dfd, base, c, unixMode(mode))
	if err != nil {
		unix.Close(dfd)
		return nil, &fs.PathError{Op: op, Path: c, Err: err}
	}
	w.openParent = s.openParent
	return w, nil
}

// Delete removes the file, symbolic link or empty directory at p.
func (s *Store) Delete(ctx context.Context, p string) error {
	const op = "delete"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return err
	}
	if c == "" {
		return &fs.PathError{Op: op, Path: c, Err: errRoot}
	}
	return s.atEntry(op, c, func(dfd int, name string, _ int) error {
		err := unix.Unlinkat(dfd, name, 0)
		if err == unix.EISDIR {
			err = unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
		}
		if err == unix.EEXIST { // some file systems say EEXIST for a non-empty directory
			err = syscall.ENOTEMPTY
		}
		return err
	})
}

// Rename moves src to dst with rename(2) semantics: a file or symbolic link
// at dst is replaced, an empty directory at dst is replaced by a
// directory, and a directory that is not empty is not (ENOTEMPTY).
func (s *Store) Rename(ctx context.Context, src, dst string) error {
	return s.renameat2(ctx, "rename", src, dst, 0)
}

// Exchange swaps the entries at a and b atomically (ufs.Exchanger).
func (s *Store) Exchange(ctx context.Context, a, b string) error {
	return s.renameat2(ctx, "exchange", a, b, unix.RENAME_EXCHANGE)
}

// renameat2 renames src to dst with renameat2's flags, both resolved
// beneath the root.
func (s *Store) renameat2(ctx context.Context, op, src, dst string, flags uint) error {
	cs, err := s.begin(ctx, op, src, false)
	if err != nil {
		return err
	}
	cd, err := s.begin(ctx, op, dst, true)
	if err != nil {
		return err
	}
	both := cs + " -> " + cd
	if cs == "" || cd == "" {
		return &fs.PathError{Op: op, Path: both, Err: errRoot}
	}
	sfd, sbase, err := s.openParent(cs)
	if err != nil {
		return &fs.PathError{Op: op, Path: cs, Err: err}
	}
	defer unix.Close(sfd)
	dfd, dbase, err := s.openParent(cd)
	if err != nil {
		return &fs.PathError{Op: op, Path: cd, Err: err}
	}
	defer unix.Close(dfd)
	err = unix.Renameat2(sfd, sbase, dfd, dbase, flags)
	if err == unix.EEXIST {
		err = syscall.ENOTEMPTY
	}
	if err != nil {
		return &fs.PathError{Op: op, Path: both, Err: err}
	}
	return nil
}

// Mkdir creates the directory p with exactly the permission perm (no
// umask); its parent must exist.
func (s *Store) Mkdir(ctx context.Context, p string, perm fs.FileMode) error {
	const op = "mkdir"
	c, err := s.begin(ctx, op, p, true)
	if err != nil {
		return err
	}
	if c == "" {
		return &fs.PathError{Op: op, Path: c, Err: syscall.EEXIST}
	}
	mode := unixMode(perm)
	return s.atEntry(op, c, func(dfd int, name string, nofollow int) error {
		if err := unix.Mkdirat(dfd, name, mode); err != nil {
			return err
		}
		return chmodAt(dfd, name, mode, nofollow)
	})
}

// Chmod sets the permission bits (and setuid, setgid, sticky) of the entry
// at p. Like fchmodat with AT_SYMLINK_NOFOLLOW on Linux, it fails with
// EOPNOTSUPP on a symbolic link rather than changing the link's target.
func (s *Store) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	const op = "chmod"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return err
	}
	m := unixMode(mode)
	return s.atEntry(op, c, func(dfd int, name string, nofollow int) error {
		return chmodAt(dfd, name, m, nofollow)
	})
}

// Chown sets the owner of the entry at p; for a symbolic link, of the link
// itself. A uid or gid of math.MaxUint32 (-1 as a C int) is left as it is.
func (s *Store) Chown(ctx context.Context, p string, uid, gid uint32) error {
	const op = "chown"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return err
	}
	u, g := int(uid), int(gid)
	if uid == math.MaxUint32 {
		u = -1
	}
	if gid == math.MaxUint32 {
		g = -1
	}
	return s.atEntry(op, c, func(dfd int, name string, nofollow int) error {
		return unix.Fchownat(dfd, name, u, g, nofollow)
	})
}

// Chtimes sets the modification time of the entry at p (of a symbolic link
// itself, not its target), leaving the access time alone.
func (s *Store) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	const op = "chtimes"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return err
	}
	ts := []unix.Timespec{
		{Nsec: unix.UTIME_OMIT},
		{Sec: mtime.Unix(), Nsec: int64(mtime.Nanosecond())},
	}
	return s.atEntry(op, c, func(dfd int, name string, nofollow int) error {
		return unix.UtimesNanoAt(dfd, name, ts, nofollow)
	})
}

// Symlink creates at p a symbolic link holding target. The target is kept
// as text; following it is confined to the root like any other path.
func (s *Store) Symlink(ctx context.Context, target, p string) error {
	const op = "symlink"
	c, err := s.begin(ctx, op, p, true)
	if err != nil {
		return err
	}
	if c == "" {
		return &fs.PathError{Op: op, Path: c, Err: syscall.EEXIST}
	}
	return s.atEntry(op, c, func(dfd int, name string, _ int) error {
		return unix.Symlinkat(target, dfd, name)
	})
}

// Readlink returns the target of the symbolic link at p (EINVAL if p is
// not a link).
func (s *Store) Readlink(ctx context.Context, p string) (string, error) {
	const op = "readlink"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return "", err
	}
	if c == "" {
		return "", &fs.PathError{Op: op, Path: c, Err: syscall.EINVAL}
	}
	var target string
	err = s.atEntry(op, c, func(dfd int, name string, _ int) error {
		for size := 256; ; size *= 2 {
			buf := make([]byte, size)
			n, err := unix.Readlinkat(dfd, name, buf)
			if err != nil {
				return err
			}
			if n < size {
				target = string(buf[:n])
				return nil
			}
		}
	})
	return target, err
}

// Truncate sets the length of the regular file at p, following symbolic
// links that stay inside the root, as truncate(2) does.
func (s *Store) Truncate(ctx context.Context, p string, size int64) error {
	const op = "truncate"
	c, err := s.begin(ctx, op, p, false)
	if err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: op, Path: c, Err: fmt.Errorf("negative size %d: %w", size, syscall.EINVAL)}
	}
	if c == "" {
		return &fs.PathError{Op: op, Path: c, Err: syscall.EISDIR}
	}
	fd, err := s.openBeneath(c, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	defer unix.Close(fd)
	if err := checkRegular(fd); err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	if err := unix.Ftruncate(fd, size); err != nil {
		return &fs.PathError{Op: op, Path: c, Err: err}
	}
	return nil
}

// chmodAt changes the mode of name in dfd. With nofollow it never changes
// the target of a symbolic link: it uses fchmodat2 (Linux 6.6), or else
// does what glibc does, chmod through /proc/self/fd of an O_PATH
// descriptor after checking it is not a link.
func chmodAt(dfd int, name string, mode uint32, nofollow int) error {
	if nofollow == 0 {
		return unix.Fchmodat(dfd, name, mode, 0)
	}
	err := unix.Fchmodat(dfd, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS && err != unix.EPERM {
		return err
	}
	// EOPNOTSUPP is the answer for a link, and also what x/sys reports
	// when fchmodat2 is missing; EPERM may be a seccomp refusal. Find out.
	return chmodViaProc(dfd, name, mode)
}

// chmodViaProc changes the mode of name in dfd unless it is a symbolic
// link, through /proc/self/fd of an O_PATH descriptor, so that a link
// swapped in concurrently is never followed.
func chmodViaProc(dfd int, name string, mode uint32) error {
	fd, oerr := unix.Openat(dfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if oerr != nil {
		return oerr
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("cannot change the mode of a symbolic link: %w", syscall.EOPNOTSUPP)
	}
	return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
}

// unixMode converts permission and special bits of a FileMode to st_mode
// bits.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

// toInfo converts lstat results to a FileInfo named name.
func toInfo(name string, st *unix.Stat_t) ufs.FileInfo {
	mode := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	size := st.Size
	if mode.IsDir() {
		size = 0
	}
	return ufs.FileInfo{
		Name:    name,
		Size:    size,
		Mode:    mode,
		ModTime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		UID:     st.Uid,
		GID:     st.Gid,
	}
}

// tmpName returns a fresh name for Create's temporary file.
func tmpName() string {
	return tmpPrefix + strconv.FormatUint(rand.Uint64(), 36)
}

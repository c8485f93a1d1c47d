//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

var (
	// errEscape is returned for a path that resolves outside the root,
	// which only a symbolic link can make it do.
	errEscape = fmt.Errorf("path leads outside the store root through a symbolic link: %w", syscall.EACCES)
	// errClimb is returned for a path with ".." elements.
	errClimb = fmt.Errorf("path climbs above the store root: %w", syscall.EINVAL)
	// errReserved is returned for creating a name Create uses internally.
	errReserved = fmt.Errorf("name starts with %q, which the store reserves: %w", tmpPrefix, syscall.EINVAL)
	// errRoot is returned for deleting or renaming the root.
	errRoot = fmt.Errorf("the store root cannot be removed or moved: %w", syscall.EBUSY)
	// errClosed is returned by operations on a closed store.
	errClosed = fmt.Errorf("store is closed: %w", syscall.EBADF)
)

// openBeneath opens the clean store-relative path rel ("" for the root)
// with flags, following symbolic links only while they stay inside the
// root. The error is a syscall.Errno, or wraps one.
func (s *Store) openBeneath(rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	flags |= unix.O_CLOEXEC
	s.rootMu.RLock()
	defer s.rootMu.RUnlock()
	if s.rootFD < 0 {
		return -1, errClosed
	}
	if s.beneath {
		how := unix.OpenHow{
			Flags:   uint64(flags),
			Mode:    uint64(mode),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		}
		for tries := 0; ; tries++ {
			fd, err := unix.Openat2(s.rootFD, rel, &how)
			switch {
			case err == nil:
				return fd, nil
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN && tries < 16:
				// The kernel saw a concurrent rename and could not be
				// sure the walk stayed beneath the root; try again.
				continue
			case err == unix.EXDEV:
				return -1, errEscape
			default:
				return -1, err
			}
		}
	}
	host, err := s.resolveHost(rel)
	if err != nil {
		return -1, err
	}
	// The resolved path has no links left; O_NOFOLLOW refuses one that
	// was swapped in since.
	return openRetry(host, flags|unix.O_NOFOLLOW)
}

// resolveHost is the fallback confinement when openat2 is unavailable: it
// resolves rel's symbolic links on the host and checks the result is still
// under the root. It races with concurrent changes to the tree.
func (s *Store) resolveHost(rel string) (string, error) {
	real, err := filepath.EvalSymlinks(filepath.Join(s.root, filepath.FromSlash(rel)))
	if err != nil {
		return "", errnoOf(err)
	}
	if real != s.realRoot && !strings.HasPrefix(real, strings.TrimSuffix(s.realRoot, "/")+"/") {
		return "", errEscape
	}
	return real, nil
}

// openRetry is unix.Open retried on EINTR.
func openRetry(p string, flags int) (int, error) {
	for {
		fd, err := unix.Open(p, flags|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// errnoOf returns the syscall.Errno inside err, dropping the host path
// that os and filepath errors carry, or err wrapped with EIO when it holds
// none.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return fmt.Errorf("%v: %w", err, syscall.EIO)
}

// ctxErr returns nil while ctx is live, and afterwards its error together
// with the errno the FUSE layer should report (EINTR, or ETIMEDOUT for a
// deadline).
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	errno := syscall.EINTR
	if errors.Is(err, context.DeadlineExceeded) {
		errno = syscall.ETIMEDOUT
	}
	return fmt.Errorf("%w (%w)", err, errno)
}

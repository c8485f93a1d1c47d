package meta

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/ufs"
)

// dirUFS is a test-only under-store over a local directory, made with os
// calls. It implements the optional Chmoder, Chowner, Chtimeser, Symlinker,
// Truncater, Exchanger and LocalStore.
type dirUFS struct {
	root string
}

// Local implements ufs.LocalStore.
func (d *dirUFS) Local() bool { return true }

func (d *dirUFS) abs(p string) (string, error) {
	c, err := ufs.Clean(p)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(c)), nil
}

func toInfo(name string, fi os.FileInfo) ufs.FileInfo {
	out := ufs.FileInfo{Name: name, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.UID, out.GID = st.Uid, st.Gid
	}
	if fi.IsDir() {
		out.Size = 0
	}
	return out
}

func (d *dirUFS) OpenRange(_ context.Context, p string, off, n int64) (io.ReadCloser, error) {
	a, err := d.abs(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(a)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if n < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, n), f}, nil
}

func (d *dirUFS) Stat(_ context.Context, p string) (ufs.FileInfo, error) {
	a, err := d.abs(p)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	fi, err := os.Lstat(a)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	return toInfo(filepath.Base(a), fi), nil
}

func (d *dirUFS) List(_ context.Context, dir string, fn func(ufs.FileInfo) error) error {
	a, err := d.abs(dir)
	if err != nil {
		return err
	}
	ents, err := os.ReadDir(a)
	if err != nil {
		return err
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if err := fn(toInfo(e.Name(), fi)); err != nil {
			return err
		}
	}
	return nil
}

type dirWriter struct {
	f      *os.File
	target string
}

func (w *dirWriter) Write(b []byte) (int, error) { return w.f.Write(b) }

func (w *dirWriter) Close(context.Context) (ufs.FileInfo, error) {
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return ufs.FileInfo{}, err
	}
	if err := os.Rename(w.f.Name(), w.target); err != nil {
		return ufs.FileInfo{}, err
	}
	fi, err := os.Lstat(w.target)
	if err != nil {
		return ufs.FileInfo{}, err
	}
	return toInfo(filepath.Base(w.target), fi), nil
}

func (w *dirWriter) Abort() error {
	w.f.Close()
	return os.Remove(w.f.Name())
}

func (d *dirUFS) Create(_ context.Context, p string, o ufs.CreateOptions) (ufs.Writer, error) {
	a, err := d.abs(p)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(a), ".tmp-*")
	if err != nil {
		return nil, err
	}
	if o.Mode != 0 {
		f.Chmod(o.Mode.Perm())
	}
	return &dirWriter{f: f, target: a}, nil
}

func (d *dirUFS) Delete(_ context.Context, p string) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Remove(a)
}

func (d *dirUFS) Rename(_ context.Context, src, dst string) error {
	s, err := d.abs(src)
	if err != nil {
		return err
	}
	t, err := d.abs(dst)
	if err != nil {
		return err
	}
	return os.Rename(s, t)
}

func (d *dirUFS) Exchange(_ context.Context, a, b string) error {
	s, err := d.abs(a)
	if err != nil {
		return err
	}
	t, err := d.abs(b)
	if err != nil {
		return err
	}
	return unix.Renameat2(unix.AT_FDCWD, s, unix.AT_FDCWD, t, unix.RENAME_EXCHANGE)
}

func (d *dirUFS) Mkdir(_ context.Context, p string, perm fs.FileMode) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Mkdir(a, perm)
}

func (d *dirUFS) Close() error { return nil }

func (d *dirUFS) Chmod(_ context.Context, p string, mode fs.FileMode) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Chmod(a, mode)
}

func (d *dirUFS) Chown(_ context.Context, p string, uid, gid uint32) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Lchown(a, int(uid), int(gid))
}

func (d *dirUFS) Chtimes(_ context.Context, p string, mtime time.Time) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Chtimes(a, time.Time{}, mtime)
}

func (d *dirUFS) Symlink(_ context.Context, target, p string) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Symlink(target, a)
}

func (d *dirUFS) Readlink(_ context.Context, p string) (string, error) {
	a, err := d.abs(p)
	if err != nil {
		return "", err
	}
	return os.Readlink(a)
}

func (d *dirUFS) Truncate(_ context.Context, p string, size int64) error {
	a, err := d.abs(p)
	if err != nil {
		return err
	}
	return os.Truncate(a, size)
}

// plainUFS hides every optional interface of the store it wraps.
type plainUFS struct{ ufs.UFS }

var (
	_ ufs.Chmoder   = (*dirUFS)(nil)
	_ ufs.Chowner   = (*dirUFS)(nil)
	_ ufs.Chtimeser = (*dirUFS)(nil)
	_ ufs.Symlinker = (*dirUFS)(nil)
	_ ufs.Truncater = (*dirUFS)(nil)
)

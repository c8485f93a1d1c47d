package client

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
)

// FS adapts the client to the FUSE layer's Client interface.
type FS struct{ c *Client }

// FS returns the FUSE view of the client.
func (c *Client) FS() *FS { return &FS{c: c} }

var _ fuse.Client = (*FS)(nil)

// The FUSE layer finds these by type assertion; a changed signature would
// silently turn the behaviour off, so check them here.
var (
	_ fuse.Unlinkable = (*FileWriter)(nil)
	_ fuse.Movable    = (*FileWriter)(nil)
	_ fuse.Attributer = (*FileWriter)(nil)
	_ fuse.Refresher  = (*FileReader)(nil)
)

// AttrOf converts master metadata to FUSE attributes.
func AttrOf(fi meta.FileInfo) fuse.Attr {
	return fuse.Attr{
		Ino: fi.ID, Size: fi.Size, Perm: fi.Mode & 07777,
		IsDir: fi.IsDir, IsSymlink: fi.IsSymlink, Target: fi.Symlink,
		UID: fi.UID, GID: fi.GID,
		Mtime: time.Unix(0, fi.Mtime), Atime: time.Unix(0, fi.Atime), Ctime: time.Unix(0, fi.Ctime),
		Nlink: fi.Nlink,
	}
}

// Stat implements fuse.Client, from the metadata cache while it is
// trusted.
func (f *FS) Stat(ctx context.Context, path string) (fuse.Attr, error) {
	if e, ok := f.c.mc.get(path); ok {
		return e.attr, nil
	}
	fi, err := f.c.GetStatus(ctx, path)
	return AttrOf(fi), err
}

// List implements fuse.Client. It gathers every page; readdir streams
// pages through ListPage instead.
func (f *FS) List(ctx context.Context, path string) ([]fuse.Entry, error) {
	var out []fuse.Entry
	err := f.c.ListStatusPages(ctx, path, func(page []meta.FileInfo) error {
		out = append(out, entriesOf(page)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Mkdir implements fuse.Client.
func (f *FS) Mkdir(ctx context.Context, path string, perm uint32, c fuse.Caller) (fuse.Attr, error) {
	fi, err := f.c.CreateDirectory(ctx, path, meta.MkdirOptions{Mode: perm, UID: c.UID, GID: c.GID})
	return AttrOf(fi), err
}

// Remove implements fuse.Client.
func (f *FS) Remove(ctx context.Context, path string, dir bool) error {
	return f.c.Remove(ctx, path, dir)
}

// Exchange implements fuse.Client.
func (f *FS) Exchange(ctx context.Context, a, b string) error {
	return f.c.Exchange(ctx, a, b)
}

// Rename implements fuse.Client.
func (f *FS) Rename(ctx context.Context, src, dst string, noReplace bool) error {
	return f.c.Rename(ctx, src, dst, noReplace)
}

// SetAttr implements fuse.Client.
func (f *FS) SetAttr(ctx context.Context, path string, s fuse.SetAttr) (fuse.Attr, error) {
	if s.Size != nil && *s.Size != 0 {
		// Any length but zero rewrites the bytes: a short write session.
		w, err := f.c.OpenWriter(ctx, path)
		if err != nil {
			return fuse.Attr{}, err
		}
		if err := w.Truncate(ctx, *s.Size); err != nil {
			w.Release(ctx)
			return fuse.Attr{}, err
		}
		if err := w.Release(ctx); err != nil {
			return fuse.Attr{}, err
		}
		s.Size = nil
	}
	o := meta.SetAttrOptions{Mode: s.Mode, UID: s.UID, GID: s.GID, Size: s.Size}
	if s.Mtime != nil {
		t := s.Mtime.UnixNano()
		o.Mtime = &t
	}
	if s.Atime != nil {
		t := s.Atime.UnixNano()
		o.Atime = &t
	}
	if o == (meta.SetAttrOptions{}) {
		return f.Stat(ctx, path)
	}
	fi, err := f.c.SetAttr(ctx, path, o)
	return AttrOf(fi), err
}

// Symlink implements fuse.Client.
func (f *FS) Symlink(ctx context.Context, path, target string, c fuse.Caller) (fuse.Attr, error) {
	fi, err := f.c.CreateSymlink(ctx, path, target, c.UID, c.GID)
	return AttrOf(fi), err
}

// Open implements fuse.Client.
func (f *FS) Open(ctx context.Context, path string, flags uint32, c fuse.Caller) (fuse.Handle, error) {
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		if flags&syscall.O_TRUNC != 0 {
			// Linux empties a file opened read-only with O_TRUNC.
			if _, err := f.SetAttr(ctx, path, fuse.SetAttr{Size: new(int64)}); err != nil {
				return nil, err
			}
		}
		return f.c.OpenFile(ctx, path)
	}
	w, err := f.c.OpenWriter(ctx, path)
	if err != nil {
		return nil, err
	}
	if flags&syscall.O_TRUNC != 0 {
		if err := w.Truncate(ctx, 0); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Create implements fuse.Client. The kernel sends a create only for a
// name it believes free; when another mount made it meanwhile, an open
// without O_EXCL must open that file, not replace it. ESTALE has the
// kernel look the name up again and open what it finds, checking its
// permissions as for any open.
func (f *FS) Create(ctx context.Context, path string, flags, perm uint32, c fuse.Caller) (fuse.Handle, fuse.Attr, error) {
	w, err := f.c.CreateFile(ctx, path, CreateOptions{Mode: perm, UID: c.UID, GID: c.GID, Exclusive: true})
	if errors.Is(err, syscall.EEXIST) && flags&syscall.O_EXCL == 0 {
		return nil, fuse.Attr{}, &fs.PathError{Op: "create", Path: path, Err: syscall.ESTALE}
	}
	if err != nil {
		return nil, fuse.Attr{}, err
	}
	return w, AttrOf(w.Info()), nil
}

// StatFS implements fuse.Client.
func (f *FS) StatFS(ctx context.Context) (fuse.StatFS, error) {
	info, err := f.c.Info(ctx)
	if err != nil {
		return fuse.StatFS{}, err
	}
	return fuse.StatFS{Capacity: info.Capacity, Used: info.Used, Files: info.Files}, nil
}

// Release for readers ends the lease; FileReader.Close does it.
func (r *FileReader) Release(ctx context.Context) error { return r.Close() }

// Flush is a no-op for readers.
func (r *FileReader) Flush(ctx context.Context) error { return nil }

// Fsync is a no-op for readers.
func (r *FileReader) Fsync(ctx context.Context) error { return nil }

// WriteAt is refused on a reader.
func (r *FileReader) WriteAt(ctx context.Context, p []byte, off int64) (int, error) {
	return 0, syscall.EBADF
}

// Attr is the file as the reader opened it (fuse.Attributer).
func (r *FileReader) Attr() fuse.Attr { return AttrOf(r.Info()) }

// Attr is the file as written through this handle (fuse.Attributer).
func (w *FileWriter) Attr() fuse.Attr {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := AttrOf(w.info)
	a.Size = w.size
	return a
}

package client

import (
	"context"
	"io/fs"
	"syscall"
)

// SetXattr implements fuse.Xattrs.
func (f *FS) SetXattr(ctx context.Context, path, name string, value []byte, flags int) error {
	return f.c.SetXattr(ctx, path, name, value, flags)
}

// GetXattr implements fuse.Xattrs. An entry the metadata cache knows to
// have no attributes answers ENODATA without a call (ls -l asks for one of
// every file it lists).
func (f *FS) GetXattr(ctx context.Context, path, name string) ([]byte, error) {
	if e, ok := f.c.mc.get(path); ok && !e.xattrs {
		return nil, &fs.PathError{Op: "getxattr", Path: path, Err: syscall.ENODATA}
	}
	return f.c.GetXattr(ctx, path, name)
}

// ListXattr implements fuse.Xattrs, from the metadata cache for an entry
// it knows to have no attributes.
func (f *FS) ListXattr(ctx context.Context, path string) ([]string, error) {
	if e, ok := f.c.mc.get(path); ok && !e.xattrs {
		return nil, nil
	}
	return f.c.ListXattr(ctx, path)
}

// RemoveXattr implements fuse.Xattrs.
func (f *FS) RemoveXattr(ctx context.Context, path, name string) error {
	return f.c.RemoveXattr(ctx, path, name)
}

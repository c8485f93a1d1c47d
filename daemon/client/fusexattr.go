package client

import "context"

// SetXattr implements fuse.Xattrs.
func (f *FS) SetXattr(ctx context.Context, path, name string, value []byte, flags int) error {
	return f.c.SetXattr(ctx, path, name, value, flags)
}

// GetXattr implements fuse.Xattrs.
func (f *FS) GetXattr(ctx context.Context, path, name string) ([]byte, error) {
	return f.c.GetXattr(ctx, path, name)
}

// ListXattr implements fuse.Xattrs.
func (f *FS) ListXattr(ctx context.Context, path string) ([]string, error) {
	return f.c.ListXattr(ctx, path)
}

// RemoveXattr implements fuse.Xattrs.
func (f *FS) RemoveXattr(ctx context.Context, path, name string) error {
	return f.c.RemoveXattr(ctx, path, name)
}

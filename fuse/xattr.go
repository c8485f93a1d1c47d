package fuse

import (
	"context"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// Xattrs is implemented by clients that keep extended attributes; without
// it the mount answers EOPNOTSUPP, as a file system without xattrs does.
type Xattrs interface {
	// SetXattr sets name; flags are setxattr(2)'s XATTR_CREATE (1) and
	// XATTR_REPLACE (2).
	SetXattr(ctx context.Context, path, name string, value []byte, flags int) error
	// GetXattr returns the value of name, an error wrapping ENODATA when
	// there is none.
	GetXattr(ctx context.Context, path, name string) ([]byte, error)
	ListXattr(ctx context.Context, path string) ([]string, error)
	RemoveXattr(ctx context.Context, path, name string) error
}

var (
	_ fs.NodeGetxattrer    = (*node)(nil)
	_ fs.NodeSetxattrer    = (*node)(nil)
	_ fs.NodeListxattrer   = (*node)(nil)
	_ fs.NodeRemovexattrer = (*node)(nil)
)

// capabilityXattr is asked for by the kernel before every write, to drop
// file capabilities; it is answered here, without a call to the master,
// and cannot be set.
const capabilityXattr = "security.capability"

func (n *node) xattrs() (Xattrs, bool) {
	x, ok := n.fsys.client.(Xattrs)
	return x, ok
}

// localXattrAnswer answers names that never reach the master: file
// capabilities (absent) and POSIX ACLs (not supported).
func localXattrAnswer(name string) (syscall.Errno, bool) {
	switch {
	case name == capabilityXattr:
		return syscall.ENODATA, true
	case strings.HasPrefix(name, "system."):
		return syscall.EOPNOTSUPP, true
	}
	return 0, false
}

func (n *node) Getxattr(ctx context.Context, name string, dest []byte) (uint32, syscall.Errno) {
	if errno, ok := localXattrAnswer(name); ok {
		return 0, errno
	}
	x, ok := n.xattrs()
	if !ok {
		return 0, syscall.EOPNOTSUPP
	}
	p, named := n.named()
	if !named {
		return 0, syscall.ENODATA // unlinked while open: none kept
	}
	v, err := x.GetXattr(uninterrupted(ctx), p, name)
	if err != nil {
		return 0, n.errno("getxattr", p, err)
	}
	if len(dest) == 0 {
		return uint32(len(v)), 0 // the caller asks for the size
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func (n *node) Setxattr(ctx context.Context, name string, data []byte, flags uint32) syscall.Errno {
	if name == capabilityXattr {
		return syscall.EOPNOTSUPP
	}
	if errno, ok := localXattrAnswer(name); ok {
		return errno
	}
	x, ok := n.xattrs()
	if !ok {
		return syscall.EOPNOTSUPP
	}
	p, named := n.named()
	if !named {
		return syscall.ENOENT // unlinked while open: nowhere to keep it
	}
	return n.errno("setxattr", p, x.SetXattr(uninterrupted(ctx), p, name, data, int(flags)))
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	x, ok := n.xattrs()
	if !ok {
		return 0, 0 // no attributes
	}
	p, named := n.named()
	if !named {
		return 0, 0 // unlinked while open: none kept
	}
	names, err := x.ListXattr(uninterrupted(ctx), p)
	if err != nil {
		return 0, n.errno("listxattr", p, err)
	}
	size := 0
	for _, name := range names {
		size += len(name) + 1
	}
	if len(dest) == 0 {
		return uint32(size), 0
	}
	if len(dest) < size {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, name := range names {
		off += copy(dest[off:], name)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

func (n *node) Removexattr(ctx context.Context, name string) syscall.Errno {
	if errno, ok := localXattrAnswer(name); ok {
		return errno
	}
	x, ok := n.xattrs()
	if !ok {
		return syscall.EOPNOTSUPP
	}
	p, named := n.named()
	if !named {
		return syscall.ENODATA
	}
	return n.errno("removexattr", p, x.RemoveXattr(uninterrupted(ctx), p, name))
}

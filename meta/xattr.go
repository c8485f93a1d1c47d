package meta

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Extended attributes are kept on the inode, in the metastore, and travel
// with it through renames, snapshots and replicas; under-stores never see
// them. The limits are Linux's where it has them.
const (
	// MaxXattrName is the longest attribute name (XATTR_NAME_MAX).
	MaxXattrName = 255
	// MaxXattrValue is the largest value (XATTR_SIZE_MAX).
	MaxXattrValue = 64 << 10
	// MaxXattrTotal bounds names and values of one entry together.
	MaxXattrTotal = 256 << 10
)

// Flags of SetXattr, as setxattr(2) takes them.
const (
	// XattrCreate fails with EEXIST when the attribute exists.
	XattrCreate = 1
	// XattrReplace fails with ENODATA when the attribute does not exist.
	XattrReplace = 2
)

// xattrNamespaces are the name prefixes kept; "system." holds POSIX ACLs,
// which are not supported.
var xattrNamespaces = []string{"user.", "trusted.", "security."}

// checkXattrName refuses names Linux would refuse, or that name ACLs.
func checkXattrName(op, p, name string) error {
	switch {
	case name == "" || len(name) > MaxXattrName:
		return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("attribute name of %d bytes: %w", len(name), syscall.ERANGE)}
	case strings.HasPrefix(name, "system."):
		return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("attribute %q: ACLs are not supported: %w", name, syscall.EOPNOTSUPP)}
	}
	for _, ns := range xattrNamespaces {
		if strings.HasPrefix(name, ns) && len(name) > len(ns) {
			return nil
		}
	}
	return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("attribute %q: not in the user., trusted. or security. namespace: %w", name, syscall.EOPNOTSUPP)}
}

// setXattrCmd sets (or with Remove, removes) one attribute of the entry at
// Path.
type setXattrCmd struct {
	Path   string `json:"path"`
	Name   string `json:"name"`
	Value  []byte `json:"value,omitempty"`
	Flags  int    `json:"flags,omitempty"`
	Remove bool   `json:"remove,omitempty"`
	Now    int64  `json:"now"`
}

func (*setXattrCmd) commandType() commandType { return cmdSetXattr }

func (c *setXattrCmd) apply(t *txn) (any, error) {
	op := "setxattr"
	if c.Remove {
		op = "removexattr"
	}
	n, err := t.lookup(op, c.Path)
	if err != nil {
		return nil, err
	}
	if err := checkXattrName(op, c.Path, c.Name); err != nil {
		return nil, err
	}
	_, exists := n.Xattrs[c.Name]
	switch {
	case c.Remove && !exists, !c.Remove && c.Flags&XattrReplace != 0 && !exists:
		return nil, &fs.PathError{Op: op, Path: c.Path, Err: fmt.Errorf("attribute %q: %w", c.Name, syscall.ENODATA)}
	case !c.Remove && c.Flags&XattrCreate != 0 && exists:
		return nil, &fs.PathError{Op: op, Path: c.Path, Err: fmt.Errorf("attribute %q: %w", c.Name, syscall.EEXIST)}
	case !c.Remove && len(c.Value) > MaxXattrValue:
		return nil, &fs.PathError{Op: op, Path: c.Path, Err: fmt.Errorf("attribute %q: value of %d bytes: %w", c.Name, len(c.Value), syscall.E2BIG)}
	}
	if c.Remove {
		delete(n.Xattrs, c.Name)
	} else {
		total := len(c.Name) + len(c.Value)
		for k, v := range n.Xattrs {
			if k != c.Name {
				total += len(k) + len(v)
			}
		}
		if total > MaxXattrTotal {
			return nil, &fs.PathError{Op: op, Path: c.Path, Err: fmt.Errorf("attributes would take %d bytes, more than %d: %w", total, MaxXattrTotal, syscall.ENOSPC)}
		}
		if n.Xattrs == nil {
			n.Xattrs = map[string][]byte{}
		}
		n.Xattrs[c.Name] = c.Value
	}
	n.Ctime = c.Now
	t.putInode(n)
	return nil, t.err
}

// SetXattr sets an extended attribute of the entry at path; flags is 0,
// XattrCreate or XattrReplace.
func (m *Master) SetXattr(ctx context.Context, path, name string, value []byte, flags int) error {
	return m.changeXattr(ctx, &setXattrCmd{Path: path, Name: name, Value: value, Flags: flags})
}

// RemoveXattr removes an extended attribute (ENODATA when there is none).
func (m *Master) RemoveXattr(ctx context.Context, path, name string) error {
	return m.changeXattr(ctx, &setXattrCmd{Path: path, Name: name, Remove: true})
}

func (m *Master) changeXattr(ctx context.Context, c *setXattrCmd) error {
	op := "setxattr"
	if c.Remove {
		op = "removexattr"
	}
	p, err := m.begin(op, c.Path)
	if err != nil {
		return err
	}
	if r, ok := m.replayed(ctx); ok {
		return r.err
	}
	if err := m.syncPath(ctx, p); err != nil {
		return err
	}
	if err := m.authorize(ctx, op, p, accWrite); err != nil {
		return err
	}
	c.Path, c.Now = p, time.Now().UnixNano()
	_, err = m.proposeRequest(ctx, c)
	return err
}

// GetXattr returns one extended attribute (ENODATA when there is none).
func (m *Master) GetXattr(ctx context.Context, path, name string) ([]byte, error) {
	const op = "getxattr"
	var value []byte
	err := m.readXattrs(ctx, op, path, func(p string, xs map[string][]byte) error {
		v, ok := xs[name]
		if !ok {
			return &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("attribute %q: %w", name, syscall.ENODATA)}
		}
		value = v
		return nil
	})
	return value, err
}

// ListXattr returns the names of an entry's extended attributes, sorted.
func (m *Master) ListXattr(ctx context.Context, path string) ([]string, error) {
	var names []string
	err := m.readXattrs(ctx, "listxattr", path, func(_ string, xs map[string][]byte) error {
		for k := range xs {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil
	})
	return names, err
}

func (m *Master) readXattrs(ctx context.Context, op, path string, fn func(p string, xs map[string][]byte) error) error {
	p, err := m.beginRead(ctx, op, path)
	if err != nil {
		return err
	}
	if err := m.authorize(ctx, op, p, accRead); err != nil {
		return err
	}
	if err := m.syncPath(ctx, p); err != nil {
		return err
	}
	return m.fsm.view(func(t *txn) error {
		n, err := t.lookup(op, p)
		if err != nil {
			return err
		}
		return fn(p, n.Xattrs)
	})
}

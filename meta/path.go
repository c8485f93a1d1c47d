package meta

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
)

// maxNameLen is the longest name one path element may have (NAME_MAX).
const maxNameLen = 255

// cleanPath validates a namespace path for op and returns it cleaned: it
// must be absolute and must not climb with "..".
func cleanPath(op, p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("not an absolute Alluxio path: %w", syscall.EINVAL)}
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("holds a NUL byte: %w", syscall.EINVAL)}
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("holds a \"..\" element: %w", syscall.EINVAL)}
		}
		if len(el) > maxNameLen {
			return "", &fs.PathError{Op: op, Path: p, Err: syscall.ENAMETOOLONG}
		}
	}
	return path.Clean(p), nil
}

// splitPath returns the elements of a clean absolute path; nil for "/".
func splitPath(p string) []string {
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

// splitParent returns the parent directory and base name of a clean path.
func splitParent(p string) (dir, name string) {
	return path.Dir(p), path.Base(p)
}

// joinPath joins a clean directory path and a name.
func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// within reports whether p is root or lies below it.
func within(p, root string) bool {
	if root == "/" || p == root {
		return true
	}
	return strings.HasPrefix(p, root+"/")
}

// validName reports whether an under-store name can be a namespace entry.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && len(name) <= maxNameLen &&
		!strings.ContainsAny(name, "/\x00")
}

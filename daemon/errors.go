package daemon

import (
	"fmt"
	"io/fs"
	"syscall"
)

func errExists(path string) error {
	return &fs.PathError{Op: "rename", Path: path, Err: syscall.EEXIST}
}

func errNoMount(id uint64) error {
	return fmt.Errorf("mount %d: no such mount: %w", id, syscall.ENOENT)
}

package meta

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TestDeleteKinds: unlink(2) and rmdir(2) semantics checked by the master
// in the same call, leaving the entry (and its under-store copy) in place
// when the kind is wrong.
func TestDeleteKinds(t *testing.T) {
	e := newEnv(t, -1)
	ctx := t.Context()
	e.mkdir(t, "/dir")
	e.writeFile(t, "/file", "x")
	cases := []struct {
		name string
		path string
		o    DeleteOptions
		want error
	}{
		{"unlink of a directory", "/dir", DeleteOptions{Unlink: true}, syscall.EISDIR},
		{"rmdir of a file", "/file", DeleteOptions{Rmdir: true}, syscall.ENOTDIR},
		{"unlink of a missing entry", "/none", DeleteOptions{Unlink: true}, syscall.ENOENT},
		{"unlink of a file", "/file", DeleteOptions{Unlink: true}, nil},
		{"rmdir of a directory", "/dir", DeleteOptions{Rmdir: true}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, inUFS := os.Stat(e.path(tc.path))
			err := e.m.DeleteWith(ctx, tc.path, tc.o)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(e.path(tc.path)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("under-store copy after removal: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("DeleteWith: %v, want %v", err, tc.want)
			}
			if inUFS == nil {
				if _, err := e.m.GetStatus(ctx, tc.path); err != nil {
					t.Errorf("entry gone after a refused removal: %v", err)
				}
				if _, err := os.Stat(e.path(tc.path)); err != nil {
					t.Errorf("under-store copy gone after a refused removal: %v", err)
				}
			}
		})
	}
}

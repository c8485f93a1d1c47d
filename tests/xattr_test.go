package tests

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestXattrs sets, reads, lists and removes extended attributes through
// the mount with the system calls programs use, and checks the errno
// values they expect.
func TestXattrs(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	f := filepath.Join(c.mnt, "f")
	if err := os.WriteFile(f, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(f, "user.color", []byte("red"), 0); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(f, "user.color", []byte("x"), unix.XATTR_CREATE); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("XATTR_CREATE over an existing attribute: %v", err)
	}
	if err := unix.Setxattr(f, "user.none", []byte("x"), unix.XATTR_REPLACE); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("XATTR_REPLACE of a missing attribute: %v", err)
	}
	if err := unix.Setxattr(f, "user.shape", []byte("round"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(f, "user.color", buf)
	if err != nil || string(buf[:n]) != "red" {
		t.Fatalf("getxattr user.color = %q, %v", buf[:n], err)
	}
	if size, err := unix.Getxattr(f, "user.shape", nil); err != nil || size != 5 {
		t.Fatalf("getxattr size probe = %d, %v", size, err)
	}
	if _, err := unix.Getxattr(f, "user.shape", make([]byte, 2)); !errors.Is(err, unix.ERANGE) {
		t.Fatalf("getxattr into a short buffer: %v", err)
	}
	if _, err := unix.Getxattr(f, "user.none", buf); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("getxattr of a missing attribute: %v", err)
	}
	if _, err := unix.Getxattr(f, "security.capability", buf); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("getxattr security.capability: %v", err)
	}
	if _, err := unix.Getxattr(f, "system.posix_acl_access", buf); !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENODATA) {
		t.Fatalf("reading an ACL: %v", err)
	}
	if err := unix.Setxattr(f, "trusted.x", make([]byte, 70000), 0); !errors.Is(err, unix.E2BIG) {
		t.Fatalf("a value over 64 KiB: %v", err)
	}
	list := func(p string) []string {
		t.Helper()
		b := make([]byte, 256)
		n, err := unix.Listxattr(p, b)
		if err != nil {
			t.Fatal(err)
		}
		names := strings.Split(strings.TrimSuffix(string(b[:n]), "\x00"), "\x00")
		if n == 0 {
			names = nil
		}
		slices.Sort(names)
		return names
	}
	if got := list(f); !slices.Equal(got, []string{"user.color", "user.shape"}) {
		t.Fatalf("listxattr = %q", got)
	}
	if err := unix.Removexattr(f, "user.shape"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Removexattr(f, "user.shape"); !errors.Is(err, unix.ENODATA) {
		t.Fatalf("removing twice: %v", err)
	}
	// Attributes follow the file through a rename and a remount.
	g := filepath.Join(c.mnt, "g")
	if err := os.Rename(f, g); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio-fuse", "umount", c.mnt)
	c.must("alluxio-fuse", "mount", c.mnt)
	if got := list(g); !slices.Equal(got, []string{"user.color"}) {
		t.Fatalf("after rename and remount, listxattr = %q", got)
	}
	// Writing a file does not disturb its attributes.
	if err := os.WriteFile(g, bytes.Repeat([]byte("w"), 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Getxattr(g, "user.color", buf); err != nil || string(buf[:n]) != "red" {
		t.Fatalf("after an overwrite, user.color = %q, %v", buf[:n], err)
	}
}

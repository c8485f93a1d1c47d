package tests

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRenameExchange: renameat2(RENAME_EXCHANGE) through the mount swaps
// two files, and a file another descriptor is still writing (its bytes
// land under its new name, in the under-store too); on an S3 mount, which
// cannot swap two objects atomically, it fails with EINVAL and changes
// nothing.
func TestRenameExchange(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.fuse.entry.timeout": "0",
		"alluxio.fuse.attr.timeout":  "0",
	})
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }
	u := func(p string) string { return filepath.Join(c.ufs, p) }
	exchange := func(a, b string) error {
		return unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	}
	want := func(when string, files map[string]string) {
		t.Helper()
		for p, data := range files {
			for _, at := range []string{m(p), u(p)} {
				if b, err := os.ReadFile(at); err != nil || string(b) != data {
					t.Errorf("%s: %s holds %q, %v; want %q", when, at, b, err, data)
				}
			}
		}
	}

	if err := os.Mkdir(m("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string]string{"a": "A", "d/b": "B", "old": "old bytes"} {
		if err := os.WriteFile(m(p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := exchange(m("a"), m("d/b")); err != nil {
		t.Fatal(err)
	}
	want("after exchanging a and d/b", map[string]string{"a": "B", "d/b": "A"})

	// A new file being written swaps names with a closed one; the writer
	// goes on writing and closes under the new name.
	w, err := os.OpenFile(m("new"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteString("written "); err != nil {
		t.Fatal(err)
	}
	if err := exchange(m("new"), m("old")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("before and after"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want("after exchanging a file being written", map[string]string{"old": "written before and after", "new": "old bytes"})

	endpoint, dir, _ := startBucket(t, "xchg")
	c.mountS3(endpoint, "/s3", "s3://xchg/")
	for p, data := range map[string]string{"s3/p": "P", "s3/q": "Q"} {
		if err := os.WriteFile(m(p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := exchange(m("s3/p"), m("s3/q")); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("exchange on S3: %v, want EINVAL", err)
	}
	for name, data := range map[string]string{"p": "P", "q": "Q"} {
		if b, err := os.ReadFile(m("s3/" + name)); err != nil || string(b) != data {
			t.Errorf("s3/%s through the mount holds %q, %v after a refused exchange", name, b, err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "xchg", name)); err != nil || string(b) != data {
			t.Errorf("object %s holds %q, %v after a refused exchange", name, b, err)
		}
	}
}

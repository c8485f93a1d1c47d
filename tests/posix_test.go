package tests

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPosixBasics runs the FUSE operations through the mount and
// checks each one against the under-store and the errno POSIX promises.
func TestPosixBasics(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.fuse.entry.timeout": "0",
		"alluxio.fuse.attr.timeout":  "0",
	})
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }
	u := func(p string) string { return filepath.Join(c.ufs, p) }

	// mkdir, EEXIST, rmdir, ENOTEMPTY.
	if err := os.Mkdir(m("d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(u("d")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Fatalf("mkdir in the under-store: %v %v", st, err)
	}
	if err := os.Mkdir(m("d"), 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("mkdir of an existing dir: %v, want EEXIST", err)
	}
	os.WriteFile(m("d/f"), []byte("x"), 0o644)
	if err := syscall.Rmdir(m("d")); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("rmdir of a non-empty dir: %v, want ENOTEMPTY", err)
	}
	if err := syscall.Rmdir(m("d/f")); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("rmdir of a file: %v, want ENOTDIR", err)
	}
	if err := syscall.Unlink(m("d")); !errors.Is(err, syscall.EISDIR) && !errors.Is(err, syscall.EPERM) {
		t.Fatalf("unlink of a dir: %v, want EISDIR", err)
	}

	// A new file lands in the under-store with its own mode, written or
	// left empty (the master then makes it).
	for _, f := range []struct {
		name string
		data []byte
	}{{"private", []byte("secret")}, {"private-empty", nil}} {
		if err := os.WriteFile(m(f.name), f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(u(f.name))
		if err != nil || st.Mode().Perm() != 0o600 || st.Size() != int64(len(f.data)) {
			t.Fatalf("%s in the under-store: %v %v, want mode 0600 and %d bytes", f.name, st, err, len(f.data))
		}
	}

	// A new file exists, empty, in the under-store once creat() returned
	// (CACHE_THROUGH over a local store), and its first close fills that
	// copy with what was written.
	born, err := os.OpenFile(m("born"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	bst, err := os.Stat(u("born"))
	if err != nil || bst.Size() != 0 || bst.Mode().Perm() != 0o640 {
		born.Close()
		t.Fatalf("a file just created, in the under-store: %v %v, want an empty 0640 file", bst, err)
	}
	bornIno := bst.Sys().(*syscall.Stat_t).Ino
	if _, err := born.WriteString("after creat"); err != nil {
		t.Fatal(err)
	}
	if err := born.Close(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(u("born")); err != nil || string(data) != "after creat" {
		t.Fatalf("the under-store's copy after close: %q, %v", data, err)
	}
	// Written into that empty copy in place, not a new file renamed over it.
	if st, err := os.Stat(u("born")); err != nil || st.Sys().(*syscall.Stat_t).Ino != bornIno {
		t.Errorf("the under-store's copy after close is another file (%v), want the empty copy written in place", err)
	}
	if data, err := os.ReadFile(m("born")); err != nil || string(data) != "after creat" {
		t.Fatalf("read back through the mount: %q, %v", data, err)
	}

	// rename of a file over another, and of a directory.
	os.WriteFile(m("old"), []byte("old"), 0o644)
	os.WriteFile(m("new"), []byte("to be replaced"), 0o644)
	if err := os.Rename(m("old"), m("new")); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(m("new")); string(data) != "old" {
		t.Fatalf("rename over a file: %q", data)
	}
	if _, err := os.Stat(u("old")); !os.IsNotExist(err) {
		t.Fatalf("rename left the source in the under-store: %v", err)
	}
	if err := os.Rename(m("d"), m("d2")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(m("d2/f")); err != nil || string(data) != "x" {
		t.Fatalf("after dir rename: %q %v", data, err)
	}

	// chmod, chown, utimens: through the mount and in the under-store.
	if err := os.Chmod(m("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(m("new"), 1234, 5678); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(m("new"), when, when); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(m("new"))
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o600 || sys.Uid != 1234 || sys.Gid != 5678 || !st.ModTime().Equal(when) {
		t.Fatalf("after chmod/chown/utimens: mode %v uid %d gid %d mtime %v", st.Mode(), sys.Uid, sys.Gid, st.ModTime())
	}
	ust, _ := os.Stat(u("new"))
	usys := ust.Sys().(*syscall.Stat_t)
	if ust.Mode().Perm() != 0o600 || usys.Uid != 1234 || !ust.ModTime().Equal(when) {
		t.Fatalf("under-store after chmod/chown/utimens: mode %v uid %d mtime %v", ust.Mode(), usys.Uid, ust.ModTime())
	}

	// symlink and readlink.
	if err := os.Symlink("new", m("link")); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(m("link")); err != nil || target != "new" {
		t.Fatalf("readlink: %q %v", target, err)
	}
	if data, err := os.ReadFile(m("link")); err != nil || string(data) != "old" {
		t.Fatalf("read through a symlink: %q %v", data, err)
	}

	// truncate to zero, then write again.
	if err := os.Truncate(m("new"), 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(u("new")); st.Size() != 0 {
		t.Fatalf("truncate: under-store size %d", st.Size())
	}
	// A write in the middle of an existing file, read back before close,
	// then seen by a fresh open and in the under-store.
	os.WriteFile(m("mid"), []byte("0123456789"), 0o644)
	f, err := os.OpenFile(m("mid"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("xy"), 3); err != nil {
		t.Fatalf("write in the middle: %v", err)
	}
	buf := make([]byte, 10)
	if n, err := f.ReadAt(buf, 0); n != 10 || string(buf) != "012xy56789" {
		t.Fatalf("read back before close: %q %v", buf[:n], err)
	}
	f.Close()
	if data, _ := os.ReadFile(m("mid")); string(data) != "012xy56789" {
		t.Fatalf("after close: %q", data)
	}
	if data, _ := os.ReadFile(u("mid")); string(data) != "012xy56789" {
		t.Fatalf("under-store after close: %q", data)
	}

	// O_EXCL on an existing file.
	if _, err := os.OpenFile(m("mid"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("O_EXCL on an existing file: %v, want EEXIST", err)
	}

	// unlink, and ENOENT afterwards.
	if err := os.Remove(m("mid")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m("mid")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("stat after unlink: %v", err)
	}

	// statfs reports the worker's capacity.
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(c.mnt, &sfs); err != nil {
		t.Fatal(err)
	}
	if total := int64(sfs.Blocks) * sfs.Bsize; total != 256<<20 {
		t.Fatalf("statfs: %d bytes, want the 256MB tier", total)
	}

	// Another user sees the mount (allow_other) and is checked by the
	// kernel (default_permissions): new is 0600 and owned by uid 1234.
	sh(t, fmt.Sprintf("setpriv --reuid=65534 --regid=65534 --clear-groups ls %s >/dev/null", c.mnt))
	out, err := runAs(65534, "cat", m("new"))
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("another user read a 0600 file: %v %s", err, out)
	}

	// A modification time set through the open file before close (tar -x,
	// cp -p) is the file's after close, written or empty; a write after
	// it makes the time the file's own again.
	past := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name          string
		before, after string
		wantPast      bool
	}{
		{"times-written", "data", "", true},
		{"times-empty", "", "", true},
		{"times-written-after", "data", "more", false},
	} {
		f, err := os.OpenFile(m(tc.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(tc.before)
		ts := []syscall.Timeval{syscall.NsecToTimeval(past.UnixNano()), syscall.NsecToTimeval(past.UnixNano())}
		if err := syscall.Futimes(int(f.Fd()), ts); err != nil {
			t.Fatal(err)
		}
		if err := f.Chmod(0o640); err != nil {
			t.Fatal(err)
		}
		if st, err := f.Stat(); err != nil || st.Mode().Perm() != 0o640 {
			t.Fatalf("%s: fstat after fchmod: %v %v", tc.name, st, err)
		}
		f.WriteString(tc.after)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(m(tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ModTime().Equal(past); got != tc.wantPast {
			t.Errorf("%s: mtime after close %v, set to %v before it (want kept: %v)", tc.name, st.ModTime(), past, tc.wantPast)
		}
		// The under-store's copy has them too.
		ust, err := os.Stat(u(tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 || ust.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v through the mount, %v in the under-store; fchmod before close set 0640", tc.name, st.Mode(), ust.Mode())
		}
		if got := ust.ModTime().Equal(past); got != tc.wantPast {
			t.Errorf("%s: under-store mtime %v, set to %v before close (want kept: %v)", tc.name, ust.ModTime(), past, tc.wantPast)
		}
	}

	// The counters are on the web port in Prometheus text too.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.webPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"Cluster_BytesReadUfsAll", "Cluster_BytesReadCache"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Fatalf("/metrics lacks %s:\n%s", name, body)
		}
	}
}

func runAs(uid int, args ...string) (string, error) {
	cmd := append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups"}, args...)
	out, err := execCommand("setpriv", cmd...)
	return out, err
}

// TestNestedMount mounts a second local directory inside the namespace.
func TestNestedMount(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.fuse.entry.timeout": "0", "alluxio.fuse.attr.timeout": "0"})
	c.start()
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "inside.txt"), []byte("nested"), 0o644)
	c.must("alluxio", "fs", "mount", "/nested", other)
	if data, err := os.ReadFile(filepath.Join(c.mnt, "nested", "inside.txt")); err != nil || string(data) != "nested" {
		t.Fatalf("read through the nested mount: %q %v", data, err)
	}
	os.WriteFile(filepath.Join(c.mnt, "nested", "new.txt"), []byte("written"), 0o644)
	if data, err := os.ReadFile(filepath.Join(other, "new.txt")); err != nil || string(data) != "written" {
		t.Fatalf("write through the nested mount: %q %v", data, err)
	}
	if err := os.Rename(filepath.Join(c.mnt, "nested", "new.txt"), filepath.Join(c.mnt, "out.txt")); !errors.Is(err, syscall.EXDEV) {
		t.Fatalf("rename across mounts: %v, want EXDEV", err)
	}
	out, err := c.run("alluxio", "fs", "mount", "/nested2", "/does/not/exist")
	if err == nil || !strings.Contains(out, "/does/not/exist") {
		t.Fatalf("mounting a missing directory: %v %s (want an error naming it)", err, out)
	}
	out, err = c.run("alluxio", "fs", "mount", "/bad", "nosuch://bucket/x")
	if err == nil || !strings.Contains(out, "nosuch") {
		t.Fatalf("mounting an unknown scheme: %v %s", err, out)
	}
	c.must("alluxio", "fs", "unmount", "/nested")
	if _, err := os.Stat(filepath.Join(c.mnt, "nested")); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("after unmount: %v", err)
	}
	if _, err := os.Stat(filepath.Join(other, "inside.txt")); err != nil {
		t.Fatalf("unmount touched the under-store: %v", err)
	}
}

// TestPassthroughWriterBusy: while a reader holds a fully cached file
// through kernel passthrough, a write open is refused with ETXTBSY (the
// kernel would otherwise fail it with EIO), and so are a truncate by path
// and a truncating read-only open (the reader would read the old length);
// once the reader closes, the write goes through and a new reader sees it.
func TestPassthroughWriterBusy(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	p := filepath.Join(c.mnt, "hot.txt")
	if err := os.WriteFile(p, []byte("version one"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The writer's release reaches the FUSE daemon after close returned
	// (the kernel sends it asynchronously); until then an open for
	// reading shares the writer instead of taking the cached copy
	// through passthrough. So a write open that goes through is tried
	// again, with a new reader, until the deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if errors.Is(err, syscall.ETXTBSY) {
			// A truncate by path, or a read-only open that
			// truncates, would leave the reader reading the old
			// length from the kernel's copy: refused too.
			if err := os.Truncate(p, 3); !errors.Is(err, syscall.ETXTBSY) {
				t.Errorf("truncate during a passthrough read: %v, want ETXTBSY", err)
			}
			if f, err := os.OpenFile(p, os.O_RDONLY|os.O_TRUNC, 0); !errors.Is(err, syscall.ETXTBSY) {
				t.Errorf("O_RDONLY|O_TRUNC open during a passthrough read: %v, want ETXTBSY", err)
				if err == nil {
					f.Close()
				}
			}
			buf := make([]byte, 64)
			if n, _ := r.ReadAt(buf, 0); string(buf[:n]) != "version one" {
				t.Errorf("the reader read %q after the refused truncates", buf[:n])
			}
			r.Close()
			break
		}
		if err == nil {
			w.Close()
		}
		r.Close()
		if time.Now().After(deadline) {
			t.Fatalf("write open during a passthrough read: %v, want ETXTBSY", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // release is asynchronous in the kernel
	if err := os.WriteFile(p, []byte("version two"), 0o644); err != nil {
		t.Fatalf("write after the reader closed: %v", err)
	}
	if data, _ := os.ReadFile(p); string(data) != "version two" {
		t.Fatalf("read after rewrite: %q", data)
	}
}

// TestBornFileSyncedDuringWrite: a file created through the mount (made
// empty in the under-store at creat()) whose under-store copy changes, and
// is loaded by an explicit loadMetadata, while its writer has it open: the
// writer's close wins, as the last writer's does on a local file system,
// and the file holds the writer's bytes in the namespace and the
// under-store alike. (The change comes before the first write: running
// the CLI forks this process, and the kernel sends the open file a FLUSH,
// which commits what was written so far.)
func TestBornFileSyncedDuringWrite(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.fuse.entry.timeout": "0",
		"alluxio.fuse.attr.timeout":  "0",
	})
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }
	u := func(p string) string { return filepath.Join(c.ufs, p) }

	const written = "the writer's bytes"
	for _, other := range []string{"bytes that reached the under-store first, longer than the writer's", "short"} {
		name := fmt.Sprintf("synced-%d", len(other))
		f, err := os.OpenFile(m(name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(u(name), []byte(other), 0o640); err != nil {
			f.Close()
			t.Fatal(err)
		}
		if out, err := c.run("alluxio", "fs", "loadMetadata", "/"+name); err != nil {
			f.Close()
			t.Fatalf("loadMetadata: %v: %s", err, out)
		}
		if out, err := c.run("alluxio", "fs", "stat", "/"+name); err != nil || !strings.Contains(out, fmt.Sprintf("length=%d,", len(other))) {
			f.Close()
			t.Fatalf("after loadMetadata: %v: %s; want the under-store's %d bytes", err, out, len(other))
		}
		if _, err := f.WriteString(written); err != nil {
			f.Close()
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close after a sync of the file: %v", err)
		}
		for _, p := range []string{m(name), u(name)} {
			if data, err := os.ReadFile(p); err != nil || string(data) != written {
				t.Errorf("%s after close: %q, %v; want %q", p, data, err, written)
			}
		}
		if out, err := c.run("alluxio", "fs", "stat", "/"+name); err != nil || !strings.Contains(out, fmt.Sprintf("length=%d,", len(written))) {
			t.Errorf("after close: %v: %s; want %d bytes", err, out, len(written))
		}
	}
}

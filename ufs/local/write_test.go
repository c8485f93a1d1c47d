//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/ufs"
)

// tmpFiles lists Create's temporary files left in a host directory.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		mode     fs.FileMode
		wantMode fs.FileMode
		err      error
	}{
		{name: "new file", path: "new", mode: 0o640, wantMode: 0o640},
		{name: "mode ignores umask", path: "open", mode: 0o666, wantMode: 0o666},
		{name: "zero mode means 0644", path: "zero", wantMode: 0o644},
		{name: "replace file", path: "f", mode: 0o600, wantMode: 0o600},
		{name: "replace symlink, not its target", path: "lf", mode: 0o644, wantMode: 0o644},
		{name: "in subdir", path: "d/new", mode: 0o644, wantMode: 0o644},
		{name: "through dir link inside", path: "ld/new2", mode: 0o644, wantMode: 0o644},
		{name: "parent missing", path: "nodir/x", err: fs.ErrNotExist},
		{name: "parent is a file", path: "f/x", err: syscall.ENOTDIR},
		{name: "target is a dir", path: "d", err: syscall.EISDIR},
		{name: "root", path: "", err: syscall.EISDIR},
		{name: "dotdot", path: "../x", err: syscall.EINVAL},
		{name: "reserved name", path: "d/" + tmpPrefix + "x", err: syscall.EINVAL},
		{name: "parent links out", path: "etc/x", err: syscall.EACCES},
		{name: "parent links out relatively", path: "up/x", err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			content := "content of " + tt.name
			w, err := s.Create(t.Context(), tt.path, ufs.CreateOptions{Mode: tt.mode, SizeHint: -1})
			checkErr(t, tt.name, err, tt.err)
			if err != nil {
				continue
			}
			if _, err := io.WriteString(w, content); err != nil {
				t.Fatalf("%s: write: %v", tt.name, err)
			}
			fi, err := w.Close(t.Context())
			if err != nil {
				t.Fatalf("%s: close: %v", tt.name, err)
			}
			if fi.Name != filepath.Base(tt.path) || fi.Size != int64(len(content)) || fi.Mode != tt.wantMode {
				t.Errorf("%s: Close info %q size %d mode %v; want %q %d %v",
					tt.name, fi.Name, fi.Size, fi.Mode, filepath.Base(tt.path), len(content), tt.wantMode)
			}
			st, err := s.Stat(t.Context(), tt.path)
			if err != nil || st.Fingerprint() != fi.Fingerprint() {
				t.Errorf("%s: Stat after Close = %+v, %v; want fingerprint %s", tt.name, st, err, fi.Fingerprint())
			}
			if got := readHost(t, root, tt.path); got != content {
				t.Errorf("%s: file holds %q, want %q", tt.name, got, content)
			}
		}
		if got := readHost(t, root, "f"); !strings.HasPrefix(got, "content of") {
			t.Errorf("replaced file holds %q", got)
		}
		if tmp := tmpFiles(t, root); len(tmp) != 0 {
			t.Errorf("temporary files left behind: %v", tmp)
		}
		if _, err := os.Stat("/etc/x"); err == nil {
			t.Errorf("Create escaped the root: /etc/x exists")
		}
	})
}

func TestAtomicReplace(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx := t.Context()
		old, err := s.OpenRange(ctx, "f", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		before, err := s.Stat(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}

		w, err := s.Create(ctx, "f", ufs.CreateOptions{Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(w, "brand new bytes"); err != nil {
			t.Fatal(err)
		}
		// While the writer is open the old file is what everyone sees, and
		// the temporary file is hidden.
		if got := readHost(t, root, "f"); got != "hello world" {
			t.Errorf("during write the file holds %q", got)
		}
		if len(tmpFiles(t, root)) != 1 {
			t.Errorf("want exactly one temporary file during the write")
		}
		s.List(ctx, "", func(fi ufs.FileInfo) error {
			if strings.HasPrefix(fi.Name, tmpPrefix) {
				t.Errorf("List shows temporary file %q", fi.Name)
			}
			return nil
		})
		_, err = s.Stat(ctx, tmpFiles(t, root)[0])
		checkErr(t, "Stat(temporary file)", err, fs.ErrNotExist)

		after, err := w.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Fingerprint() == before.Fingerprint() {
			t.Errorf("fingerprint did not change on rewrite: %s", after.Fingerprint())
		}
		got, err := io.ReadAll(old)
		if err != nil || string(got) != "hello world" {
			t.Errorf("reader opened before the replace read %q, %v; want the old bytes", got, err)
		}
		r, err := s.OpenRange(ctx, "f", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if got, _ := io.ReadAll(r); string(got) != "brand new bytes" {
			t.Errorf("new reader read %q", got)
		}
	})
}

func TestWriterAbortAndLifecycle(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		finish func(ufs.Writer) error
		want   error // from finish
	}{
		{name: "abort", finish: func(w ufs.Writer) error { return w.Abort() }},
		{name: "abort twice", finish: func(w ufs.Writer) error { w.Abort(); return w.Abort() }},
		{name: "close with cancelled context", want: context.Canceled,
			finish: func(w ufs.Writer) error { _, err := w.Close(cancelled); return err }},
		{name: "write after abort", want: syscall.EBADF,
			finish: func(w ufs.Writer) error { w.Abort(); _, err := w.Write([]byte("x")); return err }},
		{name: "close after abort", want: syscall.EBADF,
			finish: func(w ufs.Writer) error { w.Abort(); _, err := w.Close(context.Background()); return err }},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			w, err := s.Create(t.Context(), "f", ufs.CreateOptions{Mode: 0o644})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(w, "discarded"); err != nil {
				t.Fatal(err)
			}
			err = tt.finish(w)
			if tt.want == nil && err != nil {
				t.Errorf("%s: %v", tt.name, err)
			} else if tt.want != nil {
				checkErr(t, tt.name, err, tt.want)
			}
			if got := readHost(t, root, "f"); got != "hello world" {
				t.Errorf("%s: the old file now holds %q", tt.name, got)
			}
			if tmp := tmpFiles(t, root); len(tmp) != 0 {
				t.Errorf("%s: temporary files left: %v", tt.name, tmp)
			}
		}

		// After a successful Close, Abort is a no-op and Close/Write fail.
		w, err := s.Create(t.Context(), "f", ufs.CreateOptions{Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "kept")
		if _, err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Close: %v", err)
		}
		_, err = w.Close(t.Context())
		checkErr(t, "second Close", err, syscall.EBADF)
		_, err = w.Write([]byte("x"))
		checkErr(t, "Write after Close", err, syscall.EBADF)
		if got := readHost(t, root, "f"); got != "kept" {
			t.Errorf("after Close and Abort the file holds %q, want %q", got, "kept")
		}
	})
}

func TestCreateEmpty(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		w, err := s.Create(t.Context(), "empty-file", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := w.Close(t.Context())
		if err != nil || fi.Size != 0 || !fi.Mode.IsRegular() {
			t.Fatalf("Close = %+v, %v; want an empty regular file", fi, err)
		}
	})
}

// TestCloseDeferred: the file is at its path when CloseDeferred returns,
// before its directory sync runs; the sync succeeds once.
func TestCloseDeferred(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		w, err := s.Create(t.Context(), "deferred", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("bytes")); err != nil {
			t.Fatal(err)
		}
		fi, sync, err := w.(ufs.SyncDeferrer).CloseDeferred(t.Context())
		if err != nil || fi.Size != 5 {
			t.Fatalf("CloseDeferred = %+v, %v; want 5 bytes", fi, err)
		}
		if got, err := os.ReadFile(filepath.Join(root, "deferred")); err != nil || string(got) != "bytes" {
			t.Fatalf("before the sync the file reads %q, %v", got, err)
		}
		if err := sync(); err != nil {
			t.Fatal(err)
		}
		if left := tmpFiles(t, root); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
		if _, _, err := w.(ufs.SyncDeferrer).CloseDeferred(t.Context()); !errors.Is(err, syscall.EBADF) {
			t.Errorf("a second close: %v, want EBADF", err)
		}
	})
}

func TestDelete(t *testing.T) {
	tests := []struct {
		path string
		err  error
	}{
		{path: "f"},
		{path: "empty"},
		{path: "lf"},  // the link, not f
		{path: "etc"}, // the link, not /etc
		{path: "d/g"},
		{path: "d", err: syscall.ENOTEMPTY},
		{path: "missing", err: fs.ErrNotExist},
		{path: "missing/x", err: fs.ErrNotExist},
		{path: "", err: syscall.EBUSY},
		{path: "/", err: syscall.EBUSY},
		{path: "d/../..", err: syscall.EINVAL},
		{path: "up/passwd", err: syscall.EACCES},
		{path: "ld/up", err: nil}, // removes d/up through a link inside
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			err := s.Delete(t.Context(), tt.path)
			checkErr(t, fmt.Sprintf("Delete(%q)", tt.path), err, tt.err)
			if err == nil {
				if _, err := os.Lstat(filepath.Join(root, tt.path)); !os.IsNotExist(err) {
					t.Errorf("Delete(%q) left the entry: %v", tt.path, err)
				}
			}
		}
		if _, err := os.Stat("/etc/passwd"); err != nil {
			t.Errorf("/etc/passwd: %v", err)
		}
		if _, err := os.Stat(filepath.Join(root, "d")); err != nil {
			t.Errorf("non-empty dir removed: %v", err)
		}
	})
}

func TestRename(t *testing.T) {
	tests := []struct {
		src, dst string
		err      error
		check    string // a path that must hold "hello world" afterwards
	}{
		{src: "f", dst: "f2", check: "f2"},
		{src: "f2", dst: "d/g", check: "d/g"}, // replaces a file
		{src: "d/g", dst: "empty/g", check: "empty/g"},
		{src: "empty", dst: "e2"},
		{src: "lf", dst: "lf2"}, // moves the link
		{src: "missing", dst: "x", err: fs.ErrNotExist},
		{src: "e2/g", dst: "nodir/g", err: fs.ErrNotExist},
		{src: "e2/g", dst: "d", err: syscall.EISDIR},
		{src: "e2", dst: "d", err: syscall.ENOTEMPTY},
		{src: "d", dst: "d/sub", err: syscall.EINVAL},
		{src: "e2/g", dst: "../g", err: syscall.EINVAL},
		{src: "../x", dst: "g", err: syscall.EINVAL},
		{src: "e2/g", dst: tmpPrefix + "g", err: syscall.EINVAL},
		{src: "", dst: "x", err: syscall.EBUSY},
		{src: "e2/g", dst: "", err: syscall.EBUSY},
		{src: "e2/g", dst: "etc/g", err: syscall.EACCES},
		{src: "passwd", dst: "pw"}, // moves the link itself, fine
		{src: "etc/passwd", dst: "pw2", err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			what := fmt.Sprintf("Rename(%q, %q)", tt.src, tt.dst)
			err := s.Rename(t.Context(), tt.src, tt.dst)
			checkErr(t, what, err, tt.err)
			if tt.check != "" {
				if got := readHost(t, root, tt.check); got != "hello world" {
					t.Errorf("%s: %s holds %q", what, tt.check, got)
				}
			}
		}
		if fi, err := s.Stat(t.Context(), "e2"); err != nil || !fi.IsDir() {
			t.Errorf("renamed dir: %+v, %v", fi, err)
		}
		if target, err := s.Readlink(t.Context(), "lf2"); err != nil || target != "f" {
			t.Errorf("renamed link reads %q, %v", target, err)
		}
		if _, err := os.Stat("/etc/g"); err == nil {
			t.Errorf("Rename escaped the root: /etc/g exists")
		}
	})
}

func TestRenameDirOverEmptyDir(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		if err := s.Rename(t.Context(), "d", "empty"); err != nil {
			t.Fatalf("rename(2) replaces an empty directory: %v", err)
		}
		if got := readHost(t, root, "empty/g"); got != "gg" {
			t.Errorf("empty/g holds %q", got)
		}
	})
}

// TestExchange: two files, a file and a directory, and entries in two
// directories swap names; a missing entry, the root and a path out of
// the root are refused as rename refuses them.
func TestExchange(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx := t.Context()
		if err := s.Exchange(ctx, "f", "d/g"); err != nil {
			t.Fatal(err)
		}
		if f, g := readHost(t, root, "f"), readHost(t, root, "d/g"); f != "gg" || g != "hello world" {
			t.Errorf("after exchanging f and d/g: f holds %q, d/g %q", f, g)
		}
		if err := s.Exchange(ctx, "f", "empty"); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Lstat(filepath.Join(root, "f")); err != nil || !fi.IsDir() {
			t.Errorf("f is not the directory after the exchange: %v, %v", fi, err)
		}
		if got := readHost(t, root, "empty"); got != "gg" {
			t.Errorf("empty holds %q", got)
		}
		for _, tt := range []struct {
			a, b string
			err  error
		}{
			{"f", "missing", fs.ErrNotExist},
			{"missing", "f", fs.ErrNotExist},
			{"", "f", syscall.EBUSY},
			{"f", "../x", syscall.EINVAL},
			{"f", "etc/passwd", syscall.EACCES},
		} {
			checkErr(t, fmt.Sprintf("Exchange(%q, %q)", tt.a, tt.b), s.Exchange(ctx, tt.a, tt.b), tt.err)
		}
	})
}

func TestMkdir(t *testing.T) {
	tests := []struct {
		path string
		perm fs.FileMode
		err  error
	}{
		{path: "m", perm: 0o777}, // umask is not applied
		{path: "m/n", perm: 0o750},
		{path: "m/s", perm: 0o775 | fs.ModeSetgid},
		{path: "ld/m", perm: 0o700},
		{path: "m", perm: 0o755, err: fs.ErrExist},
		{path: "f", perm: 0o755, err: fs.ErrExist},
		{path: "", perm: 0o755, err: fs.ErrExist},
		{path: "nodir/m", perm: 0o755, err: fs.ErrNotExist},
		{path: "f/m", perm: 0o755, err: syscall.ENOTDIR},
		{path: "../m", perm: 0o755, err: syscall.EINVAL},
		{path: tmpPrefix + "m", perm: 0o755, err: syscall.EINVAL},
		{path: "etc/m", perm: 0o755, err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			err := s.Mkdir(t.Context(), tt.path, tt.perm)
			checkErr(t, fmt.Sprintf("Mkdir(%q)", tt.path), err, tt.err)
			if err != nil {
				continue
			}
			fi, err := s.Stat(t.Context(), tt.path)
			if err != nil || fi.Mode != fs.ModeDir|tt.perm {
				t.Errorf("Mkdir(%q, %v): Stat = %v, %v", tt.path, tt.perm, fi.Mode, err)
			}
		}
	})
}

func TestChmod(t *testing.T) {
	tests := []struct {
		path string
		mode fs.FileMode
		err  error
	}{
		{path: "f", mode: 0o600},
		{path: "d", mode: 0o711},
		{path: "", mode: 0o750},
		{path: "ld/g", mode: 0o604},
		{path: "lf", mode: 0o600, err: syscall.EOPNOTSUPP},
		{path: "passwd", mode: 0o666, err: syscall.EOPNOTSUPP},
		{path: "missing", mode: 0o600, err: fs.ErrNotExist},
		{path: "../f", mode: 0o600, err: syscall.EINVAL},
		{path: "etc/passwd", mode: 0o666, err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		before, err := os.Stat("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			err := s.Chmod(t.Context(), tt.path, tt.mode)
			checkErr(t, fmt.Sprintf("Chmod(%q)", tt.path), err, tt.err)
			if err != nil {
				continue
			}
			fi, err := s.Stat(t.Context(), tt.path)
			if err != nil || fi.Mode.Perm() != tt.mode {
				t.Errorf("Chmod(%q, %v): now %v, %v", tt.path, tt.mode, fi.Mode, err)
			}
		}
		if fi, _ := os.Stat(filepath.Join(root, "f")); fi.Mode().Perm() != 0o600 {
			t.Errorf("f changed through the link: %v", fi.Mode())
		}
		if after, _ := os.Stat("/etc/passwd"); after.Mode() != before.Mode() {
			t.Errorf("/etc/passwd mode changed to %v", after.Mode())
		}
	})
}

func TestChmodViaProc(t *testing.T) {
	// chmodAt takes this path on kernels without fchmodat2; exercise it
	// directly so it is tested on every kernel.
	root := t.TempDir()
	populate(t, root)
	dfd, err := openRetry(root, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	tests := []struct {
		name string
		err  error
	}{
		{"f", nil},
		{"d", nil},
		{"lf", syscall.EOPNOTSUPP},
		{"missing", syscall.ENOENT},
	}
	for _, tt := range tests {
		err := chmodViaProc(dfd, tt.name, 0o640)
		if tt.err == nil && err != nil || !errors.Is(err, tt.err) {
			t.Errorf("chmodViaProc(%q) = %v, want %v", tt.name, err, tt.err)
		}
	}
	for _, name := range []string{"f", "d"} {
		if fi, _ := os.Stat(filepath.Join(root, name)); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s mode %v, want 0640", name, fi.Mode())
		}
	}
}

func TestChown(t *testing.T) {
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	newUID, newGID := uid, gid
	if uid == 0 {
		newUID, newGID = 1234, 5678
	}
	tests := []struct {
		path     string
		uid, gid uint32
		wantUID  uint32
		wantGID  uint32
		err      error
	}{
		{path: "f", uid: newUID, gid: newGID, wantUID: newUID, wantGID: newGID},
		{path: "d", uid: newUID, gid: math.MaxUint32, wantUID: newUID, wantGID: gid},
		{path: "lf", uid: newUID, gid: newGID, wantUID: newUID, wantGID: newGID}, // the link itself
		{path: "", uid: math.MaxUint32, gid: math.MaxUint32, wantUID: uid, wantGID: gid},
		{path: "missing", uid: uid, gid: gid, err: fs.ErrNotExist},
		{path: "..", uid: uid, gid: gid, err: syscall.EINVAL},
		{path: "etc/passwd", uid: uid, gid: gid, err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			err := s.Chown(t.Context(), tt.path, tt.uid, tt.gid)
			checkErr(t, fmt.Sprintf("Chown(%q)", tt.path), err, tt.err)
			if err != nil {
				continue
			}
			fi, err := s.Stat(t.Context(), tt.path)
			if err != nil || fi.UID != tt.wantUID || fi.GID != tt.wantGID {
				t.Errorf("Chown(%q): owner %d:%d, %v; want %d:%d", tt.path, fi.UID, fi.GID, err, tt.wantUID, tt.wantGID)
			}
		}
		if uid == 0 {
			// Chown of a link changes the link, never its target.
			if err := s.Chown(t.Context(), "ld", 42, 42); err != nil {
				t.Fatal(err)
			}
			if fi, _ := s.Stat(t.Context(), "d"); fi.UID == 42 {
				t.Errorf("Chown(ld) changed its target d")
			}
		}
	})
}

func TestChtimes(t *testing.T) {
	when := time.Date(2020, 2, 3, 4, 5, 6, 789, time.UTC)
	tests := []struct {
		path string
		err  error
	}{
		{path: "f"},
		{path: "d"},
		{path: ""},
		{path: "lf"}, // the link, not f
		{path: "missing", err: fs.ErrNotExist},
		{path: "../x", err: syscall.EINVAL},
		{path: "etc/passwd", err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		fBefore, err := os.Stat(filepath.Join(root, "f"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			if tt.path == "f" {
				continue // checked last, so the link case can see f untouched
			}
			err := s.Chtimes(t.Context(), tt.path, when)
			checkErr(t, fmt.Sprintf("Chtimes(%q)", tt.path), err, tt.err)
			if err != nil {
				continue
			}
			fi, err := s.Stat(t.Context(), tt.path)
			if err != nil || !fi.ModTime.Equal(when) {
				t.Errorf("Chtimes(%q): mtime %v, %v; want %v", tt.path, fi.ModTime, err, when)
			}
		}
		if fi, _ := os.Stat(filepath.Join(root, "f")); !fi.ModTime().Equal(fBefore.ModTime()) {
			t.Errorf("Chtimes on the link changed f to %v", fi.ModTime())
		}
		if err := s.Chtimes(t.Context(), "f", when); err != nil {
			t.Fatal(err)
		}
		if fi, _ := s.Stat(t.Context(), "f"); !fi.ModTime.Equal(when) {
			t.Errorf("f mtime %v, want %v", fi.ModTime, when)
		}
	})
}

func TestSymlinkReadlink(t *testing.T) {
	tests := []struct {
		target, path string
		err          error
	}{
		{target: "f", path: "l1"},
		{target: "/etc/shadow", path: "l2"}, // may be created; never followed out
		{target: "../../x", path: "d/l3"},
		{target: strings.Repeat("x/", 1000) + "y", path: "long"},
		{target: "f", path: "f", err: fs.ErrExist},
		{target: "f", path: "", err: fs.ErrExist},
		{target: "f", path: "nodir/l", err: fs.ErrNotExist},
		{target: "", path: "l4", err: fs.ErrNotExist},
		{target: "f", path: "../l", err: syscall.EINVAL},
		{target: "f", path: tmpPrefix + "l", err: syscall.EINVAL},
		{target: "f", path: "etc/l", err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			err := s.Symlink(t.Context(), tt.target, tt.path)
			checkErr(t, fmt.Sprintf("Symlink(%q, %q)", tt.target, tt.path), err, tt.err)
			if err != nil {
				continue
			}
			got, err := s.Readlink(t.Context(), tt.path)
			if err != nil || got != tt.target {
				t.Errorf("Readlink(%q) = %.40q, %v; want %.40q", tt.path, got, err, tt.target)
			}
			fi, err := s.Stat(t.Context(), tt.path)
			if err != nil || fi.Mode.Type() != fs.ModeSymlink || fi.Size != int64(len(tt.target)) {
				t.Errorf("Stat(%q) = %v size %d, %v; want a link of %d bytes", tt.path, fi.Mode, fi.Size, err, len(tt.target))
			}
		}
		_, err := s.OpenRange(t.Context(), "l2", 0, -1)
		checkErr(t, "OpenRange through a link to /etc/shadow", err, syscall.EACCES)

		readErrs := []struct {
			path string
			err  error
		}{
			{"f", syscall.EINVAL},
			{"", syscall.EINVAL},
			{"missing", fs.ErrNotExist},
			{"../x", syscall.EINVAL},
			{"etc/passwd", syscall.EACCES},
		}
		for _, tt := range readErrs {
			_, err := s.Readlink(t.Context(), tt.path)
			checkErr(t, fmt.Sprintf("Readlink(%q)", tt.path), err, tt.err)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		path string
		size int64
		want string // content of check afterwards
		chk  string
		err  error
	}{
		{path: "f", size: 5, chk: "f", want: "hello"},
		{path: "f", size: 7, chk: "f", want: "hello\x00\x00"},
		{path: "lf", size: 1, chk: "f", want: "h"}, // follows a link inside, like truncate(2)
		{path: "d/up", size: 0, chk: "f", want: ""},
		{path: "f", size: -1, err: syscall.EINVAL},
		{path: "d", size: 0, err: syscall.EISDIR},
		{path: "", size: 0, err: syscall.EISDIR},
		{path: "missing", size: 0, err: fs.ErrNotExist},
		{path: "../f", size: 0, err: syscall.EINVAL},
		{path: "passwd", size: 0, err: syscall.EACCES},
		{path: "etc/passwd", size: 0, err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		before, err := os.Stat("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			err := s.Truncate(t.Context(), tt.path, tt.size)
			checkErr(t, fmt.Sprintf("Truncate(%q, %d)", tt.path, tt.size), err, tt.err)
			if err == nil {
				if got := readHost(t, root, tt.chk); got != tt.want {
					t.Errorf("Truncate(%q, %d): %s holds %q, want %q", tt.path, tt.size, tt.chk, got, tt.want)
				}
			}
		}
		if after, _ := os.Stat("/etc/passwd"); after.Size() != before.Size() {
			t.Errorf("/etc/passwd size changed")
		}
	})
}

func TestConcurrentReplaceIsAtomic(t *testing.T) {
	const writers, rounds = 4, 20
	// Each writer's content is one repeated byte, so a torn or partial
	// file shows as mixed bytes or a wrong length.
	const size = 64 << 10
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx := t.Context()
		seed := strings.Repeat("s", size)
		if err := os.WriteFile(filepath.Join(root, "f"), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
		var g errgroup.Group
		for i := range writers {
			b := []byte(strings.Repeat(string(rune('a'+i)), size))
			g.Go(func() error {
				for range rounds {
					w, err := s.Create(ctx, "f", ufs.CreateOptions{Mode: 0o644})
					if err != nil {
						return err
					}
					for off := 0; off < size; off += 4096 {
						if _, err := w.Write(b[off : off+4096]); err != nil {
							return err
						}
					}
					if _, err := w.Close(ctx); err != nil {
						return err
					}
				}
				return nil
			})
		}
		for range 2 {
			g.Go(func() error {
				for range rounds * 4 {
					r, err := s.OpenRange(ctx, "f", 0, -1)
					if err != nil {
						return err
					}
					got, err := io.ReadAll(r)
					r.Close()
					if err != nil {
						return err
					}
					if len(got) != size || strings.Count(string(got), string(got[:1])) != size {
						return fmt.Errorf("read a torn file: %d bytes starting %q", len(got), got[:min(len(got), 8)])
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		if tmp := tmpFiles(t, root); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})
}

func TestCloseWhileInUse(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx := t.Context()
		var g errgroup.Group
		for range 4 {
			g.Go(func() error {
				for range 200 {
					_, err := s.Stat(ctx, "d/g")
					if err != nil && !errors.Is(err, syscall.EBADF) {
						return err
					}
				}
				return nil
			})
		}
		time.Sleep(time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCreateFill writes into the empty copy a file made complete at its
// creation left (CreateOptions.Fill): in place, keeping the file's inode,
// while that empty file is still the one fingerprinted; anything else at
// the path is replaced as usual. A rename while writing is followed, and
// an abort leaves the file empty.
func TestCreateFill(t *testing.T) {
	ctx := context.Background()
	eachMode(t, func(t *testing.T, s *Store, root string) {
		empty := func(t *testing.T, name string) (string, uint64) {
			t.Helper()
			w, err := s.Create(ctx, name, ufs.CreateOptions{Mode: 0o640})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return fi.Fingerprint(), inodeOf(t, filepath.Join(root, name))
		}
		write := func(t *testing.T, name, fill, data string) ufs.Writer {
			t.Helper()
			w, err := s.Create(ctx, name, ufs.CreateOptions{Mode: 0o640, Fill: fill})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(w, data); err != nil {
				t.Fatal(err)
			}
			return w
		}
		check := func(t *testing.T, name, want string) {
			t.Helper()
			got, err := os.ReadFile(filepath.Join(root, name))
			if err != nil || string(got) != want {
				t.Fatalf("%s: %q, %v; want %q", name, got, err, want)
			}
		}

		t.Run("in place", func(t *testing.T) {
			fp, ino := empty(t, "born")
			w := write(t, "born", fp, "bytes")
			fi, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			check(t, "born", "bytes")
			if got := inodeOf(t, filepath.Join(root, "born")); got != ino {
				t.Errorf("inode %d after the write, want the empty copy's %d (written in place)", got, ino)
			}
			if fi.Size != 5 || fi.Fingerprint() == fp {
				t.Errorf("info after the write: %+v", fi)
			}
			if tmp := tmpFiles(t, root); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})

		t.Run("another file there", func(t *testing.T) {
			fp, ino := empty(t, "swapped")
			// Replaced by another file: not the one fingerprinted. The
			// old one is held open, so its inode number cannot be given
			// to the new file or the writer's temporary file.
			old, err := os.Open(filepath.Join(root, "swapped"))
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			if err := os.Remove(filepath.Join(root, "swapped")); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "swapped"), []byte("other"), 0o644); err != nil {
				t.Fatal(err)
			}
			w := write(t, "swapped", fp, "mine")
			if _, err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			check(t, "swapped", "mine")
			if got := inodeOf(t, filepath.Join(root, "swapped")); got == ino {
				t.Error("the fingerprinted file, removed, is back at the path")
			}
			if st, err := old.Stat(); err != nil {
				t.Error(err)
			} else if st.Size() != 0 {
				t.Errorf("the removed fingerprinted file was written: %d bytes", st.Size())
			}
		})

		t.Run("renamed while written", func(t *testing.T) {
			fp, _ := empty(t, "before")
			w := write(t, "before", fp, "moved")
			if err := s.Rename(ctx, "before", "after"); err != nil {
				t.Fatal(err)
			}
			if err := w.(ufs.Retargeter).Retarget(ctx, "after"); err != nil {
				t.Fatal(err)
			}
			fi, err := w.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			check(t, "after", "moved")
			if fi.Name != "after" {
				t.Errorf("info names %q, want after", fi.Name)
			}
		})

		t.Run("abort", func(t *testing.T) {
			fp, _ := empty(t, "aborted")
			w := write(t, "aborted", fp, "dropped")
			if err := w.Abort(); err != nil {
				t.Fatal(err)
			}
			check(t, "aborted", "")
		})
	})
}

// inodeOf returns the inode number of the file at p.
func inodeOf(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// A FIFO planted at the name a Create is asked to fill in place does not
// block the Create: it is passed over, as any file that is not the empty
// one the master made.
func TestFillOverFIFO(t *testing.T) {
	root := t.TempDir()
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fifo := filepath.Join(root, "p")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		w, err := s.Create(context.Background(), "p", ufs.CreateOptions{Fill: "mt:1:0"})
		if err == nil {
			w.Abort()
		}
		done <- err
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		if f, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0); err == nil { // let the open go
			defer f.Close()
		}
		<-done
		t.Fatal("Create with Fill over a FIFO blocked")
	}
}

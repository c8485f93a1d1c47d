//go:build linux

package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

func TestOpenURI(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri  string
		want error
	}{
		{"file://" + dir, nil},
		{dir, nil},
		{"file://localhost" + dir, nil},
		{"FILE://" + dir + "/", nil},
		{"file://" + dir + "/missing", fs.ErrNotExist},
		{dir + "/missing", fs.ErrNotExist},
		{"file://" + file, syscall.ENOTDIR},
		{"file://otherhost" + dir, syscall.EINVAL},
		{"file:relative/dir", syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			s, err := ufs.Open(tt.uri, nil)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Open(%q): %v", tt.uri, err)
				}
				defer s.Close()
				fi, err := s.Stat(t.Context(), "")
				if err != nil || !fi.IsDir() {
					t.Fatalf("Stat(root) = %+v, %v; want a directory", fi, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open(%q) error %v, want %v", tt.uri, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.uri) {
				t.Errorf("Open(%q) error %q does not name the URI", tt.uri, err)
			}
		})
	}
}

func TestNewRelativeRoot(t *testing.T) {
	_, err := New("relative/dir")
	checkErr(t, "New(relative)", err, syscall.EINVAL)
}

func TestStat(t *testing.T) {
	tests := []struct {
		path     string
		want     error
		name     string
		typ      fs.FileMode
		perm     fs.FileMode
		size     int64
		checkOwn bool
	}{
		{path: "f", name: "f", perm: 0o644, size: 11, checkOwn: true},
		{path: "/f", name: "f", perm: 0o644, size: 11},
		{path: "./d/../f", want: syscall.EINVAL},
		{path: "d", name: "d", typ: fs.ModeDir, perm: 0o755},
		{path: "d/g", name: "g", perm: 0o600, size: 2},
		{path: "ld/g", name: "g", perm: 0o600, size: 2}, // through a link that stays inside
		{path: "lf", name: "lf", typ: fs.ModeSymlink, perm: 0o777, size: 1},
		{path: "etc", name: "etc", typ: fs.ModeSymlink, perm: 0o777, size: 4}, // the link, not /etc
		{path: "", name: "", typ: fs.ModeDir, perm: 0o755},
		{path: "/", name: "", typ: fs.ModeDir, perm: 0o755},
		{path: "missing", want: fs.ErrNotExist},
		{path: "missing/x", want: fs.ErrNotExist},
		{path: "f/x", want: syscall.ENOTDIR},
		{path: "..", want: syscall.EINVAL},
		{path: "d/../../x", want: syscall.EINVAL},
		{path: "etc/passwd", want: syscall.EACCES},
		{path: "up/passwd", want: syscall.EACCES},
		{path: "/bin/sh", want: fs.ErrNotExist}, // store-relative, not the host's
		{path: tmpPrefix + "x", want: fs.ErrNotExist},
		{path: "a\x00b", want: syscall.EINVAL},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			fi, err := s.Stat(t.Context(), tt.path)
			checkErr(t, fmt.Sprintf("Stat(%q)", tt.path), err, tt.want)
			if tt.want != nil {
				continue
			}
			if fi.Name != tt.name || fi.Mode.Type() != tt.typ || fi.Mode.Perm() != tt.perm || fi.Size != tt.size {
				t.Errorf("Stat(%q) = %q %v size %d; want %q %v size %d",
					tt.path, fi.Name, fi.Mode, fi.Size, tt.name, tt.typ|tt.perm, tt.size)
			}
			if tt.checkOwn {
				hfi, err := os.Lstat(filepath.Join(root, tt.path))
				if err != nil {
					t.Fatal(err)
				}
				if fi.UID != uint32(os.Getuid()) || fi.GID != uint32(os.Getgid()) {
					t.Errorf("Stat(%q) owner %d:%d, want %d:%d", tt.path, fi.UID, fi.GID, os.Getuid(), os.Getgid())
				}
				if !fi.ModTime.Equal(hfi.ModTime()) {
					t.Errorf("Stat(%q) mtime %v, want %v", tt.path, fi.ModTime, hfi.ModTime())
				}
				if want := fmt.Sprintf("mt:%d:%d", hfi.ModTime().UnixNano(), hfi.Size()); fi.Fingerprint() != want {
					t.Errorf("Fingerprint %q, want %q", fi.Fingerprint(), want)
				}
			}
		}
	})
}

func TestStatModeBits(t *testing.T) {
	tests := []struct {
		name string
		mode fs.FileMode
	}{
		{"plain", 0o640},
		{"setuid", 0o755 | fs.ModeSetuid},
		{"setgid", 0o750 | fs.ModeSetgid},
		{"sticky", 0o777 | fs.ModeSticky},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			if err := os.WriteFile(filepath.Join(root, tt.name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := s.Chmod(t.Context(), tt.name, tt.mode); err != nil {
				t.Fatalf("Chmod(%q, %v): %v", tt.name, tt.mode, err)
			}
			fi, err := s.Stat(t.Context(), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode != tt.mode {
				t.Errorf("%s: mode %v, want %v", tt.name, fi.Mode, tt.mode)
			}
		}
	})
}

func TestOpenRange(t *testing.T) {
	const content = "hello world" // file "f"
	tests := []struct {
		name    string
		path    string
		off, n  int64
		want    string
		wantErr error
	}{
		{name: "whole", path: "f", off: 0, n: -1, want: content},
		{name: "middle to end", path: "f", off: 6, n: -1, want: "world"},
		{name: "exact range", path: "f", off: 2, n: 3, want: "llo"},
		{name: "n larger than rest", path: "f", off: 6, n: 100, want: "world"},
		{name: "off at EOF", path: "f", off: 11, n: -1, want: ""},
		{name: "off beyond EOF", path: "f", off: 1000, n: 10, want: ""},
		{name: "zero length", path: "f", off: 3, n: 0, want: ""},
		{name: "huge n does not overflow", path: "f", off: 5, n: 1<<63 - 1, want: " world"},
		{name: "link inside", path: "lf", off: 0, n: 5, want: "hello"},
		{name: "relative link inside", path: "d/up", off: 0, n: -1, want: content},
		{name: "through dir link", path: "ld/g", off: 0, n: -1, want: "gg"},
		{name: "negative off", path: "f", off: -1, n: 1, wantErr: syscall.EINVAL},
		{name: "directory", path: "d", off: 0, n: -1, wantErr: syscall.EISDIR},
		{name: "missing", path: "nope", off: 0, n: -1, wantErr: fs.ErrNotExist},
		{name: "dotdot", path: "../f", off: 0, n: -1, wantErr: syscall.EINVAL},
		{name: "absolute link out", path: "passwd", off: 0, n: -1, wantErr: syscall.EACCES},
		{name: "dir link out", path: "etc/passwd", off: 0, n: -1, wantErr: syscall.EACCES},
		{name: "relative link out", path: "up/passwd", off: 0, n: -1, wantErr: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			r, err := s.OpenRange(t.Context(), tt.path, tt.off, tt.n)
			checkErr(t, tt.name, err, tt.wantErr)
			if err != nil {
				continue
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil {
				t.Fatalf("%s: read: %v", tt.name, err)
			}
			if string(got) != tt.want {
				t.Errorf("%s: read %q, want %q", tt.name, got, tt.want)
			}
		}
	})
}

func TestOpenRangeSeekAndReadAt(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		r, err := s.OpenRange(t.Context(), "f", 6, 3) // "wor"
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rs, ok := r.(io.ReadSeeker)
		if !ok {
			t.Fatalf("%T is not an io.ReadSeeker", r)
		}
		if pos, err := rs.Seek(1, io.SeekStart); err != nil || pos != 1 {
			t.Fatalf("Seek = %d, %v", pos, err)
		}
		got, _ := io.ReadAll(rs)
		if string(got) != "or" {
			t.Errorf("after Seek read %q, want %q", got, "or")
		}
		buf := make([]byte, 5)
		n, err := r.(io.ReaderAt).ReadAt(buf, 1)
		if n != 2 || err != io.EOF || string(buf[:n]) != "or" {
			t.Errorf("ReadAt = %d %q %v; want 2 \"or\" EOF", n, buf[:n], err)
		}
	})
}

func TestOpenRangeFIFO(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		_, err := s.OpenRange(t.Context(), "fifo", 0, -1)
		checkErr(t, "OpenRange(fifo)", err, syscall.EINVAL)
		fi, err := s.Stat(t.Context(), "fifo")
		if err != nil || fi.Mode.Type() != fs.ModeNamedPipe {
			t.Errorf("Stat(fifo) = %v, %v; want a named pipe", fi.Mode, err)
		}
	})
}

func TestReaderStopsWithContext(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx, cancel := context.WithCancel(t.Context())
		r, err := s.OpenRange(ctx, "f", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, 5)
		if _, err := r.Read(buf); err != nil {
			t.Fatalf("read before cancel: %v", err)
		}
		cancel()
		_, err = r.Read(buf)
		checkErr(t, "read after cancel", err, context.Canceled)
		if !errors.Is(err, syscall.EINTR) {
			t.Errorf("read after cancel: %v does not carry EINTR", err)
		}
	})
}

func TestList(t *testing.T) {
	type entry struct {
		name string
		typ  fs.FileMode
	}
	tests := []struct {
		dir  string
		want []entry
		err  error
	}{
		{dir: "", want: []entry{
			{"d", fs.ModeDir}, {"empty", fs.ModeDir}, {"etc", fs.ModeSymlink}, {"f", 0},
			{"ld", fs.ModeSymlink}, {"lf", fs.ModeSymlink}, {"passwd", fs.ModeSymlink}, {"up", fs.ModeSymlink},
		}},
		{dir: "d", want: []entry{{"g", 0}, {"up", fs.ModeSymlink}}},
		{dir: "/d/", want: []entry{{"g", 0}, {"up", fs.ModeSymlink}}},
		{dir: "ld", want: []entry{{"g", 0}, {"up", fs.ModeSymlink}}},
		{dir: "empty", want: nil},
		{dir: "missing", err: fs.ErrNotExist},
		{dir: "f", err: syscall.ENOTDIR},
		{dir: "..", err: syscall.EINVAL},
		{dir: "etc", err: syscall.EACCES},
		{dir: "up", err: syscall.EACCES},
	}
	eachMode(t, func(t *testing.T, s *Store, root string) {
		for _, tt := range tests {
			var got []entry
			err := s.List(t.Context(), tt.dir, func(fi ufs.FileInfo) error {
				got = append(got, entry{fi.Name, fi.Mode.Type()})
				return nil
			})
			checkErr(t, fmt.Sprintf("List(%q)", tt.dir), err, tt.err)
			sort.Slice(got, func(i, j int) bool { return got[i].name < got[j].name })
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("List(%q) = %v, want %v", tt.dir, got, tt.want)
			}
		}
	})
}

func TestListStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop here")
	eachMode(t, func(t *testing.T, s *Store, root string) {
		calls := 0
		err := s.List(t.Context(), "", func(ufs.FileInfo) error {
			calls++
			return stop
		})
		if err != stop || calls != 1 {
			t.Errorf("List returned %v after %d calls; want the callback's error after 1", err, calls)
		}
	})
}

func TestListLarge(t *testing.T) {
	const n = 5000
	eachMode(t, func(t *testing.T, s *Store, root string) {
		dir := filepath.Join(root, "big")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("e%05d", i)), []byte{byte(i)}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		seen := make(map[string]int, n)
		err := s.List(t.Context(), "big", func(fi ufs.FileInfo) error {
			seen[fi.Name]++
			if fi.Size != 1 {
				return fmt.Errorf("%s: size %d", fi.Name, fi.Size)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != n {
			t.Fatalf("listed %d distinct entries, want %d", len(seen), n)
		}
		for name, c := range seen {
			if c != 1 {
				t.Fatalf("%s listed %d times", name, c)
			}
		}
	})
}

func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dctx, dcancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer dcancel()
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ops := map[string]func(context.Context) error{
			"Stat":      func(c context.Context) error { _, err := s.Stat(c, "f"); return err },
			"OpenRange": func(c context.Context) error { _, err := s.OpenRange(c, "f", 0, -1); return err },
			"List":      func(c context.Context) error { return s.List(c, "", func(ufs.FileInfo) error { return nil }) },
			"Create":    func(c context.Context) error { _, err := s.Create(c, "new", ufs.CreateOptions{}); return err },
			"Delete":    func(c context.Context) error { return s.Delete(c, "f") },
			"Rename":    func(c context.Context) error { return s.Rename(c, "f", "g") },
			"Mkdir":     func(c context.Context) error { return s.Mkdir(c, "m", 0o755) },
			"Chmod":     func(c context.Context) error { return s.Chmod(c, "f", 0o600) },
			"Chown":     func(c context.Context) error { return s.Chown(c, "f", 0, 0) },
			"Chtimes":   func(c context.Context) error { return s.Chtimes(c, "f", time.Now()) },
			"Symlink":   func(c context.Context) error { return s.Symlink(c, "f", "l2") },
			"Readlink":  func(c context.Context) error { _, err := s.Readlink(c, "lf"); return err },
			"Truncate":  func(c context.Context) error { return s.Truncate(c, "f", 0) },
		}
		for name, op := range ops {
			checkErr(t, name+" cancelled", op(ctx), context.Canceled)
			err := op(dctx)
			checkErr(t, name+" past deadline", err, context.DeadlineExceeded)
			if !errors.Is(err, syscall.ETIMEDOUT) {
				t.Errorf("%s past deadline: %v does not carry ETIMEDOUT", name, err)
			}
		}
		if got := readHost(t, root, "f"); got != "hello world" {
			t.Errorf("file changed by cancelled operations: %q", got)
		}
	})
}

func TestClosedStore(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		_, err := s.Stat(t.Context(), "f")
		checkErr(t, "Stat after Close", err, syscall.EBADF)
		_, err = s.OpenRange(t.Context(), "f", 0, -1)
		checkErr(t, "OpenRange after Close", err, syscall.EBADF)
		err = s.List(t.Context(), "", func(ufs.FileInfo) error { return nil })
		checkErr(t, "List after Close", err, syscall.EBADF)
	})
}

package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
)

// putFile writes a whole file through the store.
func putFile(t *testing.T, u ufs.UFS, p string, data []byte) ufs.FileInfo {
	t.Helper()
	w, err := u.Create(t.Context(), p, ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatalf("Create %s: %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		t.Fatalf("Write %s: %v", p, err)
	}
	fi, err := w.Close(t.Context())
	if err != nil {
		t.Fatalf("Close %s: %v", p, err)
	}
	return fi
}

// readFile reads a whole file through the store.
func readFile(t *testing.T, u ufs.UFS, p string) []byte {
	t.Helper()
	r, err := u.OpenRange(t.Context(), p, 0, -1)
	if err != nil {
		t.Fatalf("OpenRange %s: %v", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errContains fails unless err's text has every one of parts.
func errContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// TestPageEntries checks how a listing page becomes directory entries:
// markers and unaddressable names hidden, a file shadowing the directory
// of the same name even across pages.
func TestPageEntries(t *testing.T) {
	s := New(newMem(), Config{FileMode: 0o644, DirMode: 0o755})
	obj := func(k string, size int64) Object { return Object{Key: k, Size: size} }
	type page struct {
		objs []Object
		dirs []string
	}
	tests := []struct {
		name  string
		pages []page
		want  []string // "name" for files, "name/" for directories
	}{
		{"marker hidden", []page{{objs: []Object{obj("p/", 0), obj("p/a", 1)}, dirs: []string{"p/d/"}}},
			[]string{"a", "d/"}},
		{"odd names hidden", []page{{objs: []Object{obj("p/.", 1), obj("p/..", 1)}, dirs: []string{"p//", "p/./", "p/ok/"}}},
			[]string{"ok/"}},
		{"file shadows directory", []page{{objs: []Object{obj("p/a", 1), obj("p/a-1", 1), obj("p/a.b", 1)}, dirs: []string{"p/a/", "p/b/"}}},
			[]string{"a", "a-1", "a.b", "b/"}},
		{"shadowing across pages", []page{
			{objs: []Object{obj("p/a", 1), obj("p/a-1", 1)}},
			{objs: []Object{obj("p/a.b", 1)}, dirs: []string{"p/a/"}},
		}, []string{"a", "a-1", "a.b"}},
		{"no shadow once passed", []page{
			{objs: []Object{obj("p/a", 1), obj("p/b", 1)}},
			{dirs: []string{"p/c/"}},
		}, []string{"a", "b", "c/"}},
		{"merged in key order", []page{{objs: []Object{obj("p/z", 1), obj("p/b", 1)}, dirs: []string{"p/m/", "p/a/"}}},
			[]string{"a/", "b", "m/", "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []string
			var got []string
			for _, pg := range tt.pages {
				for _, fi := range s.pageEntries("p/", pg.objs, pg.dirs, &files) {
					n := fi.Name
					if fi.IsDir() {
						n += "/"
						if fi.Mode != fs.ModeDir|0o755 {
							t.Errorf("directory %s has mode %v", fi.Name, fi.Mode)
						}
					} else if fi.Mode != 0o644 {
						t.Errorf("file %s has mode %v", fi.Name, fi.Mode)
					}
					got = append(got, n)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("entries %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLayout checks that the bucket is laid out as Alluxio lays it out:
// files are objects, directories are "dir/" markers or implied by keys
// under them, and the prefix is a plain key prefix.
func TestLayout(t *testing.T) {
	m := newMem()
	m.put("mnt/x/y/z", []byte("zzz"))
	m.put("mnt/top", []byte("t"))
	m.put("elsewhere", []byte("not under the mount"))
	u := open(t, m, Config{Prefix: "mnt/"})
	ctx := t.Context()

	for _, p := range []string{"x", "x/y"} {
		fi, err := u.Stat(ctx, p)
		if err != nil || !fi.IsDir() {
			t.Errorf("Stat(%s) = %+v, %v; want an implied directory", p, fi, err)
		}
	}
	var names []string
	must(t, u.List(ctx, "", func(fi ufs.FileInfo) error {
		names = append(names, fmt.Sprintf("%s:%v", fi.Name, fi.IsDir()))
		return nil
	}))
	if strings.Join(names, " ") != "top:false x:true" {
		t.Errorf("root lists %v, want [top:false x:true]", names)
	}
	if err := u.Delete(ctx, "x"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("Delete of an implied non-empty directory: %v, want ENOTEMPTY", err)
	}

	must(t, u.Mkdir(ctx, "newdir", 0o755))
	putFile(t, u, "newdir/f", []byte("hello"))
	if got, want := m.keys(), []string{"elsewhere", "mnt/newdir/", "mnt/newdir/f", "mnt/top", "mnt/x/y/z"}; !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	fi, err := u.Stat(ctx, "newdir/f")
	must(t, err)
	h, err := m.HeadObject(ctx, "mnt/newdir/f")
	must(t, err)
	if fi.ETag == "" || fi.ETag != h.ETag || !fi.ModTime.Equal(h.ModTime) {
		t.Errorf("Stat = %+v, the object is %+v", fi, h)
	}
	if _, err := u.Stat(ctx, "elsewhere"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key outside the mount is visible: %v", err)
	}
	// An implied directory stays implied: its last key gone, it is gone.
	must(t, u.Delete(ctx, "x/y/z"))
	if _, err := u.Stat(ctx, "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a directory implied by nothing: %v", err)
	}

	must(t, u.Copy(ctx, "newdir/f", "copied"))
	if got := readFile(t, u, "copied"); string(got) != "hello" {
		t.Errorf("copied = %q", got)
	}
	if err := u.Copy(ctx, "newdir", "d2"); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Copy of a directory: %v, want EISDIR", err)
	}
	if err := u.Copy(ctx, "nope", "d2"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Copy of a missing file: %v, want ENOENT", err)
	}
}

// TestRequests pins the requests of the common operations, so that none
// can grow back unnoticed: a missing path costs a HEAD and a one-key
// listing, a file one HEAD, an upload of a small file one PUT and the
// delete of a known file one DELETE; a failing HEAD ends Stat at once.
func TestRequests(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{})
	ctx := t.Context()
	m.put("f", []byte("x"))
	m.put("implied/k", []byte("x"))
	m.requests()

	create := func(name string) func() error {
		return func() error {
			w, err := u.Create(ctx, name, ufs.CreateOptions{SizeHint: -1})
			if err != nil {
				return err
			}
			if _, err := w.Write([]byte("abc")); err != nil {
				return err
			}
			fi, err := w.Close(ctx)
			if err == nil && (fi.Size != 3 || fi.ETag == "") {
				err = fmt.Errorf("closed as %+v, want 3 bytes and the ETag PUT answered", fi)
			}
			return err
		}
	}
	statDir := func(name string) func() error {
		return func() error {
			fi, err := u.Stat(ctx, name)
			if err == nil && !fi.IsDir() {
				err = fmt.Errorf("Stat(%q) = %+v, want a directory", name, fi)
			}
			return err
		}
	}
	tests := []struct {
		name    string
		op      func() error
		want    []string
		wantErr error // nil: success
	}{
		{"stat file", func() error { _, err := u.Stat(ctx, "f"); return err }, []string{"HEAD f"}, nil},
		{"stat missing", func() error { _, err := u.Stat(ctx, "g"); return err }, []string{"HEAD g", "LIST g/"}, fs.ErrNotExist},
		{"stat root", func() error { _, err := u.Stat(ctx, ""); return err }, []string{"LIST "}, nil},
		{"stat implied dir", statDir("implied"), []string{"HEAD implied", "LIST implied/"}, nil},
		{"mkdir", func() error { return u.Mkdir(ctx, "d", 0o755) }, []string{"HEAD d", "LIST d/", "PUT d/"}, nil},
		{"stat dir with a marker", func() error {
			fi, err := u.Stat(ctx, "d")
			if err != nil {
				return err
			}
			if mk := m.objs["d/"]; !fi.IsDir() || !fi.ModTime.Equal(mk.mtime) {
				return fmt.Errorf("Stat(d) = %+v, want a directory with its marker's time %v", fi, mk.mtime)
			}
			return nil
		}, []string{"HEAD d", "LIST d/"}, nil},
		{"mkdir in a directory", func() error { return u.Mkdir(ctx, "d/e", 0o755) }, []string{"HEAD d/e", "LIST d/e/", "LIST d/", "PUT d/e/"}, nil},
		{"mkdir, parent missing", func() error { return u.Mkdir(ctx, "nope/e", 0o755) }, []string{"HEAD nope/e", "LIST nope/e/", "LIST nope/", "HEAD nope"}, fs.ErrNotExist},
		{"mkdir, parent a file", func() error { return u.Mkdir(ctx, "f/e", 0o755) }, []string{"HEAD f/e", "LIST f/e/", "LIST f/", "HEAD f"}, syscall.ENOTDIR},
		{"mkdir, exists", func() error { return u.Mkdir(ctx, "d", 0o755) }, []string{"HEAD d", "LIST d/"}, fs.ErrExist},
		{"delete dir", func() error { return u.Delete(ctx, "d/e") }, []string{"HEAD d/e", "LIST d/e/", "DELETE d/e/"}, nil},
		{"delete file", func() error { return u.Delete(ctx, "f") }, []string{"HEAD f", "DELETE f"}, nil},
		{"create small", create("n"), []string{"PUT n"}, nil},
		{"create small in a directory", create("d/n"), []string{"PUT d/n"}, nil},
		{"rename file", func() error { return u.Rename(ctx, "d/n", "d/n2") }, []string{"HEAD d/n", "HEAD d/n2", "LIST d/n2/", "MOVE d/n"}, nil},
		{"delete known file", func() error { return ufs.FileDeleter(u).DeleteFile(ctx, "d/n2") }, []string{"DELETE d/n2"}, nil},
		{"delete known file, missing", func() error { return ufs.FileDeleter(u).DeleteFile(ctx, "d/n2") }, []string{"DELETE d/n2"}, nil},
	}
	for _, tt := range tests {
		err := tt.op()
		switch {
		case tt.wantErr == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("%s: %v, want %v", tt.name, err, tt.wantErr)
		}
		if got := m.requests(); !slices.Equal(got, tt.want) {
			t.Errorf("%s sent %q, want %q", tt.name, got, tt.want)
		}
	}

	m.setFail(func(op, key string) error { return fmt.Errorf("HTTP 500: %w", syscall.EIO) })
	_, err := u.Stat(ctx, "some/key")
	errContains(t, err, "stat mem://bkt/some/key", "HTTP 500")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("Stat against a failing store: %v, want EIO", err)
	}
	if got := m.requests(); len(got) != 1 {
		t.Errorf("Stat against a failing store sent %q, want one HEAD", got)
	}
}

// TestRenameDir moves a tree of more than one listing page with each
// way the store offers: server-side moves, copies with a batch delete,
// and copies with single deletes. Markers are written anew, not copied.
func TestRenameDir(t *testing.T) {
	tests := []struct {
		name   string
		client func(m *mem) Client
		want   map[string]int // requests per operation
	}{
		{"move", func(m *mem) Client { return m }, map[string]int{"MOVE": 9, "COPY": 0, "PUT": 0, "DELETES": 0, "DELETE": 0}},
		{"copy and batch delete", func(m *mem) Client {
			return struct {
				Client
				BatchDeleter
			}{m, m}
		}, map[string]int{"MOVE": 0, "COPY": 7, "PUT": 2, "DELETES": 3, "DELETE": 0}},
		{"copy and delete", func(m *mem) Client { return basic{m} }, map[string]int{"MOVE": 0, "COPY": 7, "PUT": 2, "DELETES": 0, "DELETE": 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			u := open(t, tt.client(m), Config{ListPage: 4})
			ctx := t.Context()
			must(t, u.Mkdir(ctx, "src", 0o755))
			must(t, u.Mkdir(ctx, "src/sub", 0o755))
			for i := range 7 {
				putFile(t, u, fmt.Sprintf("src/sub/f%d", i), []byte{byte(i)})
			}
			m.put("srcx", []byte("a neighbour"))
			m.requests()
			must(t, u.Rename(ctx, "src", "dst"))
			reqs := m.requests()
			for op, n := range tt.want {
				if got := count(reqs, op); got != n {
					t.Errorf("%d %s requests, want %d: %q", got, op, n, reqs)
				}
			}
			want := []string{"dst/", "dst/sub/"}
			for i := range 7 {
				want = append(want, fmt.Sprintf("dst/sub/f%d", i))
			}
			want = append(want, "srcx")
			if got := m.keys(); !slices.Equal(got, want) {
				t.Errorf("keys after the rename %q, want %q", got, want)
			}
		})
	}
}

// TestRenameFailure: a rename that fails part way reports the key that
// failed, and every object is whole in one of the two trees.
func TestRenameFailure(t *testing.T) {
	m := newMem()
	u := open(t, basic{m}, Config{ListPage: 2, Parallel: 1})
	ctx := t.Context()
	for i := range 5 {
		putFile(t, u, fmt.Sprintf("d/f%d", i), []byte{byte(i)})
	}
	m.setFail(func(op, key string) error {
		if op == "COPY" && key == "d/f3" {
			return fmt.Errorf("HTTP 503: %w", syscall.EIO)
		}
		return nil
	})
	err := u.Rename(ctx, "d", "e")
	errContains(t, err, "rename mem://bkt/d/f3", "HTTP 503")
	for i := range 5 {
		a, b := fmt.Sprintf("d/f%d", i), fmt.Sprintf("e/f%d", i)
		_, errA := u.Stat(ctx, a)
		_, errB := u.Stat(ctx, b)
		if errA != nil && errB != nil {
			t.Errorf("f%d is in neither tree: %v; %v", i, errA, errB)
		}
	}
}

// TestKeyError: an error a client reports about another key is reported
// on that key.
func TestKeyError(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{ListPage: 10})
	ctx := t.Context()
	putFile(t, u, "d/a", []byte("a"))
	putFile(t, u, "d/b", []byte("b"))
	u.client = struct {
		Client
		BatchDeleter
	}{m, batchFailing{}}
	err := u.Rename(ctx, "d", "e")
	errContains(t, err, "rename mem://bkt/d/b: delete failed: AccessDenied")
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v, want EACCES", err)
	}
	var ke *KeyError
	if errors.As(err, &ke) {
		t.Errorf("the KeyError %v is left in the error", ke)
	}
	// No key could be deleted: the directory is whole where it was.
	if got := m.keys(); !slices.Contains(got, "d/a") || !slices.Contains(got, "d/b") {
		t.Errorf("after the refused rename the store holds %q, want d/a and d/b still", got)
	}
}

// batchFailing fails the delete of the last key of a batch.
type batchFailing struct{}

func (batchFailing) DeleteObjects(_ context.Context, keys []string) error {
	return &KeyError{Key: keys[len(keys)-1], Err: fmt.Errorf("delete failed: AccessDenied: %w", syscall.EACCES)}
}

// TestErrors checks the errors of broken rules and of a closed store.
func TestErrors(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{Prefix: "p/", MaxKeyLen: 12})
	ctx := t.Context()
	putFile(t, u, "f", []byte("x"))
	tests := []struct {
		name string
		err  error
		want error
		path string
	}{
		{"long name", u.Mkdir(ctx, "0123456789", 0o755), syscall.ENAMETOOLONG, "mem://bkt/p/0123456789"},
		{"longer name", func() error { _, err := u.Stat(ctx, "0123456789a"); return err }(), syscall.ENAMETOOLONG, "mem://bkt/p/0123456789a"},
		{"delete root", u.Delete(ctx, ""), syscall.EBUSY, "mem://bkt"},
		{"rename root", u.Rename(ctx, "", "x"), syscall.EBUSY, "mem://bkt/p/ -> p/x"},
		{"rename into itself", func() error { u.Mkdir(ctx, "d", 0o755); return u.Rename(ctx, "d", "d/e") }(), syscall.EINVAL, "mem://bkt/p/d -> p/d/e"},
		{"mkdir under a file", u.Mkdir(ctx, "f/g", 0o755), syscall.ENOTDIR, "mem://bkt/p/f"},
		{"above the root", u.Delete(ctx, "../x"), syscall.EINVAL, "mem://bkt/p/../x"},
		{"create root", func() error { _, err := u.Create(ctx, "/", ufs.CreateOptions{}); return err }(), syscall.EISDIR, "mem://bkt"},
		{"closed", func() error { u.Close(); _, err := u.Stat(ctx, "f"); return err }(), syscall.EBADF, "mem://bkt/p/f"},
	}
	// A file's key may be as long as the store allows: only a
	// directory's marker has the one byte more.
	u2 := open(t, m, Config{Prefix: "p/", MaxKeyLen: 12})
	putFile(t, u2, "0123456789", []byte("longest"))
	if fi, err := u2.Stat(ctx, "0123456789"); err != nil || fi.Size != 7 {
		t.Errorf("stat of a file whose key is as long as allowed: %+v, %v", fi, err)
	}
	for _, tt := range tests {
		var pe *fs.PathError
		if !errors.Is(tt.err, tt.want) || !errors.As(tt.err, &pe) || pe.Path != tt.path {
			t.Errorf("%s: %v, want %v on %s", tt.name, tt.err, tt.want, tt.path)
		}
	}
}

// onlyClient hides a client's optional interfaces.
type onlyClient struct{ Client }

// TestDeleteFiles checks the batch removal of files (ufs.BatchFileDeleter):
// ListPage keys a multi-object request, missing keys are not an error,
// the store root is refused, and a client without batches deletes one by
// one and says it cannot batch.
func TestDeleteFiles(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := New(m, Config{Prefix: "pre/", ListPage: 2})
	for _, k := range []string{"pre/a", "pre/d/b", "pre/c", "pre/keep"} {
		m.put(k, []byte(k))
	}
	if !s.BatchDeletes() {
		t.Fatal("a store over a batch-deleting client says it cannot batch")
	}
	m.requests()
	if err := s.DeleteFiles(ctx, []string{"a", "d/b", "c", "missing"}); err != nil {
		t.Fatal(err)
	}
	reqs := m.requests()
	if got := count(reqs, "DELETES"); got != 2 || len(reqs) != 2 {
		t.Fatalf("4 files, 2 a request: requests %v, want 2 multi-object DELETEs", reqs)
	}
	for _, k := range []string{"pre/a", "pre/d/b", "pre/c"} {
		if _, ok := m.objs[k]; ok {
			t.Errorf("%s is still there", k)
		}
	}
	if _, ok := m.objs["pre/keep"]; !ok {
		t.Error("pre/keep was deleted")
	}
	if err := s.DeleteFiles(ctx, []string{"keep", ""}); err == nil || !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("delete of the store root as a file: %v, want EISDIR", err)
	}
	if _, ok := m.objs["pre/keep"]; !ok {
		t.Error("a refused batch deleted pre/keep")
	}

	m.setFail(func(op, key string) error {
		if op == "DELETES" {
			return syscall.EIO
		}
		return nil
	})
	if err := s.DeleteFiles(ctx, []string{"keep"}); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "pre/keep") {
		t.Fatalf("a failed batch: %v, want EIO naming the key", err)
	}
	m.setFail(nil)

	plain := New(onlyClient{m}, Config{Prefix: "pre/"})
	if plain.BatchDeletes() {
		t.Fatal("a store over a client without batches says it can batch")
	}
	m.requests()
	if err := plain.DeleteFiles(ctx, []string{"keep"}); err != nil {
		t.Fatal(err)
	}
	if reqs := m.requests(); count(reqs, "DELETE") != 1 || len(reqs) != 1 {
		t.Fatalf("requests %v, want one DELETE", reqs)
	}
}

// copyDeleter is a client that renames by copying and deletes in batches
// (as S3).
type copyDeleter struct {
	Client
	BatchDeleter
}

// TestRenameKeepsNewVersion: a big file renamed by copying whose source
// gets a new version while it is copied (a commit from another node)
// keeps that version at the source, where the delete would lose it; a
// file left alone is moved as before.
func TestRenameKeepsNewVersion(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := New(copyDeleter{m, m}, Config{Prefix: "pre/", ListPage: 3, Parallel: 2})
	old := bytes.Repeat([]byte("o"), checkedMove)
	m.put("pre/a", old)
	copied, landed := false, false
	m.setFail(func(op, key string) error {
		switch {
		case op == "COPY":
			copied = true
		case copied && !landed:
			// Called with m.mu held: store directly.
			landed = true
			m.store("pre/a", []byte("the new version"))
		}
		return nil
	})
	if err := s.Rename(ctx, "a", "b"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	m.setFail(nil)
	m.mu.Lock()
	src, dst := string(m.objs["pre/a"].data), m.objs["pre/b"].data
	m.mu.Unlock()
	if src != "the new version" || !bytes.Equal(dst, old) {
		t.Fatalf("after the rename the source holds %q and the target %d bytes; want the new version kept and the old moved", src, len(dst))
	}

	m.put("pre/c", old)
	if err := s.Rename(ctx, "c", "d"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if got := m.keys(); slices.Contains(got, "pre/c") || !slices.Contains(got, "pre/d") {
		t.Fatalf("after a rename of a file left alone the store holds %q", got)
	}
}

// TestRenameDirKeepsNewWrites: a directory rename by copying deletes under
// the old prefix only the objects it copied, as it copied them: one
// written there after its copy (a commit that was under way when the
// rename began) stays for the master to move, instead of being lost.
func TestRenameDirKeepsNewWrites(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := New(copyDeleter{m, m}, Config{Prefix: "pre/", ListPage: 3, Parallel: 2})
	for _, k := range []string{"pre/d/a", "pre/d/b", "pre/d/c", "pre/d/e/f"} {
		m.put(k, []byte("old "+k))
	}
	m.put("pre/d/", nil)
	m.put("pre/d/e/", nil)
	copies, landed := 0, false
	m.setFail(func(op, key string) error {
		if op == "COPY" {
			copies++
		}
		if op == "LIST" && copies == 4 && !landed {
			// Every copy is made, and the delete phase lists the
			// old keys. Called with m.mu held: store directly.
			landed = true
			m.store("pre/d/b", []byte("new b"))
			m.store("pre/d/e/z", []byte("new z"))
		}
		return nil
	})
	if err := s.Rename(ctx, "d", "n"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	m.setFail(nil)
	want := []string{"pre/d/b", "pre/d/e/z", "pre/n/", "pre/n/a", "pre/n/b", "pre/n/c", "pre/n/e/", "pre/n/e/f"}
	if got := m.keys(); !slices.Equal(got, want) {
		t.Fatalf("after the rename the store holds %q, want %q", got, want)
	}
	for k, body := range map[string]string{"pre/d/b": "new b", "pre/d/e/z": "new z", "pre/n/b": "old pre/d/b"} {
		m.mu.Lock()
		got := string(m.objs[k].data)
		m.mu.Unlock()
		if got != body {
			t.Errorf("%s holds %q, want %q", k, got, body)
		}
	}
}

// TestRenameDirDeleteFails: a directory rename whose copies are all made
// succeeds although deleting the old keys fails: the directory is whole
// at its new place, and the keys left under the old prefix are spares
// (the master moves the directory in its namespace, where reporting the
// rename failed would leave it at a place the store has only partly).
func TestRenameDirDeleteFails(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := New(copyDeleter{m, m}, Config{Prefix: "pre/", ListPage: 3, Parallel: 2})
	for _, k := range []string{"pre/d/", "pre/d/a", "pre/d/b", "pre/d/c", "pre/d/g", "pre/d/h"} {
		m.put(k, []byte(k))
	}
	deletes := 0
	m.setFail(func(op, key string) error {
		if op == "DELETES" || op == "DELETE" {
			if deletes++; deletes == 2 {
				return errInjected
			}
		}
		return nil
	})
	if err := s.Rename(ctx, "d", "n"); err != nil {
		t.Fatalf("rename whose second delete fails: %v", err)
	}
	m.setFail(nil)
	var moved []string
	for _, k := range m.keys() {
		if strings.HasPrefix(k, "pre/n/") {
			moved = append(moved, k)
		}
	}
	if want := []string{"pre/n/", "pre/n/a", "pre/n/b", "pre/n/c", "pre/n/g", "pre/n/h"}; !slices.Equal(moved, want) {
		t.Fatalf("the new place holds %q, want %q", moved, want)
	}
}

// TestRenameDirCopyFails: a directory rename by copying that fails while
// copying leaves the directory whole where it was, its copies taken back
// (so the rename can be made again), and one that succeeds leaves nothing
// under the old prefix.
func TestRenameDirCopyFails(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	s := New(copyDeleter{m, m}, Config{Prefix: "pre/", ListPage: 3, Parallel: 2})
	keys := []string{"pre/d/", "pre/d/a", "pre/d/b", "pre/d/c", "pre/d/e/", "pre/d/e/f", "pre/d/g", "pre/d/h"}
	for _, k := range keys {
		m.put(k, []byte(k))
	}
	copies := 0
	m.mu.Lock()
	m.fail = func(op, key string) error {
		if op == "COPY" {
			if copies++; copies == 5 {
				return errInjected
			}
		}
		return nil
	}
	m.mu.Unlock()
	if err := s.Rename(ctx, "d", "n"); !errors.Is(err, errInjected) {
		t.Fatalf("rename with the fifth copy failing: %v", err)
	}
	m.mu.Lock()
	m.fail = nil
	var left []string
	for k := range m.objs {
		left = append(left, k)
	}
	m.mu.Unlock()
	slices.Sort(left)
	if !slices.Equal(left, keys) {
		t.Fatalf("after a rename whose copying failed the store holds %q, want the directory as it was: %q", left, keys)
	}
	if err := s.Rename(ctx, "d", "n"); err != nil {
		t.Fatalf("the rename made again: %v", err)
	}
	m.mu.Lock()
	left = left[:0]
	for k := range m.objs {
		left = append(left, k)
	}
	m.mu.Unlock()
	slices.Sort(left)
	var want []string
	for _, k := range keys {
		want = append(want, "pre/n/"+strings.TrimPrefix(k, "pre/d/"))
	}
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Fatalf("after the rename the store holds %q, want %q", left, want)
	}
}

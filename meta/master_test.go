package meta

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestErrors runs every invalid request against one prepared tree and
// checks the errno and that nothing changed.
func TestErrors(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/empty")
	e.mkdir(t, "/full/sub")
	e.writeFile(t, "/full/f", "data")
	e.writeFile(t, "/file", "x")
	roDir := t.TempDir()
	if err := os.WriteFile(roDir+"/f", []byte("ro"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Mount(ctx, "/ro", roDir, MountOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	otherDir := t.TempDir()
	if err := e.m.Mount(ctx, "/other", otherDir, MountOptions{}); err != nil {
		t.Fatal(err)
	}
	size5, mode := int64(5), uint32(0o600)

	m := e.m
	cases := []struct {
		name string
		do   func() error
		want error
	}{
		{"create relative path", func() error { _, err := m.CreateFile(ctx, "a/b", CreateOptions{}); return err }, syscall.EINVAL},
		{"create with dot-dot", func() error { _, err := m.CreateFile(ctx, "/a/../b", CreateOptions{}); return err }, syscall.EINVAL},
		{"create over existing file", func() error { _, err := m.CreateFile(ctx, "/file", CreateOptions{}); return err }, syscall.EEXIST},
		{"create exclusive beats overwrite", func() error {
			_, err := m.CreateFile(ctx, "/file", CreateOptions{Overwrite: true, Exclusive: true})
			return err
		}, syscall.EEXIST},
		{"create over directory", func() error { _, err := m.CreateFile(ctx, "/empty", CreateOptions{Overwrite: true}); return err }, syscall.EISDIR},
		{"create with missing parent", func() error { _, err := m.CreateFile(ctx, "/nope/f", CreateOptions{}); return err }, syscall.ENOENT},
		{"create under a file", func() error { _, err := m.CreateFile(ctx, "/file/f", CreateOptions{}); return err }, syscall.ENOTDIR},
		{"create in read-only mount", func() error { _, err := m.CreateFile(ctx, "/ro/f", CreateOptions{}); return err }, syscall.EROFS},
		{"name too long", func() error {
			_, err := m.CreateFile(ctx, "/"+strings.Repeat("n", 256), CreateOptions{})
			return err
		}, syscall.ENAMETOOLONG},
		{"mkdir existing", func() error { _, err := m.CreateDirectory(ctx, "/empty", MkdirOptions{}); return err }, syscall.EEXIST},
		{"mkdir over file with AllowExists", func() error {
			_, err := m.CreateDirectory(ctx, "/file", MkdirOptions{AllowExists: true})
			return err
		}, syscall.EEXIST},
		{"mkdir missing parent", func() error { _, err := m.CreateDirectory(ctx, "/a/b/c", MkdirOptions{}); return err }, syscall.ENOENT},
		{"mkdir under file", func() error {
			_, err := m.CreateDirectory(ctx, "/file/d", MkdirOptions{Recursive: true})
			return err
		}, syscall.ENOTDIR},
		{"mkdir in read-only mount", func() error { _, err := m.CreateDirectory(ctx, "/ro/d", MkdirOptions{}); return err }, syscall.EROFS},
		{"delete missing", func() error { return m.Delete(ctx, "/nope", false) }, syscall.ENOENT},
		{"delete non-empty", func() error { return m.Delete(ctx, "/full", false) }, syscall.ENOTEMPTY},
		{"delete root", func() error { return m.Delete(ctx, "/", true) }, syscall.EBUSY},
		{"delete mount point", func() error { return m.Delete(ctx, "/other", true) }, syscall.EBUSY},
		{"delete in read-only mount", func() error { return m.Delete(ctx, "/ro/f", false) }, syscall.EROFS},
		{"rename in read-only mount", func() error { return m.Rename(ctx, "/ro/f", "/ro/g") }, syscall.EROFS},
		{"truncate in read-only mount", func() error { _, err := m.SetAttr(ctx, "/ro/f", SetAttrOptions{Size: new(int64)}); return err }, syscall.EROFS},
		{"rename missing", func() error { return m.Rename(ctx, "/nope", "/x") }, syscall.ENOENT},
		{"rename into own subtree", func() error { return m.Rename(ctx, "/full", "/full/sub/x") }, syscall.EINVAL},
		{"rename file over dir", func() error { return m.Rename(ctx, "/file", "/empty") }, syscall.EISDIR},
		{"rename dir over file", func() error { return m.Rename(ctx, "/empty", "/file") }, syscall.ENOTDIR},
		{"rename dir over non-empty dir", func() error { return m.Rename(ctx, "/empty", "/full") }, syscall.ENOTEMPTY},
		{"rename to missing parent", func() error { return m.Rename(ctx, "/file", "/nope/file") }, syscall.ENOENT},
		{"rename to under a file", func() error { return m.Rename(ctx, "/empty", "/file/x") }, syscall.ENOTDIR},
		{"rename across mounts", func() error { return m.Rename(ctx, "/file", "/other/file") }, syscall.EXDEV},
		{"rename mount point", func() error { return m.Rename(ctx, "/other", "/moved") }, syscall.EBUSY},
		{"rename root", func() error { return m.Rename(ctx, "/", "/x") }, syscall.EBUSY},
		{"setattr missing", func() error { _, err := m.SetAttr(ctx, "/nope", SetAttrOptions{Mode: &mode}); return err }, syscall.ENOENT},
		{"setattr grow", func() error { _, err := m.SetAttr(ctx, "/file", SetAttrOptions{Size: &size5}); return err }, syscall.EOPNOTSUPP},
		{"truncate dir", func() error { _, err := m.SetAttr(ctx, "/empty", SetAttrOptions{Size: &size5}); return err }, syscall.EISDIR},
		{"setattr in read-only mount", func() error { _, err := m.SetAttr(ctx, "/ro", SetAttrOptions{Mode: &mode}); return err }, syscall.EROFS},
		{"symlink over existing", func() error { _, err := m.CreateSymlink(ctx, "/file", "t", 0, 0); return err }, syscall.EEXIST},
		{"symlink empty target", func() error { _, err := m.CreateSymlink(ctx, "/ln", "", 0, 0); return err }, syscall.ENOENT},
		{"complete unknown id", func() error { _, err := m.CompleteFile(ctx, 9999, CompleteOptions{}); return err }, syscall.ENOENT},
		{"complete a directory", func() error {
			fi, _ := m.GetStatus(ctx, "/empty")
			_, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{})
			return err
		}, syscall.EISDIR},
		{"complete twice with another size", func() error {
			fi, _ := m.GetStatus(ctx, "/file")
			_, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 100})
			return err
		}, syscall.EINVAL},
		{"mark persisted unknown id", func() error { return m.MarkPersisted(ctx, 9999, nil, "") }, syscall.ENOENT},
		{"mount over existing", func() error { return m.Mount(ctx, "/empty", t.TempDir(), MountOptions{}) }, syscall.EEXIST},
		{"mount root", func() error { return m.Mount(ctx, "/", t.TempDir(), MountOptions{}) }, syscall.EEXIST},
		{"mount missing parent", func() error { return m.Mount(ctx, "/nope/m", t.TempDir(), MountOptions{}) }, syscall.ENOENT},
		{"mount missing store", func() error { return m.Mount(ctx, "/m", "/does/not/exist", MountOptions{}) }, syscall.ENOENT},
		{"mount a file", func() error {
			f := t.TempDir() + "/file"
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				return err
			}
			return m.Mount(ctx, "/m", f, MountOptions{})
		}, syscall.ENOTDIR},
		{"mount a directory of the root's store", func() error { return m.Mount(ctx, "/m", e.path("/empty"), MountOptions{}) }, syscall.EINVAL},
		{"unmount root", func() error { return m.Unmount(ctx, "/") }, syscall.EINVAL},
		{"unmount non-mount", func() error { return m.Unmount(ctx, "/empty") }, syscall.EINVAL},
		{"stat missing", func() error { _, err := m.GetStatus(ctx, "/nope"); return err }, syscall.ENOENT},
		{"stat below a file", func() error { _, err := m.GetStatus(ctx, "/file/x"); return err }, syscall.ENOTDIR},
		{"list missing", func() error { _, err := m.ListStatus(ctx, "/nope"); return err }, syscall.ENOENT},
	}
	if _, err := m.GetStatus(ctx, "/ro/f"); err != nil { // load it now: loading is not a change
		t.Fatal(err)
	}
	before := inodeCount(t, m)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if err == nil {
				t.Fatalf("no error, want %v", c.want)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if n := inodeCount(t, m); n != before {
				t.Fatalf("a failed request changed the namespace: %d inodes, had %d", n, before)
			}
		})
	}
}

// TestRoundTrip drives create, complete, stat, list, rename, setattr and
// delete through the master and checks the namespace and the under-store.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	m := e.m

	d := e.mkdir(t, "/a/b")
	if !d.IsDir || d.Mode != 0o755 || d.Path != "/a/b" || d.UfsPath != "a/b" || d.Nlink != 2 || !d.Persisted {
		t.Fatalf("mkdir info %+v", d)
	}
	if !exists(e.path("/a/b")) {
		t.Fatal("mkdir did not reach the under-store")
	}
	a, _ := m.GetStatus(ctx, "/a")
	if a.Nlink != 3 {
		t.Errorf("/a nlink %d, want 3", a.Nlink)
	}
	if _, err := m.CreateDirectory(ctx, "/a/b", MkdirOptions{AllowExists: true}); err != nil {
		t.Errorf("mkdir AllowExists: %v", err)
	}

	fi, err := m.CreateFile(ctx, "/a/b/f", CreateOptions{Mode: 0o640, UID: 7, GID: 8, Persisted: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi.Completed || fi.Persisted || fi.UID != 7 || fi.GID != 8 || fi.Mode != 0o640 || fi.ParentID != d.ID {
		t.Fatalf("created %+v", fi)
	}
	got, err := m.GetStatus(ctx, "/a/b/f")
	if err != nil || got.ID != fi.ID || got.Completed {
		t.Fatalf("stat of incomplete file: %+v %v", got, err)
	}
	done, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 42, UfsFingerprint: ""})
	if err != nil {
		t.Fatal(err)
	}
	if !done.Completed || done.Size != 42 || done.Persisted || !strings.HasPrefix(done.Fingerprint, "w:") {
		t.Fatalf("completed %+v", done)
	}
	if again, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 42}); err != nil || again.Fingerprint != done.Fingerprint {
		t.Errorf("retried completion: %+v %v", again, err)
	}
	if err := m.MarkPersisted(ctx, fi.ID, uploaded(done), "mt:1:42"); err != nil {
		t.Fatal(err)
	}
	got, _ = m.GetStatus(ctx, "/a/b/f")
	if !got.Persisted || got.UfsFingerprint != "mt:1:42" || got.Fingerprint != done.Fingerprint {
		t.Errorf("after MarkPersisted %+v", got)
	}

	// Overwrite keeps the inode (as O_TRUNC does) but none of the bytes:
	// a new version, empty and incomplete.
	ow, err := m.CreateFile(ctx, "/a/b/f", CreateOptions{Overwrite: true, Persisted: true})
	if err != nil {
		t.Fatal(err)
	}
	if ow.ID != fi.ID || ow.Size != 0 || ow.Completed || !ow.Persisted || ow.Fingerprint == done.Fingerprint {
		t.Errorf("overwrite %+v", ow)
	}
	if again, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 1}); err != nil || again.Size != 1 || again.Fingerprint != ow.Fingerprint {
		t.Errorf("completing the overwritten file: %+v %v", again, err)
	}

	w := e.writeFile(t, "/a/b/g", "hello")
	if w.Size != 5 || !w.Persisted || w.UfsPath != "a/b/g" {
		t.Fatalf("written %+v", w)
	}
	if got := names(t, m, "/a/b"); !slices.Equal(got, []string{"f", "g"}) {
		t.Errorf("list /a/b = %v", got)
	}
	if l, err := m.ListStatus(ctx, "/a/b/g"); err != nil || len(l) != 1 || l[0].ID != w.ID {
		t.Errorf("list of a file: %+v %v", l, err)
	}

	// Rename replaces a file, in the namespace and the under-store.
	e.writeFile(t, "/a/h", "old")
	if err := m.Rename(ctx, "/a/b/g", "/a/h"); err != nil {
		t.Fatal(err)
	}
	h, err := m.GetStatus(ctx, "/a/h")
	if err != nil || h.ID != w.ID || h.Name != "h" {
		t.Fatalf("renamed %+v %v", h, err)
	}
	if b, _ := os.ReadFile(e.path("/a/h")); string(b) != "hello" || exists(e.path("/a/b/g")) {
		t.Errorf("under-store after rename: %q, source left: %v", b, exists(e.path("/a/b/g")))
	}
	if err := m.Rename(ctx, "/a/h", "/a/h"); err != nil {
		t.Errorf("rename onto itself: %v", err)
	}

	// A directory replaces an empty directory.
	e.mkdir(t, "/empty")
	if err := m.Rename(ctx, "/a/b", "/empty"); err != nil {
		t.Fatal(err)
	}
	if got := names(t, m, "/empty"); !slices.Equal(got, []string{"f"}) {
		t.Errorf("list /empty = %v", got)
	}
	if !exists(e.path("/empty")) || exists(e.path("/a/b")) {
		t.Error("directory rename did not reach the under-store")
	}
	if a, _ := m.GetStatus(ctx, "/a"); a.Nlink != 2 {
		t.Errorf("/a nlink %d after moving its subdirectory away, want 2", a.Nlink)
	}

	// SetAttr: mode, owner, times and truncation reach the under-store.
	mode, uid, gid := uint32(0o600), uint32(1234), uint32(5678)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	sa, err := m.SetAttr(ctx, "/a/h", SetAttrOptions{Mode: &mode, UID: &uid, GID: &gid, Mtime: &mt})
	if err != nil {
		t.Fatal(err)
	}
	if sa.Mode != 0o600 || sa.UID != 1234 || sa.GID != 5678 || sa.Mtime != mt {
		t.Errorf("setattr %+v", sa)
	}
	st, _ := os.Stat(e.path("/a/h"))
	if st.Mode().Perm() != 0o600 || st.ModTime().UnixNano() != mt {
		t.Errorf("under-store mode %v mtime %v", st.Mode(), st.ModTime())
	}
	zero, five := int64(0), int64(5)
	same, err := m.SetAttr(ctx, "/a/h", SetAttrOptions{Size: &five})
	if err != nil || same.Fingerprint != sa.Fingerprint {
		t.Errorf("setattr to the current size should change nothing: %+v %v", same, err)
	}
	tr, err := m.SetAttr(ctx, "/a/h", SetAttrOptions{Size: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Size != 0 || tr.Fingerprint == sa.Fingerprint {
		t.Errorf("truncate %+v", tr)
	}
	if st, _ := os.Stat(e.path("/a/h")); st.Size() != 0 {
		t.Errorf("under-store size %d after truncate", st.Size())
	}

	// Symlinks: in the under-store where it can hold them.
	ln, err := m.CreateSymlink(ctx, "/a/ln", "h", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !ln.IsSymlink || ln.Symlink != "h" || ln.IsDir || !ln.Persisted || ln.Size != 1 {
		t.Errorf("symlink %+v", ln)
	}
	if target, _ := os.Readlink(e.path("/a/ln")); target != "h" {
		t.Errorf("under-store link target %q", target)
	}

	// Delete: a file, then a tree.
	if err := m.Delete(ctx, "/a/ln", false); err != nil {
		t.Fatal(err)
	}
	if exists(e.path("/a/ln")) {
		t.Error("deleted link left in the under-store")
	}
	if err := m.Delete(ctx, "/a", true); err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetStatus(ctx, "/a"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat after delete: %v", err)
	}
	if exists(e.path("/a")) {
		t.Error("recursive delete left the under-store tree")
	}
}

// TestSymlinkMetadataOnly checks a store without symlinks keeps the link
// in the metastore only.
func TestSymlinkMetadataOnly(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	if err := e.m.Mount(ctx, "/plain", t.TempDir(), MountOptions{Options: map[string]string{"plain": "true"}}); err != nil {
		t.Fatal(err)
	}
	ln, err := e.m.CreateSymlink(ctx, "/plain/ln", "target", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ln.Persisted {
		t.Errorf("link persisted in a store that cannot hold it: %+v", ln)
	}
	// A listing of the store must not drop the unpersisted link.
	if got := names(t, e.m, "/plain"); !slices.Equal(got, []string{"ln"}) {
		t.Errorf("list = %v", got)
	}
}

// TestMounts covers mount, resolve, listing through a mount and unmount.
func TestMounts(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	ext := t.TempDir()
	if err := os.WriteFile(ext+"/inside", []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mkdir(t, "/mnt")
	if err := e.m.Mount(ctx, "/mnt/ext", ext, MountOptions{Shared: true}); err != nil {
		t.Fatal(err)
	}
	ms := e.m.Mounts()
	if len(ms) != 2 || ms[0].AlluxioPath != "/" || ms[1].AlluxioPath != "/mnt/ext" || !ms[1].Shared {
		t.Fatalf("mounts %+v", ms)
	}
	mi, rel, err := e.m.Resolve("/mnt/ext/a/b")
	if err != nil || mi.ID != ms[1].ID || rel != "a/b" {
		t.Errorf("resolve = %+v %q %v", mi, rel, err)
	}
	if mi, rel, _ := e.m.Resolve("/mnt/extra"); mi.ID != ms[0].ID || rel != "mnt/extra" {
		t.Errorf("resolve of a sibling with a common prefix = %+v %q", mi, rel)
	}
	fi, err := e.m.GetStatus(ctx, "/mnt/ext/inside")
	if err != nil || fi.Size != 3 || fi.MountID != ms[1].ID || fi.UfsPath != "inside" {
		t.Fatalf("stat through mount %+v %v", fi, err)
	}
	// The root's listing of /mnt must keep the mount point.
	if got := names(t, e.m, "/mnt"); !slices.Equal(got, []string{"ext"}) {
		t.Errorf("list /mnt = %v", got)
	}
	if got, ok := e.m.MountByID(ms[1].ID); !ok || got.UfsURI != ext {
		t.Errorf("MountByID = %+v %v", got, ok)
	}
	if err := e.m.Unmount(ctx, "/mnt/ext"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.GetStatus(ctx, "/mnt/ext/inside"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("stat after unmount: %v", err)
	}
	if !exists(ext + "/inside") {
		t.Error("unmount touched the under-store")
	}
	if len(e.m.Mounts()) != 1 {
		t.Errorf("mounts after unmount %+v", e.m.Mounts())
	}
}

// TestCredentialsNeverShown checks that a failing mount's error and the
// logs do not carry secret option values or URI passwords.
func TestCredentialsNeverShown(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	const secret = "hunter2-very-secret"
	err := e.m.Mount(ctx, "/s3", "s3://AKID:"+secret+"@bucket/dir", MountOptions{
		Options: map[string]string{"fail": "1", "s3.secretKey": secret},
	})
	if err == nil {
		t.Fatal("mount with failing store succeeded")
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("errno lost: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error shows the secret: %v", err)
	}
	if !strings.Contains(err.Error(), "bucket") {
		t.Errorf("error does not name the URI: %v", err)
	}
	if strings.Contains(e.logs.String(), secret) {
		t.Error("logs show the secret")
	}
}

// TestNotLeader checks the error a follower returns, with a real two-node
// group on 127.0.0.1, and that the follower's state follows the leader's.
func TestNotLeader(t *testing.T) {
	ufsDir := t.TempDir()
	addrs := []string{freeAddr(t), freeAddr(t)}
	ids := []string{"m0", "m1"}
	masters := make([]*Master, 2)
	errs := make(chan error, 2)
	for i := range 2 {
		cfg := Config{
			JournalDir: t.TempDir(), NodeID: ids[i], RaftAddr: addrs[i],
			Peers: []string{ids[1-i] + "=" + addrs[1-i]}, RootUFS: ufsDir,
			SyncInterval: -1, OpenUFS: testOpenUFS,
			Logger: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)),
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			m, err := Open(ctx, cfg)
			masters[i] = m
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range masters {
		t.Cleanup(func() { m.Close() })
	}
	// Wait for a leader with the root mount in place.
	var leader, follower *Master
	deadline := time.Now().Add(20 * time.Second)
	for leader == nil && time.Now().Before(deadline) {
		for i, m := range masters {
			if m.IsLeader() {
				leader, follower = m, masters[1-i]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	ctx := context.Background()
	for len(leader.Mounts()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // made by the leader once elected
	}
	_, err := follower.GetStatus(ctx, "/")
	var nle *NotLeaderError
	if !errors.As(err, &nle) || !errors.Is(err, ErrNotLeader) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("follower stat: %v", err)
	}
	if nle.Leader != leader.cfg.RaftAddr {
		t.Errorf("follower names leader %q, want %q", nle.Leader, leader.cfg.RaftAddr)
	}
	if err := follower.Delete(ctx, "/x", false); !errors.Is(err, ErrNotLeader) {
		t.Errorf("follower delete: %v", err)
	}
	fi, err := leader.CreateDirectory(ctx, "/replicated", MkdirOptions{Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.node.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	// The follower applies shortly after the leader.
	for time.Now().Before(deadline) {
		var found bool
		follower.fsm.view(func(tx *txn) error {
			n, err := tx.lookup("stat", "/replicated")
			found = err == nil && n.ID == fi.ID
			return nil
		})
		if found {
			if s := follower.Stats(); s.State != "Follower" || s.Leader != leader.cfg.RaftAddr {
				t.Errorf("follower stats %+v", s)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("follower never applied the leader's command")
}

// NamespaceVersion moves once for each change a metadata cache holds
// (names, attributes), for requests in an envelope too, and not when a
// file only reached its under-store: an ASYNC_THROUGH file's persist would
// otherwise empty every FUSE daemon's cache after each file.
func TestNamespaceVersionCounts(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	req := func() context.Context { return WithRequestID(ctx, NewRequestID()) }
	_, v0 := e.m.NamespaceVersion()
	fi, err := e.m.CreateFile(req(), "/f", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.m.CompleteFile(req(), fi.ID, CompleteOptions{Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, v := e.m.NamespaceVersion(); v != v0+2 {
		t.Fatalf("a create and a complete moved the version by %d, want 2", v-v0)
	}
	if err := e.m.MarkPersisted(req(), fi.ID, uploaded(done), "fp:3"); err != nil {
		t.Fatal(err)
	}
	if _, v := e.m.NamespaceVersion(); v != v0+2 {
		t.Fatalf("marking the file persisted moved the version by %d", v-v0-2)
	}
	if got, err := e.m.GetStatus(ctx, "/f"); err != nil || !got.Persisted {
		t.Fatalf("after MarkPersisted: %+v, %v", got, err)
	}
	if _, err := e.m.CreateDirectory(req(), "/d", MkdirOptions{Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if _, v := e.m.NamespaceVersion(); v != v0+3 {
		t.Fatalf("a mkdir moved the version by %d, want 1", v-v0-2)
	}
}

// uploaded is what a worker uploading fi's version names.
func uploaded(fi FileInfo) *PersistedVersion {
	return &PersistedVersion{Version: fi.Fingerprint, MountID: fi.MountID, UfsPath: fi.UfsPath}
}

// TestMarkPersistedVersion: a worker that uploaded one version of a file
// (ASYNC_THROUGH) marks that version persisted, at the place it uploaded
// it to: never a newer version written while it uploaded (marking that
// one would leave it out of the under-store for good, its own persist then
// finding it persisted), nor the file moved meanwhile (its bytes went to
// the old name). Also in a group where a master applies no
// persistVersionCmd yet, where the leader checks before its command.
func TestMarkPersistedVersion(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, m *Master) {
		if _, err := m.CreateDirectory(ctx, "/d", MkdirOptions{Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
		fi, err := m.CreateFile(ctx, "/f", CreateOptions{Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		v1, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 1})
		if err != nil {
			t.Fatal(err)
		}
		// Rewritten while the worker uploads v1.
		if _, err := m.CreateFile(ctx, "/f", CreateOptions{Mode: 0o644, Overwrite: true}); err != nil {
			t.Fatal(err)
		}
		v2, err := m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 2})
		if err != nil {
			t.Fatal(err)
		}
		if v1.Fingerprint == v2.Fingerprint {
			t.Fatalf("the rewrite kept the version %s", v1.Fingerprint)
		}
		if err := m.MarkPersisted(ctx, fi.ID, uploaded(v1), "etag-v1"); !errors.Is(err, syscall.ESTALE) {
			t.Fatalf("marking the replaced version persisted: %v, want ESTALE", err)
		}
		if got, err := m.GetStatus(ctx, "/f"); err != nil || got.Persisted || got.Size != 2 {
			t.Fatalf("after the refused mark: %+v, %v; want v2, not persisted", got, err)
		}
		// Moved while the worker uploads v2.
		if err := m.Rename(ctx, "/f", "/d/g"); err != nil {
			t.Fatal(err)
		}
		if err := m.MarkPersisted(ctx, fi.ID, uploaded(v2), "etag-v2"); !errors.Is(err, syscall.ESTALE) || !strings.Contains(err.Error(), "moved") {
			t.Fatalf("marking a file moved during its upload persisted: %v, want ESTALE", err)
		}
		moved, err := m.GetStatus(ctx, "/d/g")
		if err != nil || moved.Persisted || moved.UfsPath == v2.UfsPath {
			t.Fatalf("after the refused mark: %+v, %v; want /d/g, not persisted", moved, err)
		}
		if err := m.MarkPersisted(ctx, fi.ID, uploaded(moved), "etag-v2"); err != nil {
			t.Fatal(err)
		}
		if got, err := m.GetStatus(ctx, "/d/g"); err != nil || !got.Persisted || got.UfsFingerprint != "etag-v2" {
			t.Fatalf("after marking v2 at its new place: %+v, %v", got, err)
		}
	}
	t.Run("one master", func(t *testing.T) { check(t, newEnv(t, -1).m) })
	t.Run("a master of an older build", func(t *testing.T) {
		g := newGroup(t, 3)
		m := g.masters[g.leader(-1)]
		m.cfg.PeerLevel = func(context.Context, string) (int, error) { return CommandLevel - 1, nil }
		check(t, m)
	})
}

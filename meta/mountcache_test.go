package meta

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

// TestMountCacheFollowsChanges checks that the decoded mount table a
// transaction gets is shared while the records stay the same, and that
// every mount, update and unmount is seen at once.
func TestMountCacheFollowsChanges(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	table := func() mountTable {
		t.Helper()
		var mt mountTable
		if err := e.m.fsm.view(func(tx *txn) error { mt = tx.mountTable(); return nil }); err != nil {
			t.Fatal(err)
		}
		return mt
	}
	first := table()
	if again := table(); len(again) == 0 || &again[0] != &first[0] {
		t.Fatalf("unchanged records decoded again: %v then %v", first, again)
	}

	ext := t.TempDir()
	steps := []struct {
		name   string
		do     func() error
		points []string // mount points expected, longest first
	}{
		{"mount", func() error { return e.m.Mount(ctx, "/ext", ext, MountOptions{Options: map[string]string{"k": "v"}}) }, []string{"/ext", "/"}},
		{"nested mount", func() error { return e.m.Mount(ctx, "/ext/in", t.TempDir(), MountOptions{}) }, []string{"/ext/in", "/ext", "/"}},
		{"unmount", func() error { return e.m.Unmount(ctx, "/ext/in") }, []string{"/ext", "/"}},
		{"unmount last", func() error { return e.m.Unmount(ctx, "/ext") }, []string{"/"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		mt := table()
		var got []string
		for _, mi := range mt {
			got = append(got, mi.AlluxioPath)
		}
		if len(got) != len(s.points) {
			t.Fatalf("%s: mount points %v, want %v", s.name, got, s.points)
		}
		for i := range got {
			if got[i] != s.points[i] {
				t.Fatalf("%s: mount points %v, want %v", s.name, got, s.points)
			}
		}
	}
}

// TestMountCacheOptionsNotShared checks that a MountInfo handed out of the
// master does not share its Options with the cached table.
func TestMountCacheOptionsNotShared(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	if err := e.m.Mount(ctx, "/ext", t.TempDir(), MountOptions{Options: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	mi, _, err := e.m.Resolve("/ext/x")
	if err != nil {
		t.Fatal(err)
	}
	mi.Options["k"] = "changed"
	for _, m := range e.m.Mounts() {
		if m.AlluxioPath == "/ext" {
			m.Options["k"] = "changed too"
		}
	}
	again, _, err := e.m.Resolve("/ext/x")
	if err != nil {
		t.Fatal(err)
	}
	if again.Options["k"] != "v" {
		t.Fatalf("cached mount options changed through a caller's copy: %v", again.Options)
	}
}

// TestLookupSynced checks the answer of a stat made in the transaction
// that decides on the sync, against the entry kinds and the sync cases.
func TestLookupSynced(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/dir")
	e.writeFile(t, "/dir/file", "data")
	e.writeUFS(t, "/fromufs/inner", "ufs bytes")
	tests := []struct {
		path    string
		wantErr error
		isDir   bool
		size    int64
	}{
		{"/", nil, true, 0},
		{"/dir", nil, true, 0},
		{"/dir/file", nil, false, 4},
		{"/dir/missing", syscall.ENOENT, false, 0},
		{"/dir/file/below", syscall.ENOTDIR, false, 0},
		{"/fromufs/inner", nil, false, 9}, // loaded on miss, answered after the sync
		{"/fromufs", nil, true, 0},
	}
	for _, tc := range tests {
		n, fi, err := e.m.lookupSynced(ctx, "stat", tc.path)
		if tc.wantErr != nil {
			var pe *fs.PathError
			if !errors.Is(err, tc.wantErr) || !errors.As(err, &pe) || pe.Path != tc.path {
				t.Errorf("%s: error %v, want a path error naming it with %v", tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if fi.Path != tc.path || fi.IsDir != tc.isDir || fi.Size != tc.size || n.ID != fi.ID {
			t.Errorf("%s: got %+v (inode %d), want dir %v size %d", tc.path, fi, n.ID, tc.isDir, tc.size)
		}
		if st, err := e.m.GetStatus(ctx, tc.path); err != nil || st != fi {
			t.Errorf("%s: GetStatus %+v, %v; lookupSynced %+v", tc.path, st, err, fi)
		}
	}
}

// TestLookupSyncedRestat checks that a persisted file whose sync is due is
// stat'ed in the under-store again before it is answered.
func TestLookupSyncedRestat(t *testing.T) {
	e := newEnv(t, 0) // sync on every call
	ctx := context.Background()
	e.writeUFS(t, "/f", "one")
	if _, fi, err := e.m.lookupSynced(ctx, "stat", "/f"); err != nil || fi.Size != 3 {
		t.Fatalf("first stat: %+v, %v", fi, err)
	}
	e.writeUFS(t, "/f", "longer now") // a new size is a new fingerprint
	if _, fi, err := e.m.lookupSynced(ctx, "stat", "/f"); err != nil || fi.Size != 10 {
		t.Fatalf("stat after the under-store changed: %+v, %v", fi, err)
	}
}

package meta

import (
	"context"
	"os"
	"testing"
)

// TestDropOrphan removes a file an under-store holds that no entry claims,
// and only when it is the content named.
func TestDropOrphan(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	u, err := testOpenUFS(e.ufs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	root, ok := e.m.MountByID(e.m.Mounts()[0].ID)
	if !ok {
		t.Fatal("no root mount")
	}
	fingerprint := func(rel string) string {
		t.Helper()
		fi, err := u.Stat(ctx, rel)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Fingerprint()
	}

	// Claimed by the namespace: kept.
	e.writeFile(t, "/kept", "data")
	wantErrno(t, "claimed", e.m.DropOrphan(ctx, root.ID, "kept", fingerprint("kept")), nil)
	if !exists(e.path("/kept")) {
		t.Fatal("a file the namespace holds was removed")
	}
	// Unclaimed, but other content than the writer's: kept.
	e.writeUFS(t, "/newer", "newer bytes")
	wantErrno(t, "other content", e.m.DropOrphan(ctx, root.ID, "newer", "not-its-fingerprint"), nil)
	if !exists(e.path("/newer")) {
		t.Fatal("content other than the writer's was removed")
	}
	// Unclaimed and the writer's content: removed.
	e.writeUFS(t, "/orphan", "written back")
	wantErrno(t, "orphan", e.m.DropOrphan(ctx, root.ID, "orphan", fingerprint("orphan")), nil)
	if _, err := os.Stat(e.path("/orphan")); !os.IsNotExist(err) {
		t.Fatalf("the orphan is still there: %v", err)
	}
	// Gone already, or an unknown mount.
	wantErrno(t, "gone", e.m.DropOrphan(ctx, root.ID, "orphan", "x"), nil)
	if err := e.m.DropOrphan(ctx, 9999, "x", "y"); err == nil {
		t.Fatal("an unknown mount was accepted")
	}
}

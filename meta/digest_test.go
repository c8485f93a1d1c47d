package meta

import (
	"context"
	"testing"
	"time"
)

// TestDigestChanges checks that the digest is stable while nothing
// changes (across a restart too) and that every kind of change to the
// namespace or the mount table changes it.
func TestDigestChanges(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	digest := func() NamespaceDigest {
		t.Helper()
		d, err := e.m.Digest(ctx)
		if err != nil {
			t.Fatalf("Digest: %v", err)
		}
		return d
	}
	e.mkdir(t, "/d")
	fi := e.writeFile(t, "/d/f", "data")
	u32 := func(v uint32) *uint32 { return &v }
	i64 := func(v int64) *int64 { return &v }
	yes := true

	for _, tc := range []struct {
		name   string
		change func() error
	}{
		{"mkdir", func() error { _, err := e.m.CreateDirectory(ctx, "/d/sub", MkdirOptions{Mode: 0o755}); return err }},
		{"create", func() error { _, err := e.m.CreateFile(ctx, "/d/g", CreateOptions{Mode: 0o644}); return err }},
		{"complete", func() error {
			st, err := e.m.GetStatus(ctx, "/d/g")
			if err == nil {
				_, err = e.m.CompleteFile(ctx, st.ID, CompleteOptions{Size: 3, Location: "127.0.0.1:1"})
			}
			return err
		}},
		{"chmod", func() error { _, err := e.m.SetAttr(ctx, "/d/f", SetAttrOptions{Mode: u32(0o600)}); return err }},
		{"chown", func() error { _, err := e.m.SetAttr(ctx, "/d/f", SetAttrOptions{UID: u32(7), GID: u32(8)}); return err }},
		{"mtime", func() error { _, err := e.m.SetAttr(ctx, "/d/f", SetAttrOptions{Mtime: i64(12345)}); return err }},
		{"pin", func() error { _, err := e.m.SetAttr(ctx, "/d/f", SetAttrOptions{Pinned: &yes}); return err }},
		{"ttl", func() error { _, err := e.m.SetAttr(ctx, "/d/f", SetAttrOptions{TTL: i64(3600_000)}); return err }},
		{"xattr", func() error { return e.m.SetXattr(ctx, "/d/f", "user.k", []byte("v"), 0) }},
		{"xattr value", func() error { return e.m.SetXattr(ctx, "/d/f", "user.k", []byte("w"), 0) }},
		{"symlink", func() error { _, err := e.m.CreateSymlink(ctx, "/d/l", "f", 0, 0); return err }},
		{"rename", func() error { return e.m.Rename(ctx, "/d/g", "/d/h") }},
		{"delete", func() error { return e.m.Delete(ctx, "/d/h", false) }},
		{"mount", func() error { return e.m.Mount(ctx, "/ext", t.TempDir(), MountOptions{}) }},
		{"unmount", func() error { return e.m.Unmount(ctx, "/ext") }},
	} {
		before := digest()
		if again := digest(); again != before {
			t.Fatalf("before %s: two digests of one state differ: %+v, %+v", tc.name, before, again)
		}
		if err := tc.change(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after := digest()
		if after.SHA256 == before.SHA256 {
			t.Errorf("%s did not change the digest", tc.name)
		}
		if after.LastApplied <= before.LastApplied {
			t.Errorf("%s: last applied %d, before %d", tc.name, after.LastApplied, before.LastApplied)
		}
	}

	before := digest()
	if before.Mounts != 1 || before.Inodes != 5 { // /, /d, /d/f, /d/sub, /d/l
		t.Errorf("digest counts: %+v", before)
	}
	e.restart(t)
	after := digest()
	if after.SHA256 != before.SHA256 || after.Inodes != before.Inodes {
		t.Errorf("restart changed the digest: %+v, before %+v", after, before)
	}
	if got, err := e.m.GetStatus(ctx, "/d/f"); err != nil || got.ID != fi.ID {
		t.Fatalf("after restart: %+v, %v", got, err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.m.Digest(cancelled); err == nil {
		t.Error("Digest with a cancelled context succeeded")
	}
}

// TestDigestReplicas checks that the masters of a group that have applied
// the same entries have the same digest, the followers included.
func TestDigestReplicas(t *testing.T) {
	g := newGroup(t, 3)
	ctx := context.Background()
	li := g.leader(-1)
	e := &testEnv{m: g.masters[li]}
	e.mkdir(t, "/a/b")
	e.writeFile(t, "/a/b/f", "replicated")
	if _, err := e.m.CreateSymlink(ctx, "/a/l", "b/f", 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetXattr(ctx, "/a/b/f", "user.x", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Rename(ctx, "/a/b", "/a/c"); err != nil {
		t.Fatal(err)
	}
	want, err := e.m.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, m := range g.masters {
		for {
			got, err := m.Digest(ctx)
			if err != nil {
				t.Fatalf("master %d: %v", i, err)
			}
			if got.LastApplied == want.LastApplied {
				if got != want {
					t.Errorf("master %d at index %d: digest %+v, leader's %+v", i, got.LastApplied, got, want)
				}
				break
			}
			if got.LastApplied > want.LastApplied || time.Now().After(deadline) {
				t.Fatalf("master %d at index %d, leader's digest at %d", i, got.LastApplied, want.LastApplied)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

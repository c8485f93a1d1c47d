package meta

import (
	"context"
	"errors"
	"syscall"
	"testing"
)

// TestPermissions checks calls made for a caller against modes and owners,
// as a local file system does.
func TestPermissions(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.Permissions = true })
	root := context.Background()
	alice := WithCaller(root, Caller{UID: 1000, GID: 1000})
	bob := WithCaller(root, Caller{UID: 1001, GID: 1001, Groups: []uint32{2000}})
	u32 := func(v uint32) *uint32 { return &v }

	mk := func(ctx context.Context, p string, mode, uid, gid uint32) error {
		_, err := e.m.CreateDirectory(ctx, p, MkdirOptions{Mode: mode, UID: uid, GID: gid})
		return err
	}
	create := func(ctx context.Context, p string, uid, gid uint32) error {
		_, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644, UID: uid, GID: gid})
		return err
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("mkdir /home as root", mk(WithCaller(root, Caller{}), "/home", 0o755, 0, 0))
	must("mkdir /home/alice", mk(root, "/home/alice", 0o750, 1000, 1000))
	must("mkdir /tmp", mk(root, "/tmp", 0o1777, 0, 0))
	must("mkdir /shared", mk(root, "/shared", 0o2770, 0, 2000))

	cases := []struct {
		name string
		err  error
		want syscall.Errno // 0: allowed
	}{
		{"owner creates in own dir", create(alice, "/home/alice/a", 1000, 1000), 0},
		{"other cannot create in 0750 dir", create(bob, "/home/alice/b", 1001, 1001), syscall.EACCES},
		{"other cannot traverse 0750 dir", func() error { _, err := e.m.GetStatus(bob, "/home/alice/a"); return err }(), syscall.EACCES},
		{"other cannot list 0750 dir", func() error { _, err := e.m.ListStatus(bob, "/home/alice"); return err }(), syscall.EACCES},
		{"non-root cannot create in 0755 root-owned dir", mk(alice, "/home/x", 0o755, 1000, 1000), syscall.EACCES},
		{"mkdir -p checks the nearest existing dir", func() error {
			_, err := e.m.CreateDirectory(bob, "/home/alice/p/q", MkdirOptions{Mode: 0o755, Recursive: true})
			return err
		}(), syscall.EACCES},
		{"anyone creates in sticky /tmp", create(alice, "/tmp/af", 1000, 1000), 0},
		{"bob creates in sticky /tmp", create(bob, "/tmp/bf", 1001, 1001), 0},
		{"sticky: bob cannot delete alice's file", e.m.Delete(bob, "/tmp/af", false), syscall.EACCES},
		{"sticky: bob cannot rename alice's file", e.m.Rename(bob, "/tmp/af", "/tmp/stolen"), syscall.EACCES},
		{"sticky: bob deletes his own", e.m.Delete(bob, "/tmp/bf", false), 0},
		{"chmod by non-owner", func() error { _, err := e.m.SetAttr(bob, "/tmp/af", SetAttrOptions{Mode: u32(0o777)}); return err }(), syscall.EPERM},
		{"chmod by owner", func() error { _, err := e.m.SetAttr(alice, "/tmp/af", SetAttrOptions{Mode: u32(0o600)}); return err }(), 0},
		{"chown by non-root", func() error { _, err := e.m.SetAttr(alice, "/tmp/af", SetAttrOptions{UID: u32(1001)}); return err }(), syscall.EPERM},
		{"chgrp to a group not one's own", func() error { _, err := e.m.SetAttr(alice, "/tmp/af", SetAttrOptions{GID: u32(2000)}); return err }(), syscall.EPERM},
		{"group member writes in setgid group dir", create(bob, "/shared/bf", 1001, 1001), 0},
		{"non-member cannot", create(alice, "/shared/af", 1000, 1000), syscall.EACCES},
		{"xattr on a file without write", e.m.SetXattr(bob, "/tmp/af", "user.x", []byte("v"), 0), syscall.EACCES},
		{"mount by non-root", e.m.Mount(alice, "/home/alice/m", e.ufs, MountOptions{}), syscall.EPERM},
		{"root passes everything", e.m.Delete(root, "/tmp/af", false), 0},
	}
	for _, tc := range cases {
		if tc.want == 0 {
			if tc.err != nil {
				t.Errorf("%s: %v, want allowed", tc.name, tc.err)
			}
			continue
		}
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	// A file made in a set-group-ID directory takes its group.
	fi, err := e.m.GetStatus(root, "/shared/bf")
	if err != nil || fi.GID != 2000 {
		t.Errorf("file in a setgid dir: gid %d, %v; want 2000", fi.GID, err)
	}
	must("mkdir in setgid dir", mk(bob, "/shared/sub", 0o755, 1001, 1001))
	if fi, _ := e.m.GetStatus(root, "/shared/sub"); fi.GID != 2000 || fi.Mode&0o2000 == 0 {
		t.Errorf("dir in a setgid dir: gid %d mode %o; want gid 2000 and the setgid bit", fi.GID, fi.Mode)
	}
}

// TestRootSquash checks root as nobody, who owns what it creates.
func TestRootSquash(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.Permissions, c.RootSquash = true, true })
	root := WithCaller(context.Background(), Caller{})
	unchecked := context.Background()
	if _, err := e.m.CreateDirectory(unchecked, "/private", MkdirOptions{Mode: 0o700}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CreateDirectory(unchecked, "/open", MkdirOptions{Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CreateFile(root, "/private/f", CreateOptions{Mode: 0o644}); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("squashed root in a 0700 root dir: %v, want EACCES", err)
	}
	fi, err := e.m.CreateFile(root, "/open/f", CreateOptions{Mode: 0o644})
	if err != nil || fi.UID != Nobody.UID || fi.GID != Nobody.GID {
		t.Fatalf("squashed root's file: uid %d gid %d, %v; want nobody", fi.UID, fi.GID, err)
	}
}

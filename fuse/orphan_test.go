package fuse

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// recClient is a Client over a map of files that records the paths of
// its SetAttr calls.
type recClient struct {
	files   map[string]Attr
	setattr []string
}

func (c *recClient) Stat(ctx context.Context, p string) (Attr, error) {
	if p == "/" {
		return Attr{Ino: 1, IsDir: true, Perm: 0755}, nil
	}
	a, ok := c.files[p]
	if !ok {
		return Attr{}, syscall.ENOENT
	}
	return a, nil
}
func (c *recClient) List(ctx context.Context, p string) ([]Entry, error) { return nil, nil }
func (c *recClient) Mkdir(ctx context.Context, p string, perm uint32, cl Caller) (Attr, error) {
	return Attr{}, syscall.EPERM
}
func (c *recClient) Remove(ctx context.Context, p string, dir bool) error {
	delete(c.files, p)
	return nil
}
func (c *recClient) Rename(ctx context.Context, s, d string, nr bool) error { return nil }
func (c *recClient) Exchange(ctx context.Context, a, b string) error        { return nil }
func (c *recClient) SetAttr(ctx context.Context, p string, s SetAttr) (Attr, error) {
	c.setattr = append(c.setattr, p)
	return c.Stat(ctx, p)
}
func (c *recClient) Symlink(ctx context.Context, p, t string, cl Caller) (Attr, error) {
	return Attr{}, syscall.EPERM
}
func (c *recClient) Open(ctx context.Context, p string, flags uint32, cl Caller) (Handle, error) {
	return versionHandle{version: "v1"}, nil
}
func (c *recClient) Create(ctx context.Context, p string, flags, perm uint32, cl Caller) (Handle, Attr, error) {
	return nil, Attr{}, syscall.EPERM
}
func (c *recClient) StatFS(ctx context.Context) (StatFS, error) { return StatFS{}, nil }

type listClient struct{ recClient }

func (c *listClient) List(ctx context.Context, p string) ([]Entry, error) {
	var out []Entry
	for k, a := range c.files {
		out = append(out, Entry{Name: k[1:], Attr: a})
	}
	return out, nil
}
func (c *listClient) SetAttr(ctx context.Context, p string, s SetAttr) (Attr, error) {
	a := c.files[p]
	if s.Mode != nil {
		a.Perm = *s.Mode
	}
	if s.Size != nil {
		a.Size = *s.Size
	}
	c.files[p] = a
	return a, nil
}

type failTrunc struct{ versionHandle }

func (failTrunc) Truncate(context.Context, int64) error { return syscall.ENOENT }

type truncClient struct{ recClient }

func (c *truncClient) Open(ctx context.Context, p string, flags uint32, cl Caller) (Handle, error) {
	return failTrunc{}, nil
}

// newBridge serves c through go-fuse's bridge, without a mount, as the
// kernel's requests reach it.
func newBridge(c Client) gofuse.RawFileSystem {
	fsys := &fileSystem{client: c, root: "/", log: slog.New(slog.NewTextHandler(io.Discard, nil)), attrTimeout: time.Second}
	return fs.NewNodeFS(&node{fsys: fsys}, &fs.Options{RootStableAttr: &fs.StableAttr{Ino: 1}})
}

// TestOrphanSetattr: fchmod, fchown and futimens of a file unlinked while
// open act on the handle's file, which has no name: never on the mount's
// root, whose path go-fuse gives a node without a parent.
func TestOrphanSetattr(t *testing.T) {
	c := &recClient{files: map[string]Attr{"/f": {Ino: 7, Perm: 0o644}}}
	raw := newBridge(c)
	var eo gofuse.EntryOut
	if st := raw.Lookup(nil, &gofuse.InHeader{NodeId: 1}, "f", &eo); st != gofuse.OK {
		t.Fatal(st)
	}
	var oo gofuse.OpenOut
	if st := raw.Open(nil, &gofuse.OpenIn{InHeader: gofuse.InHeader{NodeId: eo.NodeId}}, &oo); st != gofuse.OK {
		t.Fatal(st)
	}
	if st := raw.Unlink(nil, &gofuse.InHeader{NodeId: 1}, "f"); st != gofuse.OK {
		t.Fatal(st)
	}
	in := &gofuse.SetAttrIn{}
	in.NodeId = eo.NodeId
	in.Valid = gofuse.FATTR_MODE
	in.Mode = 0o777
	var ao gofuse.AttrOut
	st := raw.SetAttr(nil, in, &ao)
	if len(c.setattr) > 0 {
		t.Fatalf("fchmod of an unlinked file changed %q at the master", c.setattr)
	}
	if st == gofuse.OK && ao.Ino == 1 {
		t.Errorf("fchmod of an unlinked file answered with the root's attributes")
	}
	var xo [64]byte
	if _, st := raw.GetXAttr(nil, &gofuse.InHeader{NodeId: eo.NodeId}, "user.x", xo[:]); st == gofuse.OK {
		t.Errorf("getxattr of an unlinked file found an attribute")
	}
}

// TestListingAfterSetattr: a lookup after a chmod and truncate is not
// answered from the directory's listing taken before them.
func TestListingAfterSetattr(t *testing.T) {
	c := &listClient{recClient{files: map[string]Attr{"/f": {Ino: 7, Perm: 0o644, Size: 100}}}}
	raw := newBridge(c)
	var oo gofuse.OpenOut
	if st := raw.OpenDir(nil, &gofuse.OpenIn{InHeader: gofuse.InHeader{NodeId: 1}}, &oo); st != gofuse.OK {
		t.Fatal(st)
	}
	buf := gofuse.NewDirEntryList(make([]byte, 4096), 0)
	if st := raw.ReadDir(nil, &gofuse.ReadIn{InHeader: gofuse.InHeader{NodeId: 1}, Fh: oo.Fh}, buf); st != gofuse.OK {
		t.Fatal(st)
	}
	var eo gofuse.EntryOut
	if st := raw.Lookup(nil, &gofuse.InHeader{NodeId: 1}, "f", &eo); st != gofuse.OK {
		t.Fatal(st)
	}
	in := &gofuse.SetAttrIn{}
	in.NodeId = eo.NodeId
	in.Valid = gofuse.FATTR_MODE | gofuse.FATTR_SIZE
	in.Mode = 0o600
	var ao gofuse.AttrOut
	if st := raw.SetAttr(nil, in, &ao); st != gofuse.OK {
		t.Fatal(st)
	}
	var eo2 gofuse.EntryOut
	if st := raw.Lookup(nil, &gofuse.InHeader{NodeId: 1}, "f", &eo2); st != gofuse.OK {
		t.Fatal(st)
	}
	if eo2.Mode&0o7777 != 0o600 || eo2.Size != 0 {
		t.Errorf("lookup after chmod 600 and truncate to 0: mode %o size %d", eo2.Mode&0o7777, eo2.Size)
	}
}

// TestJoinTruncFails: an open with O_TRUNC that joins a writer and whose
// truncate fails returns the error, and the inode stays usable.
func TestJoinTruncFails(t *testing.T) {
	c := &truncClient{recClient{files: map[string]Attr{"/f": {Ino: 7, Perm: 0o644}}}}
	raw := newBridge(c)
	var eo gofuse.EntryOut
	if st := raw.Lookup(nil, &gofuse.InHeader{NodeId: 1}, "f", &eo); st != gofuse.OK {
		t.Fatal(st)
	}
	var oo gofuse.OpenOut
	if st := raw.Open(nil, &gofuse.OpenIn{InHeader: gofuse.InHeader{NodeId: eo.NodeId}, Flags: syscall.O_WRONLY}, &oo); st != gofuse.OK {
		t.Fatal(st)
	}
	done := make(chan gofuse.Status, 2)
	go func() {
		var oo2 gofuse.OpenOut
		done <- raw.Open(nil, &gofuse.OpenIn{InHeader: gofuse.InHeader{NodeId: eo.NodeId}, Flags: syscall.O_WRONLY | syscall.O_TRUNC}, &oo2)
		var oo3 gofuse.OpenOut
		done <- raw.Open(nil, &gofuse.OpenIn{InHeader: gofuse.InHeader{NodeId: eo.NodeId}, Flags: syscall.O_RDONLY}, &oo3)
	}()
	for i, want := range []string{"the truncating open", "the open after it"} {
		select {
		case st := <-done:
			if i == 0 && st == gofuse.OK {
				t.Errorf("%s whose truncate failed: OK", want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s is still blocked after 5 s", want)
		}
	}
}

package meta

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestExchange: two files in two directories, then a file and a directory,
// swap names in the namespace and in the under-store, and stay swapped
// after a restart replays the journal; the errors are rename's (ENOENT,
// EINVAL for an entry above the other, EBUSY for the root, EXDEV across
// mounts), and a store that cannot swap atomically refuses with EINVAL
// without changing anything.
func TestExchange(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/a")
	e.mkdir(t, "/b/dir")
	f := e.writeFile(t, "/a/f", "F")
	g := e.writeFile(t, "/b/g", "G")
	e.writeFile(t, "/b/dir/x", "X")

	if err := e.m.Exchange(ctx, "/a/f", "/b/g"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Exchange(ctx, "/a/f", "/b/dir"); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		// The first exchange put g at /a/f and f at /b/g; the second put
		// the directory at /a/f and g at /b/dir.
		want := map[string]uint64{"/b/g": f.ID, "/b/dir": g.ID}
		for p, id := range want {
			fi, err := e.m.GetStatus(ctx, p)
			if err != nil || fi.ID != id || fi.IsDir {
				t.Errorf("%s: %s is %+v, %v; want the file of id %d", when, p, fi, err, id)
			}
		}
		if fi, err := e.m.GetStatus(ctx, "/a/f"); err != nil || !fi.IsDir {
			t.Errorf("%s: /a/f is %+v, %v; want the directory", when, fi, err)
		}
		if got := names(t, e.m, "/a/f"); !slices.Equal(got, []string{"x"}) {
			t.Errorf("%s: /a/f lists %v", when, got)
		}
		if got := names(t, e.m, "/b"); !slices.Equal(got, []string{"dir", "g"}) {
			t.Errorf("%s: /b lists %v", when, got)
		}
		for p, data := range map[string]string{"/b/g": "F", "/b/dir": "G", "/a/f/x": "X"} {
			if b, err := os.ReadFile(e.path(p)); err != nil || string(b) != data {
				t.Errorf("%s: under-store %s holds %q, %v; want %q", when, p, b, err, data)
			}
		}
	}
	check("after the exchanges")

	plainDir := t.TempDir()
	if err := e.m.Mount(ctx, "/plain", plainDir, MountOptions{Options: map[string]string{"plain": "true"}}); err != nil {
		t.Fatal(err)
	}
	e.writeFile(t, "/plain/p", "P")
	e.writeFile(t, "/plain/q", "Q")
	for _, tt := range []struct {
		a, b string
		want error
	}{
		{"/a/f", "/b/missing", syscall.ENOENT},
		{"/missing", "/b/g", syscall.ENOENT},
		{"/a", "/a/f/x", syscall.EINVAL},
		{"/a/f/x", "/a", syscall.EINVAL},
		{"/", "/b/g", syscall.EBUSY},
		{"/b/g", "/plain/p", syscall.EXDEV},
		{"/plain", "/b/g", syscall.EBUSY},
		{"/plain/p", "/plain/q", syscall.EINVAL},
	} {
		if err := e.m.Exchange(ctx, tt.a, tt.b); !errors.Is(err, tt.want) {
			t.Errorf("Exchange(%s, %s) = %v, want %v", tt.a, tt.b, err, tt.want)
		}
	}
	if err := e.m.Exchange(ctx, "/b/g", "/b/g"); err != nil {
		t.Errorf("exchanging a path with itself: %v", err)
	}
	for name, data := range map[string]string{"p": "P", "q": "Q"} {
		if b, err := os.ReadFile(filepath.Join(plainDir, name)); err != nil || string(b) != data {
			t.Errorf("a store that cannot swap: %s holds %q, %v; want %q", name, b, err, data)
		}
		if fi, err := e.m.GetStatus(ctx, "/plain/"+name); err != nil || fi.Size != 1 {
			t.Errorf("/plain/%s: %+v, %v", name, fi, err)
		}
	}
	check("after the refused exchanges")
	e.restart(t)
	check("after a restart")
}

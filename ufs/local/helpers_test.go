//go:build linux

package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// eachMode runs f once against a store that confines paths with openat2
// and once against one that uses the EvalSymlinks fallback, each over a
// fresh directory filled by populate.
func eachMode(t *testing.T, f func(t *testing.T, s *Store, root string)) {
	t.Helper()
	for _, m := range []struct {
		name    string
		beneath bool
	}{{"openat2", true}, {"evalsymlinks", false}} {
		t.Run(m.name, func(t *testing.T) {
			root := t.TempDir()
			populate(t, root)
			s, err := New(root)
			if err != nil {
				t.Fatalf("New(%q): %v", root, err)
			}
			t.Cleanup(func() { s.Close() })
			if m.beneath && !s.beneath {
				t.Skip("openat2 is not available here")
			}
			s.beneath = m.beneath
			f(t, s, root)
		})
	}
}

// populate lays out the fixture tree every test starts from:
//
//	f            "hello world"
//	d/g          "gg"
//	d/up      -> ../f            (a link that stays inside)
//	empty/
//	lf        -> f
//	ld        -> d
//	etc       -> /etc            (absolute, outside)
//	passwd    -> /etc/passwd     (absolute, outside)
//	up        -> ../../../../../../../../etc   (relative, outside)
func populate(t *testing.T, root string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o755))
	must(os.WriteFile(filepath.Join(root, "f"), []byte("hello world"), 0o644))
	must(os.Mkdir(filepath.Join(root, "d"), 0o755))
	must(os.WriteFile(filepath.Join(root, "d", "g"), []byte("gg"), 0o600))
	must(os.Symlink("../f", filepath.Join(root, "d", "up")))
	must(os.Mkdir(filepath.Join(root, "empty"), 0o755))
	must(os.Symlink("f", filepath.Join(root, "lf")))
	must(os.Symlink("d", filepath.Join(root, "ld")))
	must(os.Symlink("/etc", filepath.Join(root, "etc")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "passwd")))
	must(os.Symlink("../../../../../../../../etc", filepath.Join(root, "up")))
}

// checkErr fails unless err matches want (nil meaning success) and, when
// it is an error, is an *fs.PathError as the project's convention asks.
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %v (%T) is not an *fs.PathError", what, err, err)
	}
}

// readHost returns a file's content read directly from the host.
func readHost(t *testing.T, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

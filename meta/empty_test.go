package meta

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCompleteEmpty completes files their writers left empty: the master
// makes the empty file in the under-store at the file's current name and
// mode, a retry answers the same, and a removed file is ENOENT.
func TestCompleteEmpty(t *testing.T) {
	e := newEnv(t, -1)
	ctx := t.Context()
	e.mkdir(t, "/d")

	created := func(t *testing.T, p string, mode uint32) FileInfo {
		t.Helper()
		fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: mode, Persisted: true})
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}

	t.Run("persisted with its mode", func(t *testing.T) {
		fi := created(t, "/d/a", 0o600)
		got, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{Persist: true})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Completed || !got.Persisted || got.Size != 0 || got.UfsFingerprint == "" {
			t.Errorf("completed empty file: %+v, want complete, persisted, size 0, a fingerprint", got)
		}
		st, err := os.Stat(e.path("/d/a"))
		if err != nil {
			t.Fatalf("under-store file: %v", err)
		}
		if st.Size() != 0 || st.Mode().Perm() != 0o600 {
			t.Errorf("under-store file: size %d mode %v, want 0 and 0600", st.Size(), st.Mode().Perm())
		}
		again, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{Persist: true})
		if err != nil || again.Fingerprint != got.Fingerprint {
			t.Errorf("retry: %+v, %v; want the same file", again, err)
		}
	})

	t.Run("follows a rename", func(t *testing.T) {
		fi := created(t, "/d/b", 0o644)
		if err := e.m.Rename(ctx, "/d/b", "/d/c"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{Persist: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(e.path("/d/c")); err != nil {
			t.Errorf("under-store file at the new name: %v", err)
		}
		if _, err := os.Stat(e.path("/d/b")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("under-store file at the old name: %v, want none", err)
		}
	})

	t.Run("not persisted", func(t *testing.T) {
		fi := created(t, "/d/m", 0o644)
		got, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Completed || got.Persisted {
			t.Errorf("%+v: want complete and not persisted", got)
		}
		if _, err := os.Stat(e.path("/d/m")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("under-store file: %v, want none", err)
		}
	})

	t.Run("removed meanwhile", func(t *testing.T) {
		fi := created(t, "/d/gone", 0o644)
		if err := e.m.Delete(ctx, "/d/gone", false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{Persist: true}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("CompleteEmpty of a removed file: %v, want ENOENT", err)
		}
		if _, err := os.Stat(e.path("/d/gone")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("under-store file: %v, want none", err)
		}
	})

	t.Run("a directory", func(t *testing.T) {
		d := e.mkdir(t, "/d/sub")
		if _, err := e.m.CompleteEmpty(ctx, d.ID, EmptyOptions{Persist: true}); err == nil {
			t.Error("CompleteEmpty of a directory succeeded")
		}
	})
}

// TestCompletionKeepsAttrs: attributes a writer set while it had the file
// open come with the completion, empty or written: the namespace and the
// under-store's file both have them, and a kept mtime replaces the
// completion's own.
func TestCompletionKeepsAttrs(t *testing.T) {
	e := newEnv(t, -1)
	ctx := t.Context()
	e.mkdir(t, "/k")
	mode, past := uint32(0o640), time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()
	kept := KeptAttrs{Mode: &mode, Mtime: &past}
	check := func(t *testing.T, p string, got FileInfo) {
		t.Helper()
		if got.Mode&0o7777 != mode || got.Mtime != past {
			t.Errorf("%s: mode %o mtime %d, want %o and %d", p, got.Mode, got.Mtime, mode, past)
		}
		st, err := os.Stat(e.path(p))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o640 || st.ModTime().UnixNano() != past {
			t.Errorf("%s in the under-store: mode %v mtime %v", p, st.Mode(), st.ModTime())
		}
	}

	fi, err := e.m.CreateFile(ctx, "/k/empty", CreateOptions{Mode: 0o600, Persisted: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.m.CompleteEmpty(ctx, fi.ID, EmptyOptions{Persist: true, Kept: kept})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "/k/empty", got)

	fi, err = e.m.CreateFile(ctx, "/k/written", CreateOptions{Mode: 0o600, Persisted: true})
	if err != nil {
		t.Fatal(err)
	}
	// The bytes in the under-store, as a worker's commit leaves them.
	if err := os.WriteFile(e.path("/k/written"), []byte("bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 5, Persisted: true, Kept: kept})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "/k/written", got)
	if st, _ := os.Stat(e.path("/k/written")); got.UfsFingerprint == "" || st == nil {
		t.Errorf("no under-store fingerprint after the kept mtime: %+v", got)
	}
}

// TestCreateComplete: a file created with CreateOptions.Complete is
// complete, persisted and empty at once, with its empty copy in the
// under-store; its writer's first commit replaces that version (Replaces),
// a retry of it answers the same, and a version changed meanwhile is not
// replaced. An existing file overwritten stays incomplete.
func TestCreateComplete(t *testing.T) {
	e := newEnv(t, -1)
	ctx := t.Context()
	e.mkdir(t, "/b")
	born := func(t *testing.T, p string) FileInfo {
		t.Helper()
		fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o640, Persisted: true, Complete: true, Exclusive: true})
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Completed || !fi.Persisted || fi.Size != 0 || fi.UfsFingerprint == "" {
			t.Fatalf("created complete: %+v, want complete, persisted, empty, a fingerprint", fi)
		}
		st, err := os.Stat(e.path(p))
		if err != nil || st.Size() != 0 || st.Mode().Perm() != 0o640 {
			t.Fatalf("under-store copy: %v, %v; want an empty 0640 file", st, err)
		}
		return fi
	}

	t.Run("replaced by the first commit", func(t *testing.T) {
		fi := born(t, "/b/w")
		if err := os.WriteFile(e.path("/b/w"), []byte("hello"), 0o640); err != nil {
			t.Fatal(err)
		}
		o := CompleteOptions{Size: 5, Persisted: true, UfsFingerprint: "mt:1:5", Replaces: fi.Fingerprint}
		got, err := e.m.CompleteFile(ctx, fi.ID, o)
		if err != nil {
			t.Fatal(err)
		}
		if got.Size != 5 || got.UfsFingerprint != "mt:1:5" {
			t.Errorf("after the commit: %+v, want size 5", got)
		}
		if again, err := e.m.CompleteFile(ctx, fi.ID, o); err != nil || again.Size != 5 {
			t.Errorf("retried commit: %+v, %v; want the same answer", again, err)
		}
		// Once replaced, the version is not the writer's any more.
		o.Size, o.UfsFingerprint = 7, "mt:2:7"
		if _, err := e.m.CompleteFile(ctx, fi.ID, o); err == nil {
			t.Error("a second replacement of the born version succeeded")
		}
	})

	t.Run("not without Replaces or after a change", func(t *testing.T) {
		fi := born(t, "/b/x")
		if _, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 3, Persisted: true}); err == nil {
			t.Error("a completion without Replaces changed a complete file")
		}
		nv, err := e.m.NewVersion(ctx, fi.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.CompleteFile(ctx, nv.ID, CompleteOptions{Size: 2, Persisted: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 3, Persisted: true, Replaces: fi.Fingerprint}); err == nil {
			t.Error("the born version's writer replaced a version written since")
		}
	})

	t.Run("exists", func(t *testing.T) {
		born(t, "/b/y")
		if _, err := e.m.CreateFile(ctx, "/b/y", CreateOptions{Persisted: true, Complete: true, Exclusive: true}); !errors.Is(err, fs.ErrExist) {
			t.Errorf("exclusive create of an existing file: %v, want EEXIST", err)
		}
		fi, err := e.m.CreateFile(ctx, "/b/y", CreateOptions{Mode: 0o600, Persisted: true, Complete: true, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		if fi.Completed {
			t.Errorf("an overwritten file was made complete: %+v", fi)
		}
	})

	t.Run("a store not on this machine", func(t *testing.T) {
		dir := t.TempDir()
		if err := e.m.Mount(ctx, "/remote", dir, MountOptions{Options: map[string]string{"plain": "true"}}); err != nil {
			t.Fatal(err)
		}
		fi, err := e.m.CreateFile(ctx, "/remote/f", CreateOptions{Persisted: true, Complete: true})
		if err != nil {
			t.Fatal(err)
		}
		if fi.Completed {
			t.Errorf("a file of a store that is not local was made complete: %+v", fi)
		}
		if _, err := os.Stat(filepath.Join(dir, "f")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("under-store copy: %v, want none before the writer's close", err)
		}
	})
}

// TestCreateCompleteNotWithSync: with metadata sync on, a new file is
// complete only at its writer's close, as a sync could otherwise take the
// bytes a writer puts into the empty copy in place for the file's.
func TestCreateCompleteNotWithSync(t *testing.T) {
	e := newEnv(t, 0)
	fi, err := e.m.CreateFile(t.Context(), "/f", CreateOptions{Persisted: true, Complete: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi.Completed {
		t.Errorf("created complete with metadata sync on: %+v", fi)
	}
}

// TestRestoreVersion: a writer whose new version could not start gives
// the file back the version it replaced, fingerprint and all; a version
// completed or replaced since is left alone (ESTALE).
func TestRestoreVersion(t *testing.T) {
	e := newEnv(t, -1)
	ctx := t.Context()
	fi, err := e.m.CreateFile(ctx, "/f", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	old, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 5, Persisted: true, UfsFingerprint: "mt:1:5"})
	if err != nil {
		t.Fatal(err)
	}
	nv, err := e.m.NewVersion(ctx, fi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if nv.Completed || nv.Size != 0 || nv.Fingerprint == old.Fingerprint {
		t.Fatalf("new version: %+v", nv)
	}
	got, err := e.m.RestoreVersion(ctx, fi.ID, nv.Fingerprint, VersionOf(old))
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.m.GetStatus(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []FileInfo{got, st} {
		if !v.Completed || v.Size != 5 || !v.Persisted || v.Fingerprint != old.Fingerprint ||
			v.UfsFingerprint != old.UfsFingerprint || v.Mtime != old.Mtime {
			t.Errorf("restored: %+v, want the version %+v", v, old)
		}
	}
	if _, err := e.m.RestoreVersion(ctx, fi.ID, nv.Fingerprint, VersionOf(old)); !errors.Is(err, syscall.ESTALE) {
		t.Errorf("restore of a complete file: %v, want ESTALE", err)
	}
	nv2, err := e.m.NewVersion(ctx, fi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.RestoreVersion(ctx, fi.ID, nv.Fingerprint, VersionOf(old)); !errors.Is(err, syscall.ESTALE) {
		t.Errorf("restore in place of another writer's version: %v, want ESTALE", err)
	}
	if st, _ := e.m.GetStatus(ctx, "/f"); st.Fingerprint != nv2.Fingerprint || st.Completed {
		t.Errorf("the other writer's version was touched: %+v", st)
	}
}

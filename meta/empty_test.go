package meta

import (
	"errors"
	"io/fs"
	"os"
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

package meta

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
)

// TestCompleteAfterMove: a persisted commit names where it put the bytes;
// a rename by another client of a directory above the file, made after
// the writer looked where the file was, does not lose them.
func TestCompleteAfterMove(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	u, err := e.m.UFS(e.mkdir(t, "/d").MountID)
	if err != nil {
		t.Fatal(err)
	}
	upload := func(rel, data string) string {
		t.Helper()
		w, err := u.Create(ctx, rel, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
		st, err := w.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Fingerprint()
	}
	create := func(p string) FileInfo {
		t.Helper()
		fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644, Persisted: true})
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	rename := func(src, dst string) {
		t.Helper()
		if err := e.m.Rename(ctx, src, dst); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(rel string) string {
		b, _ := os.ReadFile(e.path(rel))
		return string(b)
	}

	// The bytes land at the old place after the rename.
	late := create("/d/late")
	rename("/d", "/e")
	if err := os.MkdirAll(e.path("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	fp := upload("d/late", "late bytes")
	fi, err := e.m.CompleteFile(ctx, late.ID, CompleteOptions{Size: 10, Persisted: true, UfsFingerprint: fp, UfsPath: "d/late"})
	if err != nil || fi.Path != "/e/late" || !fi.Completed {
		t.Fatalf("complete of the file whose bytes landed at its old place: %+v, %v", fi, err)
	}
	if got := stored("e/late"); got != "late bytes" || exists(e.path("d/late")) {
		t.Errorf("the store has %q at the file's place, and the old place is there: %v", got, exists(e.path("d/late")))
	}
	agree(t, e, "/e/late")

	// The bytes land before the rename, which takes them along.
	early := create("/e/early")
	fp = upload("e/early", "early")
	rename("/e", "/f")
	fi, err = e.m.CompleteFile(ctx, early.ID, CompleteOptions{Size: 5, Persisted: true, UfsFingerprint: fp, UfsPath: "e/early"})
	if err != nil || fi.Path != "/f/early" || stored("f/early") != "early" {
		t.Fatalf("complete of the file whose bytes moved with it: %+v, %v; the store has %q", fi, err, stored("f/early"))
	}
	agree(t, e, "/f/early")

	// The bytes are at neither place: the completion fails, and the file
	// keeps its version.
	lost := create("/f/lost")
	rename("/f", "/g")
	_, err = e.m.CompleteFile(ctx, lost.ID, CompleteOptions{Size: 4, Persisted: true, UfsFingerprint: "mt:1:4", UfsPath: "f/lost"})
	wantErrno(t, "complete of a file whose bytes are nowhere", err, syscall.EIO)
	if fi, err := e.m.GetStatus(ctx, "/g/lost"); err != nil || fi.Completed || fi.Size != 0 {
		t.Errorf("after the failed completion the file is %+v, %v; want it as created", fi, err)
	}
}

// TestSettledStatusWaitsForRename: a settled status of a file whose
// directory is being renamed (moved in the store, not yet in the
// namespace) is answered once the rename is in the namespace too, with
// the file's new place; a plain one answers at once with the old.
func TestSettledStatusWaitsForRename(t *testing.T) {
	e, h := newHookEnv(t, false)
	ctx := context.Background()
	e.mkdir(t, "/d")
	fi := e.writeFile(t, "/d/f", "data")
	var settled chan error
	var got FileInfo
	var plain FileInfo
	h.onRename = func() {
		var err error
		if plain, err = e.m.StatusByID(ctx, fi.ID); err != nil {
			t.Errorf("status during the rename: %v", err)
		}
		settled = race(t, e, func() (err error) {
			got, err = e.m.SettledStatusByID(ctx, fi.ID)
			return err
		})
	}
	if err := e.m.Rename(ctx, "/d", "/e"); err != nil {
		t.Fatal(err)
	}
	if err := <-settled; err != nil || got.Path != "/e/f" || got.UfsPath != "e/f" {
		t.Fatalf("settled status during the rename: %+v, %v; want the file at /e/f", got, err)
	}
	if plain.Path != "/d/f" {
		t.Errorf("plain status during the rename: %s, want the old place (the rename not applied yet)", plain.Path)
	}
}

// TestCompleteHoldsOldPlace: while a completion moves bytes its commit
// left at the file's old place, that place is held: a file made there
// meanwhile (whose own commit would land where the move takes from)
// waits for the completion.
func TestCompleteHoldsOldPlace(t *testing.T) {
	e, h := newHookEnv(t, false)
	ctx := context.Background()
	u, err := e.m.UFS(e.mkdir(t, "/d").MountID)
	if err != nil {
		t.Fatal(err)
	}
	late, err := e.m.CreateFile(ctx, "/d/late", CreateOptions{Mode: 0o644, Persisted: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Rename(ctx, "/d", "/e"); err != nil {
		t.Fatal(err)
	}
	e.mkdir(t, "/d")
	w, err := u.Create(ctx, "d/late", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("late bytes"))
	st, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var created chan error
	h.onRename = func() {
		created = race(t, e, func() error {
			_, err := e.m.CreateFile(ctx, "/d/late", CreateOptions{Mode: 0o644, Persisted: true})
			return err
		})
		if len(created) > 0 {
			t.Error("a create at the old place went ahead while the completion moved the bytes from there")
		}
	}
	if _, err := e.m.CompleteFile(ctx, late.ID, CompleteOptions{Size: 10, Persisted: true, UfsFingerprint: st.Fingerprint(), UfsPath: "d/late"}); err != nil {
		t.Fatalf("complete: %v", err)
	}
	h.onRename = nil
	if created == nil {
		t.Fatal("the completion moved nothing")
	}
	if err := <-created; err != nil {
		t.Fatalf("the create at the old place, after the completion: %v", err)
	}
	agree(t, e, "/e/late")
}

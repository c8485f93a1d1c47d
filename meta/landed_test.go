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

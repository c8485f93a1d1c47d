//go:build linux

package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
)

// A file renamed while its writer is open lands at the new name, and the
// old name is left alone (here: a different file created there meanwhile).
func TestWriterRetarget(t *testing.T) {
	eachMode(t, func(t *testing.T, s *Store, root string) {
		ctx := context.Background()
		os.MkdirAll(filepath.Join(root, "a"), 0o755)
		os.MkdirAll(filepath.Join(root, "b"), 0o755)
		w, err := s.Create(ctx, "a/x", ufs.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("moved bytes"))
		os.WriteFile(filepath.Join(root, "a/x"), []byte("someone else"), 0o644)
		if err := w.(ufs.Retargeter).Retarget(ctx, "b/y"); err != nil {
			t.Fatal(err)
		}
		fi, err := w.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Name != "y" || fi.Size != int64(len("moved bytes")) {
			t.Fatalf("info after close: %+v", fi)
		}
		if got := readHost(t, root, "b/y"); got != "moved bytes" {
			t.Fatalf("b/y = %q", got)
		}
		if got := readHost(t, root, "a/x"); got != "someone else" {
			t.Fatalf("a/x = %q, the old name was touched", got)
		}
		if tmp := tmpFiles(t, filepath.Join(root, "a")); len(tmp) != 0 {
			t.Fatalf("temporary files left: %v", tmp)
		}
		w2, _ := s.Create(ctx, "a/z", ufs.CreateOptions{})
		if err := w2.(ufs.Retargeter).Retarget(ctx, "../escape"); err == nil {
			t.Fatal("retarget above the root succeeded")
		}
		w2.Abort()
	})
}

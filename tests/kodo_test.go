package tests

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/alluxio-go/alluxio/ufs/kodo/kodotest"
)

// TestKodoRootMount follows Alluxio's Kodo guide: the root under-store is
// kodo://bucket/dir/ with fs.kodo.* and alluxio.underfs.kodo.* as plain
// properties. No real Kodo can run here, so the server is kodotest, written
// from Kodo's public API (upload tokens, QBox/Qiniu signing, rs/rsf, ranged
// downloads).
func TestKodoRootMount(t *testing.T) {
	const ak, sk = "kodo-ak", "kodo-secret-never-logged"
	srv, err := kodotest.Start(ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.CreateBucket("alluxio-bucket")
	srv.Put("alluxio-bucket", "data/existing.txt", []byte("already in the bucket"))
	c := newCluster(t, map[string]string{
		"alluxio.master.mount.table.root.ufs": "kodo://alluxio-bucket/data/",
		"fs.kodo.accesskey":                   ak,
		"fs.kodo.secretkey":                   sk,
		"alluxio.underfs.kodo.downloadhost":   srv.DownloadHost("alluxio-bucket"),
		"alluxio.underfs.kodo.endpoint":       srv.URL(),
	})
	c.start()
	if data, err := os.ReadFile(filepath.Join(c.mnt, "existing.txt")); err != nil || string(data) != "already in the bucket" {
		t.Fatalf("object already in the bucket: %q %v", data, err)
	}
	big := make([]byte, 9<<20+7) // multipart upload
	rand.Read(big)
	if err := os.MkdirAll(filepath.Join(c.mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.mnt, "d", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	keys := strings.Join(srv.Keys("alluxio-bucket"), " ")
	if !strings.Contains(keys, "data/d/big.bin") || !strings.Contains(keys, "data/d/") {
		t.Fatalf("bucket keys after the write: %s", keys)
	}
	if got, err := os.ReadFile(filepath.Join(c.mnt, "d", "big.bin")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	if err := os.Rename(filepath.Join(c.mnt, "d", "big.bin"), filepath.Join(c.mnt, "moved.bin")); err != nil {
		t.Fatal(err)
	}
	if keys := strings.Join(srv.Keys("alluxio-bucket"), " "); !strings.Contains(keys, "data/moved.bin") || strings.Contains(keys, "data/d/big.bin") {
		t.Fatalf("bucket keys after the rename: %s", keys)
	}
	if out := c.must("alluxio", "fs", "mount"); strings.Contains(out, sk) || !strings.Contains(out, "kodo://alluxio-bucket/data/") {
		t.Fatalf("mount listing:\n%s", out)
	}
	logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(sk)) {
			t.Fatalf("%s contains the Kodo secret", filepath.Base(l))
		}
	}
}

package tests

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alluxio-go/alluxio/ufs/hdfs/hdfstest"
)

// startHDFS runs an hdfstest cluster (namenode and datanodes written from
// the public Hadoop protocols; no real HDFS can run here) in the test
// process, stopped when the test ends.
func startHDFS(t *testing.T, cfg hdfstest.Config) *hdfstest.Cluster {
	t.Helper()
	srv, err := hdfstest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// hdfsRootUser is the HDFS user of newHDFSRootCluster's root mount.
const hdfsRootUser = "alluxio"

// newHDFSRootCluster lays out an installation whose root under-store is
// /alluxio of the cluster srv (made, owned by hdfsRootUser, and then
// prepared by prepare when that is not nil), as Alluxio's HDFS guide
// writes it. The cluster is not started.
func newHDFSRootCluster(t *testing.T, srv *hdfstest.Cluster, prepare func()) *cluster {
	t.Helper()
	if err := srv.MkdirAll("/alluxio", hdfsRootUser, 0o755); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare()
	}
	conf, err := srv.HadoopConf(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return newCluster(t, map[string]string{
		"alluxio.master.mount.table.root.ufs":                                    "hdfs://" + srv.Addr() + "/alluxio",
		"alluxio.underfs.hdfs.configuration":                                     conf,
		"alluxio.master.mount.table.root.option.alluxio.security.login.username": hdfsRootUser,
	})
}

// TestHDFSRootMount follows Alluxio's HDFS guide: the root under-store is
// hdfs://namenode:port/dir with alluxio.underfs.hdfs.configuration
// naming core-site.xml and hdfs-site.xml. The master and the worker reach
// the namenode and the datanodes over Hadoop RPC and the data transfer
// protocol through colinmarc/hdfs.
func TestHDFSRootMount(t *testing.T) {
	const user = hdfsRootUser
	srv := startHDFS(t, hdfstest.Config{Datanodes: 2})
	c := newHDFSRootCluster(t, srv, func() {
		if err := srv.WriteFile("/alluxio/existing.txt", []byte("already in HDFS"), "someone-else"); err != nil {
			t.Fatal(err)
		}
	})
	c.start()
	if data, err := os.ReadFile(filepath.Join(c.mnt, "existing.txt")); err != nil || string(data) != "already in HDFS" {
		t.Fatalf("file already in HDFS: %q %v", data, err)
	}

	// Write through the mount: several blocks, on two datanodes.
	big := make([]byte, 3<<20+12345)
	rand.Read(big)
	if err := os.MkdirAll(filepath.Join(c.mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.mnt, "d", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.ReadFile("/alluxio/d/big.bin"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the file in HDFS: %d bytes, %v", len(got), err)
	}
	if st, err := srv.Stat("/alluxio/d/big.bin"); err != nil || st.Owner != user || st.Blocks != 4 || st.UnderConstruction {
		t.Fatalf("the file in HDFS: %+v, %v", st, err)
	}
	if got, err := os.ReadFile(filepath.Join(c.mnt, "d", "big.bin")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read back through the mount: %d bytes, %v", len(got), err)
	}
	if out := c.must("alluxio", "fs", "ls", "/d"); !strings.Contains(out, "/d/big.bin") {
		t.Fatalf("alluxio fs ls /d:\n%s", out)
	}
	entries, err := os.ReadDir(c.mnt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Contains(names, "d") || !slices.Contains(names, "existing.txt") {
		t.Fatalf("ls of the mount: %v", names)
	}

	// Rename and delete reach HDFS.
	if err := os.Rename(filepath.Join(c.mnt, "d", "big.bin"), filepath.Join(c.mnt, "moved.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Stat("/alluxio/moved.bin"); err != nil {
		t.Fatalf("after the rename: %v", err)
	}
	if _, err := srv.Stat("/alluxio/d/big.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the old name after the rename: %v", err)
	}
	if err := os.Remove(filepath.Join(c.mnt, "moved.bin")); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Stat("/alluxio/moved.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after the delete: %v", err)
	}

	// Files another HDFS client writes appear after loadMetadata.
	if err := srv.WriteFile("/alluxio/oob/new.txt", []byte("written by another client"), "etl"); err != nil {
		t.Fatal(err)
	}
	if out := c.must("alluxio", "fs", "loadMetadata", "-R", "/"); !strings.Contains(out, "Synced /") {
		t.Fatalf("loadMetadata: %s", out)
	}
	if data, err := os.ReadFile(filepath.Join(c.mnt, "oob", "new.txt")); err != nil || string(data) != "written by another client" {
		t.Fatalf("a file written behind the mount's back: %q %v", data, err)
	}
	if out := c.must("alluxio", "fs", "mount"); !strings.Contains(out, "hdfs://"+srv.Addr()+"/alluxio") {
		t.Fatalf("mount listing:\n%s", out)
	}
	if open := srv.OpenFiles(); len(open) != 0 {
		t.Fatalf("files left under construction in HDFS: %v", open)
	}
}

// TestHDFSNestedMountHA mounts a directory of an HA nameservice described
// in hdfs-site.xml with alluxio fs mount --option, uses it across a
// failover of the namenodes, and checks that an unreachable namenode is
// refused at mount time with an error naming it.
func TestHDFSNestedMountHA(t *testing.T) {
	srv := startHDFS(t, hdfstest.Config{HA: true})
	if err := srv.MkdirAll("/data", "alice", 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := srv.HadoopConf(t.TempDir(), "mycluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, nil)
	c.start()
	c.must("alluxio", "fs", "mount",
		"--option", "alluxio.underfs.hdfs.configuration="+conf,
		"--option", "alluxio.security.login.username=alice",
		"/hdfs", "hdfs://mycluster/data")
	mnt := filepath.Join(c.mnt, "hdfs")
	if err := os.WriteFile(filepath.Join(mnt, "before.txt"), []byte("nn1 is active"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.ReadFile("/data/before.txt"); err != nil || string(got) != "nn1 is active" {
		t.Fatalf("in HDFS: %q %v", got, err)
	}

	// nn1 turns standby and answers StandbyException; the store's clients
	// move on to nn2.
	srv.Failover()
	if err := os.WriteFile(filepath.Join(mnt, "after.txt"), []byte("nn2 is active"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.ReadFile("/data/after.txt"); err != nil || string(got) != "nn2 is active" {
		t.Fatalf("in HDFS after the failover: %q %v", got, err)
	}
	if err := srv.WriteFile("/data/oob.txt", []byte("behind the mount"), "bob"); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "loadMetadata", "-R", "/hdfs")
	for name, want := range map[string]string{"before.txt": "nn1 is active", "after.txt": "nn2 is active", "oob.txt": "behind the mount"} {
		if got, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || string(got) != want {
			t.Fatalf("%s through the mount after the failover: %q %v", name, got, err)
		}
	}
	if out := c.must("alluxio", "fs", "mount"); !strings.Contains(out, "hdfs://mycluster/data") {
		t.Fatalf("mount listing:\n%s", out)
	}

	// A namenode nobody answers on: the mount fails and names it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	out, err := c.run("alluxio", "fs", "mount",
		"--option", "alluxio.underfs.hdfs.retry.max.duration=1s",
		"/dead", "hdfs://"+dead+"/x")
	if err == nil || !strings.Contains(out, dead) {
		t.Fatalf("mounting an unreachable namenode: %v\n%s\n(want an error naming %s)", err, out, dead)
	}
	t.Logf("refused: %s", out)
	if _, err := os.Stat(filepath.Join(c.mnt, "dead")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused mount point: %v", err)
	}
}

package tests

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLocalEndToEnd is the "done means" as a user would run it.
func TestLocalEndToEnd(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	if !mounted(c.mnt) {
		t.Fatalf("%s is not mounted after alluxio-start.sh local", c.mnt)
	}

	// echo hi > a && cat a, and the file lands in the under-store.
	out := sh(t, fmt.Sprintf("echo hi > %s/a && cat %s/a", c.mnt, c.mnt))
	if out != "hi\n" {
		t.Fatalf("cat printed %q, want %q", out, "hi\n")
	}
	if data, err := os.ReadFile(filepath.Join(c.ufs, "a")); err != nil || string(data) != "hi\n" {
		t.Fatalf("under-store file a: %q, %v", data, err)
	}

	// Overwrite and append through the shell.
	sh(t, fmt.Sprintf("echo a > %[1]s/f; echo b > %[1]s/f; echo c >> %[1]s/f", c.mnt))
	if data, _ := os.ReadFile(filepath.Join(c.mnt, "f")); string(data) != "b\nc\n" {
		t.Fatalf("after overwrite and append: %q, want %q", data, "b\nc\n")
	}

	// cp -r of a source tree in and out round-trips byte for byte.
	src := filepath.Join(t.TempDir(), "src")
	makeTree(t, src)
	sh(t, fmt.Sprintf("cp -r %s %s/tree", src, c.mnt))
	back := filepath.Join(t.TempDir(), "back")
	sh(t, fmt.Sprintf("cp -r %s/tree %s", c.mnt, back))
	sh(t, fmt.Sprintf("diff -r %s %s", src, back))
	sh(t, fmt.Sprintf("diff -r %s %s/tree", src, c.ufs))

	// ls and stat see what was written.
	if out := sh(t, "ls "+c.mnt); !strings.Contains(out, "tree") || !strings.Contains(out, "a") {
		t.Fatalf("ls %s: %q", c.mnt, out)
	}
}

// makeTree writes a small source tree with nested dirs, empty and odd-sized
// files.
func makeTree(t *testing.T, root string) {
	t.Helper()
	sizes := []int{0, 1, 4095, 4096, 65537, 1<<20 - 1, 1 << 20, 3<<20 + 17}
	for i, n := range sizes {
		dir := filepath.Join(root, fmt.Sprintf("d%d", i%3), "sub")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, n)
		rand.Read(data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.bin", i)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
}

// TestSecondReadFromCache checks with the counters that a second read is a
// cache hit: the under-store is not read again.
func TestSecondReadFromCache(t *testing.T) {
	c := newCluster(t, nil)
	data := make([]byte, 8<<20+123)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(c.ufs, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.start()
	p := filepath.Join(c.mnt, "big.bin")
	first, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(first, data) {
		t.Fatalf("first read: %d bytes, %v", len(first), err)
	}
	m1 := c.waitMetrics(func(m map[string]float64) bool { return m["Cluster.BytesReadUfsAll"] >= float64(len(data)) })
	if m1["Cluster.BytesReadUfsAll"] < float64(len(data)) {
		t.Fatalf("after the cold read the under-store counter is %v, want >= %d", m1["Cluster.BytesReadUfsAll"], len(data))
	}
	second, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(second, data) {
		t.Fatalf("second read: %d bytes, %v", len(second), err)
	}
	hit := func(m map[string]float64) bool {
		return m["Cluster.BytesReadCache"] > m1["Cluster.BytesReadCache"] ||
			m["Cluster.PassthroughOpens"] > m1["Cluster.PassthroughOpens"]
	}
	m2 := c.waitMetrics(hit)
	if !hit(m2) {
		t.Fatalf("second read did not show as a cache hit: before %v after %v", m1, m2)
	}
	if m2["Cluster.BytesReadUfsAll"] != m1["Cluster.BytesReadUfsAll"] {
		t.Fatalf("second read went to the under-store: %v -> %v bytes", m1["Cluster.BytesReadUfsAll"], m2["Cluster.BytesReadUfsAll"])
	}
}

// TestRunTests runs Alluxio's runTests against a local cluster.
func TestRunTests(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	out := c.must("alluxio", "runTests")
	if got := strings.Count(out, "Passed the test!"); got != 24 {
		t.Fatalf("runTests passed %d of 24 pairs:\n%s", got, out)
	}
	for _, name := range []string{"BasicFile_CACHE_PROMOTE_MUST_CACHE", "BasicNonByteBuffer_NO_CACHE_ASYNC_THROUGH"} {
		if !strings.Contains(out, name) {
			t.Fatalf("runTests output lacks %s:\n%s", name, out)
		}
	}
	if out := c.must("alluxio", "runTest", "Basic", "CACHE", "THROUGH"); !strings.Contains(out, "Passed the test!") {
		t.Fatalf("runTest Basic CACHE THROUGH: %s", out)
	}
	if _, err := c.run("alluxio", "runTest", "Basic", "CASH", "THROUGH"); err == nil {
		t.Fatal("runTest with a bad read type succeeded")
	}
}

// TestDeletedInUnderStore: a file removed behind the cache's back is
// ENOENT once the sync interval has passed, never stale bytes.
func TestDeletedInUnderStore(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.user.file.metadata.sync.interval": "0",
		"alluxio.fuse.entry.timeout":               "0",
		"alluxio.fuse.attr.timeout":                "0",
	})
	if err := os.WriteFile(filepath.Join(c.ufs, "gone.txt"), []byte("stale bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start()
	p := filepath.Join(c.mnt, "gone.txt")
	if data, err := os.ReadFile(p); err != nil || string(data) != "stale bytes" {
		t.Fatalf("first read: %q %v", data, err)
	}
	if err := os.Remove(filepath.Join(c.ufs, "gone.txt")); err != nil {
		t.Fatal(err)
	}
	_, err := os.ReadFile(p)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("read after delete in the under-store: err %v, want ENOENT", err)
	}
	// A file changed behind our back shows the new bytes.
	if err := os.WriteFile(filepath.Join(c.ufs, "changed.txt"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(c.mnt, "changed.txt")); err != nil || string(data) != "v1" {
		t.Fatalf("read v1: %q %v", data, err)
	}
	time.Sleep(10 * time.Millisecond) // a new mtime
	if err := os.WriteFile(filepath.Join(c.ufs, "changed.txt"), []byte("version 2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(c.mnt, "changed.txt")); err != nil || string(data) != "version 2" {
		t.Fatalf("read after change: %q %v", data, err)
	}
}

// TestBadMountPoints: each refusal names the problem and leaves nothing
// mounted.
func TestBadMountPoints(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	notEmpty := filepath.Join(t.TempDir(), "full")
	os.MkdirAll(filepath.Join(notEmpty, "x"), 0o755)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		name, dir, want string
	}{
		{"missing", filepath.Join(t.TempDir(), "nope"), "no such file"},
		{"not empty", notEmpty, "not empty"},
		{"a file", file, "not a directory"},
		{"already mounted", c.mnt, "already mounted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.run("alluxio-fuse", "mount", tc.dir)
			if err == nil {
				t.Fatalf("mount %s succeeded:\n%s", tc.dir, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("mount %s: error %q does not say %q", tc.dir, out, tc.want)
			}
			if tc.dir != c.mnt && mounted(tc.dir) {
				syscall.Unmount(tc.dir, syscall.MNT_DETACH)
				t.Fatalf("%s was left mounted", tc.dir)
			}
		})
	}
}

// TestKilledFuseDaemon: a FUSE daemon killed with -9 leaves a dead mount
// that alluxio-fuse umount cleans up; a new mount then works.
func TestKilledFuseDaemon(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	pids, _ := filepath.Glob(filepath.Join(c.home, "logs", "fuse-*.pid"))
	if len(pids) != 1 {
		t.Fatalf("want one fuse pid file, got %v", pids)
	}
	data, _ := os.ReadFile(pids[0])
	var pid int
	fmt.Sscan(string(data), &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(c.mnt); errors.Is(err, syscall.ENOTCONN) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(c.mnt); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("after kill -9, stat %s: %v, want ENOTCONN", c.mnt, err)
	}
	if out := c.must("alluxio-fuse", "stat"); !strings.Contains(out, "dead") {
		t.Fatalf("alluxio-fuse stat does not report the dead mount:\n%s", out)
	}
	c.must("alluxio-fuse", "umount", c.mnt)
	if mounted(c.mnt) {
		t.Fatalf("%s still mounted after alluxio-fuse umount", c.mnt)
	}
	c.must("alluxio-fuse", "mount", c.mnt)
	if out := sh(t, fmt.Sprintf("echo again > %s/x && cat %s/x", c.mnt, c.mnt)); out != "again\n" {
		t.Fatalf("after remount: %q", out)
	}
}

// TestStopLeavesNoMount: alluxio-stop.sh local unmounts and stops all three
// processes.
func TestStopLeavesNoMount(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	c.must("alluxio-stop.sh", "local")
	if mounted(c.mnt) {
		t.Fatalf("%s still mounted after alluxio-stop.sh local", c.mnt)
	}
	if _, err := os.Stat(c.mnt); err != nil {
		t.Fatalf("stat %s after stop: %v (a stale mount?)", c.mnt, err)
	}
	for _, pf := range []string{"master.pid", "worker.pid"} {
		if _, err := os.Stat(filepath.Join(c.home, "logs", pf)); err == nil {
			t.Fatalf("%s left behind", pf)
		}
	}
}

// TestCacheFull: a tier much smaller than the data still serves every read
// correctly, by evicting.
func TestCacheFull(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.worker.tieredstore.level0.dirs.quota": "4MB"})
	var files [][]byte
	for i := 0; i < 4; i++ {
		data := make([]byte, 3<<20+i)
		rand.Read(data)
		files = append(files, data)
		os.WriteFile(filepath.Join(c.ufs, fmt.Sprintf("f%d", i)), data, 0o644)
	}
	c.start()
	for round := 0; round < 2; round++ {
		for i, want := range files {
			got, err := os.ReadFile(filepath.Join(c.mnt, fmt.Sprintf("f%d", i)))
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("round %d file %d: %d bytes, err %v", round, i, len(got), err)
			}
		}
	}
	// Writes through a full cache work too.
	big := make([]byte, 6<<20)
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(c.mnt, "w.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(c.ufs, "w.bin")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("written file in the under-store: %d bytes, %v", len(got), err)
	}
}

// TestBadProperty: a malformed value stops start-up with the key named.
func TestBadProperty(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.user.file.readtype.default": "CASH"})
	out, err := c.run("alluxio-start.sh", "local")
	if err == nil {
		t.Fatalf("start with a bad property succeeded:\n%s", out)
	}
	if !strings.Contains(out, "alluxio.user.file.readtype.default") {
		t.Fatalf("error does not name the key:\n%s", out)
	}
	if mounted(c.mnt) {
		t.Fatal("something was mounted")
	}
}

// TestMountHelper mounts with mount(8) through mount.fuse.alluxio, as an
// /etc/fstab line would.
func TestMountHelper(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	mp := filepath.Join(t.TempDir(), "m2")
	os.MkdirAll(mp, 0o755)
	helper := "/sbin/mount.fuse.alluxio"
	if _, err := os.Lstat(helper); err != nil {
		if err := os.Symlink(filepath.Join(c.home, "bin", "mount.fuse.alluxio"), helper); err != nil {
			t.Skipf("cannot install %s: %v", helper, err)
		}
		t.Cleanup(func() { os.Remove(helper) })
	}
	cmd := exec.Command("mount", "-t", "fuse.alluxio", "alluxio:/", mp, "-o", "allow_other,_netdev")
	cmd.Env = c.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mount -t fuse.alluxio: %v\n%s", err, out)
	}
	t.Cleanup(func() { c.run("alluxio-fuse", "umount", mp) })
	sh(t, fmt.Sprintf("echo via-helper > %s/h.txt", mp))
	if data, err := os.ReadFile(filepath.Join(c.mnt, "h.txt")); err != nil || string(data) != "via-helper\n" {
		t.Fatalf("file written through the helper's mount, read through the first mount: %q %v", data, err)
	}
	c.must("alluxio-fuse", "umount", mp)
	if mounted(mp) {
		t.Fatalf("%s still mounted", mp)
	}

	// The same through an fstab line.
	fstab := filepath.Join(t.TempDir(), "fstab")
	line := fmt.Sprintf("alluxio:/  %s  fuse.alluxio  allow_other,_netdev,nofail  0 0\n", mp)
	os.WriteFile(fstab, []byte(line), 0o644)
	cmd = exec.Command("mount", "-T", fstab, mp)
	cmd.Env = c.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mount -T fstab %s: %v\n%s", mp, err, out)
	}
	if data, err := os.ReadFile(filepath.Join(mp, "h.txt")); err != nil || string(data) != "via-helper\n" {
		t.Fatalf("read through the fstab mount: %q %v", data, err)
	}
	c.must("alluxio-fuse", "umount", mp)
}

// TestWorkerRestart: the FUSE daemon reconnects to a restarted worker and
// reads and writes go on; a file written before the restart is intact.
func TestWorkerRestart(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	data := make([]byte, 3<<20+1)
	rand.Read(data)
	p := filepath.Join(c.mnt, "before.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio-stop.sh", "worker")
	c.must("alluxio-start.sh", "worker")
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after worker restart: %d bytes, %v", len(got), err)
	}
	if err := os.WriteFile(filepath.Join(c.mnt, "after.txt"), []byte("after"), 0o644); err != nil {
		t.Fatalf("write after worker restart: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(c.ufs, "after.txt")); string(got) != "after" {
		t.Fatalf("under-store after restart: %q", got)
	}
}

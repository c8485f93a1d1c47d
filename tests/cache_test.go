package tests

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCacheCommands drives alluxio fs load|free|pin|unpin|persist|location|
// setTtl|unsetTtl against a running cluster and checks their effect on
// the worker's cache and the under-store.
func TestCacheCommands(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.master.ttl.checker.interval": "500ms"})
	c.start()
	webPort := c.props["alluxio.worker.web.port"]
	local := filepath.Join(c.home, "src.bin")
	data := make([]byte, 3<<20)
	rand.Read(data)
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitPages := func(what string, ok func(int64) bool) int64 {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			n := workerPages(t, webPort)
			if ok(n) {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the worker caches %d pages", what, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A file written MUST_CACHE lives only on the worker: stat says where,
	// free refuses, persist writes it out.
	c.must("alluxio", "-Dalluxio.user.file.writetype.default=MUST_CACHE", "fs", "copyFromLocal", local, "/only-cached")
	st := c.must("alluxio", "fs", "stat", "/only-cached")
	workerAddr := "127.0.0.1:" + c.props["alluxio.worker.rpc.port"]
	if !strings.Contains(st, "persisted=false") || !strings.Contains(st, "location="+workerAddr) {
		t.Fatalf("stat of a MUST_CACHE file:\n%s", st)
	}
	if out, err := c.run("alluxio", "fs", "free", "/only-cached"); err == nil || !strings.Contains(out, "not persisted") {
		t.Fatalf("free of a file held only in cache: err %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(c.ufs, "only-cached")); err == nil {
		t.Fatal("a MUST_CACHE file reached the under-store")
	}
	if out := c.must("alluxio", "fs", "persist", "/only-cached"); !strings.Contains(out, "persisted file /only-cached") {
		t.Fatalf("persist: %s", out)
	}
	if got, err := os.ReadFile(filepath.Join(c.ufs, "only-cached")); err != nil || string(got) != string(data) {
		t.Fatalf("after persist the under-store file is wrong (err %v, %d bytes)", err, len(got))
	}
	if st := c.must("alluxio", "fs", "stat", "/only-cached"); !strings.Contains(st, "persisted=true") {
		t.Fatalf("stat after persist:\n%s", st)
	}

	// load fills the cache, free empties it.
	if err := os.WriteFile(filepath.Join(c.ufs, "cold.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "free", "/only-cached")
	waitPages("after free", func(n int64) bool { return n == 0 })
	if out := c.must("alluxio", "fs", "load", "/cold.bin"); !strings.Contains(out, "/cold.bin loaded") {
		t.Fatalf("load: %s", out)
	}
	waitPages("after load", func(n int64) bool { return n == 3 })
	if out := c.must("alluxio", "fs", "location", "/cold.bin"); !strings.Contains(out, workerAddr) {
		t.Fatalf("location: %s", out)
	}

	// A pinned file cannot be freed until unpinned.
	c.must("alluxio", "fs", "pin", "/cold.bin")
	if st := c.must("alluxio", "fs", "stat", "/cold.bin"); !strings.Contains(st, "pinned=true") {
		t.Fatalf("stat after pin:\n%s", st)
	}
	if out, err := c.run("alluxio", "fs", "free", "/cold.bin"); err == nil || !strings.Contains(out, "pinned") {
		t.Fatalf("free of a pinned file: err %v\n%s", err, out)
	}
	c.must("alluxio", "fs", "unpin", "/cold.bin")
	c.must("alluxio", "fs", "free", "/cold.bin")
	waitPages("after unpin and free", func(n int64) bool { return n == 0 })

	// TTL: FREE drops the cache and keeps the file, DELETE removes it
	// from the namespace and the under-store.
	c.must("alluxio", "fs", "load", "/cold.bin")
	waitPages("after the second load", func(n int64) bool { return n == 3 })
	c.must("alluxio", "fs", "setTtl", "--action", "FREE", "/cold.bin", "1s")
	waitPages("after a FREE TTL", func(n int64) bool { return n == 0 })
	if st := c.must("alluxio", "fs", "stat", "/cold.bin"); !strings.Contains(st, "ttl=-1") {
		t.Fatalf("a FREE TTL that fired is not cleared:\n%s", st)
	}
	c.must("alluxio", "fs", "setTtl", "/only-cached", "100ms")
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := os.Stat(filepath.Join(c.ufs, "only-cached"))
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a DELETE TTL did not remove the file from the under-store")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.run("alluxio", "fs", "stat", "/only-cached"); err == nil {
		t.Fatal("a file whose DELETE TTL passed is still in the namespace")
	}
	// unsetTtl keeps a file past its TTL.
	c.must("alluxio", "fs", "setTtl", "/cold.bin", "1h")
	c.must("alluxio", "fs", "unsetTtl", "/cold.bin")
	if st := c.must("alluxio", "fs", "stat", "/cold.bin"); !strings.Contains(st, "ttl=-1") {
		t.Fatalf("stat after unsetTtl:\n%s", st)
	}
	// Bad input names the culprit.
	if out, err := c.run("alluxio", "fs", "setTtl", "/cold.bin", "soon"); err == nil || !strings.Contains(out, `"soon"`) {
		t.Fatalf("setTtl with a bad TTL: err %v\n%s", err, out)
	}
	if out, err := c.run("alluxio", "fs", "setTtl", "--action", "EXPLODE", "/cold.bin", "1s"); err == nil || !strings.Contains(out, "EXPLODE") {
		t.Fatalf("setTtl with a bad action: err %v\n%s", err, out)
	}
}

// workerMetric reads one counter of the worker whose web port is given.
func workerMetric(t *testing.T, webPort, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + webPort + "/api/v1/worker/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]float64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	v, ok := m[name]
	if !ok {
		t.Fatalf("worker metrics have no %s", name)
	}
	return v
}

// killWorker stops the cluster's own worker with SIGKILL.
func (c *cluster) killWorker() {
	c.t.Helper()
	data, err := os.ReadFile(filepath.Join(c.home, "logs", "worker.pid"))
	if err != nil {
		c.t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWorkerRestartKeepsData kills the worker with -9 and starts it again:
// cached pages are found again and served as hits, a MUST_CACHE file
// (whose only copy is the cache) survives, and an ASYNC_THROUGH file whose
// upload kept failing is uploaded by the restarted worker.
func TestWorkerRestartKeepsData(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	webPort := c.props["alluxio.worker.web.port"]
	data := make([]byte, 3<<20+4321)
	rand.Read(data)
	local := filepath.Join(c.home, "src.bin")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.ufs, "cold.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "load", "/cold.bin")
	c.must("alluxio", "-Dalluxio.user.file.writetype.default=MUST_CACHE", "fs", "copyFromLocal", local, "/only-cached")

	// An ASYNC_THROUGH file whose under-store directory is read-only: its
	// upload fails and is retried.
	c.must("alluxio", "fs", "mkdir", "/async")
	ro := filepath.Join(c.ufs, "async")
	sh(t, fmt.Sprintf("mount --bind %[1]s %[1]s && mount -o remount,bind,ro %[1]s", ro))
	roMounted := true
	unmountRO := func() {
		if roMounted {
			syscall.Unmount(ro, syscall.MNT_DETACH)
			roMounted = false
		}
	}
	t.Cleanup(unmountRO)
	c.must("alluxio", "-Dalluxio.user.file.writetype.default=ASYNC_THROUGH", "fs", "copyFromLocal", local, "/async/f")
	time.Sleep(500 * time.Millisecond) // a few failed attempts
	if st := c.must("alluxio", "fs", "stat", "/async/f"); !strings.Contains(st, "persisted=false") {
		t.Fatalf("the upload into a read-only directory succeeded?\n%s", st)
	}

	c.killWorker()
	unmountRO()
	c.must("alluxio-start.sh", "worker")

	// The async upload resumes.
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := os.ReadFile(filepath.Join(ro, "f"))
		if err == nil && bytes.Equal(got, data) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted worker did not upload the ASYNC_THROUGH file (err %v, %d bytes)", err, len(got))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := c.must("alluxio", "fs", "stat", "/async/f"); !strings.Contains(st, "persisted=true") {
		t.Fatalf("uploaded but not marked persisted:\n%s", st)
	}

	// The cached-only file and the loaded file read back from the cache.
	dropCaches(t)
	for _, name := range []string{"only-cached", "cold.bin"} {
		got, err := os.ReadFile(filepath.Join(c.mnt, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after the worker restart: err %v, %d bytes", name, err, len(got))
		}
	}
	if n := workerMetric(t, webPort, "Worker.BytesReadUfsAll"); n != 0 {
		t.Errorf("the restarted worker read %v bytes from the under-store; its cache should have served them", n)
	}
	if n := workerMetric(t, webPort, "Worker.BlocksCached"); n < 8 {
		t.Errorf("the restarted worker caches %v pages, want at least 8", n)
	}
}

// TestTieredWorkerChecksum runs a worker with a MEM and an SSD level: a
// file too big for MEM is cached on SSD, the report shows both levels, and
// a byte corrupted on the SSD copy is caught by the page checksum and
// fetched again, so a reader still gets the right bytes.
func TestTieredWorkerChecksum(t *testing.T) {
	c := newCluster(t, nil)
	ssd := filepath.Join(c.home, "ssd")
	if err := os.MkdirAll(ssd, 0o755); err != nil {
		t.Fatal(err)
	}
	c.props["alluxio.worker.tieredstore.levels"] = "2"
	c.props["alluxio.worker.tieredstore.level0.dirs.quota"] = "4MB"
	c.props["alluxio.worker.tieredstore.level1.alias"] = "SSD"
	c.props["alluxio.worker.tieredstore.level1.dirs.path"] = ssd
	c.props["alluxio.worker.tieredstore.level1.dirs.quota"] = "64MB"
	c.writeConf()
	c.start()
	data := make([]byte, 16<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(c.ufs, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "load", "/big.bin")

	report := c.waitReport("Tier 1 SSD "+ssd+": capacity 64.00MB, used 16.00MB", 15*time.Second)
	if !strings.Contains(report, "Tier 0 MEM") {
		t.Fatalf("the report does not show the MEM level:\n%s", report)
	}

	// Corrupt one byte of the cached copy.
	backing, _ := filepath.Glob(filepath.Join(ssd, "alluxioworker", "*"))
	var target string
	for _, b := range backing {
		if !strings.HasSuffix(b, ".pages") {
			target = b
		}
	}
	if target == "" {
		t.Fatalf("no backing file on the SSD level: %v", backing)
	}
	f, err := os.OpenFile(target, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	const at = 5<<20 + 7
	if _, err := f.WriteAt([]byte{data[at] ^ 0xff}, at); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// A client on a node without a worker reads over TCP, page by page.
	out, err := c.run("alluxio", "-Dalluxio.worker.data.server.domain.socket.address="+filepath.Join(c.home, "none.sock"),
		"fs", "cat", "/big.bin")
	if err != nil {
		t.Fatalf("cat: %v\n%s", err, tail(out, 5))
	}
	if !bytes.Equal([]byte(out), data) {
		t.Fatalf("cat returned %d bytes, not the file's", len(out))
	}
	if n := workerMetric(t, c.props["alluxio.worker.web.port"], "Worker.ChecksumErrors"); n != 1 {
		t.Fatalf("the worker counts %v checksum errors, want 1", n)
	}
}

// TestFullCacheDisk gives the worker a tier directory on a 2 MiB tmpfs
// that claims 64 MB: writes into it fail, the worker reports the directory
// failed, and reads go on from the under-store with the right bytes.
func TestFullCacheDisk(t *testing.T) {
	tiny := t.TempDir()
	sh(t, "mount -t tmpfs -o size=2m tmpfs "+tiny)
	t.Cleanup(func() { syscall.Unmount(tiny, syscall.MNT_DETACH) }) // runs after the cluster stops
	c := newCluster(t, map[string]string{
		"alluxio.worker.tieredstore.level0.dirs.path":  tiny,
		"alluxio.worker.tieredstore.level0.dirs.quota": "64MB",
	})
	c.start()
	data := make([]byte, 8<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(c.ufs, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	noWorker := "-Dalluxio.worker.data.server.domain.socket.address=" + filepath.Join(c.home, "none.sock")
	for i := 0; i < 2; i++ {
		out, err := c.run("alluxio", noWorker, "fs", "cat", "/big.bin")
		if err != nil || !bytes.Equal([]byte(out), data) {
			t.Fatalf("cat %d with a full cache disk: err %v, %d bytes\n%s", i, err, len(out), tail(out, 3))
		}
		got, err := os.ReadFile(filepath.Join(c.mnt, "big.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d through the mount with a full cache disk: err %v, %d bytes", i, err, len(got))
		}
	}
	if report := c.waitReport("FAILED", 15*time.Second); !strings.Contains(report, "Tier 0 MEM "+tiny) {
		t.Fatalf("the report does not show the full tier directory as failed:\n%s", report)
	}
}

// TestWriteWithoutLocalWorker: a client on a node with no worker of its
// own writes through the cluster (the home worker of the file's first
// block), with and without the under-store.
func TestWriteWithoutLocalWorker(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	noWorker := "-Dalluxio.worker.data.server.domain.socket.address=" + filepath.Join(c.home, "none.sock")
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	local := filepath.Join(c.home, "src.bin")
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", noWorker, "fs", "copyFromLocal", local, "/through")
	c.must("alluxio", noWorker, "-Dalluxio.user.file.writetype.default=MUST_CACHE", "fs", "copyFromLocal", local, "/cached")
	if got, err := os.ReadFile(filepath.Join(c.ufs, "through")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("CACHE_THROUGH from a node without a worker: under-store file err %v, %d bytes", err, len(got))
	}
	worker := "127.0.0.1:" + c.props["alluxio.worker.rpc.port"]
	if st := c.must("alluxio", "fs", "stat", "/cached"); !strings.Contains(st, "location="+worker) {
		t.Fatalf("MUST_CACHE from a node without a worker:\n%s", st)
	}
	for _, name := range []string{"through", "cached"} {
		if got, err := os.ReadFile(filepath.Join(c.mnt, name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s read through the mount: err %v, %d bytes", name, err, len(got))
		}
	}
}

// TestFailedAppendKeepsFile: an append the worker cannot take (MUST_CACHE
// into a tier smaller than the file) fails at the write, and the file
// stays as it was, in the namespace and in the under-store: not emptied,
// nor left incomplete.
func TestFailedAppendKeepsFile(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.worker.tieredstore.level0.dirs.quota": "4MB",
		"alluxio.user.file.writetype.default":          "MUST_CACHE",
	})
	c.start()
	data := make([]byte, 12<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(c.ufs, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(c.mnt, "big.bin")
	if werr, cerr := appendTo(t, p, []byte("more")); !errors.Is(werr, syscall.ENOSPC) {
		t.Errorf("append of a 12 MiB file into a 4 MB tier: write %v, close %v; want ENOSPC from the write", werr, cerr)
	}
	st, err := c.run("alluxio", "fs", "stat", "/big.bin")
	if err != nil || !strings.Contains(st, "length=12582912") || !strings.Contains(st, "completed=true") {
		t.Errorf("stat after the failed append (%v):\n%s", err, st)
	}
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, data) {
		t.Errorf("read through the mount after the failed append: %d bytes, %v; want the %d before it", len(got), err, len(data))
	}
	if got, err := os.ReadFile(filepath.Join(c.ufs, "big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the under-store's file after the failed append: %d bytes, %v", len(got), err)
	}
}

// TestAsyncRewritePersists: an ASYNC_THROUGH write into a file already in
// the under-store reaches it too. The persist used to start before the
// writer completed the new version, take it for superseded (a rewrite says
// persisted until completed), and drop it: the bytes stayed in the cache
// only, unpinned.
func TestAsyncRewritePersists(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.user.file.writetype.default": "ASYNC_THROUGH"})
	c.start()
	p := filepath.Join(c.mnt, "f")
	want := make([]byte, 3<<20)
	rand.Read(want)
	inUfs := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := os.ReadFile(filepath.Join(c.ufs, "f"))
			if err == nil && bytes.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the under-store holds %d bytes (%v), not the %d written, 30 s after the close", what, len(got), err, len(want))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	inUfs("new file")
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte("rewritten")
	if _, err := f.WriteAt(patch, 1<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	copy(want[1<<20:], patch)
	inUfs("rewrite")
	mustAppend(t, p, patch)
	want = append(want, patch...)
	inUfs("append")
	if st := c.must("alluxio", "fs", "stat", "/f"); !strings.Contains(st, "persisted=true") {
		t.Errorf("stat after the persists:\n%s", st)
	}
}

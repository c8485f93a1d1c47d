package tests

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// extraWorker is a worker started beside a cluster's own, from its own
// configuration directory, as a second worker on one host is run.
type extraWorker struct {
	c       *cluster
	confDir string
	logsDir string
	props   map[string]string
}

// addWorker lays out and starts worker n (2, 3, ...) of cluster c: its own
// ports, tier directory, socket and logs, the cluster's other properties.
func addWorker(c *cluster, n int) *extraWorker {
	c.t.Helper()
	dir := filepath.Join(c.home, fmt.Sprintf("worker%d", n))
	// The logs dir is the cluster's: the start script names the pid file
	// of a second worker of the host after its RPC port.
	w := &extraWorker{c: c, confDir: filepath.Join(dir, "conf"), logsDir: filepath.Join(c.home, "logs"), props: map[string]string{}}
	for k, v := range c.props {
		w.props[k] = v
	}
	for k, v := range map[string]string{
		"alluxio.worker.rpc.port":                          fmt.Sprint(freePort(c.t)),
		"alluxio.worker.web.port":                          fmt.Sprint(freePort(c.t)),
		"alluxio.worker.membership.port":                   fmt.Sprint(freePort(c.t)),
		"alluxio.worker.data.server.domain.socket.address": filepath.Join(dir, "run", "worker.sock"),
		"alluxio.worker.tieredstore.level0.dirs.path":      filepath.Join(dir, "shm"),
	} {
		w.props[k] = v
	}
	for _, d := range []string{w.confDir, filepath.Join(dir, "shm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
	}
	var b strings.Builder
	for k, v := range w.props {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	if err := os.WriteFile(filepath.Join(w.confDir, "alluxio-site.properties"), []byte(b.String()), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(w.cleanup)
	w.must("alluxio-start.sh", "worker")
	return w
}

func (w *extraWorker) must(name string, args ...string) string {
	w.c.t.Helper()
	cmd := exec.Command(filepath.Join(w.c.home, "bin", name), args...)
	cmd.Env = append(w.c.env(), "ALLUXIO_CONF_DIR="+w.confDir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		w.c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (w *extraWorker) pid() int {
	data, err := os.ReadFile(filepath.Join(w.logsDir, "worker-"+w.props["alluxio.worker.rpc.port"]+".pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	return pid
}

// kill stops the worker with SIGKILL and waits until it is gone.
func (w *extraWorker) kill() {
	pid := w.pid()
	if pid <= 0 {
		w.c.t.Fatal("worker has no pid file")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

func (w *extraWorker) cleanup() {
	if pid := w.pid(); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if w.c.t.Failed() {
		name := "worker-" + w.props["alluxio.worker.rpc.port"] + ".log"
		if data, err := os.ReadFile(filepath.Join(w.logsDir, name)); err == nil {
			w.c.t.Logf("---- %s ----\n%s", name, tail(string(data), 40))
		}
	}
}

// workerPages reads the cached page count of the worker whose web port is
// given.
func workerPages(t *testing.T, webPort string) int64 {
	t.Helper()
	return int64(workerMetric(t, webPort, "Worker.BlocksCached"))
}

// waitReport waits until alluxio fsadmin report says want.
func (c *cluster) waitReport(want string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := c.must("alluxio", "fsadmin", "report")
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("fsadmin report never said %q:\n%s", want, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// dropCaches makes the next reads through the mount reach the FUSE daemon.
func dropCaches(t *testing.T) {
	t.Helper()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerCluster runs a master, three workers and a FUSE daemon as
// separate processes: a data set read through the mount is spread over all
// three workers' caches, and readers keep getting every byte right while
// one worker is killed.
func TestWorkerCluster(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.user.block.size.bytes.default": "1MB",
		"alluxio.master.worker.timeout":         "5s",
	})
	c.start()
	w2 := addWorker(c, 2)
	w3 := addWorker(c, 3)

	// Wait for the workers to find each other (and the master to hear of them).
	c.waitReport("Live Workers: 3", 30*time.Second)

	// A data set written straight into the under-store.
	const files, size = 6, 6 << 20
	want := map[string][32]byte{}
	for i := 0; i < files; i++ {
		data := make([]byte, size)
		rand.Read(data)
		name := fmt.Sprintf("data-%d.bin", i)
		if err := os.WriteFile(filepath.Join(c.ufs, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = sha256.Sum256(data)
	}
	readAll := func() []string {
		var bad []string
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(c.mnt, n))
			switch {
			case err != nil:
				bad = append(bad, fmt.Sprintf("%s: %v", n, err))
			case sha256.Sum256(data) != want[n]:
				bad = append(bad, fmt.Sprintf("%s: wrong bytes (%d read)", n, len(data)))
			}
		}
		return bad
	}
	if bad := readAll(); len(bad) > 0 {
		t.Fatalf("first read through the mount: %v", bad)
	}

	// Every worker caches a share of the pages (counted live, not from
	// heartbeats; a file whose blocks all live on the local worker is
	// cached by a background fill, hence the wait).
	webPorts := []string{c.props["alluxio.worker.web.port"], w2.props["alluxio.worker.web.port"], w3.props["alluxio.worker.web.port"]}
	var pages []int64
	for deadline := time.Now().Add(15 * time.Second); ; {
		pages = pages[:0]
		var total int64
		for _, p := range webPorts {
			n := workerPages(t, p)
			pages = append(pages, n)
			total += n
		}
		if (total >= files*size>>20 && !slices.Contains(pages, 0)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("pages cached per worker after the first read: %v", pages)
	if slices.Contains(pages, 0) {
		t.Errorf("a worker caches no pages after the read: pages per worker %v", pages)
	}
	if total := pages[0] + pages[1] + pages[2]; total < files*size>>20 {
		t.Errorf("the workers cache %d pages in all (%v), want %d", total, pages, files*size>>20)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Readers loop over the data set while worker 3 is killed.
	var (
		mu     sync.Mutex
		bad    []string
		rounds int
		stop   = make(chan struct{})
		wg     sync.WaitGroup
	)
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				dropCaches(t)
				b := readAll()
				mu.Lock()
				bad = append(bad, b...)
				rounds++
				mu.Unlock()
			}
		}()
	}
	waitRounds := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			r := rounds
			mu.Unlock()
			if r >= n || time.Now().After(deadline) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitRounds(2)
	w3.kill()
	mu.Lock()
	after := rounds
	mu.Unlock()
	waitRounds(after + 6)
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("readers saw errors or wrong bytes around the kill:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("%d read rounds before the kill, %d after", after, rounds-after)
	if rounds < after+6 {
		t.Fatalf("only %d read rounds after the kill", rounds-after)
	}

	// The master forgets the dead worker once its heartbeats stop for
	// alluxio.master.worker.timeout; reads went on meanwhile.
	c.waitReport("Live Workers: 2", 60*time.Second)
	dropCaches(t)
	if b := readAll(); len(b) > 0 {
		t.Fatalf("read after the kill: %v", b)
	}

	// alluxio-stop.sh worker with worker 2's configuration stops worker 2
	// only.
	pid2 := w2.pid()
	w2.must("alluxio-stop.sh", "worker")
	if syscall.Kill(pid2, 0) == nil {
		t.Fatal("alluxio-stop.sh worker left worker 2 running")
	}
	data, _ := os.ReadFile(filepath.Join(c.home, "logs", "worker.pid"))
	var pid1 int
	fmt.Sscan(string(data), &pid1)
	if pid1 <= 0 || syscall.Kill(pid1, 0) != nil {
		t.Fatal("stopping worker 2 stopped the cluster's own worker")
	}
}

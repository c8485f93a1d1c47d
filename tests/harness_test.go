// Package tests holds the system tests: they build the real binaries, start
// a master, a worker and a FUSE daemon as separate processes with the
// project's own start script, and drive the mount with ordinary programs.
// They need root and /dev/fuse, and clean up (unmount, stop by PID) even
// when they fail.
package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/internal/testport"
)

// binDir holds the binaries and scripts built once for the whole run.
var binDir string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			fmt.Println("system tests need root and /dev/fuse; skipping")
			return 0
		}
		dir, err := os.MkdirTemp("", "alluxio-systest-bin")
		if err != nil {
			fmt.Println(err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
			fmt.Println("build:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles the commands and copies the scripts, as `make build` does.
func build(dir string) error {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	// ALLUXIO_TEST_BUILDFLAGS=-race runs the daemons under the race detector.
	extra := strings.Fields(os.Getenv("ALLUXIO_TEST_BUILDFLAGS"))
	for _, c := range []string{"alluxio", "alluxio-fuse"} {
		args := append(append([]string{"build"}, extra...), "-o", filepath.Join(dir, c), "./cli/cmd/"+c)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", c, err, out)
		}
	}
	for _, s := range []string{"alluxio-start.sh", "alluxio-stop.sh", "mount.fuse.alluxio"} {
		data, err := os.ReadFile(filepath.Join(root, "packaging", "bin", s))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, s), data, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// cluster is one local-mode installation: its own ALLUXIO_HOME, ports,
// under-store, tier directory and mount point.
type cluster struct {
	t       *testing.T
	home    string
	ufs     string
	mnt     string
	webPort int
	props   map[string]string
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no other caller in this process has been given (testport.Free).
func freePort(t *testing.T) int {
	t.Helper()
	port, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// newCluster lays out an installation; props override the generated
// alluxio-site.properties. It is started by start().
func newCluster(t *testing.T, props map[string]string) *cluster {
	t.Helper()
	home := t.TempDir()
	// Other users must reach the mount point (allow_other tests).
	os.Chmod(filepath.Dir(home), 0o755)
	os.Chmod(home, 0o755)
	c := &cluster{t: t, home: home, ufs: filepath.Join(home, "ufs"), mnt: filepath.Join(home, "mnt")}
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(binDir)
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(binDir, e.Name()), filepath.Join(home, "bin", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{c.ufs, c.mnt, filepath.Join(home, "conf"), filepath.Join(home, "shm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c.webPort = freePort(t)
	c.props = map[string]string{
		"alluxio.master.hostname":                          "127.0.0.1",
		"alluxio.worker.hostname":                          "127.0.0.1",
		"alluxio.master.rpc.port":                          fmt.Sprint(freePort(t)),
		"alluxio.master.web.port":                          fmt.Sprint(c.webPort),
		"alluxio.master.embedded.journal.port":             fmt.Sprint(freePort(t)),
		"alluxio.worker.rpc.port":                          fmt.Sprint(freePort(t)),
		"alluxio.worker.web.port":                          fmt.Sprint(freePort(t)),
		"alluxio.worker.membership.port":                   fmt.Sprint(freePort(t)),
		"alluxio.master.mount.table.root.ufs":              c.ufs,
		"alluxio.worker.tieredstore.level0.dirs.path":      filepath.Join(home, "shm"),
		"alluxio.worker.tieredstore.level0.dirs.quota":     "256MB",
		"alluxio.fuse.mount.point":                         c.mnt,
		"alluxio.user.rpc.retry.max.duration":              "5s",
		"alluxio.worker.data.server.domain.socket.address": filepath.Join(home, "run", "worker.sock"),
	}
	for k, v := range props {
		c.props[k] = v
	}
	c.writeConf()
	t.Cleanup(c.cleanup)
	return c
}

func (c *cluster) writeConf() {
	keys := make([]string, 0, len(c.props))
	for k := range c.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, c.props[k])
	}
	if err := os.WriteFile(filepath.Join(c.home, "conf", "alluxio-site.properties"), []byte(b.String()), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// env is the environment the scripts and commands run with.
func (c *cluster) env() []string {
	return append(withoutAlluxioEnv(), "ALLUXIO_HOME="+c.home)
}

// run runs one of the installation's commands and returns its output.
func (c *cluster) run(name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.home, "bin", name), args...)
	cmd.Env = c.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs a command and fails the test if it fails.
func (c *cluster) must(name string, args ...string) string {
	c.t.Helper()
	out, err := c.run(name, args...)
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (c *cluster) start() {
	c.t.Helper()
	c.must("alluxio-start.sh", "local")
}

// cleanup stops everything and makes sure no mount is left behind, even
// when the test failed half way.
func (c *cluster) cleanup() {
	c.run("alluxio-stop.sh", "local")
	if mounted(c.mnt) {
		syscall.Unmount(c.mnt, syscall.MNT_DETACH)
	}
	for _, pf := range []string{"master.pid", "worker.pid"} {
		if data, err := os.ReadFile(filepath.Join(c.home, "logs", pf)); err == nil {
			var pid int
			fmt.Sscan(string(data), &pid)
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
	for _, l := range logs {
		if data, err := os.ReadFile(l); err == nil && bytes.Contains(data, []byte("WARNING: DATA RACE")) {
			c.t.Errorf("%s reports a data race:\n%s", filepath.Base(l), tail(string(data), 80))
		}
	}
	if c.t.Failed() {
		for _, l := range []string{"master.log", "worker.log"} {
			if data, err := os.ReadFile(filepath.Join(c.home, "logs", l)); err == nil {
				c.t.Logf("---- %s ----\n%s", l, tail(string(data), 60))
			}
		}
		if matches, _ := filepath.Glob(filepath.Join(c.home, "logs", "fuse-*.log")); len(matches) > 0 {
			data, _ := os.ReadFile(matches[0])
			c.t.Logf("---- %s ----\n%s", filepath.Base(matches[0]), tail(string(data), 60))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// mounted reports whether dir is in the mount table.
func mounted(dir string) bool {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == dir {
			return true
		}
	}
	return false
}

// metrics reads the master's cluster counters over HTTP.
func (c *cluster) metrics() map[string]float64 {
	c.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/master/metrics", c.webPort))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]float64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// settleDeletes waits until the master has made its deferred
// under-store deletes (Master.UfsDeletesPending is 0).
func (c *cluster) settleDeletes() error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := c.metrics()["Master.UfsDeletesPending"]
		if n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%.0f deferred under-store deletes still pending after 20s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitMetrics waits for a heartbeat to carry the workers' counters.
func (c *cluster) waitMetrics(cond func(map[string]float64) bool) map[string]float64 {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		m := c.metrics()
		if cond(m) || time.Now().After(deadline) {
			return m
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sh runs a shell command line and fails the test on error.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return string(out)
}

// execCommand runs a program and returns its combined output.
func execCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// appendTo appends data to file p with one open, write and close, as a
// shell's >> does, and returns the write's and the close's errors; an
// open that fails fails the test.
func appendTo(t *testing.T, p string, data []byte) (werr, cerr error) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, werr = f.Write(data)
	return werr, f.Close()
}

// mustAppend is appendTo, failing the test on any error.
func mustAppend(t *testing.T, p string, data []byte) {
	t.Helper()
	if werr, cerr := appendTo(t, p, data); werr != nil || cerr != nil {
		t.Fatalf("append %d bytes to %s: write %v, close %v", len(data), p, werr, cerr)
	}
}

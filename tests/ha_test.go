package tests

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"golang.org/x/sys/unix"
)

// haCluster is a highly available installation on 127.0.0.1: three
// masters, each its own ALLUXIO_HOME with its own conf and ports, over one
// shared under-store directory, and a fourth installation (the "client
// host") that runs the worker and the FUSE mount. Every conf lists all
// three masters.
type haCluster struct {
	t       *testing.T
	masters []*cluster
	client  *cluster
	ufs     string
	rpc     []string // RPC address of master i
	journal []string // embedded journal address of master i

	directOnce    sync.Once
	directMasters *client.Masters // see direct
}

// newHACluster lays out the three masters and the client host (see
// newHAClusterWith).
func newHACluster(t *testing.T) *haCluster { return newHAClusterWith(t, nil) }

// start starts the masters one by one with alluxio-start.sh master (each
// waits only until its master answers), then the worker and the mount.
func (h *haCluster) start() {
	h.t.Helper()
	for _, m := range h.masters {
		m.must("alluxio-start.sh", "master")
	}
	h.waitLeader("")
	h.client.must("alluxio-start.sh", "worker")
	h.client.must("alluxio-start.sh", "fuse")
	if !mounted(h.client.mnt) {
		h.t.Fatalf("%s is not mounted", h.client.mnt)
	}
}

// leader returns what `alluxio fs leader` prints on the client host.
func (h *haCluster) leader() string {
	out, err := h.client.run("alluxio", "fs", "leader")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// waitLeader waits until `alluxio fs leader` names a master other than
// not, and returns its index.
func (h *haCluster) waitLeader(not string) int {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if l := h.leader(); l != "" && l != not {
			for i, a := range h.rpc {
				if a == l {
					return i
				}
			}
			h.t.Fatalf("fs leader printed %q, not one of %v", l, h.rpc)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("no leader other than %q within 30s", not)
	return -1
}

// kill kills master i with SIGKILL and waits until it is gone.
func (h *haCluster) kill(i int) {
	h.t.Helper()
	pid := h.pid(i)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		h.t.Fatalf("kill -9 master %d (pid %d): %v", i, pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCaughtUp waits until `alluxio fsadmin report` shows master i with a
// lag of 0 entries behind the leader.
func (h *haCluster) waitCaughtUp(i int) {
	h.t.Helper()
	re := regexp.MustCompile(`Master ` + regexp.QuoteMeta(h.rpc[i]) + ` \(journal [^)]*\): (Leader|Follower), term \d+, last applied \d+, lag 0\n`)
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for time.Now().Before(deadline) {
		var err error
		if out, err = h.client.run("alluxio", "fsadmin", "report"); err == nil && re.MatchString(out) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("master %d did not catch up within 30s; last report:\n%s", i, out)
}

// checkAcked checks every file the loop wrote, through the mount and,
// when ufs is not "", in the under-store.
func checkAcked(t *testing.T, mnt, ufs string, acked map[string][]byte) {
	t.Helper()
	for name, want := range acked {
		dirs := []string{mnt}
		if ufs != "" {
			dirs = append(dirs, ufs)
		}
		for _, d := range dirs {
			if got, err := os.ReadFile(filepath.Join(d, name)); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("acknowledged file %s after the kills, in %s: %d bytes, %v", name, d, len(got), err)
			}
		}
	}
}

// ioLoop writes new files through the mount and reads back earlier ones,
// until stopped, recording every error and the longest single operation.
type ioLoop struct {
	dir  string
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards the fields below
	acked    map[string][]byte
	names    []string
	errs     []string
	maxPause time.Duration
}

func startLoop(dir string) *ioLoop {
	l := &ioLoop{dir: dir, stop: make(chan struct{}), done: make(chan struct{}), acked: map[string][]byte{}}
	go l.run()
	return l
}

func (l *ioLoop) run() {
	defer close(l.done)
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		name := fmt.Sprintf("loop-%05d", i)
		data := []byte(fmt.Sprintf("file %d\n%s", i, strings.Repeat("x", rand.IntN(70000))))
		start := time.Now()
		err := os.WriteFile(filepath.Join(l.dir, name), data, 0o644)
		l.note(start, "write "+name, err)
		if err == nil {
			l.mu.Lock()
			l.acked[name] = data
			l.names = append(l.names, name)
			l.mu.Unlock()
		}
		l.mu.Lock()
		old := l.names[rand.IntN(len(l.names))]
		want := l.acked[old]
		l.mu.Unlock()
		start = time.Now()
		got, err := os.ReadFile(filepath.Join(l.dir, old))
		if err == nil && !bytes.Equal(got, want) {
			err = fmt.Errorf("read %d bytes, want %d", len(got), len(want))
		}
		l.note(start, "read "+old, err)
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *ioLoop) note(start time.Time, op string, err error) {
	d := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maxPause = max(l.maxPause, d)
	if err != nil {
		gone := ""
		if !mounted(l.dir) {
			gone = " (the mount is gone: unmounted from outside, e.g. by another alluxio-stop.sh on this machine?)"
		}
		l.errs = append(l.errs, fmt.Sprintf("%s %s: %v%s", time.Now().Format("15:04:05.000"), op, err, gone))
	}
}

// count returns the number of files written so far.
func (l *ioLoop) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.names)
}

// waitMore waits until n more files were written than at the call.
func (l *ioLoop) waitMore(t *testing.T, n int) {
	t.Helper()
	want := l.count() + n
	deadline := time.Now().Add(30 * time.Second)
	for l.count() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the loop wrote %d files, want %d: stuck", l.count(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops the loop and returns its files and errors.
func (l *ioLoop) finish() (map[string][]byte, []string, time.Duration) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked, l.errs, l.maxPause
}

// TestHAMasters runs three masters as separate processes with a worker and
// a FUSE mount: the leader is killed with -9 twice (a different one each
// time, the first restarted and caught up before the second kill) while a
// read/write loop runs through the mount, which must see only pauses; then
// the quorum commands work against the real group.
func TestHAMasters(t *testing.T) {
	h := newHACluster(t)
	h.start()
	loop := startLoop(h.client.mnt)
	stopped := false
	defer func() {
		if !stopped {
			loop.finish()
		}
	}()
	loop.waitMore(t, 20)

	killed := -1
	for round := 1; round <= 2; round++ {
		l := h.waitLeader("")
		if l == killed {
			t.Logf("round %d: the restarted master %d leads again; killing it (it has caught up)", round, l)
		}
		before := loop.count()
		h.kill(l)
		t.Logf("round %d: killed leader %d (%s) after %d files", round, l, h.rpc[l], before)
		nl := h.waitLeader(h.rpc[l])
		t.Logf("round %d: new leader %d (%s)", round, nl, h.rpc[nl])
		loop.waitMore(t, 20) // writes go on at the new leader
		h.masters[l].must("alluxio-start.sh", "master")
		h.waitCaughtUp(l)
		killed = l
	}

	acked, errs, pause := loop.finish()
	stopped = true
	t.Logf("loop: %d files written, longest operation %v", len(acked), pause)
	if len(errs) > 0 {
		t.Fatalf("the read/write loop saw %d errors across the kills:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	checkAcked(t, h.client.mnt, h.ufs, acked)

	t.Run("exchange", func(t *testing.T) { testGroupExchange(t, h) })
	t.Run("quorum", func(t *testing.T) { testQuorumCommands(t, h) })
}

// testGroupExchange swaps two files through the mount of a group whose
// masters all run this build: the leader asks the other two whether they
// apply an exchange (meta.CommandLevel) before it proposes one, and they
// say so, as a master of an older build would not.
func testGroupExchange(t *testing.T, h *haCluster) {
	m := func(p string) string { return filepath.Join(h.client.mnt, p) }
	for p, data := range map[string]string{"xa": "A", "xb": "B"} {
		if err := os.WriteFile(m(p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Renameat2(unix.AT_FDCWD, m("xa"), unix.AT_FDCWD, m("xb"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatalf("exchange in a group of one build: %v", err)
	}
	for p, data := range map[string]string{"xa": "B", "xb": "A"} {
		for _, at := range []string{m(p), filepath.Join(h.ufs, p)} {
			if b, err := os.ReadFile(at); err != nil || string(b) != data {
				t.Errorf("after the exchange %s holds %q, %v; want %q", at, b, err, data)
			}
		}
	}
}

// testQuorumCommands drives `alluxio fsadmin journal quorum info|elect|
// remove` against the running group.
func testQuorumCommands(t *testing.T, h *haCluster) {
	out := h.client.must("alluxio", "fsadmin", "journal", "quorum", "info")
	if !strings.Contains(out, "Quorum size\t: 3") || strings.Count(out, "AVAILABLE (") != 3 {
		t.Fatalf("quorum info with three live masters:\n%s", out)
	}
	l := h.waitLeader("")
	if !strings.Contains(out, "Quorum leader\t: "+h.journal[l]) {
		t.Errorf("quorum info does not name the leader %s:\n%s", h.journal[l], out)
	}
	for _, j := range h.journal {
		if !regexp.MustCompile(regexp.QuoteMeta(j) + ` +\| .*\| true  \|`).MatchString(out) {
			t.Errorf("quorum info lacks voter %s:\n%s", j, out)
		}
	}

	// Elect a follower.
	target := (l + 1) % 3
	out = h.client.must("alluxio", "fsadmin", "journal", "quorum", "elect", "-address", h.journal[target])
	if !strings.Contains(out, "Successfully elected "+h.journal[target]) {
		t.Fatalf("quorum elect: %s", out)
	}
	if got := h.waitLeader(h.rpc[l]); got != target {
		t.Fatalf("after elect, master %d leads; want %d", got, target)
	}
	if err := os.WriteFile(filepath.Join(h.client.mnt, "after-elect"), []byte("x"), 0o644); err != nil {
		t.Fatalf("write after elect: %v", err)
	}

	// Stop a follower, then remove it, as Alluxio's guide does.
	gone := (target + 1) % 3
	h.masters[gone].must("alluxio-stop.sh", "master")
	out = h.client.must("alluxio", "fsadmin", "journal", "quorum", "remove", "-address", h.journal[gone])
	if !strings.Contains(out, "Removed server at "+h.journal[gone]) {
		t.Fatalf("quorum remove: %s", out)
	}
	out = h.client.must("alluxio", "fsadmin", "journal", "quorum", "info")
	if !strings.Contains(out, "Quorum size\t: 2") || strings.Contains(out, h.journal[gone]) {
		t.Fatalf("quorum info after remove:\n%s", out)
	}
	if err := os.WriteFile(filepath.Join(h.client.mnt, "after-remove"), []byte("y"), 0o644); err != nil {
		t.Fatalf("write with two masters left: %v", err)
	}
	if _, err := h.client.run("alluxio", "fsadmin", "journal", "quorum", "remove", "-address", "127.0.0.1:1"); err == nil {
		t.Error("removing a non-member succeeded")
	}
}

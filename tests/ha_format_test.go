package tests

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
)

// TestHARollingFormat formats a running group of three masters with the
// embedded journal the way a StatefulSet rollout of `helm upgrade --set
// journal.format.runFormat=true` does: master 2, 1, 0 in turn is stopped,
// formatted for one token and started. The old masters keep serving until
// too few are left; once two are formatted they lead an empty namespace;
// the last joins them; and the old files never come back, not even after
// a restart of all three.
func TestHARollingFormat(t *testing.T) {
	const token = "alluxio-revision-2"
	h := newHACluster(t)
	leader := h.startMasters()
	c := h.newClient(30 * time.Second)
	createMany(t, c, "/old", 20)
	for i := range 3 {
		h.waitApplied(i, leader)
	}
	format := func(i int) {
		t.Helper()
		h.masters[i].must("alluxio-stop.sh", "master")
		out := h.masters[i].must("alluxio", "formatJournal", "--token", token)
		if !strings.Contains(out, "Formatted journal") {
			t.Fatalf("formatJournal --token on master %d: %s", i, out)
		}
		h.masters[i].must("alluxio-start.sh", "master")
	}

	format(2)
	h.readyLeader(0, 1)
	if !exists(t, h.newClient(30*time.Second, 0, 1), "/old/f0000") {
		t.Fatal("the two masters not yet formatted lost /old/f0000")
	}

	format(1)
	leader = h.readyLeader(1, 2)
	formatted := h.newClient(30*time.Second, 1, 2)
	// (The directory /old is in the under-store too, which the new
	// namespace loads from; its files were written MUST_CACHE and are
	// namespace entries only.)
	if exists(t, formatted, "/old/f0000") {
		t.Fatal("the formatted masters lead a namespace with /old/f0000 in it")
	}
	createMany(t, formatted, "/new", 10)

	format(0)
	h.waitApplied(0, leader)
	d := h.sameDigest(0, 1, 2)
	if st := h.statusOrFail(0); st.State != "Follower" && st.State != "Leader" {
		t.Errorf("master 0 after its format: %+v", st)
	}
	t.Logf("after the rolling format: index %d, %d entries", d.LastApplied, d.Inodes)

	// Formatting again for the same token changes nothing.
	h.masters[1].must("alluxio-stop.sh", "master")
	if out := h.masters[1].must("alluxio", "formatJournal", "--token", token); !strings.Contains(out, "already formatted for "+token) {
		t.Errorf("formatJournal --token again: %s", out)
	}
	h.masters[1].must("alluxio-start.sh", "master")

	for _, m := range h.masters {
		m.must("alluxio-stop.sh", "master")
	}
	h.startMasters()
	all := h.newClient(30 * time.Second)
	if exists(t, all, "/old/f0000") || !exists(t, all, "/new/f0009") {
		t.Fatal("after a restart of all three: /old/f0000 is back or /new/f0009 is gone")
	}
	h.sameDigest(0, 1, 2)
}

// exists reports whether path is in the namespace, failing the test on
// any answer other than yes or no.
func exists(t *testing.T, c *client.Client, path string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := c.GetStatus(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return true
}

// TestZooKeeperRollingFormat formats the shared folder of a UFS journal
// the way the chart's rollout does, master 2, 1, 0 in turn: the first
// format fences the running leader, and the masters still running on the
// erased journal stop, naming both formats; the formatted master leads an
// empty namespace; the others, formatted for the same token, find it in
// the folder, drop their stale metastores and replay the new journal.
func TestZooKeeperRollingFormat(t *testing.T) {
	const token = "alluxio-revision-2"
	h := newZKCluster(t, t.TempDir(), map[string]string{
		"alluxio.zookeeper.session.timeout":        "2s",
		"alluxio.master.journal.tailer.sleep.time": "100ms",
	})
	h.startMasters()
	createMany(t, h.newClient(30*time.Second), "/old", 20)
	format := func(i int, want string) {
		t.Helper()
		h.masters[i].must("alluxio-stop.sh", "master")
		if out := h.masters[i].must("alluxio", "formatJournal", "--token", token); !strings.Contains(out, want) {
			t.Fatalf("formatJournal --token on master %d: %s", i, out)
		}
		h.masters[i].must("alluxio-start.sh", "master")
	}
	pids := []int{h.pid(0), h.pid(1)}

	format(2, "Formatted journal")
	for i, pid := range pids {
		deadline := time.Now().Add(30 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("master %d still runs on the erased journal 30s after the format", i)
			}
			time.Sleep(50 * time.Millisecond)
		}
		data, _ := os.ReadFile(filepath.Join(h.masters[i].home, "logs", "master.log"))
		if !strings.Contains(string(data), `formatted with token \"`+token+`\"`) {
			t.Errorf("master %d stopped without naming the format:\n%s", i, tail(string(data), 20))
		}
	}
	h.readyLeader(2)
	c := h.newClient(30 * time.Second)
	if exists(t, c, "/old/f0000") {
		t.Fatal("the formatted master leads a namespace with /old/f0000 in it")
	}
	createMany(t, c, "/new", 10)

	format(1, "already formatted for "+token)
	format(0, "already formatted for "+token)
	h.sameDigest(0, 1, 2)
	for i := range 3 {
		c := h.newClient(30*time.Second, i)
		if exists(t, c, "/old/f0000") || !exists(t, c, "/new/f0009") {
			t.Errorf("master %d: /old/f0000 is back or /new/f0009 is missing", i)
		}
	}
}

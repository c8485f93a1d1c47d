package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/internal/zktest"
)

// newZKCluster is three masters on a UFS journal in one shared folder,
// electing their leader through a real ZooKeeper, and a client host (a
// worker and the FUSE mount) that finds the leader through ZooKeeper with
// no master host name or address configured.
func newZKCluster(t *testing.T) (*haCluster, string) {
	t.Helper()
	zk := zktest.Start(t)
	journal := t.TempDir()
	h := &haCluster{t: t, ufs: t.TempDir()}
	zkProps := map[string]string{
		"alluxio.master.journal.type":         "UFS",
		"alluxio.master.journal.folder":       journal,
		"alluxio.zookeeper.enabled":           "true",
		"alluxio.zookeeper.address":           zk.Addr,
		"alluxio.zookeeper.session.timeout":   "3s",
		"alluxio.master.mount.table.root.ufs": h.ufs,
		"alluxio.user.rpc.retry.max.duration": "60s",
	}
	for i := 0; i < 3; i++ {
		port := freePort(t)
		props := map[string]string{"alluxio.master.rpc.port": fmt.Sprint(port)}
		for k, v := range zkProps {
			props[k] = v
		}
		h.masters = append(h.masters, newCluster(t, props))
		h.rpc = append(h.rpc, fmt.Sprintf("127.0.0.1:%d", port))
		h.journal = append(h.journal, journal)
	}
	h.client = newCluster(t, zkProps)
	delete(h.client.props, "alluxio.master.hostname")
	delete(h.client.props, "alluxio.master.rpc.port")
	h.client.writeConf()
	return h, journal
}

// TestZooKeeperMasters runs the UFS journal's high availability as
// Alluxio's cluster guide sets it up: the leader is killed with -9 twice
// under a read/write loop through the mount, which sees only pauses; each
// killed master comes back as a standby and replays; at the end every
// master holds the same namespace at the same journal entry.
func TestZooKeeperMasters(t *testing.T) {
	h, journal := newZKCluster(t)
	h.start()
	loop := startLoop(h.client.mnt)
	stopped := false
	defer func() {
		if !stopped {
			loop.finish()
		}
	}()
	loop.waitMore(t, 20)

	for round := 1; round <= 2; round++ {
		l := h.waitLeader("")
		h.kill(l)
		start := time.Now()
		t.Logf("round %d: killed leader %d (%s) after %d files", round, l, h.rpc[l], loop.count())
		nl := h.waitLeader(h.rpc[l])
		t.Logf("round %d: new leader %d (%s) after %v", round, nl, h.rpc[nl], time.Since(start).Round(time.Millisecond))
		loop.waitMore(t, 20)
		h.masters[l].must("alluxio-start.sh", "master")
	}
	acked, errs, pause := loop.finish()
	stopped = true
	t.Logf("loop: %d files written, longest operation %v", len(acked), pause)
	if len(errs) > 0 {
		t.Fatalf("the read/write loop saw %d errors across the kills:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	for name, want := range acked {
		got, err := os.ReadFile(filepath.Join(h.client.mnt, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("acknowledged file %s after the kills: %d bytes, %v", name, len(got), err)
		}
	}

	// Every master replays to the same entry with the same namespace.
	deadline := time.Now().Add(30 * time.Second)
	var out string
	for {
		var err error
		out, err = h.client.run("alluxio", "fsadmin", "journal", "digest")
		lines := strings.Fields(strings.ReplaceAll(out, "\n", " "))
		if err == nil && len(lines) == 9 && lines[1] == lines[4] && lines[4] == lines[7] &&
			lines[2] == lines[5] && lines[5] == lines[8] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("masters on the UFS journal differ 30s after the last write:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("digests:\n%s", out)

	// One epoch marker per leadership.
	epochs, _ := os.ReadDir(filepath.Join(journal, "epochs"))
	if len(epochs) < 3 {
		t.Errorf("%d epoch markers after two failovers, want at least 3", len(epochs))
	}
	// The Raft quorum commands say why they do not apply.
	if out, err := h.client.run("alluxio", "fsadmin", "journal", "quorum", "info"); err == nil ||
		!strings.Contains(out, "alluxio.master.journal.type") {
		t.Errorf("quorum info on the UFS journal: %v\n%s", err, out)
	}
}

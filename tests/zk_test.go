package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/internal/zktest"
	"github.com/alluxio-go/alluxio/ufs/hdfs/hdfstest"
)

// newZKCluster is three masters on a UFS journal in one shared folder,
// electing their leader through a real ZooKeeper, and a client host (a
// worker and the FUSE mount) that finds the leader through ZooKeeper with
// no master host name or address configured.
func newZKCluster(t *testing.T, journal string, extra map[string]string) *haCluster {
	t.Helper()
	zk := zktest.Start(t)
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
	for k, v := range extra {
		zkProps[k] = v
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
	return h
}

// TestZooKeeperMasters runs the UFS journal's high availability as
// Alluxio's cluster guide sets it up: the leader is killed with -9 twice
// under a read/write loop through the mount, which sees only pauses; each
// killed master comes back as a standby and replays; at the end every
// master holds the same namespace at the same journal entry.
func TestZooKeeperMasters(t *testing.T) {
	journal := t.TempDir()
	h := newZKCluster(t, journal, nil)
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
	checkAcked(t, h.client.mnt, "", acked)

	out := waitSameDigests(t, h)
	t.Logf("digests:\n%s", out)

	// One epoch marker per leadership.
	epochs, _ := os.ReadDir(filepath.Join(journal, "epochs"))
	if len(epochs) < 3 {
		t.Errorf("%d epoch markers after two failovers, want at least 3", len(epochs))
	}
	// The leader's web UI lists the three masters standing in the
	// election, itself as the leader.
	l := h.waitLeader("")
	var ov struct {
		Masters []struct {
			RPCAddr string `json:"rpcAddr"`
			Leader  bool   `json:"leader"`
		} `json:"masters"`
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/api/v1/master/overview", h.masters[l].webPort))
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&ov)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	leaders := 0
	for _, m := range ov.Masters {
		listed = append(listed, m.RPCAddr)
		if m.Leader {
			leaders++
			if m.RPCAddr != h.rpc[l] {
				t.Errorf("web UI shows %s as the leader, want %s", m.RPCAddr, h.rpc[l])
			}
		}
	}
	slices.Sort(listed)
	want := slices.Sorted(slices.Values(h.rpc))
	if !slices.Equal(listed, want) || leaders != 1 {
		t.Errorf("web UI masters %v with %d leaders, want %v with one", listed, leaders, want)
	}
	// The Raft quorum commands say why they do not apply.
	if out, err := h.client.run("alluxio", "fsadmin", "journal", "quorum", "info"); err == nil ||
		!strings.Contains(out, "alluxio.master.journal.type") {
		t.Errorf("quorum info on the UFS journal: %v\n%s", err, out)
	}
}

// TestZooKeeperMastersS3Journal keeps the UFS journal in a bucket of a
// real S3 server: the leader is killed with -9 and the new one carries on
// from the log and checkpoints in the bucket.
func TestZooKeeperMastersS3Journal(t *testing.T) {
	endpoint, bucketDir, _ := startBucket(t, "journal")
	h := newZKCluster(t, "s3://journal/alluxio/", map[string]string{
		"alluxio.master.journal.ufs.option.s3a.accessKeyId":                        s3Key,
		"alluxio.master.journal.ufs.option.s3a.secretKey":                          s3Secret,
		"alluxio.master.journal.ufs.option.alluxio.underfs.s3.endpoint":            endpoint,
		"alluxio.master.journal.ufs.option.alluxio.underfs.s3.disable.dns.buckets": "true",
		"alluxio.master.journal.checkpoint.period.entries":                         "50",
	})
	writeKillRead(t, h)
	// More entries than the checkpoint period: the bucket holds a
	// checkpoint, and the log files it covers are gone.
	cks, _ := os.ReadDir(filepath.Join(bucketDir, "journal", "alluxio", "checkpoints"))
	logs, _ := os.ReadDir(filepath.Join(bucketDir, "journal", "alluxio", "logs"))
	if len(cks) == 0 || len(logs) == 0 || strings.HasPrefix(logs[0].Name(), "00000000000000000001-") {
		t.Errorf("journal in the bucket: %d checkpoints, logs from %v: want a checkpoint and a compacted log", len(cks), logs[:min(1, len(logs))])
	}
	for _, m := range h.masters {
		logs, _ := filepath.Glob(filepath.Join(m.home, "logs", "*.log"))
		for _, lf := range logs {
			if b, _ := os.ReadFile(lf); bytes.Contains(b, []byte(s3Secret)) {
				t.Fatalf("%s contains the S3 secret", lf)
			}
		}
	}
}

// writeKillRead writes files through the mount, kills the leader with
// -9, reads them back through the new one, restarts the killed master and
// waits until every master holds the same namespace.
func writeKillRead(t *testing.T, h *haCluster) {
	t.Helper()
	h.start()
	for i := range 40 {
		if err := os.WriteFile(filepath.Join(h.client.mnt, fmt.Sprintf("f%02d", i)), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := h.waitLeader("")
	h.kill(l)
	h.waitLeader(h.rpc[l])
	for i := range 40 {
		got, err := os.ReadFile(filepath.Join(h.client.mnt, fmt.Sprintf("f%02d", i)))
		if err != nil || string(got) != fmt.Sprint(i) {
			t.Fatalf("f%02d after the failover: %q, %v", i, got, err)
		}
	}
	h.masters[l].must("alluxio-start.sh", "master")
	t.Logf("digests:\n%s", waitSameDigests(t, h))
}

// TestZooKeeperMastersHDFSJournal keeps the UFS journal on HDFS, as
// Alluxio's guide does (alluxio.master.journal.folder=hdfs://...), served
// by the protocol-faithful test namenode and datanodes.
func TestZooKeeperMastersHDFSJournal(t *testing.T) {
	const user = "alluxio"
	srv := startHDFS(t, hdfstest.Config{Datanodes: 1})
	if err := srv.MkdirAll("/alluxio/journal", user, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := srv.HadoopConf(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newZKCluster(t, "hdfs://"+srv.Addr()+"/alluxio/journal", map[string]string{
		"alluxio.underfs.hdfs.configuration":                                conf,
		"alluxio.master.journal.ufs.option.alluxio.security.login.username": user,
		"alluxio.master.journal.checkpoint.period.entries":                  "50",
	})
	writeKillRead(t, h)
	names, err := srv.ReadDir("/alluxio/journal/checkpoints")
	if err != nil || len(names) == 0 {
		t.Errorf("no checkpoint in the HDFS journal folder: %v %v", names, err)
	}
}

// waitSameDigests waits until every master reports the same journal entry
// and namespace digest, and returns the digests.
func waitSameDigests(t *testing.T, h *haCluster) string {
	t.Helper()
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
	return out
}

// TestZooKeeperKillLeader20 is TestHAKillLeader20 on the UFS journal: the
// leader is killed with -9 twenty times in a row under four clients that
// create, rename and delete, with checkpoints and compaction on; every
// call that succeeded is reflected, a failed one is wholly applied or not
// at all, and the masters end with the same digest at the same entry.
func TestZooKeeperKillLeader20(t *testing.T) {
	h := newZKCluster(t, t.TempDir(), map[string]string{
		"alluxio.zookeeper.session.timeout":                "2s",
		"alluxio.master.journal.checkpoint.period.entries": "300",
		"alluxio.master.journal.tailer.sleep.time":         "100ms",
	})
	killLeader20(t, h)
}

// TestZooKeeperStaleLeader stops the leader (SIGSTOP) until ZooKeeper
// gives its place to another master, which takes writes; resumed, the old
// leader, which still believes it leads, acknowledges no write that the
// others do not have (its journal files are fenced by the new epoch).
// Then the whole group is killed and restarted from disk: the namespace is
// the same.
func TestZooKeeperStaleLeader(t *testing.T) {
	h := newZKCluster(t, t.TempDir(), map[string]string{"alluxio.zookeeper.session.timeout": "2s"})
	old := h.startMasters()
	all := h.newClient(30 * time.Second)
	mkdirs(t, all, "/m")
	h.signal(old, syscall.SIGSTOP)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			syscall.Kill(h.pid(old), syscall.SIGCONT)
		}
	})
	var others []int
	for i := range 3 {
		if i != old {
			others = append(others, i)
		}
	}
	next := h.readyLeader(others...)
	t.Logf("master %d stopped; master %d leads", old, next)
	createMany(t, h.newClient(30*time.Second, others...), "/m/majority", 20)

	onlyOld := h.newClient(2*time.Second, old)
	results := make(chan error, 5)
	for i := range 5 {
		p := fmt.Sprintf("/m/to-old-%d", i)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := onlyOld.CreateFile(ctx, p, client.CreateOptions{Mode: 0o644, Exclusive: true})
			results <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)
	h.signal(old, syscall.SIGCONT)
	resumed = true
	acked := 0
	for range 5 {
		if err := <-results; err == nil {
			acked++
		}
	}
	t.Logf("%d of 5 calls through the resumed old leader alone succeeded", acked)
	d := h.sameDigest(0, 1, 2)
	got := listIDs(t, all, "/m")
	if _, ok := got["majority"]; !ok {
		t.Fatalf("/m/majority missing: %v", got)
	}

	// The whole group killed and restarted from disk.
	for i := range 3 {
		h.kill(i)
	}
	for _, m := range h.masters {
		m.must("alluxio-start.sh", "master")
	}
	h.readyLeader(0, 1, 2)
	if after := h.sameDigest(0, 1, 2); after.SHA256 != d.SHA256 || after.LastApplied < d.LastApplied {
		t.Fatalf("after a restart of every master: %d %s, before %d %s", after.LastApplied, after.SHA256, d.LastApplied, d.SHA256)
	}
}

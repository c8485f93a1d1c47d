package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAddMasterToRunningGroup adds a fourth master to a running group of
// three the way Alluxio's guide does: its own configuration lists all four
// journal and RPC addresses, the others are left as they are. The new
// master joins (quorum info lists four voters), catches up, and the group
// takes writes after its leader is killed.
func TestAddMasterToRunningGroup(t *testing.T) {
	h := newHACluster(t)
	h.start()
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(h.client.mnt, fmt.Sprintf("before-%d", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rpcPort, journalPort := freePort(t), freePort(t)
	rpc := append(append([]string{}, h.rpc...), fmt.Sprintf("127.0.0.1:%d", rpcPort))
	journal := append(append([]string{}, h.journal...), fmt.Sprintf("127.0.0.1:%d", journalPort))
	m4 := newCluster(t, map[string]string{
		"alluxio.master.embedded.journal.addresses": strings.Join(journal, ","),
		"alluxio.master.rpc.addresses":              strings.Join(rpc, ","),
		"alluxio.master.rpc.port":                   fmt.Sprint(rpcPort),
		"alluxio.master.embedded.journal.port":      fmt.Sprint(journalPort),
		"alluxio.master.mount.table.root.ufs":       h.ufs,
		"alluxio.user.rpc.retry.max.duration":       "60s",
	})
	m4.must("alluxio-start.sh", "master")
	h.masters = append(h.masters, m4)
	h.rpc, h.journal = rpc, journal

	deadline := time.Now().Add(30 * time.Second)
	var out string
	for {
		out, _ = h.client.run("alluxio", "fsadmin", "journal", "quorum", "info")
		if strings.Contains(out, "Quorum size\t: 4") && strings.Count(out, "AVAILABLE (") == 4 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(m4.home, "logs", "master.log"))
			t.Fatalf("the fourth master did not join within 30s:\n%s\nits log:\n%s", out, log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The operator lists the new master for the clients too.
	h.client.props["alluxio.master.rpc.addresses"] = strings.Join(rpc, ",")
	h.client.writeConf()
	h.waitCaughtUp(3)

	// Four voters: a majority is three, so the group survives its leader.
	l := h.waitLeader("")
	h.kill(l)
	h.waitLeader(h.rpc[l])
	if err := os.WriteFile(filepath.Join(h.client.mnt, "after"), []byte("y"), 0o644); err != nil {
		t.Fatalf("write after the leader of four died: %v", err)
	}
	for i := range 20 {
		if _, err := os.Stat(filepath.Join(h.client.mnt, fmt.Sprintf("before-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
}

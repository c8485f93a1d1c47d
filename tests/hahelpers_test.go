package tests

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// newHAClusterWith lays out three masters on 127.0.0.1, each its own
// ALLUXIO_HOME with its own conf and ports over one shared under-store
// directory, and a client host for the worker, the mount and the CLI.
// extra adds to (or overrides) every installation's properties.
func newHAClusterWith(t *testing.T, extra map[string]string) *haCluster {
	t.Helper()
	h := &haCluster{t: t, ufs: t.TempDir()}
	var rpcPorts, journalPorts []int
	for i := 0; i < 3; i++ {
		rpcPorts = append(rpcPorts, freePort(t))
		journalPorts = append(journalPorts, freePort(t))
		h.rpc = append(h.rpc, fmt.Sprintf("127.0.0.1:%d", rpcPorts[i]))
		h.journal = append(h.journal, fmt.Sprintf("127.0.0.1:%d", journalPorts[i]))
	}
	props := func(i int) map[string]string {
		p := map[string]string{
			"alluxio.master.embedded.journal.addresses": strings.Join(h.journal, ","),
			"alluxio.master.rpc.addresses":              strings.Join(h.rpc, ","),
			"alluxio.master.rpc.port":                   fmt.Sprint(rpcPorts[i]),
			"alluxio.master.embedded.journal.port":      fmt.Sprint(journalPorts[i]),
			"alluxio.master.mount.table.root.ufs":       h.ufs,
			"alluxio.user.rpc.retry.max.duration":       "60s",
		}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for i := 0; i < 3; i++ {
		h.masters = append(h.masters, newCluster(t, props(i)))
	}
	// The worker reports to master 0; the FUSE daemon and the CLI follow
	// the leader.
	h.client = newCluster(t, props(0))
	return h
}

// quietLog discards the logs of the clients the tests make.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// direct returns the caller that asks one master at a time, without
// redirects (made on first use, closed with the test).
func (h *haCluster) direct() *client.Masters {
	h.directOnce.Do(func() {
		h.directMasters = client.NewMasters(h.rpc, 0, quietLog)
		h.t.Cleanup(func() { h.directMasters.Close() })
	})
	return h.directMasters
}

// raftStatus asks master i about itself.
func (h *haCluster) raftStatus(i int) (wire.RaftStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var st wire.RaftStatus
	err := h.direct().CallAt(ctx, h.rpc[i], wire.MasterRaftStatus, nil, &st)
	return st, err
}

// digestOf asks master i for the digest of its namespace.
func (h *haCluster) digestOf(i int) (meta.NamespaceDigest, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d meta.NamespaceDigest
	err := h.direct().CallAt(ctx, h.rpc[i], wire.MasterJournalDigest, nil, &d)
	return d, err
}

// readyLeader waits until one of the masters among reports itself the
// leader, ready to serve, and returns its index.
func (h *haCluster) readyLeader(among ...int) int {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, i := range among {
			if st, err := h.raftStatus(i); err == nil && st.State == "Leader" && st.Ready {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("no ready leader among masters %v within 30s", among)
	return -1
}

// sameDigest waits until the masters among have applied the same journal
// index, and fails unless their digests are then the same. It returns
// that digest.
func (h *haCluster) sameDigest(among ...int) meta.NamespaceDigest {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []string
	for time.Now().Before(deadline) {
		ds := make([]meta.NamespaceDigest, len(among))
		ok := true
		last = last[:0]
		for k, i := range among {
			var err error
			if ds[k], err = h.digestOf(i); err != nil {
				ok = false
				last = append(last, fmt.Sprintf("master %d: %v", i, err))
				continue
			}
			last = append(last, fmt.Sprintf("master %d: index %d, %s", i, ds[k].LastApplied, ds[k].SHA256))
		}
		if ok && allSame(ds, func(d meta.NamespaceDigest) uint64 { return d.LastApplied }) {
			if !allSame(ds, func(d meta.NamespaceDigest) string { return d.SHA256 }) {
				h.t.Fatalf("masters at the same journal index differ:\n%s", strings.Join(last, "\n"))
			}
			return ds[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("masters %v did not reach the same journal index within 30s:\n%s", among, strings.Join(last, "\n"))
	return meta.NamespaceDigest{}
}

// allSame reports whether key gives one value for every element of s.
func allSame[T any, K comparable](s []T, key func(T) K) bool {
	for _, v := range s[1:] {
		if key(v) != key(s[0]) {
			return false
		}
	}
	return true
}

// startMasters starts every master with alluxio-start.sh master and
// waits for a ready leader, whose index it returns.
func (h *haCluster) startMasters() int {
	h.t.Helper()
	for _, m := range h.masters {
		m.must("alluxio-start.sh", "master")
	}
	return h.readyLeader(0, 1, 2)
}

// pid returns the process id of master i.
func (h *haCluster) pid(i int) int {
	h.t.Helper()
	pf := filepath.Join(h.masters[i].home, "logs", "master.pid")
	data, err := os.ReadFile(pf)
	if err != nil {
		h.t.Fatal(err)
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	if pid <= 0 {
		h.t.Fatalf("bad pid file %s: %q", pf, data)
	}
	return pid
}

// signal sends sig to master i.
func (h *haCluster) signal(i int, sig syscall.Signal) {
	h.t.Helper()
	if err := syscall.Kill(h.pid(i), sig); err != nil {
		h.t.Fatalf("signal %v to master %d: %v", sig, i, err)
	}
}

// newClient returns a client of the masters idx (all when none is given)
// that retries for up to retryFor, closed with the test. It writes
// MUST_CACHE: the files it creates are namespace entries only, and their
// names never reach the under-store.
func (h *haCluster) newClient(retryFor time.Duration, idx ...int) *client.Client {
	if len(idx) == 0 {
		idx = []int{0, 1, 2}
	}
	var addrs []string
	for _, i := range idx {
		addrs = append(addrs, h.rpc[i])
	}
	c := client.New(client.Config{MasterAddrs: addrs, RetryFor: retryFor, WriteType: "MUST_CACHE", Logger: quietLog})
	h.t.Cleanup(func() { c.Close() })
	return c
}

// journalFile is the path of one of master i's journal files.
func (h *haCluster) journalFile(i int, name string) string {
	return filepath.Join(h.masters[i].home, "journal", name)
}

package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// The faults a group of three masters must survive, with real processes
// started by alluxio-start.sh master: the namespace is driven by the Go
// client library (no worker, no mount), and replicas are compared by their
// namespace digests (wire.MasterJournalDigest, `alluxio fsadmin journal
// digest`).

// haFaultProps are the properties of the fault tests' masters: snapshots
// (and log compaction) every few hundred entries, looked for every second,
// so that restarted masters also catch up from snapshots.
func haFaultProps(period int) map[string]string {
	return map[string]string{
		"alluxio.master.journal.checkpoint.period.entries": fmt.Sprint(period),
		"alluxio.master.journal.checkpoint.check.interval": "1s",
	}
}

// workload runs goroutines that create, rename and delete files, each in
// its own directory, keeping a model of what its directory holds: a call
// that succeeded is in the model; a call that failed is looked up
// afterwards and must be wholly applied or not at all.
type workload struct {
	c    *client.Client
	dirs []string

	stop   chan struct{}
	wg     sync.WaitGroup
	acked  atomic.Int64 // calls that succeeded
	failed atomic.Int64 // calls that failed and were resolved

	mu         sync.Mutex // guards models (after stop) and violations
	models     []map[string]uint64
	violations []string
}

// opTimeout bounds one call of the workload (its client retries across
// elections within it).
const opTimeout = 60 * time.Second

// startWorkload makes the directories and starts one goroutine per
// directory.
func startWorkload(t *testing.T, c *client.Client, root string, n int) *workload {
	t.Helper()
	w := &workload{c: c, stop: make(chan struct{}), models: make([]map[string]uint64, n)}
	for g := range n {
		dir := fmt.Sprintf("%s/w%d", root, g)
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_, err := c.CreateDirectory(ctx, dir, metaMkdir())
		cancel()
		if err != nil {
			t.Fatalf("mkdir %s: %v", dir, err)
		}
		w.dirs = append(w.dirs, dir)
		w.models[g] = map[string]uint64{}
	}
	for g := range n {
		w.wg.Add(1)
		go w.run(g)
	}
	return w
}

// finish stops the workload and returns the models.
func (w *workload) finish() []map[string]uint64 {
	close(w.stop)
	w.wg.Wait()
	return w.models
}

func (w *workload) violate(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.violations = append(w.violations, fmt.Sprintf(format, args...))
}

// run is goroutine g's loop.
func (w *workload) run(g int) {
	defer w.wg.Done()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
	dir, model := w.dirs[g], w.models[g]
	seq := 0
	pick := func() string {
		names := make([]string, 0, len(model))
		for n := range model {
			names = append(names, n)
		}
		sort.Strings(names)
		return names[rng.IntN(len(names))]
	}
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		r := rng.IntN(100)
		switch {
		case len(model) < 5 || r < 50:
			name := fmt.Sprintf("f%05d", seq)
			seq++
			p := dir + "/" + name
			fw, err := w.c.CreateFile(ctx, p, client.CreateOptions{Mode: 0o644, Exclusive: true})
			if err == nil {
				model[name] = fw.Info().ID
				w.acked.Add(1)
				break
			}
			w.failed.Add(1)
			if id, ok := w.lookup(p); ok {
				model[name] = id // applied despite the error
			}
		case r < 75:
			src := pick()
			dst := fmt.Sprintf("r%05d", seq)
			seq++
			id := model[src]
			err := w.c.Rename(ctx, dir+"/"+src, dir+"/"+dst, true)
			if err == nil {
				delete(model, src)
				model[dst] = id
				w.acked.Add(1)
				break
			}
			w.failed.Add(1)
			srcID, srcOK := w.lookup(dir + "/" + src)
			dstID, dstOK := w.lookup(dir + "/" + dst)
			switch {
			case srcOK && !dstOK && srcID == id: // not applied
			case !srcOK && dstOK && dstID == id: // applied
				delete(model, src)
				model[dst] = id
			default:
				w.violate("rename %s/%s -> %s failed (%v) and left src=%v (%d) dst=%v (%d), inode %d", dir, src, dst, err, srcOK, srcID, dstOK, dstID, id)
			}
		case r < 95:
			name := pick()
			id := model[name]
			err := w.c.Delete(ctx, dir+"/"+name, false)
			if err == nil {
				delete(model, name)
				w.acked.Add(1)
				break
			}
			w.failed.Add(1)
			got, ok := w.lookup(dir + "/" + name)
			switch {
			case !ok:
				delete(model, name) // applied
			case got != id:
				w.violate("delete %s/%s failed (%v) and left inode %d, was %d", dir, name, err, got, id)
			}
		default:
			// A call that must fail, and change nothing.
			name := pick()
			if _, err := w.c.CreateFile(ctx, dir+"/"+name, client.CreateOptions{Mode: 0o644, Exclusive: true}); !errors.Is(err, fs.ErrExist) {
				w.violate("exclusive create of the existing %s/%s: %v, want EEXIST", dir, name, err)
			}
		}
		cancel()
		time.Sleep(time.Millisecond)
	}
}

// lookup returns the inode id at p, retrying until the group answers.
func (w *workload) lookup(p string) (uint64, bool) {
	deadline := time.Now().Add(opTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		fi, err := w.c.GetStatus(ctx, p)
		cancel()
		switch {
		case err == nil:
			return fi.ID, true
		case errors.Is(err, fs.ErrNotExist):
			return 0, false
		case time.Now().After(deadline):
			w.violate("stat %s after a failed call: %v", p, err)
			return 0, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check compares the workload's directories, as the group lists them now,
// with the models.
func (w *workload) check(t *testing.T, models []map[string]uint64) {
	t.Helper()
	w.mu.Lock()
	if len(w.violations) > 0 {
		t.Errorf("%d calls were half applied or misanswered:\n%s", len(w.violations), strings.Join(w.violations, "\n"))
	}
	w.mu.Unlock()
	for g, dir := range w.dirs {
		got := listIDs(t, w.c, dir)
		want := models[g]
		for name, id := range want {
			if got[name] != id {
				t.Errorf("%s/%s: inode %d in the namespace, %d in the model", dir, name, got[name], id)
			}
		}
		for name, id := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s (inode %d) is in the namespace but not in the model", dir, name, id)
			}
		}
	}
}

// listIDs lists a directory as name -> inode id.
func listIDs(t *testing.T, c *client.Client, dir string) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	list, err := c.ListStatus(ctx, dir)
	if err != nil {
		t.Fatalf("list %s: %v", dir, err)
	}
	out := make(map[string]uint64, len(list))
	for _, fi := range list {
		out[fi.Name] = fi.ID
	}
	return out
}

// TestHAKillLeader20 kills the leader with -9 twenty times in a row while
// four clients create, rename and delete files: every call that succeeded
// is reflected afterwards, a failed one is wholly applied or not at all,
// and the three masters end with the same digest at the same journal
// index. Each killed master is restarted (and caught up) before the next
// kill, so that never two are down.
func TestHAKillLeader20(t *testing.T) {
	h := newHAClusterWith(t, haFaultProps(2000))
	killLeader20(t, h)
}

// killLeader20 runs the twenty kills of the leader under the workload on
// a started group and checks the outcome: every successful call reflected,
// no failed one half applied, the same digest on every master.
func killLeader20(t *testing.T, h *haCluster) {
	t.Helper()
	leader := h.startMasters()
	c := h.newClient(30 * time.Second)
	w := startWorkload(t, c, "", 4)
	finished := false
	defer func() {
		if !finished {
			w.finish()
		}
	}()
	waitAcked(t, w, 100)

	var failovers, firstWrites []time.Duration
	for round := 1; round <= 20; round++ {
		acked := w.acked.Load()
		start := time.Now()
		h.kill(leader)
		var others []int
		for i := range 3 {
			if i != leader {
				others = append(others, i)
			}
		}
		next := h.readyLeader(others...)
		failover := time.Since(start)
		waitAcked(t, w, acked+1)
		firstWrite := time.Since(start)
		failovers = append(failovers, failover)
		firstWrites = append(firstWrites, firstWrite)
		t.Logf("round %2d: killed master %d; master %d ready after %v, first write after %v (%d calls so far)",
			round, leader, next, failover.Round(time.Millisecond), firstWrite.Round(time.Millisecond), acked)
		waitAcked(t, w, w.acked.Load()+20) // writes go on at the new leader
		h.masters[leader].must("alluxio-start.sh", "master")
		h.waitApplied(leader, next)
		leader = next
	}
	models := w.finish()
	finished = true
	slices.Sort(failovers)
	slices.Sort(firstWrites)
	t.Logf("%d calls succeeded, %d failed; failover median %v (max %v), first write median %v (max %v)",
		w.acked.Load(), w.failed.Load(), failovers[len(failovers)/2], failovers[len(failovers)-1],
		firstWrites[len(firstWrites)/2], firstWrites[len(firstWrites)-1])
	w.check(t, models)
	d := h.sameDigest(0, 1, 2)
	t.Logf("digest at index %d: %s (%d entries)", d.LastApplied, d.SHA256, d.Inodes)
}

// waitAcked waits until the workload has had n calls succeed.
func waitAcked(t *testing.T, w *workload, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for w.acked.Load() < n {
		if time.Now().After(deadline) {
			w.mu.Lock()
			v := strings.Join(w.violations, "\n")
			w.mu.Unlock()
			t.Fatalf("the workload is stuck at %d successful calls, want %d (failed: %d)\n%s", w.acked.Load(), n, w.failed.Load(), v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitApplied waits until master i has applied everything the master
// at leader had committed at the call.
func (h *haCluster) waitApplied(i, leader int) {
	h.t.Helper()
	st, err := h.raftStatus(leader)
	if err != nil {
		h.t.Fatalf("status of master %d: %v", leader, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := h.raftStatus(i)
		if err == nil && got.LastApplied >= st.CommitIndex {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("master %d did not catch up to index %d within 30s: %+v, %v", i, st.CommitIndex, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHAFollowerSnapshot stops a follower while the others take more
// writes than the checkpoint period, so that the leader compacts its log
// past the follower's last entry; restarted, the follower catches up by
// installing the leader's snapshot and ends with the same digest.
func TestHAFollowerSnapshot(t *testing.T) {
	const period = 200
	h := newHAClusterWith(t, haFaultProps(period))
	leader := h.startMasters()
	c := h.newClient(30 * time.Second)
	mkdirs(t, c, "/before")
	f := (leader + 1) % 3
	h.waitApplied(f, leader)
	h.masters[f].must("alluxio-stop.sh", "master")
	leader = h.readyLeader(0, 1, 2)
	down, err := os.ReadFile(filepath.Join(h.masters[f].home, "logs", "master.log"))
	if err != nil {
		t.Fatal(err)
	}
	stoppedAt := h.statusOrFail(leader).CommitIndex

	// Writes, until the leader has a snapshot whose compacted log no
	// longer holds the entries after the follower's.
	var snapIndex uint64
	for n := 0; snapIndex == 0; n++ {
		if n > 50 {
			t.Fatalf("no snapshot past index %d after %d writes", stoppedAt, n*period)
		}
		createMany(t, c, fmt.Sprintf("/batch%d", n), period)
		deadline := time.Now().Add(5 * time.Second)
		for snapIndex == 0 && time.Now().Before(deadline) {
			snapIndex = h.snapshotPast(leader, stoppedAt+2*period)
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("follower %d stopped at index %d; leader %d has a snapshot at %d", f, stoppedAt, leader, snapIndex)

	h.masters[f].must("alluxio-start.sh", "master")
	h.waitApplied(f, leader)
	logs, err := os.ReadFile(filepath.Join(h.masters[f].home, "logs", "master.log"))
	if err != nil {
		t.Fatal(err)
	}
	after := string(logs[len(down):])
	if !strings.Contains(after, "metastore restored from snapshot") {
		t.Errorf("the follower caught up without installing a snapshot; its log since the restart:\n%s", tail(after, 40))
	}
	d := h.sameDigest(0, 1, 2)
	if d.LastApplied < snapIndex {
		t.Errorf("digest at index %d, before the snapshot at %d", d.LastApplied, snapIndex)
	}
}

// statusOrFail asks master i about itself or fails the test.
func (h *haCluster) statusOrFail(i int) wire.RaftStatus {
	h.t.Helper()
	st, err := h.raftStatus(i)
	if err != nil {
		h.t.Fatalf("status of master %d: %v", i, err)
	}
	return st
}

// snapshotPast returns the index of master i's newest snapshot when it is
// past index, else 0.
func (h *haCluster) snapshotPast(i int, index uint64) uint64 {
	dirs, _ := os.ReadDir(h.journalFile(i, "snapshots"))
	var best uint64
	for _, d := range dirs {
		var term, idx, ms uint64
		if _, err := fmt.Sscanf(d.Name(), "%d-%d-%d", &term, &idx, &ms); err == nil && !strings.HasSuffix(d.Name(), ".tmp") {
			best = max(best, idx)
		}
	}
	if best > index {
		return best
	}
	return 0
}

// mkdirs makes directories through the client or fails the test.
func mkdirs(t *testing.T, c *client.Client, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		_, err := c.CreateDirectory(ctx, d, metaMkdir())
		cancel()
		if err != nil {
			t.Fatalf("mkdir %s: %v", d, err)
		}
	}
}

// createMany makes directory dir with n empty files, eight at a time.
func createMany(t *testing.T, c *client.Client, dir string, n int) {
	t.Helper()
	mkdirs(t, c, dir)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			if _, err := c.CreateFile(ctx, fmt.Sprintf("%s/f%04d", dir, i), client.CreateOptions{Mode: 0o644}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("create in %s: %v", dir, err)
	}
}

// TestHAMinority cuts off a minority and checks that it takes no write
// while the majority goes on: the leader is stopped (SIGSTOP), the other
// two elect a leader and take writes; resumed, the old leader
// acknowledges no write that the group does not have. Then two of three
// are killed: the one left takes no write; one restarted, writes go on.
func TestHAMinority(t *testing.T) {
	h := newHAClusterWith(t, haFaultProps(2000))
	old := h.startMasters()
	all := h.newClient(30 * time.Second)
	mkdirs(t, all, "/m")
	var others []int
	for i := range 3 {
		if i != old {
			others = append(others, i)
		}
	}

	h.signal(old, syscall.SIGSTOP)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			syscall.Kill(h.pid(old), syscall.SIGCONT)
		}
	})
	next := h.readyLeader(others...)
	t.Logf("master %d stopped; master %d leads", old, next)
	majority := h.newClient(30*time.Second, others...)
	createMany(t, majority, "/m/majority", 20)

	// Calls sent to the stopped leader only, answered once it resumes.
	onlyOld := h.newClient(2*time.Second, old)
	type outcome struct {
		path string
		err  error
	}
	results := make(chan outcome, 5)
	for i := range 5 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			p := fmt.Sprintf("/m/to-old-%d", i)
			_, err := onlyOld.CreateFile(ctx, p, client.CreateOptions{Mode: 0o644, Exclusive: true})
			results <- outcome{p, err}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let the calls reach the stopped process's socket
	h.signal(old, syscall.SIGCONT)
	resumed = true
	var acked []string
	for range 5 {
		o := <-results
		if o.err == nil {
			acked = append(acked, o.path)
		} else {
			t.Logf("%s through the old leader only: %v", o.path, o.err)
		}
	}
	h.waitApplied(old, next)
	for _, p := range acked {
		for _, i := range []int{0, 1, 2} {
			c := h.newClient(10*time.Second, i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.GetStatus(ctx, p)
			cancel()
			// Followers answer NotLeader, and the client follows to the
			// leader; an acknowledged write must be there.
			if err != nil {
				t.Errorf("%s was acknowledged but master %d's group answers %v", p, i, err)
			}
		}
	}
	h.sameDigest(0, 1, 2)

	// Two of three down: the one left takes no write.
	leader := h.readyLeader(0, 1, 2)
	left := (leader + 1) % 3
	for i := range 3 {
		if i != left {
			h.kill(i)
		}
	}
	alone := h.newClient(2*time.Second, left)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := alone.CreateFile(ctx, "/m/alone", client.CreateOptions{Mode: 0o644, Exclusive: true})
	cancel()
	if err == nil {
		t.Fatalf("master %d, alone of three, acknowledged a write", left)
	}
	t.Logf("master %d alone: %v", left, err)
	back := (left + 1) % 3
	h.masters[back].must("alluxio-start.sh", "master")
	h.readyLeader(left, back)
	createMany(t, all, "/m/after", 10)
	h.masters[(left+2)%3].must("alluxio-start.sh", "master")
	d := h.sameDigest(0, 1, 2)
	t.Logf("digest at index %d: %s", d.LastApplied, d.SHA256)
	got := listIDs(t, all, "/m")
	for _, name := range []string{"majority", "after"} {
		if _, ok := got[name]; !ok {
			t.Errorf("/m/%s is missing after the faults: %v", name, got)
		}
	}
}

// TestHARestartAndCorruptJournal restarts the whole group from disk, once
// with alluxio-stop.sh and once with kill -9 on every master: the
// namespace comes back exactly. Then it damages a stopped master's
// raft.db and metastore.db in turn: alluxio-start.sh master fails naming
// the file and leaves it byte for byte as it was.
func TestHARestartAndCorruptJournal(t *testing.T) {
	h := newHAClusterWith(t, haFaultProps(2000))
	h.startMasters()
	c := h.newClient(30 * time.Second)
	createMany(t, c, "/one", 50)
	mkdirs(t, c, "/one/sub/deeper")
	ctx := context.Background()
	if _, err := c.CreateSymlink(ctx, "/one/link", "sub", 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SetXattr(ctx, "/one/f0001", "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename(ctx, "/one/f0002", "/one/sub/moved", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "/one/f0003", false); err != nil {
		t.Fatal(err)
	}
	before := h.sameDigest(0, 1, 2)
	listing := listIDs(t, c, "/one")

	out := h.client.must("alluxio", "fsadmin", "journal", "digest")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || strings.Count(out, before.SHA256) != 3 {
		t.Errorf("fsadmin journal digest, want three lines with %s:\n%s", before.SHA256, out)
	}

	restart := func(how string, stop func(i int)) {
		t.Helper()
		for i := range 3 {
			stop(i)
		}
		h.startMasters()
		got := h.sameDigest(0, 1, 2)
		if got.SHA256 != before.SHA256 || got.Inodes != before.Inodes {
			t.Fatalf("after %s: digest %+v, before %+v", how, got, before)
		}
		if after := listIDs(t, c, "/one"); !maps.Equal(after, listing) {
			t.Fatalf("after %s: /one lists %v, before %v", how, after, listing)
		}
	}
	restart("alluxio-stop.sh master on every master", func(i int) { h.masters[i].must("alluxio-stop.sh", "master") })
	createMany(t, c, "/two", 30)
	before = h.sameDigest(0, 1, 2)
	listing = listIDs(t, c, "/one")
	restart("kill -9 of every master", h.kill)

	// Damaged journal files of a stopped master.
	h.masters[0].must("alluxio-stop.sh", "master")
	for _, name := range []string{"raft.db", "metastore.db"} {
		path := h.journalFile(0, name)
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, dmg := range []struct {
			what string
			do   func([]byte) []byte
		}{
			{"truncated to 3 pages", func(b []byte) []byte { return b[:3*4096] }},
			{"truncated to 100 bytes", func(b []byte) []byte { return b[:100] }},
			{"meta page 0 bytes flipped", flipped(16+8, 8)},
			{"meta page 1 bytes flipped", flipped(4096+16+40, 8)},
			{"pages after the meta pages flipped", flipped(8192, -1)},
		} {
			bad := dmg.do(bytes.Clone(good))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := h.masters[0].run("alluxio-start.sh", "master")
			if err == nil {
				h.masters[0].run("alluxio-stop.sh", "master")
				t.Fatalf("%s %s: the master started:\n%s", name, dmg.what, out)
			}
			if !strings.Contains(out, path+" is damaged") {
				t.Errorf("%s %s: alluxio-start.sh does not name the file:\n%s", name, dmg.what, out)
			}
			t.Logf("%s %s: %s", name, dmg.what, tail(strings.TrimSpace(out), 1))
			if now, _ := os.ReadFile(path); !bytes.Equal(now, bad) {
				t.Errorf("%s %s: the damaged file was changed", name, dmg.what)
			}
		}
		if err := os.WriteFile(path, good, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.masters[0].must("alluxio-start.sh", "master")
	if got := h.sameDigest(0, 1, 2); got.SHA256 != before.SHA256 {
		t.Fatalf("after the repair: digest %+v, before %+v", got, before)
	}
}

// flipped returns a damage that inverts n bytes from off (n < 0: to the
// end).
func flipped(off, n int) func([]byte) []byte {
	return func(b []byte) []byte {
		end := len(b)
		if n >= 0 {
			end = off + n
		}
		for i := off; i < end; i++ {
			b[i] ^= 0xff
		}
		return b
	}
}

// metaMkdir are the options of the directories the tests make.
func metaMkdir() meta.MkdirOptions { return meta.MkdirOptions{Mode: 0o755, Recursive: true} }

package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"
)

// TestRequestAppliedOnce retries every kind of non-idempotent call with the
// same request id: the retry is not applied again and returns the first
// attempt's result. (A call refused before it reached the journal was not
// applied at all; its retry is a new attempt.)
func TestRequestAppliedOnce(t *testing.T) {
	e := newEnv(t, -1)
	bg := context.Background()
	e.mkdir(t, "/d")
	e.writeFile(t, "/d/old", "x")
	cases := []struct {
		name string
		call func(ctx context.Context) (any, error)
		// want is the errno of both attempts (nil: success).
		want error
	}{
		{"create exclusive", func(ctx context.Context) (any, error) {
			return e.m.CreateFile(ctx, "/d/new", CreateOptions{Mode: 0o644, Exclusive: true})
		}, nil},
		{"mkdir", func(ctx context.Context) (any, error) {
			return e.m.CreateDirectory(ctx, "/d/sub", MkdirOptions{Mode: 0o755})
		}, nil},
		{"rename", func(ctx context.Context) (any, error) {
			return nil, e.m.Rename(ctx, "/d/old", "/d/renamed")
		}, nil},
		{"delete", func(ctx context.Context) (any, error) {
			return nil, e.m.Delete(ctx, "/d/renamed", false)
		}, nil},
		{"symlink", func(ctx context.Context) (any, error) {
			return e.m.CreateSymlink(ctx, "/d/link", "new", 0, 0)
		}, nil},
		{"delete of a missing file", func(ctx context.Context) (any, error) {
			return nil, e.m.Delete(ctx, "/d/missing", false)
		}, syscall.ENOENT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := WithRequestID(bg, NewRequestID())
			first, err := tc.call(ctx)
			wantErrno(t, "first attempt", err, tc.want)
			count, next := inodeCount(t, e.m), nextInodeID(t, e.m.fsm)
			second, err := tc.call(ctx)
			wantErrno(t, "retry", err, tc.want)
			if fmt.Sprint(first) != fmt.Sprint(second) {
				t.Errorf("retry returned %+v, first attempt %+v", second, first)
			}
			if n, nx := inodeCount(t, e.m), nextInodeID(t, e.m.fsm); n != count || nx != next {
				t.Errorf("retry changed the namespace: %d inodes (next id %d), was %d (%d)", n, nx, count, next)
			}
		})
	}
	// A new id is a new request.
	if _, err := e.m.CreateFile(WithRequestID(bg, NewRequestID()), "/d/new", CreateOptions{Exclusive: true}); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("a new request for an existing file: %v, want EEXIST", err)
	}
}

// TestRequestRecordedInFSM applies the same request twice through Raft,
// past the leader's early check (as two attempts racing would), and after
// a restart: the state machine itself applies it once.
func TestRequestRecordedInFSM(t *testing.T) {
	e := newEnv(t, -1)
	e.mkdir(t, "/d")
	ctx := WithRequestID(context.Background(), NewRequestID())
	cmd := &createFileCmd{Path: "/d/f", Mode: 0o644, Exclusive: true, Now: 1}
	first, err := result[FileInfo](e.m.proposeRequest(ctx, cmd))
	if err != nil {
		t.Fatal(err)
	}
	second, err := result[FileInfo](e.m.proposeRequest(ctx, cmd))
	if err != nil || second != first {
		t.Fatalf("second apply: %+v, %v; first %+v", second, err, first)
	}
	e.restart(t)
	third, err := e.m.CreateFile(ctx, "/d/f", CreateOptions{Mode: 0o644, Exclusive: true})
	if err != nil || third != first {
		t.Fatalf("retry after restart: %+v, %v; first %+v", third, err, first)
	}
	// Without an id the same command is a new request.
	if _, err := e.m.proposeRequest(context.Background(), cmd); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("create without request id: %v, want EEXIST", err)
	}

	// A command that failed when applied is answered with the same error,
	// even once what made it fail is gone.
	ctx = WithRequestID(context.Background(), NewRequestID())
	orphan := &createFileCmd{Path: "/later/f", Mode: 0o644, Now: 2}
	if _, err := e.m.proposeRequest(ctx, orphan); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("create under a missing parent: %v", err)
	}
	e.mkdir(t, "/later")
	_, err = e.m.proposeRequest(ctx, orphan)
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "/later") {
		t.Fatalf("retry of the failed create: %v, want the first ENOENT", err)
	}
	if _, err := e.m.GetStatus(context.Background(), "/later/f"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("the failed create was applied by its retry: %v", err)
	}
}

// TestRequestTableBounded checks that the oldest records are dropped past
// the bound, in order.
func TestRequestTableBounded(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	f.maxRequests = 3
	var ids []RequestID
	for i := range 5 {
		id := NewRequestID()
		ids = append(ids, id)
		data, _ := encodeCommand(&createDirectoryCmd{Path: fmt.Sprintf("/d%d", i), Mode: 0o755})
		f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: encodeRequest(id, data)})
	}
	f.view(func(tx *txn) error {
		if n := tx.recordedRequests(); n != 3 {
			t.Errorf("%d recorded requests, want 3", n)
		}
		for i, id := range ids {
			_, ok := tx.recordedRequest(id)
			if want := i >= 2; ok != want {
				t.Errorf("request %d recorded: %v, want %v", i, ok, want)
			}
		}
		return nil
	})
	if n := len(f.st.requests.seq); n != 3 {
		t.Errorf("the index holds %d requests, want 3", n)
	}

	// Two attempts of one request in one batch: the second is answered
	// with the first's result, not applied again.
	id := NewRequestID()
	data, _ := encodeCommand(&createFileCmd{Path: "/d4/f", Mode: 0o644, Exclusive: true, Now: 1})
	res := f.ApplyBatch([]*raft.Log{
		{Index: 6, Type: raft.LogCommand, Data: encodeRequest(id, data)},
		{Index: 7, Type: raft.LogCommand, Data: encodeRequest(id, data)},
	})
	a, b := res[0].(*applyResult), res[1].(*applyResult)
	if a.err != nil || b.err != nil || a.value.(FileInfo).ID != b.value.(FileInfo).ID {
		t.Errorf("one request twice in a batch: %+v, then %+v", a, b)
	}
}

// TestRequestTableMoved: a metastore whose request records are in an
// earlier build's layout (the result by id in its own bucket, the id
// alone in the sequence bucket), as that build, or a master of it in the
// group, left it, has them moved into the table when it opens: each is
// found with its result, the old bucket is left empty, and a sequence
// entry whose result was missing is dropped.
func TestRequestTableMoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), metastoreName)
	st, err := openStore(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ids []RequestID
	err = st.db.Update(func(tx *bbolt.Tx) error {
		t := &txn{tx: tx}
		reqs, order := tx.Bucket(bucketRequests), tx.Bucket(bucketRequestOrder)
		for i := range 3 {
			id := NewRequestID()
			ids = append(ids, id)
			order.Put(u64(uint64(10+i)), id[:])
			if i == 1 {
				continue // the result is missing
			}
			v, _ := json.Marshal(recordOf(FileInfo{ID: uint64(100 + i), Path: fmt.Sprintf("/f%d", i)}, nil))
			reqs.Put(id[:], v)
		}
		t.putU64(keyRequestFirst, 10)
		t.putU64(keyRequestNext, 13)
		return t.err
	})
	if err != nil {
		t.Fatal(err)
	}
	st.close()
	if st, err = openStore(path, time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.close() })
	st.view(func(tx *txn) error {
		for i, id := range ids {
			r, ok := tx.recordedRequest(id)
			switch {
			case i == 1 && ok:
				t.Errorf("request %d, whose result was missing, is found: %+v", i, r)
			case i != 1 && (!ok || r.File == nil || r.File.ID != uint64(100+i)):
				t.Errorf("request %d: %+v, %v", i, r, ok)
			}
		}
		if k, _ := tx.tx.Bucket(bucketRequests).Cursor().First(); k != nil {
			t.Error("the earlier layout's bucket still holds records")
		}
		return nil
	})
	// Recording goes on after the moved ones, and is found after a
	// reopen too.
	id := NewRequestID()
	if err := st.update(func(tx *txn) error { tx.recordRequest(id, recordOf(nil, nil), 10); return nil }); err != nil {
		t.Fatal(err)
	}
	st.close()
	if st, err = openStore(path, time.Second); err != nil {
		t.Fatal(err)
	}
	st.view(func(tx *txn) error {
		if _, ok := tx.recordedRequest(id); !ok || tx.recordedRequests() != 4 {
			t.Errorf("a request recorded after the move: found %v, %d recorded", ok, tx.recordedRequests())
		}
		return nil
	})
}

// TestRequestEncoding checks the envelope and the id's text form.
func TestRequestEncoding(t *testing.T) {
	id := NewRequestID()
	if id.IsZero() {
		t.Fatal("random id is zero")
	}
	back, err := ParseRequestID(id.String())
	if err != nil || back != id {
		t.Fatalf("ParseRequestID(%s) = %s, %v", id, back, err)
	}
	for _, bad := range []string{"", "zz", id.String()[:30]} {
		if _, err := ParseRequestID(bad); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("ParseRequestID(%q): %v", bad, err)
		}
	}
	cmd, _ := encodeCommand(&deleteCmd{Path: "/x"})
	gotID, gotCmd, err := decodeRequest(encodeRequest(id, cmd))
	if err != nil || gotID != id || string(gotCmd) != string(cmd) {
		t.Fatalf("decodeRequest: %s %q %v", gotID, gotCmd, err)
	}
	if _, _, err := decodeRequest([]byte{byte(cmdRequest), 1, 2}); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("short envelope: %v", err)
	}
	if ctx := WithRequestID(context.Background(), RequestID{}); ctx != context.Background() {
		t.Error("the zero id was put in the context")
	}
}

// TestVerifierSharesRounds checks that callers arriving during a round wait
// for the next one and share it.
func TestVerifierSharesRounds(t *testing.T) {
	var v verifier
	var rounds atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	fn := func() error {
		rounds.Add(1)
		started <- struct{}{}
		<-release
		return nil
	}
	ctx := context.Background()
	first := make(chan error, 1)
	go func() { first <- v.do(ctx, fn) }()
	<-started // round 1 runs
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := v.do(ctx, fn); err != nil {
				t.Error(err)
			}
		})
	}
	// Wait until the ten joined the pending round, then let both run.
	for {
		v.mu.Lock()
		queued := v.next != nil
		v.mu.Unlock()
		if queued {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := rounds.Load(); n != 2 {
		t.Errorf("%d rounds for 11 callers (one arriving first), want 2", n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	block := make(chan struct{})
	defer close(block)
	if err := v.do(cancelled, func() error { <-block; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
}

// group is an in-process master group on 127.0.0.1 over one under-store
// directory, each master with its own journal.
type group struct {
	t       *testing.T
	cfgs    []Config
	masters []*Master
}

// newGroup starts n masters that bootstrap together.
func newGroup(t *testing.T, n int) *group {
	t.Helper()
	return newGroupWith(t, n, func(*Config) {})
}

// newGroupWith is newGroup with edit applied to each master's
// configuration.
func newGroupWith(t *testing.T, n int, edit func(*Config)) *group {
	t.Helper()
	g := &group{t: t}
	ufsDir := t.TempDir()
	var addrs []string
	for range n {
		addrs = append(addrs, freeAddr(t))
	}
	for i, a := range addrs {
		g.cfgs = append(g.cfgs, Config{
			JournalDir: t.TempDir(), NodeID: NodeIDFor(a), RaftAddr: a, Peers: addrs,
			RPCAddr: fmt.Sprintf("rpc-%d:1", i), RootUFS: ufsDir, SyncInterval: -1, OpenUFS: testOpenUFS,
			Logger: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)),
		})
		edit(&g.cfgs[i])
	}
	g.masters = make([]*Master, n)
	for i := range n {
		g.start(i)
	}
	return g
}

// start opens master i; a group member's Open does not wait for a leader.
func (g *group) start(i int) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Open(ctx, g.cfgs[i])
	if err != nil {
		g.t.Fatalf("open master %d: %v", i, err)
	}
	g.masters[i] = m
	g.t.Cleanup(func() { m.Close() })
}

// leader waits for a ready leader among the running masters, other than
// the one at index not.
func (g *group) leader(not int) int {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range g.masters {
			if i != not && m != nil && m.Ready() && len(m.Mounts()) > 0 {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.t.Fatal("no ready leader")
	return -1
}

// TestGroupFailover runs a three-master group: followers name the leader's
// RPC address, a request retried after the leader died is answered from
// the record, reads continue at the new leader, and the quorum can be
// listed, handed over and shrunk.
func TestGroupFailover(t *testing.T) {
	g := newGroup(t, 3)
	ctx := context.Background()
	li := g.leader(-1)
	leader := g.masters[li]
	fi := (&testEnv{m: leader}).mkdir(t, "/replicated")

	for i, m := range g.masters {
		if i == li {
			continue
		}
		_, err := m.GetStatus(ctx, "/")
		var nle *NotLeaderError
		if !errors.As(err, &nle) || !errors.Is(err, syscall.EAGAIN) {
			t.Fatalf("follower %d stat: %v", i, err)
		}
		if nle.Leader != g.cfgs[li].RaftAddr || nle.LeaderRPC != g.cfgs[li].RPCAddr {
			t.Errorf("follower %d names leader %q (rpc %q), want %q (%q)", i, nle.Leader, nle.LeaderRPC, g.cfgs[li].RaftAddr, g.cfgs[li].RPCAddr)
		}
	}

	// A create whose reply is "lost": the leader stops, the client retries
	// the same request id at the new leader.
	rctx := WithRequestID(ctx, NewRequestID())
	created, err := leader.CreateFile(rctx, "/replicated/f", CreateOptions{Mode: 0o644, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.node.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	// Let the followers apply before the leader goes.
	waitApplied(t, g.masters, leader.node.raft.AppliedIndex())
	leader.node.close() // as a crash: no hand-over
	ni := g.leader(li)
	next := g.masters[ni]
	retried, err := next.CreateFile(rctx, "/replicated/f", CreateOptions{Mode: 0o644, Exclusive: true})
	if err != nil || retried != created {
		t.Fatalf("retry at the new leader: %+v, %v; first %+v", retried, err, created)
	}
	got, err := next.GetStatus(ctx, "/replicated")
	if err != nil || got.ID != fi.ID {
		t.Fatalf("read at the new leader: %+v, %v", got, err)
	}
	if next.node.leaseTimeout <= 0 || next.leaseUntil.Load() == 0 {
		t.Error("a confirmed read left no lease")
	}

	servers, err := next.Quorum()
	if err != nil || len(servers) != 3 {
		t.Fatalf("quorum: %+v, %v", servers, err)
	}
	for _, s := range servers {
		// Masters record their RPC address when they lead.
		led := s.Address == g.cfgs[ni].RaftAddr || s.Address == g.cfgs[li].RaftAddr
		if s.Leader != (s.Address == g.cfgs[ni].RaftAddr) || !s.Voter || (s.RPCAddr != "") != led {
			t.Errorf("member %+v", s)
		}
	}

	// Hand leadership to the other live master.
	other := 3 - li - ni
	if err := next.TransferLeadership(ctx, g.cfgs[other].RaftAddr); err != nil {
		t.Fatal(err)
	}
	if got := g.leader(li); got != other {
		t.Fatalf("after elect, master %d leads, want %d", got, other)
	}
	if err := next.TransferLeadership(ctx, g.cfgs[other].RaftAddr); !errors.Is(err, ErrNotLeader) {
		t.Errorf("elect at a follower: %v", err)
	}

	// Remove the dead master, named by its RPC address.
	lead := g.masters[other]
	if err := lead.RemoveServer(ctx, "127.0.0.1:1"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("remove a non-member: %v", err)
	}
	if err := lead.RemoveServer(ctx, g.cfgs[li].RPCAddr); err != nil {
		t.Fatal(err)
	}
	if servers, _ := lead.Quorum(); len(servers) != 2 {
		t.Errorf("after remove: %+v", servers)
	}
	if _, err := lead.CreateDirectory(ctx, "/after", MkdirOptions{Mode: 0o755}); err != nil {
		t.Errorf("mkdir with two members: %v", err)
	}
}

// waitApplied waits until every running master applied index.
func waitApplied(t *testing.T, ms []*Master, index uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range ms {
		for m.node.raft.AppliedIndex() < index {
			if time.Now().After(deadline) {
				t.Fatalf("%s applied %d, want %d", m.cfg.NodeID, m.node.raft.AppliedIndex(), index)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestGroupMemberAlone: a member of a group opened without its peers
// returns at once and answers calls with a NotLeaderError naming no
// leader (EAGAIN: clients retry); a single master waits for leadership
// within ctx.
func TestGroupMemberAlone(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))
	self := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := Open(ctx, Config{
		JournalDir: t.TempDir(), NodeID: NodeIDFor(self), RaftAddr: self, Peers: []string{self, freeAddr(t), freeAddr(t)},
		RootUFS: t.TempDir(), OpenUFS: testOpenUFS, Logger: logger,
	})
	if err != nil {
		t.Fatalf("open a group member alone: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	_, err = m.GetStatus(ctx, "/")
	var nle *NotLeaderError
	if !errors.As(err, &nle) || nle.Leader != "" || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("stat without a quorum: %v", err)
	}

	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	cancel2() // already over: Open cannot wait for leadership
	_, err = Open(short, Config{JournalDir: t.TempDir(), RaftAddr: freeAddr(t), RootUFS: t.TempDir(), OpenUFS: testOpenUFS, Logger: logger})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("single master with a cancelled ctx: %v", err)
	}
}

// TestConcurrentCommandsBatched checks that a burst of concurrent creates
// is not one log write (fsync) each.
func TestConcurrentCommandsBatched(t *testing.T) {
	e := newEnv(t, -1)
	e.mkdir(t, "/b")
	before := e.m.Stats()
	const n = 256
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if _, err := e.m.CreateFile(context.Background(), fmt.Sprintf("/b/f%d", i), CreateOptions{Mode: 0o644}); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	after := e.m.Stats()
	writes, entries := after.LogWrites-before.LogWrites, after.LogEntries-before.LogEntries
	batches, applied := after.ApplyBatches-before.ApplyBatches, after.AppliedEntries-before.AppliedEntries
	t.Logf("%d creates: %d log writes for %d entries, %d metastore transactions for %d entries", n, writes, entries, batches, applied)
	if entries < n || writes >= entries {
		t.Errorf("%d log writes for %d entries: concurrent commands were not batched", writes, entries)
	}
	if batches >= applied {
		t.Errorf("%d metastore transactions for %d entries: not batched", batches, applied)
	}
}

// TestGroupFollowerCatchesUpFromSnapshot stops a follower, lets the leader
// snapshot and compact its log past it, and restarts it: the follower
// installs the snapshot over a log that still holds entries of its own
// (Raft keeps trailing ones) and goes on appending after it, ending with
// the leader's namespace, again after a restart of its own.
func TestGroupFollowerCatchesUpFromSnapshot(t *testing.T) {
	g := newGroup(t, 3)
	for i := range g.cfgs {
		g.cfgs[i].Checkpoint = CheckpointConfig{PeriodEntries: 40, TrailingEntries: 5, Interval: 50 * time.Millisecond}
	}
	// Restart every master with the small checkpoints.
	for i, m := range g.masters {
		m.Close()
		g.start(i)
	}
	li := g.leader(-1)
	e := &testEnv{m: g.masters[li]}
	for i := range 30 {
		e.mkdir(t, fmt.Sprintf("/before-%d", i))
	}
	f := (li + 1) % 3
	waitDigest(t, g.masters[li], g.masters[f])
	g.masters[f].Close()
	g.masters[f] = nil
	for i := range 200 {
		e.mkdir(t, fmt.Sprintf("/while-%d", i))
	}
	// The leader's log no longer holds what the follower needs.
	deadline := time.Now().Add(20 * time.Second)
	for {
		first, _ := g.masters[li].node.logs.FirstIndex()
		if first > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader's log still starts at %d", first)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g.start(f)
	waitDigest(t, g.masters[li], g.masters[f])
	e.mkdir(t, "/after")
	waitDigest(t, g.masters[li], g.masters[f])
	g.masters[f].Close()
	g.start(f)
	e.mkdir(t, "/after-restart")
	waitDigest(t, g.masters[li], g.masters[f])
}

// waitDigest waits until master b's namespace equals master a's.
func waitDigest(t *testing.T, a, b *Master) {
	t.Helper()
	ctx := context.Background()
	var da, db NamespaceDigest
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if da, err = a.Digest(ctx); err != nil {
			t.Fatal(err)
		}
		if db, err = b.Digest(ctx); err == nil && db.SHA256 == da.SHA256 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("follower's namespace %+v, leader's %+v", db, da)
}

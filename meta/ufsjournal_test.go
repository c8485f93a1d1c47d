package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/internal/zktest"
	"github.com/alluxio-go/alluxio/meta/zkelect"
	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/local"
)

func TestSegmentValidity(t *testing.T) {
	seg := func(first, last, epoch uint64) segment {
		s, ok := parseSegment(strings.TrimPrefix(segmentName(first, last, epoch), ujLogs+"/"))
		if !ok {
			t.Fatalf("segment name %s does not parse", segmentName(first, last, epoch))
		}
		return s
	}
	for _, tc := range []struct {
		name      string
		all       []segment
		valid     []string // as first-last/epoch
		unsettled []string // valid but not settled below top
		top       uint64
	}{
		{name: "one leader", all: []segment{seg(1, 3, 5), seg(4, 4, 5)}, top: 5,
			valid: []string{"1-3/5", "4-4/5"}},
		{name: "takeover after the old leader's last file", all: []segment{seg(1, 3, 5), seg(4, 6, 9)}, top: 9,
			valid: []string{"1-3/5", "4-6/9"}},
		{name: "old leader wrote after the new marker; the new leader overlaps it",
			all: []segment{seg(1, 3, 5), seg(4, 5, 5), seg(4, 4, 9)}, top: 9,
			valid: []string{"1-3/5", "4-4/9"}},
		{name: "new leader has not written yet: the old file is not settled",
			all: []segment{seg(1, 3, 5), seg(4, 5, 5)}, top: 9,
			valid: []string{"1-3/5", "4-5/5"}, unsettled: []string{"1-3/5", "4-5/5"}},
		{name: "a later leader settled the old file by writing after it",
			all: []segment{seg(1, 3, 5), seg(4, 5, 5), seg(6, 6, 12)}, top: 12,
			valid: []string{"1-3/5", "4-5/5", "6-6/12"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got, unsettled []string
			for _, s := range tc.all {
				if !invalid(s, tc.all) {
					got = append(got, fmt.Sprintf("%d-%d/%d", s.first, s.last, s.epoch))
				}
			}
			var valid []segment
			for _, s := range tc.all {
				if !invalid(s, tc.all) {
					valid = append(valid, s)
				}
			}
			for i, s := range valid {
				if s.epoch < tc.top && !settled(s, valid[i+1:]) {
					unsettled = append(unsettled, fmt.Sprintf("%d-%d/%d", s.first, s.last, s.epoch))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.valid) {
				t.Errorf("valid = %v, want %v", got, tc.valid)
			}
			if fmt.Sprint(unsettled) != fmt.Sprint(tc.unsettled) {
				t.Errorf("unsettled = %v, want %v", unsettled, tc.unsettled)
			}
		})
	}
	for _, bad := range []string{"x.log", "1-2-3.log", "00000000000000000002-00000000000000000001-00000000000000000001.log",
		"00000000000000000000-00000000000000000001-00000000000000000001.log", segmentName(1, 2, 3) + ".tmp"} {
		if _, ok := parseSegment(bad); ok {
			t.Errorf("parseSegment(%q) accepted it", bad)
		}
	}
}

// ufsGroup is masters on one UFS journal folder with a real ZooKeeper.
type ufsGroup struct {
	t       *testing.T
	zk      *zktest.Server
	journal string
	root    string
	n       int
	masters map[int]*Master
	logs    map[int]*lockedBuffer
	ckpt    uint64
}

func newUFSGroup(t *testing.T) *ufsGroup {
	return &ufsGroup{t: t, zk: zktest.Start(t), journal: t.TempDir(), root: t.TempDir(),
		masters: map[int]*Master{}, logs: map[int]*lockedBuffer{}}
}

// config is the configuration of master i; each has its own metastore.
func (g *ufsGroup) config(i int, metastore string) Config {
	logs := &lockedBuffer{}
	g.logs[i] = logs
	return Config{
		JournalType: JournalUFS, JournalDir: g.journal, MetastoreDir: filepath.Join(g.root, fmt.Sprint("ms-", i)),
		Metastore: metastore, RPCAddr: fmt.Sprintf("127.0.0.1:%d", 40000+i), RootUFS: filepath.Join(g.root, "ufs"),
		SyncInterval: -1, Checkpoint: CheckpointConfig{PeriodEntries: g.ckpt}, TailInterval: 50 * time.Millisecond,
		ZooKeeper: zkelect.Config{Servers: []string{g.zk.Addr}, Path: "/alluxio/election", SessionTimeout: 2 * time.Second},
		OpenUFS: func(uri string, opts map[string]string) (ufs.UFS, error) {
			if uri == g.journal {
				return local.New(uri)
			}
			return testOpenUFS(uri, opts)
		},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (g *ufsGroup) start(i int, metastore string) {
	g.t.Helper()
	os.MkdirAll(filepath.Join(g.root, "ufs"), 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := Open(ctx, g.config(i, metastore))
	if err != nil {
		g.t.Fatalf("open master %d: %v", i, err)
	}
	g.masters[i] = m
	g.t.Cleanup(func() { m.Close() })
}

func (g *ufsGroup) stop(i int) {
	g.t.Helper()
	if err := g.masters[i].Close(); err != nil {
		g.t.Errorf("close master %d: %v", i, err)
	}
	delete(g.masters, i)
}

// leader waits for a ready leader other than not.
func (g *ufsGroup) leader(not int) int {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range g.masters {
			if i != not && m.Ready() && len(m.Mounts()) > 0 {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := range g.masters {
		g.t.Logf("master %d log:\n%s", i, g.logs[i])
	}
	g.t.Fatal("no ready leader on the UFS journal")
	return -1
}

// waitSame waits until master i has applied as far as master l and has
// the same namespace.
func (g *ufsGroup) waitSame(i, l int) {
	g.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		want, got := g.masters[l].fsm.lastApplied(), g.masters[i].fsm.lastApplied()
		if got == want {
			a, b := dumpNamespace(g.t, g.masters[l]), dumpNamespace(g.t, g.masters[i])
			if a != b {
				g.t.Fatalf("master %d at entry %d differs from master %d:\n%s\nvs\n%s", i, got, l, b, a)
			}
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("master %d applied %d, master %d %d: not caught up", i, got, l, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dumpNamespace lists every inode by path from the metastore.
func dumpNamespace(t testing.TB, m *Master) string {
	t.Helper()
	var b strings.Builder
	err := m.fsm.view(func(tx *txn) error {
		var walk func(id uint64, p string)
		walk = func(id uint64, p string) {
			tx.children(id, func(name string, child uint64) error {
				n, _ := tx.inode(child)
				fmt.Fprintf(&b, "%s dir=%v size=%d mode=%o\n", joinPath(p, name), n.IsDir, n.Size, n.Mode)
				if n.IsDir {
					walk(child, joinPath(p, name))
				}
				return nil
			})
		}
		walk(rootID, "/")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestUFSJournalFailover runs two masters on a UFS journal elected through
// a real ZooKeeper: the standby tails the leader's log, takes over when
// the leader stops with everything it acknowledged, and a third master
// with a HEAP metastore rebuilds the namespace from a checkpoint and the
// log files after it.
func TestUFSJournalFailover(t *testing.T) {
	g := newUFSGroup(t)
	g.ckpt = 40
	g.start(0, "")
	g.start(1, "")
	ctx := context.Background()
	l := g.leader(-1)
	e := &testEnv{m: g.masters[l]}
	for i := range 30 {
		e.mkdir(t, fmt.Sprintf("/d%02d", i))
	}
	s := 1 - l
	g.waitSame(s, l)
	if _, err := g.masters[s].GetStatus(ctx, "/d00"); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("a standby served a read: %v", err)
	}
	var nl *NotLeaderError
	if _, err := g.masters[s].CreateDirectory(ctx, "/x", MkdirOptions{}); !errors.As(err, &nl) || nl.LeaderRPC != g.masters[l].cfg.RPCAddr {
		t.Fatalf("a standby's answer to a write: %v, want one naming leader %s", err, g.masters[l].cfg.RPCAddr)
	}

	g.stop(l)
	nl2 := g.leader(l)
	if nl2 != s {
		t.Fatalf("master %d leads, want %d", nl2, s)
	}
	e = &testEnv{m: g.masters[s]}
	for i := 30; i < 100; i++ {
		e.mkdir(t, fmt.Sprintf("/d%02d", i))
	}
	// Checkpoints were written and the log compacted behind them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cks, _ := os.ReadDir(filepath.Join(g.journal, ujCheckpoints))
		logs, _ := os.ReadDir(filepath.Join(g.journal, ujLogs))
		first, _ := parseSegment(firstName(logs))
		if len(cks) > 0 && first.first > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint and compaction after 100 entries with a period of 40: %d checkpoints, first log %v", len(cks), first)
		}
		time.Sleep(50 * time.Millisecond)
	}

	g.start(2, MetastoreHEAP)
	g.waitSame(2, s)
	if !strings.Contains(g.logs[2].String(), "loaded journal checkpoint") {
		t.Errorf("the HEAP master did not start from a checkpoint:\n%s", g.logs[2])
	}
	if _, err := g.masters[s].GetStatus(ctx, "/d99"); err != nil {
		t.Fatal(err)
	}
	// The old leader comes back as a standby and catches up too.
	g.start(l, "")
	g.waitSame(l, s)
}

func firstName(es []os.DirEntry) string {
	for _, e := range es {
		if _, ok := parseSegment(e.Name()); ok {
			return e.Name()
		}
	}
	return ""
}

// TestUFSJournalFencing writes, as a deposed leader would, a log file
// after a newer leader's epoch marker: the newer leader's entries win and
// no master applies the deposed one's.
func TestUFSJournalFencing(t *testing.T) {
	g := newUFSGroup(t)
	g.start(0, "")
	l := g.leader(-1)
	e := &testEnv{m: g.masters[l]}
	e.mkdir(t, "/before")
	j := g.masters[l].jr.(*ufsJournal)
	next := g.masters[l].fsm.lastApplied() + 1

	// A deposed leader of an earlier epoch writes an entry that the
	// current epoch has not seen.
	data, err := encodeCommand(&createDirectoryCmd{Path: "/stale", Mode: 0o755, Now: 1, Loaded: true})
	if err != nil {
		t.Fatal(err)
	}
	if j.term() < 1 {
		t.Fatalf("leader epoch %d, want at least 1", j.term())
	}
	stale := segmentName(next, next, j.term()-1)
	if err := os.WriteFile(filepath.Join(g.journal, stale), encodeSegment([][]byte{data}), 0o600); err != nil {
		t.Fatal(err)
	}
	// The current leader's next write overlaps it with a higher epoch.
	e.mkdir(t, "/after")
	g.start(1, "")
	g.waitSame(1, l)
	for _, m := range []*Master{g.masters[0], g.masters[1]} {
		dump := dumpNamespace(t, m)
		if strings.Contains(dump, "/stale") || !strings.Contains(dump, "/after") {
			t.Fatalf("namespace after a fenced write:\n%s", dump)
		}
	}
}

// TestUFSJournalCorruptFile: a master refuses to start on a damaged log
// file, names it, and leaves it as it was.
func TestUFSJournalCorruptFile(t *testing.T) {
	g := newUFSGroup(t)
	g.start(0, "")
	l := g.leader(-1)
	e := &testEnv{m: g.masters[l]}
	for i := range 5 {
		e.mkdir(t, fmt.Sprintf("/c%d", i))
	}
	g.stop(l)
	logs, _ := os.ReadDir(filepath.Join(g.journal, ujLogs))
	var victim string
	for _, le := range logs {
		if s, ok := parseSegment(le.Name()); ok && s.first > 1 {
			victim = filepath.Join(g.journal, ujLogs, le.Name())
			break
		}
	}
	if victim == "" {
		t.Fatalf("no log file to damage among %v", logs)
	}
	orig, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []struct {
		name string
		data []byte
	}{
		{"flipped byte", append(append([]byte{}, orig[:len(orig)-1]...), orig[len(orig)-1]^0xff)},
		{"truncated", orig[:len(orig)-3]},
	} {
		t.Run(damage.name, func(t *testing.T) {
			if err := os.WriteFile(victim, damage.data, 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			m, err := Open(ctx, g.config(5, MetastoreHEAP))
			if err == nil {
				m.Close()
				t.Fatal("a master started on a damaged journal file")
			}
			if !strings.Contains(err.Error(), filepath.Base(victim)) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("error %v does not name %s", err, filepath.Base(victim))
			}
			after, _ := os.ReadFile(victim)
			if string(after) != string(damage.data) {
				t.Fatal("the damaged journal file was changed")
			}
		})
	}
}

// hidingStore hides one name from its next listing, as a directory
// listing may when the file is made while it runs.
type hidingStore struct {
	ufs.UFS
	hide string
}

func (h *hidingStore) List(ctx context.Context, dir string, fn func(ufs.FileInfo) error) error {
	return h.UFS.List(ctx, dir, func(fi ufs.FileInfo) error {
		if fi.Name == h.hide {
			h.hide = ""
			return nil
		}
		return fn(fi)
	})
}

// TestUFSJournalListingMiss: a standby whose listing misses a log file
// (while later ones are listed) stops before the gap and applies it on the
// next round, instead of skipping its entries.
func TestUFSJournalListingMiss(t *testing.T) {
	g := newUFSGroup(t)
	g.start(0, "")
	l := g.leader(-1)
	e := &testEnv{m: g.masters[l]}
	for i := range 6 {
		e.mkdir(t, fmt.Sprintf("/m%d", i))
	}
	local, err := local.New(g.journal)
	if err != nil {
		t.Fatal(err)
	}
	f, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	logs, _ := os.ReadDir(filepath.Join(g.journal, ujLogs))
	var names []string
	for _, le := range logs {
		if _, ok := parseSegment(le.Name()); ok {
			names = append(names, le.Name())
		}
	}
	store := &hidingStore{UFS: local, hide: names[len(names)/2]}
	j := &ufsJournal{cfg: ufsJournalConfig{Store: store, Where: "test"}, fsm: f, log: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))}
	ctx := context.Background()
	if err := j.catchUp(ctx, false); err != nil {
		t.Fatal(err)
	}
	missed, _ := parseSegment(names[len(names)/2])
	if got := f.lastApplied(); got != missed.first-1 {
		t.Fatalf("after a listing that missed %s: applied %d, want %d (stop before the gap)", missed.name, got, missed.first-1)
	}
	if err := j.catchUp(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got, want := f.lastApplied(), g.masters[l].fsm.lastApplied(); got != want {
		t.Fatalf("next round: applied %d, want %d", got, want)
	}

	// A file listed and then compacted away before it is read (the
	// leader checkpointed meanwhile) is a gap to list again, which a
	// starting master retries, not a failure.
	f2, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer f2.close()
	gone := &vanishingStore{UFS: local, gone: path.Join(ujLogs, names[0])}
	j2 := &ufsJournal{cfg: ufsJournalConfig{Store: gone, Where: "test"}, fsm: f2, log: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))}
	if err := j2.catchUp(ctx, false); !errors.Is(err, errJournalGap) {
		t.Fatalf("a listed file gone before it was read: %v, want a journal gap", err)
	}
	gone.gone = ""
	if err := j2.catchUp(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got, want := f2.lastApplied(), g.masters[l].fsm.lastApplied(); got != want {
		t.Fatalf("after listing again: applied %d, want %d", got, want)
	}
}

// vanishingStore lists the file gone but cannot open it, as a file removed
// between the listing and the read.
type vanishingStore struct {
	ufs.UFS
	gone string
}

func (v *vanishingStore) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	if p == v.gone {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	return v.UFS.OpenRange(ctx, p, off, n)
}

// TestUFSJournalLeaderCatchesUpAll: a master taking over applies every
// entry written before its epoch, in as many rounds as that takes, before
// its first entry takes the place after the last one it applied: one
// round stops at a file its listing missed, or restores a checkpoint and
// goes no further; the entries after would be lost.
func TestUFSJournalLeaderCatchesUpAll(t *testing.T) {
	newJournal := func(t *testing.T, g *ufsGroup, hide func([]string) string) (*ufsJournal, *fsm) {
		t.Helper()
		store, err := local.New(g.journal)
		if err != nil {
			t.Fatal(err)
		}
		f, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(&lockedBuffer{}, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.close() })
		logs, _ := os.ReadDir(filepath.Join(g.journal, ujLogs))
		var names []string
		for _, le := range logs {
			if _, ok := parseSegment(le.Name()); ok {
				names = append(names, le.Name())
			}
		}
		j := &ufsJournal{cfg: ufsJournalConfig{Store: &hidingStore{UFS: store, hide: hide(names)}, Where: "test"},
			fsm: f, log: slog.New(slog.NewTextHandler(&lockedBuffer{}, nil))}
		return j, f
	}
	t.Run("listing missed a file", func(t *testing.T) {
		g := newUFSGroup(t)
		g.start(0, "")
		l := g.leader(-1)
		e := &testEnv{m: g.masters[l]}
		for i := range 6 {
			e.mkdir(t, fmt.Sprintf("/m%d", i))
		}
		j, f := newJournal(t, g, func(names []string) string { return names[len(names)/2] })
		if err := j.catchUpAll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, want := f.lastApplied(), g.masters[l].fsm.lastApplied(); got != want {
			t.Fatalf("applied %d of the journal's %d", got, want)
		}
	})
	t.Run("behind the oldest log file", func(t *testing.T) {
		g := newUFSGroup(t)
		g.ckpt = 8
		g.start(0, "")
		l := g.leader(-1)
		e := &testEnv{m: g.masters[l]}
		for i := range 12 {
			e.mkdir(t, fmt.Sprintf("/m%d", i))
		}
		waitFor(t, "a checkpoint and the logs before it compacted", func() bool {
			ck, _ := os.ReadDir(filepath.Join(g.journal, ujCheckpoints))
			lg, _ := os.ReadDir(filepath.Join(g.journal, ujLogs))
			first := uint64(0)
			for _, le := range lg {
				if s, ok := parseSegment(le.Name()); ok && (first == 0 || s.first < first) {
					first = s.first
				}
			}
			return len(ck) > 0 && first > 1
		})
		for i := range 3 {
			e.mkdir(t, fmt.Sprintf("/n%d", i))
		}
		j, f := newJournal(t, g, func([]string) string { return "" })
		if err := j.catchUpAll(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, want := f.lastApplied(), g.masters[l].fsm.lastApplied(); got != want {
			t.Fatalf("applied %d of the journal's %d", got, want)
		}
	})
}

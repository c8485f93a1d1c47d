package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// ptr returns a pointer to v, for the optional fields of SetAttrOptions.
func ptr[T any](v T) *T { return &v }

// stat returns the entry at p or fails the test.
func (e *testEnv) stat(t testing.TB, p string) FileInfo {
	t.Helper()
	fi, err := e.m.GetStatus(context.Background(), p)
	if err != nil {
		t.Fatalf("GetStatus %s: %v", p, err)
	}
	return fi
}

// attrsOf summarises the namespace-only attributes of an entry.
func attrsOf(fi FileInfo) string {
	return fmt.Sprintf("pinned=%v ttl=%d action=%s", fi.Pinned, fi.TTL, fi.TTLAction)
}

// paths lists the paths of entries.
func paths(list []FileInfo) []string {
	var out []string
	for _, fi := range list {
		out = append(out, fi.Path)
	}
	return out
}

// indexSizes counts the keys of the pin index and of both halves of the
// expiry index.
func indexSizes(t testing.TB, m *Master) (pinned, ttl, ttlInodes int) {
	t.Helper()
	err := m.fsm.view(func(tx *txn) error {
		pinned = tx.tx.Bucket(bucketPinned).Stats().KeyN
		ttl = tx.tx.Bucket(bucketTTL).Stats().KeyN
		ttlInodes = tx.tx.Bucket(bucketTTLInodes).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pinned, ttl, ttlInodes
}

// TestSetAttrPinTTL sets pin and TTL on files and trees, with and without
// Recursive, and checks the invalid values; each case works on its own
// tree: /cN/f, /cN/sub/g.
func TestSetAttrPinTTL(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	roDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(roDir, "f"), []byte("ro"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Mount(ctx, "/ro", roDir, MountOptions{ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Mount(ctx, "/mnt", t.TempDir(), MountOptions{}); err != nil {
		t.Fatal(err)
	}

	const none = "pinned=false ttl=0 action="
	cases := []struct {
		name string
		path string // relative to the case's tree; "" is the tree itself
		abs  string // an absolute path instead
		o    SetAttrOptions
		want error
		// wantAttrs maps paths relative to the tree to attrsOf.
		wantAttrs map[string]string
		msg       string // the error names it
	}{
		{name: "pin a file", path: "f", o: SetAttrOptions{Pinned: ptr(true)},
			wantAttrs: map[string]string{"f": "pinned=true ttl=0 action=", "sub/g": none}},
		{name: "ttl on a file, default action", path: "f", o: SetAttrOptions{TTL: ptr(int64(60_000))},
			wantAttrs: map[string]string{"f": "pinned=false ttl=60000 action=DELETE"}},
		{name: "ttl action in lower case is stored upper case", path: "f", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("free")},
			wantAttrs: map[string]string{"f": "pinned=false ttl=5 action=FREE"}},
		{name: "directory without Recursive changes the directory only", o: SetAttrOptions{Pinned: ptr(true), TTL: ptr(int64(7))},
			wantAttrs: map[string]string{"": "pinned=true ttl=7 action=DELETE", "f": none, "sub": none, "sub/g": none}},
		{name: "directory with Recursive changes the tree", o: SetAttrOptions{Pinned: ptr(true), TTL: ptr(int64(9)), TTLAction: ptr("Free"), Recursive: true},
			wantAttrs: map[string]string{
				"": "pinned=true ttl=9 action=FREE", "f": "pinned=true ttl=9 action=FREE",
				"sub": "pinned=true ttl=9 action=FREE", "sub/g": "pinned=true ttl=9 action=FREE"}},
		{name: "Recursive with mode changes mode on the directory only", o: SetAttrOptions{Mode: ptr(uint32(0o700)), Pinned: ptr(true), Recursive: true},
			wantAttrs: map[string]string{"": "pinned=true ttl=0 action=", "sub/g": "pinned=true ttl=0 action="}},
		{name: "negative ttl", path: "f", o: SetAttrOptions{TTL: ptr(int64(-5))}, want: syscall.EINVAL, msg: "-5",
			wantAttrs: map[string]string{"f": none}},
		{name: "unknown ttl action", path: "f", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("evict")}, want: syscall.EINVAL, msg: `"evict"`,
			wantAttrs: map[string]string{"f": none}},
		{name: "invalid value in a recursive change changes nothing", o: SetAttrOptions{Pinned: ptr(true), TTLAction: ptr("x"), Recursive: true},
			want: syscall.EINVAL, wantAttrs: map[string]string{"": none, "f": none}},
		{name: "missing entry", path: "nope", o: SetAttrOptions{Pinned: ptr(true)}, want: syscall.ENOENT},
		{name: "delete ttl on a mount point", abs: "/mnt", o: SetAttrOptions{TTL: ptr(int64(5))}, want: syscall.EINVAL, msg: "/mnt"},
		{name: "delete ttl on the root", abs: "/", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("delete")}, want: syscall.EINVAL},
		{name: "free ttl on a mount point", abs: "/mnt", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("FREE")}},
		{name: "pin in a read-only mount", abs: "/ro/f", o: SetAttrOptions{Pinned: ptr(true)}},
		{name: "free ttl in a read-only mount", abs: "/ro/f", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("FREE")}},
		{name: "delete ttl in a read-only mount", abs: "/ro/f", o: SetAttrOptions{TTL: ptr(int64(5)), TTLAction: ptr("DELETE")}, want: syscall.EROFS},
		{name: "mode with pin in a read-only mount", abs: "/ro/f", o: SetAttrOptions{Mode: ptr(uint32(0o600)), Pinned: ptr(true)}, want: syscall.EROFS},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tree := fmt.Sprintf("/c%d", i)
			e.mkdir(t, tree+"/sub")
			e.writeFile(t, tree+"/f", "f")
			e.writeFile(t, tree+"/sub/g", "g")
			at := func(rel string) string {
				if rel == "" {
					return tree
				}
				return joinPath(tree, rel)
			}
			p := tc.abs
			if p == "" {
				p = at(tc.path)
			}
			fi, err := e.m.SetAttr(ctx, p, tc.o)
			wantErrno(t, "SetAttr", err, tc.want)
			if err != nil && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not name %q", err, tc.msg)
			}
			if tc.want == nil && fi.Path != p {
				t.Errorf("SetAttr returned %+v for %s", fi, p)
			}
			for rel, want := range tc.wantAttrs {
				if got := attrsOf(e.stat(t, at(rel))); got != want {
					t.Errorf("%s: %s, want %s", at(rel), got, want)
				}
			}
		})
	}
}

// TestTTLCleared sets a TTL and removes it with TTL 0: the action goes too
// and the entry leaves the expiry index.
func TestTTLCleared(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.writeFile(t, "/f", "x")
	if _, err := e.m.SetAttr(ctx, "/f", SetAttrOptions{TTL: ptr(int64(1)), TTLAction: ptr("free")}); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if got, err := e.m.Expired(ctx, later, 0); err != nil || len(got) != 1 {
		t.Fatalf("Expired with a TTL set: %v %v", paths(got), err)
	}
	fi, err := e.m.SetAttr(ctx, "/f", SetAttrOptions{TTL: ptr(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	if fi.TTL != 0 || fi.TTLAction != "" {
		t.Errorf("after TTL 0: %s", attrsOf(fi))
	}
	if got, err := e.m.Expired(ctx, later, 0); err != nil || len(got) != 0 {
		t.Errorf("Expired after the TTL was removed: %v %v", paths(got), err)
	}
}

// TestPinInheritance pins a directory without Recursive: entries made in
// it later, by every route, are pinned; ListPinned lists the pinned files
// and forgets unpinned and deleted ones.
func TestPinInheritance(t *testing.T) {
	e := newEnv(t, 0) // sync on every call, so that entries put in the under-store load
	ctx := context.Background()
	e.mkdir(t, "/p")
	e.writeFile(t, "/p/before", "b")
	if _, err := e.m.SetAttr(ctx, "/p", SetAttrOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	e.writeFile(t, "/p/new", "n")
	e.mkdir(t, "/p/d/e")
	e.writeFile(t, "/p/d/e/deep", "d")
	e.writeUFS(t, "/p/loaded", "l")    // loaded by a lookup
	e.writeUFS(t, "/p/ld/listed", "l") // loaded by a listing
	e.mkdir(t, "/unpinned")
	e.writeFile(t, "/unpinned/file", "u") // elsewhere: not pinned
	if _, err := e.m.CreateSymlink(ctx, "/p/link", "new", 0, 0); err != nil {
		t.Fatal(err)
	}
	names(t, e.m, "/p/ld")

	for p, want := range map[string]bool{
		"/p/before": false, "/p/new": true, "/p/d": true, "/p/d/e": true, "/p/d/e/deep": true,
		"/p/loaded": true, "/p/ld": true, "/p/ld/listed": true, "/p/link": false, "/unpinned/file": false,
	} {
		if fi := e.stat(t, p); fi.Pinned != want {
			t.Errorf("%s: pinned %v, want %v", p, fi.Pinned, want)
		}
	}
	pinned := func() []string {
		t.Helper()
		list, err := e.m.ListPinned(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := paths(list)
		slices.Sort(out)
		return out
	}
	want := []string{"/p/d/e/deep", "/p/ld/listed", "/p/loaded", "/p/new"}
	if got := pinned(); !slices.Equal(got, want) {
		t.Errorf("ListPinned = %v, want %v", got, want)
	}
	if _, err := e.m.SetAttr(ctx, "/p/new", SetAttrOptions{Pinned: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Delete(ctx, "/p/d", true); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Rename(ctx, "/p/loaded", "/moved"); err != nil {
		t.Fatal(err)
	}
	want = []string{"/moved", "/p/ld/listed"}
	if got := pinned(); !slices.Equal(got, want) {
		t.Errorf("ListPinned after unpin, delete and rename = %v, want %v", got, want)
	}
	if n, _, _ := indexSizes(t, e.m); n != len(want) {
		t.Errorf("the pin index holds %d files, want %d", n, len(want))
	}
}

// TestLocation sets the worker location at completion and checks every
// way it is cleared.
func TestLocation(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	const worker = "127.0.0.1:29999"
	// cached makes a completed, unpersisted file held by worker.
	cached := func(t *testing.T, p string) FileInfo {
		t.Helper()
		fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644})
		if err != nil {
			t.Fatal(err)
		}
		fi, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 3, Location: worker})
		if err != nil {
			t.Fatal(err)
		}
		if fi.Location != worker || fi.Persisted {
			t.Fatalf("completed %s: location %q persisted %v", p, fi.Location, fi.Persisted)
		}
		return fi
	}
	cases := []struct {
		name string
		do   func(t *testing.T, fi FileInfo) (string, error) // returns the path to look at
		want string
	}{
		{"rename keeps it", func(t *testing.T, fi FileInfo) (string, error) {
			return "/renamed", e.m.Rename(ctx, fi.Path, "/renamed")
		}, worker},
		{"pin keeps it", func(t *testing.T, fi FileInfo) (string, error) {
			_, err := e.m.SetAttr(ctx, fi.Path, SetAttrOptions{Pinned: ptr(true)})
			return fi.Path, err
		}, worker},
		{"persist clears it", func(t *testing.T, fi FileInfo) (string, error) {
			return fi.Path, e.m.MarkPersisted(ctx, fi.ID, uploaded(fi), "fp")
		}, ""},
		{"new version clears it", func(t *testing.T, fi FileInfo) (string, error) {
			_, err := e.m.NewVersion(ctx, fi.ID)
			return fi.Path, err
		}, ""},
		{"overwrite clears it", func(t *testing.T, fi FileInfo) (string, error) {
			_, err := e.m.CreateFile(ctx, fi.Path, CreateOptions{Overwrite: true})
			return fi.Path, err
		}, ""},
		{"truncate clears it", func(t *testing.T, fi FileInfo) (string, error) {
			_, err := e.m.SetAttr(ctx, fi.Path, SetAttrOptions{Size: ptr(int64(0))})
			return fi.Path, err
		}, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fi := cached(t, fmt.Sprintf("/f%d", i))
			p, err := tc.do(t, fi)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.stat(t, p).Location; got != tc.want {
				t.Errorf("location %q, want %q", got, tc.want)
			}
		})
	}

	// Persisted at completion: no location whatever the writer says.
	fi, err := e.m.CreateFile(ctx, "/through", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Persisted: true, Location: worker}); err != nil || fi.Location != "" {
		t.Errorf("persisted completion: location %q, %v", fi.Location, err)
	}
	fi, err = e.m.CreateFile(ctx, "/bad", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 1, Location: "no-port"})
	wantErrno(t, "location without a port", err, syscall.EINVAL)
	if err != nil && !strings.Contains(err.Error(), "no-port") {
		t.Errorf("error %q does not name the location", err)
	}
}

// TestExpired checks the order, the limit and the boundary of Expired,
// and that deleted and cleared entries leave it.
func TestExpired(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	ttls := map[string]int64{"/a": 300_000, "/b": 100_000, "/c": 200_000, "/d/e": 400_000}
	e.mkdir(t, "/d")
	for p, ttl := range ttls {
		e.writeFile(t, p, "x")
		if _, err := e.m.SetAttr(ctx, p, SetAttrOptions{TTL: ptr(ttl)}); err != nil {
			t.Fatal(err)
		}
	}
	e.writeFile(t, "/none", "no ttl")
	later := time.Now().Add(time.Hour)
	cases := []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{later, 0, []string{"/b", "/c", "/a", "/d/e"}},
		{later, 2, []string{"/b", "/c"}},
		{later, -1, []string{"/b", "/c", "/a", "/d/e"}},
		{time.Now(), 0, nil},
	}
	for _, tc := range cases {
		got, err := e.m.Expired(ctx, tc.now, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(paths(got), tc.want) {
			t.Errorf("Expired(limit %d) = %v, want %v", tc.limit, paths(got), tc.want)
		}
	}

	// The boundary: creation + TTL is expired, a nanosecond before is not.
	b := e.stat(t, "/b")
	at := time.Unix(0, b.CreationTime+b.TTL*int64(time.Millisecond))
	if got, _ := e.m.Expired(ctx, at, 1); !slices.Equal(paths(got), []string{"/b"}) {
		t.Errorf("at the expiry: %v", paths(got))
	}
	if got, _ := e.m.Expired(ctx, at.Add(-1), 1); len(got) != 0 {
		t.Errorf("a nanosecond before the expiry: %v", paths(got))
	}

	// Renamed: listed at its new path. Deleted: gone.
	if err := e.m.Rename(ctx, "/d", "/d2"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Delete(ctx, "/c", false); err != nil {
		t.Fatal(err)
	}
	// ClearTTL of an entry that has not expired yet keeps its TTL; of one
	// that has (at the leader's clock, so make one expire now) removes it.
	a := e.stat(t, "/a")
	if fi, err := e.m.ClearTTL(ctx, a.ID); err != nil || fi.TTL != a.TTL {
		t.Errorf("ClearTTL before the expiry: %+v %v", fi, err)
	}
	if _, err := e.m.SetAttr(ctx, "/b", SetAttrOptions{TTL: ptr(int64(1)), TTLAction: ptr("FREE")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	fi, err := e.m.ClearTTL(ctx, b.ID)
	if err != nil || fi.TTL != 0 || fi.TTLAction != "" {
		t.Errorf("ClearTTL after the expiry: %s %v", attrsOf(fi), err)
	}
	got, err := e.m.Expired(ctx, later, 0)
	if err != nil || !slices.Equal(paths(got), []string{"/a", "/d2/e"}) {
		t.Errorf("Expired after rename, delete and clear = %v %v", paths(got), err)
	}
	if _, n, m := indexSizes(t, e.m); n != 2 || m != 2 {
		t.Errorf("the expiry index holds %d and %d keys, want 2", n, m)
	}
	_, err = e.m.ClearTTL(ctx, 999_999)
	wantErrno(t, "ClearTTL of a missing inode", err, syscall.ENOENT)
}

// TestRecursiveBatches changes a tree bigger than one batch: every entry
// gets the attributes, the work went in several commands, and a retry of
// the request is answered from the record.
func TestRecursiveBatches(t *testing.T) {
	old := maxAttrBatch
	maxAttrBatch = 3
	t.Cleanup(func() { maxAttrBatch = old })

	e := newEnv(t, -1)
	ctx := context.Background()
	var files []string
	for _, d := range []string{"/t/a", "/t/b/c"} {
		e.mkdir(t, d)
		for i := range 3 {
			p := fmt.Sprintf("%s/f%d", d, i)
			e.writeFile(t, p, "x")
			files = append(files, p)
		}
	}
	before := e.m.fsm.entries.Load()
	rctx := WithRequestID(ctx, NewRequestID())
	o := SetAttrOptions{Pinned: ptr(true), TTL: ptr(int64(50_000)), TTLAction: ptr("free"), Recursive: true}
	fi, err := e.m.SetAttr(rctx, "/t", o)
	if err != nil {
		t.Fatal(err)
	}
	// 1 + 3 directories + 6 files = 10 entries: 4 batches and the root.
	if n := e.m.fsm.entries.Load() - before; n < 5 {
		t.Errorf("%d entries applied, want the tree in batches", n)
	}
	if fi.Path != "/t" || attrsOf(fi) != "pinned=true ttl=50000 action=FREE" {
		t.Errorf("result %+v", fi)
	}
	for _, p := range append(files, "/t", "/t/a", "/t/b", "/t/b/c") {
		if got := attrsOf(e.stat(t, p)); got != "pinned=true ttl=50000 action=FREE" {
			t.Errorf("%s: %s", p, got)
		}
	}
	list, err := e.m.ListPinned(ctx)
	if err != nil || len(list) != len(files) {
		t.Errorf("ListPinned: %v %v", paths(list), err)
	}
	exp, err := e.m.Expired(ctx, time.Now().Add(time.Hour), 0)
	if err != nil || len(exp) != len(files)+4 {
		t.Errorf("Expired: %v %v", paths(exp), err)
	}
	before = e.m.fsm.entries.Load()
	again, err := e.m.SetAttr(rctx, "/t", o)
	if err != nil || again != fi {
		t.Errorf("retry: %+v %v, first %+v", again, err, fi)
	}
	if n := e.m.fsm.entries.Load() - before; n != 0 {
		t.Errorf("the retry applied %d entries", n)
	}
}

// TestAttrsSurviveSnapshotAndRestart checks that pin, TTL, location and
// creation time, and both indexes, are in a snapshot restored into a fresh
// FSM and in the metastore after a restart.
func TestAttrsSurviveSnapshotAndRestart(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/d")
	if _, err := e.m.SetAttr(ctx, "/d", SetAttrOptions{Pinned: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	e.writeFile(t, "/d/pinned", "p")
	if _, err := e.m.SetAttr(ctx, "/d/pinned", SetAttrOptions{TTL: ptr(int64(1000)), TTLAction: ptr("FREE")}); err != nil {
		t.Fatal(err)
	}
	c, err := e.m.CreateFile(ctx, "/cached", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CompleteFile(ctx, c.ID, CompleteOptions{Size: 1, Location: "127.0.0.1:29999"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]FileInfo{"/d": e.stat(t, "/d"), "/d/pinned": e.stat(t, "/d/pinned"), "/cached": e.stat(t, "/cached")}
	if want["/d/pinned"].CreationTime == 0 || !want["/d/pinned"].Pinned || want["/cached"].Location == "" {
		t.Fatalf("setup: %+v", want)
	}
	later := time.Now().Add(time.Hour).UnixNano()

	// check reads the entries, the pinned files and the expired entries
	// from an FSM's metastore.
	check := func(t *testing.T, f *fsm) {
		t.Helper()
		err := f.view(func(tx *txn) error {
			mt := tx.mountTable()
			for p, w := range want {
				n, err := tx.lookup("stat", p)
				if err != nil {
					return err
				}
				if got := mt.toInfo(n, p); got != w {
					t.Errorf("%s: %+v, want %+v", p, got, w)
				}
			}
			var pinned []uint64
			tx.tx.Bucket(bucketPinned).ForEach(func(k, _ []byte) error {
				pinned = append(pinned, binary.BigEndian.Uint64(k))
				return nil
			})
			if !slices.Equal(pinned, []uint64{want["/d/pinned"].ID}) {
				t.Errorf("pinned index %v", pinned)
			}
			var expired []uint64
			tx.expired(later, 0, func(n *inode) error { expired = append(expired, n.ID); return nil })
			if !slices.Equal(expired, []uint64{want["/d/pinned"].ID}) {
				t.Errorf("expiry index %v", expired)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(e.cfg.JournalDir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("snapshots: %v %v", list, err)
	}
	fresh, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fresh.close() })
	_, rc, err := snaps.Open(list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Restore(rc); err != nil {
		t.Fatal(err)
	}
	t.Run("snapshot", func(t *testing.T) { check(t, fresh) })

	e.restart(t)
	t.Run("restart", func(t *testing.T) {
		check(t, e.m.fsm)
		if got, err := e.m.Expired(ctx, time.Unix(0, later), 0); err != nil || !slices.Equal(paths(got), []string{"/d/pinned"}) {
			t.Errorf("Expired after restart: %v %v", paths(got), err)
		}
		// The directory still passes its pin on.
		if fi := e.writeFile(t, "/d/after", "a"); !fi.Pinned {
			t.Error("a file made after the restart did not inherit the pin")
		}
	})
}

// TestOldRecords decodes inodes and applies commands stored before the
// new attributes existed.
func TestOldRecords(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), metastoreName), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	if r := applyAt(t, f, 1, &createDirectoryCmd{Path: "/d", Mode: 0o755, Now: 10}); r.err != nil {
		t.Fatal(r.err)
	}
	// Inodes as an earlier version stored them, with no creation time.
	old := map[uint64]string{
		100: `{"id":100,"parentId":1,"name":"c","mode":420,"uid":0,"gid":0,"mtime":5,"atime":5,"ctime":7,"completed":true}`,
		101: `{"id":101,"parentId":1,"name":"m","mode":420,"uid":0,"gid":0,"mtime":5,"atime":5,"ctime":0,"completed":true}`,
	}
	err = f.st.update(func(tx *txn) error {
		for id, v := range old {
			if err := tx.tx.Bucket(bucketInodes).Put(u64(id), []byte(v)); err != nil {
				return err
			}
			name := map[uint64]string{100: "c", 101: "m"}[id]
			if err := tx.tx.Bucket(bucketEdges).Put(edgeKey(rootID, name), u64(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.view(func(tx *txn) error {
		for id, want := range map[uint64]int64{100: 7, 101: 5} {
			if n, ok := tx.inode(id); !ok || n.CreationTime != want || n.Pinned || n.TTL != 0 || n.Location != "" {
				t.Errorf("old inode %d: %+v, want creation time %d", id, n, want)
			}
		}
		return nil
	})
	// A setattr command as an earlier version encoded it still applies;
	// the first write keeps the derived creation time.
	raw := append([]byte{byte(cmdSetAttr)}, `{"path":"/c","mode":448,"now":20}`...)
	r, ok := f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: raw}).(*applyResult)
	if !ok || r.err != nil {
		t.Fatalf("old setattr: %+v", r)
	}
	fi := r.value.(FileInfo)
	if fi.Mode != 0o700 || fi.Ctime != 20 || fi.CreationTime != 7 || fi.Pinned || fi.TTL != 0 {
		t.Errorf("old setattr result %+v", fi)
	}
	// An old completion has no location.
	c := applyAt(t, f, 3, &createFileCmd{Path: "/d/f", Mode: 0o644, Now: 30})
	raw = append([]byte{byte(cmdCompleteFile)}, fmt.Sprintf(`{"id":%d,"size":1,"now":31}`, c.value.(FileInfo).ID)...)
	r, _ = f.Apply(&raft.Log{Index: 4, Type: raft.LogCommand, Data: raw}).(*applyResult)
	if r == nil || r.err != nil || r.value.(FileInfo).Location != "" || r.value.(FileInfo).CreationTime != 30 {
		t.Errorf("old complete: %+v", r)
	}
	// A batch skips ids that are gone and rejects invalid values.
	if r := applyAt(t, f, 5, &setAttrBatchCmd{nsAttrs: nsAttrs{Pinned: ptr(true)}, Path: "/", IDs: []uint64{100, 12345}, Now: 40}); r.err != nil {
		t.Errorf("batch with a missing id: %v", r.err)
	}
	if r := applyAt(t, f, 6, &setAttrBatchCmd{nsAttrs: nsAttrs{TTL: ptr(int64(-1))}, Path: "/", IDs: []uint64{100}, Now: 41}); !errors.Is(r.err, syscall.EINVAL) {
		t.Errorf("batch with a negative TTL: %v", r.err)
	}
}

// TestExpiryKeyOrder checks that the index orders signed expiry times and
// that an enormous TTL never overflows into the past.
func TestExpiryKeyOrder(t *testing.T) {
	times := []int64{-5e18, -1, 0, 1, 1_700_000_000_000_000_000, 9e18}
	for i := 1; i < len(times); i++ {
		a, b := ttlKey(times[i-1], 99), ttlKey(times[i], 1)
		if string(a) >= string(b) {
			t.Errorf("key of %d does not sort before key of %d", times[i-1], times[i])
		}
		if got := ttlKeyExpiry(b); got != times[i] {
			t.Errorf("expiry %d read back as %d", times[i], got)
		}
	}
	cases := []struct {
		creation, ttl, want int64
	}{
		{1000, 1, 1000 + int64(time.Millisecond)},
		{-1000, 1, -1000 + int64(time.Millisecond)},
		{1_700_000_000_000_000_000, 1 << 62, 1<<63 - 1},
		{0, 1<<63 - 1, 1<<63 - 1},
	}
	for _, tc := range cases {
		n := &inode{CreationTime: tc.creation, TTL: tc.ttl}
		if got := n.expiry(); got != tc.want {
			t.Errorf("expiry of creation %d + ttl %d ms = %d, want %d", tc.creation, tc.ttl, got, tc.want)
		}
	}
}

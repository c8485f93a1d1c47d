package meta

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// fillUFSDir creates n empty files f00000.. in directory dir of the
// environment's under-store, straight on disk.
func fillUFSDir(t testing.TB, e *testEnv, dir string, n int) []string {
	t.Helper()
	local := e.path(dir)
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("f%05d", i)
		f, err := os.Create(filepath.Join(local, out[i]))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return out
}

// listAllPages lists p a page of limit at a time, calling between (when
// not nil) after each page with the last name listed so far.
func listAllPages(t testing.TB, m *Master, p string, limit int, between func(page int, last string)) []string {
	t.Helper()
	ctx := context.Background()
	var (
		got   []string
		after string
	)
	for page := 0; ; page++ {
		entries, more, err := m.ListStatusPage(ctx, p, after, limit)
		if err != nil {
			t.Fatalf("ListStatusPage(%s, after %q, %d): %v", p, after, limit, err)
		}
		if limit > 0 && len(entries) > limit {
			t.Fatalf("page %d holds %d entries, more than the limit %d", page, len(entries), limit)
		}
		for _, fi := range entries {
			got = append(got, fi.Name)
		}
		if !more {
			return got
		}
		if len(entries) == 0 {
			t.Fatalf("page %d after %q is empty but more is set", page, after)
		}
		after = entries[len(entries)-1].Name
		if between != nil {
			between(page, after)
		}
	}
}

// TestListStatusPageLargeDirectory lists a directory of 20,000 entries,
// loaded from the under-store, in pages of several sizes while entries are
// removed and created between pages: every entry present throughout is
// seen exactly once, in name order; entries removed before the listing
// reached them are not seen, entries created ahead of it are.
func TestListStatusPageLargeDirectory(t *testing.T) {
	const n = 20000
	e := newEnv(t, -1)
	ctx := context.Background()
	fillUFSDir(t, e, "/big", n)

	for _, limit := range []int{97, 1000, 0, 4096, n + 1} {
		t.Run(fmt.Sprint("limit=", limit), func(t *testing.T) {
			before := names(t, e.m, "/big")
			if len(before) < n/2 {
				t.Fatalf("directory holds %d entries before the listing", len(before))
			}
			rng := rand.New(rand.NewPCG(uint64(limit), 1))
			pageSize := limit
			if pageSize <= 0 {
				pageSize = DefaultListPageSize
			}
			step := max(1, len(before)/pageSize/12) // about a dozen rounds of changes
			var (
				removedAhead, removedBehind []string
				createdAhead, createdBehind []string
			)
			remove := func(name string) {
				if err := e.m.Delete(ctx, "/big/"+name, false); err != nil {
					t.Fatalf("Delete %s: %v", name, err)
				}
			}
			create := func(name string) {
				if _, err := e.m.CreateDirectory(ctx, "/big/"+name, MkdirOptions{Mode: 0o755}); err != nil {
					t.Fatalf("CreateDirectory %s: %v", name, err)
				}
			}
			gone := map[string]bool{}
			pages := 1
			got := listAllPages(t, e.m, "/big", limit, func(page int, last string) {
				pages++
				if page%step != 0 {
					return
				}
				i, _ := slices.BinarySearch(before, last)
				// The entry just listed, and one ahead not listed yet.
				if !gone[last] {
					remove(last)
					gone[last] = true
					removedBehind = append(removedBehind, last)
				}
				if j := i + 1 + rng.IntN(2*pageSize); j < len(before) && !gone[before[j]] {
					remove(before[j])
					gone[before[j]] = true
					removedAhead = append(removedAhead, before[j])
				}
				// New names just after the cursor and far behind it.
				ahead := fmt.Sprintf("%s~%d", last, page)
				behind := fmt.Sprintf("a%d-%d", limit, page)
				create(ahead)
				create(behind)
				createdAhead = append(createdAhead, ahead)
				createdBehind = append(createdBehind, behind)
			})

			if !slices.IsSorted(got) {
				t.Errorf("listing is not in name order")
			}
			seen := map[string]int{}
			for _, name := range got {
				seen[name]++
			}
			for name, c := range seen {
				if c != 1 {
					t.Errorf("%s listed %d times", name, c)
				}
			}
			missing := 0
			for _, name := range before {
				if !gone[name] && seen[name] != 1 {
					missing++
					if missing <= 5 {
						t.Errorf("%s, present throughout, was not listed", name)
					}
				}
			}
			if missing > 0 {
				t.Errorf("%d entries present throughout were not listed", missing)
			}
			for _, name := range removedAhead {
				if seen[name] != 0 {
					t.Errorf("%s, removed before the listing reached it, was listed", name)
				}
			}
			for _, name := range createdAhead {
				if seen[name] != 1 {
					t.Errorf("%s, created ahead of the listing, was not listed", name)
				}
			}
			for _, name := range createdBehind {
				if seen[name] != 0 {
					t.Errorf("%s, created behind the listing, was listed", name)
				}
			}
			if pages > 1 && (len(removedBehind) == 0 || len(createdAhead) == 0) {
				t.Errorf("no changes were made between pages (step %d)", step)
			}
		})
	}
}

// TestListStatusPageEdges covers the ends of a listing and the paths that
// are not directories.
func TestListStatusPageEdges(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c", "d"} {
		e.writeUFS(t, "/d/"+name, name)
	}
	e.writeUFS(t, "/file", "x")
	if _, err := e.m.GetStatus(ctx, "/file"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		path       string
		startAfter string
		limit      int
		want       []string
		more       bool
		err        error
	}{
		{name: "first page", path: "/d", limit: 2, want: []string{"a", "b"}, more: true},
		{name: "next page", path: "/d", startAfter: "b", limit: 2, want: []string{"c", "d"}},
		{name: "exact fit", path: "/d", limit: 4, want: []string{"a", "b", "c", "d"}},
		{name: "default size", path: "/d", want: []string{"a", "b", "c", "d"}},
		{name: "after a removed name", path: "/d", startAfter: "bb", limit: 1, want: []string{"c"}, more: true},
		{name: "after the last", path: "/d", startAfter: "d", limit: 2},
		{name: "after everything", path: "/d", startAfter: "zzz", limit: 2},
		{name: "a file lists as itself", path: "/file", want: []string{"file"}},
		{name: "a file has no second page", path: "/file", startAfter: "file", err: syscall.ENOTDIR},
		{name: "missing", path: "/nope", err: syscall.ENOENT},
		{name: "missing, later page", path: "/nope", startAfter: "a", err: syscall.ENOENT},
		{name: "relative path", path: "d", err: syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, more, err := e.m.ListStatusPage(ctx, tt.path, tt.startAfter, tt.limit)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.path) {
					t.Errorf("error %q does not name the path %s", err, tt.path)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fi := range entries {
				got = append(got, fi.Name)
			}
			if !slices.Equal(got, tt.want) || more != tt.more {
				t.Errorf("got %v more=%v, want %v more=%v", got, more, tt.want, tt.more)
			}
		})
	}
}

// TestSyncDirBatches: a directory listing bigger than a batch is
// reconciled in several bounded commands with the same outcome as one:
// new entries added, vanished ones removed, changed ones refreshed, kinds
// replaced, entries not in the under-store (unpersisted) kept.
func TestSyncDirBatches(t *testing.T) {
	old := syncBatchSize
	syncBatchSize = 5
	t.Cleanup(func() { syncBatchSize = old })

	e := newEnv(t, 0) // sync on every listing
	ctx := context.Background()
	all := fillUFSDir(t, e, "/d", 23)

	applied := e.m.fsm.entries.Load()
	if got := names(t, e.m, "/d"); !slices.Equal(got, all) {
		t.Fatalf("first listing = %v, want %v", got, all)
	}
	if n := e.m.fsm.entries.Load() - applied; n < 5 {
		t.Errorf("23 entries were loaded in %d commands; want one per batch of 5 (5)", n)
	}
	loaded := false
	e.m.fsm.view(func(tx *txn) error {
		n, err := tx.lookup("test", "/d")
		loaded = err == nil && n.Loaded
		return nil
	})
	if !loaded {
		t.Errorf("directory not marked listed after the last batch")
	}

	// An unpersisted file, which no sync may drop.
	cache, err := e.m.CreateFile(ctx, "/d/f00012x", CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CompleteFile(ctx, cache.ID, CompleteOptions{Size: 3}); err != nil {
		t.Fatal(err)
	}
	// Changes behind the master's back, in every batch.
	for _, name := range []string{"f00000", "f00007", "f00013", "f00022"} {
		if err := os.Remove(e.path("/d/" + name)); err != nil {
			t.Fatal(err)
		}
	}
	e.writeUFS(t, "/d/f00009", "changed")
	if err := os.Remove(e.path("/d/f00016")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(e.path("/d/f00016"), 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeUFS(t, "/d/a-first", "1")
	e.writeUFS(t, "/d/f00010b", "2")
	e.writeUFS(t, "/d/z-last", "3")

	var want []string
	for _, name := range all {
		if !slices.Contains([]string{"f00000", "f00007", "f00013", "f00022"}, name) {
			want = append(want, name)
		}
	}
	want = append(want, "a-first", "f00010b", "f00012x", "z-last")
	slices.Sort(want)
	if got := names(t, e.m, "/d"); !slices.Equal(got, want) {
		t.Fatalf("listing after changes = %v\nwant %v", got, want)
	}
	if fi, err := e.m.GetStatus(ctx, "/d/f00009"); err != nil || fi.Size != int64(len("changed")) {
		t.Errorf("changed file: %+v %v", fi, err)
	}
	if fi, err := e.m.GetStatus(ctx, "/d/f00016"); err != nil || !fi.IsDir {
		t.Errorf("file replaced by a directory: %+v %v", fi, err)
	}
	if fi, err := e.m.GetStatus(ctx, "/d/f00012x"); err != nil || fi.Persisted || fi.Size != 3 {
		t.Errorf("unpersisted file: %+v %v", fi, err)
	}

	// Nothing changed: no command at all.
	applied = e.m.fsm.entries.Load()
	names(t, e.m, "/d")
	if n := e.m.fsm.entries.Load() - applied; n != 0 {
		t.Errorf("a listing that changes nothing applied %d commands", n)
	}
}

// fillNamespace adds n file entries to directory dir straight through the
// state machine, in batches, without an under-store behind them. The
// directory is listed first so that no sync removes them later.
func fillNamespace(b testing.TB, e *testEnv, dir string, n int) {
	b.Helper()
	ctx := context.Background()
	e.mkdir(b, dir)
	if _, err := e.m.ListStatus(ctx, dir); err != nil {
		b.Fatal(err)
	}
	const batch = 4096
	entries := make([]ufsEntry, 0, batch)
	for i := range n {
		entries = append(entries, ufsEntry{Name: fmt.Sprintf("%s/file-%07d", dir, i), Mode: 0o644, Size: int64(i), Mtime: 1})
		if len(entries) == batch || i == n-1 {
			if _, err := e.m.propose(ctx, &addUFSEntriesCmd{Entries: entries}); err != nil {
				b.Fatal(err)
			}
			entries = entries[:0]
		}
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkListLargeDirectory lists directories of 20,000 and 200,000
// entries whole (ListStatus) and in pages of 1000 (ListStatusPage), and
// reports the live heap the listing holds at its peak (live-B; sampled
// after a collection at each page) and the bytes allocated per entry. A
// paged listing's peak stays that of one page whatever the directory's
// size; a whole listing's grows with it. The paged times include a
// collection per page, for the sampling.
func BenchmarkListLargeDirectory(b *testing.B) {
	for _, n := range []int{20000, 200000} {
		e := newEnv(b, -1)
		dir := fmt.Sprintf("/dir%d", n)
		fillNamespace(b, e, dir, n)
		ctx := context.Background()
		b.Run(fmt.Sprintf("entries=%d/whole", n), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				base := liveHeap()
				list, err := e.m.ListStatus(ctx, dir)
				if err != nil || len(list) != n {
					b.Fatalf("ListStatus: %d entries, %v", len(list), err)
				}
				if h := liveHeap(); h > base {
					peak = max(peak, h-base)
				}
				runtime.KeepAlive(list)
			}
			b.ReportMetric(float64(peak), "live-B")
		})
		b.Run(fmt.Sprintf("entries=%d/paged-1000", n), func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				base := liveHeap()
				after, total := "", 0
				for {
					page, more, err := e.m.ListStatusPage(ctx, dir, after, 1000)
					if err != nil {
						b.Fatal(err)
					}
					total += len(page)
					if h := liveHeap(); h > base {
						peak = max(peak, h-base)
					}
					if !more {
						break
					}
					after = page[len(page)-1].Name
				}
				if total != n {
					b.Fatalf("paged listing saw %d entries, want %d", total, n)
				}
			}
			b.ReportMetric(float64(peak), "live-B")
		})
	}
}

package fuse

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pagedDir is a directory listed in pages of size, as the master lists
// one; names can change between pages.
type pagedDir struct {
	names []string // sorted
	size  int
	calls int
	fail  int // the call (1-based) that fails with EIO; 0 none
}

func newPagedDir(n, size int) *pagedDir {
	d := &pagedDir{size: size}
	for i := range n {
		d.names = append(d.names, fmt.Sprintf("e%05d", i))
	}
	return d
}

func (d *pagedDir) ListPage(ctx context.Context, path, startAfter string, limit int) ([]Entry, bool, error) {
	d.calls++
	if d.calls == d.fail {
		return nil, false, fmt.Errorf("list %s: %w", path, syscall.EIO)
	}
	i, found := slices.BinarySearch(d.names, startAfter)
	if found {
		i++
	}
	end := min(i+d.size, len(d.names))
	var out []Entry
	for _, name := range d.names[i:end] {
		out = append(out, Entry{Name: name, Attr: Attr{Ino: 1000 + uint64(len(name))}})
	}
	return out, end < len(d.names), nil
}

func (d *pagedDir) remove(name string) {
	if i, ok := slices.BinarySearch(d.names, name); ok {
		d.names = slices.Delete(d.names, i, i+1)
	}
}

func (d *pagedDir) add(name string) {
	if i, ok := slices.BinarySearch(d.names, name); !ok {
		d.names = slices.Insert(d.names, i, name)
	}
}

func testNode() *node {
	return &node{fsys: &fileSystem{log: slog.New(slog.DiscardHandler), attrTimeout: time.Hour}}
}

// readAll reads the stream to its end, returning names and offsets.
func readAll(t *testing.T, s *dirStream, between func(read int)) ([]string, []uint64) {
	t.Helper()
	var (
		names []string
		offs  []uint64
	)
	for s.HasNext() {
		e, errno := s.Next()
		if errno != 0 {
			t.Fatalf("Next after %d entries: %v", len(names), errno)
		}
		names = append(names, e.Name)
		offs = append(offs, e.Off)
		if between != nil {
			between(len(names))
		}
	}
	return names, offs
}

// TestDirStreamPages: entries come in order with offsets 1, 2, ..., and a
// page is fetched only when the one before was read; the listing cache
// holds one page.
func TestDirStreamPages(t *testing.T) {
	d := newPagedDir(2500, 100)
	n := testNode()
	s, errno := newDirStream(context.Background(), n, d, "/big")
	if errno != 0 {
		t.Fatal(errno)
	}
	if d.calls != 1 {
		t.Fatalf("opening fetched %d pages, want 1", d.calls)
	}
	names, offs := readAll(t, s, func(read int) {
		if want := (read-1)/100 + 1; d.calls != want {
			t.Fatalf("after %d entries %d pages were fetched, want %d", read, d.calls, want)
		}
	})
	if !slices.Equal(names, d.names) {
		t.Fatalf("listed %d names, want %d", len(names), len(d.names))
	}
	for i, off := range offs {
		if off != uint64(i+1) {
			t.Fatalf("entry %d has offset %d", i, off)
		}
	}
	if len(n.listing) != 2500 {
		t.Errorf("listing cache holds %d entries, want the whole small listing (2500)", len(n.listing))
	}
	if _, ok := n.cachedEntry("e02499"); !ok {
		t.Errorf("last page not in the listing cache")
	}

	// A listing bigger than the cache keeps at most maxListing entries,
	// the page at hand among them.
	d = newPagedDir(3*maxListing+50, 1000)
	s, errno = newDirStream(context.Background(), n, d, "/bigger")
	if errno != 0 {
		t.Fatal(errno)
	}
	if got, _ := readAll(t, s, func(int) {
		if len(n.listing) > maxListing {
			t.Fatalf("listing cache holds %d entries, more than %d", len(n.listing), maxListing)
		}
	}); len(got) != len(d.names) {
		t.Fatalf("listed %d names, want %d", len(got), len(d.names))
	}
	if _, ok := n.cachedEntry(d.names[len(d.names)-1]); !ok {
		t.Errorf("last page not in the listing cache")
	}
}

// TestDirStreamSeekdir: after reading to one offset and seeking to
// another, the next entry is the one after that offset.
func TestDirStreamSeekdir(t *testing.T) {
	tests := []struct {
		name      string
		read      int    // entries read before the seek
		seek      uint64 // offset sought
		wantNext  string // "" for the end
		maxFetch  int    // pages fetched by the seek and the read after it
		wantReset bool   // the seek lists the directory again
	}{
		{name: "rewind", read: 250, seek: 0, wantNext: "e00000", maxFetch: 1, wantReset: true},
		{name: "within the page", read: 250, seek: 210, wantNext: "e00210", maxFetch: 0},
		{name: "start of the page", read: 250, seek: 200, wantNext: "e00200", maxFetch: 0},
		{name: "back one page", read: 250, seek: 150, wantNext: "e00150", maxFetch: 1},
		{name: "back to a page boundary", read: 250, seek: 100, wantNext: "e00100", maxFetch: 1},
		{name: "back to the first page", read: 250, seek: 5, wantNext: "e00005", maxFetch: 1},
		{name: "forward past what was read", read: 10, seek: 730, wantNext: "e00730", maxFetch: 7},
		{name: "to the last entry", read: 0, seek: 999, wantNext: "e00999", maxFetch: 9},
		{name: "to the end", read: 0, seek: 1000, wantNext: "", maxFetch: 9},
		{name: "past the end", read: 0, seek: 5000, wantNext: "", maxFetch: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newPagedDir(1000, 100)
			s, errno := newDirStream(context.Background(), testNode(), d, "/d")
			if errno != 0 {
				t.Fatal(errno)
			}
			for range tt.read {
				if !s.HasNext() {
					t.Fatal("directory ended early")
				}
				s.Next()
			}
			calls := d.calls
			if errno := s.Seekdir(context.Background(), tt.seek); errno != 0 {
				t.Fatalf("Seekdir(%d): %v", tt.seek, errno)
			}
			var got string
			var off uint64
			if s.HasNext() {
				e, errno := s.Next()
				if errno != 0 {
					t.Fatal(errno)
				}
				got, off = e.Name, e.Off
			}
			if got != tt.wantNext {
				t.Fatalf("next after seeking to %d = %q, want %q", tt.seek, got, tt.wantNext)
			}
			if got != "" && off != tt.seek+1 {
				t.Errorf("entry after offset %d has offset %d", tt.seek, off)
			}
			if fetched := d.calls - calls; fetched > tt.maxFetch || (tt.wantReset && fetched == 0) {
				t.Errorf("the seek fetched %d pages, want at most %d", fetched, tt.maxFetch)
			}
			// The rest of the listing follows without a gap.
			if got != "" {
				rest, _ := readAll(t, s, nil)
				i := slices.Index(d.names, got)
				if !slices.Equal(rest, d.names[i+1:]) {
					t.Errorf("after the seek %d more entries were listed, want %d", len(rest), len(d.names)-i-1)
				}
			}
		})
	}
}

// TestDirStreamChangesBetweenPages: names removed or added while the
// directory is read never make an entry present throughout disappear or
// come twice.
func TestDirStreamChangesBetweenPages(t *testing.T) {
	d := newPagedDir(1000, 64)
	before := slices.Clone(d.names)
	s, errno := newDirStream(context.Background(), testNode(), d, "/d")
	if errno != 0 {
		t.Fatal(errno)
	}
	removed := map[string]bool{}
	got, _ := readAll(t, s, func(read int) {
		if read%50 != 0 {
			return
		}
		// Remove the entry just read and one far ahead; add names
		// before and after the position.
		r1, r2 := fmt.Sprintf("e%05d", read-1), fmt.Sprintf("e%05d", read+200)
		d.remove(r1)
		d.remove(r2)
		removed[r1], removed[r2] = true, true
		d.add(fmt.Sprintf("a%05d", read))
		d.add(fmt.Sprintf("e%05d+", read+300))
	})
	seen := map[string]int{}
	for _, name := range got {
		seen[name]++
	}
	for _, name := range before {
		if !removed[name] && seen[name] != 1 {
			t.Errorf("%s, present throughout, listed %d times", name, seen[name])
		}
	}
	for name, c := range seen {
		if c > 1 {
			t.Errorf("%s listed %d times", name, c)
		}
		if strings.HasPrefix(name, "a") {
			t.Errorf("%s, added behind the reader, was listed", name)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("entries not in name order")
	}
}

// TestDirStreamErrorThenRetry: a page that fails is reported once, and
// reading on fetches it again.
func TestDirStreamErrorThenRetry(t *testing.T) {
	d := newPagedDir(300, 100)
	d.fail = 2
	s, errno := newDirStream(context.Background(), testNode(), d, "/d")
	if errno != 0 {
		t.Fatal(errno)
	}
	var names []string
	var errs int
	for s.HasNext() {
		e, errno := s.Next()
		if errno != 0 {
			if errno != syscall.EIO {
				t.Fatalf("error %v, want EIO", errno)
			}
			errs++
			continue
		}
		names = append(names, e.Name)
	}
	if errs != 1 || !slices.Equal(names, d.names) {
		t.Errorf("%d errors and %d names, want 1 error and all %d names", errs, len(names), len(d.names))
	}

	// A first page that fails fails the readdir.
	d = newPagedDir(10, 5)
	d.fail = 1
	if _, errno := newDirStream(context.Background(), testNode(), d, "/d"); errno != syscall.EIO {
		t.Errorf("opening with a failing first page: %v, want EIO", errno)
	}
}

// listOnly is a client that can only List (the other methods are not
// called here).
type listOnly struct {
	Client
	entries []Entry
}

func (l listOnly) List(ctx context.Context, path string) ([]Entry, error) {
	return slices.Clone(l.entries), nil
}

// TestWholeListerFallback: a client without Lister is listed whole, in
// name order, and seeks work on it.
func TestWholeListerFallback(t *testing.T) {
	c := listOnly{entries: []Entry{{Name: "c"}, {Name: "a"}, {Name: "b"}}}
	s, errno := newDirStream(context.Background(), testNode(), wholeLister{c}, "/d")
	if errno != 0 {
		t.Fatal(errno)
	}
	got, _ := readAll(t, s, nil)
	if !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("listed %v", got)
	}
	if errno := s.Seekdir(context.Background(), 1); errno != 0 {
		t.Fatal(errno)
	}
	got, _ = readAll(t, s, nil)
	if !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("after seeking to 1: %v", got)
	}
}

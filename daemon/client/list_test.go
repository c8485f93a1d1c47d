package client

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// pageMaster serves master.ListStatusPage over a directory of names in
// pages of pageSize. Once deposed it answers that it is not the leader and
// names leaderRPC.
type pageMaster struct {
	addr string

	mu        sync.Mutex // guards the fields below
	names     []string
	pageSize  int
	deposed   bool
	leaderRPC string
	requests  []wire.ListPageRequest
	// brief is how brief pages are answered: "bin" as a master of now
	// (AppendBrief), "json" as one from before binary pages; "" ignores
	// the request's Brief, as the oldest masters do.
	brief string
}

func startPageMaster(t *testing.T, names []string, pageSize int, paged bool) *pageMaster {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pm := &pageMaster{addr: l.Addr().String(), names: names, pageSize: pageSize}
	s := rpc.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if paged {
		s.Handle(wire.MasterListStatusPage, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
			var r wire.ListPageRequest
			if err := req.Decode(&r); err != nil {
				return nil, err
			}
			pm.mu.Lock()
			defer pm.mu.Unlock()
			if pm.deposed {
				return nil, errNotLeader
			}
			pm.requests = append(pm.requests, r)
			i, found := slices.BinarySearch(pm.names, r.StartAfter)
			if found {
				i++
			}
			end := min(i+pm.pageSize, len(pm.names))
			var out []meta.FileInfo
			for k, n := range pm.names[i:end] {
				out = append(out, meta.FileInfo{ID: uint64(i + k + 1), Name: n, Path: r.Path + "/" + n, Mode: 0o644, Size: int64(i + k)})
			}
			page := wire.ListPageResponse{Entries: out, More: end < len(pm.names)}
			switch {
			case r.Brief && r.BriefBin && pm.brief == "bin":
				data := wire.AppendBrief(nil, out)
				page.Entries = nil
				return &rpc.Response{Body: page, Data: data}, nil
			case r.Brief && pm.brief != "":
				for _, fi := range out {
					page.Brief = append(page.Brief, wire.BriefOf(fi))
				}
				page.Entries = nil
			}
			return &rpc.Response{Body: page}, nil
		})
	}
	s.Handle(wire.MasterListStatus, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		var out []meta.FileInfo
		for _, n := range pm.names {
			out = append(out, meta.FileInfo{Name: n})
		}
		return &rpc.Response{Body: wire.ListResponse{Entries: out}}, nil
	})
	s.Handle(wire.MasterRaftStatus, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		pm.mu.Lock()
		defer pm.mu.Unlock()
		return &rpc.Response{Body: wire.RaftStatus{LeaderRPC: pm.leaderRPC}}, nil
	})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return pm
}

func (pm *pageMaster) depose(leader string) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	pm.deposed, pm.leaderRPC = true, leader
}

func (pm *pageMaster) seen() []wire.ListPageRequest {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	return slices.Clone(pm.requests)
}

func dirNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%05d", i)
	}
	return out
}

// TestListStatusPagesAcrossLeaderChange: a listing goes on page by page
// at the new leader after the old one is deposed half way, and sees every
// entry once, in order.
func TestListStatusPagesAcrossLeaderChange(t *testing.T) {
	names := dirNames(2500)
	old, next := startPageMaster(t, names, 100, true), startPageMaster(t, names, 100, true)
	c := New(Config{MasterAddrs: []string{old.addr, next.addr}, RetryFor: 10 * time.Second})
	t.Cleanup(func() { c.Close() })

	var got []string
	pages := 0
	err := c.ListStatusPages(context.Background(), "/d", func(page []meta.FileInfo) error {
		pages++
		if len(page) > 100 {
			t.Errorf("page of %d entries", len(page))
		}
		for _, fi := range page {
			got = append(got, fi.Name)
		}
		if pages == 5 {
			old.depose(next.addr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("listed %d names, want %d in order", len(got), len(names))
	}
	if o, n := len(old.seen()), len(next.seen()); o != 5 || n != 20 {
		t.Errorf("pages served: old leader %d, new leader %d; want 5 and 20", o, n)
	}
	if first := next.seen()[0]; first.StartAfter != "n00499" || first.Path != "/d" {
		t.Errorf("the new leader's first page request %+v; want to continue after n00499", first)
	}
}

// TestListStatusPagesStopsOnCallbackError: an error from the callback ends
// the listing without fetching more pages.
func TestListStatusPagesStopsOnCallbackError(t *testing.T) {
	pm := startPageMaster(t, dirNames(1000), 100, true)
	c := New(Config{MasterAddr: pm.addr, RetryFor: time.Second})
	t.Cleanup(func() { c.Close() })
	stop := fmt.Errorf("enough")
	err := c.ListStatusPages(context.Background(), "/d", func([]meta.FileInfo) error { return stop })
	if err != stop {
		t.Fatalf("error %v, want the callback's", err)
	}
	if n := len(pm.seen()); n != 1 {
		t.Errorf("%d pages fetched, want 1", n)
	}
}

// TestListStatusPageOldMaster: a master without paged listings answers
// the whole listing as one page.
func TestListStatusPageOldMaster(t *testing.T) {
	names := dirNames(30)
	pm := startPageMaster(t, names, 10, false)
	c := New(Config{MasterAddr: pm.addr, RetryFor: time.Second})
	t.Cleanup(func() { c.Close() })
	entries, more, err := c.ListStatusPage(context.Background(), "/d", "", 0)
	if err != nil || more || len(entries) != len(names) {
		t.Fatalf("got %d entries, more=%v, %v; want all %d in one page", len(entries), more, err, len(names))
	}
	fsEntries, err := c.FS().List(context.Background(), "/d")
	if err != nil || len(fsEntries) != len(names) {
		t.Errorf("FS.List: %d entries, %v", len(fsEntries), err)
	}
}

// TestListPageBriefForms: the FUSE view's listing gives the same entries
// whether the master answers binary pages, JSON brief entries (a master
// from before binary pages) or whole statuses (one from before brief
// ones).
func TestListPageBriefForms(t *testing.T) {
	names := dirNames(250)
	for _, form := range []string{"bin", "json", ""} {
		t.Run("form="+form, func(t *testing.T) {
			pm := startPageMaster(t, names, 100, true)
			pm.mu.Lock()
			pm.brief = form
			pm.mu.Unlock()
			c := New(Config{MasterAddr: pm.addr, RetryFor: time.Second})
			t.Cleanup(func() { c.Close() })
			var got []string
			after := ""
			for {
				page, more, err := c.FS().ListPage(context.Background(), "/d", after, 0)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range page {
					want := len(got)
					if e.Attr.Size != int64(want) || e.Attr.Perm != 0o644 || e.Attr.Ino != uint64(want+1) {
						t.Errorf("%s: ino %d size %d mode %o, want %d, %d and 0644", e.Name, e.Attr.Ino, e.Attr.Size, e.Attr.Perm, want+1, want)
					}
					got = append(got, e.Name)
				}
				if !more {
					break
				}
				after = page[len(page)-1].Name
			}
			if !slices.Equal(got, names) {
				t.Fatalf("listed %d names, want %d in order", len(got), len(names))
			}
			for _, r := range pm.seen() {
				if !r.Brief || !r.BriefBin {
					t.Errorf("request %+v: want brief, binary", r)
				}
			}
		})
	}
}

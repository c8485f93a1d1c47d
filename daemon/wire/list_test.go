package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/meta"
)

// TestFitPage: a page whose entries would not fit one RPC body is cut, at
// least one entry kept, More set; a page that fits is left alone.
func TestFitPage(t *testing.T) {
	page := func(n int, name string) ListPageResponse {
		p := ListPageResponse{}
		for i := range n {
			nm := fmt.Sprintf("%s%06d", name, i)
			p.Entries = append(p.Entries, meta.FileInfo{Name: nm, Path: "/dir/" + nm, UfsPath: "dir/" + nm,
				Fingerprint: "TYPE:FILE|LEN:1|MTIME:1", UfsFingerprint: "TYPE:FILE|LEN:1|MTIME:1"})
		}
		return p
	}
	tests := []struct {
		name     string
		in       ListPageResponse
		wantCut  bool
		wantMore bool
	}{
		{name: "small page", in: page(1000, "f"), wantCut: false},
		{name: "small last page", in: ListPageResponse{Entries: page(3, "f").Entries, More: false}},
		{name: "long names", in: page(1000, strings.Repeat("x", 4000)), wantCut: true, wantMore: true},
		{name: "names that escape", in: page(1000, strings.Repeat("<\x01", 1000)), wantCut: true, wantMore: true},
		{name: "one huge entry", in: page(1, strings.Repeat("y", 200000))},
		{name: "empty", in: ListPageResponse{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := FitPage(tt.in)
			cut := len(out.Entries) < len(tt.in.Entries)
			if cut != tt.wantCut || (cut && out.More != tt.wantMore) {
				t.Fatalf("kept %d of %d entries, more=%v", len(out.Entries), len(tt.in.Entries), out.More)
			}
			if len(tt.in.Entries) > 0 && len(out.Entries) == 0 {
				t.Fatal("no entry kept")
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > rpc.MaxBodyLen {
				t.Errorf("page encodes to %d bytes, more than an RPC body (%d)", len(b), rpc.MaxBodyLen)
			}
		})
	}
}

// TestBriefBinary: a binary brief page gives back every field a brief
// entry keeps (and only those), for directories, links, attributes at
// the ends of their ranges and names of any bytes; a page cut short at
// any byte, with bytes left over, or of another format is refused with
// EPROTO, never a panic.
func TestBriefBinary(t *testing.T) {
	in := []meta.FileInfo{
		{ID: 1, Name: "a", Mode: 0o644, UID: 1000, GID: 1000, Size: 1024, Mtime: 1_700_000_000_000, Atime: 1, Ctime: -5, Nlink: 1},
		{ID: 1<<64 - 1, Name: "dir ü\x00\"\\", IsDir: true, Mode: 0o40755, Nlink: 2, HasXattrs: true},
		{ID: 7, Name: "link", IsSymlink: true, Symlink: "../target/x", Mode: 0o120777, UID: 1<<32 - 1, GID: 1<<32 - 1,
			Size: 1<<63 - 1, Mtime: -1 << 63},
		{ID: 8, Name: strings.Repeat("n", 255)},
	}
	page := AppendBrief(nil, in)
	out, err := DecodeBrief(page, "/d")
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d entries, want %d", len(out), len(in))
	}
	for i, fi := range in {
		want := BriefOf(fi).Info("/d")
		if fmt.Sprintf("%+v", out[i]) != fmt.Sprintf("%+v", want) {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, out[i], want)
		}
	}
	if out, err := DecodeBrief(AppendBrief(nil, nil), "/d"); err != nil || len(out) != 0 {
		t.Errorf("empty page: %v, %v", out, err)
	}

	bad := map[string][]byte{
		"empty":          nil,
		"other format":   append([]byte{2}, page[1:]...),
		"trailing bytes": append(append([]byte{}, page...), 0),
		"huge count":     {briefFormat, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for n := 1; n < len(page); n++ {
		bad[fmt.Sprintf("cut at %d", n)] = page[:n]
	}
	for name, b := range bad {
		if _, err := DecodeBrief(b, "/d"); !errors.Is(err, syscall.EPROTO) || !strings.Contains(err.Error(), "/d") {
			t.Errorf("%s: %v, want EPROTO naming the directory", name, err)
		}
	}
}

// FuzzDecodeBrief: any bytes decode to entries or to an EPROTO error,
// never a panic; what decodes encodes back to the same entries.
func FuzzDecodeBrief(f *testing.F) {
	f.Add(AppendBrief(nil, nil))
	f.Add(AppendBrief(nil, []meta.FileInfo{{ID: 3, Name: "a", Mode: 0o644, Size: 9, Mtime: -2, Nlink: 1},
		{ID: 4, Name: "l", IsSymlink: true, Symlink: "a", HasXattrs: true}}))
	f.Add([]byte{briefFormat, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := DecodeBrief(b, "/d")
		if err != nil {
			if !errors.Is(err, syscall.EPROTO) {
				t.Fatalf("error %v is not EPROTO", err)
			}
			return
		}
		again, err := DecodeBrief(AppendBrief(nil, out), "/d")
		if err != nil || fmt.Sprintf("%+v", again) != fmt.Sprintf("%+v", out) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, again, out)
		}
	})
}

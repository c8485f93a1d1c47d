package wire

import (
	"encoding/json"
	"fmt"
	"strings"
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

package wire

import "github.com/alluxio-go/alluxio/meta"

// MasterListStatusPage lists a directory one page at a time (see
// meta.Master.ListStatusPage), so that a directory of any size is listed
// in frames of bounded size.
const MasterListStatusPage = "master.ListStatusPage"

// ListPageSizeKey is the property that bounds the entries of one page, as
// Alluxio's bounds the entries of one listStatus message.
const ListPageSizeKey = "alluxio.master.filesystem.liststatus.result.message.length"

// maxPageBytes bounds the estimated JSON size of one page's entries, well
// below the RPC layer's largest body (rpc.MaxBodyLen, 4 MiB): entries with
// long paths make a page shorter than its entry limit.
const maxPageBytes = 2 << 20

// ListPageRequest asks for the entries of directory Path whose names sort
// after StartAfter ("" for the first page, which also syncs the directory
// with its under-store), at most Limit (0, or more than the master's
// ListPageSizeKey, means the master's page size).
type ListPageRequest struct {
	Path       string `json:"path"`
	StartAfter string `json:"startAfter,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// ListPageResponse is one page of a listing, in name order. More is set
// when entries follow; the next page starts after the last entry's name.
type ListPageResponse struct {
	Entries []meta.FileInfo `json:"entries"`
	More    bool            `json:"more,omitempty"`
	// NS is the page's stamp (see Stamp).
	NS *Stamp `json:"ns,omitempty"`
}

// FitPage cuts a page whose entries would make too big a frame, setting
// More so that the client asks for the rest. It keeps at least one entry,
// so a listing always advances.
func FitPage(p ListPageResponse) ListPageResponse {
	size := 0
	for i, fi := range p.Entries {
		// The fixed fields take about 400 bytes of JSON; the strings
		// are what varies.
		size += 400
		for _, s := range []string{fi.Name, fi.Path, fi.UfsPath, fi.Symlink, fi.Fingerprint,
			fi.UfsFingerprint, fi.Location, fi.TTLAction} {
			size += jsonLen(s)
		}
		if i > 0 && size > maxPageBytes {
			return ListPageResponse{Entries: p.Entries[:i], More: true}
		}
	}
	return p
}

// jsonLen bounds the length of s encoded as a JSON string: a byte that
// may be escaped (a control character, a quote, a backslash, <, >, &, any
// non-ASCII byte) counts as the longest escape, \u00XX.
func jsonLen(s string) int {
	n := 2
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b < 0x20, b >= 0x80, b == '"', b == '\\', b == '<', b == '>', b == '&':
			n += 6
		default:
			n++
		}
	}
	return n
}

package wire

import (
	"path"

	"github.com/alluxio-go/alluxio/meta"
)

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
//
// Brief asks for the entries as BriefEntry (ListPageResponse.Brief): what
// a file system view shows, under short keys.
type ListPageRequest struct {
	Path       string `json:"path"`
	StartAfter string `json:"startAfter,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Brief      bool   `json:"brief,omitempty"`
}

// ListPageResponse is one page of a listing, in name order. More is set
// when entries follow; the next page starts after the last entry's name.
type ListPageResponse struct {
	Entries []meta.FileInfo `json:"entries"`
	// Brief holds the entries instead of Entries when the request asked
	// for it.
	Brief []BriefEntry `json:"brief,omitempty"`
	More  bool         `json:"more,omitempty"`
	// NS is the page's stamp (see Stamp).
	NS *Stamp `json:"ns,omitempty"`
}

// BriefEntry is a listing entry with only what a file system view shows
// (ls -l, a FUSE readdir): a fifth of a FileInfo's JSON, and as much
// quicker to encode and decode, for listings of many files.
type BriefEntry struct {
	ID        uint64 `json:"i"`
	Name      string `json:"n"`
	IsDir     bool   `json:"d,omitempty"`
	IsSymlink bool   `json:"l,omitempty"`
	Symlink   string `json:"t,omitempty"`
	Mode      uint32 `json:"m"`
	UID       uint32 `json:"u,omitempty"`
	GID       uint32 `json:"g,omitempty"`
	Size      int64  `json:"s,omitempty"`
	Mtime     int64  `json:"mt"`
	Atime     int64  `json:"at"`
	Ctime     int64  `json:"ct"`
	Nlink     uint32 `json:"k,omitempty"`
	HasXattrs bool   `json:"x,omitempty"`
}

// BriefOf keeps what a file system view shows of fi.
func BriefOf(fi meta.FileInfo) BriefEntry {
	return BriefEntry{ID: fi.ID, Name: fi.Name, IsDir: fi.IsDir, IsSymlink: fi.IsSymlink, Symlink: fi.Symlink,
		Mode: fi.Mode, UID: fi.UID, GID: fi.GID, Size: fi.Size,
		Mtime: fi.Mtime, Atime: fi.Atime, Ctime: fi.Ctime, Nlink: fi.Nlink, HasXattrs: fi.HasXattrs}
}

// Info returns the entry as a FileInfo of directory dir; the fields a
// brief entry leaves out are zero.
func (b BriefEntry) Info(dir string) meta.FileInfo {
	return meta.FileInfo{ID: b.ID, Name: b.Name, Path: path.Join(dir, b.Name), IsDir: b.IsDir,
		IsSymlink: b.IsSymlink, Symlink: b.Symlink, Mode: b.Mode, UID: b.UID, GID: b.GID, Size: b.Size,
		Mtime: b.Mtime, Atime: b.Atime, Ctime: b.Ctime, Nlink: b.Nlink, HasXattrs: b.HasXattrs}
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

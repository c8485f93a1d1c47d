package wire

import (
	"encoding/binary"
	"fmt"
	"path"
	"syscall"

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
	// BriefBin asks for the brief entries in binary (AppendBrief), in
	// the response's data section instead of its JSON: a master from
	// before it answers with Brief, which the client takes as well.
	BriefBin bool `json:"bb,omitempty"`
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
	// BriefData is the response's data section: the entries in binary
	// when the request asked for BriefBin (DecodeBrief).
	BriefData []byte `json:"-"`
}

// SetData takes the response's data section.
func (r *ListPageResponse) SetData(b []byte) { r.BriefData = b }

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

// briefFormat is the first byte of a binary brief page.
const briefFormat = 1

// Flags of an entry in a binary brief page.
const (
	briefDir = 1 << iota
	briefSymlink
	briefXattrs
)

// AppendBrief appends the binary brief page of entries to b, for a FUSE
// readdir of a large directory: decoding it costs a fraction of the JSON
// of the same entries. The page is the format byte and the entry count,
// then per entry: the ID, the name, a flags byte, mode, UID, GID, size,
// mtime, atime, ctime, link count and, for a symbolic link, its target.
// Numbers are varints, strings a length and their bytes.
func AppendBrief(b []byte, entries []meta.FileInfo) []byte {
	b = append(b, briefFormat)
	b = binary.AppendUvarint(b, uint64(len(entries)))
	for _, fi := range entries {
		b = binary.AppendUvarint(b, fi.ID)
		b = binary.AppendUvarint(b, uint64(len(fi.Name)))
		b = append(b, fi.Name...)
		var flags byte
		if fi.IsDir {
			flags |= briefDir
		}
		if fi.IsSymlink {
			flags |= briefSymlink
		}
		if fi.HasXattrs {
			flags |= briefXattrs
		}
		b = append(b, flags)
		for _, u := range []uint32{fi.Mode, fi.UID, fi.GID} {
			b = binary.AppendUvarint(b, uint64(u))
		}
		for _, v := range []int64{fi.Size, fi.Mtime, fi.Atime, fi.Ctime} {
			b = binary.AppendVarint(b, v)
		}
		b = binary.AppendUvarint(b, uint64(fi.Nlink))
		if fi.IsSymlink {
			b = binary.AppendUvarint(b, uint64(len(fi.Symlink)))
			b = append(b, fi.Symlink...)
		}
	}
	return b
}

// DecodeBrief reads a binary brief page (AppendBrief) of directory dir
// into FileInfos with the fields of a BriefEntry set. A page that is cut
// short or not of this format is an EPROTO error naming where it broke.
func DecodeBrief(b []byte, dir string) ([]meta.FileInfo, error) {
	d := briefDecoder{b: b}
	if len(b) == 0 || b[0] != briefFormat {
		return nil, fmt.Errorf("brief listing of %s: not a page of format %d: %w", dir, briefFormat, syscall.EPROTO)
	}
	d.b = d.b[1:]
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		return nil, fmt.Errorf("brief listing of %s: bad entry count: %w", dir, syscall.EPROTO)
	}
	out := make([]meta.FileInfo, n)
	for i := range out {
		fi := &out[i]
		fi.ID = d.uvarint()
		fi.Name = d.str()
		flags := d.byte()
		fi.IsDir, fi.IsSymlink, fi.HasXattrs = flags&briefDir != 0, flags&briefSymlink != 0, flags&briefXattrs != 0
		fi.Mode, fi.UID, fi.GID = d.uint32(), d.uint32(), d.uint32()
		fi.Size, fi.Mtime, fi.Atime, fi.Ctime = d.varint(), d.varint(), d.varint(), d.varint()
		fi.Nlink = d.uint32()
		if fi.IsSymlink {
			fi.Symlink = d.str()
		}
		if d.err != nil {
			return nil, fmt.Errorf("brief listing of %s: entry %d of %d: %v: %w", dir, i, n, d.err, syscall.EPROTO)
		}
		fi.Path = path.Join(dir, fi.Name)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("brief listing of %s: %d bytes after the last entry: %w", dir, len(d.b), syscall.EPROTO)
	}
	return out, nil
}

// briefDecoder reads the fields of a binary brief page; the first
// failure sticks in err and later reads return zeros.
type briefDecoder struct {
	b   []byte
	err error
}

// number reads one varint with read (binary.Uvarint or binary.Varint).
func number[T uint64 | int64](d *briefDecoder, read func([]byte) (T, int)) T {
	if d.err != nil {
		return 0
	}
	v, n := read(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad number")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *briefDecoder) uvarint() uint64 { return number(d, binary.Uvarint) }

func (d *briefDecoder) varint() int64 { return number(d, binary.Varint) }

func (d *briefDecoder) uint32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 && d.err == nil {
		d.err = fmt.Errorf("number %d out of range", v)
	}
	return uint32(v)
}

func (d *briefDecoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("cut short")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *briefDecoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("string of %d bytes cut short", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

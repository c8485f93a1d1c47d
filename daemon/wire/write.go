package wire

import (
	"cmp"
	"slices"

	"github.com/alluxio-go/alluxio/meta"
)

// Master methods a writer uses to follow its file by inode id.
const (
	MasterNewVersion = "master.NewVersion"
	// MasterRestoreVersion gives a file back the version its writer's
	// new one replaced (meta.Master.RestoreVersion).
	MasterRestoreVersion = "master.RestoreVersion"
	MasterStatusByID     = "master.StatusByID"
	MasterDropOrphan     = "master.DropOrphan"
	// MasterCompleteEmpty completes a file its writer left empty, the
	// master creating it in the under-store (meta.Master.CompleteEmpty).
	MasterCompleteEmpty = "master.CompleteEmpty"
)

// CompleteEmptyRequest completes a file written empty; Persist asks for
// the empty file in the under-store, Kept gives it attributes the writer
// set while it had it open (meta.KeptAttrs).
type CompleteEmptyRequest struct {
	ID      uint64         `json:"id"`
	Persist bool           `json:"persist,omitempty"`
	Kept    meta.KeptAttrs `json:"kept"`
}

// OrphanRequest names a file a commit wrote into an under-store after the
// file was deleted from the namespace.
type OrphanRequest struct {
	MountID        uint64 `json:"mountId"`
	UfsPath        string `json:"ufsPath"`
	UfsFingerprint string `json:"ufsFingerprint"`
}

// RestoreVersionRequest gives file ID back version Old, in place of the
// new one whose fingerprint is Made.
type RestoreVersionRequest struct {
	ID   uint64       `json:"id"`
	Made string       `json:"made"`
	Old  meta.Version `json:"old"`
}

// IDRequest names a file by inode id.
type IDRequest struct {
	ID uint64 `json:"id"`
	// Settled has MasterStatusByID wait for the requests that hold the
	// file's path (a rename under way) before it answers.
	Settled bool `json:"settled,omitempty"`
}

// CommitRequest finishes a write session; Target, when set, is where the
// file lives in the under-store now (it was renamed while being written).
type CommitRequest struct {
	Session uint64 `json:"session"`
	Target  string `json:"target,omitempty"`
	// Open, with Session 0, opens the session the commit finishes: a
	// writer whose bytes all travel with the commit opens, writes and
	// commits in one call.
	Open *WriteOpenRequest `json:"open,omitempty"`
	// Written counts the bytes the client wrote into the staging file
	// itself (StagingFileResponse.Writable), for the worker's counters.
	Written int64 `json:"written,omitempty"`
	// Changed holds where those bytes went, when the client kept track
	// (at most MaxExtents ranges): the worker's under-store may copy the
	// rest of the old version on its side. Written bytes without Changed
	// may be anywhere.
	Changed Extents `json:"changed,omitempty"`
	// At is where the bytes sent with the commit go: the end of what the
	// session holds, as the client knows it. A worker holding another
	// length (a write whose answer was lost, sent again with the commit)
	// refuses the commit rather than upload the bytes at the wrong
	// place. Nil (a client from before): at the session's end.
	At *int64 `json:"at,omitempty"`
}

// MaxExtents bounds the ranges a CommitRequest lists in Changed; a writer
// with more changes says they may be anywhere.
const MaxExtents = 1024

// Extent is the byte range [Off, End) of a file.
type Extent struct {
	Off int64 `json:"off"`
	End int64 `json:"end"`
}

// Extents is a set of byte ranges, sorted and merged.
type Extents []Extent

// Add returns the set with [off, end) added, merged with the ranges it
// meets or touches.
func (e Extents) Add(off, end int64) Extents {
	if end <= off {
		return e
	}
	// The first range that ends at or after off, and the first that
	// starts after end: those between merge with [off, end).
	i, _ := slices.BinarySearchFunc(e, off, func(x Extent, off int64) int { return cmp.Compare(x.End, off) })
	j := i
	for j < len(e) && e[j].Off <= end {
		off, end = min(off, e[j].Off), max(end, e[j].End)
		j++
	}
	return slices.Replace(e, i, j, Extent{Off: off, End: end})
}

// Changes records where a version was written: the ranges, up to
// MaxExtents of them, or past that (or for a range that is not one)
// anywhere.
type Changes struct {
	Ranges   Extents `json:"ranges,omitempty"`
	Anywhere bool    `json:"anywhere,omitempty"`
}

// Add records a write of [off, end).
func (c *Changes) Add(off, end int64) {
	switch {
	case c.Anywhere:
	case off < 0 || end < off:
		c.Anywhere, c.Ranges = true, nil
	default:
		c.Ranges = c.Ranges.Add(off, end)
		if len(c.Ranges) > MaxExtents {
			c.Anywhere, c.Ranges = true, nil
		}
	}
}

// Overlaps reports whether a range of the set meets [off, end).
func (e Extents) Overlaps(off, end int64) bool {
	i, _ := slices.BinarySearchFunc(e, off, func(x Extent, off int64) int { return cmp.Compare(x.End, off+1) })
	return i < len(e) && e[i].Off < end
}

// StagingFileResponse goes with the staging file a worker passes for a
// SessionReadRequest with File.
type StagingFileResponse struct {
	// Writable says that the caller may write the version's bytes into
	// the file itself: the worker takes the file's length as the
	// version's at commit. A worker from before says nothing, and then
	// every write goes through it.
	Writable bool `json:"writable,omitempty"`
}

package wire

import "github.com/alluxio-go/alluxio/meta"

// Master methods a writer uses to follow its file by inode id.
const (
	MasterNewVersion = "master.NewVersion"
	MasterStatusByID = "master.StatusByID"
	MasterDropOrphan = "master.DropOrphan"
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

// IDRequest names a file by inode id.
type IDRequest struct {
	ID uint64 `json:"id"`
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

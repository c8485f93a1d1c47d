package wire

// Master methods a writer uses to follow its file by inode id.
const (
	MasterNewVersion = "master.NewVersion"
	MasterStatusByID = "master.StatusByID"
)

// IDRequest names a file by inode id.
type IDRequest struct {
	ID uint64 `json:"id"`
}

// CommitRequest finishes a write session; Target, when set, is where the
// file lives in the under-store now (it was renamed while being written).
type CommitRequest struct {
	Session uint64 `json:"session"`
	Target  string `json:"target,omitempty"`
}

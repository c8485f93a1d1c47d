// Package wire holds the RPC method names and message types that the
// master, the workers and their clients exchange. Both sides import it, so a
// message changes in one place.
package wire

import (
	"github.com/alluxio-go/alluxio/meta"
)

// Master methods.
const (
	MasterGetStatus        = "master.GetStatus"
	MasterListStatus       = "master.ListStatus"
	MasterCreateFile       = "master.CreateFile"
	MasterCompleteFile     = "master.CompleteFile"
	MasterCreateDirectory  = "master.CreateDirectory"
	MasterDelete           = "master.Delete"
	MasterRename           = "master.Rename"
	MasterExchange         = "master.Exchange"
	MasterSetAttr          = "master.SetAttr"
	MasterCreateSymlink    = "master.CreateSymlink"
	MasterMarkPersisted    = "master.MarkPersisted"
	MasterMount            = "master.Mount"
	MasterUnmount          = "master.Unmount"
	MasterMounts           = "master.Mounts"
	MasterGetMount         = "master.GetMount"
	MasterHeartbeat        = "master.WorkerHeartbeat"
	MasterInfo             = "master.Info"
	MasterLoadMetadata     = "master.LoadMetadata"
	MasterCheckConsistency = "master.CheckConsistency"
)

// Worker methods.
const (
	WorkerRead = "worker.Read"
	// WorkerReadLocal is a read by the node's FUSE daemon that takes the
	// bytes from the worker's backing file itself (short-circuit).
	WorkerReadLocal    = "worker.ReadLocal"
	WorkerOpenWhole    = "worker.OpenWhole"
	WorkerReleaseLease = "worker.ReleaseLease"
	WorkerWriteOpen    = "worker.WriteOpen"
	WorkerWrite        = "worker.Write"
	WorkerWriteCommit  = "worker.WriteCommit"
	WorkerWriteAbort   = "worker.WriteAbort"
	WorkerWriteTrunc   = "worker.WriteTruncate"
	WorkerWriteRead    = "worker.WriteRead"
	WorkerGetStats     = "worker.Stats"
)

// PathRequest names one path.
type PathRequest struct {
	Path string `json:"path"`
}

// ListResponse is a directory listing.
type ListResponse struct {
	Entries []meta.FileInfo `json:"entries"`
}

// CreateFileRequest creates (or overwrites) a file.
type CreateFileRequest struct {
	Path    string             `json:"path"`
	Options meta.CreateOptions `json:"options"`
}

// CompleteFileRequest completes a file after its writer closed it.
type CompleteFileRequest struct {
	ID      uint64               `json:"id"`
	Options meta.CompleteOptions `json:"options"`
}

// MkdirRequest creates a directory.
type MkdirRequest struct {
	Path    string            `json:"path"`
	Options meta.MkdirOptions `json:"options"`
}

// LoadMetadataRequest syncs a path (and with Recursive its tree) with its
// under-store now.
type LoadMetadataRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive"`
}

// CheckConsistencyRequest compares a tree with its under-store.
type CheckConsistencyRequest struct {
	Path  string `json:"path"`
	Limit int    `json:"limit,omitempty"`
}

// DeleteRequest removes a path.
type DeleteRequest struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive"`
	// Unlink and Rmdir restrict the removal to a file or to a directory
	// (meta.DeleteOptions).
	Unlink bool `json:"unlink,omitempty"`
	Rmdir  bool `json:"rmdir,omitempty"`
}

// RenameRequest moves a path.
type RenameRequest struct {
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	NoReplace bool   `json:"noReplace,omitempty"`
}

// ExchangeRequest swaps the entries at two paths (renameat2's
// RENAME_EXCHANGE).
type ExchangeRequest struct {
	A string `json:"a"`
	B string `json:"b"`
}

// SetAttrRequest changes attributes of a path.
type SetAttrRequest struct {
	Path    string              `json:"path"`
	Options meta.SetAttrOptions `json:"options"`
}

// SymlinkRequest creates a symbolic link.
type SymlinkRequest struct {
	Path   string `json:"path"`
	Target string `json:"target"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
}

// PersistedRequest records that a file's bytes reached the under-store.
type PersistedRequest struct {
	ID             uint64 `json:"id"`
	UfsFingerprint string `json:"ufsFingerprint"`
	// Version is the file version uploaded (its FileInfo.Fingerprint),
	// to UfsPath in mount MountID: a file rewritten or moved since is not
	// marked (ESTALE). Empty from workers of older builds.
	Version string `json:"version,omitempty"`
	MountID uint64 `json:"mountId,omitempty"`
	UfsPath string `json:"ufsPath,omitempty"`
}

// MountRequest adds a mount.
type MountRequest struct {
	Path    string            `json:"path"`
	URI     string            `json:"uri"`
	Options meta.MountOptions `json:"options"`
}

// MountsResponse lists the mount table.
type MountsResponse struct {
	Mounts []meta.MountInfo `json:"mounts"`
}

// GetMountRequest asks for one mount by id (workers resolve a file's
// under-store with it).
type GetMountRequest struct {
	ID uint64 `json:"id"`
}

// WorkerInfo is what a worker reports of itself in each heartbeat.
type WorkerInfo struct {
	Address string `json:"address"`
	// Gossip is the worker's membership (memberlist) address.
	Gossip string `json:"gossip,omitempty"`
	// Tiers describe each tier directory of the worker.
	Tiers     []TierInfo  `json:"tiers,omitempty"`
	WebPort   int         `json:"webPort"`
	StartTime int64       `json:"startTime"`
	Stats     WorkerStats `json:"stats"`
}

// TierInfo describes one tier directory of a worker.
type TierInfo struct {
	Level      int    `json:"level"`
	Alias      string `json:"alias"`
	Dir        string `json:"dir"`
	MediumType string `json:"mediumType,omitempty"`
	Capacity   int64  `json:"capacity"`
	Used       int64  `json:"used"`
	Failed     bool   `json:"failed,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// WorkerStats are a worker's capacity and traffic counters.
type WorkerStats struct {
	Capacity            int64 `json:"capacity"`
	Used                int64 `json:"used"`
	Pages               int   `json:"pages"`
	BytesReadCache      int64 `json:"bytesReadCache"`
	BytesReadUfs        int64 `json:"bytesReadUfs"`
	BytesWrittenCache   int64 `json:"bytesWrittenCache"`
	BytesWrittenUfs     int64 `json:"bytesWrittenUfs"`
	PassthroughOpens    int64 `json:"passthroughOpens"`
	UfsPassthroughOpens int64 `json:"ufsPassthroughOpens"`
	BytesPassedThrough  int64 `json:"bytesPassedThrough"`
	Evictions           int64 `json:"evictions"`
	PendingPersists     int64 `json:"pendingPersists"`
	BytesReadDomain     int64 `json:"bytesReadDomain"`
	// BytesReadShortCircuit counts bytes leased to local readers that
	// read them from the backing file themselves (not in BytesReadDomain).
	BytesReadShortCircuit int64 `json:"bytesReadShortCircuit"`
	// ShortCircuitFiles counts the backing files' descriptors passed to
	// local readers (once per reader and backing file).
	ShortCircuitFiles   int64 `json:"shortCircuitFiles"`
	BytesReadRemote     int64 `json:"bytesReadRemote"`
	BytesWrittenDomain  int64 `json:"bytesWrittenDomain"`
	BytesWrittenRemote  int64 `json:"bytesWrittenRemote"`
	ActiveWriteSessions int64 `json:"activeWriteSessions"`
	ChecksumErrors      int64 `json:"checksumErrors"`
	Demotions           int64 `json:"demotions"`
	Promotions          int64 `json:"promotions"`
	RecoveredPages      int64 `json:"recoveredPages"`
	RecoveryDamaged     int64 `json:"recoveryDamaged"`
	// BytesCopiedUfs counts bytes of new versions the under-store copied
	// from the old ones on its side (ufs.BaseVersion), not written to it.
	BytesCopiedUfs int64 `json:"bytesCopiedUfs,omitempty"`
}

// InfoResponse describes the master and the cluster.
type InfoResponse struct {
	Version     string       `json:"version"`
	StartTime   int64        `json:"startTime"`
	Leader      string       `json:"leader"`
	RaftState   string       `json:"raftState"`
	LastApplied uint64       `json:"lastApplied"`
	Workers     []WorkerInfo `json:"workers"`
	Capacity    int64        `json:"capacity"`
	Used        int64        `json:"used"`
	Files       uint64       `json:"files"`
}

// FileRef tells a worker which content to read and where it lives.
type FileRef struct {
	ID          uint64 `json:"id"`
	Fingerprint string `json:"fingerprint"`
	Size        int64  `json:"size"`
	MountID     uint64 `json:"mountId"`
	UfsPath     string `json:"ufsPath"`
	Persisted   bool   `json:"persisted"`
	// UfsFingerprint is the under-store's identity of the bytes, to check
	// that a file opened in the under-store is the version asked for.
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
	// Location is the RPC address of the worker holding the only copy of
	// a file that is not persisted.
	Location string `json:"location,omitempty"`
	// Pinned keeps the file's cached pages from eviction.
	Pinned bool `json:"pinned,omitempty"`
	// Mode is the file's permission (07777), which a write gives the
	// under-store's file; 0 (an older client) means 0644.
	Mode uint32 `json:"mode,omitempty"`
}

// RefOf builds the FileRef of a file's current version.
func RefOf(fi meta.FileInfo) FileRef {
	return FileRef{ID: fi.ID, Fingerprint: fi.Fingerprint, Size: fi.Size, MountID: fi.MountID,
		UfsPath: fi.UfsPath, Persisted: fi.Persisted, UfsFingerprint: fi.UfsFingerprint,
		Location: fi.Location, Pinned: fi.Pinned, Mode: fi.Mode}
}

// ReadRequest asks for a byte range; the bytes come back in the data
// section.
type ReadRequest struct {
	File     FileRef `json:"file"`
	Offset   int64   `json:"offset"`
	Length   int     `json:"length"`
	ReadType string  `json:"readType"`
	// PrefetchLimit, when set, is the end of the block being read: the
	// worker prefetches nothing past it (the next block has its own home).
	PrefetchLimit int64 `json:"prefetchLimit,omitempty"`
}

// OpenWholeRequest asks for a descriptor of the whole file.
type OpenWholeRequest struct {
	File     FileRef `json:"file"`
	ReadType string  `json:"readType"`
}

// OpenWholeResponse says whether the worker passed the fully cached backing
// file (as an SCM_RIGHTS descriptor) and the lease that pins it.
type OpenWholeResponse struct {
	OK    bool   `json:"ok"`
	Lease uint64 `json:"lease"`
}

// LeaseRequest releases a lease, and Leases more of the caller's own.
type LeaseRequest struct {
	Lease  uint64   `json:"lease"`
	Leases []uint64 `json:"leases,omitempty"`
}

// Backing identifies a worker's backing file by device and inode: a
// descriptor of it keeps the inode alive, so a descriptor with the same
// identity names the same file.
type Backing struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// ReadLocalRequest asks the node's worker to make a range cached and lease
// it: Window bytes from Offset (at least Length) are pinned in the backing
// file for the caller to read there. When the worker cannot lease the
// range it answers like WorkerRead, with the first Length bytes in the
// data section.
type ReadLocalRequest struct {
	ReadRequest
	// Window is how many bytes to lease (Length at least).
	Window int `json:"window"`
	// Have is the backing file the caller holds a descriptor of; the
	// worker passes a descriptor (SCM_RIGHTS) when the lease is in another.
	Have Backing `json:"have"`
	// Release ends leases of the caller's that it is done with.
	Release []uint64 `json:"release,omitempty"`
}

// ReadLocalResponse is a lease of Length bytes at the request's Offset in
// the backing file Backing (the bytes lie at their own offsets), released
// with a later request's Release; or, when Lease is 0, Length bytes in the
// data section.
type ReadLocalResponse struct {
	Lease   uint64  `json:"lease,omitempty"`
	Length  int     `json:"length"`
	Backing Backing `json:"backing"`
}

// WriteOpenRequest starts writing a new version of a file.
type WriteOpenRequest struct {
	File      FileRef `json:"file"`
	WriteType string  `json:"writeType"`
	// Keep, when set, is the current version whose bytes the new one
	// starts with (appending to or rewriting part of an existing file).
	Keep *FileRef `json:"keep,omitempty"`
	// Staged takes writes at any offset into a staging file that is
	// streamed out on commit; otherwise writes must come in order.
	Staged bool `json:"staged,omitempty"`
	// Fill is the under-store fingerprint of the empty copy a file made
	// complete at its creation has (ufs.CreateOptions.Fill): the bytes
	// may go into it in place.
	Fill string `json:"fill,omitempty"`
}

// TruncateRequest sets the length of a staged version.
type TruncateRequest struct {
	Session uint64 `json:"session"`
	Size    int64  `json:"size"`
}

// SessionReadRequest reads back bytes of a staged version before commit.
type SessionReadRequest struct {
	Session uint64 `json:"session"`
	Offset  int64  `json:"offset"`
	Length  int    `json:"length"`
	// File asks, instead of bytes, for the descriptor of the staged
	// session's staging file, which a worker passes to callers on its
	// UNIX socket (and answers with nothing otherwise): the caller reads
	// the staged bytes from it itself.
	File bool `json:"file,omitempty"`
}

// WriteOpenResponse names the write session.
type WriteOpenResponse struct {
	Session uint64 `json:"session"`
	Size    int64  `json:"size"`
}

// WriteRequest appends the data section at Offset.
type WriteRequest struct {
	Session uint64 `json:"session"`
	Offset  int64  `json:"offset"`
}

// SessionRequest names a write session.
type SessionRequest struct {
	Session uint64 `json:"session"`
}

// WriteCommitResponse reports the written version.
type WriteCommitResponse struct {
	Size           int64  `json:"size"`
	Persisted      bool   `json:"persisted"`
	UfsFingerprint string `json:"ufsFingerprint"`
	// Location is the worker's RPC address when it holds the only copy.
	Location string `json:"location,omitempty"`
	// UfsPath is where in the under-store a persisted commit put the
	// bytes (a Target, or where the session began).
	UfsPath string `json:"ufsPath,omitempty"`
}

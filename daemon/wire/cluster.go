package wire

import "github.com/alluxio-go/alluxio/cluster"

// Worker methods of the worker cluster: membership, and the cache
// operations behind alluxio fs free|pin|unpin|persist.
const (
	WorkerMembers      = "worker.Members"
	WorkerFree         = "worker.Free"
	WorkerSetPinned    = "worker.SetPinned"
	WorkerPersist      = "worker.Persist"
	WorkerClearMetrics = "worker.ClearMetrics"
)

// MembersResponse is a worker's view of the live workers.
type MembersResponse struct {
	// Self is the answering worker.
	Self cluster.Member `json:"self"`
	// Members are the live workers, Self included, sorted by name.
	Members []cluster.Member `json:"members"`
	// VirtualNodes is the ring's points per worker, so that every client
	// builds the same ring.
	VirtualNodes int `json:"virtualNodes"`
}

// PinRequest pins or unpins the cached data of an inode on a worker.
type PinRequest struct {
	ID     uint64 `json:"id"`
	Pinned bool   `json:"pinned"`
}

// FreeResponse reports what a worker dropped.
type FreeResponse struct {
	// Kept says that some data stayed because it exists nowhere else
	// (not persisted yet) or is pinned.
	Kept bool `json:"kept,omitempty"`
}

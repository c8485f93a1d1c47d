package wire

import "github.com/alluxio-go/alluxio/meta"

// Stamp brackets a master's answer with the namespace version
// (meta.Master.NamespaceVersion) it read before and after serving the call.
// Before == After means the answer describes the namespace at that
// version exactly; After == Before+1 on a mutation means the call's own
// change was the only one. Counts of different epochs (another master, or
// the same after a snapshot replaced its state) are unrelated. Clients
// keep metadata caches exact with it; a reply without a stamp says
// nothing about the cache.
type Stamp struct {
	Epoch  uint64 `json:"e"`
	Before uint64 `json:"b"`
	After  uint64 `json:"a"`
}

// StatRequest asks for the status of a path. With Probe set, a missing
// path is answered with Missing rather than ENOENT, so that the answer
// carries its stamp.
type StatRequest struct {
	Path  string `json:"path"`
	Probe bool   `json:"probe,omitempty"`
}

// StampedInfo is a file's status with the stamp of the call that returned
// it. The fields of FileInfo are inline, so a client that expects a plain
// FileInfo decodes it as before.
type StampedInfo struct {
	meta.FileInfo
	// Missing answers a probe of a path that does not exist.
	Missing bool   `json:"missing,omitempty"`
	NS      *Stamp `json:"ns,omitempty"`
	// data is the answer in binary, when the master sent it so
	// (SetData, TakeBinary).
	data []byte
}

// Stamped is the answer of a call that returns no status of its own: its
// stamp, and the statuses of the entries it changed (the parent directory
// of a removed entry; the moved entry and both parents of a rename), read
// within the stamp.
type Stamped struct {
	NS    *Stamp          `json:"ns,omitempty"`
	Infos []meta.FileInfo `json:"infos,omitempty"`
	// data is the answer in binary, when the master sent it so
	// (SetData, TakeBinary).
	data []byte
}

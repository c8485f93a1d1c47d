// Package meta is the master's metadata service: the namespace (inodes), the
// mount table and the Raft state machine that replicates them.
//
// The state lives in a bbolt file (the metastore) and changes only through
// commands applied by the Raft FSM, so every replica of the master group
// holds the same tree. Under-store metadata is loaded lazily: a path that is
// not in the namespace yet is looked up in the under-store it resolves to,
// and a directory is listed from the under-store the first time it is listed
// here (and again once the sync interval has passed).
//
// Besides the POSIX attributes, an entry carries Alluxio's namespace-only
// ones (attr.go): Pinned (a pinned directory passes the pin to the entries
// made in it; SetAttr with Recursive pins what is there), a TTL with its
// action (DELETE or FREE) counted from the entry's CreationTime, found by
// the master's TTL checker through Expired, and for a file that is not
// persisted the Location of the worker holding its only copy, cleared once
// the file is persisted or its content changes.
//
// The package knows nothing of pages, FUSE or RPC; the daemon wraps *Master
// in RPC handlers.
package meta

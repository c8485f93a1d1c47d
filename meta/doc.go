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
// The package knows nothing of pages, FUSE or RPC; the daemon wraps *Master
// in RPC handlers.
package meta

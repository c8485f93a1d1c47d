// Package cluster tells the workers of the caching file system apart and
// decides which of them is the home of a piece of data.
//
// # Membership
//
// Workers find each other by gossip (hashicorp/memberlist): each worker
// runs a [Membership] that joins a few seed addresses (from
// alluxio.worker.membership, or from the masters when that is empty) and
// from then on learns of joins, failures and graceful leaves from its
// peers. No process is asked for the member list on the data path, and a
// master outage does not change where data lives.
//
// Every worker advertises itself in its memberlist node meta as a
// [Member]: its name (the worker uses its RPC address host:port; it is
// also the memberlist node name), its RPC address, its web address, its
// gossip address and its start time in Unix milliseconds, which tells a
// restarted worker from the process it replaced. The meta is compact JSON
// (see [EncodeMeta]) of at most memberlist.MetaMaxSize bytes; a node whose
// meta does not decode, or whose meta names another node, is left out of
// the ring and logged once.
//
// # Placement by consistent hashing
//
// The home worker of a key is found on a [Ring] built from the live
// members: each member owns [DefaultVirtualNodes] points (hash of
// Name + "#" + i) on a 64-bit circle, and a key belongs to the first point
// at or after it. Every client that sees the same members computes the
// same home, so data placement needs no directory service, and a join or
// leave of one worker among N moves only about 1/N of the keys: the keys
// of the worker that left, or the keys the new worker takes over. Hashes
// are fixed functions (FNV-1a with a 64-bit finalizer), never seeded per
// process, so that every machine agrees.
//
// A key is [BlockKey] of a file id and a block index: a file is placed in
// blocks of alluxio.user.block.size.bytes.default (64 MiB by default),
// each cached as pages of alluxio.worker.page.store.page.size (1 MiB). All
// pages of a block share one home, which keeps sequential reads on one
// worker for a whole block while spreading a large file over the cluster.
//
// # Fail-over
//
// [Ring.Successors] lists distinct members in ring order starting at the
// key's home: [home, next, next-but-one, ...]. A client that cannot reach
// the home tries the next member; when gossip declares the home dead, the
// rebuilt ring makes that same next member the new home, so the fail-over
// target and the eventual owner agree and the data cached during the
// outage is found again.
package cluster

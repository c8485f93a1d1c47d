package wire

// MasterJournalDigest asks one master for the digest of its own namespace
// (a meta.NamespaceDigest: last applied journal index and SHA-256). Every
// master answers it from its own state, leader or not, so that replicas
// can be compared; callers ask each master at its own address, without
// following the leader.
const MasterJournalDigest = "master.JournalDigest"

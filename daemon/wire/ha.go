package wire

import "github.com/alluxio-go/alluxio/meta"

// Master methods of the highly available master group. MasterRaftStatus is
// answered by every master (leader or not) about itself; the quorum
// changes only by the leader.
const (
	MasterRaftStatus   = "master.RaftStatus"
	MasterQuorumInfo   = "master.QuorumInfo"
	MasterQuorumRemove = "master.QuorumRemove"
	MasterQuorumElect  = "master.QuorumElect"
)

// RequestID is the field a client adds to the body of a call that changes
// the namespace: every attempt of one call carries the same random id
// (32 hex digits), so that the master group applies it once however often
// it is retried. The master reads it from any request body.
type RequestID struct {
	RequestID string `json:"requestId,omitempty"`
}

// RequestIDField is the JSON name of RequestID's field.
const RequestIDField = "requestId"

// CallerField is the JSON field (a meta.Caller) naming who a call is made
// for; masters check permissions against it.
const CallerField = "caller"

// FollowerReadField is the JSON field (true) by which a client says that a
// fresh follower may answer its read (alluxio.user.master.follower.reads.enabled).
const FollowerReadField = "followerRead"

// RaftStatus is one master's view of itself and of the group.
type RaftStatus struct {
	// NodeID is the master's Raft server id.
	NodeID string `json:"nodeId"`
	// RaftAddr is its embedded journal address; RPCAddr its client address.
	RaftAddr string `json:"raftAddr"`
	RPCAddr  string `json:"rpcAddr"`
	// State is Leader, Follower, Candidate or Shutdown.
	State string `json:"state"`
	// Ready is true on the leader once it serves calls.
	Ready bool `json:"ready"`
	// Term is the Raft term.
	Term uint64 `json:"term"`
	// LastApplied is the index of the last journal entry applied here;
	// CommitIndex the last committed one known here.
	LastApplied uint64 `json:"lastApplied"`
	CommitIndex uint64 `json:"commitIndex"`
	// Leader and LeaderRPC are the leader's Raft and client RPC
	// addresses, "" when unknown.
	Leader    string `json:"leader"`
	LeaderRPC string `json:"leaderRpc"`
	// LastContactMillis is how long ago a follower last heard from the
	// leader (-1: never; 0 on the leader).
	LastContactMillis int64 `json:"lastContactMillis"`
	// FollowerReads counts the reads this master answered as a follower.
	FollowerReads uint64 `json:"followerReads,omitempty"`
	// CommandLevel is the newest kind of journal command the master
	// applies (meta.CommandLevel); absent from masters older than levels.
	CommandLevel int `json:"commandLevel,omitempty"`
	// Journal write and apply counters: entries per write show batching.
	LogWrites      uint64 `json:"logWrites"`
	LogEntries     uint64 `json:"logEntries"`
	ApplyBatches   uint64 `json:"applyBatches"`
	AppliedEntries uint64 `json:"appliedEntries"`
}

// QuorumResponse lists the members of the master group.
type QuorumResponse struct {
	Servers []meta.QuorumServer `json:"servers"`
}

// MasterQuorumAdd asks the leader to add a master to the group.
const MasterQuorumAdd = "master.QuorumAdd"

// QuorumAddRequest is a new master asking the leader to add it: its
// journal address and its client RPC address.
type QuorumAddRequest struct {
	Address string `json:"address"`
	RPCAddr string `json:"rpcAddr"`
}

// QuorumAddressRequest names a member of the group by its journal address
// (host:port), its server id or its RPC address.
type QuorumAddressRequest struct {
	Address string `json:"address"`
}

// Package hdfstest is an HDFS cluster for tests: a namenode (two for HA)
// and datanodes in the test process, on 127.0.0.1, speaking the wire
// protocols that a real client speaks, so that the under-store in
// ufs/hdfs is checked by the real client library, github.com/colinmarc/hdfs/v2.
//
// No real HDFS can run here (it is a Java service). This server is
// written from the public protocol descriptions, Hadoop's .proto files
// and the documented namenode semantics; its protobuf messages are
// encoded and decoded by hand with protowire.
//
// # Namenode
//
// Hadoop IPC version 9 with simple authentication: the "hrpc" connection
// header, the IpcConnectionContextProto naming the effective user, then
// frames of varint-delimited RpcRequestHeaderProto, RequestHeaderProto
// and request, answered by RpcResponseHeaderProto and the response, or
// the header alone with the exception's class, message and
// RpcErrorCodeProto. Required fields are checked as a Java parser would
// (a missing one is FATAL_DESERIALIZING_REQUEST). Served methods of
// ClientNamenodeProtocol: getFileInfo, getListing (startAfter paging by
// dfs.ls.limit), mkdirs, create (CREATE and OVERWRITE flags, parent
// creation, block size and replication limits), addBlock (commit of the
// previous block, retried calls, excluded nodes), abandonBlock, complete
// (false until every block is reported; a retried complete succeeds),
// updateBlockForPipeline, getBlockLocations, delete, rename2 (HDFS's
// rules and messages), setPermission, setOwner, setTimes, truncate (on a
// block boundary at once, inside a block by cutting the replicas with a
// new generation stamp and answering false), renewLease,
// getServerDefaults and getFsStats; any other method answers
// RpcNoSuchMethodException. Permissions are checked as HDFS does
// (traverse, parent and ancestor write, the sticky bit, owner for
// setPermission, superuser for changing an owner) with AccessControlException
// messages in HDFS's form; a path through a file is
// ParentNotDirectoryException. With Config.HA a second namenode serves
// the same namespace as standby: every call answers StandbyException
// until Failover.
//
// # Datanodes
//
// Data transfer protocol version 28. OpReadBlockProto is answered with a
// BlockOpResponseProto carrying ReadOpChecksumInfoProto, then packets of
// whole CRC32C chunks (their checksums as stored when the block was
// written) and an empty last packet; a ClientReadStatusProto is read if
// the client sends one. OpWriteBlockProto (PIPELINE_SETUP_CREATE) connects
// the rest of the pipeline the client names (the datanode forwards
// packets and merges the downstream acks), answers BlockOpResponseProto,
// verifies every chunk checksum of every packet (ERROR_CHECKSUM in the
// ack otherwise), stores data and checksums as blk_<id> and
// blk_<id>.meta, acks each packet with PipelineAckProto once the
// datanodes downstream have, and finalizes the replica and reports it to
// the namenode before acking the last packet.
//
// # Not covered
//
// SASL, Kerberos, delegation and block tokens (tokens are empty),
// encrypted data transfer and encryption zones, append, pipeline
// recovery (other construction stages answer ERROR_UNSUPPORTED),
// snapshots, symbolic links, ACLs, extended attributes, quotas (only as
// injected exceptions), erasure coding, lease expiry and recovery, block
// checksum (OpBlockChecksum), short-circuit reads, and the edit log: the
// namespace lives in memory.
//
// # Faults and administration
//
// FailNext answers the next calls of a method with an exception,
// DropNext carries calls out and drops the connection before the answer,
// DelayCompleteNext makes complete answer false, SetSafeMode refuses
// changes with SafeModeException, KillDatanode and RestartDatanode stop
// and start a datanode, CorruptReplica damages a replica behind its
// checksums, Failover swaps the active namenode, and Calls counts calls.
// WriteFile, ReadFile, MkdirAll, Stat, ReadDir, Remove and OpenFiles act
// on the namespace directly, as another HDFS client or an administrator
// would; HadoopConf writes core-site.xml and hdfs-site.xml for the
// cluster, with an HA nameservice if asked.
package hdfstest

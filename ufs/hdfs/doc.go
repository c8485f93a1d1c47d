// Package hdfs is the under-store for HDFS, registered for the "hdfs" URI
// scheme: hdfs://namenode:port/path mounts a directory of one namenode
// (port 8020 when none is given), hdfs://nameservice/path one of an HA
// nameservice described in the Hadoop configuration files, and
// hdfs:///path one of fs.defaultFS. It speaks Hadoop RPC to the namenodes
// and the data transfer protocol to the datanodes through
// github.com/colinmarc/hdfs/v2.
//
// # Options
//
// Mount options use Alluxio's names; the root mount's may also carry the
// alluxio.master.mount.table.root.option. prefix:
//
//	alluxio.underfs.hdfs.configuration    colon-separated Hadoop XML files, such as
//	                                      /etc/hadoop/core-site.xml:/etc/hadoop/hdfs-site.xml
//	                                      (later files win; ${name} and ${env.NAME} are
//	                                      expanded). Read: fs.defaultFS, dfs.nameservices,
//	                                      dfs.ha.namenodes.<ns>, dfs.namenode.rpc-address.<ns>[.<nn>],
//	                                      dfs.replication, dfs.blocksize,
//	                                      dfs.client.use.datanode.hostname,
//	                                      ipc.client.connect.timeout, dfs.client.socket-timeout,
//	                                      dfs.data.transfer.protection, hadoop.security.authentication.
//	                                      A file that cannot be read is an error naming it.
//	alluxio.security.login.username       the HDFS user; else HADOOP_USER_NAME; else the
//	                                      user of the process (simple authentication)
//	alluxio.underfs.hdfs.connect.timeout  dialling a namenode or datanode (this project's
//	                                      key), default ipc.client.connect.timeout or 20s
//	alluxio.underfs.hdfs.request.timeout  one namenode call, one datanode read or write
//	                                      (this project's key), default
//	                                      dfs.client.socket-timeout or 60s
//	alluxio.underfs.hdfs.retry.max.duration  how long failures that a retry may cure
//	                                      are retried (this project's key), default 30s
//	alluxio.underfs.hdfs.remote, alluxio.underfs.version,
//	alluxio.security.underfs.hdfs.impersonation.enabled
//	                                      accepted; they change nothing here
//
// Kerberos is refused with an error naming the key
// (hadoop.security.authentication=kerberos, or
// alluxio.security.underfs.hdfs.kerberos.client.*), as is
// alluxio.underfs.hdfs.trash.enabled=true; any other
// alluxio.underfs.hdfs.* key is an error unless it is one of Alluxio's
// that has no meaning here (impl, prefixes, har.*, multipart.*: a
// warning). Open reads the files but does not connect; the first call
// does, and the master Stats the root on mount, which checks the
// namenode, the user and the path.
//
// # Semantics
//
// Paths are resolved under the mount's path and cannot climb out of it;
// HDFS's /.reserved tree is refused when the mount is the namespace root.
// Create streams to a hidden temporary file (.alluxio.tmp.<random>) in
// the target's directory, hidden from List and Stat, and Close completes
// it and renames it over the target with rename2 OVERWRITE, so readers
// never see a partial file and Abort leaves the target as it was.
// Retarget moves where Close lands the file. Rename follows rename(2):
// the store checks the file/directory and empty-directory rules first,
// then issues one atomic rename2. Mode bits (with the sticky bit), owner
// and group (HDFS names, mapped to local ids where this machine knows
// them, else 0) and modification times are the namenode's; Chmod, Chown,
// Chtimes (whole seconds) and Truncate (HDFS's truncate, which cannot
// grow a file) change them. A file's ETag is its inode id, modification
// time and length, so a rewritten file never matches its old cache.
// Symbolic links are not supported.
//
// Reads verify every 512-byte checksum chunk and fail over to the next
// replica. colinmarc/hdfs returns the bytes of a chunk that failed its
// checksum when a read spans whole chunks, so the store reads in pieces
// smaller than a chunk through a buffered datanode connection. A read
// that fails on every replica reopens the file (new block locations) up
// to three times, and fails with ESTALE if the file changed meanwhile.
// Writes do not survive a datanode failure (colinmarc/hdfs has no
// pipeline recovery): Write or Close fails and nothing replaces the
// target.
//
// # Errors and retries
//
// Errors are *fs.PathError values naming the operation and the path as
// hdfs://authority/path, wrapping a syscall.Errno: ENOENT
// (FileNotFoundException), EEXIST (FileAlreadyExistsException), EACCES
// (AccessControlException, naming the HDFS user; EPERM for chmod and
// chown), ENOTEMPTY, ENOTDIR (ParentNotDirectoryException), EINVAL
// (InvalidPathException, illegal arguments), EDQUOT (quota exceptions),
// EBUSY (a file another client writes), EAGAIN (safe mode, standby or
// retriable after the retry time), EHOSTUNREACH (no namenode answers,
// naming the addresses), ETIMEDOUT, ESTALE, ENOTSUP, and EIO with the
// exception's class and message for anything else. StandbyException
// moves to the next namenode (colinmarc/hdfs does that within a call);
// SafeModeException, RetriableException, NotReplicatedYetException, an
// unreachable namenode and a complete the namenode is not ready for are
// retried with exponential backoff and jitter for retry.max.duration. A
// call whose answer was lost (a dropped connection, a timeout) is
// retried too, and a retry that finds the change already made (a delete,
// mkdir, rename or complete) counts as success.
//
// The tests run against hdfstest, a namenode and datanodes written from
// the public Hadoop protocols, because no real HDFS can run here; they
// run against a real cluster with ALLUXIO_TEST_HDFS_URI (see
// realcluster_test.go).
package hdfs

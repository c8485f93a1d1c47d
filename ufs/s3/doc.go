// Package s3 is the under-store for Amazon S3 and S3-compatible object
// stores (MinIO, versitygw, Ceph RGW, ...), registered for the "s3" and
// "s3a" URI schemes: s3://bucket/ mounts a whole bucket, s3://bucket/dir/
// the keys under "dir/".
//
// # Layout
//
// The bucket is laid out as Alluxio's object stores lay it out, so a bucket
// written by Alluxio reads the same here and the other way round:
//
//   - a file "a/b" is the object with key prefix+"a/b";
//   - a directory "a" is the zero-byte object prefix+"a/" (a "marker"), or is
//     implied by any key that starts with prefix+"a/";
//   - nothing else is stored: no owner, mode or times besides the objects'
//     LastModified. Files are reported with mode 0644 and directories with
//     0755, or alluxio.underfs.s3.default.mode when it is set.
//
// Mkdir writes the marker. Parents are not written: a file or a directory
// created under a directory that is only implied keeps it implied until
// its last key goes away, after which it is gone. List reads
// ListObjectsV2 pages (1000 keys each) with the delimiter "/" and reports
// common prefixes as directories and objects as files; the marker of the
// listed directory, empty names ("a//b") and the names "." and ".." are
// hidden. When a key "a" and keys under "a/" both exist, "a" is a file.
//
// Stat of "a/b" tries HEAD "a/b", then HEAD "a/b/", then a one-key listing
// under "a/b/". Delete removes a file, or the marker of an empty
// directory (ENOTEMPTY while anything is under it). Rename copies on the
// server (CopyObject, or UploadPartCopy above 5 GiB) and then deletes the
// source. Renaming a directory moves the keys under it one listing page
// (1000 keys) at a time, copying the page and then deleting it, so it is
// NOT atomic: a failure part way leaves some keys moved and the others in
// place, every object whole in at least one of the two trees. Store.Copy
// offers the server-side copy of a file by itself. Create does not check
// that the parent exists or that the path is not a directory, and Rename
// does not check the destination's parent: an object store has no such
// constraints, and the master has already checked them.
//
// # Writing
//
// Create streams: it buffers one part (alluxio.underfs.s3.multipart.part.size,
// 64MB by default). If Close comes before the first part is full the file
// is written with one PutObject; otherwise a multipart upload starts and
// each part is uploaded as it fills, CompleteMultipartUpload runs on Close
// and AbortMultipartUpload on Abort or on any error, so an unfinished file
// is never visible and never leaves parts behind that the store bills for.
// The part size doubles every 1000 parts, so that a stream of unknown length
// stays within S3's 10000-part limit (at the cost of larger buffers for very
// large files); a SizeHint picks the right size from the start. Parts
// uploaded from Write run under the Create context's values but not its
// cancellation (Create is typically called from a request whose context ends
// before the writes do); Abort cancels them.
//
// # Options
//
// Mount options use Alluxio's property names (for the root mount,
// alluxio.master.mount.table.root.option.<key>; for nested mounts,
// alluxio fs mount --option <key>=<value>):
//
//	s3a.accessKeyId, s3a.secretKey          static credentials (also aws.accessKeyId,
//	                                        aws.secretKey); without them the SDK's default
//	                                        chain: environment, ~/.aws, web identity, ECS, EC2
//	alluxio.underfs.s3.endpoint             e.g. http://127.0.0.1:9000; without a scheme,
//	                                        https unless secure.http.enabled is false
//	alluxio.underfs.s3.endpoint.region      signing region (default from the SDK's chain,
//	                                        else us-east-1); alluxio.underfs.s3.region too
//	alluxio.underfs.s3.disable.dns.buckets  true: path-style requests (http://host/bucket/key)
//	alluxio.underfs.s3.request.timeout      one attempt of one request, default 60s; 0: none.
//	                                        A read that stalls that long is resumed.
//	alluxio.underfs.s3.max.error.retry      retries after the first attempt, default 10
//	alluxio.underfs.s3.multipart.part.size  default 64MB, at least 5MB, at most 5GB
//	                                        (alias: alluxio.underfs.s3.streaming.upload.partition.size)
//	alluxio.underfs.s3.secure.http.enabled  false: http for an endpoint given without a scheme
//	                                        (default true, where Alluxio defaults to false)
//	alluxio.underfs.s3.server.side.encryption.enabled  SSE-S3 (AES256) on every write
//	alluxio.underfs.s3.default.mode         permission bits reported for entries
//
// Alluxio's other alluxio.underfs.s3.* properties (thread pools, ACL
// inheritance, proxies, ...) are accepted with a warning and have no
// effect; any other alluxio.underfs.s3.* key is an error naming the key, as
// is a malformed value. Credentials may also be given in the URI
// (s3://key:secret@bucket/); options win. Credentials never appear in an
// error or a log line.
//
// Retries: every request is retried on 5xx answers, throttling (503
// SlowDown) and connection errors, with exponential backoff and full
// jitter (the SDK's standard retryer, without its client-side retry quota,
// which would turn a burst of server errors into immediate failures).
//
// # TLS and AWS_CA_BUNDLE
//
// The store uses its own HTTP client. When AWS_CA_BUNDLE names a PEM file,
// its certificates are added to the system's roots for that client; the
// SDK is never handed the bundle for the S3 client (it then refuses custom
// transports: "unable to load custom CA bundle, HTTPClient's transport
// unsupported type", the failure of rclone 1.60), and a plain-http endpoint
// works with the variable set. The default credential chain's own requests
// (STS, SSO) trust the same roots. A bundle file that is missing, unreadable
// or holds no certificate makes Open fail with an error naming
// AWS_CA_BUNDLE.
//
// # Errors
//
// Errors are *fs.PathError values naming the operation and the object as
// s3://bucket/key, wrapping a syscall.Errno: ENOENT for a missing key or
// bucket ("bucket does not exist"), EACCES for refused credentials ("access
// denied (check s3a.accessKeyId/s3a.secretKey)"), EHOSTUNREACH when the
// endpoint cannot be reached ("endpoint http://127.0.0.1:1 unreachable"),
// ETIMEDOUT or EINTR when a context ends, EIO with the HTTP status and S3
// error code for anything else. Open itself does no network I/O; the master
// Stats the root on mount, which reports these problems.
package s3

// Package s3 is the under-store for Amazon S3 and S3-compatible object
// stores (MinIO, versitygw, Ceph RGW, ...), registered for the "s3" and
// "s3a" URI schemes: s3://bucket/ mounts a whole bucket, s3://bucket/dir/
// the keys under "dir/".
//
// # Layout, reading and writing
//
// The bucket is laid out as Alluxio's object stores lay it out, by package
// objstore, which gives this store and ufs/kodo one file system over
// their requests: a file "a/b" is the object prefix+"a/b", a directory
// "a" is the zero-byte marker prefix+"a/" or is implied by the keys under
// it (see objstore for Stat, List, Delete, Rename and what is and is not
// atomic). Files are reported with mode 0644 and directories with 0755,
// or alluxio.underfs.s3.default.mode when it is set; times are the
// objects' LastModified, and a file's ETag is S3's.
//
// The requests are S3's: ListObjectsV2 pages of 1000 keys, HeadObject,
// ranged GetObject (resumed after a broken or stalled body with If-Match
// on the ETag, up to max.error.retry times), PutObject (a marker with the
// content type application/x-directory), server-side CopyObject, or
// UploadPartCopy above 5 GiB, for a rename, DeleteObjects for the keys of
// a moved directory, a page at a time. Store.Copy offers the server-side
// copy of a file by itself.
//
// Create streams through a buffer of one part
// (alluxio.underfs.s3.multipart.part.size, 64MB by default): PutObject
// for a file smaller than a part, else a multipart upload, completed on
// Close and aborted on Abort or any error, so an unfinished file is never
// visible and never leaves parts behind that the store bills for. The
// part size doubles every 1000 parts, so that a stream of unknown length
// stays within S3's 10000-part limit; a SizeHint picks the right size from
// the start.
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
//	                                        A read that stalls that long is resumed; an
//	                                        upload must progress (each write) within it.
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
// With an endpoint of the mount's own (a server such as MinIO, where a
// request's round trip is short), DeleteObject and a PutObject of up to
// 1 MiB are sent without the SDK's middleware, whose cost was most of a
// DELETE's: signed with the SDK's own SigV4 signer, retried by the same
// retryer (a connection that broke off or an answer lost included), a
// clock the server finds skewed corrected by its Date as the SDK does,
// their errors classified as the SDK's are. An unlink of an S3
// file and the upload of a small one wait for them. Against AWS itself
// (no endpoint option) every request goes through the SDK, which knows
// AWS's endpoint variants.
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
// ETIMEDOUT or EINTR when a context ends, EIO when a connection breaks off
// after it was made ("connection to endpoint ... broke off") and with the
// HTTP status and S3 error code for anything else. Open itself does no network I/O; the master
// Stats the root on mount, which reports these problems.
package s3

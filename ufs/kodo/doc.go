// Package kodo is the under-store for Qiniu Kodo, registered for the
// "kodo" URI scheme: kodo://bucket/ mounts a whole bucket,
// kodo://bucket/dir/ the keys under "dir/". It speaks Kodo's native API
// through the qiniu go-sdk v7 (request signing, upload tokens, form and
// v2 multipart uploads, private download URLs).
//
// # Layout, reading and writing
//
// The bucket is laid out as Alluxio's object stores lay it out, by package
// objstore, which gives this store and ufs/s3 one file system over their
// requests: a file "a/b" is the key prefix+"a/b"; a directory "a" is the
// zero-byte key prefix+"a/" (a marker) or is implied by any key under it
// (see objstore for Stat, List, Delete, Rename and what is and is not
// atomic). Files are reported with mode 0644 and directories with 0755,
// or alluxio.underfs.kodo.default.mode; times are the objects' putTime,
// and a file's ETag (fingerprint) is Kodo's hash.
//
// The requests are Kodo's: rsf /list pages of 1000 following the marker,
// rs /stat, /delete, /move with force (a file's rename is one move, a
// directory's one move per key, 16 in parallel) and /copy (Store.Copy).
// OpenRange sends a GET with a Range header to a private download URL of
// the download host (e=<deadline>&token=<ak>:<sign>, valid for an hour).
// Answers are retried until the body starts; a body that breaks, or gets
// no data for request.timeout, is resumed where it stopped with If-Match
// on the first answer's ETag, up to max.error.retry times (ESTALE if the
// object changed meanwhile: an answer whose ETag differs, or, without
// one, whose key rs reports with another hash).
//
// Create buffers one part (4 MiB, more when SizeHint asks for it, doubled
// every 1000 parts). A file closed before its first part fills is sent in
// one form upload; a longer one goes through Kodo's multipart upload v2
// (initiate, each part uploaded from Write as it fills with its
// Content-MD5, complete on Close), and Abort or a failure deletes the
// upload. Upload tokens are scoped bucket:key, which allows overwriting.
// Retarget works until the first part is uploaded (EXDEV after).
//
// # Options
//
// Mount options use Alluxio's names; the root mount's may also carry the
// alluxio.master.mount.table.root.option. prefix:
//
//	fs.kodo.accesskey, fs.kodo.secretkey  required credentials
//	alluxio.underfs.kodo.endpoint         required: a region id (z0, z1, z2, na0, as0,
//	                                      fog-cn-east-1: that region's up/rs/rsf/api hosts
//	                                      from Qiniu's public table, over https), an upload
//	                                      host of that table (up-z0.qiniup.com: its region),
//	                                      or [http(s)://]host[:port] serving every API
//	                                      (https when no scheme is given)
//	alluxio.underfs.kodo.downloadhost     required: the domain bound to the bucket; http
//	                                      when no scheme is given, as in Alluxio; a path
//	                                      prefix is allowed
//	alluxio.underfs.kodo.connect.timeout  dial and TLS handshake, default 50sec
//	alluxio.underfs.kodo.requests.max     connections per host, default 64
//	alluxio.underfs.kodo.request.timeout  one attempt of one request (this project's
//	                                      key), default 60s; 0: none. A download
//	                                      that stalls that long is resumed.
//	alluxio.underfs.kodo.max.error.retry  retries after the first attempt (this
//	                                      project's key), default 5
//	alluxio.underfs.kodo.default.mode     permission bits reported for entries
//
// A missing required key is an error naming it, as is any other
// alluxio.underfs.kodo.* key or a malformed value. Credentials never
// appear in an error or a log line.
//
// Retries: a request that gets a 5xx answer (including 573, Kodo's rate
// limit, and 599), times out or gets no answer is retried with
// exponential backoff (100ms doubling to 5s, half jitter); 4xx and Kodo's
// 6xx answers are not. The caller's context cancels the waits.
//
// # Errors
//
// Errors are *fs.PathError values naming the operation and the object as
// kodo://bucket/key, wrapping a syscall.Errno: ENOENT for a missing key
// (612) or bucket (631, "bucket does not exist"), EEXIST (614), EACCES for
// refused credentials ("access denied (check
// fs.kodo.accesskey/fs.kodo.secretkey)"), EAGAIN when the rate limit
// outlasts the retries, ESTALE when a file changes under a resumed read,
// ETIMEDOUT, EHOSTUNREACH, EINTR or ETIMEDOUT when a context ends, EIO
// with the HTTP status for anything else. Open does
// no network I/O; the master Stats the root on mount, which lists one key
// and so checks the endpoint, the credentials and the bucket.
//
// The tests run against kodotest, a Kodo server written from the public
// API description, because no real Kodo can run here.
package kodo

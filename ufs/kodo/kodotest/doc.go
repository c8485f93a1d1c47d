// Package kodotest is an in-memory Qiniu Kodo server for tests: the
// management (rs, rsf), upload (up) and download (io/CDN) APIs that the
// store in ufs/kodo and the qiniu go-sdk v7 call, all on one
// http://127.0.0.1 address.
//
// No real Kodo can run here: Kodo is a hosted service with no server a
// test can start. This server is written from Qiniu's public API
// descriptions (developer.qiniu.com/kodo/api) and from the requests the
// SDK builds, and answers with the same status codes and JSON bodies:
//
//   - management, authorised by "Authorization: Qiniu <ak>:<sign>" (v2
//     signing: method, path?query, Host, Content-Type, X-Qiniu-* headers,
//     then a form or JSON body) or "QBox <ak>:<sign>" (path?query, newline,
//     then a form body): POST /stat/<EncodedEntry>, /delete/<EncodedEntry>,
//     /move/<src>/<dst>[/force/<bool>], /copy/<src>/<dst>[/force/<bool>],
//     POST /batch (a form of up to 1,000 op=<one of those paths>, answered
//     with a JSON array of {code, data} in order, status 200 when all
//     succeeded and 298 otherwise), and the rsf listing POST|GET /list?bucket=&prefix=&delimiter=&marker=&limit=
//     (v1 JSON: items, commonPrefixes, marker);
//   - form upload POST / (multipart/form-data: token, key, file, crc32),
//     answering {"hash","key"};
//   - multipart upload v2, authorised by "Authorization: UpToken <token>":
//     POST /buckets/<bucket>/objects/<EncodedKey>/uploads (initiate),
//     PUT .../uploads/<uploadId>/<partNumber> (Content-MD5 checked),
//     POST .../uploads/<uploadId> (complete, JSON parts list),
//     DELETE .../uploads/<uploadId> (abort);
//   - download GET|HEAD /<key>?e=<deadline>&token=<ak>:<sign> with Range,
//     every bucket being private.
//
// Upload tokens are <ak>:<sign>:<base64(putPolicy)>; scope "bucket" is
// insert-only (614 when the key exists), "bucket:key" may overwrite, and
// an expired deadline is refused. A wrong key or signature is answered 401
// {"error":"bad token"}; a missing key 612 "no such file or directory"; an
// existing one 614 "file exists"; an unknown bucket 631 "no such bucket".
//
// Object hashes are Qiniu's qetag of the whole content, also for
// multipart uploads (real Kodo reports a different, MD5-based hash for v2
// uploads whose parts are not 4 MiB blocks). The fetch, chgm,
// lifecycle, v2 listing and v1 mkblk/bput/mkfile APIs are not
// implemented (404).
//
// Fault injection: FailNext makes the next requests fail with a status
// such as 503 or 573 (Kodo's rate limit), and SetLatency delays every
// answer.
package kodotest

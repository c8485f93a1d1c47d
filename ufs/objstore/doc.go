// Package objstore is the file system of Alluxio's object under-stores,
// written once over the few requests every object store answers: ufs/s3
// and ufs/kodo are adapters of their SDKs to Client, and Store gives them
// the ufs.UFS semantics.
//
// # Layout
//
// The bucket is laid out as Alluxio's object stores lay it out, so a
// bucket written by Alluxio reads the same here and the other way round:
//
//   - a file "a/b" is the object with key prefix+"a/b";
//   - a directory "a" is the zero-byte object prefix+"a/" (a "marker"), or
//     is implied by any key that starts with prefix+"a/";
//   - nothing else is stored: no owner, mode or times besides the
//     objects' own. Files and directories are reported with the modes of
//     the Config.
//
// Mkdir writes the marker; the parent must exist. Parents are not
// written: a file or a directory created under a directory that is only
// implied keeps it implied until its last key goes away, after which it
// is gone. List reads pages with the delimiter "/" and reports common
// prefixes as directories and objects as files; the marker of the listed
// directory, empty names ("a//b") and the names "." and ".." are hidden.
// When a key "a" and keys under "a/" both exist, "a" is a file.
//
// Stat of "a/b" tries HEAD "a/b", then a one-key listing under "a/b/":
// the marker, when there is one, sorts first and the listing gives its
// time. Delete removes a file, or the marker of an empty
// directory (ENOTEMPTY while anything is under it). Rename of a file is a
// server-side move where the store has one (Mover), else a server-side
// copy and a delete. Renaming a directory moves the keys under it one
// listing page at a time, so it is NOT atomic: a failure part way leaves
// some keys moved and the others in place, every object whole in at least
// one of the two trees; markers are written anew rather than copied.
// Store.Copy is the server-side copy of one file. Create does not check
// that the parent exists or that the path is not a directory, and Rename
// does not check the destination's parent: an object store has no such
// constraints, and the master has already checked them.
//
// # Reading and writing
//
// OpenRange asks for the range in one GetObject and resumes a body that
// breaks or stalls (Config.ReadStall) where it stopped, on condition that
// the object is still the version it started reading (ESTALE otherwise),
// as Alluxio's object input streams retry a failed read by reopening at
// their position.
//
// Create streams through a buffer of one part: a file closed before its
// first part fills is sent in one PutObject; a longer one goes through a
// multipart upload (Multipart), each part uploaded from Write as it fills,
// completed on Close and aborted on Abort or any failure, so an
// unfinished file is never visible and leaves no parts behind. Retarget
// works until the first part is uploaded (EXDEV after).
//
// # Errors
//
// Errors are *fs.PathError values naming the operation and the object as
// Config.BucketURI+"/"+key, wrapping what the Client reported (a
// syscall.Errno with a message) or the errno of the file-system rule that
// was broken (ENOENT, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, EXDEV, EBADF
// after Close, EINVAL for a path above the root, ENAMETOOLONG).
//
// Retries of single requests are the Client's business: its SDK's own
// retryer, or Retry, a backoff with jitter for SDKs without one.
package objstore

// Package local is the under-store for a directory of the local file system,
// registered for the "file" URI scheme ("file:///data/ufs", or a bare
// absolute path such as "/data/ufs").
//
// Every path is resolved beneath the store's root: ".." is refused, and a
// symbolic link is followed only while it stays inside the root. On Linux
// 5.6 and later that is enforced by the kernel (openat2 with
// RESOLVE_BENEATH); elsewhere the store falls back to checking the path
// with filepath.EvalSymlinks before opening it. Symbolic links themselves
// are reported, not followed, by Stat and List.
//
// New files are written to a hidden temporary file in the target's
// directory and renamed over the target on Close, so a reader never sees a
// half-written file.
//
// The store is implemented for Linux only; on other systems the package is
// empty and registers nothing.
package local

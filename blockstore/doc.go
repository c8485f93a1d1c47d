// Package blockstore is the worker's tiered page cache: it keeps the bytes of
// under-store files in fixed-size pages (1 MiB by default) on tier
// directories such as /dev/shm, fetches missing pages through a Source the
// caller supplies, and evicts least-recently-used pages when a tier fills.
// It knows nothing of FUSE, RPC or the master.
//
// # Layout: one cached file version, one sparse backing file
//
// Each file version (a FileKey: inode id plus content fingerprint) is cached
// in a single sparse file
//
//	<tier dir>/<data folder>/<id>-<first 16 hex digits of sha1(fingerprint)>
//
// that holds the file's bytes at their own offsets. A page is present when its
// range has been written; which pages are present is a bitmap kept in memory.
// Evicting a page punches a hole in the backing file
// (FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE), which returns the memory or disk
// blocks to the file system, and clears the page's bit.
//
// The point of this layout, rather than one file per page, is that a fully
// cached file's backing file IS the file: OpenWhole hands out a read-only
// descriptor of it, which the FUSE daemon registers with the kernel as a
// passthrough backing file, so hot reads run at tmpfs speed with no copy
// through user space. A page-per-file layout could never offer that.
//
// # Capacity
//
// Each tier directory has a quota and high/low watermarks. Before a page is
// added, if the directory's usage would pass the high watermark, pages are
// evicted in LRU order (across all files of the directory) until usage is at
// the low watermark. Pages of pinned files are never evicted: files that are
// leased through OpenWhole, and files created with pinned=true whose data
// exists nowhere else yet. When no room can be made a read is still served
// from the fetched bytes, uncached; only a write to a pinned file fails, with
// an error wrapping syscall.ENOSPC.
//
// Only tier level 0 is used for now; further levels are validated and
// ignored (with a warning) until promotion and demotion between tiers exist.
package blockstore

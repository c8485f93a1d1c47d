// Package blockstore is the worker's tiered page cache: it keeps the bytes of
// under-store files in fixed-size pages (1 MiB by default) on tier
// directories such as /dev/shm and SSDs, fetches missing pages through a
// Source the caller supplies, evicts or demotes pages when a tier fills, and
// finds its pages again after a restart. It knows nothing of FUSE, RPC or
// the master.
//
// # Layout: one cached file version, one sparse backing file
//
// Each file version (a FileKey: inode id plus content fingerprint) is cached
// in a single sparse file in a single tier dir at a time
//
//	<tier dir>/<data folder>/<id>-<first 16 hex digits of sha1(fingerprint)>
//
// that holds the file's bytes at their own offsets. A page is present when its
// range has been written; which pages are present is a bitmap kept in memory,
// with each present page's crc32c (Castagnoli) and a "verified" bit. Evicting
// a page punches a hole in the backing file
// (FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE), which returns the memory or disk
// blocks to the file system, and clears the page's bit.
//
// The point of this layout, rather than one file per page, is that a fully
// cached file's backing file IS the file: OpenWhole hands out a read-only
// descriptor of it, which the FUSE daemon registers with the kernel as a
// passthrough backing file, so hot reads run at tmpfs speed with no copy
// through user space. A page-per-file layout could never offer that.
//
// Memory use grows with the number of present pages only by small per-page
// metadata: a bitmap bit or two, a 4-byte checksum and an eviction entry.
//
// # Page log and restart recovery
//
// Next to each backing file, "<backing name>.pages" is an append-only page
// log: a header (magic, format version, FileKey.ID, the full fingerprint,
// file size, page size, pin flags) and 16-byte records appended as pages
// become present (index and crc32c), are punched out (tombstone), as the pins
// change, and when a Writer closes the file (its final size). Nothing is
// fsynced: a killed process loses no write, and after a power loss the page
// checksums catch what the log got wrong. A log that grows past a few times
// its live record count is rewritten from memory (temp file and rename).
// The logs live in the tier dir next to the pages but are not counted in its
// quota.
//
// Open scans each usable dir's data folder. A backing file whose log is
// readable and matches (same page size, same key as the file name) has its
// log replayed; then every page the log says is present is read back and
// checked against its checksum. Damaged pages are punched out (logged once
// per file, with counts), good ones become present again, verified, and
// enter the eviction order oldest file first. Backing files without a usable
// log, logs without a backing file, temp files and anything else in the data
// folder are removed. A file whose Writer had not closed is dropped unless it
// is pinned (then it may hold the only copy of MUST_CACHE or ASYNC_THROUGH
// data): its completed pages are kept and CachedFile.Partial says so. Usage
// is recomputed from what was kept; files are verified in parallel, and one
// line ("recovered N files, M pages, K damaged, in D") is logged at the end.
// Files lists what the store holds, so the worker can re-queue work after a
// restart.
//
// # Misses, runs and reading ahead
//
// A missing page is fetched once however many readers miss it: each page
// being fetched has one entry that later readers wait on. Pages are
// fetched in runs, one Source call (one ranged GET on an object store) for
// consecutive pages, cut into pages as the bytes arrive; each page is
// cached and its readers woken before the next is read. A random reader's
// runs are single pages. A sequential reader (a read that starts where the
// previous one of the file ended) fetches its own missing pages in one run,
// and Config.PrefetchPages ahead of it are fetched in the background in
// runs that start at two pages and double up to 16 MiB or half the depth;
// a run starts only when a whole one fits ahead of the reader, so runs stay
// long, and pages present or in flight cut it short. Under-stores charge
// per request (an S3 server spends about a millisecond of CPU on each), so
// this matters more than any other cost of a cold read. A run no reader
// wants any more (every waiter gone, nothing in it fetched ahead) is
// cancelled; a run that fails fails only the pages it had not delivered.
// The buffer of a page fetched ahead is kept (up to twice the prefetch
// depth, 256 MiB at most, for the store) until a read reaches its end, so
// the reader it was fetched for copies it from memory instead of reading
// it back from the tier.
//
// # Checksums on reads
//
// Tiers that verify reads (Config.VerifyReads: by default every tier whose
// alias is not MEM) check each page ReadAt serves from the cache against its
// crc32c. Pages a read covers whole are pread straight into the caller's
// buffer and checked there; a page covered in part is read whole into a
// pooled buffer. A mismatch is counted (Stats.ChecksumErrors), logged once per
// file, the page is punched out and fetched from the Source again as a miss:
// the caller gets the right bytes, never an error. A cached page that cannot
// be read at all is handled the same way. OpenWhole on such a tier first
// checks the pages not verified since they were written or recovered, and
// refuses (ok=false) after punching out a bad one.
//
// # Capacity, eviction and pins
//
// Each tier dir has a quota and high/low watermarks. Before a page is added,
// if the dir's usage would pass the high watermark, room is made: by demotion
// when a lower level has a usable dir (see below), else by evicting pages
// (across all files of the dir) until usage is at the low watermark. The
// eviction order is LRU, or LRFU (Config.Evictor) as Alluxio's LRFUAnnotator:
// a combined recency and frequency score with a step and an attenuation
// factor, kept in a heap ordered by a key that does not change between
// accesses, so both policies cost O(1) or O(log n) per access. When no room
// can be made right now a read is still served from the fetched bytes,
// uncached; only a write to a pinned file fails, with an error wrapping
// syscall.ENOSPC.
//
// Pages leased by ReadLease (a short-circuit reader reads them from the
// backing file itself) are neither evicted nor punched until the lease is
// released; a leased file may still be moved or removed, which unlinks its
// backing file but leaves the bytes to descriptors opened before.
//
// Pages of pinned files are never evicted: files leased through OpenWhole,
// files created with Create(key, true) until Unpin (their data may exist
// nowhere else yet), and every version of an inode pinned with SetPinned.
// Pins are recorded in the page log and survive a restart.
//
// # Tier levels, placement, demotion and promotion
//
// Every level of Config.Tiers stores pages. A new file version goes to the
// first level, fastest first, whose roomiest usable dir (most free bytes) has
// a high watermark of at least the file's size; a file too large for every
// level goes to the slowest usable one, and a Writer's file (size unknown) to
// level 0. A file never spans dirs, which keeps OpenWhole possible.
//
// When a dir passes its high watermark and a lower level has a usable dir, a
// background mover demotes whole files, least valuable first, until the dir
// is at its low watermark: their present pages are copied (and checked) into
// a new backing file and page log in the lower dir under temporary names, the
// names are renamed into place, the index is switched under the lock and the
// old files are removed. Files being written, moved or leased are skipped;
// the target may evict its own pages to make room. When nothing can go down
// the mover evicts pages instead. The reader that passed the watermark never
// waits for this: its page goes uncached if the dir is at its quota
// meanwhile (a Writer evicts instead). A ReadCachePromote read that hits a
// file on a lower level asks the mover to move it to level 0 the same way,
// when it fits there below the high watermark. A crash mid-move leaves at
// most two copies; recovery keeps the one with more pages.
//
// # Failed dirs
//
// A write into a dir that fails with EIO, EROFS, EACCES, EDQUOT or ENOSPC
// (every write fits the quota, so ENOSPC means the disk is smaller than
// configured) marks the dir failed: no new page or file goes to it, reads of
// its files are served from its good pages and otherwise from the Source,
// uncached. A dir that cannot be used at Open (missing, not a directory, not
// writable, no hole punching) is failed too; Open fails only when no dir at
// all is usable. Failed dirs are probed every Config.ProbeInterval (a minute
// by default) by writing, punching and removing a scratch file; a dir that
// works again is put back, after recovering its files if it had failed at
// Open. Stats reports each dir's state and the reason it failed.
package blockstore

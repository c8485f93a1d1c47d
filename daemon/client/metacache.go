package client

import (
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
)

// MetadataCacheConfig sizes the FUSE daemon's metadata cache
// (alluxio.user.metadata.cache.*).
type MetadataCacheConfig struct {
	// MaxSize is the most paths kept; 0 turns the cache off.
	MaxSize int
	// Expiration is how long the cache is trusted after the master last
	// confirmed it: within it, a lookup of a cached path costs no call.
	// Changes made through this client are applied to the cache as they
	// happen; changes made elsewhere show up at the latest Expiration
	// after they were made.
	Expiration time.Duration
	// SyncInterval is alluxio.user.file.metadata.sync.interval: a
	// directory's listing is answered from the cache for at most this
	// long after the master listed it (or made it empty), so that the
	// master still gets to sync it with its under-store as often as
	// without the cache. Negative: no bound (the master never syncs).
	SyncInterval time.Duration
}

// metaCache keeps the attributes of paths as of one namespace version of
// the master (wire.Stamp), so that it is exact, not merely recent: an
// answer is cached only when the master saw no change while serving it,
// and the cache is emptied whenever a stamp shows a change that it does
// not know the effect of. The changes this
// client makes are the ones it knows: a call whose stamp shows its own
// change and nothing else updates the cache in place.
//
// Entries are served while the cache is trusted: until Expiration after
// the last call that found the master at the cache's version. Any call to
// the master that may change the namespace and whose effect is not
// applied here ends that trust (distrust), so the next lookup asks the
// master, which confirms the version or empties the cache.
//
// Only names that exist are cached: a lookup of a name the cache does not
// hold asks the master, so a file another mount created is found as soon
// as that mount closed it (close-to-open).
//
// A directory the master listed whole in one page, or that this client
// made, is also known whole (dirs), and its listing is answered from the
// cache while it is trusted, like a lookup. Creates, removes and renames
// through this client change it in place; an entry of it forgotten or
// dropped for room ends its use until it is listed again.
type metaCache struct {
	cfg MetadataCacheConfig

	mu sync.Mutex
	// epoch and version identify the namespace state the entries
	// describe; known is false until a stamp set them.
	epoch, version uint64
	known          bool
	// trustedUntil ends the time the entries may be served.
	trustedUntil time.Time
	entries      map[string]cacheEntry
	// dirs holds the directories known whole.
	dirs map[string]*dirListing
	// hits, misses and resets count lookups answered, lookups that asked
	// the master, and times the cache was emptied for a change it did
	// not know; listHits the listings answered.
	hits, misses, resets, listHits uint64
}

// MetadataCacheStats describes the FUSE daemon's metadata cache.
type MetadataCacheStats struct {
	// Size is the number of paths cached.
	Size int
	// Hits and Misses count the lookups answered from the cache and those
	// that asked the master; Resets the times a change the cache did not
	// know of emptied it; ListHits the directory listings answered from
	// it.
	Hits, Misses, Resets, ListHits uint64
}

// MetadataCacheStats returns the metadata cache's counters (zero when it
// is off).
func (c *Client) MetadataCacheStats() MetadataCacheStats {
	mc := c.mc
	if mc == nil {
		return MetadataCacheStats{}
	}
	mc.mu.Lock()
	defer mc.mu.Unlock()
	return MetadataCacheStats{Size: len(mc.entries), Hits: mc.hits, Misses: mc.misses, Resets: mc.resets, ListHits: mc.listHits}
}

func newMetaCache(cfg MetadataCacheConfig) *metaCache {
	if cfg.MaxSize <= 0 || cfg.Expiration <= 0 {
		return nil
	}
	return &metaCache{cfg: cfg, entries: map[string]cacheEntry{}, dirs: map[string]*dirListing{}}
}

// dirListing is a directory known whole: the names in it, every one of
// them in entries unless it was forgotten since (which ends the listing's
// use), and when the master listed it.
type dirListing struct {
	names map[string]struct{}
	// sorted holds the names in order, when it was made since the last
	// name came in.
	sorted []string
	listed time.Time
}

func newDirListing(listed time.Time) *dirListing {
	return &dirListing{names: map[string]struct{}{}, listed: listed}
}

// inOrder returns the names in order.
func (d *dirListing) inOrder() []string {
	if d.sorted == nil {
		d.sorted = slices.Sorted(maps.Keys(d.names))
	}
	return d.sorted
}

// cacheEntry is what the cache knows of one path.
type cacheEntry struct {
	attr fuse.Attr
	// xattrs: the entry has extended attributes (without, a getxattr is
	// answered ENODATA from the cache).
	xattrs bool
}

func entryOf(fi meta.FileInfo) cacheEntry {
	return cacheEntry{attr: AttrOf(fi), xattrs: fi.HasXattrs}
}

// get returns what is cached of p while the cache is trusted.
func (c *metaCache) get(p string) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[p]
	if ok && c.known && time.Now().Before(c.trustedUntil) {
		c.hits++
		return e, true
	}
	c.misses++
	return cacheEntry{}, false
}

// list returns the entries of directory dir whose names sort after
// after, in name order, while the cache is trusted and knows dir whole.
func (c *metaCache) list(dir, after string) ([]fuse.Entry, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.dirs[dir]
	now := time.Now()
	if !ok || !c.known || !now.Before(c.trustedUntil) ||
		c.cfg.SyncInterval >= 0 && now.Sub(d.listed) >= c.cfg.SyncInterval {
		return nil, false
	}
	names := d.inOrder()
	i, found := slices.BinarySearch(names, after)
	if found {
		i++
	}
	out := make([]fuse.Entry, 0, len(names)-i)
	for _, name := range names[i:] {
		e, ok := c.entries[childPath(dir, name)]
		if !ok {
			delete(c.dirs, dir)
			return nil, false
		}
		out = append(out, fuse.Entry{Name: name, Attr: e.attr})
	}
	c.listHits++
	return out, true
}

func childPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// distrust stops serving entries until a stamp confirms them again.
func (c *metaCache) distrust() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.trustedUntil = time.Time{}
	c.mu.Unlock()
}

// update takes the stamp of a call sent at sent. own says the call was
// made to change the namespace. When the answer describes the cache's
// (possibly new) version, fn applies it to the entries; answers that are
// older than the cache are dropped, and newer ones that fn cannot apply
// exactly empty the cache first.
func (c *metaCache) update(sent time.Time, ns *wire.Stamp, own bool, fn func(u cacheUpdate)) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ns == nil {
		c.trustedUntil = time.Time{}
		return
	}
	// exact: the answer is the state at ns.After (a read nothing
	// changed under, or a change that was the only one).
	exact := ns.After == ns.Before || own && ns.After == ns.Before+1
	switch {
	case !c.known || ns.Epoch != c.epoch:
		c.reset(ns.Epoch, ns.After)
	case ns.After < c.version:
		return // the cache has seen newer states
	case ns.Before == c.version && exact:
		c.version = ns.After // nothing but this call happened since
	case ns.After > c.version:
		c.reset(ns.Epoch, ns.After)
	default:
		// ns.After == c.version, but reached through changes this
		// answer may not include: nothing to learn.
		return
	}
	if !exact {
		return
	}
	if until := sent.Add(c.cfg.Expiration); until.After(c.trustedUntil) {
		c.trustedUntil = until
	}
	fn(cacheUpdate{c, sent})
}

// reset empties the cache for a new version.
func (c *metaCache) reset(epoch, version uint64) {
	if len(c.entries) > 0 {
		c.resets++
	}
	clear(c.entries)
	clear(c.dirs)
	c.epoch, c.version, c.known = epoch, version, true
	c.trustedUntil = time.Time{}
}

// cacheUpdate changes the entries of an answer to a call sent at sent; it
// is only handed out under the lock.
type cacheUpdate struct {
	c    *metaCache
	sent time.Time
}

// put records what the master said of p.
func (u cacheUpdate) put(p string, fi meta.FileInfo) {
	c := u.c
	if _, ok := c.entries[p]; !ok && len(c.entries) >= c.cfg.MaxSize {
		// Full: drop an eighth, in the map's own (unordered) order,
		// and with them the directories known whole.
		clear(c.dirs)
		drop := max(c.cfg.MaxSize/8, 1)
		for k := range c.entries {
			delete(c.entries, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	c.entries[p] = entryOf(fi)
}

// created records fi, a new entry made at its ctime: the master sets its
// parent's mtime and ctime to the same time (createFileCmd and the like),
// and a new subdirectory adds one to the parent's link count.
func (u cacheUpdate) created(fi meta.FileInfo) {
	u.put(fi.Path, fi)
	dir := path.Dir(fi.Path)
	u.enlist(fi.Path)
	if fi.IsDir && fi.Loaded {
		// Made empty in the under-store too: known whole.
		u.c.dirs[fi.Path] = newDirListing(u.sent)
	}
	if pe, ok := u.c.entries[dir]; ok {
		ctime := time.Unix(0, fi.Ctime)
		pe.attr.Mtime, pe.attr.Ctime = ctime, ctime
		if fi.IsDir {
			pe.attr.Nlink++
		}
		u.c.entries[dir] = pe
	}
}

// forget drops p.
func (u cacheUpdate) forget(p string) { delete(u.c.entries, p) }

// enlist adds p's name to the listing of its directory, when that is
// known whole.
func (u cacheUpdate) enlist(p string) { u.relist(p, true) }

// unlist takes p's name out of the listing of its directory, when that is
// known whole.
func (u cacheUpdate) unlist(p string) { u.relist(p, false) }

// relist puts p's name in the listing of its directory (in) or takes it
// out, when that directory is known whole.
func (u cacheUpdate) relist(p string, in bool) {
	d, ok := u.c.dirs[path.Dir(p)]
	if !ok {
		return
	}
	name := path.Base(p)
	if _, there := d.names[name]; there == in {
		return
	}
	if in {
		d.names[name] = struct{}{}
	} else {
		delete(d.names, name)
	}
	d.sorted = nil
}

// forgetTree drops p and, unless it is cached as something other than a
// directory, every path under it, with the listings of p and the
// directories under it (not the listing p is in).
func (u cacheUpdate) forgetTree(p string) {
	e, ok := u.c.entries[p]
	delete(u.c.entries, p)
	delete(u.c.dirs, p)
	if ok && !e.attr.IsDir {
		return
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	for k := range u.c.entries {
		if strings.HasPrefix(k, prefix) {
			delete(u.c.entries, k)
		}
	}
	for k := range u.c.dirs {
		if strings.HasPrefix(k, prefix) {
			delete(u.c.dirs, k)
		}
	}
}

// listed records that infos, all of them already put, are the whole of
// directory dir.
func (u cacheUpdate) listed(dir string, infos []meta.FileInfo) {
	d := newDirListing(u.sent)
	for _, fi := range infos {
		if path.Dir(fi.Path) != dir || fi.Path == dir {
			return // a file, listed as itself
		}
		if _, ok := u.c.entries[fi.Path]; !ok {
			return // dropped for room already
		}
		d.names[path.Base(fi.Path)] = struct{}{}
	}
	u.c.dirs[dir] = d
}

// putInfo records a status the master returned, under its own path.
func (u cacheUpdate) putInfo(fi meta.FileInfo) {
	if fi.Path != "" {
		u.put(fi.Path, fi)
	}
}

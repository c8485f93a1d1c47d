package meta

import (
	"bytes"
	"maps"
	"sync"
)

// inodeCacheSize bounds the decoded inodes kept (about half a KiB each):
// enough for the directories every path walk passes through and a working
// set of files.
const inodeCacheSize = 1 << 15

// inodeCache keeps decoded inodes with the stored bytes they were decoded
// from. A lookup that finds the same bytes in the metastore returns a copy
// of the decoded inode instead of decoding it again; any change to an
// inode changes its bytes, so an entry can never be stale and nothing has
// to be invalidated. Every path walk decodes each inode on the way, and
// decoding dominated the master's CPU per call.
type inodeCache struct {
	mu      sync.Mutex
	entries map[uint64]cachedInode
}

type cachedInode struct {
	raw []byte
	n   inode
}

func newInodeCache() *inodeCache {
	return &inodeCache{entries: make(map[uint64]cachedInode)}
}

// get returns a private copy of the inode id decoded from raw, if cached.
func (c *inodeCache) get(id uint64, raw []byte) (*inode, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || !bytes.Equal(e.raw, raw) {
		return nil, false
	}
	return e.n.clone(), true
}

// put remembers n as decoded from raw (which is copied: bbolt's value
// lives only as long as its transaction).
func (c *inodeCache) put(id uint64, raw []byte, n *inode) {
	if c == nil {
		return
	}
	e := cachedInode{raw: bytes.Clone(raw), n: *n.clone()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= inodeCacheSize {
		// Drop about half, in map order (random enough for a cache of
		// entries that are cheap to rebuild).
		drop := len(c.entries) / 2
		for k := range c.entries {
			if drop == 0 {
				break
			}
			delete(c.entries, k)
			drop--
		}
	}
	c.entries[id] = e
}

// clone copies an inode deeply enough that changing the copy (its
// extended attributes included) leaves the original as it was.
func (n *inode) clone() *inode {
	c := *n
	if n.Xattrs != nil {
		c.Xattrs = make(map[string][]byte, len(n.Xattrs))
		for k, v := range maps.All(n.Xattrs) {
			c.Xattrs[k] = bytes.Clone(v)
		}
	}
	return &c
}

package meta

import (
	"bytes"
	"sync/atomic"

	"go.etcd.io/bbolt"
)

// mountCache keeps the decoded mount table with the stored records it was
// decoded from, as inodeCache does for inodes. A transaction that finds
// the same records in the metastore takes the decoded table instead of
// decoding every record again; any change to the mount table changes the
// records, so the cached table can never be stale and nothing has to be
// invalidated. Every metadata call resolves its path against the mount
// table, and decoding it took about a sixth of the master's CPU per stat.
//
// The cached table is shared by every transaction that matches it: it,
// and the Options maps of its entries, must be treated as read-only
// (callers that hand a MountInfo out clone its Options).
type mountCache struct {
	cur atomic.Pointer[decodedMounts]
}

// decodedMounts is one decoded mount table; never changed once cached.
type decodedMounts struct {
	raw [][]byte // the records, in key order
	mt  mountTable
}

// match returns the cached table when the records of bucket b are the
// ones it was decoded from.
func (c *mountCache) match(b *bbolt.Bucket) (mountTable, bool) {
	if c == nil {
		return nil, false
	}
	d := c.cur.Load()
	if d == nil {
		return nil, false
	}
	i := 0
	cur := b.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		if i == len(d.raw) || !bytes.Equal(d.raw[i], v) {
			return nil, false
		}
		i++
	}
	if i != len(d.raw) {
		return nil, false
	}
	return d.mt, true
}

// put remembers mt as decoded from records, which must be copies that
// outlive the transaction they were read in.
func (c *mountCache) put(records [][]byte, mt mountTable) {
	if c == nil {
		return
	}
	c.cur.Store(&decodedMounts{raw: records, mt: mt})
}

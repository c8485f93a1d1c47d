package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"syscall"
	"time"
)

// Pin and TTL are namespace-only attributes, as in Alluxio: no under-store
// call sets or reads them. A pinned file's cached data is not evicted; a
// directory's pin passes to the entries made in it later. An entry whose
// TTL (milliseconds from its creation) has passed is deleted or freed by
// the master's TTL checker, which finds it with Expired.
//
// Two indexes in the metastore keep those questions cheap: pinned files by
// inode id (ListPinned), and entries with a TTL by expiry time (Expired).
// They are changed in the same transactions as the inodes, so they travel
// in snapshots and agree on every replica.

// TTL actions, as Alluxio names them.
const (
	// TTLActionDelete removes an expired entry (recursively, from the
	// under-store too). It is the default.
	TTLActionDelete = "DELETE"
	// TTLActionFree drops an expired entry's cached data and keeps the
	// entry; the checker then clears the TTL (ClearTTL).
	TTLActionFree = "FREE"
)

// maxAttrBatch bounds the entries that one command of a recursive SetAttr
// changes: a bigger tree is changed in batches of this many, so that no
// metastore transaction grows without bound and other commands interleave.
// Only the leader uses it (the commands carry their batches), so tests may
// make it small.
var maxAttrBatch = 10_000

// Metastore buckets of the attribute indexes.
var (
	bucketPinned    = []byte("pinned")    // inode id (u64 BE) of a pinned file -> empty
	bucketTTL       = []byte("ttl")       // ttlKey(expiry, id) -> empty
	bucketTTLInodes = []byte("ttlInodes") // inode id (u64 BE) -> its key in bucketTTL
)

// nsAttrs are the namespace-only attributes a SetAttr may change; nil
// leaves one as is. Commands embed it, so its fields are optional in the
// stored encoding.
type nsAttrs struct {
	Pinned    *bool   `json:"pinned,omitempty"`
	TTL       *int64  `json:"ttl,omitempty"`
	TTLAction *string `json:"ttlAction,omitempty"`
}

// set reports whether any attribute is changed.
func (a *nsAttrs) set() bool { return a.Pinned != nil || a.TTL != nil || a.TTLAction != nil }

// validate checks the values and upper-cases the action in place.
func (a *nsAttrs) validate(op, p string) error {
	if a.TTL != nil && *a.TTL < 0 {
		return fmt.Errorf("%s %s: ttl %d ms: must not be negative: %w", op, p, *a.TTL, syscall.EINVAL)
	}
	if a.TTLAction != nil {
		act, err := normalizeTTLAction(*a.TTLAction)
		if err != nil {
			return fmt.Errorf("%s %s: %w", op, p, err)
		}
		a.TTLAction = &act
	}
	return nil
}

// normalizeTTLAction returns the stored form of a TTL action: upper case,
// "" meaning DELETE.
func normalizeTTLAction(s string) (string, error) {
	switch a := strings.ToUpper(s); a {
	case "", TTLActionDelete:
		return TTLActionDelete, nil
	case TTLActionFree:
		return a, nil
	}
	return "", fmt.Errorf("ttl action %q: want %s or %s: %w", s, TTLActionDelete, TTLActionFree, syscall.EINVAL)
}

// outcome returns the TTL and effective action n would have once a is
// applied.
func (a *nsAttrs) outcome(n *inode) (ttl int64, action string) {
	ttl, action = n.TTL, n.TTLAction
	if a.TTL != nil {
		ttl = *a.TTL
	}
	if a.TTLAction != nil {
		action = *a.TTLAction
	}
	if action == "" {
		action = TTLActionDelete
	}
	return ttl, action
}

// apply changes n (validated attributes; the caller stores n). Clearing
// the TTL without naming an action resets the action too, as Alluxio's
// unsetTtl does.
func (a *nsAttrs) apply(t *txn, n *inode, now int64) {
	if a.Pinned != nil {
		t.setPinned(n, *a.Pinned)
	}
	if a.TTL != nil {
		t.setTTL(n, *a.TTL, now)
		if *a.TTL == 0 && a.TTLAction == nil {
			n.TTLAction = ""
		}
	}
	if a.TTLAction != nil {
		n.TTLAction = *a.TTLAction
	}
}

// applyBelow applies a to everything below directory id, parents before
// children.
func (a *nsAttrs) applyBelow(t *txn, id uint64, now int64) {
	t.fail(descendants(t, id, func(id uint64) error {
		if d, ok := t.inode(id); ok {
			a.apply(t, d, now)
			d.Ctime = now
			t.putInode(d)
		}
		return t.err
	}))
}

// descendants calls fn with the inode id of every entry below directory
// id, each directory before its entries. It stops at fn's first error.
func descendants(t *txn, id uint64, fn func(id uint64) error) error {
	stack := []uint64{id}
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var kids []uint64
		if err := t.children(dir, func(_ string, child uint64) error {
			kids = append(kids, child)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range kids {
			if err := fn(k); err != nil {
				return err
			}
		}
		// A file has no edges, so looking for its children costs one
		// seek; cheaper than decoding every inode to ask.
		stack = append(stack, kids...)
	}
	return nil
}

// inherit gives a new entry what passes from a directory to the entries
// made in it: the pin (as Alluxio's createPath does). Links carry no data
// and are left alone.
func (t *txn) inherit(parent, n *inode) {
	if parent.Pinned && !n.IsSymlink {
		t.setPinned(n, true)
	}
}

// linkNew adds a new entry to directory parent with what it inherits.
func (t *txn) linkNew(parent, n *inode) {
	t.inherit(parent, n)
	t.link(parent, n)
}

// setPinned pins or unpins n and keeps the index of pinned files; the
// caller stores n.
func (t *txn) setPinned(n *inode, pinned bool) {
	n.Pinned = pinned
	if !n.isFile() {
		return
	}
	b := t.tx.Bucket(bucketPinned)
	if pinned {
		t.fail(b.Put(u64(n.ID), []byte{}))
	} else {
		t.fail(b.Delete(u64(n.ID)))
	}
}

// setTTL sets n's time to live (milliseconds, 0 none) and keeps the expiry
// index; the caller stores n. An entry whose creation time is unknown
// counts from now.
func (t *txn) setTTL(n *inode, ttl, now int64) {
	t.unindexTTL(n.ID)
	if ttl <= 0 {
		n.TTL = 0
		return
	}
	if n.CreationTime == 0 {
		n.CreationTime = now
	}
	n.TTL = ttl
	k := ttlKey(n.expiry(), n.ID)
	t.fail(t.tx.Bucket(bucketTTL).Put(k, []byte{}))
	t.fail(t.tx.Bucket(bucketTTLInodes).Put(u64(n.ID), k))
}

// unindexTTL drops inode id from the expiry index.
func (t *txn) unindexTTL(id uint64) {
	ids := t.tx.Bucket(bucketTTLInodes)
	k := ids.Get(u64(id))
	if k == nil {
		return
	}
	k = bytes.Clone(k) // bbolt's memory may move once the bucket changes
	t.fail(t.tx.Bucket(bucketTTL).Delete(k))
	t.fail(ids.Delete(u64(id)))
}

// unindex drops a deleted inode from both indexes.
func (t *txn) unindex(id uint64) {
	t.fail(t.tx.Bucket(bucketPinned).Delete(u64(id)))
	t.unindexTTL(id)
}

// expiry returns when n's TTL passes, in unix nanoseconds; a TTL too long
// to represent never passes.
func (n *inode) expiry() int64 {
	const perMs = int64(time.Millisecond)
	if n.TTL >= (math.MaxInt64-max(n.CreationTime, 0))/perMs {
		return math.MaxInt64
	}
	return n.CreationTime + n.TTL*perMs
}

// ttlKey orders the expiry index by expiry, then inode id. Flipping the
// sign bit makes the byte order of the signed time its numeric order.
func ttlKey(expiry int64, id uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(expiry)^(1<<63))
	binary.BigEndian.PutUint64(k[8:], id)
	return k
}

// ttlKeyExpiry returns the expiry a ttlKey was made from.
func ttlKeyExpiry(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

// expired calls fn, in order of expiry, for entries whose TTL has passed
// at now (unix nanoseconds), at most limit of them (no bound when limit <=
// 0). It reads only the index entries that are due.
func (t *txn) expired(now int64, limit int, fn func(n *inode) error) error {
	c := t.tx.Bucket(bucketTTL).Cursor()
	count := 0
	for k, _ := c.First(); k != nil && len(k) == 16 && ttlKeyExpiry(k) <= now; k, _ = c.Next() {
		if limit > 0 && count >= limit {
			break
		}
		n, ok := t.inode(binary.BigEndian.Uint64(k[8:]))
		if !ok {
			if t.err != nil {
				return t.err
			}
			continue // cannot happen: removeTree drops the key with the inode
		}
		if err := fn(n); err != nil {
			return err
		}
		count++
	}
	return nil
}

// Expired lists entries whose TTL has passed at now (creation + TTL <=
// now), soonest expired first, at most limit of them (no bound when limit
// <= 0). It is for the master's TTL checker, which deletes (recursively)
// or frees each by its TTLAction and then calls ClearTTL for what it
// freed, or for what it could not act on (so that one failing entry does
// not come back at the head of every check). An entry below an expired
// directory may be listed too; acting on it after its directory was
// deleted fails with ENOENT.
//
// The cost is that of the entries returned: the expiry index is read in
// order and only as far as now. Only the ready leader answers.
func (m *Master) Expired(ctx context.Context, now time.Time, limit int) ([]FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return nil, err
	}
	var out []FileInfo
	err := m.fsm.view(func(t *txn) error {
		mt := t.mountTable()
		return t.expired(now.UnixNano(), limit, func(n *inode) error {
			if len(out)%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("meta: list expired entries: %w", err)
				}
			}
			if p, ok := t.pathOf(n); ok {
				out = append(out, mt.toInfo(n, p))
			}
			return t.err
		})
	})
	return out, err
}

// ListPinned lists the pinned files, in inode id order, for workers that
// must keep their cached data. The cost is that of the pinned files (an
// index holds them). Only the ready leader answers.
func (m *Master) ListPinned(ctx context.Context) ([]FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return nil, err
	}
	var out []FileInfo
	err := m.fsm.view(func(t *txn) error {
		mt := t.mountTable()
		return t.tx.Bucket(bucketPinned).ForEach(func(k, _ []byte) error {
			if len(out)%1024 == 1023 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("meta: list pinned files: %w", err)
				}
			}
			n, ok := t.inode(binary.BigEndian.Uint64(k))
			if !ok {
				return t.err
			}
			if p, ok := t.pathOf(n); ok {
				out = append(out, mt.toInfo(n, p))
			}
			return t.err
		})
	})
	return out, err
}

// setAttrBatchCmd applies the namespace attributes of a recursive SetAttr
// to one batch of a big tree's entries, by inode id. Ids gone since the
// leader listed them are skipped.
type setAttrBatchCmd struct {
	nsAttrs
	// Path is the tree's root, for error messages.
	Path string   `json:"path"`
	IDs  []uint64 `json:"ids"`
	Now  int64    `json:"now"`
}

func (*setAttrBatchCmd) commandType() commandType { return cmdSetAttrBatch }

func (c *setAttrBatchCmd) apply(t *txn) (any, error) {
	if err := c.validate("setattr", c.Path); err != nil {
		return nil, err
	}
	for _, id := range c.IDs {
		if n, ok := t.inode(id); ok {
			c.nsAttrs.apply(t, n, c.Now)
			n.Ctime = c.Now
			t.putInode(n)
		}
	}
	return nil, t.err
}

// clearTTLCmd removes the TTL of an entry that has expired by Now; a TTL
// that was set again since and has not passed yet stays.
type clearTTLCmd struct {
	ID  uint64 `json:"id"`
	Now int64  `json:"now"`
}

func (*clearTTLCmd) commandType() commandType { return cmdClearTTL }

func (c *clearTTLCmd) apply(t *txn) (any, error) {
	n, p, err := inodeByID(t, "clearttl", c.ID)
	if err != nil {
		return nil, err
	}
	if n.TTL == 0 || n.expiry() > c.Now {
		return infoOf(t, n, p)
	}
	t.setTTL(n, 0, c.Now)
	n.TTLAction = ""
	n.Ctime = c.Now
	t.putInode(n)
	return infoOf(t, n, p)
}

// ClearTTL removes the TTL (and action) of the entry with inode id once it
// has expired, as Alluxio's TTL checker does after freeing an entry: so
// that Expired does not return it again. A TTL set again since Expired
// listed the entry, and not passed yet, is kept. It is not refused in a
// read-only mount: the TTL is the namespace's own.
func (m *Master) ClearTTL(ctx context.Context, id uint64) (FileInfo, error) {
	if err := m.checkLeader(); err != nil {
		return FileInfo{}, err
	}
	if r, ok := m.replayed(ctx); ok {
		return result[FileInfo](r.value, r.err)
	}
	return result[FileInfo](m.proposeRequest(ctx, &clearTTLCmd{ID: id, Now: time.Now().UnixNano()}))
}

// setAttrTree carries out a recursive SetAttr of a tree too big for one
// command: the namespace attributes go to the root and its entries in
// batches of maxAttrBatch (parents before their entries, so that entries
// made meanwhile mostly inherit the pin), then cmd itself, which carries
// the request id, changes the root. Entries made during the batches may
// miss a TTL. Setting an attribute twice is harmless, so a retry after a
// failure part way simply does it all again.
func (m *Master) setAttrTree(ctx context.Context, cmd *setAttrCmd, ids []uint64) (FileInfo, error) {
	for len(ids) > 0 {
		n := min(len(ids), maxAttrBatch)
		if _, err := m.propose(ctx, &setAttrBatchCmd{nsAttrs: cmd.nsAttrs, Path: cmd.Path, IDs: ids[:n], Now: cmd.Now}); err != nil {
			return FileInfo{}, err
		}
		ids = ids[n:]
	}
	c := *cmd
	c.Recursive = false
	return result[FileInfo](m.proposeRequest(ctx, &c))
}

// treeIDs returns the ids of root and everything below it, root first,
// when there are more than maxAttrBatch of them; nil when one command can
// change the whole tree.
func treeIDs(t *txn, root uint64) ([]uint64, error) {
	ids := []uint64{root}
	big := false
	err := descendants(t, root, func(id uint64) error {
		ids = append(ids, id)
		if len(ids) > maxAttrBatch {
			big = true
		}
		return nil
	})
	if err != nil || !big {
		return nil, err
	}
	return ids, nil
}

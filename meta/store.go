package meta

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
)

// Bucket and key names of the metastore.
var (
	bucketInodes = []byte("inodes") // id (u64 BE) -> JSON inode
	bucketEdges  = []byte("edges")  // parent id (u64 BE) + name -> child id (u64 BE)
	bucketMounts = []byte("mounts") // mount id (u64 BE) -> JSON MountInfo
	bucketMeta   = []byte("meta")   // counters below

	keyLastApplied = []byte("lastApplied")
	keyNextInode   = []byte("nextInodeID")
	keyNextMount   = []byte("nextMountID")
)

// rootID is the inode id of "/".
const rootID uint64 = 1

// errLocked reports a metastore held by another process.
var errLocked = errors.New("locked by another process")

// store is the bbolt metastore. Every read and write goes through view or
// update with a *txn, whose methods are the whole vocabulary of the
// namespace's storage.
type store struct {
	path     string
	db       *bbolt.DB
	inodes   *inodeCache
	mounts   *mountCache
	requests *requestIndex
}

// openStore opens (creating if needed) the metastore at path. A file locked
// by another process is reported after timeout with errLocked; a damaged
// one (checkBoltFile) with errDamaged, and it is left untouched.
func openStore(path string, timeout time.Duration) (*store, error) {
	return openStoreWith(path, timeout, false)
}

// openStoreWith is openStore; noSync skips the fsync of each transaction
// (the live metastore, see lazysync.go).
func openStoreWith(path string, timeout time.Duration, noSync bool) (*store, error) {
	if err := checkBoltFile("metastore", path, timeout); err != nil {
		return nil, err
	}
	var db *bbolt.DB
	err := openBolt("metastore", path, timeout, func() (err error) {
		db, err = bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoSync: noSync})
		if err != nil {
			return err
		}
		if err := db.Update(initStore); err != nil {
			db.Close()
			return fmt.Errorf("initialise: %w", err)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("metastore %s: %w (is a master running?): %w", path, errLocked, syscall.EBUSY)
		}
		if errors.Is(err, errDamaged) {
			return nil, err
		}
		return nil, fmt.Errorf("metastore %s: open: %w", path, err)
	}
	requests, err := loadRequestIndex(db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("metastore %s: %w", path, err)
	}
	return &store{path: path, db: db, inodes: newInodeCache(), mounts: new(mountCache), requests: requests}, nil
}

// initStore creates the buckets, the counters and the root inode of a new
// metastore. The root carries no timestamps: they are set by the root
// Mount command so that every replica agrees.
func initStore(tx *bbolt.Tx) error {
	for _, b := range [][]byte{bucketInodes, bucketEdges, bucketMounts, bucketMeta, bucketRequests, bucketRequestOrder, bucketMasters, bucketPinned, bucketTTL, bucketTTLInodes, bucketUfsDeletes} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	t := &txn{tx: tx}
	if _, ok := t.inode(rootID); !ok {
		if t.err != nil {
			return t.err
		}
		t.putInode(&inode{ID: rootID, IsDir: true, Mode: defaultDirMode, Completed: true, Persisted: true})
		t.putU64(keyNextInode, rootID+1)
		t.putU64(keyNextMount, 1)
	}
	return t.err
}

// close closes the bbolt file.
func (s *store) close() error { return s.db.Close() }

// view runs fn in a read transaction.
func (s *store) view(fn func(t *txn) error) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		t := &txn{tx: tx, inodes: s.inodes, mountCache: s.mounts, requests: s.requests}
		if err := fn(t); err != nil {
			return err
		}
		return t.err
	})
}

// txn wraps a bbolt transaction. Storage failures (which mean a corrupt
// file or a broken disk, never a bad request) are recorded in err, so that
// apply functions can be written as straight-line validation followed by
// writes, and the caller checks err once.
type txn struct {
	tx     *bbolt.Tx
	err    error
	mounts mountTable // cached mount table; nil until first use
	// inodes saves decoding inodes whose bytes did not change; nil
	// decodes every time. mountCache does the same for the mount table.
	inodes     *inodeCache
	mountCache *mountCache
	// inodesB and edgesB are the buckets every path walk reads, looked
	// up once per transaction; nil until first use.
	inodesB, edgesB *bbolt.Bucket
	// requests finds recorded requests (nil: none are found);
	// reqAdded and reqDropped are what this transaction recorded and
	// dropped, for requests once it commits.
	requests   *requestIndex
	reqAdded   map[RequestID]uint64
	reqDropped []RequestID
}

// inodeBucket returns the bucket of inodes.
func (t *txn) inodeBucket() *bbolt.Bucket {
	if t.inodesB == nil {
		t.inodesB = t.tx.Bucket(bucketInodes)
	}
	return t.inodesB
}

// edgeBucket returns the bucket of directory entries.
func (t *txn) edgeBucket() *bbolt.Bucket {
	if t.edgesB == nil {
		t.edgesB = t.tx.Bucket(bucketEdges)
	}
	return t.edgesB
}

// fail records the first storage error.
func (t *txn) fail(err error) {
	if err != nil && t.err == nil {
		t.err = err
	}
}

func u64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func edgeKey(parent uint64, name string) []byte {
	k := make([]byte, 8+len(name))
	binary.BigEndian.PutUint64(k, parent)
	copy(k[8:], name)
	return k
}

func (t *txn) getU64(key []byte) uint64 {
	v := t.tx.Bucket(bucketMeta).Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (t *txn) putU64(key []byte, v uint64) {
	t.fail(t.tx.Bucket(bucketMeta).Put(key, u64(v)))
}

// lastApplied is the index of the last Raft entry applied to this store.
func (t *txn) lastApplied() uint64 { return t.getU64(keyLastApplied) }

// setLastApplied records the index of the last applied Raft entry.
func (t *txn) setLastApplied(i uint64) { t.putU64(keyLastApplied, i) }

// allocInodeID takes the next inode id from the replicated counter.
func (t *txn) allocInodeID() uint64 {
	id := t.getU64(keyNextInode)
	t.putU64(keyNextInode, id+1)
	return id
}

// allocMountID takes the next mount id from the replicated counter.
func (t *txn) allocMountID() uint64 {
	id := t.getU64(keyNextMount)
	t.putU64(keyNextMount, id+1)
	return id
}

// inode loads an inode by id.
func (t *txn) inode(id uint64) (*inode, bool) {
	v := t.inodeBucket().Get(u64(id))
	if v == nil {
		return nil, false
	}
	if n, ok := t.inodes.get(id, v); ok {
		return n, true
	}
	n := new(inode)
	if err := json.Unmarshal(v, n); err != nil {
		t.fail(fmt.Errorf("metastore: inode %d: %w: %w", id, err, syscall.EIO))
		return nil, false
	}
	if n.CreationTime == 0 {
		// Stored before creation times were kept: the best guess is
		// the last status change, or the modification. Every replica
		// derives the same value, and the first write stores it.
		n.CreationTime = n.Ctime
		if n.CreationTime == 0 {
			n.CreationTime = n.Mtime
		}
	}
	t.inodes.put(id, v, n)
	return n, true
}

// putInode stores an inode.
func (t *txn) putInode(n *inode) {
	v, err := json.Marshal(n)
	if err != nil {
		t.fail(err)
		return
	}
	if err := t.inodeBucket().Put(u64(n.ID), v); err != nil {
		t.fail(err)
		return
	}
	if n.CreationTime != 0 {
		// What inode would decode from v: a file just made is listed
		// or looked up next, without decoding it. (Were the
		// transaction rolled back, the stored bytes would differ and
		// the entry never match.)
		t.inodes.put(n.ID, v, n)
	}
}

// child returns the id of the entry name in directory parent.
func (t *txn) child(parent uint64, name string) (uint64, bool) {
	v := t.edgeBucket().Get(edgeKey(parent, name))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// children calls fn for each entry of directory parent, in name order.
func (t *txn) children(parent uint64, fn func(name string, id uint64) error) error {
	prefix := u64(parent)
	c := t.edgeBucket().Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(string(k[8:]), binary.BigEndian.Uint64(v)); err != nil {
			return err
		}
	}
	return nil
}

// hasChildren reports whether directory parent has any entry.
func (t *txn) hasChildren(parent uint64) bool {
	prefix := u64(parent)
	k, _ := t.edgeBucket().Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// link adds n to its parent directory under n.Name and stores n.
func (t *txn) link(parent *inode, n *inode) {
	n.ParentID = parent.ID
	t.putInode(n)
	t.fail(t.edgeBucket().Put(edgeKey(parent.ID, n.Name), u64(n.ID)))
	if n.IsDir {
		parent.SubDirs++
	}
	t.putInode(parent)
}

// unlinkEdge removes the entry of n from its parent without touching the
// inode record.
func (t *txn) unlinkEdge(parent *inode, n *inode) {
	t.fail(t.edgeBucket().Delete(edgeKey(parent.ID, n.Name)))
	if n.IsDir && parent.SubDirs > 0 {
		parent.SubDirs--
	}
	t.putInode(parent)
}

// removeTree unlinks n from parent and deletes n and everything below it,
// and drops them from the pin and TTL indexes.
func (t *txn) removeTree(parent *inode, n *inode) {
	t.unlinkEdge(parent, n)
	stack := []uint64{n.ID}
	inodes, edges := t.inodeBucket(), t.edgeBucket()
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var keys [][]byte
		t.fail(t.children(id, func(name string, child uint64) error {
			keys = append(keys, edgeKey(id, name))
			stack = append(stack, child)
			return nil
		}))
		for _, k := range keys {
			t.fail(edges.Delete(k))
		}
		t.fail(inodes.Delete(u64(id)))
		t.unindex(id)
	}
}

// walkResult is the outcome of resolving a path in the namespace.
type walkResult struct {
	node     *inode   // the entry at the path; nil when absent
	last     *inode   // deepest existing entry along the path (node when found)
	lastPath string   // path of last
	missing  []string // elements below last that do not exist
}

// walk resolves a clean absolute path by following edges from the root.
// It stops at the first missing element, or at a non-directory with
// elements left (then missing is non-empty and last is not a directory).
func (t *txn) walk(p string) walkResult {
	cur, ok := t.inode(rootID)
	if !ok {
		t.fail(fmt.Errorf("metastore: root inode missing: %w", syscall.EIO))
		return walkResult{}
	}
	elems := splitPath(p)
	curPath := "/"
	for i, name := range elems {
		id, ok := uint64(0), false
		if cur.IsDir {
			id, ok = t.child(cur.ID, name)
		}
		var next *inode
		if ok {
			next, ok = t.inode(id)
		}
		if !ok {
			return walkResult{last: cur, lastPath: curPath, missing: elems[i:]}
		}
		cur, curPath = next, joinPath(curPath, name)
	}
	return walkResult{node: cur, last: cur, lastPath: curPath}
}

// lookup returns the entry at p, or an ENOENT / ENOTDIR error for op.
func (t *txn) lookup(op, p string) (*inode, error) {
	w := t.walk(p)
	if t.err != nil {
		return nil, t.err
	}
	return w.entry(op, p)
}

// entry returns the entry a successful walk to p found, or an ENOENT /
// ENOTDIR error for op.
func (w walkResult) entry(op, p string) (*inode, error) {
	if w.node != nil {
		return w.node, nil
	}
	if !w.last.IsDir {
		return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOTDIR}
	}
	return nil, &fs.PathError{Op: op, Path: p, Err: syscall.ENOENT}
}

// lookupDir returns the directory at p (the parent of an entry being
// made), or ENOENT / ENOTDIR.
func (t *txn) lookupDir(op, p, culprit string) (*inode, error) {
	n, err := t.lookup(op, p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = culprit
		}
		return nil, err
	}
	if !n.IsDir {
		return nil, &fs.PathError{Op: op, Path: culprit, Err: syscall.ENOTDIR}
	}
	return n, nil
}

// pathOf rebuilds the path of an inode by walking its parents.
func (t *txn) pathOf(n *inode) (string, bool) {
	var names []string
	for n.ID != rootID {
		names = append(names, n.Name)
		p, ok := t.inode(n.ParentID)
		if !ok || len(names) > 4096 {
			return "", false
		}
		n = p
	}
	p := "/"
	for i := len(names) - 1; i >= 0; i-- {
		p = joinPath(p, names[i])
	}
	return p, true
}

// mountTable returns the mount table, read once per transaction and
// decoded only when its records changed (mountCache). The table may be
// shared with other transactions: never change it or its entries' Options.
func (t *txn) mountTable() mountTable {
	if t.mounts != nil {
		return t.mounts
	}
	b := t.tx.Bucket(bucketMounts)
	if mt, ok := t.mountCache.match(b); ok {
		t.mounts = mt
		return mt
	}
	ms := []MountInfo{}
	var records [][]byte
	err := b.ForEach(func(_, v []byte) error {
		var m MountInfo
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("metastore: mount record: %w: %w", err, syscall.EIO)
		}
		ms = append(ms, m)
		records = append(records, bytes.Clone(v))
		return nil
	})
	t.fail(err)
	t.mounts = newMountTable(ms)
	if err == nil {
		t.mountCache.put(records, t.mounts)
	}
	return t.mounts
}

// putMount stores a mount record.
func (t *txn) putMount(m MountInfo) {
	v, err := json.Marshal(m)
	if err != nil {
		t.fail(err)
		return
	}
	t.fail(t.tx.Bucket(bucketMounts).Put(u64(m.ID), v))
	t.mounts = nil
}

// deleteMount removes a mount record.
func (t *txn) deleteMount(id uint64) {
	t.fail(t.tx.Bucket(bucketMounts).Delete(u64(id)))
	t.mounts = nil
}

// inodeCount returns the number of inodes, the root included.
func (t *txn) inodeCount() int {
	return t.inodeBucket().Stats().KeyN
}

// update runs fn in a write transaction and commits it unless fn or a
// storage write failed.
func (s *store) update(fn func(t *txn) error) error {
	var t *txn
	err := s.db.Update(func(tx *bbolt.Tx) error {
		t = &txn{tx: tx, inodes: s.inodes, mountCache: s.mounts, requests: s.requests}
		if err := fn(t); err != nil {
			return err
		}
		return t.err
	})
	if err == nil {
		s.requests.commit(t.reqAdded, t.reqDropped)
	}
	return err
}

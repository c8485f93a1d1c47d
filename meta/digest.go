package meta

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"syscall"
)

// NamespaceDigest fingerprints the replicated state of one master: the
// namespace and the mount table as of the last applied journal entry.
// Masters that have applied the same entries have the same digest; the
// tests and `alluxio fsadmin journal digest` compare replicas with it.
type NamespaceDigest struct {
	// LastApplied is the index of the last journal entry applied to the
	// state the digest was taken of.
	LastApplied uint64 `json:"lastApplied"`
	// SHA256 (hex) covers every entry reachable from the root, in path
	// order, with its attributes; the mount table; the replicated id
	// counters; and the pin and TTL indexes. The index above is not part
	// of it, so the same namespace has the same SHA256 at any index.
	SHA256 string `json:"sha256"`
	// Inodes counts the entries walked, the root included.
	Inodes uint64 `json:"inodes"`
	// Mounts counts the entries of the mount table.
	Mounts int `json:"mounts"`
}

// digestCheckEvery is how many entries the walk visits between two looks
// at its context.
const digestCheckEvery = 4096

// Digest computes this master's NamespaceDigest from one metastore read
// transaction. Every master answers from its own state, leader or not: it
// is how replicas are compared. It walks the whole namespace, so it costs
// about a second per million entries.
func (m *Master) Digest(ctx context.Context) (NamespaceDigest, error) {
	var d NamespaceDigest
	err := m.fsm.view(func(t *txn) error {
		var err error
		d, err = t.digest(ctx)
		return err
	})
	if err != nil {
		return NamespaceDigest{}, fmt.Errorf("journal digest: %w", err)
	}
	return d, nil
}

// digester feeds length-prefixed fields to a SHA-256, so that no two
// different sequences of fields hash the same bytes.
type digester struct {
	h   hash.Hash
	buf []byte
}

func (d *digester) u64(v uint64) {
	d.buf = binary.BigEndian.AppendUint64(d.buf[:0], v)
	d.h.Write(d.buf)
}

func (d *digester) i64(v int64) { d.u64(uint64(v)) }

func (d *digester) bytes(b []byte) {
	d.u64(uint64(len(b)))
	d.h.Write(b)
}

func (d *digester) str(s string) {
	d.u64(uint64(len(s)))
	d.h.Write([]byte(s))
}

func (d *digester) flag(b bool) {
	if b {
		d.u64(1)
	} else {
		d.u64(0)
	}
}

// digest hashes the state seen by t.
func (t *txn) digest(ctx context.Context) (NamespaceDigest, error) {
	d := &digester{h: sha256.New()}
	out := NamespaceDigest{LastApplied: t.lastApplied()}

	root, ok := t.inode(rootID)
	if !ok {
		if t.err != nil {
			return out, t.err
		}
		return out, fmt.Errorf("metastore: root inode missing: %w", syscall.EIO)
	}
	d.str("namespace")
	if err := t.digestTree(ctx, d, root, "/", &out.Inodes); err != nil {
		return out, err
	}
	if t.err != nil {
		return out, t.err
	}
	// Entries that no path reaches would not show in the walk.
	d.str("inode records")
	d.u64(uint64(t.tx.Bucket(bucketInodes).Stats().KeyN))

	d.str("counters")
	d.u64(t.getU64(keyNextInode))
	d.u64(t.getU64(keyNextMount))

	for _, name := range [][]byte{bucketMounts, bucketPinned, bucketTTL, bucketTTLInodes} {
		d.bytes(name)
		b := t.tx.Bucket(name)
		if b == nil {
			d.u64(0)
			continue
		}
		n := 0
		err := b.ForEach(func(k, v []byte) error {
			d.bytes(k)
			d.bytes(v)
			n++
			return nil
		})
		if err != nil {
			return out, err
		}
		d.u64(uint64(n))
		if slices.Equal(name, bucketMounts) {
			out.Mounts = n
		}
	}
	out.SHA256 = hex.EncodeToString(d.h.Sum(nil))
	return out, nil
}

// digestTree hashes n at path p and then its children, depth first in
// name order (the order of the edges bucket).
func (t *txn) digestTree(ctx context.Context, d *digester, n *inode, p string, count *uint64) error {
	if *count%digestCheckEvery == 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	*count++
	digestInode(d, n, p)
	if !n.IsDir {
		return nil
	}
	return t.children(n.ID, func(name string, id uint64) error {
		child, ok := t.inode(id)
		if !ok {
			if t.err != nil {
				return t.err
			}
			return fmt.Errorf("metastore: %s: entry %q names inode %d, which is missing: %w", p, name, id, syscall.EIO)
		}
		return t.digestTree(ctx, d, child, joinPath(p, name), count)
	})
}

// digestInode hashes one entry: its path and every stored attribute.
func digestInode(d *digester, n *inode, p string) {
	d.str(p)
	d.u64(n.ID)
	switch {
	case n.IsDir:
		d.str("d")
	case n.IsSymlink:
		d.str("l")
	default:
		d.str("f")
	}
	d.u64(uint64(n.Mode))
	d.u64(uint64(n.UID))
	d.u64(uint64(n.GID))
	d.i64(n.Size)
	d.i64(n.Mtime)
	d.i64(n.Atime)
	d.i64(n.Ctime)
	d.i64(n.CreationTime)
	d.str(n.Symlink)
	d.flag(n.Completed)
	d.flag(n.Persisted)
	d.str(n.Fingerprint)
	d.str(n.UfsFingerprint)
	d.flag(n.Loaded)
	d.u64(uint64(n.SubDirs))
	d.flag(n.Pinned)
	d.i64(n.TTL)
	d.str(n.TTLAction)
	d.str(n.Location)
	keys := make([]string, 0, len(n.Xattrs))
	for k := range n.Xattrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	d.u64(uint64(len(keys)))
	for _, k := range keys {
		d.str(k)
		d.bytes(n.Xattrs[k])
	}
}

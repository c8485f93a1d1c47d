package meta

import (
	"sync"
	"time"
)

// inodeCountTTL is how long a counted number of inodes is reused: counting
// walks the inode table's pages.
const inodeCountTTL = 10 * time.Second

// inodeCounter caches the number of inodes.
type inodeCounter struct {
	mu    sync.Mutex // guards n and at
	n     uint64
	at    time.Time
	valid bool
}

// Inodes returns the number of entries in the namespace (files,
// directories and symbolic links, the root included), counted at most
// inodeCountTTL ago.
func (m *Master) Inodes() uint64 {
	c := &m.inodes
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.valid && time.Since(c.at) < inodeCountTTL {
		return c.n
	}
	var n int
	if err := m.fsm.view(func(t *txn) error {
		n = t.tx.Bucket(bucketInodes).Stats().KeyN
		return nil
	}); err != nil {
		return c.n
	}
	c.n, c.at, c.valid = uint64(n), time.Now(), true
	return c.n
}

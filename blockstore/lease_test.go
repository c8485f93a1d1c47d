package blockstore

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

// leaseRange takes a lease of [off, off+n) of src's file and fails the test
// when the store answers through the buffer instead.
func mustLease(t *testing.T, s *Store, key FileKey, src *memSource, off, n int64) *Lease {
	t.Helper()
	l, got, err := s.ReadLease(context.Background(), key, int64(len(src.data)), src.open, nil, off, n, ReadCache)
	if err != nil && err != io.EOF {
		t.Fatalf("ReadLease(%d, %d): %v", off, n, err)
	}
	if l == nil {
		t.Fatalf("ReadLease(%d, %d): no lease", off, n)
	}
	if want := min(n, int64(len(src.data))-off); int64(got) != want {
		t.Fatalf("ReadLease(%d, %d) leased %d bytes, want %d", off, n, got, want)
	}
	return l
}

// checkThrough reads [off, off+n) from a descriptor of the lease's backing
// file and compares it with the source.
func checkThrough(t *testing.T, fd *os.File, src *memSource, off, n int64) {
	t.Helper()
	p := make([]byte, n)
	if _, err := fd.ReadAt(p, off); err != nil {
		t.Fatalf("pread backing file at %d: %v", off, err)
	}
	if !bytes.Equal(p, src.data[off:off+n]) {
		t.Fatalf("backing file at %d: bytes differ from the source", off)
	}
}

func openLease(t *testing.T, l *Lease) *os.File {
	t.Helper()
	fd, err := l.Open()
	if err != nil {
		t.Fatalf("Lease.Open: %v", err)
	}
	t.Cleanup(func() { fd.Close() })
	id, err := backingID(fd)
	if err != nil || id != l.Backing() {
		t.Fatalf("descriptor identity %v (%v), lease names %v", id, err, l.Backing())
	}
	return fd
}

func TestLeasePinsAgainstEviction(t *testing.T) {
	s := openStore(t, testConfig(t, 4))
	a := newMemSource(randomBytes(1, 4*testPage))
	b := newMemSource(randomBytes(2, 8*testPage))
	ka, kb := FileKey{ID: 1, Fingerprint: "a"}, FileKey{ID: 2, Fingerprint: "b"}

	l := mustLease(t, s, ka, a, testPage/2, testPage+10) // pages 0 and 1
	fd := openLease(t, l)
	// Eight pages of another file go through a four-page tier.
	for idx := int64(0); idx < 8; idx++ {
		readPage(t, s, kb, b, idx)
	}
	for idx := int64(0); idx < 2; idx++ {
		if !isPresent(s, ka, idx) {
			t.Fatalf("leased page %d was evicted", idx)
		}
	}
	checkThrough(t, fd, a, 0, 2*testPage)

	l.Release()
	l.Release() // idempotent
	for idx := int64(0); idx < 8; idx++ {
		readPage(t, s, kb, b, idx)
	}
	if isPresent(s, ka, 0) || isPresent(s, ka, 1) {
		t.Fatal("released pages were never evicted")
	}
	checkAccounting(t, s)
}

func TestLeaseSurvivesRemoveAndNewVersion(t *testing.T) {
	s := openStore(t, testConfig(t, 8))
	old := newMemSource(randomBytes(3, 3*testPage))
	key := FileKey{ID: 7, Fingerprint: "v1"}
	l := mustLease(t, s, key, old, 0, 3*testPage)
	fd := openLease(t, l)

	// The file is rewritten: the same key is created again by a writer
	// with other bytes, and a new version is cached beside it.
	s.Remove(key)
	w, err := s.Create(key, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte{0xEE}, 3*testPage)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	nv := newMemSource(randomBytes(4, 3*testPage))
	readAll(t, s, FileKey{ID: 7, Fingerprint: "v2"}, nv, testPage, ReadCache)

	checkThrough(t, fd, old, 0, 3*testPage)
	l.Release()
	checkThrough(t, fd, old, 0, 3*testPage)

	// A lease of the new version names another backing file.
	l2 := mustLease(t, s, FileKey{ID: 7, Fingerprint: "v2"}, nv, 0, testPage)
	defer l2.Release()
	if l2.Backing() == l.Backing() {
		t.Fatal("two versions share a backing identity")
	}
	checkThrough(t, openLease(t, l2), nv, 0, testPage)
}

func TestLeaseFetchesMissesAndPrefetches(t *testing.T) {
	cfg := testConfig(t, 32)
	cfg.PrefetchPages = 4
	s := openStore(t, cfg)
	src := newMemSource(randomBytes(5, 16*testPage+100))
	key := FileKey{ID: 9, Fingerprint: "seq"}
	var held []*Lease
	defer func() {
		for _, l := range held {
			l.Release()
		}
	}()
	var fd *os.File
	for off := int64(0); off < int64(len(src.data)); off += 2 * testPage {
		l := mustLease(t, s, key, src, off, 2*testPage)
		held = append(held, l)
		if fd == nil {
			fd = openLease(t, l)
		}
		checkThrough(t, fd, src, off, min(2*testPage, int64(len(src.data))-off))
	}
	// A sequential reader's misses come in runs, not page by page.
	if calls := src.totalCalls(); calls >= 17 {
		t.Fatalf("%d source calls for 17 pages read sequentially", calls)
	}
}

func TestLeaseFallsBackToBuffer(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		// prep runs before the read that must fall back.
		prep func(t *testing.T, s *Store, key FileKey, src *memSource) func()
		rt   ReadType
	}{
		{
			name: "no cache, page missing",
			rt:   ReadNoCache,
		},
		{
			name: "no room: the tier is leased whole",
			cfg:  func(c *Config) { c.Tiers[0].Quotas[0] = 2 * testPage },
			prep: func(t *testing.T, s *Store, key FileKey, src *memSource) func() {
				other := newMemSource(randomBytes(6, 2*testPage))
				l := mustLease(t, s, FileKey{ID: 99, Fingerprint: "x"}, other, 0, 2*testPage)
				return l.Release
			},
			rt: ReadCache,
		},
		{
			name: "tier verifies reads",
			cfg:  func(c *Config) { c.VerifyReads = VerifyAlways },
			rt:   ReadCache,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 8)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s := openStore(t, cfg)
			src := newMemSource(randomBytes(8, 2*testPage))
			key := FileKey{ID: 3, Fingerprint: "f"}
			if tt.prep != nil {
				defer tt.prep(t, s, key, src)()
			}
			p := make([]byte, testPage+5)
			l, n, err := s.ReadLease(context.Background(), key, int64(len(src.data)), src.open, p, 10, 2*testPage, tt.rt)
			if l != nil {
				l.Release()
				t.Fatal("leased a range that cannot be leased")
			}
			if err != nil || n != len(p) {
				t.Fatalf("ReadLease through the buffer: %d bytes, %v; want %d", n, err, len(p))
			}
			if !bytes.Equal(p, src.data[10:10+len(p)]) {
				t.Fatal("bytes through the buffer differ from the source")
			}
		})
	}
}

// On a tier that verifies reads, the read through the buffer verifies the
// pages; the next lease of them succeeds.
func TestLeaseAfterVerification(t *testing.T) {
	cfg := testConfig(t, 8)
	cfg.VerifyReads = VerifyAlways
	s := openStore(t, cfg)
	src := newMemSource(randomBytes(10, 2*testPage))
	key := FileKey{ID: 4, Fingerprint: "v"}
	readAll(t, s, key, src, testPage, ReadCache) // cached, not verified
	p := make([]byte, 2*testPage)
	if l, _, err := s.ReadLease(context.Background(), key, int64(len(src.data)), src.open, p, 0, 2*testPage, ReadCache); l != nil || err != nil {
		t.Fatalf("first lease of unverified pages: lease %v, err %v; want a read through the buffer", l != nil, err)
	}
	l := mustLease(t, s, key, src, 0, 2*testPage)
	defer l.Release()
	checkThrough(t, openLease(t, l), src, 0, 2*testPage)
}

// Pages fetched ahead whose cached copy went (a free) are cached again
// from the bytes kept for their reader, not fetched again, and leased.
func TestLeaseRefillsFromPagesFetchedAhead(t *testing.T) {
	cfg := testConfig(t, 32)
	cfg.PrefetchPages = 4
	s := openStore(t, cfg)
	src := newMemSource(randomBytes(11, 12*testPage))
	key := FileKey{ID: 5, Fingerprint: "ahead"}
	l := mustLease(t, s, key, src, 0, 2*testPage)
	l.Release()
	l = mustLease(t, s, key, src, 2*testPage, testPage) // sequential: pages ahead are fetched
	l.Release()
	// Fetched ahead in two runs that may finish in either order: wait
	// for both, each page cached and its fetch finished (its bytes kept).
	waitFor(t, "pages fetched ahead", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		f := s.files[key]
		for idx := int64(3); idx <= 6; idx++ {
			if f == nil || !f.has(idx) || s.inflight[pageKey{key: key, idx: idx, n: testPage}] != nil {
				return false
			}
		}
		return true
	})
	calls := src.totalCalls()
	s.Remove(key)

	l = mustLease(t, s, key, src, 3*testPage, 2*testPage)
	defer l.Release()
	if got := src.totalCalls(); got != calls {
		t.Fatalf("%d source calls after the free, want none (the pages were kept)", got-calls)
	}
	checkThrough(t, openLease(t, l), src, 3*testPage, 2*testPage)
}

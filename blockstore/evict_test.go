package blockstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// readPage reads page idx of src's file through s and checks the bytes.
func readPage(t *testing.T, s *Store, key FileKey, src *memSource, idx int64) {
	t.Helper()
	size := int64(len(src.data))
	off := idx * testPage
	p := make([]byte, min(testPage, size-off))
	if _, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache); err != nil && err != io.EOF {
		t.Fatalf("read file %d page %d: %v", key.ID, idx, err)
	}
	if !bytes.Equal(p, src.data[off:off+int64(len(p))]) {
		t.Fatalf("read file %d page %d: bytes differ", key.ID, idx)
	}
}

func TestEvictionLRUWatermarks(t *testing.T) {
	cfg := testConfig(t, 10)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 0.8, 0.5 // evict past 8 pages, down to 5
	s := openStore(t, cfg)
	src := newMemSource(randomBytes(21, 10*testPage))
	key := FileKey{ID: 1, Fingerprint: "lru"}

	for idx := int64(0); idx < 8; idx++ {
		readPage(t, s, key, src, idx)
	}
	if st := s.Stats(); st.Evictions != 0 || st.Used != 8*testPage {
		t.Fatalf("at the high watermark: evictions %d used %d, want 0 and %d", st.Evictions, st.Used, 8*testPage)
	}
	readPage(t, s, key, src, 0) // page 0 becomes the most recently used
	readPage(t, s, key, src, 8) // 9 pages > high: evict down to 5, then add

	st := s.Stats()
	if st.Evictions != 3 || st.Used != 6*testPage || st.Pages != 6 {
		t.Fatalf("after eviction: evictions %d used %d pages %d, want 3, %d, 6", st.Evictions, st.Used, st.Pages, 6*testPage)
	}
	for idx, want := range []bool{true, false, false, false, true, true, true, true, true, false} {
		if got := isPresent(s, key, int64(idx)); got != want {
			t.Errorf("page %d present = %t, want %t", idx, got, want)
		}
	}
	checkAccounting(t, s)
}

func TestPunchHoleFreesSpace(t *testing.T) {
	cfg := testConfig(t, 8)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 1, 0.5
	s := openStore(t, cfg)
	x := newMemSource(randomBytes(31, 6*testPage))
	keyX := FileKey{ID: 1, Fingerprint: "x"}
	readAll(t, s, keyX, x, testPage, ReadCache)

	s.indexMu.Lock()
	path := s.files[keyX].path
	s.indexMu.Unlock()
	before := statBlocks(t, path)
	if before < 6*testPage {
		t.Fatalf("backing file holds %d bytes of blocks, want at least %d", before, 6*testPage)
	}

	// Three pages of another file pass the quota: X's four oldest pages go.
	y := newMemSource(randomBytes(32, 3*testPage))
	readAll(t, s, FileKey{ID: 2, Fingerprint: "y"}, y, testPage, ReadCache)
	if pages, _ := s.Cached(keyX, 6*testPage); pages != 2 {
		t.Fatalf("X has %d pages cached, want 2", pages)
	}
	after := statBlocks(t, path)
	if after > before-4*testPage {
		t.Errorf("blocks after evicting 4 pages: %d bytes, before %d: holes not punched", after, before)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 6*testPage {
		t.Errorf("backing file size after punching: %v; want %d kept", err, 6*testPage)
	}
	if got := readAll(t, s, keyX, x, testPage, ReadCache); !bytes.Equal(got, x.data) {
		t.Error("bytes differ after refilling punched pages")
	}
}

// statBlocks returns the bytes of blocks allocated to path.
func statBlocks(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func TestPinnedFilesSurvive(t *testing.T) {
	cfg := testConfig(t, 4)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 0.75, 0.5
	s := openStore(t, cfg)
	dir := cfg.Tiers[0].Dirs[0]

	// A MUST_CACHE file fills the whole tier.
	pinnedData := randomBytes(41, 4*testPage)
	keyA := FileKey{ID: 1, Fingerprint: "a"}
	w, err := s.Create(keyA, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pinnedData); err != nil {
		t.Fatalf("write pinned file filling the tier: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Reads of another file still succeed, from the source, uncached.
	b := newMemSource(randomBytes(42, 2*testPage+7))
	keyB := FileKey{ID: 2, Fingerprint: "b"}
	for range 2 {
		if got := readAll(t, s, keyB, b, len(b.data)+1, ReadCache); !bytes.Equal(got, b.data) {
			t.Fatal("read through a full tier: bytes differ")
		}
	}
	if pages, _ := s.Cached(keyB, int64(len(b.data))); pages != 0 {
		t.Errorf("%d pages of B cached in a tier full of pinned pages", pages)
	}
	if got, want := s.Stats().BytesReadSource, 2*int64(len(b.data)); got != want {
		t.Errorf("BytesReadSource = %d, want %d (both reads from the source)", got, want)
	}
	if pages, total := s.Cached(keyA, int64(len(pinnedData))); pages != total {
		t.Fatalf("pinned file lost pages: %d of %d", pages, total)
	}

	// Another unevictable write finds no room: ENOSPC naming dir and quota.
	wc, err := s.Create(FileKey{ID: 3, Fingerprint: "c"}, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = wc.Write([]byte("x"))
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write to a pinned file in a full tier: %v, want ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, strconv.Itoa(4*testPage)) {
		t.Errorf("ENOSPC error %q does not name the tier dir and quota", msg)
	}
	if err := wc.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close after a failed write: %v, want the ENOSPC", err)
	}

	// An evictable write (CACHE_THROUGH) just stops caching.
	keyD := FileKey{ID: 4, Fingerprint: "d"}
	wd, err := s.Create(keyD, false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := wd.Write(make([]byte, 2*testPage)); n != 2*testPage || err != nil {
		t.Fatalf("unpinned write in a full tier = %d, %v; want all accepted", n, err)
	}
	if err := wd.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Files != 1 || st.Used != 4*testPage {
		t.Errorf("after refused writes: files %d used %d, want 1 and %d", st.Files, st.Used, 4*testPage)
		for k := range s.files {
			t.Logf("file %+v", k)
		}
	}

	// Once persisted and unpinned, A's pages give way.
	s.Unpin(keyA)
	readAll(t, s, keyB, b, testPage, ReadCache)
	if pages, total := s.Cached(keyB, int64(len(b.data))); pages != total {
		t.Errorf("after Unpin, B cached %d of %d pages", pages, total)
	}
	if pages, _ := s.Cached(keyA, int64(len(pinnedData))); pages == 4 {
		t.Error("after Unpin, no page of A was evicted")
	}
	checkAccounting(t, s)
}

func TestOpenWhole(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(51, 3*testPage+testPage/2))
	key := FileKey{ID: 8, Fingerprint: "w"}
	size := int64(len(src.data))

	if _, _, ok := s.OpenWhole(key, size); ok {
		t.Fatal("OpenWhole of an uncached file succeeded")
	}
	readPage(t, s, key, src, 0)
	readPage(t, s, key, src, 2)
	if _, _, ok := s.OpenWhole(key, size); ok {
		t.Fatal("OpenWhole with pages missing succeeded")
	}
	readPage(t, s, key, src, 1)
	readPage(t, s, key, src, 3)
	if _, _, ok := s.OpenWhole(key, size+1); ok {
		t.Fatal("OpenWhole with another length succeeded")
	}
	f, release, ok := s.OpenWhole(key, size)
	if !ok {
		t.Fatal("OpenWhole of a fully cached file failed")
	}
	defer f.Close()
	defer release()
	got, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src.data) {
		t.Fatalf("backing file bytes differ from the file (%d vs %d bytes)", len(got), len(src.data))
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("OpenWhole descriptor is writable")
	}
}

func TestOpenWholePinsWhileHeld(t *testing.T) {
	cfg := testConfig(t, 4)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 1, 0.5
	s := openStore(t, cfg)
	x := newMemSource(randomBytes(61, 2*testPage))
	keyX := FileKey{ID: 1, Fingerprint: "x"}
	y := newMemSource(randomBytes(62, 4*testPage))
	keyY := FileKey{ID: 2, Fingerprint: "y"}
	readAll(t, s, keyX, x, testPage, ReadCache)

	f, release, ok := s.OpenWhole(keyX, 2*testPage)
	if !ok {
		t.Fatal("OpenWhole failed")
	}
	defer f.Close()
	for range 2 {
		if got := readAll(t, s, keyY, y, testPage, ReadCache); !bytes.Equal(got, y.data) {
			t.Fatal("bytes differ")
		}
	}
	if s.Stats().Evictions == 0 {
		t.Fatal("test setup: no eviction happened")
	}
	if pages, _ := s.Cached(keyX, 2*testPage); pages != 2 {
		t.Fatalf("leased file lost pages: %d of 2 left", pages)
	}

	release()
	release() // idempotent
	for range 2 {
		readAll(t, s, keyY, y, testPage, ReadCache)
	}
	if pages, _ := s.Cached(keyX, 2*testPage); pages == 2 {
		t.Error("released file never evicted")
	}
	checkAccounting(t, s)
}

// TestFreeKeepsOnlyCopies: a free of an inode (alluxio fs free) drops its
// versions that exist elsewhere, and keeps the one being written and the
// one pinned as the only copy of its bytes.
func TestFreeKeepsOnlyCopies(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	data := randomBytes(43, 2*testPage+9)
	// A version read from its source: cached, and in the source too.
	src := newMemSource(data)
	cached := FileKey{ID: 7, Fingerprint: "read"}
	readAll(t, s, cached, src, len(data)+1, ReadCache)
	// The only copy of a version (MUST_CACHE), complete.
	only := FileKey{ID: 7, Fingerprint: "only"}
	w, err := s.Create(only, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A version being written when the free comes.
	writing := FileKey{ID: 7, Fingerprint: "writing"}
	ww, err := s.Create(writing, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ww.Write(data[:testPage+1]); err != nil {
		t.Fatal(err)
	}
	if kept := s.FreeID(7); kept != 2 {
		t.Errorf("FreeID kept %d versions, want 2 (the only copy and the one being written)", kept)
	}
	if _, err := ww.Write(data[testPage+1:]); err != nil {
		t.Fatal(err)
	}
	if err := ww.Close(); err != nil {
		t.Fatal(err)
	}
	if pages, _ := s.Cached(cached, int64(len(data))); pages != 0 {
		t.Errorf("the version also in its source kept %d pages after the free", pages)
	}
	for _, key := range []FileKey{only, writing} {
		if pages, total := s.Cached(key, int64(len(data))); pages != total {
			t.Errorf("version %s: %d of %d pages after the free", key.Fingerprint, pages, total)
		}
	}
}

// TestPinnedWriterLogFails: a pinned writer (the only copy of its bytes)
// whose pages cannot be recorded in the page log fails, rather than
// report the bytes kept: a restart would drop the pages the log misses.
func TestPinnedWriterLogFails(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	data := randomBytes(44, 2*testPage+9)
	w, err := s.Create(FileKey{ID: 8, Fingerprint: "p"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// The log gone from under the writer: its appends fail (ENOENT).
	if err := os.Remove(w.f.log.path); err != nil {
		t.Fatal(err)
	}
	_, werr := w.Write(data)
	cerr := w.Close()
	if werr == nil && cerr == nil {
		t.Fatal("a pinned writer whose page log could not be written reported its bytes kept")
	}
	t.Logf("write: %v; close: %v", werr, cerr)
	// An unpinned writer's bytes are elsewhere too: it carries on.
	u, err := s.Create(FileKey{ID: 9, Fingerprint: "u"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(u.f.log.path); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data); err != nil {
		t.Errorf("unpinned write with its log gone: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("unpinned close with its log gone: %v", err)
	}
}

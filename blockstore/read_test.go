package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestReadMissThenHit(t *testing.T) {
	tests := []struct {
		name string
		size int64
	}{
		{"empty", 0},
		{"one byte", 1},
		{"page minus one", testPage - 1},
		{"one page", testPage},
		{"page plus one", testPage + 1},
		{"five and a half pages", 5*testPage + testPage/2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testConfig(t, 16))
			src := newMemSource(randomBytes(uint64(i), tt.size))
			key := FileKey{ID: uint64(100 + i), Fingerprint: "v1"}

			got := readAll(t, s, key, src, 7001, ReadCache)
			if !bytes.Equal(got, src.data) {
				t.Fatalf("first read: bytes differ (got %d bytes, want %d)", len(got), len(src.data))
			}
			st := s.Stats()
			// Each page came from the source once; later chunks of a page
			// already fetched are hits.
			if st.BytesReadSource != tt.size {
				t.Fatalf("after miss: BytesReadSource %d, want %d", st.BytesReadSource, tt.size)
			}
			if st.Used != tt.size {
				t.Errorf("after miss: Used = %d, want %d", st.Used, tt.size)
			}
			pages, total := s.Cached(key, tt.size)
			if pages != total || int64(total) != numPages(tt.size, testPage) {
				t.Errorf("Cached = %d/%d, want all of %d", pages, total, numPages(tt.size, testPage))
			}

			got = readAll(t, s, key, src, 5000, ReadCache)
			if !bytes.Equal(got, src.data) {
				t.Fatal("second read: bytes differ")
			}
			st2 := s.Stats()
			if st2.BytesReadSource != st.BytesReadSource {
				t.Errorf("second read went to the source: %d -> %d", st.BytesReadSource, st2.BytesReadSource)
			}
			if got := st2.BytesReadCache - st.BytesReadCache; got != tt.size {
				t.Errorf("BytesReadCache grew by %d, want %d", got, tt.size)
			}
		})
	}
}

func TestReadAtEdges(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(7, 3*testPage+10))
	size := int64(len(src.data))
	key := FileKey{ID: 1, Fingerprint: "f"}
	ctx := context.Background()
	tests := []struct {
		name    string
		off     int64
		n       int
		wantN   int
		wantErr error
	}{
		{"past end", size + 5, 10, 0, io.EOF},
		{"at end", size, 10, 0, io.EOF},
		{"tail short", size - 4, 10, 4, io.EOF},
		{"exact tail", size - 4, 4, 4, nil},
		{"across pages", testPage - 3, 2*testPage + 6, 2*testPage + 6, nil},
		{"empty buffer", 5, 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := make([]byte, tt.n)
			n, err := s.ReadAt(ctx, key, size, src.open, p, tt.off, ReadCache)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) && err != tt.wantErr {
				t.Fatalf("ReadAt = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
			if n > 0 && !bytes.Equal(p[:n], src.data[tt.off:tt.off+int64(n)]) {
				t.Fatal("bytes differ")
			}
		})
	}
	if _, err := s.ReadAt(ctx, key, size, src.open, make([]byte, 1), -1, ReadCache); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("negative offset: err = %v, want EINVAL", err)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	tests := []struct {
		name     string
		off, len int64
		pages    []int64
	}{
		{"one page", testPage + 100, 1000, []int64{1}},
		{"two pages", testPage - 100, 1000, []int64{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testConfig(t, 16))
			src := newMemSource(randomBytes(3, 4*testPage))
			src.gate = make(chan struct{})
			size := int64(len(src.data))
			key := FileKey{ID: 9, Fingerprint: "x"}

			const readers = 32
			var wg sync.WaitGroup
			errs := make(chan error, readers)
			for range readers {
				wg.Go(func() {
					p := make([]byte, tt.len)
					if _, err := s.ReadAt(context.Background(), key, size, src.open, p, tt.off, ReadCache); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(p, src.data[tt.off:tt.off+tt.len]) {
						errs <- errors.New("bytes differ")
					}
				})
			}
			// Release the source only once every reader waits on the fetch.
			waitFor(t, "all readers to join", func() bool {
				s.indexMu.Lock()
				defer s.indexMu.Unlock()
				for _, idx := range tt.pages {
					fe := s.inflight[pageKey{key: key, idx: idx, n: testPage}]
					if fe == nil || fe.waiters != readers {
						return false
					}
				}
				return true
			})
			close(src.gate)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, idx := range tt.pages {
				if c := src.callsAt(idx * testPage); c != 1 {
					t.Errorf("page %d fetched %d times, want 1", idx, c)
				}
			}
			if c := src.totalCalls(); c != len(tt.pages) {
				t.Errorf("source called %d times, want %d", c, len(tt.pages))
			}
		})
	}
}

func TestReadNoCache(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(11, 3*testPage+1))
	key := FileKey{ID: 5, Fingerprint: "nc"}
	size := int64(len(src.data))

	if got := readAll(t, s, key, src, testPage, ReadNoCache); !bytes.Equal(got, src.data) {
		t.Fatal("NO_CACHE read: bytes differ")
	}
	if pages, _ := s.Cached(key, size); pages != 0 {
		t.Fatalf("NO_CACHE read cached %d pages", pages)
	}
	if st := s.Stats(); st.Pages != 0 || st.Used != 0 || st.Files != 0 {
		t.Fatalf("NO_CACHE read left pages=%d used=%d files=%d", st.Pages, st.Used, st.Files)
	}
	// A NO_CACHE read of pages a CACHE read brought in is served from them.
	readAll(t, s, key, src, testPage, ReadCache)
	before := s.Stats()
	if got := readAll(t, s, key, src, testPage, ReadNoCache); !bytes.Equal(got, src.data) {
		t.Fatal("NO_CACHE hit: bytes differ")
	}
	after := s.Stats()
	if after.BytesReadSource != before.BytesReadSource || after.BytesReadCache != before.BytesReadCache+size {
		t.Errorf("NO_CACHE hit: source %d->%d cache %d->%d", before.BytesReadSource, after.BytesReadSource,
			before.BytesReadCache, after.BytesReadCache)
	}
}

func TestSourceFailures(t *testing.T) {
	boom := errors.New("under-store exploded")
	tests := []struct {
		name    string
		setup   func(m *memSource)
		wantErr error
	}{
		{"source error", func(m *memSource) { m.err = boom }, boom},
		{"short source", func(m *memSource) { m.cut = 10 }, io.ErrUnexpectedEOF},
		{"empty source", func(m *memSource) { m.cut = testPage }, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testConfig(t, 16))
			src := newMemSource(randomBytes(1, 2*testPage))
			tt.setup(src)
			key := FileKey{ID: 424242, Fingerprint: "e"}
			size := int64(len(src.data))
			_, err := s.ReadAt(context.Background(), key, size, src.open, make([]byte, 100), testPage, ReadCache)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "424242") {
				t.Errorf("error %q does not name file id 424242", err)
			}
			if pages, _ := s.Cached(key, size); pages != 0 {
				t.Errorf("failed fetch cached %d pages", pages)
			}
			if st := s.Stats(); st.Used != 0 || st.BytesReadSource != 0 {
				t.Errorf("failed fetch: used=%d bytesReadSource=%d", st.Used, st.BytesReadSource)
			}
		})
	}
}

func TestReaderCancelStopsFetch(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(2, testPage))
	src.gate = make(chan struct{})
	defer close(src.gate)
	key := FileKey{ID: 77, Fingerprint: "c"}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.ReadAt(ctx, key, testPage, src.open, make([]byte, 10), 0, ReadCache)
		done <- err
	}()
	waitFor(t, "the fetch to start", func() bool { return src.totalCalls() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAt after cancel: %v, want context.Canceled", err)
	}
	src.mu.Lock()
	fetchCtx := src.ctxs[0]
	src.mu.Unlock()
	select {
	case <-fetchCtx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("source context not cancelled after its only reader left")
	}
	// A new reader starts a fresh fetch rather than joining the cancelled one.
	go func() { time.Sleep(10 * time.Millisecond); src.gate <- struct{}{} }()
	p := make([]byte, 10)
	if _, err := s.ReadAt(context.Background(), key, testPage, src.open, p, 0, ReadCache); err != nil {
		t.Fatalf("ReadAt after a cancelled fetch: %v", err)
	}
	if !bytes.Equal(p, src.data[:10]) {
		t.Fatal("bytes differ")
	}
}

func TestPrefetchSequential(t *testing.T) {
	cfg := testConfig(t, 64)
	cfg.PrefetchPages = 3
	s := openStore(t, cfg)
	src := newMemSource(randomBytes(4, 10*testPage))
	key := FileKey{ID: 3, Fingerprint: "p"}
	size := int64(len(src.data))
	ctx := context.Background()
	p := make([]byte, testPage)

	if _, err := s.ReadAt(ctx, key, size, src.open, p, 0, ReadCache); err != nil {
		t.Fatal(err)
	}
	// A first read is not known to be sequential: nothing ahead is fetched.
	time.Sleep(20 * time.Millisecond)
	if c := src.totalCalls(); c != 1 {
		t.Fatalf("after the first read, %d source calls, want 1", c)
	}
	if _, err := s.ReadAt(ctx, key, size, src.open, p, testPage, ReadCache); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pages 2..4 to be prefetched", func() bool {
		return isPresent(s, key, 2) && isPresent(s, key, 3) && isPresent(s, key, 4)
	})
	if isPresent(s, key, 5) {
		t.Error("page 5 prefetched, beyond the 3-page window")
	}
	// A random read elsewhere does not prefetch.
	if _, err := s.ReadAt(ctx, key, size, src.open, p, 8*testPage, ReadCache); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if isPresent(s, key, 9) {
		t.Error("a non-sequential read prefetched")
	}
	for idx := int64(0); idx < 10; idx++ {
		if c := src.callsAt(idx * testPage); c > 1 {
			t.Errorf("page %d fetched %d times", idx, c)
		}
	}
	// Prefetched pages serve the next sequential read from the cache.
	before := s.Stats().BytesReadCache
	if _, err := s.ReadAt(ctx, key, size, src.open, p, 2*testPage, ReadCache); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, src.data[2*testPage:3*testPage]) {
		t.Fatal("bytes differ")
	}
	if got := s.Stats().BytesReadCache - before; got != testPage {
		t.Errorf("prefetched page served %d bytes from cache, want %d", got, testPage)
	}
}

func TestConcurrentReadersWithEviction(t *testing.T) {
	// A small tier and several files read at random by many goroutines keep
	// eviction, filling and hole punching racing; every byte must be right.
	cfg := testConfig(t, 8)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 0.9, 0.5
	cfg.PrefetchPages = 2
	s := openStore(t, cfg)
	const files = 4
	srcs := make([]*memSource, files)
	for i := range srcs {
		srcs[i] = newMemSource(randomBytes(uint64(50+i), int64(6*testPage+i*1000)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	// Meanwhile versions are dropped and whole files leased.
	churn.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := uint64(i % files)
			switch i % 3 {
			case 0:
				s.Remove(FileKey{ID: id, Fingerprint: "v"})
			case 1:
				s.RemoveID(id)
			case 2:
				size := int64(len(srcs[id].data))
				if f, release, ok := s.OpenWhole(FileKey{ID: id, Fingerprint: "v"}, size); ok {
					got, err := io.ReadAll(f)
					if err != nil || !bytes.Equal(got, srcs[id].data) {
						errs <- fmt.Errorf("OpenWhole of file %d: bytes differ (%v)", id, err)
					}
					f.Close()
					release()
				}
			}
			time.Sleep(time.Millisecond)
		}
	})
	for g := range 16 {
		wg.Go(func() {
			r := randomBytes(uint64(g), 400)
			for i := 0; i+3 < len(r); i += 4 {
				src := srcs[int(r[i])%files]
				key := FileKey{ID: uint64(int(r[i]) % files), Fingerprint: "v"}
				size := int64(len(src.data))
				off := int64(r[i+1]) * size / 256
				n := 1 + int64(r[i+2])*int64(r[i+3])
				p := make([]byte, n)
				rt := ReadCache
				if r[i]%7 == 0 {
					rt = ReadNoCache
				}
				got, err := s.ReadAt(context.Background(), key, size, src.open, p, off, rt)
				if err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(p[:got], src.data[off:off+int64(got)]) {
					errs <- fmt.Errorf("file %d at %d: bytes differ", key.ID, off)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	st := s.Stats()
	if st.Used > st.Capacity {
		t.Errorf("Used %d exceeds capacity %d", st.Used, st.Capacity)
	}
	if st.Evictions == 0 {
		t.Error("expected evictions in a tier smaller than the data")
	}
	checkAccounting(t, s)
}

// checkAccounting recomputes usage from the index and compares it with the
// counters.
func checkAccounting(t *testing.T, s *Store) {
	t.Helper()
	waitFor(t, "background fetches and moves to finish", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		for _, d := range s.dirs {
			if d.reserved != 0 || d.needRoom {
				return false
			}
		}
		return len(s.inflight) == 0 && len(s.promoteQ) == 0
	})
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	var used int64
	pages := 0
	for _, f := range s.files {
		n := 0
		f.eachPresent(func(idx int64) {
			used += pageLen(f.size, s.pageSize, idx)
			n++
		})
		if n != f.npresent {
			t.Errorf("file %d: npresent %d, bitmap has %d", f.key.ID, f.npresent, n)
		}
		f.eachPresent(func(idx int64) {
			pn := f.node(idx)
			if pn == nil || pn.inEv != f.evictable() {
				t.Errorf("file %d page %d: eviction entry %v, evictable %t", f.key.ID, idx, pn, f.evictable())
			}
		})
		pages += n
	}
	var dirUsed, reserved int64
	for _, d := range s.dirs {
		dirUsed += d.used
		reserved += d.reserved
	}
	if used != dirUsed || pages != s.pages || reserved != 0 {
		t.Errorf("accounting: bitmap used %d pages %d; counters used %d pages %d reserved %d",
			used, pages, dirUsed, s.pages, reserved)
	}
}

package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
)

// runSource serves a byte slice as a Source, logs every call, and can make
// a body fail or stall when it reaches a given offset.
type runSource struct {
	data []byte

	mu      sync.Mutex
	calls   []srcCall
	failAt  int64 // when >= 0, the first body to reach this offset fails there
	stallAt int64 // when >= 0, a body reaching this offset blocks until its context ends
}

type srcCall struct {
	off, n int64
	ctx    context.Context
}

var errMidRun = errors.New("connection reset in the middle of a body")

func newRunSource(data []byte) *runSource {
	return &runSource{data: data, failAt: -1, stallAt: -1}
}

func (rs *runSource) open(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	rs.mu.Lock()
	rs.calls = append(rs.calls, srcCall{off: off, n: n, ctx: ctx})
	rs.mu.Unlock()
	return &runBody{rs: rs, ctx: ctx, pos: off, end: min(off+n, int64(len(rs.data)))}, nil
}

// snapshot returns the calls made so far.
func (rs *runSource) snapshot() []srcCall {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]srcCall(nil), rs.calls...)
}

type runBody struct {
	rs       *runSource
	ctx      context.Context
	pos, end int64
}

func (b *runBody) Read(p []byte) (int, error) {
	rs := b.rs
	if b.pos >= b.end {
		return 0, io.EOF
	}
	rs.mu.Lock()
	fail, stall := rs.failAt, rs.stallAt
	if b.pos == fail {
		rs.failAt = -1
	}
	rs.mu.Unlock()
	switch {
	case b.pos == fail:
		return 0, errMidRun
	case b.pos == stall:
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	end := b.end
	for _, at := range []int64{fail, stall} {
		if at > b.pos && at < end {
			end = at
		}
	}
	n := copy(p, rs.data[b.pos:end])
	b.pos += int64(n)
	return n, nil
}

func (b *runBody) Close() error { return nil }

// checkCalls checks that no byte was asked of the source twice and returns
// the number of calls and the longest.
func checkCalls(t *testing.T, calls []srcCall, size int64) (n int, longest int64) {
	t.Helper()
	seen := make([]bool, numPages(size, testPage))
	for _, c := range calls {
		if c.off%testPage != 0 || (c.n%testPage != 0 && c.off+c.n != size) {
			t.Errorf("call at %d for %d bytes: not whole pages", c.off, c.n)
		}
		for idx := c.off / testPage; idx*testPage < c.off+c.n; idx++ {
			if seen[idx] {
				t.Errorf("page %d fetched twice", idx)
			}
			seen[idx] = true
		}
		longest = max(longest, c.n)
	}
	return len(calls), longest
}

func TestSequentialReadFetchesRuns(t *testing.T) {
	tests := []struct {
		name     string
		pages    int64
		prefetch int
		chunk    int64 // bytes per ReadAt
		maxCalls int
	}{
		// As the worker serves the FUSE daemon: 4-page reads, 32 ahead.
		{"4-page reads", 128, 32, 4 * testPage, 128 / 8},
		{"page reads", 64, 16, testPage, 64 / 4},
		{"reads across pages", 64, 16, testPage + testPage/3, 64 / 4},
		{"no prefetch, 4-page reads", 64, -1, 4 * testPage, 64/4 + 3},
		{"short last page", 40, 8, 2 * testPage, 40 / 2},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 2*tt.pages)
			cfg.PrefetchPages = tt.prefetch
			s := openStore(t, cfg)
			size := tt.pages*testPage - testPage/2
			src := newRunSource(randomBytes(uint64(200+i), size))
			key := FileKey{ID: uint64(300 + i), Fingerprint: "seq"}
			got := make([]byte, 0, size)
			p := make([]byte, tt.chunk)
			for off := int64(0); off < size; {
				n, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache)
				if err != nil && err != io.EOF {
					t.Fatalf("ReadAt(%d): %v", off, err)
				}
				got = append(got, p[:n]...)
				off += int64(n)
			}
			if !bytes.Equal(got, src.data) {
				t.Fatal("bytes differ")
			}
			waitFor(t, "fetches ahead to end", func() bool {
				s.indexMu.Lock()
				defer s.indexMu.Unlock()
				return len(s.inflight) == 0
			})
			calls, longest := checkCalls(t, src.snapshot(), size)
			if calls > tt.maxCalls {
				t.Errorf("%d source calls for %d pages, want at most %d", calls, tt.pages, tt.maxCalls)
			}
			if longest <= testPage {
				t.Errorf("longest source call %d bytes, want more than a page", longest)
			}
			if st := s.Stats(); st.BytesReadSource != size {
				t.Errorf("BytesReadSource = %d, want %d", st.BytesReadSource, size)
			}
			t.Logf("%d pages in %d calls, longest %d pages", tt.pages, calls, longest/testPage)
		})
	}
}

func TestRandomReaderFetchesSinglePages(t *testing.T) {
	cfg := testConfig(t, 64)
	cfg.PrefetchPages = 16
	s := openStore(t, cfg)
	const pages = 32
	src := newRunSource(randomBytes(9, pages*testPage))
	size := int64(len(src.data))
	key := FileKey{ID: 31, Fingerprint: "rnd"}
	reads := []struct{ off, n int64 }{
		{20 * testPage, 3 * testPage}, // a first read is not sequential
		{5*testPage + 7, 2 * testPage},
		{29 * testPage, 100},
		{11*testPage - 1, 2},
		{0, 4 * testPage},
		{17 * testPage, testPage},
	}
	for _, r := range reads {
		p := make([]byte, r.n)
		if _, err := s.ReadAt(context.Background(), key, size, src.open, p, r.off, ReadCache); err != nil {
			t.Fatalf("ReadAt(%d, %d): %v", r.off, r.n, err)
		}
		if !bytes.Equal(p, src.data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d, %d): bytes differ", r.off, r.n)
		}
	}
	calls, longest := checkCalls(t, src.snapshot(), size)
	if longest != testPage {
		t.Errorf("longest source call %d bytes, want one page (%d)", longest, testPage)
	}
	if want := 3 + 3 + 1 + 2 + 4 + 1; calls != want {
		t.Errorf("%d source calls, want %d (one per page read)", calls, want)
	}
}

func TestRunFailingMidway(t *testing.T) {
	// The file is read sequentially in 4-page reads; the source's body
	// breaks once, in the middle of page failPage.
	tests := []struct {
		name     string
		prefetch int
		failPage int64
		kept     []int64 // pages of the broken run before the break
	}{
		// The reader's run of pages 4..7.
		{"reader's own run", -1, 6, []int64{4, 5}},
		// Fetched ahead: runs 8..9, 10..13, 14..21. The reader may meet
		// the broken page, or a run fetched ahead again after it.
		{"run fetched ahead", 16, 16, []int64{14, 15}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 64)
			cfg.PrefetchPages = tt.prefetch
			s := openStore(t, cfg)
			const pages = 32
			src := newRunSource(randomBytes(uint64(40+i), pages*testPage))
			src.failAt = tt.failPage*testPage + testPage/2
			size := int64(len(src.data))
			key := FileKey{ID: uint64(400 + i), Fingerprint: "fail"}
			p := make([]byte, 4*testPage)
			failed := 0
			for off := int64(0); off < size; off += int64(len(p)) {
				_, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache)
				if err != nil {
					if !errors.Is(err, errMidRun) {
						t.Fatalf("ReadAt(%d): %v, want the source's error", off, err)
					}
					failed++
					for _, idx := range tt.kept {
						if !isPresent(s, key, idx) {
							t.Errorf("page %d, before the break, not cached", idx)
						}
					}
					// A reader asking again gets the bytes.
					if _, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache); err != nil {
						t.Fatalf("ReadAt(%d) again: %v", off, err)
					}
				}
				if !bytes.Equal(p, src.data[off:off+int64(len(p))]) {
					t.Fatalf("ReadAt(%d): bytes differ", off)
				}
			}
			if failed > 1 {
				t.Errorf("%d reads failed for one broken body", failed)
			}
			for idx := range int64(pages) {
				if !isPresent(s, key, idx) {
					t.Errorf("page %d not cached after the file was read", idx)
				}
			}
			// The pages before the break were fetched once: the break
			// failed only the pages the run had not delivered.
			for _, idx := range tt.kept {
				n := 0
				for _, c := range src.snapshot() {
					if c.off <= idx*testPage && idx*testPage < c.off+c.n {
						n++
					}
				}
				if n != 1 {
					t.Errorf("page %d, before the break, fetched %d times", idx, n)
				}
			}
			if _, err := s.ReadAt(context.Background(), key, size, src.open, p, 0, ReadCache); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, src.data[:len(p)]) {
				t.Fatal("bytes differ on a cached read")
			}
			// The page that broke off was being written as its bytes
			// came: its room and what was written of it are given back.
			checkAccounting(t, s)
		})
	}
}

func TestConcurrentSequentialReadersShareRuns(t *testing.T) {
	cfg := testConfig(t, 256)
	cfg.PrefetchPages = 16
	s := openStore(t, cfg)
	const pages = 96
	src := newRunSource(randomBytes(77, pages*testPage-5))
	size := int64(len(src.data))
	key := FileKey{ID: 55, Fingerprint: "share"}

	const readers = 8
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for r := range readers {
		wg.Go(func() {
			p := make([]byte, (r%4+1)*testPage)
			for off := int64(0); off < size; {
				n, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache)
				if err != nil && err != io.EOF {
					errs <- fmt.Errorf("reader %d at %d: %w", r, off, err)
					return
				}
				if !bytes.Equal(p[:n], src.data[off:off+int64(n)]) {
					errs <- fmt.Errorf("reader %d at %d: bytes differ", r, off)
					return
				}
				off += int64(n)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, "fetches ahead to end", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		return len(s.inflight) == 0
	})
	// Every page came from the source once, whoever asked first.
	calls, _ := checkCalls(t, src.snapshot(), size)
	if st := s.Stats(); st.BytesReadSource != size {
		t.Errorf("BytesReadSource = %d, want %d", st.BytesReadSource, size)
	}
	t.Logf("%d readers, %d pages, %d source calls", readers, pages, calls)
	checkAccounting(t, s)
}

func TestCancelledReadersStopTheRun(t *testing.T) {
	cfg := testConfig(t, 64)
	s := openStore(t, cfg) // no prefetch: the only run is the reader's
	const pages = 8
	src := newRunSource(randomBytes(5, pages*testPage))
	size := int64(len(src.data))
	key := FileKey{ID: 66, Fingerprint: "cancel"}
	// The run of pages 1..4 delivers page 1, then stalls in page 2.
	src.stallAt = 2*testPage + 100

	p := make([]byte, testPage)
	if _, err := s.ReadAt(context.Background(), key, size, src.open, p, 0, ReadCache); err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := s.ReadAt(ctx1, key, size, src.open, make([]byte, 4*testPage), testPage, ReadCache)
		done1 <- err
	}()
	waitFor(t, "the run of pages 1..4", func() bool { return len(src.snapshot()) == 2 })
	run := src.snapshot()[1]
	if run.off != testPage || run.n != 4*testPage {
		t.Fatalf("second call at %d for %d bytes, want one run of pages 1..4", run.off, run.n)
	}
	waitFor(t, "page 1 to be cached", func() bool { return isPresent(s, key, 1) })
	// A second reader waits for page 3 of the same run.
	go func() {
		_, err := s.ReadAt(ctx2, key, size, src.open, make([]byte, 10), 3*testPage, ReadCache)
		done2 <- err
	}()
	waitFor(t, "the second reader to join page 3", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		fe := s.inflight[pageKey{key: key, idx: 3, n: testPage}]
		return fe != nil && fe.waiters == 2
	})

	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("first reader: %v, want context.Canceled", err)
	}
	if run.ctx.Err() != nil {
		t.Fatal("run cancelled while a reader still waits for one of its pages")
	}
	cancel2()
	if err := <-done2; !errors.Is(err, context.Canceled) {
		t.Fatalf("second reader: %v, want context.Canceled", err)
	}
	waitFor(t, "the run to be cancelled", func() bool { return run.ctx.Err() != nil })
	waitFor(t, "the run to end", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		return len(s.inflight) == 0
	})
	for idx := int64(2); idx <= 4; idx++ {
		if isPresent(s, key, idx) {
			t.Errorf("page %d cached by a cancelled run", idx)
		}
	}
	// Later readers fetch afresh and get the bytes; page 1 stays cached.
	src.mu.Lock()
	src.stallAt = -1
	src.mu.Unlock()
	before := len(src.snapshot())
	q := make([]byte, 4*testPage)
	if _, err := s.ReadAt(context.Background(), key, size, src.open, q, testPage, ReadCache); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q, src.data[testPage:5*testPage]) {
		t.Fatal("bytes differ after the cancelled run")
	}
	for _, c := range src.snapshot()[before:] {
		if c.off < 2*testPage {
			t.Errorf("page 1 fetched again (call at %d for %d bytes)", c.off, c.n)
		}
	}
}

func TestFetchedAheadServedFromMemory(t *testing.T) {
	cfg := testConfig(t, 64)
	cfg.PrefetchPages = 8
	s := openStore(t, cfg)
	const pages = 24
	src := newRunSource(randomBytes(12, pages*testPage))
	size := int64(len(src.data))
	key := FileKey{ID: 88, Fingerprint: "fresh"}
	freshPages := func() int {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		return len(s.fresh)
	}
	// Half-page reads: the first half of a page fetched ahead is copied
	// from memory, the second half too, and that drops it.
	p := make([]byte, testPage/2)
	served := 0
	for off := int64(0); off < size; off += int64(len(p)) {
		idx := off / testPage
		pk := pageKey{key: key, idx: idx, n: testPage}
		if off%testPage == 0 && off > 0 {
			waitFor(t, fmt.Sprintf("page %d to be fetched", idx), func() bool {
				s.indexMu.Lock()
				defer s.indexMu.Unlock()
				return s.inflight[pk] == nil
			})
		}
		s.indexMu.Lock()
		kept := s.fresh[pk] != nil
		s.indexMu.Unlock()
		if _, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache); err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if !bytes.Equal(p, src.data[off:off+int64(len(p))]) {
			t.Fatalf("ReadAt(%d): bytes differ", off)
		}
		s.indexMu.Lock()
		still := s.fresh[pk] != nil
		s.indexMu.Unlock()
		if kept {
			served++
			if end := off%testPage != 0; still == end {
				t.Errorf("page %d after a read to %d of it: kept %t", idx, off%testPage+int64(len(p)), still)
			}
		}
	}
	if served < pages/2 {
		t.Errorf("%d of %d reads served from pages kept in memory, want at least %d", served, 2*pages, pages/2)
	}
	if n := freshPages(); n != 0 {
		t.Errorf("%d pages still kept after the reader read them all", n)
	}
	for idx := range int64(pages) {
		if !isPresent(s, key, idx) {
			t.Errorf("page %d not cached", idx)
		}
	}
	if st := s.Stats(); st.BytesReadSource != size {
		t.Errorf("BytesReadSource = %d, want %d", st.BytesReadSource, size)
	}
}

func TestFetchedAheadPagesOfAStoppedReaderExpire(t *testing.T) {
	cfg := testConfig(t, 64)
	cfg.PrefetchPages = 8
	s := openStore(t, cfg)
	src := newRunSource(randomBytes(13, 32*testPage))
	size := int64(len(src.data))
	key := FileKey{ID: 89, Fingerprint: "stop"}
	p := make([]byte, testPage)
	for off := int64(0); off < 3*testPage; off += testPage {
		if _, err := s.ReadAt(context.Background(), key, size, src.open, p, off, ReadCache); err != nil {
			t.Fatal(err)
		}
	}
	// The reader stops; what was fetched ahead for it stays in memory
	// until the mover has ticked twice.
	waitFor(t, "fetches ahead to end", func() bool {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		return len(s.inflight) == 0
	})
	kept := func() (int, int64) {
		s.indexMu.Lock()
		defer s.indexMu.Unlock()
		return len(s.fresh), s.freshBytes
	}
	if n, _ := kept(); n == 0 {
		t.Fatal("no page fetched ahead kept in memory")
	}
	s.expireFresh()
	if n, _ := kept(); n == 0 {
		t.Fatal("pages kept since the last tick dropped at once")
	}
	s.expireFresh()
	if n, b := kept(); n != 0 || b != 0 {
		t.Errorf("after two ticks %d pages (%d bytes) still kept", n, b)
	}
	// They are still cached in the tier.
	for idx := int64(3); idx < 8; idx++ {
		if !isPresent(s, key, idx) {
			t.Errorf("page %d not cached", idx)
		}
	}
}

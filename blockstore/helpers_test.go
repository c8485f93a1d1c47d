package blockstore

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const testPage = 16 << 10

// memSource serves a byte slice as a Source and counts calls per offset.
type memSource struct {
	data []byte
	gate chan struct{} // when set, calls block until it is closed
	err  error         // when set, calls fail with it
	cut  int64         // when > 0, each call returns this many bytes fewer

	mu    sync.Mutex
	calls map[int64]int
	ctxs  []context.Context
}

func newMemSource(data []byte) *memSource {
	return &memSource{data: data, calls: map[int64]int{}}
}

func (m *memSource) open(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	m.calls[off]++
	m.ctxs = append(m.ctxs, ctx)
	m.mu.Unlock()
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if m.err != nil {
		return nil, m.err
	}
	end := min(off+n, int64(len(m.data))) - m.cut
	return io.NopCloser(bytes.NewReader(m.data[off:end])), nil
}

func (m *memSource) callsAt(off int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[off]
}

func (m *memSource) totalCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.calls {
		n += c
	}
	return n
}

func randomBytes(seed uint64, n int64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testConfig is a one-dir MEM tier in a fresh temp dir with small pages and
// no prefetch, so that source calls are deterministic.
func testConfig(t testing.TB, quotaPages int64) Config {
	return Config{
		Tiers: []TierConfig{{
			Alias:  "MEM",
			Dirs:   []string{t.TempDir()},
			Quotas: []int64{quotaPages * testPage},
			High:   1,
			Low:    1,
		}},
		PageSize:      testPage,
		PrefetchPages: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// readAll reads key's whole file through the store in chunks of chunk bytes.
func readAll(t testing.TB, s *Store, key FileKey, src *memSource, chunk int, rt ReadType) []byte {
	t.Helper()
	size := int64(len(src.data))
	out := make([]byte, 0, size)
	buf := make([]byte, chunk)
	for off := int64(0); ; {
		n, err := s.ReadAt(context.Background(), key, size, src.open, buf, off, rt)
		out = append(out, buf[:n]...)
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
	return out
}

// isPresent reports whether page idx of key is cached.
func isPresent(s *Store, key FileKey, idx int64) bool {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f := s.files[key]
	return f != nil && f.has(idx)
}

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

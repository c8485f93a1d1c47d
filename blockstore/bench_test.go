package blockstore

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"
)

const benchPage = 1 << 20

// benchStore opens a store with 1 MiB pages on /dev/shm when it exists (the
// MEM tier's home), else in a temp dir.
func benchStore(b *testing.B, quota int64) *Store {
	return benchStoreAlias(b, quota, "MEM")
}

// benchStoreAlias is benchStore with the tier's alias set, e.g. "SSD" to
// verify checksums on every hit.
func benchStoreAlias(b *testing.B, quota int64, alias string) *Store {
	dir := b.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "blockstore-bench-"); err == nil {
		dir = d
		b.Cleanup(func() { os.RemoveAll(d) })
	}
	return openStore(b, Config{
		Tiers:         []TierConfig{{Alias: alias, Dirs: []string{dir}, Quotas: []int64{quota}}},
		PageSize:      benchPage,
		PrefetchPages: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// BenchmarkReadHit reads 1 MiB from cached pages, and reports the time per
// read against a plain pread of the same backing file measured in the same run
// (store/pread, 1.0 = no overhead). MEM is the hot path (no verification);
// SSD adds the crc32c check of every page served (the tier dir is still
// /dev/shm, so this measures the checksum alone).
func BenchmarkReadHit(b *testing.B) {
	for _, alias := range []string{"MEM", "SSD"} {
		b.Run(alias, func(b *testing.B) { benchReadHit(b, alias) })
	}
}

func benchReadHit(b *testing.B, alias string) {
	const pages = 64
	s := benchStoreAlias(b, 2*pages*benchPage, alias)
	src := newMemSource(randomBytes(1, pages*benchPage))
	key := FileKey{ID: 1, Fingerprint: "hit"}
	size := int64(len(src.data))
	readAll(b, s, key, src, benchPage, ReadCache)
	open := src.open
	ctx := context.Background()
	p := make([]byte, benchPage)

	b.SetBytes(benchPage)
	b.ResetTimer()
	start := time.Now()
	i := int64(0)
	for b.Loop() {
		if _, err := s.ReadAt(ctx, key, size, open, p, (i%pages)*benchPage, ReadCache); err != nil {
			b.Fatal(err)
		}
		i++
	}
	storeTime := time.Since(start)
	b.StopTimer()

	s.indexMu.Lock()
	fd := s.files[key].fd
	s.indexMu.Unlock()
	start = time.Now()
	for j := range i {
		if _, err := fd.ReadAt(p, (j%pages)*benchPage); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(storeTime)/float64(time.Since(start)), "store/pread")
	if !bytes.Equal(p, src.data[((i-1)%pages)*benchPage:][:benchPage]) {
		b.Fatal("bytes differ")
	}
}

// BenchmarkReadMiss reads 1 MiB pages that are never cached yet: fetch from
// an in-memory source into a pooled buffer, write to the tier, copy out,
// evicting once the tier is full.
func BenchmarkReadMiss(b *testing.B) {
	s := benchStore(b, 64*benchPage)
	page := randomBytes(2, benchPage)
	src := func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(page[:n])), nil
	}
	key := FileKey{ID: 2, Fingerprint: "miss"}
	const size = 1 << 50 // pages enough for any b.N
	ctx := context.Background()
	p := make([]byte, benchPage)
	b.SetBytes(benchPage)
	i := int64(0)
	for b.Loop() {
		if _, err := s.ReadAt(ctx, key, size, src, p, i*benchPage, ReadCache); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	if st := s.Stats(); st.BytesReadSource != i*benchPage {
		b.Fatalf("BytesReadSource %d, want %d", st.BytesReadSource, i*benchPage)
	}
}

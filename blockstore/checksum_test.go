package blockstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
)

// backingPath returns the path of key's backing file.
func backingPath(t *testing.T, s *Store, key FileKey) string {
	t.Helper()
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	f := s.files[key]
	if f == nil {
		t.Fatalf("file %d not cached", key.ID)
	}
	return f.path
}

// flipByte flips the bits of one byte of the file at path, at off.
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestChecksumOnRead(t *testing.T) {
	const size = 4*testPage + 1000
	tests := []struct {
		name      string
		alias     string
		verify    string
		off, n    int64 // the read after the corruption
		corruptAt int64 // in page 1 or the short last page
		wantErrs  int64
	}{
		{"SSD whole page", "SSD", "", testPage, testPage, testPage + 10, 1},
		{"SSD inside a page", "SSD", "", testPage + 5, 100, testPage + 10, 1},
		{"SSD across pages", "SSD", "", testPage / 2, 2 * testPage, testPage + 10, 1},
		{"SSD short last page", "SSD", "", 4 * testPage, 1000, 4*testPage + 999, 1},
		{"SSD whole file", "SSD", "", 0, size, 2*testPage + 3, 1},
		{"MEM always", "MEM", VerifyAlways, testPage, testPage, testPage + 10, 1},
		{"SSD never", "SSD", VerifyNever, testPage, testPage, testPage + 10, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 16)
			cfg.Tiers[0].Alias = tt.alias
			cfg.VerifyReads = tt.verify
			s := openStore(t, cfg)
			src := newMemSource(randomBytes(uint64(300+i), size))
			key := FileKey{ID: 1, Fingerprint: "crc"}
			readAll(t, s, key, src, testPage, ReadCache)
			flipByte(t, backingPath(t, s, key), tt.corruptAt)

			p := make([]byte, tt.n)
			n, err := s.ReadAt(context.Background(), key, size, src.open, p, tt.off, ReadCache)
			if err != nil && err != io.EOF {
				t.Fatalf("ReadAt: %v", err)
			}
			st := s.Stats()
			if st.ChecksumErrors != tt.wantErrs {
				t.Fatalf("ChecksumErrors = %d, want %d", st.ChecksumErrors, tt.wantErrs)
			}
			want := src.data[tt.off : tt.off+int64(n)]
			if tt.wantErrs == 0 {
				// Not verified: the corrupt byte is served, as configured.
				if bytes.Equal(p[:n], want) {
					t.Fatal("VerifyNever read the source instead of the corrupted page")
				}
				return
			}
			if !bytes.Equal(p[:n], want) {
				t.Fatal("bytes differ after a checksum mismatch")
			}
			bad := tt.corruptAt / testPage * testPage
			if c := src.callsAt(bad); c != 2 {
				t.Errorf("corrupted page fetched %d times, want 2 (fill, then re-fetch)", c)
			}
			// The page was cached again: the next read is a clean hit.
			before := s.Stats()
			if got := readAll(t, s, key, src, 7000, ReadCache); !bytes.Equal(got, src.data) {
				t.Fatal("bytes differ on the read after the re-fetch")
			}
			after := s.Stats()
			if after.BytesReadSource != before.BytesReadSource || after.ChecksumErrors != 1 {
				t.Errorf("after the re-fetch: source bytes %d -> %d, checksum errors %d",
					before.BytesReadSource, after.BytesReadSource, after.ChecksumErrors)
			}
			checkAccounting(t, s)
		})
	}
}

func TestChecksumMEMNotVerifiedByDefault(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(7, 2*testPage))
	key := FileKey{ID: 1, Fingerprint: "mem"}
	readAll(t, s, key, src, testPage, ReadCache)
	flipByte(t, backingPath(t, s, key), 5)
	p := make([]byte, 10)
	if _, err := s.ReadAt(context.Background(), key, 2*testPage, src.open, p, 0, ReadCache); err != nil {
		t.Fatal(err)
	}
	if s.Stats().ChecksumErrors != 0 || p[5] == src.data[5] {
		t.Error("a MEM tier verified a read with VerifyReads auto")
	}
}

func TestChecksumOpenWhole(t *testing.T) {
	cfg := testConfig(t, 16)
	cfg.Tiers[0].Alias = "SSD"
	s := openStore(t, cfg)
	const size = 3*testPage + 17
	src := newMemSource(randomBytes(9, size))
	key := FileKey{ID: 2, Fingerprint: "whole"}
	// A partial read leaves pages 1..3 unverified since written.
	readAll(t, s, key, src, testPage, ReadNoCache)
	p := make([]byte, size)
	if _, err := s.ReadAt(context.Background(), key, size, src.open, p, 0, ReadCache); err != nil {
		t.Fatal(err)
	}
	flipByte(t, backingPath(t, s, key), 2*testPage+1)
	if f, release, ok := s.OpenWhole(key, size); ok {
		f.Close()
		release()
		t.Fatal("OpenWhole handed out a file with a corrupt page")
	}
	if st := s.Stats(); st.ChecksumErrors != 1 {
		t.Errorf("ChecksumErrors = %d, want 1", st.ChecksumErrors)
	}
	if pages, total := s.Cached(key, size); pages != total-1 {
		t.Errorf("after OpenWhole found a bad page: %d of %d cached, want it punched", pages, total)
	}
	// Read again: the page is fetched, and OpenWhole now succeeds without
	// re-reading the pages it already verified.
	readAll(t, s, key, src, testPage, ReadCache)
	f, release, ok := s.OpenWhole(key, size)
	if !ok {
		t.Fatal("OpenWhole failed after the page was fetched again")
	}
	defer release()
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, src.data) {
		t.Fatalf("OpenWhole bytes differ: %v", err)
	}
	s.indexMu.Lock()
	cf := s.files[key]
	for idx := range int64(4) {
		if !cf.isVerified(idx) {
			t.Errorf("page %d not marked verified", idx)
		}
	}
	s.indexMu.Unlock()
}

func TestChecksumRecovery(t *testing.T) {
	for _, alias := range []string{"MEM", "SSD"} {
		t.Run(alias, func(t *testing.T) {
			dir := t.TempDir()
			cfg := killConfig(dir, alias)
			s, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			const size = 5 * testPage
			src := newMemSource(randomBytes(11, size))
			key := FileKey{ID: 3, Fingerprint: "rec"}
			readAll(t, s, key, src, testPage, ReadCache)
			path := backingPath(t, s, key)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			flipByte(t, path, 3*testPage+100)

			s = openStore(t, cfg)
			st := s.Stats()
			if st.RecoveryDamaged != 1 || st.RecoveredPages != 4 {
				t.Fatalf("recovery: %d pages, %d damaged; want 4 and 1", st.RecoveredPages, st.RecoveryDamaged)
			}
			if isPresent(s, key, 3) {
				t.Fatal("damaged page recovered as present")
			}
			if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) {
				t.Fatal("bytes differ")
			}
			if c := src.callsAt(3 * testPage); c != 2 {
				t.Errorf("damaged page fetched %d times in all, want 2", c)
			}
			if c := src.totalCalls(); c != 6 {
				t.Errorf("source called %d times in all, want 6 (5, then the damaged page)", c)
			}
			if got := s.Stats().BytesReadCache; got != 4*testPage {
				t.Errorf("BytesReadCache = %d, want the 4 good pages", got)
			}
			if s.Stats().ChecksumErrors != 0 {
				t.Error("recovery damage counted as a read checksum error")
			}
		})
	}
}

// TestTruncatedBackingFile: cached pages that cannot be read (the backing
// file was cut short behind the store's back) are fetched again; the dir is
// not failed for it.
func TestTruncatedBackingFile(t *testing.T) {
	for _, alias := range []string{"MEM", "SSD"} {
		t.Run(alias, func(t *testing.T) {
			cfg := testConfig(t, 16)
			cfg.Tiers[0].Alias = alias
			s := openStore(t, cfg)
			src := newMemSource(randomBytes(12, 3*testPage))
			key := FileKey{ID: 1, Fingerprint: "cut"}
			readAll(t, s, key, src, testPage, ReadCache)
			if err := os.Truncate(backingPath(t, s, key), testPage); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, s, key, src, 3*testPage, ReadCache); !bytes.Equal(got, src.data) {
				t.Fatal("bytes differ")
			}
			if c := src.callsAt(2 * testPage); c != 2 {
				t.Errorf("unreadable page fetched %d times, want 2", c)
			}
			if ts := s.Stats().Tiers[0]; ts.Failed {
				t.Errorf("dir failed over a damaged file: %s", ts.Reason)
			}
			if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) || src.totalCalls() != 5 {
				t.Errorf("pages not cached again: %d source calls, want 5", src.totalCalls())
			}
			checkAccounting(t, s)
		})
	}
}

// chunkReader returns at most n bytes per Read, then err once its bytes
// are gone.
type chunkReader struct {
	b   []byte
	n   int
	err error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, r.err
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

func TestReadSum(t *testing.T) {
	data := randomBytes(7, 100_000)
	errBroken := errors.New("broken")
	tests := []struct {
		name    string
		src     []byte
		chunk   int
		srcErr  error
		want    int // bytes asked for
		wantErr error
	}{
		{"whole in one read", data, len(data), io.EOF, len(data), nil},
		{"many small reads", data, 977, io.EOF, len(data), nil},
		{"less than the source", data, 4096, io.EOF, 50_000, nil},
		{"source short", data[:60_000], 4096, io.EOF, len(data), io.ErrUnexpectedEOF},
		{"source empty", nil, 4096, io.EOF, len(data), io.EOF},
		{"source breaks", data[:60_000], 4096, errBroken, len(data), errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.want)
			var sum uint32
			err := readSum(&chunkReader{b: tt.src, n: tt.chunk, err: tt.srcErr}, b, &sum)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("readSum: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !bytes.Equal(b, data[:tt.want]) {
				t.Fatal("bytes differ")
			}
			if want := pageCRC(data[:tt.want]); sum != want {
				t.Errorf("checksum %08x, want %08x (of the whole)", sum, want)
			}
			// Without a checksum wanted, the same bytes.
			clear(b)
			if err := readSum(&chunkReader{b: tt.src, n: tt.chunk, err: tt.srcErr}, b, nil); err != nil || !bytes.Equal(b, data[:tt.want]) {
				t.Errorf("readSum without a checksum: %v, bytes equal %t", err, bytes.Equal(b, data[:tt.want]))
			}
		})
	}
}

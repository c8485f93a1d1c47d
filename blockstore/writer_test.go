package blockstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"testing"
)

// failingSource fails the test if the store ever fetches.
func failingSource(t *testing.T) Source {
	return func(ctx context.Context, off, n int64) (io.ReadCloser, error) {
		t.Errorf("unexpected source call at %d", off)
		return nil, syscall.EIO
	}
}

func TestWriterCachesFile(t *testing.T) {
	tests := []struct {
		name   string
		size   int64
		chunks []int
		pinned bool
	}{
		{"empty", 0, nil, true},
		{"short", 100, []int{100}, false},
		{"page exact", testPage, []int{testPage}, true},
		{"odd chunks", 3*testPage + 333, []int{1, 999, testPage, 7, 5000}, false},
		{"one big write", 4*testPage + 1, []int{4*testPage + 1}, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, testConfig(t, 16))
			data := randomBytes(uint64(70+i), tt.size)
			key := FileKey{ID: uint64(i + 1), Fingerprint: "w"}
			w, err := s.Create(key, tt.pinned)
			if err != nil {
				t.Fatal(err)
			}
			for off, c := 0, 0; off < len(data); c++ {
				n := min(tt.chunks[c%len(tt.chunks)], len(data)-off)
				if got, err := w.Write(data[off : off+n]); got != n || err != nil {
					t.Fatalf("Write = %d, %v", got, err)
				}
				off += n
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if pages, total := s.Cached(key, tt.size); pages != total {
				t.Fatalf("Cached = %d/%d after Close", pages, total)
			}
			st := s.Stats()
			if st.BytesWritten != tt.size || st.Used != tt.size {
				t.Errorf("BytesWritten %d Used %d, want %d", st.BytesWritten, st.Used, tt.size)
			}
			if tt.size > 0 {
				p := make([]byte, tt.size)
				if _, err := s.ReadAt(context.Background(), key, tt.size, failingSource(t), p, 0, ReadCache); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p, data) {
					t.Fatal("ReadAt of a written file: bytes differ")
				}
			}
			f, release, ok := s.OpenWhole(key, tt.size)
			if !ok {
				t.Fatal("OpenWhole of a written file failed")
			}
			defer release()
			defer f.Close()
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("OpenWhole bytes differ (%d vs %d), err %v", len(got), len(data), err)
			}
			checkAccounting(t, s)
		})
	}
}

func TestWriterPagesPresentAsTheyFill(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	key := FileKey{ID: 1, Fingerprint: "f"}
	w, err := s.Create(key, false)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(make([]byte, testPage+testPage/2)); err != nil {
		t.Fatal(err)
	}
	if !isPresent(s, key, 0) || isPresent(s, key, 1) {
		t.Errorf("after 1.5 pages: page 0 present %t, page 1 present %t; want true, false",
			isPresent(s, key, 0), isPresent(s, key, 1))
	}
	// While the file is being written, reads bypass the cache.
	src := newMemSource(randomBytes(1, 2*testPage))
	p := make([]byte, 10)
	if _, err := s.ReadAt(context.Background(), key, 2*testPage, src.open, p, 0, ReadCache); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p, src.data[:10]) || src.totalCalls() != 1 {
		t.Errorf("read of a file being written: not served from the source")
	}
}

func TestWriterAbortAndReplace(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	key := FileKey{ID: 1, Fingerprint: "f"}
	w, err := s.Create(key, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, 2*testPage+5)); err != nil {
		t.Fatal(err)
	}
	s.indexMu.Lock()
	path := s.files[key].path
	s.indexMu.Unlock()
	w.Abort()
	w.Abort()
	if st := s.Stats(); st.Files != 0 || st.Used != 0 || st.Pages != 0 {
		t.Errorf("after Abort: files %d used %d pages %d", st.Files, st.Used, st.Pages)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("backing file after Abort: %v, want gone", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Write after Abort: %v, want EBADF", err)
	}

	// A second Create of the same key replaces the first version.
	first := randomBytes(2, testPage)
	second := randomBytes(3, 2*testPage)
	for _, data := range [][]byte{first, second} {
		w, err := s.Create(key, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if pages, _ := s.Cached(key, int64(len(first))); pages != 0 {
		t.Error("first version still cached after replacement")
	}
	if pages, total := s.Cached(key, int64(len(second))); pages != total {
		t.Errorf("second version cached %d of %d pages", pages, total)
	}
	if st := s.Stats(); st.Files != 1 || st.Used != int64(len(second)) {
		t.Errorf("after replacement: files %d used %d", st.Files, st.Used)
	}
	checkAccounting(t, s)
}

// A pinned Writer (MUST_CACHE: the only copy) that goes on writing while
// the store closes is told that its bytes are not kept, rather than that
// they are while the next Open drops them.
func TestPinnedWriterAcrossStoreClose(t *testing.T) {
	cfg := testConfig(t, 16)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := FileKey{ID: 5, Fingerprint: "mc"}
	data := randomBytes(5, 2*testPage)
	w, err := s.Create(key, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:testPage/2]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, werr := w.Write(data[testPage/2 : testPage])
	cerr := w.Close()
	s2 := openStore(t, cfg)
	kept := false
	for _, cf := range s2.Files() {
		kept = kept || cf.Key == key && cf.Pages >= 1
	}
	if werr == nil && cerr == nil && !kept {
		t.Fatal("the pinned writer reported its page written and closed, but the store did not keep it")
	}
	if cerr == nil || !errors.Is(cerr, syscall.ESTALE) {
		t.Errorf("Close after the store closed: %v, want ESTALE", cerr)
	}
}

// A version made while SetPinned(id, true) runs is pinned, in memory and
// in its page log, though SetPinned did not find it in the index.
func TestSetPinnedRacesInstall(t *testing.T) {
	cfg := testConfig(t, 4096)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(6, testPage)
	src := newMemSource(data)
	const n = 400
	lost := 0
	for i := range n {
		id := uint64(1000 + i)
		key := FileKey{ID: id, Fingerprint: "v"}
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			s.ReadAt(context.Background(), key, int64(len(data)), src.open, make([]byte, 10), 0, ReadCache)
		})
		wg.Go(func() {
			<-start
			s.SetPinned(id, true)
		})
		close(start)
		wg.Wait()
		s.indexMu.Lock()
		if f := s.files[key]; f != nil && !f.userPinned {
			lost++
		}
		s.indexMu.Unlock()
	}
	if lost > 0 {
		t.Fatalf("%d of %d versions made while SetPinned(id, true) ran are not pinned", lost, n)
	}
	s.Close()
	for _, cf := range openStore(t, cfg).Files() {
		if !cf.Pinned {
			t.Fatalf("file %d came back unpinned after a restart", cf.Key.ID)
		}
	}
}

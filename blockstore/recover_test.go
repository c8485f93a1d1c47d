package blockstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killFile is one file the kill helper leaves in the store.
type killFile struct {
	key  FileKey
	size int64
	// how the helper caches it
	fetch   []int64 // pages read through ReadAt; nil with write set
	write   bool    // written by a Writer
	pinned  bool    // Create(key, true)
	closeW  bool    // the Writer is closed
	unpin   bool    // Unpin after Close
	userPin bool    // SetPinned(id, true)
	// what recovery must find
	wantPages   int
	wantPinned  bool
	wantPartial bool
	wantSize    int64
	gone        bool
}

func killFiles() []killFile {
	all := func(n int64) []int64 {
		var idx []int64
		for i := range n {
			idx = append(idx, i)
		}
		return idx
	}
	return []killFile{
		{key: FileKey{1, "fetched"}, size: 4*testPage + testPage/2, fetch: all(5), wantPages: 5},
		{key: FileKey{2, "sparse"}, size: 4 * testPage, fetch: []int64{0, 2}, wantPages: 2},
		{key: FileKey{3, "written"}, size: 2*testPage + 100, write: true, closeW: true, wantPages: 3},
		{key: FileKey{4, "must-cache"}, size: testPage + 7, write: true, pinned: true, closeW: true, wantPages: 2, wantPinned: true},
		{key: FileKey{5, "open-pinned"}, size: 2*testPage + 300, write: true, pinned: true, wantPages: 2, wantPinned: true,
			wantPartial: true, wantSize: 2 * testPage},
		{key: FileKey{6, "open-unpinned"}, size: 2*testPage + 300, write: true, gone: true},
		{key: FileKey{7, "user-pinned"}, size: 3 * testPage, fetch: all(3), userPin: true, wantPages: 3, wantPinned: true},
		{key: FileKey{8, "persisted"}, size: testPage, write: true, pinned: true, closeW: true, unpin: true, wantPages: 1},
		{key: FileKey{9, "empty"}, size: 0, write: true, closeW: true, wantPages: 0},
	}
}

func killData(kf killFile) []byte { return randomBytes(kf.key.ID*31, kf.size) }

// killConfig is the store config the kill helper and its parent share.
func killConfig(dir, alias string) Config {
	return Config{
		Tiers:         []TierConfig{{Alias: alias, Dirs: []string{dir}, Quotas: []int64{64 * testPage}}},
		PageSize:      testPage,
		PrefetchPages: -1,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// TestKillHelper is not a test: TestRecoverAfterKill runs it in a child
// process, which fills a store and waits to be killed.
func TestKillHelper(t *testing.T) {
	dir := os.Getenv("BLOCKSTORE_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestRecoverAfterKill")
	}
	s, err := Open(killConfig(dir, os.Getenv("BLOCKSTORE_KILL_ALIAS")))
	if err != nil {
		t.Fatal(err)
	}
	for _, kf := range killFiles() {
		data := killData(kf)
		if kf.write {
			w, err := s.Create(kf.key, kf.pinned)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
			if kf.closeW {
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if kf.unpin {
				s.Unpin(kf.key)
			}
			continue
		}
		src := newMemSource(data)
		for _, idx := range kf.fetch {
			p := make([]byte, pageLen(kf.size, testPage, idx))
			if _, err := s.ReadAt(context.Background(), kf.key, kf.size, src.open, p, idx*testPage, ReadCache); err != nil {
				t.Fatal(err)
			}
		}
		if kf.userPin {
			s.SetPinned(kf.key.ID, true)
		}
	}
	fmt.Println("ready")
	select {} // until killed
}

func TestRecoverAfterKill(t *testing.T) {
	for _, alias := range []string{"MEM", "SSD"} {
		t.Run(alias, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), "BLOCKSTORE_KILL_DIR="+dir, "BLOCKSTORE_KILL_ALIAS="+alias)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			ready := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if sc.Text() == "ready" {
						ready <- true
						io.Copy(io.Discard, out)
						return
					}
				}
				ready <- false
			}()
			select {
			case ok := <-ready:
				if !ok {
					t.Fatal("helper process exited before filling the store")
				}
			case <-time.After(60 * time.Second):
				t.Fatal("helper process never got ready")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			// Leftovers recovery must remove.
			data := filepath.Join(dir, DefaultDataFolder)
			strays := []string{"junk", "77-0123456789abcdef", "78-0123456789abcdef" + logSuffix, "x.moving"}
			for _, name := range strays {
				if err := os.WriteFile(filepath.Join(data, name), []byte("stray"), 0o600); err != nil {
					t.Fatal(err)
				}
			}

			s := openStore(t, killConfig(dir, alias))
			checkRecovered(t, s)
			for _, name := range strays {
				if _, err := os.Stat(filepath.Join(data, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("stray %s: %v, want removed", name, err)
				}
			}
		})
	}
}

// checkRecovered checks that s holds what the kill helper left, and serves
// it from the cache.
func checkRecovered(t *testing.T, s *Store) {
	t.Helper()
	files := s.Files()
	slices.SortFunc(files, func(a, b CachedFile) int { return int(a.Key.ID) - int(b.Key.ID) })
	byID := map[uint64]CachedFile{}
	for _, cf := range files {
		byID[cf.Key.ID] = cf
	}
	wantFiles, wantPages := 0, 0
	var cached int64
	for _, kf := range killFiles() {
		cf, ok := byID[kf.key.ID]
		if kf.gone {
			if ok {
				t.Errorf("file %d (%s) recovered: %+v, want dropped", kf.key.ID, kf.key.Fingerprint, cf)
			}
			continue
		}
		wantFiles++
		wantPages += kf.wantPages
		size := kf.size
		if kf.wantPartial {
			size = kf.wantSize
		}
		if !ok {
			t.Errorf("file %d (%s) not recovered", kf.key.ID, kf.key.Fingerprint)
			continue
		}
		if cf.Key != kf.key || cf.Size != size || cf.Pages != kf.wantPages || cf.Pinned != kf.wantPinned ||
			cf.Partial != kf.wantPartial || cf.Writing {
			t.Errorf("file %d (%s) recovered as %+v; want size %d, %d pages, pinned %t, partial %t",
				kf.key.ID, kf.key.Fingerprint, cf, size, kf.wantPages, kf.wantPinned, kf.wantPartial)
		}
		// Present pages are cache hits with the right bytes.
		data := killData(kf)[:size]
		for idx := range numPages(size, testPage) {
			if !isPresent(s, kf.key, idx) {
				continue
			}
			p := make([]byte, pageLen(size, testPage, idx))
			if _, err := s.ReadAt(context.Background(), kf.key, size, failingSource(t), p, idx*testPage, ReadCache); err != nil {
				t.Fatalf("read recovered file %d page %d: %v", kf.key.ID, idx, err)
			}
			if !bytes.Equal(p, data[idx*testPage:][:len(p)]) {
				t.Errorf("recovered file %d page %d: bytes differ", kf.key.ID, idx)
			}
			cached += int64(len(p))
		}
	}
	st := s.Stats()
	if st.Files != wantFiles || st.Pages != wantPages || st.RecoveredFiles != wantFiles || st.RecoveredPages != wantPages ||
		st.RecoveryDamaged != 0 {
		t.Errorf("stats after recovery: files %d pages %d recovered %d/%d damaged %d; want %d files %d pages",
			st.Files, st.Pages, st.RecoveredFiles, st.RecoveredPages, st.RecoveryDamaged, wantFiles, wantPages)
	}
	if st.BytesReadSource != 0 || st.BytesReadCache != cached {
		t.Errorf("reads after recovery: %d bytes from source, %d from cache; want 0 and %d", st.BytesReadSource, st.BytesReadCache, cached)
	}
	checkAccounting(t, s)
}

// TestRecoverAfterClose: pins, unpins and user pins survive a clean restart,
// and a restarted store keeps caching.
func TestRecoverAfterClose(t *testing.T) {
	dir := t.TempDir()
	cfg := killConfig(dir, "SSD")
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := newMemSource(randomBytes(3, 3*testPage))
	key := FileKey{ID: 40, Fingerprint: "v"}
	readAll(t, s, key, src, testPage, ReadCache)
	s.SetPinned(40, true)
	s.SetPinned(40, false)
	s.SetPinned(41, true)
	src41 := newMemSource(randomBytes(4, testPage))
	readAll(t, s, FileKey{ID: 41, Fingerprint: "v"}, src41, testPage, ReadCache)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, cfg)
	pinned := map[uint64]bool{}
	for _, cf := range s.Files() {
		pinned[cf.Key.ID] = cf.Pinned
	}
	if len(pinned) != 2 || pinned[40] || !pinned[41] {
		t.Errorf("pins after restart: %v, want 40 unpinned, 41 pinned", pinned)
	}
	if got := readAll(t, s, key, src, 5000, ReadCache); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ after restart")
	}
	if src.totalCalls() != 3 {
		t.Errorf("source called %d times in all, want 3 (nothing after restart)", src.totalCalls())
	}
	// A new version of a pinned id is pinned too: the pin was recovered.
	readAll(t, s, FileKey{ID: 41, Fingerprint: "w"}, src41, testPage, ReadCache)
	for _, cf := range s.Files() {
		if cf.Key.ID == 41 && !cf.Pinned {
			t.Errorf("version %q of user-pinned id 41 is not pinned", cf.Key.Fingerprint)
		}
	}
}

// TestRecoverDropsUnusable: logs that do not fit the store make their
// backing file go.
func TestRecoverDropsUnusable(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, backing string)
		cfg    func(c *Config)
	}{
		{"page size changed", nil, func(c *Config) { c.PageSize = 2 * testPage }},
		{"log missing", func(t *testing.T, backing string) { os.Remove(backing + logSuffix) }, nil},
		{"log garbage", func(t *testing.T, backing string) {
			os.WriteFile(backing+logSuffix, []byte("not a page log at all, really not"), 0o600)
		}, nil},
		{"log header corrupt", func(t *testing.T, backing string) {
			b, _ := os.ReadFile(backing + logSuffix)
			b[30] ^= 0xff
			os.WriteFile(backing+logSuffix, b, 0o600)
		}, nil},
		{"log of another file", func(t *testing.T, backing string) {
			dir := filepath.Dir(backing)
			os.Rename(backing, filepath.Join(dir, FileKey{ID: 5, Fingerprint: "other"}.backingName()))
			os.Rename(backing+logSuffix, filepath.Join(dir, FileKey{ID: 5, Fingerprint: "other"}.backingName()+logSuffix))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := killConfig(dir, "MEM")
			s, err := Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			key := FileKey{ID: 1, Fingerprint: "v"}
			readAll(t, s, key, newMemSource(randomBytes(1, 2*testPage)), testPage, ReadCache)
			backing := filepath.Join(dir, DefaultDataFolder, key.backingName())
			s.Close()
			if tt.damage != nil {
				tt.damage(t, backing)
			}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s = openStore(t, cfg)
			if st := s.Stats(); st.Files != 0 || st.Used != 0 {
				t.Errorf("recovered %d files, %d bytes; want none", st.Files, st.Used)
			}
			entries, _ := os.ReadDir(filepath.Join(dir, DefaultDataFolder))
			for _, e := range entries {
				t.Errorf("left in data folder: %s", e.Name())
			}
		})
	}
}

// TestPageLogCompaction: a file whose pages come and go many times keeps a
// small log, which still recovers the file.
func TestPageLogCompaction(t *testing.T) {
	dir := t.TempDir()
	cfg := killConfig(dir, "MEM")
	cfg.Tiers[0].Quotas[0] = 4 * testPage
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 1, 0.5
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := newMemSource(randomBytes(8, 8*testPage))
	key := FileKey{ID: 1, Fingerprint: "churn"}
	for range 40 {
		readAll(t, s, key, src, testPage, ReadCache)
	}
	if ev := s.Stats().Evictions; ev < 200 {
		t.Fatalf("only %d evictions: the test does not churn", ev)
	}
	logPath := filepath.Join(dir, DefaultDataFolder, key.backingName()+logSuffix)
	fi, err := os.Stat(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// Uncompacted, 40 passes of 8 pages in and out would be 640 records.
	if fi.Size() > 200*logRecLen {
		t.Errorf("page log is %d bytes after churn; compaction should keep it small", fi.Size())
	}
	pages, _ := s.Cached(key, 8*testPage)
	s.Close()
	s = openStore(t, cfg)
	if got, _ := s.Cached(key, 8*testPage); got != pages || got == 0 {
		t.Errorf("after restart %d pages cached, want %d", got, pages)
	}
	checkAccounting(t, s)
}

func FuzzParseLog(f *testing.F) {
	h := logHeader{key: FileKey{ID: 7, Fingerprint: "etag"}, pageSize: testPage, size: 3 * testPage, flags: logPinned}
	good := append(h.encode(), encodeRecords([]logRecord{{typ: recPage, crc: 5, value: 1}, {typ: recPunch, value: 1}})...)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add([]byte(logMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, recs, err := parseLog(b)
		if err != nil {
			if !errors.Is(err, errBadLog) {
				t.Fatalf("error %v is not errBadLog", err)
			}
			return
		}
		if !strings.HasPrefix(string(b), logMagic) {
			t.Fatal("parsed a log without the magic")
		}
		// What parses survives a round trip.
		h2, recs2, err := parseLog(append(h.encode(), encodeRecords(recs)...))
		if err != nil || h2 != h || !slices.Equal(recs2, recs) {
			t.Fatalf("round trip: %+v %v %v, want %+v %v", h2, recs2, err, h, recs)
		}
	})
}

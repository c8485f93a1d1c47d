package blockstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenRejectsBadConfig(t *testing.T) {
	tmp := t.TempDir()
	regular := filepath.Join(tmp, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(tmp, "missing")
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr error
		wantIn  []string
	}{
		{"missing dir", func(c *Config) { c.Tiers[0].Dirs[0] = missing }, fs.ErrNotExist,
			[]string{missing, "alluxio.worker.tieredstore.level0.dirs.path"}},
		{"dir is a file", func(c *Config) { c.Tiers[0].Dirs[0] = regular }, syscall.ENOTDIR,
			[]string{regular, "alluxio.worker.tieredstore.level0.dirs.path"}},
		{"no tiers", func(c *Config) { c.Tiers = nil }, syscall.EINVAL,
			[]string{"alluxio.worker.tieredstore.levels"}},
		{"quota count", func(c *Config) { c.Tiers[0].Quotas = nil }, syscall.EINVAL,
			[]string{"alluxio.worker.tieredstore.level0.dirs.quota"}},
		{"zero quota", func(c *Config) { c.Tiers[0].Quotas[0] = 0 }, syscall.EINVAL,
			[]string{"alluxio.worker.tieredstore.level0.dirs.quota"}},
		{"high above one", func(c *Config) { c.Tiers[0].High = 1.5 }, syscall.EINVAL,
			[]string{"alluxio.worker.tieredstore.level0.watermark.high.ratio"}},
		{"low above high", func(c *Config) { c.Tiers[0].High, c.Tiers[0].Low = 0.5, 0.6 }, syscall.EINVAL,
			[]string{"alluxio.worker.tieredstore.level0.watermark.low.ratio"}},
		{"unaligned page", func(c *Config) { c.PageSize = 1000 }, syscall.EINVAL,
			[]string{"alluxio.worker.page.store.page.size"}},
		{"data folder escapes", func(c *Config) { c.DataFolder = "../x" }, syscall.EINVAL,
			[]string{"alluxio.worker.data.folder"}},
		{"data folder is the tier dir", func(c *Config) { c.DataFolder = "/" }, syscall.EINVAL,
			[]string{"alluxio.worker.data.folder"}},
		{"bad second tier", func(c *Config) {
			c.Tiers = append(c.Tiers, TierConfig{Alias: "SSD", Dirs: []string{tmp}})
		}, syscall.EINVAL, []string{"alluxio.worker.tieredstore.level1.dirs.quota"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, 4)
			tt.edit(&cfg)
			s, err := Open(cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			for _, want := range tt.wantIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestOpenRemovesLeftovers(t *testing.T) {
	cfg := testConfig(t, 4)
	cfg.DataFolder = "/alluxioworker/" // Alluxio's spelling of the default
	dir := cfg.Tiers[0].Dirs[0]
	stale := filepath.Join(dir, "alluxioworker", "1-0123456789abcdef")
	if err := os.MkdirAll(filepath.Dir(stale), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "not-ours")
	if err := os.WriteFile(outside, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	openStore(t, cfg)
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover page file: %v, want removed", err)
	}
	if fi, err := os.Stat(filepath.Dir(stale)); err != nil || !fi.IsDir() {
		t.Errorf("data folder: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("a file outside the data folder was touched: %v", err)
	}
}

func TestMultipleDirsAndTiers(t *testing.T) {
	cfg := testConfig(t, 4)
	cfg.Tiers[0].Dirs = append(cfg.Tiers[0].Dirs, t.TempDir())
	cfg.Tiers[0].Quotas = append(cfg.Tiers[0].Quotas, 4*testPage)
	cfg.Tiers = append(cfg.Tiers, TierConfig{Alias: "SSD", Dirs: []string{t.TempDir()}, Quotas: []int64{1 << 30},
		MediumTypes: []string{"NVME"}})
	s := openStore(t, cfg)
	for i := range 4 {
		src := newMemSource(randomBytes(uint64(i), 2*testPage))
		readAll(t, s, FileKey{ID: uint64(i), Fingerprint: "m"}, src, testPage, ReadCache)
	}
	st := s.Stats()
	if st.Capacity != 8*testPage+1<<30 || len(st.Tiers) != 3 {
		t.Fatalf("Capacity %d tiers %d, want %d over 3 dirs", st.Capacity, len(st.Tiers), 8*testPage+1<<30)
	}
	for _, ts := range st.Tiers[:2] {
		if ts.Alias != "MEM" || ts.Level != 0 || ts.MediumType != "MEM" || ts.Used != 4*testPage {
			t.Errorf("dir %s (%s level %d %s): used %d, want %d (files spread by free space)",
				ts.Dir, ts.Alias, ts.Level, ts.MediumType, ts.Used, 4*testPage)
		}
	}
	if ts := st.Tiers[2]; ts.Alias != "SSD" || ts.Level != 1 || ts.MediumType != "NVME" || ts.Used != 0 {
		t.Errorf("level 1 dir: %+v, want SSD NVME level 1 unused", ts)
	}
}

func TestRemove(t *testing.T) {
	s := openStore(t, testConfig(t, 16))
	src := newMemSource(randomBytes(5, 2*testPage))
	size := int64(len(src.data))
	keys := []FileKey{{ID: 1, Fingerprint: "a"}, {ID: 1, Fingerprint: "b"}, {ID: 2, Fingerprint: "a"}}
	for _, k := range keys {
		readAll(t, s, k, src, testPage, ReadCache)
	}
	paths := map[FileKey]string{}
	s.indexMu.Lock()
	for k, f := range s.files {
		paths[k] = f.path
	}
	s.indexMu.Unlock()

	s.Remove(keys[2])
	s.Remove(FileKey{ID: 99}) // absent: no-op
	if st := s.Stats(); st.Files != 2 || st.Used != 2*size {
		t.Fatalf("after Remove: files %d used %d", st.Files, st.Used)
	}
	s.RemoveID(1)
	if st := s.Stats(); st.Files != 0 || st.Used != 0 || st.Pages != 0 {
		t.Fatalf("after RemoveID: files %d used %d pages %d", st.Files, st.Used, st.Pages)
	}
	for k, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("backing file of %+v: %v, want removed", k, err)
		}
	}
	// A removed version is fetched again.
	readAll(t, s, keys[0], src, testPage, ReadCache)
	if got := s.Stats().BytesReadSource; got != 4*size {
		t.Errorf("BytesReadSource %d, want %d", got, 4*size)
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(testConfig(t, 4))
	if err != nil {
		t.Fatal(err)
	}
	src := newMemSource(randomBytes(1, testPage))
	key := FileKey{ID: 1, Fingerprint: "c"}
	readAll(t, s, key, src, testPage, ReadCache)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.ReadAt(context.Background(), key, testPage, src.open, make([]byte, 1), 0, ReadCache); !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("ReadAt after Close: %v, want ESHUTDOWN", err)
	}
	if _, err := s.Create(key, false); !errors.Is(err, syscall.ESHUTDOWN) {
		t.Errorf("Create after Close: %v, want ESHUTDOWN", err)
	}
	if _, _, ok := s.OpenWhole(key, testPage); ok {
		t.Error("OpenWhole after Close succeeded")
	}
}

func TestDevShmTier(t *testing.T) {
	if fi, err := os.Stat("/dev/shm"); err != nil || !fi.IsDir() {
		t.Skip("no /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "blockstore-test-")
	if err != nil {
		t.Skipf("/dev/shm not writable: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg := testConfig(t, 8)
	cfg.Tiers[0].Dirs[0] = dir
	cfg.Tiers[0].High, cfg.Tiers[0].Low = 1, 0.5
	s := openStore(t, cfg)

	src := newMemSource(randomBytes(9, 5*testPage+3))
	key := FileKey{ID: 1, Fingerprint: "shm"}
	size := int64(len(src.data))
	if got := readAll(t, s, key, src, 10000, ReadCache); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ")
	}
	f, release, ok := s.OpenWhole(key, size)
	if !ok {
		t.Fatal("OpenWhole failed on tmpfs")
	}
	got, err := io.ReadAll(f)
	f.Close()
	release()
	if err != nil || !bytes.Equal(got, src.data) {
		t.Fatalf("OpenWhole bytes differ: %v", err)
	}
	s.indexMu.Lock()
	path := s.files[key].path
	s.indexMu.Unlock()
	before := statBlocks(t, path)
	readAll(t, s, FileKey{ID: 2, Fingerprint: "shm"}, newMemSource(randomBytes(10, 4*testPage)), testPage, ReadCache)
	if after := statBlocks(t, path); after > before-3*testPage {
		t.Errorf("tmpfs blocks %d -> %d after evicting 3 pages", before, after)
	}
}

// TestFullFileSystem runs the store on a tmpfs smaller than its quota, so
// that page writes fail with the file system's own ENOSPC.
func TestFullFileSystem(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	cfg := testConfig(t, 64) // 1 MiB quota on a 64 KiB file system
	cfg.Tiers[0].Dirs[0] = dir
	s := openStore(t, cfg)

	src := newMemSource(randomBytes(12, 10*testPage))
	key := FileKey{ID: 1, Fingerprint: "full"}
	for range 2 {
		if got := readAll(t, s, key, src, 3*testPage, ReadCache); !bytes.Equal(got, src.data) {
			t.Fatal("bytes differ on a full file system")
		}
	}
	pages, total := s.Cached(key, int64(len(src.data)))
	if pages == 0 || pages >= total {
		t.Errorf("cached %d of %d pages on a 4-page file system", pages, total)
	}
	if st := s.Stats(); st.Used > 64<<10 {
		t.Errorf("Used %d counts pages the file system refused", st.Used)
	}
	checkAccounting(t, s)

	// The file system's ENOSPC below the quota failed the dir: a pinned
	// file cannot be created there.
	if ts := s.Stats().Tiers[0]; !ts.Failed || !strings.Contains(ts.Reason, "no space") {
		t.Errorf("tier after ENOSPC below quota: failed %t reason %q", ts.Failed, ts.Reason)
	}
	if _, err := s.Create(FileKey{ID: 2, Fingerprint: "pinned"}, true); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("pinned create on a full file system: %v, want ENOSPC", err)
	}
}

// TestOneDescriptorPerCachedFile caches many files and checks that the
// process holds one descriptor for each (its backing file), not two: the
// page log is opened only to append to it. A worker caching tens of
// thousands of small files must not run out of descriptors.
func TestOneDescriptorPerCachedFile(t *testing.T) {
	openFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	s := openStore(t, testConfig(t, 256))
	src := newMemSource(randomBytes(7, testPage))
	before := openFDs()
	const files = 64
	for i := range files {
		readAll(t, s, FileKey{ID: uint64(i + 1), Fingerprint: "v"}, src, testPage, ReadCache)
	}
	if st := s.Stats(); st.Files != files {
		t.Fatalf("%d files cached, want %d", st.Files, files)
	}
	if grew := openFDs() - before; grew > files+4 {
		t.Fatalf("caching %d files opened %d descriptors", files, grew)
	}
}

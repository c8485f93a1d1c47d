package blockstore

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mount runs mount(8) with args and unmounts target in t.Cleanup; it skips
// the test when mounting is not allowed (not root).
func mount(t *testing.T, target string, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", append(args, target)...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", target).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", target, err, out)
		}
	})
}

// tierStat returns the stats of the tier dir configured as dir.
func tierStat(t *testing.T, s *Store, dir string) TierStats {
	t.Helper()
	for _, ts := range s.Stats().Tiers {
		if ts.Dir == dir {
			return ts
		}
	}
	t.Fatalf("no tier dir %s in stats", dir)
	return TierStats{}
}

func TestOpenFailsOnlyWithoutAnyUsableDir(t *testing.T) {
	tmp := t.TempDir()
	missing0, missing1 := filepath.Join(tmp, "gone0"), filepath.Join(tmp, "gone1")
	cfg := testConfig(t, 4)
	cfg.Tiers[0].Dirs[0] = missing0
	cfg.Tiers = append(cfg.Tiers, TierConfig{Alias: "SSD", Dirs: []string{missing1}, Quotas: []int64{4 * testPage}})
	_, err := Open(cfg)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open with no usable dir: %v, want ErrNotExist", err)
	}
	for _, want := range []string{missing0, missing1, "alluxio.worker.tieredstore.level0.dirs.path",
		"alluxio.worker.tieredstore.level1.dirs.path"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}

	// One usable dir is enough; the missing one is probed until it exists.
	cfg.Tiers[1].Dirs[0] = t.TempDir()
	cfg.ProbeInterval = 10 * time.Millisecond
	s := openStore(t, cfg)
	ts := tierStat(t, s, missing0)
	if !ts.Failed || !strings.Contains(ts.Reason, "alluxio.worker.tieredstore.level0.dirs.path") || ts.Level != 0 {
		t.Fatalf("missing dir stats: %+v", ts)
	}
	if st := s.Stats(); st.Capacity != 4*testPage {
		t.Errorf("Capacity %d counts the failed dir", st.Capacity)
	}
	src := newMemSource(randomBytes(1, 2*testPage))
	key := FileKey{ID: 1, Fingerprint: "a"}
	if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ")
	}
	if ts := tierStat(t, s, cfg.Tiers[1].Dirs[0]); ts.Used != 2*testPage {
		t.Errorf("level 1 used %d, want the file there while level 0 is failed", ts.Used)
	}
	if err := os.Mkdir(missing0, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dir to be probed back", func() bool { return !tierStat(t, s, missing0).Failed })
	readAll(t, s, FileKey{ID: 2, Fingerprint: "b"}, src, testPage, ReadCache)
	if ts := tierStat(t, s, missing0); ts.Used != 2*testPage {
		t.Errorf("level 0 used %d after it came back, want the new file there", ts.Used)
	}
}

// TestReadOnlyDirRecoveredByProbe: a dir that is read-only at Open is
// failed; once writable, the probe recovers the files cached in it before.
func TestReadOnlyDirRecoveredByProbe(t *testing.T) {
	orig := t.TempDir()
	ro := t.TempDir()
	cfg := testConfig(t, 16)
	cfg.Tiers[0].Dirs[0] = orig
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := newMemSource(randomBytes(2, 3*testPage))
	key := FileKey{ID: 1, Fingerprint: "ro"}
	readAll(t, s, key, src, testPage, ReadCache)
	s.Close()

	mount(t, ro, "--bind", orig)
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", ro).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v %s", err, out)
	}
	good := t.TempDir()
	cfg.Tiers[0].Dirs = []string{ro, good}
	cfg.Tiers[0].Quotas = []int64{16 * testPage, 16 * testPage}
	cfg.ProbeInterval = 10 * time.Millisecond
	s = openStore(t, cfg)
	ts := tierStat(t, s, ro)
	if !ts.Failed || !strings.Contains(ts.Reason, "read-only") {
		t.Fatalf("read-only dir: failed %t reason %q", ts.Failed, ts.Reason)
	}
	if pages, _ := s.Cached(key, int64(len(src.data))); pages != 0 {
		t.Fatalf("%d pages of a failed dir recovered at Open", pages)
	}

	if out, err := exec.Command("mount", "-o", "remount,bind,rw", ro).CombinedOutput(); err != nil {
		t.Fatalf("remount rw: %v %s", err, out)
	}
	waitFor(t, "the dir to be probed back", func() bool { return !tierStat(t, s, ro).Failed })
	if pages, total := s.Cached(key, int64(len(src.data))); pages != total {
		t.Fatalf("after the probe: %d of %d pages recovered", pages, total)
	}
	if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ")
	}
	if c := src.totalCalls(); c != 3 {
		t.Errorf("source called %d times, want 3 (all from before the restart)", c)
	}
	checkAccounting(t, s)
}

// TestFullTmpfsFailsDir: a tmpfs smaller than the quota fills up; the dir
// fails, reads go on (cached pages from it, the rest from the source or the
// other dir), and once space is freed the probe brings it back.
func TestFullTmpfsFailsDir(t *testing.T) {
	small := t.TempDir()
	mount(t, small, "-t", "tmpfs", "-o", "size=2m", "tmpfs")
	other := t.TempDir()
	cfg := testConfig(t, 512) // 8 MiB quota on a 2 MiB file system
	cfg.Tiers[0].Dirs = []string{small, other}
	cfg.Tiers[0].Quotas = []int64{512 * testPage, 8 * testPage}
	cfg.ProbeInterval = time.Hour // probed by hand below
	s := openStore(t, cfg)

	big := newMemSource(randomBytes(3, 200*testPage)) // 3.2 MiB
	keyBig := FileKey{ID: 1, Fingerprint: "big"}
	size := int64(len(big.data))
	if got := readAll(t, s, keyBig, big, 4*testPage, ReadCache); !bytes.Equal(got, big.data) {
		t.Fatal("bytes differ while the file system fills")
	}
	ts := tierStat(t, s, small)
	if !ts.Failed || !strings.Contains(ts.Reason, "no space left") {
		t.Fatalf("full tmpfs: failed %t reason %q", ts.Failed, ts.Reason)
	}
	pages, total := s.Cached(keyBig, size)
	if pages < 64 || pages >= total {
		t.Fatalf("cached %d of %d pages on a 128-page file system", pages, total)
	}
	// Cached pages of the failed dir are still hits; the rest come from the
	// source, uncached.
	before := s.Stats()
	if got := readAll(t, s, keyBig, big, 4*testPage, ReadCache); !bytes.Equal(got, big.data) {
		t.Fatal("bytes differ on a failed dir")
	}
	after := s.Stats()
	if hit := after.BytesReadCache - before.BytesReadCache; hit < int64(pages)*testPage {
		t.Errorf("%d bytes from cache, want the %d cached pages", hit, pages)
	}
	if p2, _ := s.Cached(keyBig, size); p2 != pages {
		t.Errorf("a failed dir took new pages: %d -> %d", pages, p2)
	}
	// New files go to the other dir.
	small2 := newMemSource(randomBytes(4, 2*testPage))
	readAll(t, s, FileKey{ID: 2, Fingerprint: "b"}, small2, testPage, ReadCache)
	if ts := tierStat(t, s, other); ts.Used != 2*testPage {
		t.Errorf("other dir used %d, want the new file there", ts.Used)
	}
	// A pinned write cannot go to the failed dir either.
	w, err := s.Create(FileKey{ID: 3, Fingerprint: "p"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(make([]byte, testPage)); err != nil {
		t.Fatalf("pinned write while one dir failed: %v", err)
	}
	w.Close()
	if ts := tierStat(t, s, other); ts.Used != 3*testPage {
		t.Errorf("other dir used %d, want the pinned file there too", ts.Used)
	}

	// Free the space; a probe brings the dir back.
	s.Remove(keyBig)
	s.probeFailed()
	if ts := tierStat(t, s, small); ts.Failed {
		t.Fatalf("dir still failed after space was freed: %s", ts.Reason)
	}
	readAll(t, s, FileKey{ID: 4, Fingerprint: "c"}, newMemSource(randomBytes(5, 4*testPage)), testPage, ReadCache)
	if ts := tierStat(t, s, small); ts.Used != 4*testPage {
		t.Errorf("dir back in use holds %d bytes, want the new file", ts.Used)
	}
	checkAccounting(t, s)

	// With the only dir failed, a pinned Create fails with ENOSPC and an
	// unpinned one caches nothing but accepts the data.
	s.indexMu.Lock()
	for _, d := range s.dirs {
		s.markFailedLocked(d, syscall.EIO)
	}
	s.indexMu.Unlock()
	if _, err := s.Create(FileKey{ID: 5, Fingerprint: "p"}, true); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("pinned Create with every dir failed: %v, want ENOSPC", err)
	}
	w, err = s.Create(FileKey{ID: 6, Fingerprint: "u"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(make([]byte, 3*testPage)); n != 3*testPage || err != nil {
		t.Errorf("unpinned write with every dir failed: %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if pages, _ := s.Cached(FileKey{ID: 6, Fingerprint: "u"}, 3*testPage); pages != 0 {
		t.Errorf("%d pages cached with every dir failed", pages)
	}
}

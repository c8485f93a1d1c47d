package blockstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// twoLevels is a MEM level of memPages pages (watermarks high and low) over
// an SSD level of ssdPages pages.
func twoLevels(t *testing.T, memPages, ssdPages int64, high, low float64) Config {
	cfg := testConfig(t, memPages)
	cfg.Tiers[0].High, cfg.Tiers[0].Low = high, low
	cfg.Tiers = append(cfg.Tiers, TierConfig{Alias: "SSD", Dirs: []string{t.TempDir()}, Quotas: []int64{ssdPages * testPage},
		High: 1, Low: 1})
	return cfg
}

// levelOf returns the tier level holding key, or -1.
func levelOf(s *Store, key FileKey) int {
	for _, cf := range s.Files() {
		if cf.Key == key {
			return cf.Level
		}
	}
	return -1
}

func TestPlacementBySize(t *testing.T) {
	tests := []struct {
		name      string
		pages     int64
		wantLevel int
	}{
		{"fits level 0", 2, 0},
		{"fits level 0 exactly", 4, 0},
		{"larger than level 0", 5, 1},
		{"larger than every level", 40, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, twoLevels(t, 4, 32, 1, 1))
			src := newMemSource(randomBytes(uint64(i), tt.pages*testPage))
			key := FileKey{ID: 1, Fingerprint: "p"}
			if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) {
				t.Fatal("bytes differ")
			}
			if l := levelOf(s, key); l != tt.wantLevel {
				t.Fatalf("file of %d pages on level %d, want %d", tt.pages, l, tt.wantLevel)
			}
			if tt.pages <= 32 {
				// The whole file lives in one backing file: OpenWhole works.
				f, release, ok := s.OpenWhole(key, int64(len(src.data)))
				if !ok {
					t.Fatal("OpenWhole failed")
				}
				got, _ := io.ReadAll(f)
				f.Close()
				release()
				if !bytes.Equal(got, src.data) {
					t.Fatal("OpenWhole bytes differ")
				}
			}
			checkAccounting(t, s)
		})
	}
}

func TestDemotion(t *testing.T) {
	cfg := twoLevels(t, 8, 64, 0.75, 0.5) // demote past 6 pages, down to 4
	s := openStore(t, cfg)
	srcs := map[FileKey]*memSource{}
	read := func(id uint64, pages int64) FileKey {
		key := FileKey{ID: id, Fingerprint: "d"}
		if srcs[key] == nil {
			srcs[key] = newMemSource(randomBytes(id, pages*testPage))
		}
		if got := readAll(t, s, key, srcs[key], testPage, ReadCache); !bytes.Equal(got, srcs[key].data) {
			t.Fatalf("file %d: bytes differ", id)
		}
		return key
	}
	a := read(1, 3)
	b := read(2, 3)
	leased, release, ok := s.OpenWhole(b, 3*testPage) // a lease keeps B from moving
	if !ok {
		t.Fatal("OpenWhole B")
	}
	defer leased.Close()
	c := read(3, 1) // passes the high watermark
	waitFor(t, "A demoted", func() bool { return levelOf(s, a) == 1 })
	checkAccounting(t, s)
	st := s.Stats()
	if st.Demotions != 1 || st.Tiers[0].Demotions != 1 || st.Evictions != 0 {
		t.Errorf("demotions %d (dir %d) evictions %d, want 1, 1, 0", st.Demotions, st.Tiers[0].Demotions, st.Evictions)
	}
	if levelOf(s, b) != 0 || levelOf(s, c) != 0 {
		t.Errorf("B on level %d, C on level %d; want both on 0 (B leased, C recent)", levelOf(s, b), levelOf(s, c))
	}
	if st.Tiers[0].Used != 4*testPage || st.Tiers[1].Used != 3*testPage {
		t.Errorf("used %d and %d, want 4 and 3 pages", st.Tiers[0].Used, st.Tiers[1].Used)
	}
	release()

	// A is read from level 1 as hits, not from the source.
	calls := srcs[a].totalCalls()
	read(1, 3)
	if srcs[a].totalCalls() != calls {
		t.Error("demoted file read from the source")
	}
	// The old backing file and log are gone from level 0.
	old := filepath.Join(cfg.Tiers[0].Dirs[0], DefaultDataFolder, a.backingName())
	for _, p := range []string{old, old + logSuffix} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after demotion: %v, want removed", p, err)
		}
	}
	// The move survives a restart.
	s.Close()
	s = openStore(t, cfg)
	if levelOf(s, a) != 1 || levelOf(s, b) != 0 {
		t.Errorf("after restart A on %d, B on %d; want 1 and 0", levelOf(s, a), levelOf(s, b))
	}
	checkAccounting(t, s)
}

func TestDemotionFallsBackToEviction(t *testing.T) {
	// The lower level is too small for the file: pages are evicted instead.
	s := openStore(t, twoLevels(t, 4, 2, 0.75, 0.5))
	src := newMemSource(randomBytes(1, 3*testPage))
	a := FileKey{ID: 1, Fingerprint: "a"}
	readAll(t, s, a, src, testPage, ReadCache)
	readAll(t, s, FileKey{ID: 2, Fingerprint: "b"}, newMemSource(randomBytes(2, testPage)), testPage, ReadCache)
	waitFor(t, "eviction", func() bool { return s.Stats().Evictions > 0 })
	checkAccounting(t, s)
	if st := s.Stats(); st.Demotions != 0 || st.Tiers[0].Used > 2*testPage {
		t.Errorf("demotions %d, level 0 used %d; want 0 and at most 2 pages", st.Demotions, st.Tiers[0].Used)
	}
}

func TestPromotion(t *testing.T) {
	s := openStore(t, twoLevels(t, 8, 64, 0.75, 0.5))
	// Cache a file on level 0, then demote it by hand.
	src := newMemSource(randomBytes(1, 5*testPage))
	key := FileKey{ID: 1, Fingerprint: "p"}
	readAll(t, s, key, src, testPage, ReadCache)
	if levelOf(s, key) != 0 {
		t.Fatalf("setup: file on level %d", levelOf(s, key))
	}
	s.indexMu.Lock()
	mv, _ := s.startMoveLocked(s.files[key], s.targetsLocked(1, 2), false)
	s.indexMu.Unlock()
	if mv == nil || !s.runMove(mv) || levelOf(s, key) != 1 {
		t.Fatal("setup: demotion failed")
	}

	// ReadCache hits leave it where it is.
	readAll(t, s, key, src, testPage, ReadCache)
	time.Sleep(20 * time.Millisecond)
	if levelOf(s, key) != 1 || s.Stats().Promotions != 0 {
		t.Fatal("a ReadCache hit promoted the file")
	}
	// A ReadCachePromote hit moves it up.
	if got := readAll(t, s, key, src, testPage, ReadCachePromote); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ")
	}
	waitFor(t, "promotion", func() bool { return levelOf(s, key) == 0 })
	st := s.Stats()
	if st.Promotions != 1 || st.Tiers[0].Promotions != 1 {
		t.Errorf("promotions %d (dir %d), want 1", st.Promotions, st.Tiers[0].Promotions)
	}
	if c := src.totalCalls(); c != 5 {
		t.Errorf("source called %d times, want 5 (the first read only)", c)
	}
	if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) {
		t.Fatal("bytes differ after promotion")
	}
	checkAccounting(t, s)
}

func TestInterruptedMoveDeduped(t *testing.T) {
	cfg := twoLevels(t, 8, 64, 1, 1)
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := newMemSource(randomBytes(1, 3*testPage))
	key := FileKey{ID: 1, Fingerprint: "m"}
	readAll(t, s, key, src, testPage, ReadCache)
	s.Close()
	// A crash after the copy was renamed into place, before the old one
	// was removed: both dirs hold the file.
	from := filepath.Join(cfg.Tiers[0].Dirs[0], DefaultDataFolder, key.backingName())
	to := filepath.Join(cfg.Tiers[1].Dirs[0], DefaultDataFolder, key.backingName())
	os.MkdirAll(filepath.Dir(to), 0o700)
	for _, suffix := range []string{"", logSuffix} {
		b, err := os.ReadFile(from + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// And a copy that was never renamed into place.
	os.WriteFile(to+".moving", []byte("partial"), 0o600)

	s = openStore(t, cfg)
	if st := s.Stats(); st.Files != 1 || st.Pages != 3 {
		t.Fatalf("after recovery: %d files %d pages, want 1 and 3", st.Files, st.Pages)
	}
	checkAccounting(t, s)
	left := 0
	for _, d := range cfg.Tiers {
		entries, _ := os.ReadDir(filepath.Join(d.Dirs[0], DefaultDataFolder))
		left += len(entries)
	}
	if left != 2 {
		t.Errorf("%d files left in the data folders, want one backing file and its log", left)
	}
	if got := readAll(t, s, key, src, testPage, ReadCache); !bytes.Equal(got, src.data) || src.totalCalls() != 3 {
		t.Fatal("deduped file not served from the cache")
	}
}

// TestConcurrentMovesAndReads: many readers on two small levels, with
// promotions, demotions, evictions, leases and removals racing; every byte
// must be right and the accounting must add up.
func TestConcurrentMovesAndReads(t *testing.T) {
	for _, evictor := range []string{EvictorLRU, EvictorLRFU} {
		t.Run(evictor, func(t *testing.T) {
			cfg := twoLevels(t, 12, 16, 0.75, 0.5)
			cfg.Tiers[1].High, cfg.Tiers[1].Low = 0.9, 0.6
			cfg.Tiers[1].Alias = "SSD"
			cfg.Evictor = evictor
			cfg.PrefetchPages = 2
			s := openStore(t, cfg)
			const files = 6
			srcs := make([]*memSource, files)
			for i := range srcs {
				srcs[i] = newMemSource(randomBytes(uint64(90+i), int64(3*testPage+i*3000)))
			}
			errs := make(chan error, 64)
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var churn sync.WaitGroup
			churn.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					id := uint64(i % files)
					key := FileKey{ID: id, Fingerprint: "v"}
					switch i % 5 {
					case 0:
						s.Remove(key)
					case 1, 2:
						size := int64(len(srcs[id].data))
						if f, release, ok := s.OpenWhole(key, size); ok {
							got, err := io.ReadAll(f)
							if err != nil || !bytes.Equal(got, srcs[id].data) {
								errs <- fmt.Errorf("OpenWhole of file %d: bytes differ (%v)", id, err)
							}
							f.Close()
							release()
						}
					case 3:
						s.SetPinned(id, i%2 == 0)
					case 4:
						s.SetPinned(id, false)
					}
					time.Sleep(time.Millisecond)
				}
			})
			for g := range 12 {
				wg.Go(func() {
					r := randomBytes(uint64(g), 600)
					for i := 0; i+3 < len(r); i += 4 {
						id := int(r[i]) % files
						src := srcs[id]
						key := FileKey{ID: uint64(id), Fingerprint: "v"}
						size := int64(len(src.data))
						off := int64(r[i+1]) * size / 256
						p := make([]byte, 1+int64(r[i+2])*int64(r[i+3]))
						rt := []ReadType{ReadCache, ReadCachePromote, ReadCachePromote, ReadNoCache}[r[i]%4]
						n, err := s.ReadAt(context.Background(), key, size, src.open, p, off, rt)
						if err != nil && err != io.EOF {
							errs <- err
							return
						}
						if !bytes.Equal(p[:n], src.data[off:off+int64(n)]) {
							errs <- fmt.Errorf("file %d at %d: bytes differ", id, off)
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
			for id := range files {
				s.SetPinned(uint64(id), false)
			}
			checkAccounting(t, s)
			st := s.Stats()
			t.Logf("demotions %d promotions %d evictions %d", st.Demotions, st.Promotions, st.Evictions)
			for _, ts := range st.Tiers {
				if ts.Used > ts.Capacity {
					t.Errorf("dir %s: used %d > capacity %d", ts.Dir, ts.Used, ts.Capacity)
				}
			}
		})
	}
}

package client

import (
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

func stamp(epoch, before, after uint64) *wire.Stamp {
	return &wire.Stamp{Epoch: epoch, Before: before, After: after}
}

func testCache(t *testing.T) *metaCache {
	t.Helper()
	return newMetaCache(MetadataCacheConfig{MaxSize: 100, Expiration: time.Hour})
}

// putAt answers a read of p at version v of epoch 1.
func putAt(c *metaCache, v uint64, p string, size int64) {
	c.update(time.Now(), stamp(1, v, v), false, func(u cacheUpdate) { u.put(p, meta.FileInfo{Size: size}) })
}

func cachedSize(c *metaCache, p string) (int64, bool) {
	e, ok := c.get(p)
	return e.attr.Size, ok
}

func TestMetaCacheStamps(t *testing.T) {
	cases := []struct {
		name string
		// then runs after /a was cached with size 1 at version 10.
		then func(c *metaCache)
		// want is /a's cached size afterwards, or ok false.
		want int64
		ok   bool
	}{
		{"read at the same version is served", func(c *metaCache) {}, 1, true},
		{"a newer read empties the cache", func(c *metaCache) { putAt(c, 11, "/b", 2) }, 0, false},
		{"an older read is dropped", func(c *metaCache) { putAt(c, 9, "/a", 5) }, 1, true},
		{"a read another change overlapped is not cached", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 10, 11), false, func(u cacheUpdate) { u.put("/a", meta.FileInfo{Size: 7}) })
		}, 0, false},
		{"an own change alone is applied", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 10, 11), true, func(u cacheUpdate) { u.put("/a", meta.FileInfo{Size: 3}) })
		}, 3, true},
		{"an own change with another empties the cache", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 10, 12), true, func(u cacheUpdate) { u.put("/a", meta.FileInfo{Size: 3}) })
		}, 0, false},
		{"an own change after unseen ones empties the rest", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 11, 12), true, func(u cacheUpdate) { u.put("/c", meta.FileInfo{Size: 3}) })
		}, 0, false},
		{"another epoch empties the cache", func(c *metaCache) { putAt(c, 10, "/b", 2); putAt2(c) }, 0, false},
		{"a call without a stamp ends the trust", func(c *metaCache) {
			c.update(time.Now(), nil, true, func(u cacheUpdate) { t.Error("applied without a stamp") })
		}, 0, false},
		{"distrust ends the trust", func(c *metaCache) { c.distrust() }, 0, false},
		{"trust comes back with a confirming read", func(c *metaCache) { c.distrust(); putAt(c, 10, "/b", 2) }, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testCache(t)
			putAt(c, 10, "/a", 1)
			tc.then(c)
			got, ok := cachedSize(c, "/a")
			if ok != tc.ok || ok && got != tc.want {
				t.Fatalf("/a: size %d, cached %v; want %d, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// putAt2 answers a read from another epoch (another master).
func putAt2(c *metaCache) {
	c.update(time.Now(), stamp(2, 10, 10), false, func(u cacheUpdate) { u.put("/z", meta.FileInfo{}) })
}

func TestMetaCacheExpires(t *testing.T) {
	c := newMetaCache(MetadataCacheConfig{MaxSize: 10, Expiration: time.Minute})
	c.update(time.Now().Add(-2*time.Minute), stamp(1, 1, 1), false, func(u cacheUpdate) { u.put("/a", meta.FileInfo{}) })
	if _, ok := c.get("/a"); ok {
		t.Fatal("an entry confirmed two minutes ago is served with a one-minute expiration")
	}
	putAt(c, 1, "/b", 0)
	if _, ok := c.get("/a"); !ok {
		t.Fatal("a read at the same version did not confirm the older entries")
	}
	if c.hits != 1 || c.misses != 1 {
		t.Fatalf("hits %d, misses %d; want 1 and 1", c.hits, c.misses)
	}
	putAt(c, 2, "/c", 0) // a change this cache did not make
	if c.resets != 1 || len(c.entries) != 1 {
		t.Fatalf("after a newer version: %d resets, %d entries; want 1 and 1", c.resets, len(c.entries))
	}
}

func TestMetaCacheOwnChanges(t *testing.T) {
	own := func(c *metaCache, v uint64, fn func(u cacheUpdate)) { c.update(time.Now(), stamp(1, v, v+1), true, fn) }
	c := testCache(t)
	c.update(time.Now(), stamp(1, 1, 1), false, func(u cacheUpdate) { u.put("/", meta.FileInfo{IsDir: true, Nlink: 2}) })
	own(c, 1, func(u cacheUpdate) { u.created(meta.FileInfo{Path: "/d", IsDir: true, Ctime: 5e9}) })
	if e, _ := c.get("/"); !e.attr.Mtime.Equal(time.Unix(5, 0)) || !e.attr.Ctime.Equal(time.Unix(5, 0)) || e.attr.Nlink != 3 {
		t.Fatalf("parent mtime %v, ctime %v, nlink %d after a mkdir at 5s; want 5s, 5s, 3", e.attr.Mtime, e.attr.Ctime, e.attr.Nlink)
	}
	own(c, 2, func(u cacheUpdate) { u.created(meta.FileInfo{Path: "/d/f", Size: 4}) })
	if size, ok := cachedSize(c, "/d/f"); !ok || size != 4 {
		t.Fatalf("created file: %d, %v", size, ok)
	}
	// Removing a directory forgets everything under it; removing a
	// file only the file.
	putAt(c, 3, "/d/sub/y", 1)
	putAt(c, 3, "/e/g", 1)
	own(c, 3, func(u cacheUpdate) { u.forgetTree("/d") })
	for _, p := range []string{"/d", "/d/f", "/d/sub/y"} {
		if _, ok := c.get(p); ok {
			t.Fatalf("%s is still answered after its directory was forgotten", p)
		}
	}
	if _, ok := c.get("/e/g"); !ok {
		t.Fatal("forgetting /d dropped /e/g")
	}
	// A missing path is never answered from the cache.
	if _, ok := c.get("/nope"); ok {
		t.Fatal("a path never cached was answered")
	}
}

func TestMetaCacheBounded(t *testing.T) {
	c := newMetaCache(MetadataCacheConfig{MaxSize: 16, Expiration: time.Hour})
	c.update(time.Now(), stamp(1, 1, 1), false, func(u cacheUpdate) {
		for i := range 100 {
			u.putInfo(meta.FileInfo{Path: fmt.Sprintf("/e/%d", i), Size: int64(i)})
		}
	})
	if n := len(c.entries); n > 16 || n == 0 {
		t.Fatalf("%d entries with a maximum of 16", n)
	}
	if size, ok := cachedSize(c, "/e/99"); !ok || size != 99 {
		t.Fatalf("the newest entry: %d, %v", size, ok)
	}
}

// names lists dir from the cache: its names joined, or ok false.
func names(c *metaCache, dir, after string) (string, bool) {
	entries, ok := c.list(dir, after)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return strings.Join(out, " "), ok
}

// TestMetaCacheListings: a directory listed whole in one exact page, or
// made empty by this client, is listed from the cache with the entries
// created in it since, in name order, less those removed and with those
// renamed in it; a listing is forgotten when an entry of it is gone from
// the cache, when the cache is emptied, and is
// not served once the sync interval has passed since the master listed
// it.
func TestMetaCacheListings(t *testing.T) {
	own := func(c *metaCache, v uint64, fn func(u cacheUpdate)) { c.update(time.Now(), stamp(1, v, v+1), true, fn) }
	infos := func(dir string, names ...string) []meta.FileInfo {
		var out []meta.FileInfo
		for _, n := range names {
			out = append(out, meta.FileInfo{Path: path.Join(dir, n), Name: n})
		}
		return out
	}
	listAt := func(c *metaCache, v uint64, dir string, names ...string) {
		c.update(time.Now(), stamp(1, v, v), false, func(u cacheUpdate) {
			for _, fi := range infos(dir, names...) {
				u.putInfo(fi)
			}
			u.listed(dir, infos(dir, names...))
		})
	}
	cases := []struct {
		name string
		// then runs after /d was listed with b and a at version 10.
		then  func(c *metaCache)
		dir   string
		after string
		want  string
		ok    bool
	}{
		{"a listing is served in order", func(c *metaCache) {}, "/d", "", "a b", true},
		{"from a name on", func(c *metaCache) {}, "/d", "a", "b", true},
		{"an unlisted directory is not", func(c *metaCache) {}, "/e", "", "", false},
		{"a create adds its name", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.created(meta.FileInfo{Path: "/d/ab", Name: "ab"}) })
		}, "/d", "", "a ab b", true},
		{"a new directory made empty is known whole", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.created(meta.FileInfo{Path: "/d/n", Name: "n", IsDir: true, Loaded: true}) })
		}, "/d/n", "", "", true},
		{"one that was there in the under-store is not", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.created(meta.FileInfo{Path: "/d/n", Name: "n", IsDir: true}) })
		}, "/d/n", "", "", false},
		{"a remove takes the name out", func(c *metaCache) { own(c, 10, removed("/d/a")) }, "/d", "", "b", true},
		{"a rename moves the name", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) {
				renamed("/d/a", "/d/c")(u)
				u.putInfo(meta.FileInfo{Path: "/d/c", Name: "c"}) // as the answer has it
			})
		}, "/d", "", "b c", true},
		{"a rename whose moved entry the answer lacks ends the listing's use", func(c *metaCache) {
			own(c, 10, renamed("/d/a", "/d/c"))
		}, "/d", "", "", false},
		{"a subtree forgotten ends the listing's use", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.forgetTree("/d/a") })
		}, "/d", "", "", false},
		{"an entry forgotten ends the listing's use", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.forget("/d/b") })
		}, "/d", "", "", false},
		{"removing the directory forgets it", func(c *metaCache) {
			own(c, 10, func(u cacheUpdate) { u.forgetTree("/d") })
		}, "/d", "", "", false},
		{"a change elsewhere empties the cache", func(c *metaCache) { putAt(c, 11, "/x", 1) }, "/d", "", "", false},
		{"distrust stops serving it", func(c *metaCache) { c.distrust() }, "/d", "", "", false},
		{"a page of a file is not a listing", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 10, 10), false, func(u cacheUpdate) {
				u.putInfo(meta.FileInfo{Path: "/f", Name: "f"})
				u.listed("/f", []meta.FileInfo{{Path: "/f", Name: "f"}})
			})
		}, "/f", "", "", false},
		{"an entry dropped for room forgets the listings", func(c *metaCache) {
			c.update(time.Now(), stamp(1, 10, 10), false, func(u cacheUpdate) {
				for i := range 200 {
					u.putInfo(meta.FileInfo{Path: fmt.Sprintf("/many/%d", i)})
				}
			})
		}, "/d", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testCache(t)
			c.cfg.SyncInterval = -1
			listAt(c, 10, "/d", "b", "a")
			tc.then(c)
			got, ok := names(c, tc.dir, tc.after)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("listing %s after %q: %q, %v; want %q, %v", tc.dir, tc.after, got, ok, tc.want, tc.ok)
			}
		})
	}

	c := newMetaCache(MetadataCacheConfig{MaxSize: 100, Expiration: time.Hour, SyncInterval: time.Minute})
	c.update(time.Now().Add(-2*time.Minute), stamp(1, 1, 1), false, func(u cacheUpdate) { u.listed("/", nil) })
	putAt(c, 1, "/x", 0) // trusted again
	if _, ok := c.list("/", ""); ok {
		t.Fatal("a listing from two minutes ago is served with a one-minute sync interval")
	}
	listAt(c, 1, "/", "x")
	if got, ok := names(c, "/", ""); !ok || got != "x" {
		t.Fatalf("a fresh listing of /: %q, %v", got, ok)
	}
}

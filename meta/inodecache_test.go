package meta

import (
	"encoding/json"
	"testing"
)

// TestInodeCache: a hit needs the very bytes the inode was decoded from,
// hands out copies that callers may change, and the cache stays bounded.
func TestInodeCache(t *testing.T) {
	c := newInodeCache()
	n := &inode{ID: 7, Name: "f", Size: 3, Xattrs: map[string][]byte{"user.a": []byte("x")}}
	raw, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.get(7, raw); ok {
		t.Fatal("hit in an empty cache")
	}
	c.put(7, raw, n)
	n.Size = 99 // the caller's copy changing after put
	got, ok := c.get(7, raw)
	if !ok || got.Size != 3 || got.Name != "f" {
		t.Fatalf("get after put: %+v %v, want the inode as put", got, ok)
	}
	got.Size, got.Xattrs["user.a"][0] = 42, 'y'
	again, _ := c.get(7, raw)
	if again.Size != 3 || string(again.Xattrs["user.a"]) != "x" {
		t.Errorf("a change to a returned inode reached the cache: %+v", again)
	}
	changed, _ := json.Marshal(&inode{ID: 7, Name: "f", Size: 4})
	if _, ok := c.get(7, changed); ok {
		t.Error("hit for different bytes of the same inode")
	}
	for i := range uint64(3 * inodeCacheSize) {
		c.put(i+100, raw, n)
	}
	if l := len(c.entries); l > inodeCacheSize {
		t.Errorf("%d entries, want at most %d", l, inodeCacheSize)
	}
	var nilCache *inodeCache
	nilCache.put(1, raw, n)
	if _, ok := nilCache.get(1, raw); ok {
		t.Error("hit in a nil cache")
	}
}

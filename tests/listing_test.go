package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLargeDirectoryListing: a directory of 30,000 files put straight into
// the under-store is listed in pages of 100 (a small
// alluxio.master.filesystem.liststatus.result.message.length) end to end:
// ls -f, find and Python's os.scandir through the mount, and alluxio fs ls
// and count, each see exactly the 30,000 names once. A reader that
// remembers a position with telldir and goes back with seekdir reads the
// same entries again.
func TestLargeDirectoryListing(t *testing.T) {
	const n = 30000
	c := newCluster(t, map[string]string{
		"alluxio.master.filesystem.liststatus.result.message.length": "100",
	})
	dir := filepath.Join(c.ufs, "big")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]bool, n)
	for i := range n {
		name := fmt.Sprintf("file-%05d", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		want[name] = true
	}
	c.start()
	big := filepath.Join(c.mnt, "big")

	// check compares a program's listing (one name per line, "." and
	// ".." ignored, paths cut to their base name) with the directory.
	check := func(what, out string) {
		t.Helper()
		seen := make(map[string]int, n)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			name := filepath.Base(strings.TrimSpace(line))
			if name == "." || name == ".." {
				continue
			}
			seen[name]++
		}
		bad := 0
		for name, k := range seen {
			if k != 1 || !want[name] {
				if bad++; bad <= 5 {
					t.Errorf("%s: %q listed %d times (in the directory: %v)", what, name, k, want[name])
				}
			}
		}
		if len(seen) != n || bad > 0 {
			t.Errorf("%s: %d distinct names, %d wrong; want the %d names once each", what, len(seen), bad, n)
		}
	}

	check("ls -f", sh(t, "ls -f "+big))
	check("find", sh(t, "find "+big+" -mindepth 1"))
	check("os.scandir", sh(t, `python3 -c 'import os, sys
for e in os.scandir(sys.argv[1]): print(e.name)' `+big))

	ls := c.must("alluxio", "fs", "ls", "/big")
	var lsNames []string
	for _, line := range strings.Split(ls, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[len(f)-1], "/big/") {
			lsNames = append(lsNames, f[len(f)-1])
		}
	}
	check("alluxio fs ls", strings.Join(lsNames, "\n"))
	for i := 1; i < len(lsNames); i++ {
		if lsNames[i-1] >= lsNames[i] {
			t.Errorf("alluxio fs ls: %s printed before %s", lsNames[i-1], lsNames[i])
			break
		}
	}
	if out := c.must("alluxio", "fs", "count", "/big"); !strings.Contains(out, fmt.Sprint(n)) {
		t.Errorf("alluxio fs count /big: %s", out)
	}

	// telldir / seekdir / rewinddir across pages, through glibc.
	out := sh(t, `perl -e '
		opendir(my $d, $ARGV[0]) or die "opendir: $!";
		readdir($d) for 1..12345;
		my $pos = telldir($d);
		my @first = map { scalar readdir($d) } 1..10;
		my $rest = 0; $rest++ while defined(readdir($d));
		seekdir($d, $pos);
		my @again = map { scalar readdir($d) } 1..10;
		print "differ: @first | @again\n" if "@first" ne "@again";
		rewinddir($d);
		my $all = 0; $all++ while defined(readdir($d));
		print "rest=$rest all=$all\n";' `+big)
	if strings.Contains(out, "differ") {
		t.Errorf("seekdir back to a telldir position read other entries: %s", out)
	}
	// ls -f shows no "." or ".." here, so the counts are of names only
	// unless the mount adds them; accept either.
	if !strings.Contains(out, fmt.Sprintf("all=%d", n)) && !strings.Contains(out, fmt.Sprintf("all=%d", n+2)) {
		t.Errorf("rewinddir then reading to the end: %s; want %d entries", out, n)
	}
}

// TestListingKnownEntries: a READDIRPLUS sends the entries the kernel
// already holds without their attributes, and every other entry with
// them. With minute-long entry and attribute timeouts, a file another
// mount replaced (a new inode under the old name) is seen as the new one
// by a stat right after the listing, a new name lists with its type, and
// the names the kernel knew list unchanged.
func TestListingKnownEntries(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.fuse.entry.timeout": "1m",
		"alluxio.fuse.attr.timeout":  "1m",
		// The daemon's metadata cache would answer the listing for
		// this long after the other mount's change.
		"alluxio.user.metadata.cache.expiration.time": "100ms",
	})
	c.start()
	mnt2 := secondMount(t, c, "mnt2")
	dir := filepath.Join(c.mnt, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "replaced"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ino := func(p string) (uint64, int64) {
		t.Helper()
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino, st.Size
	}
	oldIno, _ := ino(filepath.Join(dir, "replaced"))
	keptIno, _ := ino(filepath.Join(dir, "kept"))
	ino(filepath.Join(dir, "sub"))

	// The second mount replaces a file and adds a directory.
	d2 := filepath.Join(mnt2, "d")
	if err := os.Remove(filepath.Join(d2, "replaced")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d2, "replaced"), []byte("twelve bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(d2, "new"), 0o755); err != nil {
		t.Fatal(err)
	}

	time.Sleep(200 * time.Millisecond)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, fmt.Sprintf("%s dir=%v", e.Name(), e.IsDir()))
	}
	want := []string{"kept dir=false", "new dir=true", "replaced dir=false", "sub dir=true"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("listing: %v, want %v", got, want)
	}
	newIno, size := ino(filepath.Join(dir, "replaced"))
	if newIno == oldIno || size != 12 {
		t.Errorf("replaced: inode %d size %d after the listing; want a new inode (not %d) of 12 bytes", newIno, size, oldIno)
	}
	if i, size := ino(filepath.Join(dir, "kept")); i != keptIno || size != 1 {
		t.Errorf("kept: inode %d size %d, want %d and 1", i, size, keptIno)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "replaced")); err != nil || string(b) != "twelve bytes" {
		t.Errorf("reading replaced: %q, %v", b, err)
	}
}

// TestCachedListingSyncs: with the metadata cache trusted for an hour, a
// directory the mount made is listed from the cache, but for no longer
// than alluxio.user.file.metadata.sync.interval, so that a file put
// straight into the under-store shows up in the listing about as soon as
// the master syncs the directory.
func TestCachedListingSyncs(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.user.metadata.cache.expiration.time": "1h",
		"alluxio.user.file.metadata.sync.interval":    "500ms",
	})
	c.start()
	dir := filepath.Join(c.mnt, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func() string {
		t.Helper()
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return strings.Join(out, " ")
	}
	if got := names(); got != "mine" {
		t.Fatalf("listing: %q, want mine", got)
	}
	if err := os.WriteFile(filepath.Join(c.ufs, "d", "theirs"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for got := names(); got != "mine theirs"; got = names() {
		if time.Now().After(deadline) {
			t.Fatalf("listing 15s after a file was put into the under-store: %q, want mine theirs", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestNameChangeRacingCommit removes or moves a file while another open of
// it closes over and over, as sqlite3 does with its rollback journal (close,
// then unlink, while the kernel's release of the descriptor is still on its
// way). Each close commits the shared writer; a commit that overlapped the
// master's removal wrote the file back into the under-store, where the next
// lookup found it again: sqlite3 then took the dead journal for a hot one
// and rolled back a committed transaction.
func TestNameChangeRacingCommit(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	data := bytes.Repeat([]byte("journal!"), 32<<10) // 256 KiB
	const rounds = 30

	cases := []struct {
		name string
		// change removes or moves name in dir and returns the name the
		// file should have afterwards ("" for none).
		change func(dir, name string) (string, error)
	}{
		{"unlink", func(dir, name string) (string, error) {
			return "", os.Remove(filepath.Join(dir, name))
		}},
		{"rename", func(dir, name string) (string, error) {
			return name + ".moved", os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".moved"))
		}},
		{"rename over", func(dir, name string) (string, error) {
			// The file racing its closes is the one replaced.
			src := filepath.Join(dir, name+".new")
			if err := os.WriteFile(src, []byte("replacement"), 0o644); err != nil {
				return "", err
			}
			return name, os.Rename(src, filepath.Join(dir, name))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range rounds {
				name := fmt.Sprintf("%s-%d", filepath.Base(t.Name()), i)
				p := filepath.Join(c.mnt, name)
				f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(data, 0); err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				stopLoop := closeLoop(p, len(data))
				now, err := tc.change(c.mnt, name)
				stopLoop()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				checkOnlyName(t, c, i, name, now)
			}
		})
	}
}

// checkOnlyName fails the test when the file's old name is still seen,
// through the mount or in the under-store, or when its new name does not
// show the same bytes in both.
func checkOnlyName(t *testing.T, c *cluster, round int, old, now string) {
	t.Helper()
	if old != now {
		for _, p := range []string{filepath.Join(c.mnt, old), filepath.Join(c.ufs, old)} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("round %d: %s is still there after its name was changed (stat: %v)", round, p, err)
			}
		}
	}
	if now == "" {
		return
	}
	mnt, err := os.ReadFile(filepath.Join(c.mnt, now))
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	ufs, err := os.ReadFile(filepath.Join(c.ufs, now))
	if err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	if !bytes.Equal(mnt, ufs) {
		t.Fatalf("round %d: %s: the mount shows %d bytes, the under-store holds %d other bytes", round, now, len(mnt), len(ufs))
	}
}

// TestUnlinkRacingCommitAcrossMounts is the same race across two mounts
// (two FUSE daemons stand in for two nodes): one keeps writing and closing
// a file while the other unlinks it; once the unlink succeeded, the file
// must stay gone from the namespace and the under-store.
func TestUnlinkRacingCommitAcrossMounts(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	mnt2 := secondMount(t, c, "mnt2")
	data := bytes.Repeat([]byte("payload!"), 16<<10) // 128 KiB
	for i := range 30 {
		name := fmt.Sprintf("race-%d", i)
		if err := os.WriteFile(filepath.Join(c.mnt, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		stopLoop := closeLoop(filepath.Join(c.mnt, name), len(data))
		var err error
		for range 100 { // the other mount may not see the file yet
			if err = os.Remove(filepath.Join(mnt2, name)); err == nil {
				break
			}
		}
		stopLoop()
		if err != nil {
			t.Fatalf("round %d: unlink through the second mount: %v", i, err)
		}
		if _, err := os.Stat(filepath.Join(c.ufs, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: the unlinked file is back in the under-store (%v)", i, err)
		}
		if out, err := c.run("alluxio", "fs", "stat", "/"+name); err == nil {
			t.Fatalf("round %d: the unlinked file is back in the namespace:\n%s", i, out)
		}
	}
}

// closeLoop opens p, writes a byte and closes it, over and over (each close
// commits the file's writer), until the returned stop is called; stop
// returns once the loop has ended. Opens that fail (the file is gone) are
// retried until then.
func closeLoop(p string, size int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; ; k++ {
			select {
			case <-quit:
				return
			default:
			}
			g, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				continue
			}
			g.WriteAt([]byte{byte('a' + k%26)}, int64(k%size))
			g.Close()
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// TestMetadataCacheAcrossMounts checks what the FUSE daemon's metadata
// cache promises between two mounts (two nodes): with a long expiration a
// mount answers a lookup of a name it knows from its cache, so another
// mount's change to that file stays unseen in stat until the cache must be
// confirmed; but names it does not know and opens always ask the master
// (close-to-open), and whatever asks the master (an open, the mount's own
// next change) shows every change made elsewhere in between.
func TestMetadataCacheAcrossMounts(t *testing.T) {
	c := newCluster(t, map[string]string{
		"alluxio.user.metadata.cache.expiration.time": "1h",
		// The kernel's own caches would hide the daemon's.
		"alluxio.fuse.attr.timeout":  "0",
		"alluxio.fuse.entry.timeout": "0",
	})
	c.start()
	mnt2 := secondMount(t, c, "mnt2")
	a, b := filepath.Join(c.mnt, "f"), filepath.Join(mnt2, "f")
	size := func(p string) int64 {
		t.Helper()
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}

	if _, err := os.Stat(b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat through the second mount before the file exists: %v", err)
	}
	if err := os.WriteFile(a, []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A name the second mount does not know is asked for.
	if n := size(b); n != 3 {
		t.Fatalf("the second mount sees %d bytes of a new 3-byte file", n)
	}
	size(mnt2) // every lookup through the mount starts at its root
	if err := os.WriteFile(a, []byte("twenty-three bytes long"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := size(b); n != 3 {
		t.Fatalf("the second mount did not answer from its cache within the expiration (%d bytes)", n)
	}
	// An open asks the master whatever the cache says, and renews the
	// cache.
	if got, err := os.ReadFile(b); err != nil || string(got) != "twenty-three bytes long" {
		t.Fatalf("open through the second mount after the first closed the file: %q, %v", got, err)
	}
	if n := size(b); n != 23 {
		t.Fatalf("stat through the second mount after an open: %d bytes, want 23", n)
	}
	// So does the mount's own change.
	if err := os.WriteFile(a, []byte("four"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(mnt2, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if n := size(b); n != 4 {
		t.Fatalf("stat through the second mount after its own change: %d bytes, want 4", n)
	}
	if err := os.Remove(a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(b); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open through the second mount of a file removed through the first: %v", err)
	}
	// The first mount's own changes are in its cache as they happen.
	if err := os.WriteFile(a, []byte("again"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a, a+".moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a moved file's old name: %v", err)
	}
	if st, err := os.Stat(a + ".moved"); err != nil || st.Size() != 5 || st.Mode().Perm() != 0o600 {
		t.Fatalf("stat of a moved file's new name: %v, %v; want 5 bytes, mode 0600", st, err)
	}
}

// TestMetadataCacheExact changes a tree through a mount whose metadata
// cache is trusted for an hour, and after every change compares what that
// mount shows of the whole tree with a second mount that has no cache and
// asks the master each time: every attribute the cache keeps (type, mode,
// owner, size, times, link count, whether there are extended attributes)
// must match, so the changes the cache applies in place are exactly the
// master's. The listings of the directories must match too, and most of
// the cached mount's come from its cache (the directories it made, and
// those it listed, with the entries it added since).
func TestMetadataCacheExact(t *testing.T) {
	webPort := freePort(t)
	c := newCluster(t, map[string]string{
		"alluxio.user.metadata.cache.expiration.time": "1h",
		"alluxio.fuse.attr.timeout":                   "0",
		"alluxio.fuse.entry.timeout":                  "0",
		"alluxio.fuse.web.port":                       fmt.Sprint(webPort),
	})
	c.start()
	ref := secondMount(t, c, "ref", "ALLUXIO_FUSE_JAVA_OPTS=-Dalluxio.user.metadata.cache.max.size=0 -Dalluxio.fuse.web.port=0")
	at := func(name string) string { return filepath.Join(c.mnt, name) }
	names := []string{".", "d", "d/sub", "d/f", "d/g", "d/l", "d/f2", "d/sub/f3", "moved", "moved/f3"}
	steps := []struct {
		name string
		do   func() error
	}{
		{"mkdir", func() error { return os.Mkdir(at("d"), 0o750) }},
		{"mkdir nested", func() error { return os.Mkdir(at("d/sub"), 0o755) }},
		{"create", func() error { return os.WriteFile(at("d/f"), nil, 0o640) }},
		{"write", func() error { return os.WriteFile(at("d/g"), []byte("some bytes"), 0o644) }},
		{"append", func() error {
			f, err := os.OpenFile(at("d/g"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteString(" and more"); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}},
		{"chmod", func() error { return os.Chmod(at("d/f"), 0o600) }},
		{"chown", func() error { return os.Chown(at("d/f"), 1234, 5678) }},
		{"truncate", func() error { return os.Truncate(at("d/g"), 4) }},
		{"utimes", func() error {
			when := time.Unix(1_700_000_000, 0)
			return os.Chtimes(at("d/g"), when, when)
		}},
		{"setxattr", func() error { return syscall.Setxattr(at("d/g"), "user.tag", []byte("v"), 0) }},
		{"symlink", func() error { return os.Symlink("g", at("d/l")) }},
		{"rename in dir", func() error { return os.Rename(at("d/f"), at("d/f2")) }},
		{"rename across dirs", func() error { return os.Rename(at("d/f2"), at("d/sub/f3")) }},
		{"rename over", func() error { return os.Rename(at("d/g"), at("d/sub/f3")) }},
		{"rename dir", func() error { return os.Rename(at("d/sub"), at("moved")) }},
		{"removexattr", func() error { return syscall.Removexattr(at("moved/f3"), "user.tag") }},
		{"unlink", func() error { return os.Remove(at("moved/f3")) }},
		{"rmdir", func() error { return os.Remove(at("moved")) }},
		{"overwrite", func() error { return os.WriteFile(at("d/l"), []byte("through the link"), 0o644) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		// Named one by one, not listed: a listing would refresh the
		// cache from the master and hide what the changes did to it.
		cached, truth := pathAttrs(c.mnt, names), pathAttrs(ref, names)
		for _, p := range names {
			if cached[p] != truth[p] {
				t.Fatalf("after %s: %s\n cached: %s\n master: %s", s.name, p, cached[p], truth[p])
			}
		}
		for _, d := range []string{".", "d", "d/sub", "moved"} {
			if cached, truth := listing(c.mnt, d), listing(ref, d); cached != truth {
				t.Fatalf("after %s: listing of %s\n cached: %s\n master: %s", s.name, d, cached, truth)
			}
		}
	}
	if hits := fuseMetric(t, webPort, "Client_MetadataCacheListHits"); hits < float64(len(steps)) {
		t.Errorf("%v listings of %d answered from the cache; want most of them", hits, 4*len(steps))
	}
}

// listing describes directory dir under root as readdir shows it: each
// name with its type, or the error.
func listing(root, dir string) string {
	entries, err := os.ReadDir(filepath.Join(root, dir))
	if perr := (*fs.PathError)(nil); errors.As(err, &perr) {
		return perr.Err.Error() // without the path, which differs
	} else if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %v; ", e.Name(), e.Type())
	}
	return b.String()
}

// fuseMetric reads one counter of the FUSE daemon whose web server is at
// port.
func fuseMetric(t *testing.T, port int, name string) float64 {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the FUSE daemon's metrics:\n%s", name, body)
	return 0
}

// pathAttrs describes each of names under root as lstat shows it: type
// and mode, owner, size, link count and times, or the error.
func pathAttrs(root string, names []string) map[string]string {
	out := map[string]string{}
	for _, name := range names {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(root, name), &st); err != nil {
			out[name] = err.Error()
			continue
		}
		buf := make([]byte, 4096)
		n, err := syscall.Listxattr(filepath.Join(root, name), buf)
		xattrs := fmt.Sprintf("%q", buf[:max(n, 0)])
		if err != nil {
			xattrs = err.Error()
		}
		out[name] = fmt.Sprintf("mode %o uid %d gid %d size %d nlink %d mtime %d.%09d ctime %d.%09d xattrs %s",
			st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, xattrs)
	}
	return out
}

// secondMount mounts the cluster again at home/name (a second node's FUSE
// daemon), with env added to the daemon's environment, and unmounts it
// when the test ends.
func secondMount(t *testing.T, c *cluster, name string, env ...string) string {
	t.Helper()
	dir := filepath.Join(c.home, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(c.home, "bin", "alluxio-fuse"), "mount", dir)
	cmd.Env = append(c.env(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("alluxio-fuse mount %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() { c.run("alluxio-fuse", "umount", dir) })
	return dir
}

// TestChmodWhileWrittenAcrossMounts: a chmod through one mount of a new
// file another mount is still writing reaches the under-store's copy, and
// the writer's close keeps it there (the close fills that copy in place).
func TestChmodWhileWrittenAcrossMounts(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	mnt2 := secondMount(t, c, "mnt2")
	f, err := os.OpenFile(filepath.Join(c.mnt, "shared"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("written through the first mount"); err != nil {
		t.Fatal(err)
	}
	var cerr error
	for range 100 { // the second mount may not know the name yet
		if cerr = os.Chmod(filepath.Join(mnt2, "shared"), 0o600); cerr == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cerr != nil {
		t.Fatalf("chmod through the second mount: %v", cerr)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(c.ufs, "shared"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the under-store's copy has mode %v after the writer's close, want 0600 from the chmod", st.Mode().Perm())
	}
	if data, err := os.ReadFile(filepath.Join(c.ufs, "shared")); err != nil || string(data) != "written through the first mount" {
		t.Errorf("the under-store's copy: %q, %v", data, err)
	}
	// Through the first mount once its cached attributes expired.
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := os.Stat(filepath.Join(c.mnt, "shared"))
		if err == nil && st.Mode().Perm() == 0o600 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file through the first mount: %v, %v; want mode 0600", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestCreateRacingCreateAcrossMounts: an open with O_CREAT and no O_EXCL
// through one mount, racing another mount's create and write of the same
// name, opens the file the other made instead of emptying it: the kernel
// asks to create a name it found free a moment before.
func TestCreateRacingCreateAcrossMounts(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	mnt2 := secondMount(t, c, "mnt2")
	for i := range 60 {
		name := fmt.Sprintf("race-%d", i)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var werr, oerr error
		wg.Go(func() {
			<-start
			werr = os.WriteFile(filepath.Join(mnt2, name), []byte("bytes"), 0o644)
		})
		wg.Go(func() {
			<-start
			f, err := os.OpenFile(filepath.Join(c.mnt, name), os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				oerr = err
				return
			}
			oerr = f.Close()
		})
		close(start)
		wg.Wait()
		if werr != nil || oerr != nil {
			t.Fatalf("round %d: write through the second mount: %v; open through the first: %v", i, werr, oerr)
		}
		got, err := os.ReadFile(filepath.Join(mnt2, name))
		if err != nil || string(got) != "bytes" {
			t.Fatalf("round %d: the file reads %q (%v), want the second mount's bytes", i, got, err)
		}
	}
}

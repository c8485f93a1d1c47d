package tests

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sys/unix"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/hdfs/hdfstest"
	_ "github.com/alluxio-go/alluxio/ufs/kodo" // registers kodo:// for the test's own view of the bucket
	"github.com/alluxio-go/alluxio/ufs/kodo/kodotest"
)

// Sizes of the conformance cases, as the under-store issue asks for them.
const (
	storeBigFile  = 200 << 20 // the large round-trip file, written once per store
	storeListKeys = 10000     // keys put out of band for the listing case
	// storeListPage is the master's listing page for the cluster: not a
	// divisor of the stores' own pages (1,000 keys), so the two kinds of
	// page boundary fall in different places.
	storeListPage = 777
)

// storeSide is an under-store mounted into the namespace, with a way to
// reach its contents behind the namespace's back, as another client of
// the same store would: the conformance cases write through the FUSE mount
// and look in the store, and the other way round.
type storeSide struct {
	name    string   // subtest name: the scheme
	mount   string   // the Alluxio path it is mounted at
	uri     string   // the under-store URI
	options []string // k=v, each given as --option
	secret  string   // a credential that must never be shown ("" for none)

	// put stores data at key (slash-separated, relative to the mount's
	// root), replacing what is there; missing parents are implied. It is
	// safe for concurrent use.
	put func(t *testing.T, key string, data []byte) error
	// get returns the bytes at key, or an error wrapping fs.ErrNotExist.
	get func(t *testing.T, key string) ([]byte, error)
	// remove deletes the file at key.
	remove func(t *testing.T, key string) error
}

// TestStoresConformance runs one table of cases through the FUSE mount
// against every under-store, each mounted with alluxio fs mount --option
// into one cluster: file:// (a local directory), s3:// (versitygw, a real
// S3 server), kodo:// (kodotest, written from Kodo's public API) and
// hdfs:// (hdfstest, a namenode and datanodes speaking Hadoop's
// protocols). The cases write through the mount and check what the store
// holds, put keys into the store directly and check what the mount shows.
func TestStoresConformance(t *testing.T) {
	c := newCluster(t, map[string]string{
		// Out-of-band changes must show right after a sync, not after
		// the kernel's attribute cache expires.
		"alluxio.fuse.entry.timeout":                                 "0",
		"alluxio.fuse.attr.timeout":                                  "0",
		"alluxio.master.filesystem.liststatus.result.message.length": fmt.Sprint(storeListPage),
		// Room for every store's large file at once.
		"alluxio.worker.tieredstore.level0.dirs.quota": "1GB",
	})
	c.start()
	stores := []*storeSide{
		localSide(t),
		s3Side(t),
		kodoSide(t),
		hdfsSide(t),
	}
	for _, s := range stores {
		args := []string{"fs", "mount"}
		for _, o := range s.options {
			args = append(args, "--option", o)
		}
		c.must("alluxio", append(args, s.mount, s.uri)...)
	}
	out := c.must("alluxio", "fs", "mount")
	for _, s := range stores {
		if !strings.Contains(out, s.uri) || (s.secret != "" && strings.Contains(out, s.secret)) {
			t.Fatalf("alluxio fs mount must list %s without its credentials:\n%s", s.uri, out)
		}
	}

	cases := []struct {
		name string
		run  func(t *testing.T, c *cluster, s *storeSide)
	}{
		{"RoundTrip", testStoreRoundTrip},
		{"ListOutOfBand", testStoreList},
		{"RenameFile", testStoreRenameFile},
		{"RenameDir", testStoreRenameDir},
		{"Delete", testStoreDelete},
		{"SyncOutOfBand", testStoreSync},
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, c, s) })
			}
		})
	}

	logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, s := range stores {
			if s.secret != "" && bytes.Contains(b, []byte(s.secret)) {
				t.Errorf("%s contains the secret of %s", filepath.Base(l), s.uri)
			}
		}
	}
}

// localSide is a local directory mounted as file://.
func localSide(t *testing.T) *storeSide {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	p := func(key string) string { return filepath.Join(dir, filepath.FromSlash(key)) }
	return &storeSide{
		name: "file", mount: "/local", uri: "file://" + dir,
		put: func(t *testing.T, key string, data []byte) error {
			if err := os.MkdirAll(filepath.Dir(p(key)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(p(key), data, 0o644)
		},
		get:    func(t *testing.T, key string) ([]byte, error) { return os.ReadFile(p(key)) },
		remove: func(t *testing.T, key string) error { return os.Remove(p(key)) },
	}
}

// s3Side is a bucket of versitygw, reached directly with aws-sdk-go-v2.
func s3Side(t *testing.T) *storeSide {
	const bucket, prefix = "conformance", "data/"
	endpoint, _, admin := startBucket(t, bucket)
	return &storeSide{
		name: "s3", mount: "/s3", uri: "s3://" + bucket + "/" + prefix, secret: s3Secret,
		options: []string{
			"s3a.accessKeyId=" + s3Key,
			"s3a.secretKey=" + s3Secret,
			"alluxio.underfs.s3.endpoint=" + endpoint,
			"alluxio.underfs.s3.disable.dns.buckets=true",
		},
		put: func(t *testing.T, key string, data []byte) error {
			_, err := admin.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket),
				Key: aws.String(prefix + key), Body: bytes.NewReader(data)})
			return err
		},
		get: func(t *testing.T, key string) ([]byte, error) {
			out, err := admin.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + key)})
			if err != nil {
				var nsk *types.NoSuchKey
				if errors.As(err, &nsk) {
					return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
				}
				return nil, err
			}
			defer out.Body.Close()
			return io.ReadAll(out.Body)
		},
		remove: func(t *testing.T, key string) error {
			_, err := admin.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket),
				Key: aws.String(prefix + key)})
			return err
		},
	}
}

// kodoSide is a bucket of kodotest: keys are put into the server's
// memory directly, and read and deleted through the Kodo API by a client
// of the test's own.
func kodoSide(t *testing.T) *storeSide {
	const ak, sk = "kodo-ak", "kodo-conformance-secret"
	const bucket, prefix = "conformance", "data/"
	srv, err := kodotest.Start(ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.CreateBucket(bucket)
	options := []string{
		"fs.kodo.accesskey=" + ak,
		"fs.kodo.secretkey=" + sk,
		"alluxio.underfs.kodo.downloadhost=" + srv.DownloadHost(bucket),
		"alluxio.underfs.kodo.endpoint=" + srv.URL(),
	}
	opts := map[string]string{}
	for _, o := range options {
		k, v, _ := strings.Cut(o, "=")
		opts[k] = v
	}
	uri := "kodo://" + bucket + "/" + prefix
	direct, err := ufs.Open(uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	return &storeSide{
		name: "kodo", mount: "/kodo", uri: uri, options: options, secret: sk,
		put: func(t *testing.T, key string, data []byte) error { srv.Put(bucket, prefix+key, data); return nil },
		get: func(t *testing.T, key string) ([]byte, error) {
			r, err := direct.OpenRange(t.Context(), key, 0, -1)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return io.ReadAll(r)
		},
		remove: func(t *testing.T, key string) error { return direct.Delete(t.Context(), key) },
	}
}

// hdfsSide is a directory of an hdfstest cluster, written and read as
// another HDFS client would.
func hdfsSide(t *testing.T) *storeSide {
	const user, root = "alluxio", "/conformance"
	srv := startHDFS(t, hdfstest.Config{Datanodes: 2, BlockSize: 16 << 20})
	if err := srv.MkdirAll(root, user, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := srv.HadoopConf(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := func(key string) string { return path.Join(root, key) }
	return &storeSide{
		name: "hdfs", mount: "/hdfs", uri: "hdfs://" + srv.Addr() + root,
		options: []string{
			"alluxio.underfs.hdfs.configuration=" + conf,
			"alluxio.security.login.username=" + user,
		},
		put:    func(t *testing.T, key string, data []byte) error { return srv.WriteFile(p(key), data, user) },
		get:    func(t *testing.T, key string) ([]byte, error) { return srv.ReadFile(p(key)) },
		remove: func(t *testing.T, key string) error { return srv.Remove(p(key)) },
	}
}

// mustPut puts data at key in the store behind the mount's back.
func (s *storeSide) mustPut(t *testing.T, key string, data []byte) {
	t.Helper()
	if err := s.put(t, key, data); err != nil {
		t.Fatalf("putting %s into the store: %v", key, err)
	}
}

// mustRemove removes key from the store behind the mount's back.
func (s *storeSide) mustRemove(t *testing.T, key string) {
	t.Helper()
	if err := s.remove(t, key); err != nil {
		t.Fatalf("removing %s from the store: %v", key, err)
	}
}

// mnt is the path of key of the store through the FUSE mount.
func (s *storeSide) mnt(c *cluster, key string) string {
	return filepath.Join(c.mnt, s.mount, filepath.FromSlash(key))
}

// alluxioPath is the Alluxio path of key of the store.
func (s *storeSide) alluxioPath(key string) string { return path.Join(s.mount, key) }

// checkStored fails unless the store holds exactly want at key.
func (s *storeSide) checkStored(t *testing.T, key string, want []byte) {
	t.Helper()
	got, err := s.get(t, key)
	if err != nil {
		t.Fatalf("%s in the store: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s in the store: %d bytes (sha256 %x), want the %d written (sha256 %x)",
			key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// checkGone fails unless the store has nothing at key. An unlinked file's object leaves S3 with the master's next batch of
// deletes (alluxio.master.ufs.delete.deferred), well within the wait.
func (s *storeSide) checkGone(t *testing.T, key string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.get(t, key)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in the store: %d bytes, %v; want it gone", key, len(got), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkMount fails unless reading p through the mount gives want.
func checkMount(t *testing.T, p string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read through the mount: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s through the mount: %d bytes (sha256 %x), want %d (sha256 %x)",
			p, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
}

// checkMountGone fails unless p is missing through the mount.
func checkMountGone(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s through the mount: %v, want ENOENT", p, err)
	}
}

// randomData returns n reproducible random bytes.
func randomData(n int, seed uint64) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// dropPageCache drops the kernel's cached pages of a file read through
// the mount, so that the next read asks the FUSE daemon again.
func dropPageCache(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// testStoreRoundTrip writes an empty, a small and a large file through the
// mount, finds each whole in the store, and reads each back through the
// mount: the large one again after its cached pages were freed, so that
// it comes from the store.
func testStoreRoundTrip(t *testing.T, c *cluster, s *storeSide) {
	if err := os.Mkdir(s.mnt(c, "rt"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 4321},
		{"large", storeBigFile},
	} {
		t.Run(f.name, func(t *testing.T) {
			key := "rt/" + f.name
			data := randomData(f.size, uint64(f.size))
			if err := os.WriteFile(s.mnt(c, key), data, 0o644); err != nil {
				t.Fatalf("write through the mount: %v", err)
			}
			s.checkStored(t, key, data)
			checkMount(t, s.mnt(c, key), data)
			if fi, err := os.Stat(s.mnt(c, key)); err != nil || fi.Size() != int64(f.size) {
				t.Fatalf("stat through the mount: %v, %v; want %d bytes", fi, err, f.size)
			}
			if f.size < storeBigFile {
				return
			}
			before := c.metrics()["Cluster.BytesReadUfsAll"]
			c.must("alluxio", "fs", "free", s.alluxioPath(key))
			dropPageCache(t, s.mnt(c, key))
			checkMount(t, s.mnt(c, key), data)
			if s.name != "file" { // a local file is read through kernel passthrough, not counted
				c.waitMetrics(func(m map[string]float64) bool { return m["Cluster.BytesReadUfsAll"]-before >= float64(f.size) })
				if got := c.metrics()["Cluster.BytesReadUfsAll"] - before; got < float64(f.size) {
					t.Errorf("the read after free took %.0f bytes from the store, want %d", got, f.size)
				}
			}
		})
	}
}

// testStoreList puts many keys into the store directly, in parallel,
// and lists them through the mount (ls) and with alluxio fs ls: both see
// every name once, across the stores' and the master's listing pages.
func testStoreList(t *testing.T, c *cluster, s *storeSide) {
	n := storeListKeys
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("key-%05d", i)
	}
	work := make(chan string)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for name := range work {
				if err := s.put(t, "many/"+name, []byte(name)); err != nil {
					errs <- fmt.Errorf("putting many/%s: %w", name, err)
				}
			}
		})
	}
	for _, name := range want {
		work <- name
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The mount root was listed before: the new directory shows after a
	// sync of it; its 10,000 children are listed from the store on first
	// use.
	c.must("alluxio", "fs", "loadMetadata", s.mount)

	check := func(what string, names []string) {
		t.Helper()
		slices.Sort(names)
		if !slices.Equal(names, want) {
			extra, missing := 0, 0
			for _, n := range names {
				if _, ok := slices.BinarySearch(want, n); !ok {
					extra++
				}
			}
			for _, n := range want {
				if _, ok := slices.BinarySearch(names, n); !ok {
					missing++
				}
			}
			t.Errorf("%s: %d names (%d not in the store, %d of the store's missing), want %d",
				what, len(names), extra, missing, len(want))
		}
	}
	out := sh(t, "ls "+s.mnt(c, "many"))
	check("ls through the mount", strings.Fields(out))
	if wc := strings.TrimSpace(sh(t, "ls "+s.mnt(c, "many")+" | wc -l")); wc != fmt.Sprint(n) {
		t.Errorf("ls | wc -l through the mount: %s, want %d", wc, n)
	}
	var names []string
	for _, line := range strings.Split(c.must("alluxio", "fs", "ls", s.alluxioPath("many")), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[len(f)-1], s.alluxioPath("many")+"/") {
			names = append(names, path.Base(f[len(f)-1]))
		}
	}
	check("alluxio fs ls", names)
	// One read through the mount of a key put behind its back.
	checkMount(t, s.mnt(c, "many/key-09999"), []byte("key-09999"))
}

// testStoreRenameFile renames a file through the mount, within a
// directory and into another one.
func testStoreRenameFile(t *testing.T, c *cluster, s *storeSide) {
	data := randomData(70000, 3)
	if err := os.MkdirAll(s.mnt(c, "rf/to"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.mnt(c, "rf/a"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, step := range [][2]string{{"rf/a", "rf/b"}, {"rf/b", "rf/to/c"}} {
		if err := os.Rename(s.mnt(c, step[0]), s.mnt(c, step[1])); err != nil {
			t.Fatalf("rename %s %s: %v", step[0], step[1], err)
		}
		s.checkGone(t, step[0])
		s.checkStored(t, step[1], data)
		checkMountGone(t, s.mnt(c, step[0]))
		checkMount(t, s.mnt(c, step[1]), data)
	}
}

// testStoreRenameDir renames a directory tree through the mount.
func testStoreRenameDir(t *testing.T, c *cluster, s *storeSide) {
	files := map[string][]byte{"a": []byte("file a"), "b": randomData(3<<20+5, 4), "sub/c": []byte("file c"), "sub/deeper/d": nil}
	if err := os.MkdirAll(s.mnt(c, "rd/src/sub/deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(s.mnt(c, "rd/src/"+name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(s.mnt(c, "rd/src"), s.mnt(c, "rd/dst")); err != nil {
		t.Fatalf("rename of a directory: %v", err)
	}
	for name, data := range files {
		s.checkGone(t, "rd/src/"+name)
		s.checkStored(t, "rd/dst/"+name, data)
		checkMount(t, s.mnt(c, "rd/dst/"+name), data)
	}
	checkMountGone(t, s.mnt(c, "rd/src"))
	if out := sh(t, "cd "+s.mnt(c, "rd")+" && find . | sort"); out != ".\n./dst\n./dst/a\n./dst/b\n./dst/sub\n./dst/sub/c\n./dst/sub/deeper\n./dst/sub/deeper/d\n" {
		t.Fatalf("the tree after the rename:\n%s", out)
	}
	// The store agrees after a sync from it.
	c.must("alluxio", "fs", "loadMetadata", "-R", s.alluxioPath("rd"))
	if out := sh(t, "cd "+s.mnt(c, "rd")+" && find . | sort"); !strings.Contains(out, "./dst/sub/deeper/d\n") || strings.Contains(out, "src") {
		t.Fatalf("the tree after a sync from the store:\n%s", out)
	}
}

// testStoreDelete removes a file and a directory tree through the mount.
func testStoreDelete(t *testing.T, c *cluster, s *storeSide) {
	if err := os.MkdirAll(s.mnt(c, "del/d/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"del/f", "del/d/x", "del/d/sub/y"} {
		if err := os.WriteFile(s.mnt(c, key), []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		s.checkStored(t, key, []byte(key))
	}
	if err := os.Remove(s.mnt(c, "del/d")); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("rmdir of a non-empty directory: %v, want ENOTEMPTY", err)
	}
	if err := os.Remove(s.mnt(c, "del/f")); err != nil {
		t.Fatal(err)
	}
	s.checkGone(t, "del/f")
	checkMountGone(t, s.mnt(c, "del/f"))
	if err := os.RemoveAll(s.mnt(c, "del/d")); err != nil {
		t.Fatal(err)
	}
	s.checkGone(t, "del/d/x")
	s.checkGone(t, "del/d/sub/y")
	checkMountGone(t, s.mnt(c, "del/d"))
	// Nothing comes back from the store on a sync.
	c.must("alluxio", "fs", "loadMetadata", "-R", s.alluxioPath("del"))
	if entries, err := os.ReadDir(s.mnt(c, "del")); err != nil || len(entries) != 0 {
		t.Fatalf("del after the deletes and a sync: %v, %v; want it empty", entries, err)
	}
}

// testStoreSync changes the store behind the mount's back (a file added,
// one changed to other bytes of the same length, one removed) and checks
// that alluxio fs loadMetadata -R, then alluxio fs ls -R --sync, bring the
// mount up to date, with the changed file never read from the pages
// cached for its old bytes.
func testStoreSync(t *testing.T, c *cluster, s *storeSide) {
	v1 := randomData(256<<10, 5)
	if err := os.MkdirAll(s.mnt(c, "oob"), 0o755); err != nil {
		t.Fatal(err)
	}
	for key, data := range map[string][]byte{"oob/changed": v1, "oob/removed": []byte("to be removed")} {
		if err := os.WriteFile(s.mnt(c, key), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Cache the pages of the first version, in the worker and in the
	// kernel.
	c.must("alluxio", "fs", "load", s.alluxioPath("oob/changed"))
	checkMount(t, s.mnt(c, "oob/changed"), v1)

	v2 := randomData(len(v1), 6) // the same length: only the content identity differs
	s.mustPut(t, "oob/changed", v2)
	s.mustPut(t, "oob/added", []byte("added behind the mount"))
	s.mustPut(t, "oob/sub/deep", []byte("a new directory too"))
	s.mustRemove(t, "oob/removed")
	out := c.must("alluxio", "fs", "loadMetadata", "-R", s.alluxioPath("oob"))
	t.Logf("loadMetadata: %s", strings.TrimSpace(out))
	checkMount(t, s.mnt(c, "oob/changed"), v2)
	checkMount(t, s.mnt(c, "oob/added"), []byte("added behind the mount"))
	checkMount(t, s.mnt(c, "oob/sub/deep"), []byte("a new directory too"))
	checkMountGone(t, s.mnt(c, "oob/removed"))

	// A second round, seen through alluxio fs ls -R --sync.
	v3 := randomData(len(v1)+1000, 7)
	s.mustPut(t, "oob/changed", v3)
	s.mustRemove(t, "oob/added")
	s.mustPut(t, "oob/sub/another", []byte("another"))
	out = c.must("alluxio", "fs", "ls", "-R", "--sync", s.alluxioPath("oob"))
	if !strings.Contains(out, s.alluxioPath("oob/sub/another")) || strings.Contains(out, s.alluxioPath("oob/added")) {
		t.Fatalf("ls -R --sync does not show the store's tree:\n%s", out)
	}
	checkMount(t, s.mnt(c, "oob/changed"), v3)
	checkMount(t, s.mnt(c, "oob/sub/another"), []byte("another"))
	checkMountGone(t, s.mnt(c, "oob/added"))
	if out := c.must("alluxio", "fs", "cat", s.alluxioPath("oob/changed")); out != string(v3) {
		t.Fatalf("alluxio fs cat of the changed file: %d bytes, want the %d in the store", len(out), len(v3))
	}
}

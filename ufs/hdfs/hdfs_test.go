package hdfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/hdfs/hdfstest"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// testUser is the HDFS user of the stores under test: not a superuser,
// so the namenode's permission checks apply.
const testUser = "alice"

var dirSeq atomic.Int64

// startCluster starts an hdfstest cluster that stops with the test.
func startCluster(t *testing.T, cfg hdfstest.Config) *hdfstest.Cluster {
	t.Helper()
	c, err := hdfstest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// homeDir makes a fresh directory owned by testUser and returns its path.
func homeDir(t *testing.T, c *hdfstest.Cluster) string {
	t.Helper()
	p := fmt.Sprintf("/user/%s/t%d", testUser, dirSeq.Add(1))
	if err := c.MkdirAll(p, testUser, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// openStore opens uri through the registry as testUser with fast
// retries, closed with the test.
func openStore(t *testing.T, uri string, opts map[string]string) *Store {
	t.Helper()
	o := map[string]string{keyLoginUser: testUser, keyRetryDuration: "3s", keyTimeout: "5s"}
	for k, v := range opts {
		o[k] = v
	}
	u, err := ufs.Open(uri, o)
	if err != nil {
		t.Fatal(err)
	}
	s := u.(*Store)
	s.cfg.backoff = 5 * time.Millisecond
	s.cfg.maxBackoff = 100 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

// putFile writes a whole file.
func putFile(t *testing.T, s ufs.UFS, p string, data []byte) ufs.FileInfo {
	t.Helper()
	w, err := s.Create(t.Context(), p, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	fi, err := w.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// readFile reads a whole file.
func readFile(s ufs.UFS, ctx context.Context, p string) ([]byte, error) {
	r, err := s.OpenRange(ctx, p, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// randomBytes returns n reproducible bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestContract(t *testing.T) {
	c := startCluster(t, hdfstest.Config{Datanodes: 2, ListLimit: 100})
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		return openStore(t, "hdfs://"+c.Addr()+homeDir(t, c), nil)
	})
}

func TestContractHA(t *testing.T) {
	c := startCluster(t, hdfstest.Config{HA: true})
	conf, err := c.HadoopConf(t.TempDir(), "mycluster", nil)
	if err != nil {
		t.Fatal(err)
	}
	// nn1 is active now; make it standby half way through the suite.
	n := 0
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		if n++; n == 10 {
			c.Failover()
		}
		return openStore(t, "hdfs://mycluster"+homeDir(t, c), map[string]string{keyConfiguration: conf})
	})
}

func TestFailoverDuringUse(t *testing.T) {
	c := startCluster(t, hdfstest.Config{HA: true})
	c.Failover() // nn2 active: the first namenode the store tries is standby
	conf, err := c.HadoopConf(t.TempDir(), "ns1", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, "hdfs://ns1"+homeDir(t, c), map[string]string{keyConfiguration: conf, keyRetryDuration: "20s"})
	putFile(t, s, "a", []byte("before"))
	c.Failover()
	putFile(t, s, "b", []byte("after"))
	for _, p := range []string{"a", "b"} {
		if _, err := s.Stat(t.Context(), p); err != nil {
			t.Fatalf("Stat %s after a failover: %v", p, err)
		}
	}
	if n := c.Calls("getFileInfo"); n == 0 {
		t.Fatal("no call reached a namenode")
	}
}

func TestRetries(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	putFile(t, s, "f", []byte("payload"))
	tests := []struct {
		name string
		prep func()
		op   func() error
	}{
		{"stat through safe mode", func() { c.FailNext("getFileInfo", 3, hdfstest.SafeModeException, "Name node is in safe mode.") },
			func() error { _, err := s.Stat(ctx, "f"); return err }},
		{"mkdir through RetriableException", func() { c.FailNext("mkdirs", 2, hdfstest.RetriableException, "try again") },
			func() error { return s.Mkdir(ctx, "d1", 0o755) }},
		{"mkdir whose answer is lost", func() { c.DropNext("mkdirs", 1) },
			func() error { return s.Mkdir(ctx, "d2", 0o755) }},
		{"delete whose answer is lost", func() { putFile(t, s, "g", []byte("x")); c.DropNext("delete", 1) },
			func() error { return s.Delete(ctx, "g") }},
		{"rename whose answer is lost", func() { putFile(t, s, "h", []byte("x")); c.DropNext("rename2", 1) },
			func() error { return s.Rename(ctx, "h", "h2") }},
		{"complete answering false", func() { c.DelayCompleteNext(3) },
			func() error { putFile(t, s, "i", []byte("late reports")); return nil }},
		{"complete whose answer is lost", func() { c.DropNext("complete", 1) },
			func() error { putFile(t, s, "j", []byte("lost answer")); return nil }},
		{"read through a failing getBlockLocations", func() { c.FailNext("getBlockLocations", 1, hdfstest.RetriableException, "busy") },
			func() error {
				got, err := readFile(s, ctx, "f")
				if err == nil && string(got) != "payload" {
					err = fmt.Errorf("read %q", got)
				}
				return err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prep()
			if err := tt.op(); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, p := range []string{"d1", "d2", "h2", "i", "j"} {
		if _, err := s.Stat(ctx, p); err != nil {
			t.Errorf("Stat %s: %v", p, err)
		}
	}
	if open := c.OpenFiles(); len(open) != 0 {
		t.Errorf("files left under construction: %v", open)
	}

	t.Run("safe mode outlasting the retries", func(t *testing.T) {
		s := openStore(t, "hdfs://"+c.Addr()+dir, map[string]string{keyRetryDuration: "300ms"})
		c.SetSafeMode(true)
		defer c.SetSafeMode(false)
		start := time.Now()
		err := s.Mkdir(ctx, "never", 0o755)
		if !errors.Is(err, syscall.EAGAIN) || !strings.Contains(err.Error(), "safe mode") || !strings.Contains(err.Error(), "attempts") {
			t.Fatalf("Mkdir in safe mode: %v, want EAGAIN after retries naming safe mode", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("gave up after %v with a retry time of 300ms", d)
		}
		if _, err := s.Stat(ctx, "f"); err != nil {
			t.Errorf("Stat in safe mode: %v", err)
		}
	})
	t.Run("no retry of FileNotFoundException", func(t *testing.T) {
		before := c.Calls("getFileInfo")
		if _, err := s.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat missing: %v", err)
		}
		if n := c.Calls("getFileInfo") - before; n != 1 {
			t.Errorf("Stat of a missing file sent %d getFileInfo calls, want 1", n)
		}
	})
}

func TestErrors(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	putFile(t, s, "f", []byte("x"))
	if err := c.MkdirAll("/private", "hdfs", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFile(dir+"/theirs", []byte("not alice's"), "bob"); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error, want syscall.Errno, text string) {
		t.Helper()
		var pe *fs.PathError
		if !errors.Is(err, want) || !errors.As(err, &pe) || !strings.HasPrefix(pe.Path, "hdfs://"+c.Addr()+"/") {
			t.Fatalf("%s: %v, want %v in a PathError naming the hdfs:// path", what, err, want)
		}
		if !strings.Contains(err.Error(), text) {
			t.Errorf("%s: %q does not say %q", what, err, text)
		}
	}
	_, err := s.Stat(ctx, "f/x")
	check("Stat under a file", err, syscall.ENOTDIR, "not a directory")
	check("Mkdir under a file", s.Mkdir(ctx, "f/x", 0o755), syscall.ENOTDIR, "f")
	root := openStore(t, "hdfs://"+c.Addr()+"/", nil)
	check("Mkdir in a directory of another user", root.Mkdir(ctx, "private/x", 0o755), syscall.EACCES, "HDFS user "+testUser)
	check("Mkdir in the root owned by hdfs", root.Mkdir(ctx, "top", 0o755), syscall.EACCES, testUser)
	check("Chmod of another user's file", s.Chmod(ctx, "theirs", 0o600), syscall.EPERM, "HDFS user "+testUser)
	check("Truncate beyond the end", s.Truncate(ctx, "f", 10), syscall.EINVAL, "cannot grow")
	c.FailNext("mkdirs", 1, hdfstest.DSQuotaExceededException, "The DiskSpace quota of /user is exceeded")
	check("Mkdir over quota", s.Mkdir(ctx, "q", 0o755), syscall.EDQUOT, "quota")
	c.FailNext("getFileInfo", 1, "org.example.StrangeException", "something odd\n\tat org.example.Foo(Foo.java:1)")
	_, err = s.Stat(ctx, "f")
	check("an unknown exception", err, syscall.EIO, "StrangeException: something odd")
	if strings.Contains(err.Error(), "Foo.java") {
		t.Errorf("the error carries the Java stack trace: %v", err)
	}
	_, err = root.Stat(ctx, ".reserved/.inodes/16385")
	check("a /.reserved path", err, syscall.EINVAL, "reserved")
	_, err = s.Create(ctx, tmpPrefix+"x", ufs.CreateOptions{})
	check("Create of a temporary name", err, syscall.EINVAL, tmpPrefix)
}

func TestNamenodeUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s := openStore(t, "hdfs://"+addr+"/data", map[string]string{keyRetryDuration: "200ms"})
	_, err = s.Stat(t.Context(), "")
	if !errors.Is(err, syscall.EHOSTUNREACH) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Stat with no namenode: %v, want EHOSTUNREACH naming %s", err, addr)
	}
}

func TestNamenodeSilent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { // accepts, reads, never answers
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, conn)
			t.Cleanup(func() { conn.Close() })
		}
	}()
	s := openStore(t, "hdfs://"+l.Addr().String()+"/", map[string]string{keyTimeout: "200ms", keyRetryDuration: "0"})
	start := time.Now()
	_, err = s.Stat(t.Context(), "x")
	if !errors.Is(err, syscall.ETIMEDOUT) || !strings.Contains(err.Error(), keyTimeout) {
		t.Fatalf("Stat against a silent namenode: %v, want ETIMEDOUT naming %s", err, keyTimeout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v with a 200ms timeout", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	s2 := openStore(t, "hdfs://"+l.Addr().String()+"/", map[string]string{keyTimeout: "10s"})
	if _, err := s2.Stat(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("Stat with an ending context: %v, want DeadlineExceeded", err)
	}
}

func TestDatanodeFailures(t *testing.T) {
	c := startCluster(t, hdfstest.Config{Datanodes: 2})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	data := randomBytes(3<<20+777, 7)
	putFile(t, s, "f", data)

	// A replica that fails its checksums: the reader must never hand out
	// its bytes, and takes the other replica.
	if err := c.CorruptReplica(dir+"/f", 0); err != nil {
		t.Fatal(err)
	}
	if got, err := readFile(s, ctx, "f"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a corrupt replica: %d bytes (equal %v), %v", len(got), bytes.Equal(got, data), err)
	}
	r, err := s.OpenRange(ctx, "f", 1<<20+100, 5000)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data[1<<20+100:1<<20+5100]) {
		t.Fatalf("ranged read with a corrupt replica: %v", err)
	}
	r.Close()

	// A dead datanode: the other replica serves.
	putFile(t, s, "g", data[:2<<20])
	c.KillDatanode(1)
	if got, err := readFile(s, ctx, "g"); err != nil || !bytes.Equal(got, data[:2<<20]) {
		t.Fatalf("read with a dead datanode: %d bytes, %v", len(got), err)
	}
	// No good replica left: the read fails with EIO, in bounded time.
	start := time.Now()
	_, err = readFile(s, ctx, "f")
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("read with no good replica: %v, want EIO", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the failing read took %v", d)
	}
	if err := c.RestartDatanode(1); err != nil {
		t.Fatal(err)
	}
	if got, err := readFile(s, ctx, "f"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the datanode came back: %v", err)
	}
}

func TestWriteFailure(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	putFile(t, s, "f", []byte("the old content"))
	w, err := s.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(randomBytes(300<<10, 3)); err != nil {
		t.Fatal(err)
	}
	c.KillDatanode(0)
	_, werr := w.Write(randomBytes(2<<20, 4))
	_, cerr := w.Close(ctx)
	if werr == nil && cerr == nil {
		t.Fatal("a write whose only datanode died was reported complete")
	}
	if cerr == nil || !errors.Is(cerr, syscall.EIO) {
		t.Errorf("Close after the datanode died: %v, want EIO", cerr)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after the failure: %v", err)
	}
	if err := c.RestartDatanode(0); err != nil {
		t.Fatal(err)
	}
	if got, err := readFile(s, ctx, "f"); err != nil || string(got) != "the old content" {
		t.Fatalf("the target after a failed write: %q, %v", got, err)
	}
	entries, err := c.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries after a failed write, want 1: %+v", len(entries), entries)
	}
	if open := c.OpenFiles(); len(open) != 0 {
		t.Errorf("files left under construction: %v", open)
	}
}

// TestCloseFailure: a block whose pipeline fails at close (the writes
// were buffered; the datanode died before the close sent them) fails the
// close at once: the writer cannot send the block again, so trying the
// close again would only fail the same way until the retry deadline.
func TestCloseFailure(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	w, err := s.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("a little, buffered")); err != nil {
		t.Fatal(err)
	}
	c.KillDatanode(0)
	_, err = w.Close(ctx)
	if !errors.Is(err, syscall.EIO) || strings.Contains(err.Error(), "attempts") {
		t.Errorf("Close after the datanode died: %v, want EIO without retries", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after the failure: %v", err)
	}
	if err := c.RestartDatanode(0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the target after a failed close: %v, want none", err)
	}

	// The namenode's answer to the block's update is lost (a failover
	// during the close): the close is tried again, and succeeds.
	w, err = s.Create(ctx, "g", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("kept through a failover")); err != nil {
		t.Fatal(err)
	}
	c.DropNext("updateBlockForPipeline", 1)
	if _, err := w.Close(ctx); err != nil {
		t.Fatalf("Close with the block update's answer lost: %v", err)
	}
	if got, err := readFile(s, ctx, "g"); err != nil || string(got) != "kept through a failover" {
		t.Fatalf("g after the close: %q, %v", got, err)
	}
}

func TestAbortRemovesTheTemporaryFile(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	w, err := s.Create(t.Context(), "f", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(randomBytes(1<<20+10, 5))
	if open := c.OpenFiles(); len(open) != 1 || !strings.Contains(open[0], tmpPrefix) {
		t.Fatalf("while writing, the open files are %v, want one temporary file", open)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := c.ReadDir(dir); len(entries) != 0 {
		t.Errorf("after Abort the directory holds %+v", entries)
	}
	if open := c.OpenFiles(); len(open) != 0 {
		t.Errorf("after Abort the open files are %v", open)
	}
}

func TestRetarget(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	s := openStore(t, "hdfs://"+c.Addr()+homeDir(t, c), nil)
	ctx := t.Context()
	if err := s.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "a", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("moved while open"))
	if err := w.(ufs.Retargeter).Retarget(ctx, "d/b"); err != nil {
		t.Fatal(err)
	}
	fi, err := w.Close(ctx)
	if err != nil || fi.Name != "b" {
		t.Fatalf("Close = %+v, %v", fi, err)
	}
	if got, err := readFile(s, ctx, "d/b"); err != nil || string(got) != "moved while open" {
		t.Fatalf("d/b = %q, %v", got, err)
	}
	if _, err := s.Stat(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat a: %v", err)
	}
}

func TestAttributes(t *testing.T) {
	c := startCluster(t, hdfstest.Config{Groups: map[string][]string{testUser: {testUser, "staff"}}})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	ctx := t.Context()
	data := randomBytes(2<<20+100, 9)
	putFile(t, s, "f", data)
	if err := s.Chmod(ctx, "f", 0o640|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := s.Chtimes(ctx, "f", mt); err != nil {
		t.Fatal(err)
	}
	fi, err := s.Stat(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode.Perm() != 0o640 || fi.Mode&fs.ModeSticky == 0 || !fi.ModTime.Equal(mt) {
		t.Errorf("after Chmod and Chtimes: mode %v mtime %v", fi.Mode, fi.ModTime)
	}
	st, _ := c.Stat(dir + "/f")
	if st.Mode.Perm() != 0o640 || st.Owner != testUser {
		t.Errorf("the namenode has %+v", st)
	}
	// Truncate inside a block and on a block boundary.
	for _, size := range []int64{1<<20 + 5, 1 << 20, 0} {
		before := fi.Fingerprint()
		if err := s.Truncate(ctx, "f", size); err != nil {
			t.Fatalf("Truncate to %d: %v", size, err)
		}
		got, err := readFile(s, ctx, "f")
		if err != nil || !bytes.Equal(got, data[:size]) {
			t.Fatalf("after Truncate to %d: %d bytes, %v", size, len(got), err)
		}
		if fi, _ = s.Stat(ctx, "f"); fi.Fingerprint() == before {
			t.Errorf("the fingerprint did not change with Truncate to %d", size)
		}
	}
	// Chown to the same owner keeps it; HDFS keeps names, so a uid this
	// machine does not know is refused.
	fi, _ = s.Stat(ctx, "f")
	if err := s.Chown(ctx, "f", fi.UID, fi.GID); err != nil {
		t.Errorf("Chown to the same owner: %v", err)
	}
	if err := s.Chown(ctx, "f", 4000000000, fi.GID); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Chown to an unknown uid: %v", err)
	}
}

func TestPagedListing(t *testing.T) {
	c := startCluster(t, hdfstest.Config{ListLimit: 10})
	dir := homeDir(t, c)
	for i := range 35 {
		if err := c.WriteFile(fmt.Sprintf("%s/f%02d", dir, i), []byte("x"), testUser); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	before := c.Calls("getListing")
	var names []string
	if err := s.List(t.Context(), "", func(fi ufs.FileInfo) error { names = append(names, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 35 || names[0] != "f00" || names[34] != "f34" {
		t.Fatalf("listed %v", names)
	}
	if n := c.Calls("getListing") - before; n != 4 {
		t.Errorf("35 entries 10 a page took %d getListing calls, want 4", n)
	}
	// A page that fails once is retried without losing or repeating names.
	c.FailNext("getListing", 1, hdfstest.RetriableException, "busy")
	names = nil
	calls := 0
	err := s.List(t.Context(), "", func(fi ufs.FileInfo) error {
		if calls++; calls == 12 {
			c.DropNext("getListing", 1)
		}
		names = append(names, fi.Name)
		return nil
	})
	if err != nil || len(names) != 35 {
		t.Fatalf("listing through failures: %d names, %v", len(names), err)
	}
	for i, n := range names {
		if n != fmt.Sprintf("f%02d", i) {
			t.Fatalf("entry %d is %s", i, n)
		}
	}
}

func TestFilesWrittenByOthers(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	dir := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+dir, nil)
	data := randomBytes(2<<20+3, 11)
	if err := c.WriteFile(dir+"/sub/theirs", data, "bob"); err != nil {
		t.Fatal(err)
	}
	fi, err := s.Stat(t.Context(), "sub/theirs")
	if err != nil || fi.Size != int64(len(data)) || fi.ETag == "" {
		t.Fatalf("Stat = %+v, %v", fi, err)
	}
	if got, err := readFile(s, t.Context(), "sub/theirs"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	if err := c.WriteFile(dir+"/sub/theirs", data[:100], "bob"); err != nil {
		t.Fatal(err)
	}
	fi2, _ := s.Stat(t.Context(), "sub/theirs")
	if fi2.Fingerprint() == fi.Fingerprint() {
		t.Error("a file rewritten by another client kept its fingerprint")
	}
}

// TestWriteAcrossParentRename: a file whose directory is renamed while it
// is written lands at its new place when the writer is retargeted there:
// its temporary file moved with the directory.
func TestWriteAcrossParentRename(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	home := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+home, nil)
	ctx := t.Context()
	if err := s.Mkdir(ctx, "d", 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "d/f", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(ctx, "d", "e"); err != nil {
		t.Fatal(err)
	}
	if err := w.(ufs.Retargeter).Retarget(ctx, "e/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(ctx); err != nil {
		t.Fatalf("Close after the directory was renamed: %v", err)
	}
	if b, err := c.ReadFile(home + "/e/f"); err != nil || string(b) != "hello" {
		t.Fatalf("e/f: %q, %v", b, err)
	}
	if err := s.Delete(ctx, "e/f"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "e"); err != nil {
		t.Fatalf("delete of the emptied directory: %v (a temporary file left in it?)", err)
	}
}

// TestVersionReadRenamedOver: a version-checked read of a file renamed
// over between the open and the first read (when the block locations are
// fetched, by path) fails with ESTALE rather than return the new file's
// bytes.
func TestVersionReadRenamedOver(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	home := homeDir(t, c)
	s := openStore(t, "hdfs://"+c.Addr()+home, nil)
	ctx := t.Context()
	old := putFile(t, s, "f", []byte("old-version-bytes"))
	r, err := s.OpenRangeVersion(ctx, "f", 0, -1, old.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	putFile(t, s, "f", []byte("NEW-VERSION-BYTES"))
	b := make([]byte, 100)
	n, err := r.Read(b)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read of the old version after a rename over it: %q, %v; want ESTALE", b[:n], err)
	}
}

// TestMountIgnoresOtherNamenodes: a mount of one cluster whose Hadoop files
// name another (fs.defaultFS) talks to the cluster of its URI.
func TestMountIgnoresOtherNamenodes(t *testing.T) {
	a := startCluster(t, hdfstest.Config{})
	b := startCluster(t, hdfstest.Config{})
	homeB := homeDir(t, b)
	if err := a.MkdirAll(homeB, testUser, 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := a.HadoopConf(t.TempDir(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, "hdfs://"+b.Addr()+homeB, map[string]string{keyConfiguration: conf})
	putFile(t, s, "x", []byte("for B"))
	if _, err := b.Stat(homeB + "/x"); err != nil {
		t.Errorf("the file is not on the cluster the mount names: %v", err)
	}
	if _, err := a.Stat(homeB + "/x"); err == nil {
		t.Errorf("the file went to the cluster of the Hadoop files' fs.defaultFS")
	}
}

// TestReadRefused: a file the HDFS user may not read fails with EACCES at
// once, not EIO after reopening it.
func TestReadRefused(t *testing.T) {
	c := startCluster(t, hdfstest.Config{})
	home := homeDir(t, c)
	if err := c.WriteFile(home+"/secret", []byte("top secret"), "bob"); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	bob := openStore(t, "hdfs://"+c.Addr()+home, map[string]string{keyLoginUser: "bob"})
	if err := bob.Chmod(ctx, "secret", 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, "hdfs://"+c.Addr()+home, nil)
	r, err := s.OpenRange(ctx, "secret", 0, -1)
	if err == nil {
		defer r.Close()
		_, err = r.Read(make([]byte, 100))
	}
	if !errors.Is(err, syscall.EACCES) {
		t.Fatalf("read of a file the user may not read: %v, want EACCES", err)
	}
}

// TestListNonASCIIOrder: a directory whose names sort differently as
// signed bytes (the namenode's order) and as Go strings is listed whole,
// one entry a page.
func TestListNonASCIIOrder(t *testing.T) {
	c := startCluster(t, hdfstest.Config{ListLimit: 1})
	home := homeDir(t, c)
	names := []string{"cafe.txt", "café.txt", "z", "ä"}
	for _, n := range names {
		if err := c.WriteFile(home+"/l/"+n, []byte(n), testUser); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, "hdfs://"+c.Addr()+home, nil)
	var got []string
	if err := s.List(t.Context(), "l", func(fi ufs.FileInfo) error { got = append(got, fi.Name); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %q, want %q", got, want)
	}
}

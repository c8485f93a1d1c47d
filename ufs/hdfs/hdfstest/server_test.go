package hdfstest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
)

// start runs a cluster that stops with the test.
func start(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// client connects the real colinmarc/hdfs client as user.
func client(t *testing.T, user string, addrs ...string) *hdfs.Client {
	t.Helper()
	cl, err := hdfs.NewClient(hdfs.ClientOptions{Addresses: addrs, User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// randomBytes returns n reproducible bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeFile writes data through the client and closes it.
func writeFile(t *testing.T, cl *hdfs.Client, p string, data []byte) {
	t.Helper()
	w, err := cl.Create(p)
	if err != nil {
		t.Fatalf("create %s: %v", p, err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 70001)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatalf("write %s: %v", p, err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close %s: %v", p, err)
	}
}

func TestReadWriteWithTheRealClient(t *testing.T) {
	c := start(t, Config{Datanodes: 3, ListLimit: 7})
	if err := c.MkdirAll("/user/alice", "alice", 0o755); err != nil {
		t.Fatal(err)
	}
	cl := client(t, "alice", c.Addr())
	data := randomBytes(3<<20+1234, 1) // four blocks of 1 MiB, replicated on three datanodes
	writeFile(t, cl, "/user/alice/big", data)
	st, err := c.Stat("/user/alice/big")
	if err != nil || st.Size != int64(len(data)) || st.Blocks != 4 || st.UnderConstruction || st.Owner != "alice" {
		t.Fatalf("Stat = %+v, %v", st, err)
	}
	c.ns.mu.Lock()
	ip, _ := c.ns.resolve("/user/alice/big")
	first := ip.last().blocks[0].id
	c.ns.mu.Unlock()
	for i := range 3 {
		if got, err := c.dns[i].readAll(first); err != nil || !bytes.Equal(got, data[:1<<20]) {
			t.Fatalf("datanode %d does not hold the first block: %v", i, err)
		}
	}
	got, err := cl.ReadFile("/user/alice/big")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	f, err := cl.Open("/user/alice/big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 511, 512, 1<<20 - 3, 2<<20 + 77, int64(len(data)) - 10} {
		buf := make([]byte, 100)
		n, err := f.ReadAt(buf, off)
		want := data[off:min(off+100, int64(len(data)))]
		if !bytes.Equal(buf[:n], want) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d) = %d bytes, %v", off, n, err)
		}
	}
	if got, err := c.ReadFile("/user/alice/big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("admin ReadFile: %v", err)
	}

	// Listing with startAfter paging (7 entries a page).
	if err := cl.Mkdir("/user/alice/d", 0o755); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 20 {
		name := fmt.Sprintf("f%02d", i)
		want = append(want, name)
		writeFile(t, cl, "/user/alice/d/"+name, []byte(name))
	}
	before := c.Calls("getListing")
	infos, err := cl.ReadDir("/user/alice/d")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range infos {
		names = append(names, fi.Name())
	}
	if !slices.Equal(names, want) {
		t.Fatalf("ReadDir = %v", names)
	}
	if n := c.Calls("getListing") - before; n != 3 {
		t.Errorf("listing 20 entries 7 a page took %d getListing calls, want 3", n)
	}

	// Rename, chmod, chtimes, truncate, delete.
	if err := cl.Rename("/user/alice/d/f00", "/user/alice/moved"); err != nil {
		t.Fatal(err)
	}
	if got, _ := cl.ReadFile("/user/alice/moved"); string(got) != "f00" {
		t.Fatalf("moved file holds %q", got)
	}
	var he hdfs.Error
	if err := cl.Rename("/user/alice/d", "/user/alice/moved"); !errors.As(err, &he) || !strings.Contains(he.Message(), "must both be directories") {
		t.Errorf("rename of a directory onto a file: %v", err)
	}
	if err := cl.Chmod("/user/alice/moved", 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(1700000000, 0)
	if err := cl.Chtimes("/user/alice/moved", mt, mt); err != nil {
		t.Fatal(err)
	}
	if fi, err := cl.Stat("/user/alice/moved"); err != nil || fi.Mode().Perm() != 0o600 || !fi.ModTime().Equal(mt) {
		t.Fatalf("Stat after chmod and chtimes = %v %v, %v", fi.Mode(), fi.ModTime(), err)
	}
	if done, err := cl.Truncate("/user/alice/big", 1<<20); err != nil || !done {
		t.Fatalf("truncate on a block boundary: %v %v", done, err)
	}
	if done, err := cl.Truncate("/user/alice/big", 1000); err != nil || done {
		t.Fatalf("truncate inside a block: %v %v", done, err)
	}
	if got, err := cl.ReadFile("/user/alice/big"); err != nil || !bytes.Equal(got, data[:1000]) {
		t.Fatalf("after truncate: %d bytes, %v", len(got), err)
	}
	if err := cl.Remove("/user/alice/d"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("remove of a full directory: %v", err)
	}
	if err := cl.RemoveAll("/user/alice/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Stat("/user/alice/d/f01"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat after RemoveAll: %v", err)
	}
	if open := c.OpenFiles(); len(open) != 0 {
		t.Errorf("files left open: %v", open)
	}
	if _, err := cl.StatFs(); err != nil {
		t.Errorf("StatFs: %v", err)
	}
}

func TestPermissions(t *testing.T) {
	c := start(t, Config{})
	if err := c.MkdirAll("/home/alice", "alice", 0o700); err != nil {
		t.Fatal(err)
	}
	bob := client(t, "bob", c.Addr())
	if err := bob.Mkdir("/home/alice/x", 0o755); !errors.Is(err, os.ErrPermission) {
		t.Errorf("bob's mkdir in alice's home: %v", err)
	}
	if err := bob.Mkdir("/top", 0o755); !errors.Is(err, os.ErrPermission) {
		t.Errorf("bob's mkdir in the root: %v", err)
	}
	alice := client(t, "alice", c.Addr())
	writeFile(t, alice, "/home/alice/f", []byte("x"))
	if err := alice.Chown("/home/alice/f", "bob", ""); err == nil {
		t.Error("alice gave her file away without being a superuser")
	}
	root := client(t, "hdfs", c.Addr())
	if err := root.Chown("/home/alice/f", "bob", "staff"); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Stat("/home/alice/f"); st.Owner != "bob" || st.Group != "staff" {
		t.Errorf("after chown: %+v", st)
	}
	if _, err := bob.Stat("/home/alice/f"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("bob's stat through a 0700 directory: %v", err)
	}
}

func TestHAFailover(t *testing.T) {
	c := start(t, Config{HA: true})
	cl := client(t, "hdfs", c.NamenodeAddrs()[1], c.NamenodeAddrs()[0]) // the standby first
	writeFile(t, cl, "/a", []byte("through the active namenode"))
	if n := c.Calls("create"); n != 1 {
		t.Errorf("%d create calls", n)
	}
	c.Failover()
	cl2 := client(t, "hdfs", c.NamenodeAddrs()...)
	if got, err := cl2.ReadFile("/a"); err != nil || string(got) != "through the active namenode" {
		t.Fatalf("read after failover: %q %v", got, err)
	}
}

func TestDatanodeFailoverAndCorruption(t *testing.T) {
	c := start(t, Config{Datanodes: 2})
	cl := client(t, "hdfs", c.Addr())
	data := randomBytes(2<<20+5, 2)
	writeFile(t, cl, "/f", data)
	if err := c.CorruptReplica("/f", 0); err != nil {
		t.Fatal(err)
	}
	// colinmarc/hdfs verifies every chunk, but a Read that spans whole
	// chunks hands back the bytes of a chunk that failed before it fails
	// over; reads smaller than a chunk see only verified bytes.
	if got, err := readSmall(cl, "/f"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a corrupt replica on dn0: %d bytes, %v", len(got), err)
	}
	c.KillDatanode(1)
	if _, err := readSmall(cl, "/f"); err == nil {
		t.Fatal("read with dn0 corrupt and dn1 dead succeeded")
	}
	if err := c.RestartDatanode(1); err != nil {
		t.Fatal(err)
	}
	if got, err := readSmall(client(t, "hdfs", c.Addr()), "/f"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after the restart: %v", err)
	}
}

func TestFaults(t *testing.T) {
	c := start(t, Config{})
	cl := client(t, "hdfs", c.Addr())
	c.FailNext("getFileInfo", 1, SafeModeException, "Name node is in safe mode.")
	_, err := cl.Stat("/")
	var he hdfs.Error
	if !errors.As(err, &he) || he.Exception() != SafeModeException {
		t.Fatalf("stat with an injected SafeModeException: %v", err)
	}
	if _, err := cl.Stat("/"); err != nil {
		t.Fatalf("second stat: %v", err)
	}
	c.SetSafeMode(true)
	if err := cl.Mkdir("/x", 0o755); !errors.As(err, &he) || he.Exception() != SafeModeException {
		t.Errorf("mkdir in safe mode: %v", err)
	}
	c.SetSafeMode(false)
	c.DelayCompleteNext(1)
	w, err := cl.Create("/g")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data"))
	if err := w.Close(); !hdfs.IsErrReplicating(err) {
		t.Fatalf("close while complete answers false: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if got, err := c.ReadFile("/g"); err != nil || string(got) != "data" {
		t.Fatalf("file after the retried close: %q %v", got, err)
	}
}

// readSmall reads a whole file 511 bytes at a time.
func readSmall(cl *hdfs.Client, p string) ([]byte, error) {
	f, err := cl.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, 511)
	for {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

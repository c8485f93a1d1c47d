package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/fuse"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/local"
)

// opaqueUFS is a local directory that hides the descriptor of its files
// (ufs.FileOpener), as an object store would, so that a reader of a file
// not wholly cached reads it by range rather than through the under-store's
// own file.
type opaqueUFS struct{ ufs.UFS }

func init() {
	ufs.Register("sctest", func(u *url.URL, _ map[string]string) (ufs.UFS, error) {
		s, err := local.New(u.Path)
		if err != nil {
			return nil, err
		}
		return opaqueUFS{s}, nil
	})
}

// scCluster is a master and a worker whose MEM tier holds quota bytes, with
// a directory mounted at /sc through opaqueUFS.
type scCluster struct {
	conf   *conf.Config
	worker *Worker
	wc     WorkerConfig
	dir    string // the directory behind /sc
	master *Master
	rpc    string // the master's RPC address
}

func startSCCluster(t *testing.T, quota string) *scCluster {
	t.Helper()
	home := t.TempDir()
	sc := &scCluster{dir: filepath.Join(home, "sc")}
	for _, d := range []string{filepath.Join(home, "ufs"), sc.dir, filepath.Join(home, "conf"), filepath.Join(home, "shm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	site := strings.Join([]string{
		"alluxio.master.hostname=127.0.0.1",
		"alluxio.worker.hostname=127.0.0.1",
		"alluxio.master.mount.table.root.ufs=" + filepath.Join(home, "ufs"),
		"alluxio.worker.tieredstore.level0.dirs.path=" + filepath.Join(home, "shm"),
		"alluxio.worker.tieredstore.level0.dirs.quota=" + quota,
		"alluxio.worker.network.reader.buffer.size=4MB",
		"alluxio.worker.data.server.domain.socket.address=" + filepath.Join(home, "run", "worker.sock"),
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(home, "conf", conf.SiteFileName), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{"alluxio.home": home}
	for _, k := range []string{"alluxio.master.rpc.port", "alluxio.master.web.port", "alluxio.master.embedded.journal.port",
		"alluxio.worker.web.port",
		"alluxio.worker.rpc.port", "alluxio.worker.membership.port"} {
		flags[k] = freeTCPPort(t)
	}
	c, err := conf.Load(conf.LoadOptions{Home: home, Flags: flags, Env: func(string) (string, bool) { return "", false },
		Role: conf.RoleAny})
	if err != nil {
		t.Fatal(err)
	}
	sc.conf = c
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	mc, err := MasterConfigFrom(c, log)
	if err != nil {
		t.Fatal(err)
	}
	mc.WebAddr = ""
	m, err := StartMaster(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	sc.master, sc.rpc = m, mc.RPCAddr
	waitFor(t, "master leadership", func() bool { return m.meta.Ready() })
	wc := WorkerConfigFrom(c, log)
	wc.WebAddr = ""
	wc.Heartbeat = 50 * time.Millisecond
	w, err := StartWorker(ctx, wc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.worker.Close() })
	sc.worker, sc.wc = w, wc
	waitFor(t, "worker heartbeat", func() bool { return len(m.Workers()) == 1 })
	if err := m.meta.Mount(ctx, "/sc", "sctest://"+sc.dir, meta.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	return sc
}

// client returns a client of the cluster with short-circuit reads on or
// off.
func (sc *scCluster) client(t *testing.T, shortCircuit bool) *client.Client {
	t.Helper()
	cl := client.New(ClientConfigFrom(sc.conf, slog.New(slog.NewTextHandler(io.Discard, nil))))
	cl.SetShortCircuit(shortCircuit)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// waitLeasesReleased waits until the worker holds no lease.
func (sc *scCluster) waitLeasesReleased(t *testing.T) {
	t.Helper()
	waitFor(t, "leases released", func() bool {
		sc.worker.stateMu.Lock()
		defer sc.worker.stateMu.Unlock()
		return len(sc.worker.leases) == 0
	})
}

// file writes n random bytes behind /sc/name and returns them.
func (sc *scCluster) file(t *testing.T, name string, seed uint64, n int) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed+1))
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(filepath.Join(sc.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// splicer is a handle the FUSE layer reads through ReadSplice: a
// client.FileReader or client.FileWriter.
type splicer interface {
	fuse.SpliceReader
	Size() int64
}

// readLikeKernel reads r from off to the end in chunks of chunk bytes,
// through ReadSplice as the FUSE layer does, and returns the bytes.
func readLikeKernel(t *testing.T, r splicer, off int64, chunk int, each func(off int64)) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, chunk)
	for off < r.Size() {
		if each != nil {
			each(off)
		}
		sp, n, err := r.ReadSplice(context.Background(), buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadSplice at %d: %v", off, err)
		}
		if sp != nil {
			p := make([]byte, sp.Len)
			m, err := syscall.Pread(int(sp.Fd), p, sp.Off)
			sp.Done()
			if err != nil || m != sp.Len {
				t.Fatalf("pread of the splice at %d: %d bytes, %v; want %d", off, m, err, sp.Len)
			}
			out = append(out, p...)
			off += int64(m)
			continue
		}
		if n == 0 {
			t.Fatalf("ReadSplice at %d: no bytes", off)
		}
		out = append(out, buf[:n]...)
		off += int64(n)
	}
	return out
}

func TestShortCircuitRead(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	data := sc.file(t, "big", 1, 10<<20+123)
	on, off := sc.client(t, true), sc.client(t, false)
	// Every reader opens before any byte is cached, so that none gets the
	// whole file's descriptor: they read by range.
	open := func(cl *client.Client) *client.FileReader {
		r, err := cl.OpenFile(ctx, "/sc/big")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		if r.Passthrough() != nil {
			t.Fatal("the reader got a whole-file descriptor; the test reads by range")
		}
		return r
	}
	tests := []struct {
		name  string
		r     *client.FileReader
		on    bool
		chunk int
	}{
		{"on, cold, kernel-sized reads", open(on), true, 128 << 10},
		{"on, cached, 1MiB reads", open(on), true, 1 << 20},
		{"off", open(off), false, 1 << 20},
	}
	random := open(on)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := sc.worker.Stats()
			got := readLikeKernel(t, tt.r, 0, tt.chunk, nil)
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes, differ from the file's %d", len(got), len(data))
			}
			after := sc.worker.Stats()
			socket := after.BytesReadDomain - before.BytesReadDomain
			leased := after.BytesReadShortCircuit - before.BytesReadShortCircuit
			if tt.on && (socket != 0 || leased < int64(len(data))) {
				t.Fatalf("short-circuit on: %d bytes through the socket, %d leased; want 0 and %d", socket, leased, len(data))
			}
			if !tt.on && (socket < int64(len(data)) || leased != 0) {
				t.Fatalf("short-circuit off: %d bytes through the socket, %d leased; want %d and 0", socket, leased, len(data))
			}
		})
	}
	// Random reads through ReadAt (the CLI's path).
	rng := rand.New(rand.NewPCG(7, 8))
	for range 50 {
		off := rng.Int64N(int64(len(data)))
		p := make([]byte, 1+rng.IntN(300<<10))
		n, err := random.ReadAt(ctx, p, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d, %d): %v", off, len(p), err)
		}
		if !bytes.Equal(p[:n], data[off:off+int64(n)]) {
			t.Fatalf("ReadAt(%d, %d): bytes differ", off, len(p))
		}
	}
	// Every lease is released once the readers are done.
	for _, tt := range tests {
		tt.r.Close()
	}
	random.Close()
	sc.waitLeasesReleased(t)
}

// TestShortCircuitEvictAndRewrite reads a file by short-circuit while the
// worker evicts its pages for another file, drops its cached version (a
// free) and caches a new version of it in its place: the reader gets the
// bytes of the version it opened throughout, never zeros from a punched
// page or the new version's bytes.
func TestShortCircuitEvictAndRewrite(t *testing.T) {
	sc := startSCCluster(t, "8MB") // smaller than the two files together
	ctx := context.Background()
	data := sc.file(t, "a", 2, 6<<20+77)
	other := sc.file(t, "b", 3, 6<<20)
	cl := sc.client(t, true)
	r, err := cl.OpenFile(ctx, "/sc/a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rb, err := cl.OpenFile(ctx, "/sc/b")
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	key := blockstore.FileKey{ID: r.Info().ID, Fingerprint: r.Version()}

	disturb := func(off int64) {
		switch off {
		case 1 << 20:
			// The other file goes through the tier: unleased pages of
			// this one are evicted.
			if got := readLikeKernel(t, rb, 0, 1<<20, nil); !bytes.Equal(got, other) {
				t.Fatal("the other file's bytes differ")
			}
		case 3 << 20:
			sc.worker.store.Remove(key) // alluxio fs free
		case 4 << 20:
			// A new version of the file is written through the cache;
			// its backing file may take the old one's name.
			w, err := sc.worker.store.Create(blockstore.FileKey{ID: key.ID, Fingerprint: key.Fingerprint + "-new"}, false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(bytes.Repeat([]byte{0xAB}, len(data))); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := readLikeKernel(t, r, 0, 128<<10, disturb)
	if !bytes.Equal(got, data) {
		for off := 0; off < len(got); off += 1 << 20 {
			end := min(off+1<<20, len(got))
			if !bytes.Equal(got[off:end], data[off:end]) {
				t.Errorf("bytes at %d differ from the version opened (zeros: %t)", off,
					bytes.Equal(got[off:end], make([]byte, end-off)))
			}
		}
		t.Fatalf("read %d bytes that differ from the version opened", len(got))
	}
	if st := sc.worker.Stats(); st.Evictions == 0 {
		t.Errorf("no page was evicted; the test did not disturb the reader")
	}
}

// TestShortCircuitWorkerRestart reads on after the worker restarted: the
// windows leased from the old worker are not used any more (the new one
// knows nothing of their leases), the reader asks the new worker, which
// found its cached pages again, and the bytes stay right.
func TestShortCircuitWorkerRestart(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	data := sc.file(t, "a", 4, 8<<20+5)
	cl := sc.client(t, true)
	r, err := cl.OpenFile(ctx, "/sc/a")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	restart := func(off int64) {
		if off != 2<<20 {
			return
		}
		if err := sc.worker.Close(); err != nil {
			t.Fatal(err)
		}
		w, err := StartWorker(ctx, sc.wc)
		if err != nil {
			t.Fatal(err)
		}
		sc.worker = w
	}
	got := readLikeKernel(t, r, 0, 256<<10, restart)
	if !bytes.Equal(got, data) {
		t.Fatal("bytes read across the worker's restart differ from the file's")
	}
	// Everything from the restart on was leased anew from the new worker.
	if st := sc.worker.Stats(); st.BytesReadShortCircuit < int64(len(data)-2<<20) || st.BytesReadDomain != 0 {
		t.Fatalf("after the restart: %d bytes leased, %d through the socket; want %d and none",
			st.BytesReadShortCircuit, st.BytesReadDomain, len(data)-2<<20)
	}
}

// Several reads at once, as the kernel's read-ahead sends them, some out of
// order, all by short-circuit, each with the right bytes.
func TestShortCircuitConcurrentReads(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	data := sc.file(t, "c", 5, 12<<20+999)
	r, err := sc.client(t, true).OpenFile(ctx, "/sc/c")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const req = 256 << 10
	got := make([]byte, len(data))
	errs := make(chan error, 4)
	for off := 0; off < len(data); off += 4 * req {
		for k := 3; k >= 0; k-- { // the last of each four first
			go func(o int) {
				if o >= len(data) {
					errs <- nil
					return
				}
				end := min(o+req, len(data))
				sp, n, err := r.ReadSplice(ctx, got[o:end], int64(o))
				if sp != nil {
					n, err = syscall.Pread(int(sp.Fd), got[o:o+sp.Len], sp.Off)
					sp.Done()
				}
				if err == nil && n != end-o {
					err = io.ErrUnexpectedEOF
				}
				errs <- err
			}(off + k*req)
		}
		for range 4 {
			if err := <-errs; err != nil && err != io.EOF {
				t.Fatalf("read near %d: %v", off, err)
			}
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("concurrent reads returned wrong bytes")
	}
	if st := sc.worker.Stats(); st.BytesReadDomain != 0 {
		t.Fatalf("%d bytes through the socket, want none", st.BytesReadDomain)
	}
}

// A file open for writing that has not been written through the handle is
// read as a read-only open reads it: by short-circuit, with one reader
// whose leases carry over from read to read (each read leasing a window of
// its own leased the read-ahead again for every call). Once the handle
// writes and commits, its reads give the new version.
func TestShortCircuitReadThroughWriter(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	data := sc.file(t, "rw", 3, 10<<20+77)
	w, err := sc.client(t, true).OpenWriter(ctx, "/sc/rw")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	read := func() []byte { return readLikeKernel(t, w, 0, 1<<20, nil) }
	before := sc.worker.Stats()
	if got := read(); !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes through the writer, differ from the file's %d", len(got), len(data))
	}
	after := sc.worker.Stats()
	socket := after.BytesReadDomain - before.BytesReadDomain
	leased := after.BytesReadShortCircuit - before.BytesReadShortCircuit
	// The reader's read-ahead (alluxio.worker.network.reader.buffer.size,
	// 4MB here) may lease past what was read, once.
	if socket != 0 || leased < int64(len(data)) || leased > int64(len(data))+8<<20 {
		t.Fatalf("read through a writer: %d bytes through the socket, %d leased; want 0 and %d to %d",
			socket, leased, len(data), len(data)+8<<20)
	}
	// One reader for all eleven reads: the backing file's descriptor
	// was passed once.
	if passed := after.ShortCircuitFiles - before.ShortCircuitFiles; passed != 1 {
		t.Fatalf("read through a writer: the backing file was passed %d times, want once", passed)
	}
	// A write in the middle, committed: the handle reads the new version.
	if _, err := w.WriteAt(ctx, []byte("new bytes"), 5<<20); err != nil {
		t.Fatal(err)
	}
	if err := w.Fsync(ctx); err != nil {
		t.Fatal(err)
	}
	copy(data[5<<20:], "new bytes")
	if got := read(); !bytes.Equal(got, data) {
		t.Fatal("read after a committed write: bytes differ from the new version")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sc.waitLeasesReleased(t)
}

// A file open for writing whose version the worker holds whole is read
// from the whole file the worker passes, as a read-only open's is: no
// lease per range. A read spliced from the whole file keeps it open, and
// its lease, until the kernel has the bytes, even when the reader closes
// first.
func TestWholeFileReadThroughWriter(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	data := sc.file(t, "whole", 5, 6<<20+11)
	cl := sc.client(t, true)
	// A first reader caches the file whole.
	r, err := cl.OpenFile(ctx, "/sc/whole")
	if err != nil {
		t.Fatal(err)
	}
	if got := readLikeKernel(t, r, 0, 1<<20, nil); !bytes.Equal(got, data) {
		t.Fatal("first read: bytes differ")
	}
	r.Close()
	waitFor(t, "the file cached whole", func() bool {
		r, err := cl.OpenFile(ctx, "/sc/whole")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		return r.Passthrough() != nil
	})

	w, err := cl.OpenWriter(ctx, "/sc/whole")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	before := sc.worker.Stats()
	if got := readLikeKernel(t, w, 0, 1<<20, nil); !bytes.Equal(got, data) {
		t.Fatal("read through the writer: bytes differ")
	}
	after := sc.worker.Stats()
	if whole, leased := after.PassthroughOpens-before.PassthroughOpens, after.BytesReadShortCircuit-before.BytesReadShortCircuit; whole != 1 || leased != 0 {
		t.Fatalf("read through the writer: %d whole-file opens and %d bytes leased by range; want 1 and 0", whole, leased)
	}
	// A splice outlives the reader's close.
	sp, _, err := w.ReadSplice(ctx, make([]byte, 4096), 12345)
	if err != nil || sp == nil {
		t.Fatalf("ReadSplice: %v, %v; want a splice of the whole file", sp, err)
	}
	if _, err := w.WriteAt(ctx, []byte("changed"), 3<<20); err != nil {
		t.Fatal(err) // the write ends the reader of the committed version
	}
	p := make([]byte, sp.Len)
	if n, err := syscall.Pread(int(sp.Fd), p, sp.Off); err != nil || n != len(p) || !bytes.Equal(p, data[12345:12345+4096]) {
		t.Fatalf("pread of a splice after its reader closed: %d bytes, %v, equal %t", n, err, bytes.Equal(p, data[12345:12345+4096]))
	}
	sp.Done()
	if err := w.Fsync(ctx); err != nil {
		t.Fatal(err)
	}
	copy(data[3<<20:], "changed")
	if got := readLikeKernel(t, w, 0, 1<<20, nil); !bytes.Equal(got, data) {
		t.Fatal("read after a committed write: bytes differ from the new version")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sc.waitLeasesReleased(t)
}

// rewrite puts data into the under-store as /sc/name, loads it, and opens
// it for writing through a client of its own (closed when the test ends).
func (sc *scCluster) rewrite(t *testing.T, name string, data []byte, shortCircuit bool) *client.FileWriter {
	t.Helper()
	ctx := context.Background()
	if err := os.WriteFile(filepath.Join(sc.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cl := sc.client(t, shortCircuit)
	if _, err := cl.LoadMetadata(ctx, "/sc/"+name, false); err != nil {
		t.Fatal(err)
	}
	w, err := cl.OpenWriter(ctx, "/sc/"+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// After a write into the middle of a file, a handle reads its staged
// version from the staging file the worker passes (by splice), not through
// the worker's socket; with short-circuit reads off it reads through the
// socket. Both read the written bytes, and a hole left by truncating up
// reads as zeros.
func TestStagedReadThroughWriter(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	orig := sc.file(t, "staged", 7, 3<<20+5)
	for _, shortCircuit := range []bool{true, false} {
		t.Run(fmt.Sprintf("short-circuit %t", shortCircuit), func(t *testing.T) {
			w := sc.rewrite(t, "staged", orig, shortCircuit)
			data := append([]byte(nil), orig...)
			if _, err := w.WriteAt(ctx, []byte("written"), 1<<20+3); err != nil {
				t.Fatal(err)
			}
			copy(data[1<<20+3:], "written")
			if err := w.Truncate(ctx, int64(len(data))+10000); err != nil {
				t.Fatal(err)
			}
			data = append(data, make([]byte, 10000)...)
			sp, _, err := w.ReadSplice(ctx, make([]byte, 1<<20), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if spliced := sp != nil; spliced != shortCircuit {
				t.Fatalf("a staged read answered by splice: %t, want %t", spliced, shortCircuit)
			}
			if sp != nil {
				sp.Done()
			}
			if got := readLikeKernel(t, w, 0, 1<<20, nil); !bytes.Equal(got, data) {
				t.Fatalf("staged read: %d bytes, differ from the %d written", len(got), len(data))
			}
			p := make([]byte, 64<<10)
			if n, err := w.ReadAt(ctx, p, int64(len(data))-int64(len(p))); err != nil || n != len(p) || !bytes.Equal(p, data[len(data)-len(p):]) {
				t.Fatalf("ReadAt of the staged tail: %d bytes, %v", n, err)
			}
			if err := w.Fsync(ctx); err != nil {
				t.Fatal(err)
			}
			if got := readLikeKernel(t, w, 0, 1<<20, nil); !bytes.Equal(got, data) {
				t.Fatal("read after the commit: bytes differ")
			}
		})
	}
}

// With short-circuit on, a staged handle writes into the staging file the
// node's worker passes, with no worker call per write (the worker's
// session does not see the writes until the commit); with it off, through
// the worker. Either way the committed version is every write, past the
// end, over a hole and after a truncate down, and the worker counts the
// bytes written.
func TestStagedWritesIntoStagingFile(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	orig := sc.file(t, "direct", 9, 2<<20+7)
	for _, shortCircuit := range []bool{true, false} {
		t.Run(fmt.Sprintf("short-circuit %t", shortCircuit), func(t *testing.T) {
			w := sc.rewrite(t, "direct", orig, shortCircuit)
			ufsPath := filepath.Join(sc.dir, "direct")
			counted := sc.worker.counters.bytesWrittenDomain.Load()
			data := append([]byte(nil), orig...)
			written := 0
			at := func(s string, off int) {
				t.Helper()
				if n, err := w.WriteAt(ctx, []byte(s), int64(off)); err != nil || n != len(s) {
					t.Fatalf("write of %d bytes at %d: %d, %v", len(s), off, n, err)
				}
				if end := off + len(s); end > len(data) {
					data = append(data, make([]byte, end-len(data))...)
				}
				copy(data[off:], s)
				written += len(s)
			}
			at("in the middle", 1<<20)
			at("at the end", len(data))
			at("past a hole", len(data)+5000)
			if err := w.Truncate(ctx, 1<<20+100); err != nil {
				t.Fatal(err)
			}
			data = data[:1<<20+100]
			at("after a truncate down", 1<<20+200)

			got := make([]byte, len(data)+10)
			if n, err := w.ReadAt(ctx, got, 0); n != len(data) || !errors.Is(err, io.EOF) && err != nil || !bytes.Equal(got[:n], data) {
				t.Fatalf("read back: %d bytes, %v; want the %d written", n, err, len(data))
			}
			sc.worker.stateMu.Lock()
			var sessionSize []int64
			for _, s := range sc.worker.sessions {
				s.mu.Lock()
				sessionSize = append(sessionSize, s.size)
				s.mu.Unlock()
			}
			sc.worker.stateMu.Unlock()
			if len(sessionSize) != 1 {
				t.Fatalf("%d write sessions at the worker, want 1", len(sessionSize))
			}
			if seen := sessionSize[0] == int64(len(data)); seen == shortCircuit {
				t.Errorf("the worker's session is %d bytes long, the file %d: the writes went through the worker: %t, want %t",
					sessionSize[0], len(data), seen, !shortCircuit)
			}
			if err := w.Fsync(ctx); err != nil {
				t.Fatal(err)
			}
			if n := sc.worker.counters.bytesWrittenDomain.Load() - counted; n != int64(written) {
				t.Errorf("the worker counted %d bytes written, want %d", n, written)
			}
			if b, err := os.ReadFile(ufsPath); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("under-store copy: %d bytes, %v; want the %d written", len(b), err, len(data))
			}
		})
	}
}

// TestCommitDataAt: the bytes a commit carries go where the client says
// (wire.CommitRequest.At); a worker holding another length, as after a
// write whose answer was lost and whose bytes come again with the commit,
// refuses the commit before it uploads anything.
func TestCommitDataAt(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	wc := sc.socketClient(t)
	write := func(name string, at int64) (wire.WriteCommitResponse, error) {
		_, open := sc.openSession(t, wc, name, "CACHE_THROUGH")
		if _, err := wc.Call(ctx, wire.WorkerWrite, wire.WriteRequest{Session: open.Session}, []byte("first bytes;"), nil, nil); err != nil {
			t.Fatal(err)
		}
		var resp wire.WriteCommitResponse
		_, err := wc.Call(ctx, wire.WorkerWriteCommit, wire.CommitRequest{Session: open.Session, At: &at}, []byte("last bytes"), &resp, nil)
		return resp, err
	}
	if resp, err := write("right", 12); err != nil || resp.Size != 22 {
		t.Fatalf("commit with its bytes at the session's end: %+v, %v", resp, err)
	}
	if b, err := os.ReadFile(filepath.Join(sc.dir, "right")); err != nil || string(b) != "first bytes;last bytes" {
		t.Fatalf("the store's file: %q, %v", b, err)
	}
	if _, err := write("wrong", 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit with its bytes at 0 of a session holding 12: %v, want EIO", err)
	}
	if _, err := os.Stat(filepath.Join(sc.dir, "wrong")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused commit left a file in the store: %v", err)
	}
}

// TestPersistWaitsForNewerVersion: a version queued for an asynchronous
// persist is not dropped while a newer one is only being written (its
// writer may fail and the master give the file this version back); once
// the newer one is complete it is.
func TestPersistWaitsForNewerVersion(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	m := sc.master.meta
	fi, err := m.CreateFile(ctx, "/sc/async", meta.CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := m.CompleteFile(ctx, fi.ID, meta.CompleteOptions{Size: 5, Location: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sc.worker.stillCurrent(ctx, wire.RefOf(v1)); !ok || err != nil {
		t.Fatalf("the only version: current %v, %v", ok, err)
	}
	v2, err := m.NewVersion(ctx, fi.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sc.worker.stillCurrent(ctx, wire.RefOf(v1)); ok || !errors.Is(err, errNewerIncomplete) {
		t.Fatalf("while a newer version is written: current %v, %v; want to wait (errNewerIncomplete)", ok, err)
	}
	if _, err := m.RestoreVersion(ctx, fi.ID, v2.Fingerprint, meta.VersionOf(v1)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sc.worker.stillCurrent(ctx, wire.RefOf(v1)); !ok || err != nil {
		t.Fatalf("given back after the newer version's writer failed: current %v, %v", ok, err)
	}
	if _, err := m.NewVersion(ctx, fi.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CompleteFile(ctx, fi.ID, meta.CompleteOptions{Size: 9, Location: "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := sc.worker.stillCurrent(ctx, wire.RefOf(v1)); ok || err != nil {
		t.Fatalf("once a newer version is complete: current %v, %v; want superseded", ok, err)
	}
}

// TestSweepHeld: a version the worker holds as the only copy of its bytes
// (MUST_CACHE) is dropped once its file is removed at the master (after
// two sweeps), and one that is still the file's stays.
func TestSweepHeld(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	wc := sc.socketClient(t)
	write := func(name string) blockstore.FileKey {
		fi, open := sc.openSession(t, wc, name, "MUST_CACHE")
		var resp wire.WriteCommitResponse
		if _, err := wc.Call(ctx, wire.WorkerWriteCommit, wire.CommitRequest{Session: open.Session}, []byte("only here"), &resp, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := sc.master.meta.CompleteFile(ctx, fi.ID, meta.CompleteOptions{Size: resp.Size, Location: resp.Location}); err != nil {
			t.Fatal(err)
		}
		return keyOf(wire.RefOf(fi))
	}
	kept, removed := write("kept"), write("removed")
	held := func(key blockstore.FileKey) bool {
		for _, f := range sc.worker.store.Files() {
			if f.Key == key && f.Held {
				return true
			}
		}
		return false
	}
	if !held(kept) || !held(removed) {
		t.Fatal("the MUST_CACHE versions are not held by the worker")
	}
	if err := sc.master.meta.Delete(ctx, "/sc/removed", false); err != nil {
		t.Fatal(err)
	}
	s := &heldSweeper{strikes: map[blockstore.FileKey]int{}}
	s.sweep(ctx, sc.worker)
	if !held(removed) {
		t.Fatal("dropped after one sweep; two in a row must find it removed")
	}
	s.sweep(ctx, sc.worker)
	if held(removed) {
		t.Error("the version of a removed file is still held after two sweeps")
	}
	if !held(kept) {
		t.Error("the version of a file the master still has was dropped")
	}
}

// socketClient is an RPC client of the worker's UNIX socket, as a FUSE
// daemon's.
func (sc *scCluster) socketClient(t *testing.T) *rpc.Client {
	t.Helper()
	wc, err := rpc.Dial(context.Background(), "unix", sc.wc.SocketPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wc.Close() })
	return wc
}

// openSession creates /sc/name at the master and opens a worker write
// session of it with writeType.
func (sc *scCluster) openSession(t *testing.T, wc *rpc.Client, name, writeType string) (meta.FileInfo, wire.WriteOpenResponse) {
	t.Helper()
	ctx := context.Background()
	fi, err := sc.master.meta.CreateFile(ctx, "/sc/"+name, meta.CreateOptions{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	var open wire.WriteOpenResponse
	if _, err := wc.Call(ctx, wire.WorkerWriteOpen, wire.WriteOpenRequest{File: wire.RefOf(fi), WriteType: writeType}, nil, &open, nil); err != nil {
		t.Fatal(err)
	}
	return fi, open
}

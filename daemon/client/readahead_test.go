package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alluxio-go/alluxio/cluster"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// fakeWorker serves one file's bytes over a UNIX socket and counts reads.
type fakeWorker struct {
	data  []byte
	reads atomic.Int64
}

func startFakeWorker(t *testing.T, data []byte) (*fakeWorker, string) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "w.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	fw := &fakeWorker{data: data}
	s := rpc.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	self := cluster.Member{Name: "127.0.0.1:1", RPCAddr: "127.0.0.1:1"}
	s.Handle(wire.WorkerMembers, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		return &rpc.Response{Body: wire.MembersResponse{Self: self, Members: []cluster.Member{self}}}, nil
	})
	s.Handle(wire.WorkerRead, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		var r wire.ReadRequest
		if err := req.Decode(&r); err != nil {
			return nil, err
		}
		fw.reads.Add(1)
		end := min(int64(len(fw.data)), r.Offset+int64(r.Length))
		return &rpc.Response{Data: fw.data[r.Offset:end]}, nil
	})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return fw, sock
}

// TestReadAhead reads a file through FileReader the ways the kernel does:
// sequential 128 KiB requests, several at once, and random ones; every
// byte must be right, and sequential reading must take few worker calls.
func TestReadAhead(t *testing.T) {
	const size = 21<<20 + 12345
	data := make([]byte, size)
	rand.Read(data)
	fw, sock := startFakeWorker(t, data)
	c := New(Config{WorkerNetwork: "unix", WorkerAddr: sock, BlockSize: 8 << 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { c.Close() })
	fi := meta.FileInfo{ID: 7, Path: "/f", Size: size, Fingerprint: "v1", Persisted: true, Completed: true}
	open := func() *FileReader { return &FileReader{c: c, info: fi, ref: wire.RefOf(fi)} }
	ctx := context.Background()

	t.Run("sequential", func(t *testing.T) {
		r := open()
		before := fw.reads.Load()
		got := make([]byte, 0, size)
		buf := make([]byte, 128<<10)
		for off := int64(0); off < size; {
			n, err := r.ReadAt(ctx, buf, off)
			if err != nil && err != io.EOF {
				t.Fatalf("read at %d: %v", off, err)
			}
			got = append(got, buf[:n]...)
			off += int64(n)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("sequential read returned wrong bytes")
		}
		// 21 MiB in 4 MiB windows within 8 MiB blocks, plus direct reads
		// where a block ends too close for a window.
		if calls := fw.reads.Load() - before; calls > 20 {
			t.Fatalf("sequential 128 KiB reads made %d worker calls, want at most 20", calls)
		}
	})

	t.Run("concurrent sequential requests", func(t *testing.T) {
		r := open()
		got := make([]byte, size)
		const req = 128 << 10
		var wg sync.WaitGroup
		var failed atomic.Bool
		for off := int64(0); off < size; off += 4 * req {
			wg.Wait() // four requests in flight at a time, like kernel read-ahead
			for k := int64(0); k < 4 && off+k*req < size; k++ {
				wg.Add(1)
				go func(o int64) {
					defer wg.Done()
					end := min(o+req, size)
					if _, err := r.ReadAt(ctx, got[o:end], o); err != nil && err != io.EOF {
						failed.Store(true)
					}
				}(off + k*req)
			}
		}
		wg.Wait()
		if failed.Load() || !bytes.Equal(got, data) {
			t.Fatal("concurrent requests returned errors or wrong bytes")
		}
	})

	t.Run("random", func(t *testing.T) {
		r := open()
		for _, off := range []int64{size - 100, 5, 8<<20 - 3, 3 << 20, 3<<20 + 4096, 16 << 20, 0} {
			buf := make([]byte, 200<<10)
			n, err := r.ReadAt(ctx, buf, off)
			if err != nil && err != io.EOF {
				t.Fatalf("read at %d: %v", off, err)
			}
			if want := data[off:min(size, off+int64(len(buf)))]; !bytes.Equal(buf[:n], want) {
				t.Fatalf("read at %d returned wrong bytes", off)
			}
		}
	})
}

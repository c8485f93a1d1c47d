package rpc

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const benchSize = 1 << 20

// BenchmarkCall1MiB measures a read-sized call over the UNIX socket: 1 MiB of
// data per response, read into a reused buffer. Compare its MB/s with
// BenchmarkUnixCopy1MiB, the same bytes over a bare socket pair.
func BenchmarkCall1MiB(b *testing.B) {
	benchCall(b, "unix", filepath.Join(b.TempDir(), "bench.sock"))
}

// BenchmarkCall1MiBTCP is BenchmarkCall1MiB over TCP on the loopback
// interface, the path of a remote worker.
func BenchmarkCall1MiBTCP(b *testing.B) {
	benchCall(b, "tcp", "127.0.0.1:0")
}

func benchCall(b *testing.B, network, addr string) {
	page := make([]byte, benchSize)
	for i := range page {
		page[i] = byte(i)
	}
	s := NewServer(nil)
	s.Handle("page", func(ctx context.Context, req *Request) (*Response, error) {
		return &Response{Data: page}, nil
	})
	l, err := net.Listen(network, addr)
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	c, err := Dial(context.Background(), network, l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })

	buf := make([]byte, benchSize)
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ReportAllocs()
	for b.Loop() {
		res, err := c.Call(ctx, "page", nil, nil, nil, buf)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Data) != benchSize || &res.Data[0] != &buf[0] {
			b.Fatal("response data did not land in the reused buffer")
		}
	}
}

// BenchmarkUnixCopy1MiB is the baseline for BenchmarkCall1MiB: a request byte
// and 1 MiB answer over a bare UNIX socket, with no framing or dispatch.
func BenchmarkUnixCopy1MiB(b *testing.B) {
	l, err := net.Listen("unix", filepath.Join(b.TempDir(), "raw.sock"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	page := make([]byte, benchSize)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		one := make([]byte, 1)
		for {
			if _, err := io.ReadFull(conn, one); err != nil {
				return
			}
			if _, err := conn.Write(page); err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	buf := make([]byte, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := conn.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// smallReq and smallResp have the shape of a metadata call: a path in, a
// file's status out.
type smallReq struct {
	Path   string `json:"path"`
	Caller *struct {
		UID uint32 `json:"uid"`
		GID uint32 `json:"gid"`
	} `json:"caller,omitempty"`
}

type smallResp struct {
	ID        uint64 `json:"id"`
	ParentID  uint64 `json:"parentId"`
	Name      string `json:"name"`
	Path      string `json:"path"`
	Mode      uint32 `json:"mode"`
	UID       uint32 `json:"uid"`
	GID       uint32 `json:"gid"`
	Size      int64  `json:"size"`
	Mtime     int64  `json:"mtime"`
	Completed bool   `json:"completed"`
	Persisted bool   `json:"persisted"`
}

// cpuNow returns the CPU time (user and system) the process has used.
func cpuNow(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCallSmallTCP measures a metadata-sized call over TCP (a path
// in, a status out), as the FUSE daemon makes to the master: the CPU of
// both ends per call, and its ratio to a bare TCP round trip of one byte
// each way measured in the same run.
func BenchmarkCallSmallTCP(b *testing.B) {
	base := tcpPingCPU(b)
	b.Logf("baseline: a bare TCP round trip takes %v of CPU", base)
	s := NewServer(nil)
	s.Handle("stat", func(ctx context.Context, req *Request) (*Response, error) {
		var r smallReq
		if err := req.Decode(&r); err != nil {
			return nil, err
		}
		return &Response{Body: smallResp{ID: 42, ParentID: 7, Name: "f000001", Path: r.Path, Mode: 0o644, Size: 1 << 20, Mtime: 1e18, Completed: true, Persisted: true}}, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	c, err := Dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	req := smallReq{Path: "/meta/f000001"}
	req.Caller = &struct {
		UID uint32 `json:"uid"`
		GID uint32 `json:"gid"`
	}{}
	b.ReportAllocs()
	start := cpuNow(b)
	for b.Loop() {
		var resp smallResp
		if _, err := c.Call(ctx, "stat", req, nil, &resp, nil); err != nil {
			b.Fatal(err)
		}
		if resp.ID != 42 {
			b.Fatalf("response %+v", resp)
		}
	}
	per := float64(cpuNow(b)-start) / float64(b.N)
	b.ReportMetric(per/1e3, "cpu-µs/op")
	b.ReportMetric(per/float64(base), "x-tcp-roundtrip")
}

// tcpPingCPU returns the CPU time of one bare TCP round trip of a byte
// each way between two goroutines of this process.
func tcpPingCPU(b *testing.B) time.Duration {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		one := make([]byte, 1)
		for {
			if _, err := io.ReadFull(conn, one); err != nil {
				return
			}
			if _, err := conn.Write(one); err != nil {
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	const n = 20000
	one := make([]byte, 1)
	start := cpuNow(b)
	for range n {
		if _, err := conn.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, one); err != nil {
			b.Fatal(err)
		}
	}
	return (cpuNow(b) - start) / n
}

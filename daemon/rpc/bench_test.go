package rpc

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
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

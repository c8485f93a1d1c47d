package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"

	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// A worker that does not know WorkerReadLocal (an older one) is asked once;
// reads go through the socket, with the right bytes, and short-circuit is
// not tried again for a while.
func TestShortCircuitOlderWorker(t *testing.T) {
	const size = 3<<20 + 7
	data := make([]byte, size)
	rand.Read(data)
	fw, sock := startFakeWorker(t, data)
	c := New(Config{WorkerNetwork: "unix", WorkerAddr: sock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(func() { c.Close() })
	fi := meta.FileInfo{ID: 9, Path: "/f", Size: size, Fingerprint: "v1", Persisted: true, Completed: true}
	r := &FileReader{c: c, info: fi, ref: wire.RefOf(fi)}
	defer r.Close()
	if !c.shortCircuitable() {
		t.Fatal("short-circuit off before any read")
	}
	got := make([]byte, 0, size)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		sp, n, err := r.ReadSplice(context.Background(), buf, off)
		if err != nil && err != io.EOF {
			t.Fatalf("ReadSplice at %d: %v", off, err)
		}
		if sp != nil {
			t.Fatal("a worker without short-circuit reads answered with a splice")
		}
		got = append(got, buf[:n]...)
		off += int64(n)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("bytes through the socket differ")
	}
	if fw.reads.Load() == 0 {
		t.Fatal("no read reached the worker's socket path")
	}
	if c.shortCircuitable() {
		t.Fatal("short-circuit still tried after the worker answered ENOSYS")
	}
}

// SetShortCircuit(false) keeps every read on the socket path.
func TestShortCircuitOff(t *testing.T) {
	c := New(Config{WorkerNetwork: "unix", WorkerAddr: "/nonexistent.sock"})
	t.Cleanup(func() { c.Close() })
	tests := []struct {
		on   bool
		want bool
	}{{true, true}, {false, false}, {true, true}}
	for _, tt := range tests {
		c.SetShortCircuit(tt.on)
		if got := c.shortCircuitable(); got != tt.want {
			t.Errorf("SetShortCircuit(%t): shortCircuitable %t, want %t", tt.on, got, tt.want)
		}
		if got := c.WithTypes("NO_CACHE", "").shortCircuitable(); got != tt.want {
			t.Errorf("SetShortCircuit(%t): a WithTypes client's shortCircuitable %t, want %t", tt.on, got, tt.want)
		}
	}
}

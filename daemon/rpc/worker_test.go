package rpc

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// goroutineID returns the id of the calling goroutine, from its stack
// header ("goroutine 42 [running]:"). For tests only.
func goroutineID(t *testing.T) uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := bytes.Fields(buf)
	if len(f) < 2 {
		t.Errorf("stack header %q", buf)
		return 0
	}
	id, err := strconv.ParseUint(string(f[1]), 10, 64)
	if err != nil {
		t.Errorf("stack header %q: %v", buf, err)
	}
	return id
}

// Sequential calls on one connection are served by goroutines that stay,
// not by a new goroutine per call (which would grow its stack each time).
func TestWorkersServeManyCalls(t *testing.T) {
	ts := startServer(t, "tcp", "")
	var mu sync.Mutex
	seen := map[uint64]int{}
	ts.Handle("gid", func(ctx context.Context, req *Request) (*Response, error) {
		id := goroutineID(t)
		mu.Lock()
		seen[id]++
		mu.Unlock()
		return &Response{}, nil
	})
	c := newTestClient(t, "tcp", ts.addr)
	const calls = 200
	for range calls {
		if _, err := c.Call(testCtx(t), "gid", nil, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// A call that arrives while the last worker is still finishing its
	// answer gets a worker of its own; at most maxIdleWorkers of them stay.
	if len(seen) > maxIdleWorkers+1 {
		t.Errorf("%d calls ran on %d goroutines, want at most %d", calls, len(seen), maxIdleWorkers+1)
	}
}

// After a burst of concurrent calls, a connection keeps at most
// maxIdleWorkers workers; closing the server stops the rest.
func TestWorkersAfterBurst(t *testing.T) {
	before := runtime.NumGoroutine()
	ts := startServer(t, "unix", "")
	release := make(chan struct{})
	var started atomic.Int32
	ts.Handle("block", func(ctx context.Context, req *Request) (*Response, error) {
		started.Add(1)
		select {
		case <-release:
			return &Response{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	idle := func() int32 {
		ts.mu.RLock()
		defer ts.mu.RUnlock()
		var n int32
		for sc := range ts.conns {
			n += sc.idle.Load()
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	c := newTestClient(t, "unix", ts.addr)
	const burst = 4 * maxIdleWorkers
	var wg sync.WaitGroup
	for range burst {
		wg.Go(func() {
			if _, err := c.Call(testCtx(t), "block", nil, nil, nil, nil); err != nil {
				t.Errorf("block: %v", err)
			}
		})
	}
	waitFor("every call to be running", func() bool { return started.Load() == burst })
	close(release)
	wg.Wait()
	waitFor("idle workers", func() bool { return idle() == maxIdleWorkers })
	// The idle workers still serve.
	for range 10 {
		if _, err := c.Call(testCtx(t), "block", nil, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	ts.Close()
	waitFor("the connection's goroutines to stop", func() bool { return runtime.NumGoroutine() <= before })
}

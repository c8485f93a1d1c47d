package rpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type echoMsg struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

// testServer is a Server on a real socket with a fixed set of handlers.
type testServer struct {
	*Server
	network, addr string
	logs          *syncBuffer
	// slowStarted receives once per "slow" call when its handler is running;
	// slowRelease lets the handlers return.
	slowStarted chan struct{}
	slowRelease chan struct{}
}

// listen opens a listener on 127.0.0.1 or in a fresh temporary directory.
func listen(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
		if network == "unix" {
			addr = filepath.Join(t.TempDir(), "rpc.sock")
		}
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	return l
}

// startServer serves the test handlers on network; addr "" picks a fresh one.
func startServer(t *testing.T, network, addr string) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	ts := &testServer{
		Server:      NewServer(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		network:     network,
		logs:        logs,
		slowStarted: make(chan struct{}, 16),
		slowRelease: make(chan struct{}),
	}
	ts.Handle("echo", func(ctx context.Context, req *Request) (*Response, error) {
		var m echoMsg
		if err := req.Decode(&m); err != nil {
			return nil, err
		}
		return &Response{Body: m, Data: req.Data}, nil
	})
	ts.Handle("whoami", func(ctx context.Context, req *Request) (*Response, error) {
		id, ok := ConnID(ctx)
		if !ok {
			return nil, errors.New("no connection id")
		}
		return &Response{Body: id}, nil
	})
	ts.Handle("fail", func(ctx context.Context, req *Request) (*Response, error) {
		return nil, &fs.PathError{Op: "open", Path: "/missing", Err: syscall.ENOENT}
	})
	ts.Handle("plainerr", func(ctx context.Context, req *Request) (*Response, error) {
		return nil, errors.New("no errno here")
	})
	ts.Handle("panic", func(ctx context.Context, req *Request) (*Response, error) {
		panic("handler bug")
	})
	ts.Handle("slow", func(ctx context.Context, req *Request) (*Response, error) {
		ts.slowStarted <- struct{}{}
		select {
		case <-ts.slowRelease:
			return &Response{Body: "late", Data: []byte("late data")}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	l := listen(t, network, addr)
	ts.addr = l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- ts.Serve(l) }()
	t.Cleanup(func() {
		ts.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve returned %v after Close, want nil", err)
		}
	})
	return ts
}

func newTestClient(t *testing.T, network, addr string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, network, addr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func whoami(t *testing.T, c *Client) uint64 {
	t.Helper()
	var id uint64
	if _, err := c.Call(testCtx(t), "whoami", nil, nil, &id, nil); err != nil {
		t.Fatalf("whoami: %v", err)
	}
	return id
}

var networks = []string{"tcp", "unix"}

func TestRoundTrip(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			c := newTestClient(t, network, ts.addr)
			tests := []struct {
				name string
				req  echoMsg
				data []byte
			}{
				{"body only", echoMsg{N: 1, Text: "hello"}, nil},
				{"body and data", echoMsg{N: 2, Text: "page"}, bytes.Repeat([]byte("0123456789"), 1000)},
				{"large data", echoMsg{N: 3}, bytes.Repeat([]byte{0x5A}, 3<<20+17)},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					var got echoMsg
					res, err := c.Call(testCtx(t), "echo", tt.req, tt.data, &got, nil)
					if err != nil {
						t.Fatalf("Call: %v", err)
					}
					if got != tt.req {
						t.Errorf("body = %+v, want %+v", got, tt.req)
					}
					if !bytes.Equal(res.Data, tt.data) {
						t.Errorf("data: got %d bytes, want %d", len(res.Data), len(tt.data))
					}
					if len(res.Files) != 0 {
						t.Errorf("got %d files, want none", len(res.Files))
					}
				})
			}
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			c := newTestClient(t, network, ts.addr)
			var wg sync.WaitGroup
			errs := make(chan error, 100)
			for i := range 100 {
				wg.Go(func() {
					want := echoMsg{N: i, Text: fmt.Sprint("caller-", i)}
					data := bytes.Repeat([]byte{byte(i)}, 1000+i*97)
					var got echoMsg
					res, err := c.Call(testCtx(t), "echo", want, data, &got, make([]byte, 64<<10))
					switch {
					case err != nil:
						errs <- fmt.Errorf("caller %d: %w", i, err)
					case got != want:
						errs <- fmt.Errorf("caller %d: body %+v", i, got)
					case !bytes.Equal(res.Data, data):
						errs <- fmt.Errorf("caller %d: wrong data (%d bytes)", i, len(res.Data))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func TestRespBufReuse(t *testing.T) {
	ts := startServer(t, "unix", "")
	c := newTestClient(t, "unix", ts.addr)
	data := bytes.Repeat([]byte("abcd"), 4096)
	tests := []struct {
		name      string
		bufLen    int
		wantAlias bool
	}{
		{"exact", len(data), true},
		{"bigger", 1 << 20, true},
		{"too small", len(data) - 1, false},
		{"nil", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf []byte
			if tt.bufLen > 0 {
				buf = make([]byte, tt.bufLen)
			}
			res, err := c.Call(testCtx(t), "echo", nil, data, nil, buf)
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if !bytes.Equal(res.Data, data) {
				t.Fatalf("data differs")
			}
			if alias := len(buf) > 0 && &res.Data[0] == &buf[0]; alias != tt.wantAlias {
				t.Errorf("Data aliases respBuf = %v, want %v", alias, tt.wantAlias)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			c := newTestClient(t, network, ts.addr)
			conn := whoami(t, c)
			tests := []struct {
				method  string
				req     any
				errno   syscall.Errno
				is      error
				msgPart string
			}{
				{"fail", nil, syscall.ENOENT, fs.ErrNotExist, "open /missing"},
				{"nosuch.Method", nil, syscall.ENOSYS, nil, `unknown method "nosuch.Method"`},
				{"panic", nil, syscall.EIO, nil, "internal error in panic"},
				{"plainerr", nil, syscall.EIO, nil, "no errno here"},
				{"echo", []int{1, 2}, syscall.EINVAL, nil, "echo: decode request"},
			}
			for _, tt := range tests {
				t.Run(tt.method, func(t *testing.T) {
					_, err := c.Call(testCtx(t), tt.method, tt.req, nil, nil, nil)
					var re *Error
					if !errors.As(err, &re) {
						t.Fatalf("Call error = %v, want *Error", err)
					}
					if re.Errno != tt.errno || !errors.Is(err, tt.errno) {
						t.Errorf("errno = %v, want %v", re.Errno, tt.errno)
					}
					if tt.is != nil && !errors.Is(err, tt.is) {
						t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
					}
					if want := tt.method + " at " + ts.addr + ": "; !strings.HasPrefix(err.Error(), want) {
						t.Errorf("error %q does not start with %q", err, want)
					}
					if !strings.Contains(err.Error(), tt.msgPart) {
						t.Errorf("error %q does not contain %q", err, tt.msgPart)
					}
				})
			}
			// None of these broke the connection.
			if got := whoami(t, c); got != conn {
				t.Errorf("connection changed from %d to %d after handler errors", conn, got)
			}
			if !strings.Contains(ts.logs.String(), "handler panicked") {
				t.Errorf("panic was not logged; logs:\n%s", ts.logs)
			}
		})
	}
}

func TestDeadlineOnSlowHandler(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			c := newTestClient(t, network, ts.addr)
			conn := whoami(t, c)

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := c.Call(ctx, "slow", nil, nil, nil, make([]byte, 100))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Call error = %v, want DeadlineExceeded", err)
			}
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("Call returned after %v, want promptly after the 50ms deadline", elapsed)
			}
			if !strings.Contains(err.Error(), "slow at "+ts.addr) {
				t.Errorf("error %q does not name method and address", err)
			}
			// Let the late answer arrive; it must be dropped quietly.
			<-ts.slowStarted
			close(ts.slowRelease)
			var text string
			if _, err := c.Call(testCtx(t), "echo", echoMsg{Text: "after"}, nil, nil, nil); err != nil {
				t.Fatalf("call after deadline: %v", err)
			}
			if _, err := c.Call(testCtx(t), "slow", nil, nil, &text, nil); err != nil || text != "late" {
				t.Fatalf("slow call after release = %q, %v", text, err)
			}
			if got := whoami(t, c); got != conn {
				t.Errorf("connection changed from %d to %d; a cancelled call must not break it", conn, got)
			}
		})
	}
}

func TestServerKilledMidCall(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			c := NewClient(network, ts.addr)
			t.Cleanup(func() { c.Close() })

			errc := make(chan error, 1)
			go func() {
				_, err := c.Call(testCtx(t), "slow", nil, nil, nil, nil)
				errc <- err
			}()
			<-ts.slowStarted
			if err := ts.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("pending call error = %v, want ECONNRESET", err)
				}
				if !strings.Contains(err.Error(), ts.addr) {
					t.Errorf("error %q does not name %s", err, ts.addr)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("pending call did not fail after the server closed")
			}

			// Nothing listens now: the call fails to dial and names the address.
			_, err := c.Call(testCtx(t), "whoami", nil, nil, nil, nil)
			if err == nil || !strings.Contains(err.Error(), ts.addr) {
				t.Fatalf("call with no server = %v, want a dial error naming %s", err, ts.addr)
			}

			// A new server on the same address: the client redials.
			ts2 := startServer(t, network, ts.addr)
			var out echoMsg
			if _, err := c.Call(testCtx(t), "echo", echoMsg{N: 42}, nil, &out, nil); err != nil || out.N != 42 {
				t.Fatalf("call after restart = %+v, %v", out, err)
			}
			_ = ts2
		})
	}
}

func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	tests := []struct {
		name   string
		wire   []byte
		reason string
	}{
		{"bad magic", rawHeader(0x1234, 1, 1, 0, 0, "echo", 0, 0), "bad magic 0x1234"},
		{"bad version", rawHeader(magic, 9, 1, 0, 0, "echo", 0, 0), "unsupported version 9"},
		{"body too long", rawHeader(magic, 1, 1, 0, 0, "echo", 9999999, 0), "body length 9999999 exceeds 4194304"},
		{"bad method", rawHeader(magic, 1, 1, 0, 0, "../etc", 0, 0), `bad method name "../etc"`},
		{"response from client", rawHeader(magic, 1, 2, 0, 0, "", 0, 0), "unexpected frame kind 2 from a client"},
		{"truncated", rawHeader(magic, 1, 1, 0, 0, "echo", 10, 0)[:9], "truncated header"},
		{"truncated body", append(rawHeader(magic, 1, 1, 0, 0, "echo", 10, 0), "{}"...), "truncated body: got 2 of 10 bytes"},
	}
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			good := newTestClient(t, network, ts.addr)
			conn := whoami(t, good)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					raw, err := net.Dial(network, ts.addr)
					if err != nil {
						t.Fatal(err)
					}
					defer raw.Close()
					if _, err := raw.Write(tt.wire); err != nil {
						t.Fatal(err)
					}
					if cw, ok := raw.(interface{ CloseWrite() error }); ok && strings.HasPrefix(tt.name, "truncated") {
						cw.CloseWrite()
					}
					raw.SetReadDeadline(time.Now().Add(5 * time.Second))
					if n, err := raw.Read(make([]byte, 64)); err != io.EOF {
						t.Fatalf("raw read = %d, %v; want the server to close the connection (EOF)", n, err)
					}
					want := "rpc: frame from "
					if network == "tcp" {
						want += raw.LocalAddr().String()
					}
					// The text handler quotes values, escaping inner quotes.
					reason := strings.ReplaceAll(tt.reason, `"`, `\"`)
					if logs := ts.logs.String(); !strings.Contains(logs, want) || !strings.Contains(logs, reason) {
						t.Errorf("logs lack %q ... %q:\n%s", want, tt.reason, logs)
					}
					if got := whoami(t, good); got != conn {
						t.Errorf("the well-behaved client's connection changed from %d to %d", conn, got)
					}
				})
			}
		})
	}
}

// writeTemp makes a file holding content and opens it.
func writeTemp(t *testing.T, dir, name string, content []byte) *os.File {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFilePassing(t *testing.T) {
	dir := t.TempDir()
	content := func(i int) []byte { return []byte(fmt.Sprintf("cached file %d contents\n", i)) }
	type sent struct {
		f    *os.File
		done chan struct{}
	}
	var sentMu sync.Mutex
	sentFiles := map[int]sent{}
	register := func(ts *testServer) {
		ts.Handle("open", func(ctx context.Context, req *Request) (*Response, error) {
			var i int
			if err := req.Decode(&i); err != nil {
				return nil, err
			}
			f := writeTemp(t, dir, fmt.Sprint("f", i, "-", ts.network), content(i))
			done := make(chan struct{})
			sentMu.Lock()
			sentFiles[i] = sent{f, done}
			sentMu.Unlock()
			return &Response{Body: i, Data: content(i), Files: []*os.File{f}, Done: func() { close(done) }}, nil
		})
	}

	t.Run("unix", func(t *testing.T) {
		ts := startServer(t, "unix", "")
		register(ts)
		c := newTestClient(t, "unix", ts.addr)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				var got int
				res, err := c.Call(testCtx(t), "open", i, nil, &got, nil)
				if err != nil {
					t.Errorf("open %d: %v", i, err)
					return
				}
				if len(res.Files) != 1 {
					t.Errorf("open %d: got %d files", i, len(res.Files))
					return
				}
				f := res.Files[0]
				defer f.Close()
				b := make([]byte, 100)
				n, err := f.ReadAt(b, 0)
				if err != nil && err != io.EOF {
					t.Errorf("read passed file %d: %v", i, err)
				}
				if !bytes.Equal(b[:n], content(i)) || !bytes.Equal(res.Data, content(i)) || got != i {
					t.Errorf("call %d: file %q, data %q, body %d", i, b[:n], res.Data, got)
				}
				flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_GETFD, 0)
				if errno != 0 || flags&syscall.FD_CLOEXEC == 0 {
					t.Errorf("received descriptor lacks close-on-exec (flags %#x, errno %v)", flags, errno)
				}
			})
		}
		wg.Wait()
		sentMu.Lock()
		defer sentMu.Unlock()
		for i, s := range sentFiles {
			<-s.done
			if _, err := s.f.Stat(); !errors.Is(err, os.ErrClosed) {
				t.Errorf("server's copy of file %d still open after sending (Stat: %v)", i, err)
			}
		}
	})

	t.Run("tcp refuses", func(t *testing.T) {
		ts := startServer(t, "tcp", "")
		register(ts)
		c := newTestClient(t, "tcp", ts.addr)
		_, err := c.Call(testCtx(t), "open", 99, nil, nil, nil)
		if !errors.Is(err, syscall.EOPNOTSUPP) {
			t.Fatalf("sending files over TCP = %v, want EOPNOTSUPP", err)
		}
		sentMu.Lock()
		s := sentFiles[99]
		sentMu.Unlock()
		<-s.done
		if _, err := s.f.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("server did not close the file it could not send (Stat: %v)", err)
		}
		whoami(t, c) // the connection survives
	})
}

func TestConnIDAndDisconnect(t *testing.T) {
	for _, network := range networks {
		t.Run(network, func(t *testing.T) {
			ts := startServer(t, network, "")
			type gone struct {
				peer string
				id   uint64
			}
			disc := make(chan gone, 4)
			ts.OnDisconnect(func(peer string, id uint64) { disc <- gone{peer, id} })
			handlerCancelled := make(chan uint64, 1)
			ts.Handle("wait", func(ctx context.Context, req *Request) (*Response, error) {
				ts.slowStarted <- struct{}{}
				<-ctx.Done()
				id, _ := ConnID(ctx)
				handlerCancelled <- id
				return nil, ctx.Err()
			})

			c1 := newTestClient(t, network, ts.addr)
			c2 := newTestClient(t, network, ts.addr)
			id1, id2 := whoami(t, c1), whoami(t, c2)
			if id1 == id2 {
				t.Fatalf("two connections share id %d", id1)
			}
			go c1.Call(context.Background(), "wait", nil, nil, nil, nil)
			<-ts.slowStarted
			c1.Close()

			select {
			case id := <-handlerCancelled:
				if id != id1 {
					t.Errorf("cancelled handler's conn id = %d, want %d", id, id1)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("handler ctx not cancelled when the client closed")
			}
			select {
			case g := <-disc:
				if g.id != id1 || g.peer == "" {
					t.Errorf("OnDisconnect(%q, %d), want id %d and a peer", g.peer, g.id, id1)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnDisconnect did not fire")
			}
			if got := whoami(t, c2); got != id2 {
				t.Errorf("other connection changed id %d -> %d", id2, got)
			}
			_, err := c1.Call(testCtx(t), "whoami", nil, nil, nil, nil)
			if !errors.Is(err, syscall.ESHUTDOWN) {
				t.Errorf("call on closed client = %v, want ESHUTDOWN", err)
			}
		})
	}
}

func TestDialErrors(t *testing.T) {
	tests := []struct {
		name, network, addr string
		is                  error
	}{
		{"refused", "unix", filepath.Join(t.TempDir(), "nobody.sock"), syscall.ENOENT},
		{"bad network", "udp", "127.0.0.1:1", syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Dial(testCtx(t), tt.network, tt.addr)
			if !errors.Is(err, tt.is) {
				t.Errorf("Dial error = %v, want %v", err, tt.is)
			}
			if err != nil && !strings.Contains(err.Error(), tt.addr) {
				t.Errorf("Dial error %q does not name %s", err, tt.addr)
			}
		})
	}
}

func TestHandleRejectsDuplicates(t *testing.T) {
	s := NewServer(nil)
	h := func(context.Context, *Request) (*Response, error) { return nil, nil }
	s.Handle("a.b", h)
	for _, method := range []string{"a.b", "bad name", ""} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(%q) did not panic", method)
				}
			}()
			s.Handle(method, h)
		}()
	}
}

func TestServeAfterClose(t *testing.T) {
	s := NewServer(nil)
	s.Close()
	l := listen(t, "tcp", "")
	if err := s.Serve(l); err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve on a closed server")
	}
}

func TestInflightBoundPerConnection(t *testing.T) {
	ts := startServer(t, "unix", "")
	var mu sync.Mutex
	running, peak := 0, 0
	release := make(chan struct{})
	ts.Handle("block", func(ctx context.Context, req *Request) (*Response, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		defer func() {
			mu.Lock()
			running--
			mu.Unlock()
		}()
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	c := newTestClient(t, "unix", ts.addr)
	const calls = maxInflight + 44
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() {
			if _, err := c.Call(testCtx(t), "block", nil, nil, nil, nil); err != nil {
				t.Errorf("block: %v", err)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		r := running
		mu.Unlock()
		if r == maxInflight {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers running, want %d", r, maxInflight)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // give an unbounded server time to overshoot
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if peak != maxInflight {
		t.Errorf("peak concurrent handlers = %d, want %d", peak, maxInflight)
	}
}

// Calls cancelled at random moments while 1 MiB answers stream into reused
// buffers: the race detector checks that no answer is written into a buffer
// after its Call returned, and later calls still work.
func TestCancelWhileReceiving(t *testing.T) {
	ts := startServer(t, "unix", "")
	page := bytes.Repeat([]byte{0xC3}, 1<<20)
	ts.Handle("page", func(ctx context.Context, req *Request) (*Response, error) {
		return &Response{Data: page}, nil
	})
	c := newTestClient(t, "unix", ts.addr)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for i := range 25 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration((g*25+i)*2%300)*time.Microsecond)
				res, err := c.Call(ctx, "page", nil, nil, nil, buf)
				cancel()
				if err == nil {
					answered.Add(1)
				}
				if err == nil && !bytes.Equal(res.Data, page) {
					t.Errorf("wrong data")
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("Call: %v", err)
				}
				clear(buf) // the caller owns buf again
			}
		})
	}
	wg.Wait()
	t.Logf("%d of %d calls answered before their deadline", answered.Load(), 8*25)
	if _, err := c.Call(testCtx(t), "page", nil, nil, nil, nil); err != nil {
		t.Fatalf("call after cancellations: %v", err)
	}
}

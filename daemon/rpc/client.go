package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// claimGrace is how long a cancelled Call waits for a response that is
// already being read into its buffer before it gives up on the connection.
// The buffer belongs to the reader until then, so the Call cannot return
// earlier without a data race.
const claimGrace = 100 * time.Millisecond

// errClientClosed is the cause given to calls cut off by Client.Close.
var errClientClosed = fmt.Errorf("client closed: %w", syscall.ESHUTDOWN)

// Error is an error the server answered: the handler's errno and message.
type Error struct {
	// Method is the method called.
	Method string
	// Addr is the server's address.
	Addr string
	// Errno is the error class the server reported.
	Errno syscall.Errno
	// Msg is the server's error text.
	Msg string
}

// Error returns "<method> at <addr>: <msg>".
func (e *Error) Error() string { return e.Method + " at " + e.Addr + ": " + e.Msg }

// Unwrap returns the errno, so errors.Is(err, fs.ErrNotExist) and friends
// work on errors from the other side.
func (e *Error) Unwrap() error { return e.Errno }

// Result is the raw part of a response.
type Result struct {
	// Data is the response's data section. It aliases the respBuf passed to
	// Call when that was long enough, and is freshly allocated otherwise.
	Data []byte
	// Files are descriptors passed by the server; the caller owns and must
	// close them.
	Files []*os.File
	// Alive reports whether the connection that carried the response is
	// still up, as far as the client knows: what the server keeps per
	// connection (a lease) lasts no longer.
	Alive func() bool
}

// Client calls one server over a single multiplexed connection. It dials
// lazily and redials after the connection breaks. It is safe for concurrent
// use.
type Client struct {
	network, addr string

	// mu guards cc, dialing and closed.
	mu sync.Mutex
	cc *clientConn
	// dialing is closed when the dial in progress finishes.
	dialing chan struct{}
	closed  bool
}

// NewClient returns a client for network ("tcp" or "unix") and addr that
// dials on its first call.
func NewClient(network, addr string) *Client {
	return &Client{network: network, addr: addr}
}

// Dial connects to addr over network ("tcp" or "unix") now, so that an
// unreachable server is reported at once. The client redials after a broken
// connection like one from NewClient.
func Dial(ctx context.Context, network, addr string) (*Client, error) {
	c := NewClient(network, addr)
	if _, err := c.conn(ctx); err != nil {
		return nil, fmt.Errorf("rpc: connect to %s: %w", addr, err)
	}
	return c, nil
}

// Addr returns the server address the client calls.
func (c *Client) Addr() string { return c.addr }

// Close closes the connection; pending and later calls fail with an error
// wrapping syscall.ESHUTDOWN.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	cc := c.cc
	c.cc = nil
	c.mu.Unlock()
	if cc != nil {
		cc.fail(errClientClosed)
		<-cc.readerDone
	}
	return nil
}

// Call sends method with req as its JSON body (nil: empty; a json.RawMessage
// is sent as it is, unchecked) and reqData as its data section, waits for
// the answer and decodes its body into resp (nil: ignored). The response's
// data lands in respBuf when it fits. A server-side failure is an *Error;
// a broken connection wraps syscall.ECONNRESET and the next Call redials.
// A cancelled ctx returns ctx.Err() wrapped, promptly, and the late answer
// is dropped without harming the connection; only an answer already being
// read into respBuf is waited for (briefly) and returned.
func (c *Client) Call(ctx context.Context, method string, req any, reqData []byte, resp any, respBuf []byte) (Result, error) {
	if !validMethod(method) {
		return Result{}, fmt.Errorf("rpc: call %q at %s: invalid method name: %w", method, c.addr, syscall.EINVAL)
	}
	body, raw := req.(json.RawMessage)
	if req != nil && !raw {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return Result{}, fmt.Errorf("rpc: %s at %s: encode request: %v: %w", method, c.addr, err, syscall.EINVAL)
		}
	}
	if len(body) > MaxBodyLen {
		return Result{}, fmt.Errorf("rpc: %s at %s: request body of %d bytes exceeds %d: %w", method, c.addr, len(body), MaxBodyLen, syscall.EMSGSIZE)
	}
	if len(reqData) > MaxDataLen {
		return Result{}, fmt.Errorf("rpc: %s at %s: request data of %d bytes exceeds %d: %w", method, c.addr, len(reqData), MaxDataLen, syscall.EMSGSIZE)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("rpc: %s at %s: %w", method, c.addr, err)
	}

	cl := &call{method: method, respBuf: respBuf, done: make(chan struct{})}
	var cc *clientConn
	var id uint64
	// A connection may break between being handed out and registering the
	// call; nothing was sent yet, so one fresh connection is tried.
	for attempt := 0; ; attempt++ {
		var err error
		if cc, err = c.conn(ctx); err != nil {
			return Result{}, fmt.Errorf("rpc: %s at %s: %w", method, c.addr, err)
		}
		var ok bool
		if id, ok = cc.register(cl); ok {
			break
		}
		if attempt == 1 {
			return Result{}, cc.lostError(method, cc.cause())
		}
	}
	if err := cc.send(ctx, id, method, body, reqData); err != nil {
		cc.abandon(id)
		return Result{}, err
	}

	select {
	case <-cl.done:
	case <-ctx.Done():
		if cc.abandon(id) {
			return Result{}, fmt.Errorf("rpc: %s at %s: %w", method, c.addr, ctx.Err())
		}
		// The reader is filling respBuf right now; wait for it, but not for a
		// connection that stalls mid-frame.
		t := time.NewTimer(claimGrace)
		select {
		case <-cl.done:
			t.Stop()
		case <-t.C:
			cc.fail(fmt.Errorf("response stalled after %s was cancelled", method))
			<-cl.done
			closeFiles(cl.files)
			return Result{}, fmt.Errorf("rpc: %s at %s: %w", method, c.addr, ctx.Err())
		}
	}
	res, err := cl.result(resp, c.addr)
	if err == nil {
		res.Alive = cc.alive
	}
	return res, err
}

// conn returns the live connection, dialing if there is none. Concurrent
// callers share one dial. Its errors name neither method nor address; callers
// add them.
func (c *Client) conn(ctx context.Context) (*clientConn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errClientClosed
		}
		if c.cc != nil && c.cc.cause() == nil {
			cc := c.cc
			c.mu.Unlock()
			return cc, nil
		}
		if ch := c.dialing; ch != nil {
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("waiting for dial: %w", ctx.Err())
			}
		}
		ch := make(chan struct{})
		c.dialing = ch
		c.mu.Unlock()

		cc, err := c.dial(ctx)

		c.mu.Lock()
		c.dialing = nil
		close(ch)
		if err == nil && c.closed {
			err = errClientClosed
		} else if err == nil {
			c.cc = cc
		}
		c.mu.Unlock()
		if err != nil {
			if cc != nil {
				cc.fail(errClientClosed)
			}
			return nil, err
		}
		return cc, nil
	}
}

func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	switch c.network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return nil, fmt.Errorf("unsupported network %q (want tcp or unix): %w", c.network, syscall.EINVAL)
	}
	var d net.Dialer
	// The net error already reads "dial <network> <addr>: ...".
	conn, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, err
	}
	cc := &clientConn{
		client:     c,
		conn:       conn,
		wmu:        make(chan struct{}, 1),
		pending:    make(map[uint64]*call),
		readerDone: make(chan struct{}),
	}
	if uc, ok := conn.(*net.UnixConn); ok {
		cc.fdr = newFDReader(uc, c.addr, true)
		cc.br = bufio.NewReaderSize(cc.fdr, readBufSize)
	} else {
		cc.br = bufio.NewReaderSize(conn, readBufSize)
	}
	go cc.readLoop()
	return cc, nil
}

// forget drops cc so the next call redials.
func (c *Client) forget(cc *clientConn) {
	c.mu.Lock()
	if c.cc == cc {
		c.cc = nil
	}
	c.mu.Unlock()
}

// call is one outstanding request. Until done is closed the fields below it
// belong to the connection's reader; afterwards to the caller.
type call struct {
	method  string
	respBuf []byte
	done    chan struct{}

	err   error
	errno syscall.Errno
	body  []byte
	data  []byte
	files []*os.File
}

// result turns a completed call into Call's return values.
func (cl *call) result(resp any, addr string) (Result, error) {
	if cl.err != nil {
		return Result{}, cl.err
	}
	if cl.errno != 0 {
		closeFiles(cl.files)
		return Result{}, &Error{Method: cl.method, Addr: addr, Errno: cl.errno, Msg: string(cl.body)}
	}
	if resp != nil && len(cl.body) > 0 {
		if err := json.Unmarshal(cl.body, resp); err != nil {
			closeFiles(cl.files)
			return Result{}, fmt.Errorf("rpc: %s at %s: decode response: %v: %w", cl.method, addr, err, syscall.EBADMSG)
		}
	}
	return Result{Data: cl.data, Files: cl.files}, nil
}

// clientConn is one connection of a Client, with a reader goroutine that
// routes responses to their calls by id. The reader stops when the
// connection fails or is closed by fail.
type clientConn struct {
	client *Client
	conn   net.Conn
	fdr    *fdReader // nil unless conn is a UNIX socket
	br     *bufio.Reader

	// wmu is the write lock, a channel so that waiting honours ctx; its
	// holder owns hdrBuf.
	wmu    chan struct{}
	hdrBuf [maxHeaderLen]byte

	// mu guards pending, nextID and err. A call removed from pending by the
	// reader is being filled; one removed by abandon will never be.
	mu      sync.Mutex
	pending map[uint64]*call
	nextID  uint64
	err     error

	readerDone chan struct{}
}

// alive reports whether the connection has not failed.
func (cc *clientConn) alive() bool { return cc.cause() == nil }

func (cc *clientConn) cause() error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err
}

// register assigns cl an id; false if the connection has already failed.
func (cc *clientConn) register(cl *call) (uint64, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.err != nil {
		return 0, false
	}
	cc.nextID++
	cc.pending[cc.nextID] = cl
	return cc.nextID, true
}

// abandon forgets call id; it reports whether the call was still waiting
// (false: the reader has claimed it or the connection failed it).
func (cc *clientConn) abandon(id uint64) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if _, ok := cc.pending[id]; ok {
		delete(cc.pending, id)
		return true
	}
	return false
}

// lostError is the error of a call cut off by a broken connection.
func (cc *clientConn) lostError(method string, cause error) error {
	if errors.Is(cause, errClientClosed) {
		return fmt.Errorf("rpc: %s at %s: %w", method, cc.client.addr, cause)
	}
	return fmt.Errorf("rpc: %s at %s: connection lost (%v): %w", method, cc.client.addr, cause, syscall.ECONNRESET)
}

// fail marks the connection broken with cause, closes it, and fails every
// waiting call. Only the first cause counts.
func (cc *clientConn) fail(cause error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = cause
	pending := cc.pending
	cc.pending = nil
	cc.mu.Unlock()

	cc.conn.Close()
	cc.client.forget(cc)
	for _, cl := range pending {
		cl.err = cc.lostError(cl.method, cause)
		close(cl.done)
	}
}

// send writes one request frame. A write cut short (by ctx or an error) may
// leave a partial frame, so it breaks the connection.
func (cc *clientConn) send(ctx context.Context, id uint64, method string, body, data []byte) error {
	select {
	case cc.wmu <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("rpc: %s at %s: %w", method, cc.client.addr, ctx.Err())
	case <-cc.readerDone:
		return cc.lostError(method, cc.cause())
	}
	defer func() { <-cc.wmu }()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("rpc: %s at %s: %w", method, cc.client.addr, err)
	}

	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			cc.conn.SetWriteDeadline(time.Unix(1, 0))
			close(fired)
		})
	}
	h := header{kind: KindRequest, id: id, method: method, blen: len(body), dlen: len(data)}
	n, err := writeBuffers(cc.conn, appendHeader(cc.hdrBuf[:0], &h), body, data)
	if stop != nil && !stop() {
		<-fired
		if n == 0 || err == nil {
			cc.conn.SetWriteDeadline(time.Time{})
		}
	}
	switch {
	case err == nil:
		return nil
	case n == 0 && ctx.Err() != nil:
		// Cancelled before a byte went out: the stream is intact.
		return fmt.Errorf("rpc: %s at %s: %w", method, cc.client.addr, ctx.Err())
	}
	cc.fail(fmt.Errorf("write: %w", err))
	if ctx.Err() != nil {
		return fmt.Errorf("rpc: %s at %s: %w", method, cc.client.addr, ctx.Err())
	}
	return cc.lostError(method, err)
}

// readLoop routes responses to their calls until the connection fails.
func (cc *clientConn) readLoop() {
	defer close(cc.readerDone)
	if cc.fdr != nil {
		defer cc.fdr.closeAll()
	}
	for {
		if err := cc.readResponse(); err != nil {
			cc.fail(err)
			return
		}
	}
}

func (cc *clientConn) readResponse() error {
	addr := cc.client.addr
	h, err := readHeader(cc.br, addr)
	if err != nil {
		return err
	}
	if h.kind != KindResponse {
		return &FrameError{Peer: addr, Reason: fmt.Sprintf("unexpected frame kind %d from a server", h.kind)}
	}
	var files []*os.File
	if h.nfds > 0 {
		if cc.fdr == nil {
			return &FrameError{Peer: addr, Reason: fmt.Sprintf("%d file descriptors announced on a %s connection", h.nfds, cc.conn.LocalAddr().Network())}
		}
		if files, err = cc.fdr.take(h.nfds); err != nil {
			return err
		}
	}

	cc.mu.Lock()
	cl := cc.pending[h.id]
	delete(cc.pending, h.id)
	cc.mu.Unlock()

	if cl == nil {
		// The caller gave up; drop the answer but keep the connection.
		closeFiles(files)
		if err := skipSection(cc.br, addr, "body", h.blen); err != nil {
			return err
		}
		return skipSection(cc.br, addr, "data", h.dlen)
	}
	body, err := readSection(cc.br, addr, "body", h.blen, nil)
	if err == nil {
		cl.data, err = readSection(cc.br, addr, "data", h.dlen, cl.respBuf)
	}
	if err != nil {
		closeFiles(files)
		cl.err = cc.lostError(cl.method, err)
		close(cl.done)
		return err
	}
	cl.errno, cl.body, cl.files = syscall.Errno(h.errno), body, files
	close(cl.done)
	return nil
}

package rpc

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// maxInflight bounds the handlers running for one connection; once reached,
// the server stops reading that connection until one finishes.
const maxInflight = 256

// readBufSize is the buffered reader size on both ends; data sections at
// least this long are read straight into their destination.
const readBufSize = 64 << 10

// maxIdleWorkers bounds the handler goroutines one connection keeps
// waiting for its next request. A goroutine that served a call has grown
// its stack to what handlers need; a fresh one per call would grow (copy)
// its stack again on every call, which cost about a tenth of the master's
// CPU per metadata call.
const maxIdleWorkers = 16

// Request is one decoded call as a handler sees it.
type Request struct {
	// Method is the name the client called.
	Method string
	// Body is the JSON message; use Decode.
	Body []byte
	// Data is the raw section. The handler owns it.
	Data []byte
	// Peer is the remote address, for logs.
	Peer string
}

// Decode unmarshals the JSON body into v. An empty body (the client sent no
// message) leaves v unchanged. Errors wrap syscall.EINVAL and name the method.
func (r *Request) Decode(v any) error {
	if len(r.Body) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("rpc: %s: decode request: %v: %w", r.Method, err, syscall.EINVAL)
	}
	return nil
}

// Response is what a handler answers.
type Response struct {
	// Body is JSON-encoded by the server; nil sends an empty body.
	Body any
	// Data is the raw section, sent as is.
	Data []byte
	// Files are passed with SCM_RIGHTS on UNIX connections; on other
	// connections the call fails with EOPNOTSUPP. The server closes them once
	// the response is written or has failed.
	Files []*os.File
	// Done, if set, is called after the response was written (or failed),
	// e.g. to release the buffer behind Data.
	Done func()
}

// Handler serves one method. Its ctx is cancelled when the connection or the
// server closes. An error is sent as errno plus message: the errno is the
// first syscall.Errno in err's chain (EIO if none).
type Handler func(ctx context.Context, req *Request) (*Response, error)

type connIDKey struct{}

// ConnID returns the id of the server connection a request arrived on. Use it
// to tie state (leases, open handles) to a peer and release it from an
// OnDisconnect hook.
func ConnID(ctx context.Context) (uint64, bool) {
	id, ok := ctx.Value(connIDKey{}).(uint64)
	return id, ok
}

// Server dispatches calls to handlers by method name. Register handlers with
// Handle, then call Serve for each listener; Close stops everything.
type Server struct {
	logger *slog.Logger
	// ctx is the parent of every connection's context; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards handlers, listeners, conns, hooks and closed.
	mu        sync.RWMutex
	handlers  map[string]Handler
	listeners map[net.Listener]struct{}
	conns     map[*serverConn]struct{}
	hooks     []func(peer string, connID uint64)
	closed    bool

	// conns counts connection goroutines, for Close to wait on.
	connWG     sync.WaitGroup
	nextConnID atomic.Uint64
}

// NewServer returns a server with no handlers; a nil logger means
// slog.Default().
func NewServer(logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		logger:    logger.With("component", "rpc"),
		ctx:       ctx,
		cancel:    cancel,
		handlers:  make(map[string]Handler),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*serverConn]struct{}),
	}
}

// Handle registers h for method. It panics on a duplicate or invalid method
// name or a nil handler: these are programming errors.
func (s *Server) Handle(method string, h Handler) {
	if !validMethod(method) {
		panic(fmt.Sprintf("rpc: Handle: invalid method name %q", method))
	}
	if h == nil {
		panic(fmt.Sprintf("rpc: Handle: nil handler for %s", method))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.handlers[method]; dup {
		panic(fmt.Sprintf("rpc: Handle: duplicate handler for %s", method))
	}
	s.handlers[method] = h
}

// OnDisconnect registers fn to run after a connection has closed and all its
// handlers have returned, so no handler of that connection can act after fn.
// Every registered fn runs, in registration order.
func (s *Server) OnDisconnect(fn func(peer string, connID uint64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// Serve accepts connections on l until l fails or the server is closed, and
// serves each on its own goroutine. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if !transientAcceptError(err) {
				return fmt.Errorf("rpc: serve %s: %w", l.Addr(), err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn("accept failed; retrying", "addr", l.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-s.ctx.Done():
				return nil
			}
		}
		backoff = 0
		s.startConn(l, c)
	}
}

// transientAcceptError reports errors after which accepting again may work:
// descriptor or memory exhaustion and connections aborted before accept.
func transientAcceptError(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (s *Server) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Close stops every listener, closes every connection, and waits until all
// handlers have returned and all OnDisconnect hooks have run. Handlers must
// honour their ctx for Close to return promptly.
func (s *Server) Close() error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	var ls []net.Listener
	for l := range s.listeners {
		ls = append(ls, l)
	}
	var cs []*serverConn
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	if !already {
		for _, l := range ls {
			l.Close()
		}
		// Connections close before handlers see cancellation, so a handler's
		// "context canceled" never reaches a client as if it were an answer.
		for _, c := range cs {
			c.conn.Close()
		}
		s.cancel()
	}
	s.connWG.Wait()
	return nil
}

// serverConn is the server's side of one connection.
type serverConn struct {
	s    *Server
	id   uint64
	conn net.Conn
	unix *net.UnixConn // nil unless conn is a UNIX socket
	fdr  *fdReader     // nil unless conn is a UNIX socket
	br   *bufio.Reader
	peer string
	// ctx carries the connection id; cancelled when the connection closes.
	ctx    context.Context
	cancel context.CancelFunc
	// sem holds one token per running handler.
	sem chan struct{}
	// work hands a request to an idle worker; idle counts the workers
	// waiting on it. workers counts the worker goroutines, which stop
	// when ctx is cancelled.
	work    chan pendingRequest
	idle    atomic.Int32
	workers sync.WaitGroup

	// writeMu serializes frames on conn and guards hdrBuf.
	writeMu sync.Mutex
	hdrBuf  [maxHeaderLen]byte
}

func (s *Server) startConn(l net.Listener, c net.Conn) {
	id := s.nextConnID.Add(1)
	sc := &serverConn{s: s, id: id, conn: c, sem: make(chan struct{}, maxInflight), work: make(chan pendingRequest)}
	sc.peer = c.RemoteAddr().String()
	if uc, ok := c.(*net.UnixConn); ok {
		// Unnamed client sockets have no address; name the socket and the
		// connection instead.
		if sc.peer == "" || sc.peer == "@" {
			sc.peer = fmt.Sprintf("%s#%d", l.Addr(), id)
		}
		sc.unix = uc
		sc.fdr = newFDReader(uc, sc.peer, false)
		sc.br = bufio.NewReaderSize(sc.fdr, readBufSize)
	} else {
		sc.br = bufio.NewReaderSize(c, readBufSize)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	sc.ctx, sc.cancel = context.WithValue(ctx, connIDKey{}, id), cancel

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		c.Close()
		return
	}
	s.conns[sc] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	go sc.serve()
}

// serve reads requests until the connection fails, then tears it down. It
// stops when the peer closes, on a malformed frame, or when Close closes the
// connection.
func (sc *serverConn) serve() {
	s := sc.s
	defer func() {
		sc.conn.Close()
		sc.cancel()
		sc.workers.Wait()
		if sc.fdr != nil {
			sc.fdr.closeAll()
		}
		s.mu.Lock()
		delete(s.conns, sc)
		hooks := slices.Clone(s.hooks)
		s.mu.Unlock()
		for _, fn := range hooks {
			fn(sc.peer, sc.id)
		}
		s.connWG.Done()
	}()
	for {
		req, id, err := sc.readRequest()
		if err != nil {
			sc.logReadError(err)
			return
		}
		select {
		case sc.sem <- struct{}{}:
		case <-sc.ctx.Done():
			return
		}
		pr := pendingRequest{id: id, req: req}
		select {
		case sc.work <- pr:
		default:
			sc.workers.Add(1)
			go sc.worker(pr)
		}
	}
}

// pendingRequest is a request read from the connection, waiting for a
// worker.
type pendingRequest struct {
	id  uint64
	req *Request
}

// worker serves pr, then further requests of the connection while fewer
// than maxIdleWorkers others wait for one. It stops when the connection's
// ctx is cancelled.
func (sc *serverConn) worker(pr pendingRequest) {
	defer sc.workers.Done()
	for {
		sc.handle(pr.id, pr.req)
		pr = pendingRequest{}
		if sc.idle.Add(1) > maxIdleWorkers {
			sc.idle.Add(-1)
			return
		}
		select {
		case pr = <-sc.work:
			sc.idle.Add(-1)
		case <-sc.ctx.Done():
			sc.idle.Add(-1)
			return
		}
	}
}

func (sc *serverConn) readRequest() (*Request, uint64, error) {
	h, err := readHeader(sc.br, sc.peer)
	if err != nil {
		return nil, 0, err
	}
	if h.kind != KindRequest {
		return nil, 0, &FrameError{Peer: sc.peer, Reason: fmt.Sprintf("unexpected frame kind %d from a client", h.kind)}
	}
	body, err := readSection(sc.br, sc.peer, "body", h.blen, nil)
	if err != nil {
		return nil, 0, err
	}
	data, err := readSection(sc.br, sc.peer, "data", h.dlen, nil)
	if err != nil {
		return nil, 0, err
	}
	return &Request{Method: h.method, Body: body, Data: data, Peer: sc.peer}, h.id, nil
}

func (sc *serverConn) logReadError(err error) {
	var fe *FrameError
	switch {
	case errors.As(err, &fe):
		sc.s.logger.Warn("closing connection after malformed frame", "peer", sc.peer, "conn", sc.id, "err", err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET):
		sc.s.logger.Debug("connection closed", "peer", sc.peer, "conn", sc.id)
	default:
		sc.s.logger.Info("connection read failed", "peer", sc.peer, "conn", sc.id, "err", err)
	}
}

func (sc *serverConn) handle(id uint64, req *Request) {
	defer func() { <-sc.sem }()
	resp, err := sc.call(req)
	sc.respond(id, req.Method, resp, err)
}

// call runs the handler for req, turning an unknown method into ENOSYS and a
// panic into EIO.
func (sc *serverConn) call(req *Request) (resp *Response, err error) {
	sc.s.mu.RLock()
	h := sc.s.handlers[req.Method]
	sc.s.mu.RUnlock()
	if h == nil {
		return nil, fmt.Errorf("rpc: unknown method %q: %w", req.Method, syscall.ENOSYS)
	}
	defer func() {
		if v := recover(); v != nil {
			sc.s.logger.Error("handler panicked", "method", req.Method, "peer", sc.peer, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("rpc: internal error in %s: %w", req.Method, syscall.EIO)
		}
	}()
	return h(sc.ctx, req)
}

// respond sends the handler's outcome. Files are closed and Done is called
// whatever happens.
func (sc *serverConn) respond(id uint64, method string, resp *Response, err error) {
	var files []*os.File
	if resp != nil {
		// Deferred in this order so Done runs last, after the files are closed.
		if resp.Done != nil {
			defer resp.Done()
		}
		files = resp.Files
		defer closeFiles(files)
	}
	h := header{kind: KindResponse, id: id}
	var body, data []byte
	if err == nil && resp != nil {
		body, data, err = sc.encodeResponse(method, resp)
	}
	if err != nil {
		files = nil
		body, data = errorBody(err), nil
		h.errno = errnoOf(err)
		if !errors.Is(err, syscall.ENOSYS) {
			sc.s.logger.Debug("call failed", "method", method, "peer", sc.peer, "err", err)
		}
	}
	h.nfds, h.blen, h.dlen = len(files), len(body), len(data)

	sc.writeMu.Lock()
	hdr := appendHeader(sc.hdrBuf[:0], &h)
	if len(files) > 0 {
		err = writeWithFDs(sc.unix, hdr, body, data, files)
	} else {
		_, err = writeBuffers(sc.conn, hdr, body, data)
	}
	sc.writeMu.Unlock()
	if err != nil {
		// A partial frame may be on the wire; the stream is unusable.
		sc.s.logger.Debug("write response failed", "method", method, "peer", sc.peer, "err", err)
		sc.conn.Close()
	}
}

// encodeResponse checks resp against the wire limits and the connection type.
func (sc *serverConn) encodeResponse(method string, resp *Response) (body, data []byte, err error) {
	if resp.Body != nil {
		body, err = json.Marshal(resp.Body)
		if err != nil {
			sc.s.logger.Error("encode response", "method", method, "err", err)
			return nil, nil, fmt.Errorf("rpc: %s: encode response: %v: %w", method, err, syscall.EIO)
		}
	}
	switch {
	case len(body) > MaxBodyLen:
		err = fmt.Errorf("rpc: %s: response body of %d bytes exceeds %d: %w", method, len(body), MaxBodyLen, syscall.EMSGSIZE)
	case len(resp.Data) > MaxDataLen:
		err = fmt.Errorf("rpc: %s: response data of %d bytes exceeds %d: %w", method, len(resp.Data), MaxDataLen, syscall.EMSGSIZE)
	case len(resp.Files) > MaxFDs:
		err = fmt.Errorf("rpc: %s: %d files exceed %d per response: %w", method, len(resp.Files), MaxFDs, syscall.EINVAL)
	case len(resp.Files) > 0 && sc.unix == nil:
		err = fmt.Errorf("rpc: %s: cannot pass files over a %s connection: %w", method, sc.conn.LocalAddr().Network(), syscall.EOPNOTSUPP)
	}
	if err != nil {
		sc.s.logger.Error("bad response", "method", method, "peer", sc.peer, "err", err)
		return nil, nil, err
	}
	return body, resp.Data, nil
}

// errnoOf finds the error class of err: the first syscall.Errno in its chain
// that fits the header, EIO otherwise.
func errnoOf(err error) uint32 {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno != 0 && errno <= math.MaxUint32 {
		return uint32(errno)
	}
	return uint32(syscall.EIO)
}

// errorBody is the text of an error response, cut to the body limit.
func errorBody(err error) []byte {
	msg := err.Error()
	if len(msg) > MaxBodyLen {
		msg = msg[:MaxBodyLen]
	}
	return []byte(msg)
}

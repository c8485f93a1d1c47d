package hdfstest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
)

// Hadoop IPC constants (org.apache.hadoop.ipc.Server, RpcHeader.proto).
const (
	ipcVersion         = 9
	authNone           = 0x00
	connectionCallID   = -3
	clientProtocol     = "org.apache.hadoop.hdfs.protocol.ClientProtocol"
	maxFrame           = 64 << 20 // ipc.maximum.data.length
	rpcKindProtobuf    = 2
	rpcOpCloseConn     = 2
	statusSuccess      = 0
	statusError        = 1
	statusFatal        = 2
	errApplication     = 1
	errNoSuchMethod    = 2
	errNoSuchProtocol  = 3
	fatalInvalidHeader = 12
	fatalDeserialize   = 13
	fatalVersion       = 14
	fatalUnauthorized  = 15
)

// namenode is one namenode's IPC server over the shared namespace.
type namenode struct {
	c    *Cluster
	name string // nn1, nn2
	ln   net.Listener

	mu     sync.Mutex // guards conns and closed
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startNamenode listens on 127.0.0.1 and serves until close.
func startNamenode(c *Cluster, name string) (*namenode, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	nn := &namenode{c: c, name: name, ln: ln, conns: map[net.Conn]struct{}{}}
	nn.wg.Add(1)
	go nn.serve()
	return nn, nil
}

// addr is the namenode's RPC address.
func (nn *namenode) addr() string { return nn.ln.Addr().String() }

func (nn *namenode) serve() {
	defer nn.wg.Done()
	for {
		conn, err := nn.ln.Accept()
		if err != nil {
			return
		}
		nn.mu.Lock()
		if nn.closed {
			nn.mu.Unlock()
			conn.Close()
			return
		}
		nn.conns[conn] = struct{}{}
		nn.wg.Add(1)
		nn.mu.Unlock()
		go func() {
			defer nn.wg.Done()
			nn.handle(conn)
			conn.Close()
			nn.mu.Lock()
			delete(nn.conns, conn)
			nn.mu.Unlock()
		}()
	}
}

// close stops listening, drops every connection and waits for them.
func (nn *namenode) close() {
	nn.mu.Lock()
	nn.closed = true
	nn.ln.Close()
	for conn := range nn.conns {
		conn.Close()
	}
	nn.mu.Unlock()
	nn.wg.Wait()
}

// handle serves one client connection: the connection header, the
// connection context, then calls, one at a time.
func (nn *namenode) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:4]) != "hrpc" {
		return
	}
	if hdr[4] != ipcVersion {
		writeFrame(conn, response(-1, nil, -1, &rpcError{class: "org.apache.hadoop.ipc.RPC$VersionMismatch",
			msg: fmt.Sprintf("Server IPC version %d cannot communicate with client version %d", ipcVersion, hdr[4]), code: fatalVersion}, nil))
		return
	}
	if hdr[6] != authNone {
		writeFrame(conn, response(-1, nil, -1, &rpcError{class: AccessControlException,
			msg: "SIMPLE authentication is the only one this namenode accepts (client asked for SASL)", code: fatalUnauthorized}, nil))
		return
	}
	var user *caller
	for {
		frame, err := readFrame(br)
		if err != nil {
			return
		}
		rhb, rest, err := consumeDelimited(frame)
		if err != nil {
			return
		}
		rh, err := decode(rhb)
		if err != nil || rh.require("RpcRequestHeaderProto", 3, 4) != nil {
			writeFrame(conn, response(-1, nil, -1, &rpcError{class: IOException, msg: "malformed RpcRequestHeaderProto", code: fatalInvalidHeader}, nil))
			return
		}
		callID, clientID, retry := int32(rh.sint(3, 0)), []byte(rh.str(4)), int32(rh.sint(5, -1))
		if rh.uint(2, 0) == rpcOpCloseConn {
			return
		}
		if kind := rh.uint(1, rpcKindProtobuf); kind != rpcKindProtobuf {
			writeFrame(conn, response(callID, clientID, retry, &rpcError{class: IOException,
				msg: fmt.Sprintf("Unknown rpc kind %d", kind), code: fatalInvalidHeader}, nil))
			return
		}
		if user == nil {
			if callID != connectionCallID {
				writeFrame(conn, response(callID, clientID, retry, &rpcError{class: IOException,
					msg: "Connection context not established", code: fatalInvalidHeader}, nil))
				return
			}
			ccb, _, err := consumeDelimited(rest)
			if err != nil {
				return
			}
			cc, err := decode(ccb)
			if err != nil {
				return
			}
			ui, _ := cc.sub(2)
			name := ui.str(1)
			if name == "" {
				writeFrame(conn, response(callID, clientID, retry, &rpcError{class: AccessControlException,
					msg: "no effective user in the connection context", code: fatalUnauthorized}, nil))
				return
			}
			nn.c.ns.mu.Lock()
			user = nn.c.ns.callerFor(name)
			nn.c.ns.mu.Unlock()
			continue
		}
		if callID < 0 {
			continue // a ping or another control call: nothing to answer
		}
		body, rerr, drop := nn.call(user, rest)
		if drop {
			return
		}
		if err := writeFrame(conn, response(callID, clientID, retry, rerr, body)); err != nil {
			return
		}
		if rerr != nil && rerr.code >= 10 {
			return
		}
	}
}

// call decodes and serves one call: RequestHeaderProto, then the request.
// drop asks for the connection to be dropped without an answer.
func (nn *namenode) call(user *caller, rest []byte) (body msg, rerr *rpcError, drop bool) {
	hb, rest, err := consumeDelimited(rest)
	if err != nil {
		return nil, &rpcError{class: IOException, msg: "malformed RequestHeaderProto", code: fatalDeserialize}, false
	}
	h, err := decode(hb)
	if err != nil || h.require("RequestHeaderProto", 1, 2, 3) != nil {
		return nil, &rpcError{class: IOException, msg: "malformed RequestHeaderProto", code: fatalDeserialize}, false
	}
	method, protocol := h.str(1), h.str(2)
	nn.c.faults.count(method)
	if protocol != clientProtocol {
		return nil, &rpcError{class: NoSuchProtocolException, msg: "Unknown protocol: " + protocol, code: errNoSuchProtocol}, false
	}
	info, ok := methods[method]
	if !ok {
		return nil, &rpcError{class: NoSuchMethodException,
			msg: fmt.Sprintf("Unknown method %s called on %s protocol.", method, clientProtocol), code: errNoSuchMethod}, false
	}
	if !nn.c.isActive(nn) {
		category := "READ"
		if info.write {
			category = "WRITE"
		}
		return nil, exception(StandbyException, "Operation category %s is not supported in state standby. Visit https://s.apache.org/sbnn-error", category), false
	}
	if e := nn.c.faults.takeFailure(method); e != nil {
		return nil, e, false
	}
	var req fields
	if len(rest) > 0 {
		rb, _, err := consumeDelimited(rest)
		if err != nil {
			return nil, &rpcError{class: IOException, msg: "malformed " + method + " request", code: fatalDeserialize}, false
		}
		if req, err = decode(rb); err != nil {
			return nil, &rpcError{class: IOException, msg: "malformed " + method + " request", code: fatalDeserialize}, false
		}
	} else {
		req = fields{}
	}
	if err := req.require(method+" request", info.required...); err != nil {
		// A Java namenode fails to parse such a request.
		return nil, &rpcError{class: "com.google.protobuf.InvalidProtocolBufferException", msg: err.Error(), code: fatalDeserialize}, false
	}
	ns := nn.c.ns
	ns.mu.Lock()
	body, rerr = info.fn(ns, user, req)
	ns.mu.Unlock()
	return body, rerr, nn.c.faults.takeDrop(method)
}

// response encodes an answer frame's payload: RpcResponseHeaderProto and,
// on success, the response message.
func response(callID int32, clientID []byte, retry int32, rerr *rpcError, body msg) []byte {
	h := msg{}.uint(1, uint64(uint32(callID)))
	if rerr == nil {
		h = h.uint(2, statusSuccess).uint(3, ipcVersion)
	} else {
		status, code := uint64(statusError), rerr.code
		if code == 0 {
			code = errApplication
		}
		if code >= 10 {
			status = statusFatal
		}
		h = h.uint(2, status).uint(3, ipcVersion).str(4, rerr.class).str(5, rerr.msg).uint(6, code)
	}
	if clientID != nil {
		h = h.bytes(7, clientID)
	}
	h = h.sint(8, int64(retry))
	out := appendDelimited(nil, h)
	if rerr == nil {
		out = appendDelimited(out, body)
	}
	return out
}

// readFrame reads one length-prefixed IPC frame.
func readFrame(r io.Reader) ([]byte, error) {
	var n uint32
	if err := binary.Read(r, binary.BigEndian, &n); err != nil {
		return nil, err
	}
	if n > maxFrame {
		return nil, fmt.Errorf("frame of %d bytes is over ipc.maximum.data.length", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// writeFrame writes one length-prefixed IPC frame.
func writeFrame(w io.Writer, payload []byte) error {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

package hdfstest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// rawClient speaks Hadoop IPC by hand, to send what colinmarc/hdfs never
// does: other methods, malformed requests, abandonBlock.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	id   []byte
	seq  int64
}

// dialRaw connects and sends the connection header and context.
func dialRaw(t *testing.T, addr, user string) *rawClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn), id: []byte("raw-client-0123456")}
	conn.Write([]byte{'h', 'r', 'p', 'c', ipcVersion, 0, authNone})
	hdr := msg{}.uint(1, rpcKindProtobuf).uint(2, 0).sint(3, connectionCallID).bytes(4, c.id)
	cc := msg{}.sub(2, msg{}.str(1, user)).str(3, clientProtocol)
	if err := writeFrame(conn, appendDelimited(appendDelimited(nil, hdr), cc)); err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends one call and returns the response header and, on success,
// the response; body nil sends no request message at all.
func (c *rawClient) call(method string, body msg) (hdr, resp fields) {
	c.t.Helper()
	c.seq++
	h := msg{}.uint(1, rpcKindProtobuf).uint(2, 0).sint(3, c.seq).bytes(4, c.id)
	rh := msg{}.str(1, method).str(2, clientProtocol).uint(3, 1)
	frame := appendDelimited(appendDelimited(nil, h), rh)
	if body != nil {
		frame = appendDelimited(frame, body)
	}
	if err := writeFrame(c.conn, frame); err != nil {
		c.t.Fatal(err)
	}
	in, err := readFrame(c.r)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	hb, rest, err := consumeDelimited(in)
	if err != nil {
		c.t.Fatal(err)
	}
	if hdr, err = decode(hb); err != nil {
		c.t.Fatal(err)
	}
	if hdr.uint(1, 0) != uint64(c.seq) {
		c.t.Fatalf("%s: answer to call %d, want %d", method, hdr.uint(1, 0), c.seq)
	}
	if hdr.uint(2, 99) != statusSuccess {
		return hdr, nil
	}
	rb, _, err := consumeDelimited(rest)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp, err = decode(rb); err != nil {
		c.t.Fatal(err)
	}
	return hdr, resp
}

// mustCall fails unless the call succeeds.
func (c *rawClient) mustCall(method string, body msg) fields {
	c.t.Helper()
	hdr, resp := c.call(method, body)
	if resp == nil {
		c.t.Fatalf("%s: %s: %s", method, hdr.str(4), hdr.str(5))
	}
	return resp
}

func TestIPCErrors(t *testing.T) {
	c := start(t, Config{})
	raw := dialRaw(t, c.Addr(), "hdfs")
	hdr, _ := raw.call("getContentSummary", msg{}.str(1, "/"))
	if hdr.uint(2, 0) != statusError || hdr.str(4) != NoSuchMethodException || hdr.uint(6, 0) != errNoSuchMethod {
		t.Errorf("unknown method: status %d class %q code %d", hdr.uint(2, 0), hdr.str(4), hdr.uint(6, 0))
	}
	resp := raw.mustCall("getFileInfo", msg{}.str(1, "/nope"))
	if resp.has(1) {
		t.Error("getFileInfo of a missing path carries a status")
	}
	hdr, _ = raw.call("getFileInfo", msg{}) // src is required
	if hdr.uint(2, 0) != statusFatal || hdr.uint(6, 0) != fatalDeserialize {
		t.Errorf("a request without a required field: status %d code %d", hdr.uint(2, 0), hdr.uint(6, 0))
	}
	if _, err := readFrame(raw.r); err != io.EOF {
		t.Errorf("after a fatal answer the connection is open (%v)", err)
	}

	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{'h', 'r', 'p', 'c', 8, 0, authNone})
	frame, err := readFrame(conn)
	if err != nil {
		t.Fatal(err)
	}
	hb, _, _ := consumeDelimited(frame)
	h, _ := decode(hb)
	if h.uint(2, 0) != statusFatal || h.uint(6, 0) != fatalVersion {
		t.Errorf("IPC version 8: status %d code %d", h.uint(2, 0), h.uint(6, 0))
	}
}

func TestAbandonBlockAndChecksumVerification(t *testing.T) {
	c := start(t, Config{})
	raw := dialRaw(t, c.Addr(), "hdfs")
	const client = "raw-client"
	create := msg{}.str(1, "/f").sub(2, msg{}.uint(1, 0o644)).str(3, client).uint(4, flagCreate).
		bool(5, false).uint(6, 1).uint(7, 1<<20)
	fs := raw.mustCall("create", create)
	st, _ := fs.sub(1)
	fileID := st.uint(13, 0)
	addBlock := msg{}.str(1, "/f").str(2, client).uint(5, fileID)
	resp := raw.mustCall("addBlock", addBlock)
	lb, _ := resp.sub(1)
	blockRaw, _ := lb.last(1)
	locs, _ := lb.subs(3)
	if len(locs) != 1 {
		t.Fatalf("addBlock gave %d locations", len(locs))
	}
	id, _ := locs[0].sub(1)
	dnAddr := net.JoinHostPort(id.str(1), strconv.FormatUint(id.uint(4, 0), 10))

	// A packet whose checksum does not match its data is refused with
	// ERROR_CHECKSUM in its ack.
	dn, err := net.Dial("tcp", dnAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	dn.SetDeadline(time.Now().Add(10 * time.Second))
	op := msg{}.sub(1, msg{}.sub(1, msg{}.bytes(1, blockRaw.b)).str(2, client)).
		uint(4, stageSetupCreate).uint(5, 0).uint(6, 0).uint(7, 0).uint(8, 0).
		sub(9, msg{}.uint(1, csumCRC32C).uint(2, 512))
	dn.Write(append([]byte{0, dataTransferVersion, opWriteBlock}, appendDelimited(nil, op)...))
	br := bufio.NewReader(dn)
	rb, err := readDelimited(br, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := decode(rb); r.uint(1, 99) != stSuccess {
		t.Fatalf("write op refused: %s", r.str(5))
	}
	data := bytes.Repeat([]byte("x"), 100)
	bad := binary.BigEndian.AppendUint32(nil, checksum(csumCRC32C, data)^1)
	if err := writePacket(dn, 0, 1, false, bad, data); err != nil {
		t.Fatal(err)
	}
	ab, err := readDelimited(br, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := decode(ab)
	if ack.sint(1, 0) != 1 || len(ack[2]) != 1 || ack[2][0].v != stErrorChecksum {
		t.Fatalf("ack of a corrupt packet: seqno %d replies %v", ack.sint(1, 0), ack[2])
	}

	// The block is abandoned and the file completed empty.
	raw.mustCall("abandonBlock", msg{}.bytes(1, blockRaw.b).str(2, "/f").str(3, client).uint(4, fileID))
	done := raw.mustCall("complete", msg{}.str(1, "/f").str(2, client).uint(4, fileID))
	if !done.bool(1, false) {
		t.Fatal("complete after abandonBlock answered false")
	}
	if st, err := c.Stat("/f"); err != nil || st.Size != 0 || st.Blocks != 0 || st.UnderConstruction {
		t.Fatalf("the file: %+v, %v", st, err)
	}
	// A retried complete of a closed file succeeds; another holder's fails.
	if again := raw.mustCall("complete", msg{}.str(1, "/f").str(2, client).uint(4, fileID)); !again.bool(1, false) {
		t.Error("a retried complete answered false")
	}
	hdr, _ := raw.call("addBlock", addBlock)
	if hdr.str(4) != LeaseExpiredException {
		t.Errorf("addBlock on a closed file: %s %s", hdr.str(4), hdr.str(5))
	}
}

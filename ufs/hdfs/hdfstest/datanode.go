package hdfstest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataTransferProtocol constants (datatransfer.proto, DataTransferProtocol
// and Op in Hadoop).
const (
	dataTransferVersion = 28
	opWriteBlock        = 80
	opReadBlock         = 81

	stSuccess       = 0
	stError         = 1
	stErrorChecksum = 2
	stUnsupported   = 7

	csumNull   = 0
	csumCRC32  = 1
	csumCRC32C = 2

	stageSetupCreate = 6

	maxPacketData = 64 << 10 // bytes of data in one packet the datanode sends
	metaHeaderLen = 7        // version (2), checksum type (1), bytes per checksum (4)
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksum computes a chunk's checksum of the given type.
func checksum(typ uint64, b []byte) uint32 {
	if typ == csumCRC32 {
		return crc32.ChecksumIEEE(b)
	}
	return crc32.Checksum(b, castagnoli)
}

// replicaInfo is a replica a datanode holds: its data in blk_<id> and its
// chunk checksums in blk_<id>.meta, as a Java datanode stores them.
type replicaInfo struct {
	gs, length uint64
	finalized  bool
	ctype      uint64 // checksum type
	bpc        uint64 // bytes per checksum
}

// datanode serves the data transfer protocol for one storage directory.
type datanode struct {
	c    *Cluster
	idx  int
	uuid string
	dir  string
	port int

	mu       sync.Mutex // guards everything below
	ln       net.Listener
	conns    map[net.Conn]struct{}
	dead     bool
	replicas map[uint64]*replicaInfo
	wg       sync.WaitGroup
}

// startDatanode makes datanode idx with its storage under dir.
func startDatanode(c *Cluster, idx int, dir string) (*datanode, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dn := &datanode{c: c, idx: idx, uuid: fmt.Sprintf("dn-%d-%08x", idx, time.Now().UnixNano()&0xffffffff),
		dir: dir, conns: map[net.Conn]struct{}{}, replicas: map[uint64]*replicaInfo{}}
	if err := dn.listen(); err != nil {
		return nil, err
	}
	return dn, nil
}

// listen opens the transfer port (the same one again after a restart).
func (dn *datanode) listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(dn.port))
	if err != nil {
		return err
	}
	dn.mu.Lock()
	dn.ln, dn.dead = ln, false
	if dn.port == 0 { // set once, before anyone reads it
		dn.port = ln.Addr().(*net.TCPAddr).Port
	}
	dn.wg.Add(1)
	dn.mu.Unlock()
	go dn.serve(ln)
	return nil
}

// addr is the datanode's transfer address.
func (dn *datanode) addr() string { return "127.0.0.1:" + strconv.Itoa(dn.port) }

// alive reports whether the datanode serves.
func (dn *datanode) alive() bool {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	return !dn.dead
}

// kill stops serving at once: the listener and every connection close,
// as when the process dies. The replicas stay on disk.
func (dn *datanode) kill() {
	dn.mu.Lock()
	if dn.dead {
		dn.mu.Unlock()
		return
	}
	dn.dead = true
	dn.ln.Close()
	for c := range dn.conns {
		c.Close()
	}
	dn.mu.Unlock()
	dn.wg.Wait()
}

func (dn *datanode) serve(ln net.Listener) {
	defer dn.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		dn.mu.Lock()
		if dn.dead {
			dn.mu.Unlock()
			conn.Close()
			return
		}
		dn.conns[conn] = struct{}{}
		dn.wg.Add(1)
		dn.mu.Unlock()
		go func() {
			defer dn.wg.Done()
			dn.handle(conn)
			conn.Close()
			dn.mu.Lock()
			delete(dn.conns, conn)
			dn.mu.Unlock()
		}()
	}
}

// used is the bytes stored.
func (dn *datanode) used() uint64 {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	var n uint64
	for _, r := range dn.replicas {
		n += r.length
	}
	return n
}

func (dn *datanode) dataPath(id uint64) string {
	return filepath.Join(dn.dir, fmt.Sprintf("blk_%d", id))
}
func (dn *datanode) metaPath(id uint64) string {
	return filepath.Join(dn.dir, fmt.Sprintf("blk_%d.meta", id))
}

// replica returns a copy of a replica's description.
func (dn *datanode) replica(id uint64) (replicaInfo, bool) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r, ok := dn.replicas[id]
	if !ok {
		return replicaInfo{}, false
	}
	return *r, true
}

// deleteReplicas removes replicas (the namenode's invalidation).
func (dn *datanode) deleteReplicas(ids []uint64) {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	for _, id := range ids {
		if _, ok := dn.replicas[id]; ok {
			delete(dn.replicas, id)
			os.Remove(dn.dataPath(id))
			os.Remove(dn.metaPath(id))
		}
	}
}

// metaHeader is the header of a .meta file.
func metaHeader(ctype, bpc uint64) []byte {
	h := make([]byte, metaHeaderLen)
	binary.BigEndian.PutUint16(h, 1)
	h[2] = byte(ctype)
	binary.BigEndian.PutUint32(h[3:], uint32(bpc))
	return h
}

// chunkSums computes the block-aligned chunk checksums of data.
func chunkSums(ctype, bpc uint64, data []byte) []byte {
	if ctype == csumNull {
		return nil
	}
	var out []byte
	for off := 0; off < len(data); off += int(bpc) {
		out = binary.BigEndian.AppendUint32(out, checksum(ctype, data[off:min(len(data), off+int(bpc))]))
	}
	return out
}

// putReplica stores a finalized replica directly (the cluster's admin
// writes, which bypass the protocol).
func (dn *datanode) putReplica(id, gs uint64, data []byte, bpc uint64) error {
	if err := os.WriteFile(dn.dataPath(id), data, 0o644); err != nil {
		return err
	}
	meta := append(metaHeader(csumCRC32C, bpc), chunkSums(csumCRC32C, bpc, data)...)
	if err := os.WriteFile(dn.metaPath(id), meta, 0o644); err != nil {
		return err
	}
	dn.mu.Lock()
	dn.replicas[id] = &replicaInfo{gs: gs, length: uint64(len(data)), finalized: true, ctype: csumCRC32C, bpc: bpc}
	dn.mu.Unlock()
	return nil
}

// truncateReplica cuts a replica to n bytes with a new generation stamp,
// recomputing the checksum of its last chunk.
func (dn *datanode) truncateReplica(id, n, gs uint64) error {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	r, ok := dn.replicas[id]
	if !ok {
		return fmt.Errorf("no replica of blk_%d", id)
	}
	if err := os.Truncate(dn.dataPath(id), int64(n)); err != nil {
		return err
	}
	data, err := os.ReadFile(dn.dataPath(id))
	if err != nil {
		return err
	}
	meta := append(metaHeader(r.ctype, r.bpc), chunkSums(r.ctype, r.bpc, data)...)
	if err := os.WriteFile(dn.metaPath(id), meta, 0o644); err != nil {
		return err
	}
	r.length, r.gs = n, gs
	return nil
}

// corrupt flips a byte of a replica's data, leaving its checksums as
// they were.
func (dn *datanode) corrupt(id uint64) error {
	dn.mu.Lock()
	defer dn.mu.Unlock()
	if _, ok := dn.replicas[id]; !ok {
		return fmt.Errorf("datanode %d holds no replica of blk_%d", dn.idx, id)
	}
	f, err := os.OpenFile(dn.dataPath(id), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, 0); err != nil {
		return err
	}
	b[0] ^= 0xff
	_, err = f.WriteAt(b, 0)
	return err
}

// readAll returns a finalized replica's bytes.
func (dn *datanode) readAll(id uint64) ([]byte, error) {
	r, ok := dn.replica(id)
	if !ok || !r.finalized {
		return nil, fmt.Errorf("datanode %d holds no finalized replica of blk_%d", dn.idx, id)
	}
	return os.ReadFile(dn.dataPath(id))
}

// handle serves the operations of one connection until it closes.
func (dn *datanode) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	idle := time.Minute // dfs.client.socket-timeout for the first op
	for {
		conn.SetReadDeadline(time.Now().Add(idle))
		hdr := make([]byte, 3)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return
		}
		conn.SetReadDeadline(time.Time{})
		if v := binary.BigEndian.Uint16(hdr); v != dataTransferVersion {
			writeDelimited(conn, msg{}.uint(1, stError).str(5,
				fmt.Sprintf("Version Mismatch (Expected: %d, Received: %d )", dataTransferVersion, v)))
			return
		}
		body, err := readDelimited(br, 1<<20)
		if err != nil {
			return
		}
		switch hdr[2] {
		case opReadBlock:
			err = dn.readBlock(conn, br, body)
		case opWriteBlock:
			err = dn.writeBlock(conn, br, body)
		default:
			writeDelimited(conn, msg{}.uint(1, stUnsupported).str(5, fmt.Sprintf("Unknown op %d in data stream", hdr[2])))
			return
		}
		if err != nil {
			return
		}
		idle = 5 * time.Second // dfs.datanode.socket.reuse.keepalive, roughly
	}
}

// opBlock decodes the block of an op's ClientOperationHeaderProto.
func opBlock(op fields) (id, gs uint64, err error) {
	hdr, err := op.sub(1)
	if err != nil {
		return 0, 0, err
	}
	base, err := hdr.sub(1)
	if err != nil {
		return 0, 0, err
	}
	blk, err := base.sub(1)
	if err != nil {
		return 0, 0, err
	}
	if err := blk.require("ExtendedBlockProto", 1, 2, 3); err != nil {
		return 0, 0, err
	}
	return blk.uint(2, 0), blk.uint(3, 0), nil
}

// errorReply answers an op with a failure status and a message, and
// returns the error that ends the connection.
func errorReply(w io.Writer, status uint64, format string, args ...any) error {
	text := fmt.Sprintf(format, args...)
	writeDelimited(w, msg{}.uint(1, status).str(5, text))
	return errors.New(text)
}

// readBlock serves OpReadBlockProto: the BlockOpResponseProto with the
// checksum description, then packets of whole chunks with their
// checksums, then an empty last packet; the client may answer with a
// ClientReadStatusProto.
func (dn *datanode) readBlock(conn net.Conn, br *bufio.Reader, body []byte) error {
	op, err := decode(body)
	if err != nil || op.require("OpReadBlockProto", 1, 2, 3) != nil {
		return errorReply(conn, stError, "malformed OpReadBlockProto")
	}
	id, gs, err := opBlock(op)
	if err != nil {
		return errorReply(conn, stError, "malformed OpReadBlockProto: %v", err)
	}
	offset, length := op.uint(2, 0), op.uint(3, 0)
	r, ok := dn.replica(id)
	switch {
	case !ok:
		return errorReply(conn, stError, "Replica not found for %s:blk_%d_%d", dn.c.ns.poolID, id, gs)
	case r.gs < gs:
		return errorReply(conn, stError, "Replica gen stamp < block genstamp, block=blk_%d_%d, replica gen stamp %d", id, gs, r.gs)
	case offset > r.length || offset+length > r.length:
		return errorReply(conn, stError, "Offset %d and length %d don't match block blk_%d_%d ( blockLen %d )", offset, length, id, gs, r.length)
	}
	ctype, bpc := r.ctype, r.bpc
	if !op.bool(4, true) {
		ctype = csumNull
	}
	if bpc == 0 {
		bpc = 512
	}
	start := offset - offset%bpc
	end := min(r.length, (offset+length+bpc-1)/bpc*bpc)
	resp := msg{}.uint(1, stSuccess).sub(4, msg{}.sub(1, msg{}.uint(1, ctype).uint(2, bpc)).uint(2, start))
	if err := writeDelimited(conn, resp); err != nil {
		return err
	}
	data, err := os.Open(dn.dataPath(id))
	if err != nil {
		return err
	}
	defer data.Close()
	meta, err := os.Open(dn.metaPath(id))
	if err != nil {
		return err
	}
	defer meta.Close()
	bw := bufio.NewWriterSize(conn, 128<<10)
	seq := int64(0)
	perPacket := maxPacketData / bpc * bpc
	for pos := start; pos < end; {
		n := min(perPacket, end-pos)
		buf := make([]byte, n)
		if _, err := data.ReadAt(buf, int64(pos)); err != nil {
			return err
		}
		var sums []byte
		if ctype != csumNull {
			first, count := pos/bpc, (n+bpc-1)/bpc
			sums = make([]byte, 4*count)
			if _, err := meta.ReadAt(sums, int64(metaHeaderLen+4*first)); err != nil {
				return err
			}
		}
		if err := writePacket(bw, int64(pos), seq, false, sums, buf); err != nil {
			return err
		}
		pos += n
		seq++
	}
	if err := writePacket(bw, int64(end), seq, true, nil, nil); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// The client's ClientReadStatusProto (CHECKSUM_OK) is optional.
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := readDelimited(br, 1024); err != nil {
		return err
	}
	conn.SetReadDeadline(time.Time{})
	return nil
}

// writePacket writes one data packet: the payload length (4 + checksums +
// data), the header's length, PacketHeaderProto, checksums, data.
func writePacket(w io.Writer, offset, seq int64, last bool, sums, data []byte) error {
	h := msg{}.sfixed64(1, offset).sfixed64(2, seq).bool(3, last).sfixed32(4, int32(len(data)))
	b := make([]byte, 6, 6+len(h)+len(sums)+len(data))
	binary.BigEndian.PutUint32(b, uint32(4+len(sums)+len(data)))
	binary.BigEndian.PutUint16(b[4:], uint16(len(h)))
	b = append(b, h...)
	b = append(b, sums...)
	b = append(b, data...)
	_, err := w.Write(b)
	return err
}

// packet is one packet of a block being written.
type packet struct {
	raw      []byte // as received, to forward down the pipeline
	offset   int64
	seq      int64
	last     bool
	sums     []byte
	data     []byte
	checksOK bool
}

// readPacket reads and checks one packet of a write.
func readPacket(r io.Reader, ctype, bpc uint64) (*packet, error) {
	pre := make([]byte, 6)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, err
	}
	plen, hlen := binary.BigEndian.Uint32(pre), binary.BigEndian.Uint16(pre[4:])
	if plen < 4 || plen > 16<<20 {
		return nil, fmt.Errorf("bad packet length %d", plen)
	}
	rest := make([]byte, int(hlen)+int(plen)-4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return nil, err
	}
	h, err := decode(rest[:hlen])
	if err != nil || h.require("PacketHeaderProto", 1, 2, 3, 4) != nil {
		return nil, errors.New("malformed PacketHeaderProto")
	}
	p := &packet{raw: append(pre, rest...), offset: int64(h.uint(1, 0)), seq: int64(h.uint(2, 0)),
		last: h.bool(3, false)}
	dataLen := int(int32(uint32(h.uint(4, 0))))
	payload := rest[hlen:]
	if dataLen < 0 || dataLen > len(payload) {
		return nil, fmt.Errorf("packet data length %d does not fit its payload of %d", dataLen, len(payload))
	}
	p.sums, p.data = payload[:len(payload)-dataLen], payload[len(payload)-dataLen:]
	p.checksOK = true
	if ctype != csumNull {
		chunks := (dataLen + int(bpc) - 1) / int(bpc)
		if len(p.sums) != 4*chunks {
			return nil, fmt.Errorf("packet has %d bytes of checksums for %d chunks", len(p.sums), chunks)
		}
		for i := 0; i < chunks; i++ {
			chunk := p.data[i*int(bpc) : min(dataLen, (i+1)*int(bpc))]
			if checksum(ctype, chunk) != binary.BigEndian.Uint32(p.sums[4*i:]) {
				p.checksOK = false
			}
		}
	}
	return p, nil
}

// ackItem is an ack the responder owes upstream.
type ackItem struct {
	seq    int64
	status uint64
}

// writeBlock serves OpWriteBlockProto for a new block
// (PIPELINE_SETUP_CREATE): it connects the rest of the pipeline, answers
// with BlockOpResponseProto, then takes packets, checks their checksums,
// stores and forwards them, and acks each with PipelineAckProto once the
// datanodes downstream have. The last packet finalizes the replica and
// reports it to the namenode before its ack.
func (dn *datanode) writeBlock(conn net.Conn, br *bufio.Reader, body []byte) error {
	op, err := decode(body)
	if err != nil || op.require("OpWriteBlockProto", 1, 4, 5, 6, 7, 8, 9) != nil {
		return errorReply(conn, stError, "malformed OpWriteBlockProto")
	}
	id, gs, err := opBlock(op)
	if err != nil {
		return errorReply(conn, stError, "malformed OpWriteBlockProto: %v", err)
	}
	csum, _ := op.sub(9)
	ctype, bpc := csum.uint(1, 99), csum.uint(2, 0)
	switch {
	case op.uint(4, 0) != stageSetupCreate:
		return errorReply(conn, stUnsupported, "block construction stage %d is not supported by this datanode", op.uint(4, 0))
	case ctype > csumCRC32C || ctype != csumNull && (bpc == 0 || bpc > 1<<20):
		return errorReply(conn, stError, "unsupported checksum type %d with %d bytes per checksum", ctype, bpc)
	case !dn.c.ns.knownBlock(id, gs):
		return errorReply(conn, stError, "blk_%d_%d is not a block the namenode allocated", id, gs)
	}
	dn.mu.Lock()
	if _, exists := dn.replicas[id]; exists {
		dn.mu.Unlock()
		return errorReply(conn, stError, "Block %s:blk_%d_%d already exists and thus cannot be created.", dn.c.ns.poolID, id, gs)
	}
	rep := &replicaInfo{gs: gs, ctype: ctype, bpc: bpc}
	dn.replicas[id] = rep
	dn.mu.Unlock()
	ok := false
	defer func() {
		if !ok {
			dn.deleteReplicas([]uint64{id})
		}
	}()

	// The rest of the pipeline.
	var mirror net.Conn
	var mirrorR *bufio.Reader
	if targets := op[2]; len(targets) > 0 {
		t0, err := decode(targets[0].b)
		if err != nil {
			return errorReply(conn, stError, "malformed target")
		}
		tid, _ := t0.sub(1)
		addr := net.JoinHostPort(tid.str(1), strconv.FormatUint(tid.uint(4, 0), 10))
		mirror, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			writeDelimited(conn, msg{}.uint(1, stError).str(2, addr).str(5, err.Error()))
			return err
		}
		defer mirror.Close()
		down := msg{}
		for num, vals := range op {
			for i, v := range vals {
				if num == 2 && i == 0 {
					continue
				}
				down = appendField(down, num, v)
			}
		}
		req := append([]byte{0, dataTransferVersion, opWriteBlock}, appendDelimited(nil, down)...)
		if _, err := mirror.Write(req); err != nil {
			writeDelimited(conn, msg{}.uint(1, stError).str(2, addr).str(5, err.Error()))
			return err
		}
		mirrorR = bufio.NewReader(mirror)
		rb, err := readDelimited(mirrorR, 1<<20)
		var resp fields
		if err == nil {
			resp, err = decode(rb)
		}
		if err != nil || resp.uint(1, stError) != stSuccess {
			bad := addr
			if resp != nil && resp.str(2) != "" {
				bad = resp.str(2)
			}
			writeDelimited(conn, msg{}.uint(1, stError).str(2, bad).str(5, "mirror failed: "+resp.str(5)))
			return fmt.Errorf("mirror %s failed", addr)
		}
	}
	if err := writeDelimited(conn, msg{}.uint(1, stSuccess).str(2, "")); err != nil {
		return err
	}

	f, err := os.Create(dn.dataPath(id))
	if err != nil {
		return err
	}
	defer f.Close()
	acks := make(chan ackItem, 128)
	respDone := make(chan error, 1)
	go func() { respDone <- dn.respond(conn, mirrorR, acks) }()
	var (
		length uint64
		sums   []byte
		tail   []byte // the bytes of the block's last, partial chunk
		rerr   error
	)
	for {
		p, err := readPacket(br, ctype, bpc)
		if err != nil {
			rerr = err
			break
		}
		if mirror != nil {
			if _, err := mirror.Write(p.raw); err != nil {
				mirror.Close() // its acks will report the failure
			}
		}
		if p.seq == -1 { // a heartbeat
			acks <- ackItem{seq: -1}
			continue
		}
		if !p.checksOK {
			acks <- ackItem{seq: p.seq, status: stErrorChecksum}
			rerr = fmt.Errorf("checksum error in packet %d of blk_%d", p.seq, id)
			break
		}
		if uint64(p.offset) != length {
			acks <- ackItem{seq: p.seq, status: stError}
			rerr = fmt.Errorf("packet %d of blk_%d at offset %d, the replica has %d bytes", p.seq, id, p.offset, length)
			break
		}
		if _, err := f.Write(p.data); err != nil {
			acks <- ackItem{seq: p.seq, status: stError}
			rerr = err
			break
		}
		length += uint64(len(p.data))
		if ctype != csumNull {
			for d := p.data; len(d) > 0; {
				k := min(int(bpc)-len(tail), len(d))
				tail, d = append(tail, d[:k]...), d[k:]
				if len(tail) == int(bpc) {
					sums = binary.BigEndian.AppendUint32(sums, checksum(ctype, tail))
					tail = tail[:0]
				}
			}
		}
		if p.last {
			if len(tail) > 0 {
				sums = binary.BigEndian.AppendUint32(sums, checksum(ctype, tail))
			}
			if err := os.WriteFile(dn.metaPath(id), append(metaHeader(ctype, bpc), sums...), 0o644); err != nil {
				acks <- ackItem{seq: p.seq, status: stError}
				rerr = err
				break
			}
			dn.mu.Lock()
			rep.length, rep.finalized = length, true
			dn.mu.Unlock()
			ok = true
			dn.c.ns.blockReceived(dn.idx, id, gs, length)
			acks <- ackItem{seq: p.seq}
			break
		}
		dn.mu.Lock()
		rep.length = length
		dn.mu.Unlock()
		acks <- ackItem{seq: p.seq}
	}
	close(acks)
	if err := <-respDone; err != nil && rerr == nil {
		rerr = err
	}
	return rerr
}

// respond sends the acks upstream in order, each with this datanode's
// status followed by those of the datanodes downstream.
func (dn *datanode) respond(up io.Writer, mirror *bufio.Reader, acks <-chan ackItem) error {
	var failed error
	for a := range acks {
		if failed != nil {
			continue
		}
		replies := []uint64{a.status}
		if mirror != nil && a.status == stSuccess {
			down, err := readAck(mirror, a.seq)
			if err != nil {
				replies = append(replies, stError)
			} else {
				replies = append(replies, down...)
			}
		}
		m := msg{}.sint(1, a.seq)
		for _, r := range replies {
			m = m.uint(2, r)
		}
		m = m.uint(3, 0)
		if err := writeDelimited(up, m); err != nil {
			failed = err
		}
		for _, r := range replies {
			if r != stSuccess && failed == nil {
				failed = fmt.Errorf("ack %d carries status %d", a.seq, r)
			}
		}
	}
	return failed
}

// readAck reads the downstream ack of packet seq.
func readAck(r *bufio.Reader, seq int64) ([]uint64, error) {
	b, err := readDelimited(r, 1024)
	if err != nil {
		return nil, err
	}
	ack, err := decode(b)
	if err != nil {
		return nil, err
	}
	if got := ack.sint(1, 0); got != seq {
		return nil, fmt.Errorf("downstream acked %d, want %d", got, seq)
	}
	var out []uint64
	for _, v := range ack[2] {
		out = append(out, v.v)
	}
	return out, nil
}

// writeDelimited writes one varint-delimited message.
func writeDelimited(w io.Writer, m msg) error {
	_, err := w.Write(appendDelimited(nil, m))
	return err
}

// appendField re-encodes one decoded field.
func appendField(m msg, num protowire.Number, f field) msg {
	m = protowire.AppendTag(m, num, f.typ)
	switch f.typ {
	case protowire.VarintType:
		return protowire.AppendVarint(m, f.v)
	case protowire.Fixed32Type:
		return protowire.AppendFixed32(m, uint32(f.v))
	case protowire.Fixed64Type:
		return protowire.AppendFixed64(m, f.v)
	default:
		return protowire.AppendBytes(m, f.b)
	}
}

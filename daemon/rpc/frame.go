package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"syscall"
)

// Limits of the wire format; see the package documentation.
const (
	// MaxMethodLen is the longest method name.
	MaxMethodLen = 64
	// MaxBodyLen is the largest JSON body of a frame.
	MaxBodyLen = 4 << 20
	// MaxDataLen is the largest raw data section of a frame: a 64 MiB block
	// plus room for a page header.
	MaxDataLen = 64<<20 + 4<<10
	// MaxFDs is the most file descriptors one frame may carry.
	MaxFDs = 8
)

const (
	magic   = 0xA1F5
	version = 1

	// fixedLen is the header up to and including mlen; tailLen is blen+dlen.
	fixedLen     = 2 + 1 + 1 + 8 + 1 + 4 + 1
	tailLen      = 4 + 4
	maxHeaderLen = fixedLen + MaxMethodLen + tailLen

	// allocStep bounds what a reader allocates ahead of bytes that actually
	// arrived, so a peer that announces a large section and stalls cannot
	// make us commit the whole limit.
	allocStep = 1 << 20
)

// Kind says whether a frame is a request or a response.
type Kind uint8

// Frame kinds.
const (
	KindRequest  Kind = 1
	KindResponse Kind = 2
)

// Frame is one decoded frame. ReadFrame and WriteFrame move whole frames; the
// Client and Server use the same encoding with their own buffering.
type Frame struct {
	Kind Kind
	// ID pairs a response with its request.
	ID uint64
	// NFDs is the number of descriptors that travel with the frame
	// (responses on UNIX connections only). WriteFrame records the count; the
	// descriptors themselves are the transport's business.
	NFDs int
	// Errno is a response's error class; 0 means success.
	Errno syscall.Errno
	// Method names the handler of a request; empty in responses.
	Method string
	// Body is the JSON message, or the error text of an error response.
	Body []byte
	// Data is the raw section.
	Data []byte
}

// FrameError reports a malformed frame: bad magic, version or kind, a length
// over its limit, a bad method name, or a frame that ends early. It unwraps to
// syscall.EPROTO.
type FrameError struct {
	// Peer is the address the frame came from.
	Peer string
	// Reason says what was wrong.
	Reason string
}

// Error returns "rpc: frame from <peer>: <reason>".
func (e *FrameError) Error() string { return "rpc: frame from " + e.Peer + ": " + e.Reason }

// Unwrap returns syscall.EPROTO.
func (e *FrameError) Unwrap() error { return syscall.EPROTO }

// header is a frame without its sections.
type header struct {
	kind   Kind
	id     uint64
	nfds   int
	errno  uint32
	method string
	blen   int
	dlen   int
}

// validMethod reports whether m is a legal method name.
func validMethod(m string) bool {
	if len(m) == 0 || len(m) > MaxMethodLen {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// check returns why h may not go on the wire, and the errno a sender should
// report for it; "" when h is well formed. Readers and writers apply the same
// rules, so whatever decodes also encodes.
func (h *header) check() (string, syscall.Errno) {
	switch h.kind {
	case KindRequest:
		if !validMethod(h.method) {
			return fmt.Sprintf("bad method name %q", h.method), syscall.EINVAL
		}
		if h.errno != 0 {
			return fmt.Sprintf("request carries errno %d", h.errno), syscall.EINVAL
		}
		if h.nfds != 0 {
			return fmt.Sprintf("request carries %d file descriptors", h.nfds), syscall.EINVAL
		}
	case KindResponse:
		if h.method != "" {
			return fmt.Sprintf("response carries method name %q", h.method), syscall.EINVAL
		}
		if h.nfds < 0 || h.nfds > MaxFDs {
			return fmt.Sprintf("%d file descriptors exceed %d", h.nfds, MaxFDs), syscall.EINVAL
		}
	default:
		return fmt.Sprintf("bad kind %d", h.kind), syscall.EINVAL
	}
	if h.blen < 0 || h.blen > MaxBodyLen {
		return fmt.Sprintf("body length %d exceeds %d", h.blen, MaxBodyLen), syscall.EMSGSIZE
	}
	if h.dlen < 0 || h.dlen > MaxDataLen {
		return fmt.Sprintf("data length %d exceeds %d", h.dlen, MaxDataLen), syscall.EMSGSIZE
	}
	return "", 0
}

// appendHeader encodes h, which must pass check, after dst.
func appendHeader(dst []byte, h *header) []byte {
	dst = binary.BigEndian.AppendUint16(dst, magic)
	dst = append(dst, version, byte(h.kind))
	dst = binary.BigEndian.AppendUint64(dst, h.id)
	dst = append(dst, byte(h.nfds))
	dst = binary.BigEndian.AppendUint32(dst, h.errno)
	dst = append(dst, byte(len(h.method)))
	dst = append(dst, h.method...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.blen))
	dst = binary.BigEndian.AppendUint32(dst, uint32(h.dlen))
	return dst
}

// readHeader decodes and checks one header. It returns io.EOF when r ends
// cleanly before a frame, a *FrameError for a malformed or truncated header,
// and r's own error otherwise.
func readHeader(r io.Reader, peer string) (header, error) {
	var buf [maxHeaderLen]byte
	var h header
	if _, err := io.ReadFull(r, buf[:fixedLen]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return h, &FrameError{Peer: peer, Reason: "truncated header"}
		}
		return h, err
	}
	if m := binary.BigEndian.Uint16(buf[0:]); m != magic {
		return h, &FrameError{Peer: peer, Reason: fmt.Sprintf("bad magic %#04x", m)}
	}
	if v := buf[2]; v != version {
		return h, &FrameError{Peer: peer, Reason: fmt.Sprintf("unsupported version %d", v)}
	}
	h.kind = Kind(buf[3])
	if h.kind != KindRequest && h.kind != KindResponse {
		return h, &FrameError{Peer: peer, Reason: fmt.Sprintf("bad kind %d", h.kind)}
	}
	h.id = binary.BigEndian.Uint64(buf[4:])
	h.nfds = int(buf[12])
	h.errno = binary.BigEndian.Uint32(buf[13:])
	mlen := int(buf[17])
	if mlen > MaxMethodLen {
		return h, &FrameError{Peer: peer, Reason: fmt.Sprintf("method length %d exceeds %d", mlen, MaxMethodLen)}
	}
	rest := buf[fixedLen : fixedLen+mlen+tailLen]
	if _, err := io.ReadFull(r, rest); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return h, &FrameError{Peer: peer, Reason: "truncated header"}
		}
		return h, err
	}
	if mlen > 0 {
		h.method = string(rest[:mlen])
	}
	h.blen = int(binary.BigEndian.Uint32(rest[mlen:]))
	h.dlen = int(binary.BigEndian.Uint32(rest[mlen+4:]))
	if reason, _ := h.check(); reason != "" {
		return h, &FrameError{Peer: peer, Reason: reason}
	}
	return h, nil
}

// readSection reads an n-byte section named what. It fills buf when buf is
// long enough; otherwise it allocates, growing with the bytes that arrive
// rather than trusting n up front.
func readSection(r io.Reader, peer, what string, n int, buf []byte) ([]byte, error) {
	if n == 0 {
		if buf != nil {
			return buf[:0], nil
		}
		return nil, nil
	}
	var b []byte
	switch {
	case len(buf) >= n:
		b = buf[:n]
	case n <= allocStep:
		b = make([]byte, n)
	default:
		b = make([]byte, 0, allocStep)
		for len(b) < n {
			if len(b) == cap(b) {
				nb := make([]byte, len(b), min(2*cap(b), n))
				copy(nb, b)
				b = nb
			}
			m, err := io.ReadFull(r, b[len(b):cap(b)])
			b = b[:len(b)+m]
			if err != nil {
				return nil, sectionError(err, peer, what, len(b), n)
			}
		}
		return b, nil
	}
	if m, err := io.ReadFull(r, b); err != nil {
		return nil, sectionError(err, peer, what, m, n)
	}
	return b, nil
}

func sectionError(err error, peer, what string, got, want int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FrameError{Peer: peer, Reason: fmt.Sprintf("truncated %s: got %d of %d bytes", what, got, want)}
	}
	return err
}

// skipSection reads and drops n bytes.
func skipSection(r io.Reader, peer, what string, n int) error {
	if n == 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, r, int64(n))
	if err != nil {
		return sectionError(err, peer, what, int(m), n)
	}
	return nil
}

// ReadFrame reads one whole frame from r; peer names r's other end in errors.
// It returns io.EOF when r ends cleanly before a frame and a *FrameError for a
// malformed frame. It never allocates more than the format's limits, and
// allocates a large section only as its bytes arrive.
func ReadFrame(r io.Reader, peer string) (*Frame, error) {
	h, err := readHeader(r, peer)
	if err != nil {
		return nil, err
	}
	body, err := readSection(r, peer, "body", h.blen, nil)
	if err != nil {
		return nil, err
	}
	data, err := readSection(r, peer, "data", h.dlen, nil)
	if err != nil {
		return nil, err
	}
	return &Frame{
		Kind: h.kind, ID: h.id, NFDs: h.nfds, Errno: syscall.Errno(h.errno),
		Method: h.method, Body: body, Data: data,
	}, nil
}

// WriteFrame encodes f to w with one vectored write where w supports it. A
// frame that breaks the format's rules is refused with an error wrapping
// syscall.EINVAL or syscall.EMSGSIZE, and nothing is written.
func WriteFrame(w io.Writer, f *Frame) error {
	if f.Errno > math.MaxUint32 {
		return fmt.Errorf("rpc: write frame %d: errno %d does not fit the header: %w", f.ID, f.Errno, syscall.EINVAL)
	}
	h := header{
		kind: f.Kind, id: f.ID, nfds: f.NFDs, errno: uint32(f.Errno),
		method: f.Method, blen: len(f.Body), dlen: len(f.Data),
	}
	if reason, errno := h.check(); reason != "" {
		return fmt.Errorf("rpc: write frame %d: %s: %w", f.ID, reason, errno)
	}
	var buf [maxHeaderLen]byte
	_, err := writeBuffers(w, appendHeader(buf[:0], &h), f.Body, f.Data)
	return err
}

// writeBuffers writes the non-empty parts with one writev where possible.
func writeBuffers(w io.Writer, parts ...[]byte) (int64, error) {
	bufs := make(net.Buffers, 0, len(parts))
	for _, p := range parts {
		if len(p) > 0 {
			bufs = append(bufs, p)
		}
	}
	return bufs.WriteTo(w)
}

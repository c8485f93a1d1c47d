package rpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// encode returns f's wire bytes, failing the test if WriteFrame refuses it.
func encode(t testing.TB, f *Frame) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteFrame(&buf, f); err != nil {
		t.Fatalf("WriteFrame(%+v): %v", f, err)
	}
	return buf.Bytes()
}

// rawHeader builds a header without WriteFrame's checks, to forge bad frames.
func rawHeader(magicV uint16, ver, kind byte, nfds byte, errno uint32, method string, blen, dlen uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, magicV)
	b = append(b, ver, kind)
	b = binary.BigEndian.AppendUint64(b, 7)
	b = append(b, nfds)
	b = binary.BigEndian.AppendUint32(b, errno)
	b = append(b, byte(len(method)))
	b = append(b, method...)
	b = binary.BigEndian.AppendUint32(b, blen)
	return binary.BigEndian.AppendUint32(b, dlen)
}

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    Frame
	}{
		{"request", Frame{Kind: KindRequest, ID: 1, Method: "meta.GetStatus", Body: []byte(`{"path":"/a"}`)}},
		{"request with data", Frame{Kind: KindRequest, ID: 1 << 40, Method: "worker.WritePage", Body: []byte(`{}`), Data: bytes.Repeat([]byte{0xAB}, 3000)}},
		{"request longest method", Frame{Kind: KindRequest, ID: 2, Method: strings.Repeat("m", MaxMethodLen)}},
		{"response ok", Frame{Kind: KindResponse, ID: 3, Body: []byte(`{"size":5}`), Data: []byte("hello")}},
		{"response error", Frame{Kind: KindResponse, ID: 4, Errno: syscall.ENOENT, Body: []byte("open /x: no such file")}},
		{"response with fds", Frame{Kind: KindResponse, ID: 5, NFDs: MaxFDs}},
		{"empty response", Frame{Kind: KindResponse, ID: 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := encode(t, &tt.f)
			got, err := ReadFrame(bytes.NewReader(wire), "test")
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if got.Kind != tt.f.Kind || got.ID != tt.f.ID || got.NFDs != tt.f.NFDs || got.Errno != tt.f.Errno ||
				got.Method != tt.f.Method || !bytes.Equal(got.Body, tt.f.Body) || !bytes.Equal(got.Data, tt.f.Data) {
				t.Fatalf("ReadFrame = %+v, want %+v", got, tt.f)
			}
			if again := encode(t, got); !bytes.Equal(again, wire) {
				t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, wire)
			}
		})
	}
}

func TestReadFrameMalformed(t *testing.T) {
	good := encode(t, &Frame{Kind: KindRequest, ID: 1, Method: "echo", Body: []byte(`{"a":1}`), Data: []byte("xyz")})
	tests := []struct {
		name   string
		wire   []byte
		reason string
	}{
		{"bad magic", rawHeader(0xBEEF, 1, 1, 0, 0, "echo", 0, 0), "bad magic 0xbeef"},
		{"bad version", rawHeader(magic, 2, 1, 0, 0, "echo", 0, 0), "unsupported version 2"},
		{"bad kind", rawHeader(magic, 1, 3, 0, 0, "echo", 0, 0), "bad kind 3"},
		{"body too long", rawHeader(magic, 1, 1, 0, 0, "echo", 9999999, 0), "body length 9999999 exceeds 4194304"},
		{"data too long", rawHeader(magic, 1, 1, 0, 0, "echo", 0, MaxDataLen+1), "data length 67112961 exceeds 67112960"},
		{"method too long", rawHeader(magic, 1, 1, 0, 0, strings.Repeat("m", 65), 0, 0), "method length 65 exceeds 64"},
		{"bad method char", rawHeader(magic, 1, 1, 0, 0, "rm -rf", 0, 0), `bad method name "rm -rf"`},
		{"empty method", rawHeader(magic, 1, 1, 0, 0, "", 0, 0), `bad method name ""`},
		{"request with errno", rawHeader(magic, 1, 1, 0, 2, "echo", 0, 0), "request carries errno 2"},
		{"request with fds", rawHeader(magic, 1, 1, 1, 0, "echo", 0, 0), "request carries 1 file descriptors"},
		{"response with method", rawHeader(magic, 1, 2, 0, 0, "echo", 0, 0), `response carries method name "echo"`},
		{"too many fds", rawHeader(magic, 1, 2, 9, 0, "", 0, 0), "9 file descriptors exceed 8"},
		{"truncated fixed header", good[:10], "truncated header"},
		{"truncated method", good[:fixedLen+2], "truncated header"},
		{"truncated body", good[:len(good)-5], "truncated body: got 5 of 7 bytes"},
		{"truncated data", good[:len(good)-1], "truncated data: got 2 of 3 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.wire), "127.0.0.1:5432")
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("ReadFrame error = %v, want *FrameError", err)
			}
			if want := "rpc: frame from 127.0.0.1:5432: " + tt.reason; err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
			if !errors.Is(err, syscall.EPROTO) {
				t.Errorf("error %v does not wrap EPROTO", err)
			}
		})
	}
}

func TestReadFrameCleanEOF(t *testing.T) {
	if _, err := ReadFrame(bytes.NewReader(nil), "p"); err != io.EOF {
		t.Fatalf("ReadFrame(empty) = %v, want io.EOF", err)
	}
}

func TestWriteFrameRefuses(t *testing.T) {
	tests := []struct {
		name  string
		f     Frame
		errno syscall.Errno
	}{
		{"bad method", Frame{Kind: KindRequest, Method: "a/b"}, syscall.EINVAL},
		{"no kind", Frame{Method: "a"}, syscall.EINVAL},
		{"request errno", Frame{Kind: KindRequest, Method: "a", Errno: syscall.EIO}, syscall.EINVAL},
		{"response method", Frame{Kind: KindResponse, Method: "a"}, syscall.EINVAL},
		{"too many fds", Frame{Kind: KindResponse, NFDs: MaxFDs + 1}, syscall.EINVAL},
		{"body too long", Frame{Kind: KindResponse, Body: make([]byte, MaxBodyLen+1)}, syscall.EMSGSIZE},
		{"errno too large", Frame{Kind: KindResponse, Errno: 1 << 33}, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteFrame(&buf, &tt.f)
			if !errors.Is(err, tt.errno) {
				t.Fatalf("WriteFrame error = %v, want %v", err, tt.errno)
			}
			if buf.Len() != 0 {
				t.Errorf("WriteFrame wrote %d bytes of a refused frame", buf.Len())
			}
		})
	}
}

// A peer that announces the largest data section and then stalls must not
// make the reader allocate the whole section.
func TestReadFrameAllocatesAsBytesArrive(t *testing.T) {
	wire := append(rawHeader(magic, 1, 2, 0, 0, "", 0, MaxDataLen), make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(wire), "p")
	runtime.ReadMemStats(&after)
	if !errors.Is(err, syscall.EPROTO) {
		t.Fatalf("ReadFrame = %v, want truncated-frame error", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*allocStep {
		t.Errorf("allocated %d bytes for 100 bytes received; want at most %d", got, 2*allocStep)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(encode(f, &Frame{Kind: KindRequest, ID: 1, Method: "echo", Body: []byte(`{"a":1}`), Data: []byte("xyz")}))
	f.Add(encode(f, &Frame{Kind: KindResponse, ID: 9, Errno: syscall.ENOENT, Body: []byte("gone")}))
	f.Add(encode(f, &Frame{Kind: KindResponse, ID: 10, NFDs: 2, Data: make([]byte, 100)}))
	f.Add(rawHeader(magic, 1, 1, 0, 0, "echo", 9999999, 0))
	f.Add(rawHeader(magic, 1, 2, 0, 0, "", 0, MaxDataLen))
	f.Add([]byte{0xA1, 0xF5, 1})
	f.Fuzz(func(t *testing.T, wire []byte) {
		r := bytes.NewReader(wire)
		fr, err := ReadFrame(r, "fuzz")
		if err != nil {
			var fe *FrameError
			if err != io.EOF && !errors.As(err, &fe) {
				t.Fatalf("ReadFrame error %v is neither io.EOF nor *FrameError", err)
			}
			return
		}
		if len(fr.Body) > MaxBodyLen || len(fr.Data) > MaxDataLen || len(fr.Method) > MaxMethodLen {
			t.Fatalf("frame over limits: body %d, data %d, method %d", len(fr.Body), len(fr.Data), len(fr.Method))
		}
		consumed := wire[:len(wire)-r.Len()]
		var buf bytes.Buffer
		if err := WriteFrame(&buf, fr); err != nil {
			t.Fatalf("WriteFrame of a decoded frame: %v", err)
		}
		if !bytes.Equal(buf.Bytes(), consumed) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", buf.Bytes(), consumed)
		}
	})
}

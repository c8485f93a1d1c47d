package hdfstest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// msg builds a protobuf message by hand, field by field, with the field
// numbers of Hadoop's public .proto files.
type msg []byte

// uint appends a varint field (uint32, uint64, bool, enum).
func (m msg) uint(num protowire.Number, v uint64) msg {
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}

// sint appends a zigzag varint field (sint32, sint64).
func (m msg) sint(num protowire.Number, v int64) msg {
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, protowire.EncodeZigZag(v))
}

// int appends an int32/int64 field (negative values take ten bytes).
func (m msg) int(num protowire.Number, v int64) msg {
	return m.uint(num, uint64(v))
}

// bool appends a bool field.
func (m msg) bool(num protowire.Number, b bool) msg {
	v := uint64(0)
	if b {
		v = 1
	}
	return m.uint(num, v)
}

// bytes appends a length-delimited field (string, bytes).
func (m msg) bytes(num protowire.Number, b []byte) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, b)
}

// str appends a string field.
func (m msg) str(num protowire.Number, s string) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

// sub appends an embedded message.
func (m msg) sub(num protowire.Number, sub msg) msg {
	return m.bytes(num, sub)
}

// sfixed64 appends an sfixed64 field.
func (m msg) sfixed64(num protowire.Number, v int64) msg {
	m = protowire.AppendTag(m, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(m, uint64(v))
}

// sfixed32 appends an sfixed32 field.
func (m msg) sfixed32(num protowire.Number, v int32) msg {
	m = protowire.AppendTag(m, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(m, uint32(v))
}

// field is one decoded field value.
type field struct {
	typ protowire.Type
	v   uint64 // varint, fixed32, fixed64
	b   []byte // bytes
}

// fields is a decoded message: every occurrence of every field, by number.
type fields map[protowire.Number][]field

// errMalformed is a message that is not valid protobuf.
var errMalformed = errors.New("malformed protobuf message")

// decode parses a message. Unknown fields are kept, as protobuf does.
func decode(b []byte) (fields, error) {
	f := fields{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errMalformed
		}
		b = b[n:]
		var fv field
		fv.typ = typ
		switch typ {
		case protowire.VarintType:
			fv.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			fv.v = uint64(v)
		case protowire.Fixed64Type:
			fv.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			fv.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, errMalformed
		}
		b = b[n:]
		f[num] = append(f[num], fv)
	}
	return f, nil
}

// has reports whether field num is present.
func (f fields) has(num protowire.Number) bool { return len(f[num]) > 0 }

// last is the last occurrence of field num (protobuf's rule for a
// repeated scalar that is not repeated).
func (f fields) last(num protowire.Number) (field, bool) {
	v := f[num]
	if len(v) == 0 {
		return field{}, false
	}
	return v[len(v)-1], true
}

// uint returns a varint field, or def when it is absent.
func (f fields) uint(num protowire.Number, def uint64) uint64 {
	if v, ok := f.last(num); ok {
		return v.v
	}
	return def
}

// sint returns a zigzag field, or def when it is absent.
func (f fields) sint(num protowire.Number, def int64) int64 {
	if v, ok := f.last(num); ok {
		return protowire.DecodeZigZag(v.v)
	}
	return def
}

// bool returns a bool field, or def when it is absent.
func (f fields) bool(num protowire.Number, def bool) bool {
	if v, ok := f.last(num); ok {
		return v.v != 0
	}
	return def
}

// str returns a string or bytes field, "" when it is absent.
func (f fields) str(num protowire.Number) string {
	if v, ok := f.last(num); ok {
		return string(v.b)
	}
	return ""
}

// sub decodes an embedded message; absent gives an empty message.
func (f fields) sub(num protowire.Number) (fields, error) {
	v, ok := f.last(num)
	if !ok {
		return fields{}, nil
	}
	return decode(v.b)
}

// subs decodes every occurrence of a repeated embedded message.
func (f fields) subs(num protowire.Number) ([]fields, error) {
	var out []fields
	for _, v := range f[num] {
		m, err := decode(v.b)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// require fails unless every one of the required fields is present, as
// a Java protobuf parser would.
func (f fields) require(what string, nums ...protowire.Number) error {
	for _, n := range nums {
		if !f.has(n) {
			return fmt.Errorf("%s is missing required field %d", what, n)
		}
	}
	return nil
}

// appendDelimited appends m with its varint length in front, the framing
// of Hadoop IPC and of the data transfer protocol.
func appendDelimited(b []byte, m msg) []byte {
	b = protowire.AppendVarint(b, uint64(len(m)))
	return append(b, m...)
}

// consumeDelimited takes one varint-delimited message off the front of b.
func consumeDelimited(b []byte) (m, rest []byte, err error) {
	n, k := protowire.ConsumeVarint(b)
	if k < 0 || uint64(len(b)-k) < n {
		return nil, nil, errMalformed
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// readDelimited reads one varint-delimited message from a stream.
func readDelimited(r *bufio.Reader, limit int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > uint64(limit) {
		return nil, fmt.Errorf("message of %d bytes is over the limit of %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

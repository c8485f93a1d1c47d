package meta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
)

// A client that loses the reply to a request that changes the namespace
// (create, rename, delete, mkdir, complete, mount, ...) cannot tell whether
// it was applied, and after a leader change it asks another master. So
// that such a retry is applied once, the client sends a random RequestID
// with every attempt of one request; the command that carries the request
// out is wrapped with the id, and the state machine records the id with
// the command's result. A later attempt with the same id is answered with
// the recorded result instead of being applied again: by the leader before
// it does any work (Master.replayed), and by the state machine itself for
// attempts that race (fsm.applyEntry).
//
// The record is a bounded table in the metastore (maxRecordedRequests
// entries, oldest dropped first), so it is replicated, survives restarts
// and travels in snapshots like the rest of the state.

// maxRecordedRequests bounds the table of recorded request results. It is
// part of the state machine's behaviour: every replica must use the same.
const maxRecordedRequests = 100_000

// Metastore buckets and keys of the request table.
var (
	bucketRequests     = []byte("requests")     // request id (16 bytes) -> JSON recordedResult
	bucketRequestOrder = []byte("requestOrder") // sequence (u64 BE) -> request id

	keyRequestNext  = []byte("requestNext")  // sequence of the next recorded request
	keyRequestFirst = []byte("requestFirst") // sequence of the oldest kept request
)

// RequestID identifies one client request across its retries.
type RequestID [16]byte

// NewRequestID returns a random request id.
func NewRequestID() RequestID {
	var id RequestID
	rand.Read(id[:]) // never fails (crypto/rand panics rather than fail)
	return id
}

// ParseRequestID parses the 32 hexadecimal digits of String.
func ParseRequestID(s string) (RequestID, error) {
	var id RequestID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("meta: request id %q: want 32 hex digits: %w", s, syscall.EINVAL)
	}
	copy(id[:], b)
	return id, nil
}

// String returns the id as 32 hexadecimal digits.
func (id RequestID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id (no request id).
func (id RequestID) IsZero() bool { return id == RequestID{} }

type requestIDKey struct{}

// WithRequestID returns a context whose namespace change is applied at
// most once per id. The zero id is ignored.
func WithRequestID(ctx context.Context, id RequestID) context.Context {
	if id.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDFrom returns the request id carried by ctx.
func requestIDFrom(ctx context.Context) (RequestID, bool) {
	id, ok := ctx.Value(requestIDKey{}).(RequestID)
	return id, ok
}

// encodeRequest wraps an encoded command with a request id:
// cmdRequest, the 16 id bytes, then the command as encodeCommand made it.
func encodeRequest(id RequestID, cmd []byte) []byte {
	out := make([]byte, 0, 1+len(id)+len(cmd))
	out = append(out, byte(cmdRequest))
	out = append(out, id[:]...)
	return append(out, cmd...)
}

// decodeRequest splits what encodeRequest made.
func decodeRequest(buf []byte) (RequestID, []byte, error) {
	var id RequestID
	if len(buf) < 1+len(id)+1 || commandType(buf[0]) != cmdRequest {
		return id, nil, fmt.Errorf("meta: malformed request envelope of %d bytes: %w", len(buf), syscall.EINVAL)
	}
	copy(id[:], buf[1:])
	return id, buf[1+len(id):], nil
}

// recordedResult is the stored outcome of a request: its value (a
// FileInfo, a MountInfo or none) or its error class and text.
type recordedResult struct {
	Kind  string     `json:"kind,omitempty"` // "file", "mount" or "" for no value
	File  *FileInfo  `json:"file,omitempty"`
	Mount *MountInfo `json:"mount,omitempty"`
	Errno uint32     `json:"errno,omitempty"`
	Err   string     `json:"err,omitempty"`
}

// recordOf makes the record of an apply result.
func recordOf(v any, err error) recordedResult {
	var r recordedResult
	if err != nil {
		errno := syscall.EIO
		errors.As(err, &errno)
		r.Errno, r.Err = uint32(errno), err.Error()
		return r
	}
	switch v := v.(type) {
	case FileInfo:
		r.Kind, r.File = "file", &v
	case MountInfo:
		r.Kind, r.Mount = "mount", &v
	}
	return r
}

// result returns the recorded value or error, typed as the first attempt
// returned them.
func (r recordedResult) result() (any, error) {
	switch {
	case r.Errno != 0:
		return nil, &replayedError{msg: r.Err, errno: syscall.Errno(r.Errno)}
	case r.Kind == "file" && r.File != nil:
		return *r.File, nil
	case r.Kind == "mount" && r.Mount != nil:
		return *r.Mount, nil
	}
	return nil, nil
}

// replayedError is the recorded error of a request's first attempt.
type replayedError struct {
	msg   string
	errno syscall.Errno
}

// Error returns the first attempt's error text.
func (e *replayedError) Error() string { return e.msg }

// Unwrap returns the error class, for errors.Is.
func (e *replayedError) Unwrap() error { return e.errno }

// recordedRequest returns the recorded result of request id.
func (t *txn) recordedRequest(id RequestID) (recordedResult, bool) {
	var r recordedResult
	b := t.tx.Bucket(bucketRequests)
	if b == nil {
		return r, false
	}
	v := b.Get(id[:])
	if v == nil {
		return r, false
	}
	if err := json.Unmarshal(v, &r); err != nil {
		t.fail(fmt.Errorf("metastore: request %s: %w: %w", id, err, syscall.EIO))
		return r, false
	}
	return r, true
}

// recordRequest stores the result of request id and drops the oldest
// records beyond limit.
func (t *txn) recordRequest(id RequestID, r recordedResult, limit uint64) {
	v, err := json.Marshal(r)
	if err != nil {
		t.fail(err)
		return
	}
	reqs, order := t.tx.Bucket(bucketRequests), t.tx.Bucket(bucketRequestOrder)
	next, first := t.getU64(keyRequestNext), t.getU64(keyRequestFirst)
	t.fail(reqs.Put(id[:], v))
	t.fail(order.Put(u64(next), id[:]))
	next++
	for ; next-first > limit; first++ {
		if old := order.Get(u64(first)); old != nil {
			t.fail(reqs.Delete(old))
			t.fail(order.Delete(u64(first)))
		}
	}
	t.putU64(keyRequestNext, next)
	t.putU64(keyRequestFirst, first)
}

// recordedRequests returns the number of recorded requests.
func (t *txn) recordedRequests() uint64 {
	return t.getU64(keyRequestNext) - t.getU64(keyRequestFirst)
}

// replayed returns the recorded result of the request in ctx when an
// earlier attempt of it was applied. The caller has checked that it is
// the ready leader, so every committed attempt is applied here already.
func (m *Master) replayed(ctx context.Context) (*applyResult, bool) {
	id, ok := requestIDFrom(ctx)
	if !ok {
		return nil, false
	}
	var (
		r     recordedResult
		found bool
	)
	if err := m.fsm.view(func(t *txn) error { r, found = t.recordedRequest(id); return nil }); err != nil || !found {
		return nil, false
	}
	m.log.Debug("answering a retried request with its recorded result", "request", id.String())
	v, err := r.result()
	return &applyResult{value: v, err: err}, true
}

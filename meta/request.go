package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"go.etcd.io/bbolt"
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
// and travels in snapshots like the rest of the state. Records are kept
// in the order they were made, so that recording one touches the two
// ends of one bucket (a new record at the end, the oldest dropped at the
// start) and no page in between; an index in memory (requestIndex) finds
// a record by id.

// maxRecordedRequests bounds the table of recorded request results. It is
// part of the state machine's behaviour: every replica must use the same.
const maxRecordedRequests = 100_000

// Metastore buckets and keys of the request table.
var (
	// bucketRequestOrder is the table: sequence (u64 BE) -> the request
	// id (16 bytes) followed by its JSON recordedResult.
	bucketRequestOrder = []byte("requestOrder")
	// bucketRequests held id -> JSON recordedResult in metastores of
	// earlier builds, whose sequence bucket held the id alone. It stays,
	// empty, for masters of those builds (which write to it); what is in
	// it moves into the table when the metastore opens (moveRequests).
	bucketRequests = []byte("requests")

	keyRequestNext  = []byte("requestNext")  // sequence of the next recorded request
	keyRequestFirst = []byte("requestFirst") // sequence of the oldest kept request
)

// requestIndex finds a recorded request by id: id -> sequence in the
// table, built when the metastore opens and changed as each write
// transaction commits (store.update). A reader that finds a sequence
// checks the id stored there, so an index ahead of or behind its
// transaction's view only makes a record look absent, which the state
// machine handles (it checks again when it applies the request).
type requestIndex struct {
	mu  sync.RWMutex
	seq map[RequestID]uint64
}

func (x *requestIndex) get(id RequestID) (uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s, ok := x.seq[id]
	return s, ok
}

// commit applies what a committed transaction recorded and dropped.
func (x *requestIndex) commit(added map[RequestID]uint64, dropped []RequestID) {
	if len(added) == 0 && len(dropped) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range dropped {
		delete(x.seq, id)
	}
	for id, s := range added {
		x.seq[id] = s
	}
}

// loadRequestIndex moves the records of an earlier build's layout into
// the table (moveRequests), then reads the ids of the table.
func loadRequestIndex(db *bbolt.DB) (*requestIndex, error) {
	if err := db.Update(moveRequests); err != nil {
		return nil, fmt.Errorf("move the request records: %w", err)
	}
	x := &requestIndex{seq: map[RequestID]uint64{}}
	err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRequestOrder).ForEach(func(k, v []byte) error {
			if len(k) == 8 && len(v) > len(RequestID{}) {
				x.seq[RequestID(v[:len(RequestID{})])] = binary.BigEndian.Uint64(k)
			}
			return nil
		})
	})
	return x, err
}

// moveRequests rewrites records of the earlier layout (an id alone in the
// table, its result in bucketRequests) as records of this one, and
// empties bucketRequests. A table entry whose result is missing is
// dropped.
func moveRequests(tx *bbolt.Tx) error {
	reqs, order := tx.Bucket(bucketRequests), tx.Bucket(bucketRequestOrder)
	if k, _ := reqs.Cursor().First(); k == nil {
		return nil
	}
	type entry struct{ k, v []byte }
	var moved []entry
	err := order.ForEach(func(k, v []byte) error {
		if len(v) != len(RequestID{}) {
			return nil
		}
		var rec []byte
		if res := reqs.Get(v); res != nil {
			rec = append(append(make([]byte, 0, len(v)+len(res)), v...), res...)
		}
		moved = append(moved, entry{bytes.Clone(k), rec})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range moved {
		if e.v == nil {
			err = order.Delete(e.k)
		} else {
			err = order.Put(e.k, e.v)
		}
		if err != nil {
			return err
		}
	}
	if err := tx.DeleteBucket(bucketRequests); err != nil {
		return err
	}
	_, err = tx.CreateBucket(bucketRequests)
	return err
}

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
	seq, ok := t.reqAdded[id]
	if !ok && t.requests != nil {
		seq, ok = t.requests.get(id)
	}
	if !ok {
		return r, false
	}
	v := t.tx.Bucket(bucketRequestOrder).Get(u64(seq))
	if len(v) <= len(id) || !bytes.Equal(v[:len(id)], id[:]) {
		return r, false // dropped, or not in this transaction's view
	}
	if err := json.Unmarshal(v[len(id):], &r); err != nil {
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
	order := t.tx.Bucket(bucketRequestOrder)
	// Records only ever go at the end: full pages split there.
	order.FillPercent = 1
	next, first := t.getU64(keyRequestNext), t.getU64(keyRequestFirst)
	t.fail(order.Put(u64(next), append(append(make([]byte, 0, len(id)+len(v)), id[:]...), v...)))
	if t.reqAdded == nil {
		t.reqAdded = map[RequestID]uint64{}
	}
	t.reqAdded[id] = next
	next++
	for ; next-first > limit; first++ {
		if old := order.Get(u64(first)); old != nil {
			if len(old) >= len(id) {
				dropped := RequestID(old[:len(id)])
				t.reqDropped = append(t.reqDropped, dropped)
				delete(t.reqAdded, dropped)
			}
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

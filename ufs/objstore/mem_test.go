package objstore

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// mem is an in-memory object store with S3's semantics, for the tests:
// a Client with every optional interface, a request log and fault hooks.
type mem struct {
	mu      sync.Mutex
	objs    map[string]memObject
	uploads map[string]*memUpload
	seq     int
	reqs    []string // "OP key" of every request
	// fail, when set, may fail a request before it runs.
	fail func(op, key string) error
	// body, when set, may replace the body of a GetObject answer.
	body func(ctx context.Context, key string, r io.ReadCloser) io.ReadCloser
	// minPart, when set, is the least size of a part but the last, as
	// S3 refuses smaller ones at CompleteUpload (EntityTooSmall).
	minPart int
}

type memObject struct {
	data  []byte
	etag  string
	mtime time.Time
}

type memUpload struct {
	key   string
	parts map[int][]byte
}

func newMem() *mem {
	return &mem{objs: map[string]memObject{}, uploads: map[string]*memUpload{}}
}

var (
	_ Client       = (*mem)(nil)
	_ Multipart    = (*mem)(nil)
	_ Mover        = (*mem)(nil)
	_ BatchDeleter = (*mem)(nil)
	_ PartCopier   = (*mem)(nil)
)

// begin logs a request and runs the fault hook; it is called with mu
// held.
func (m *mem) begin(ctx context.Context, op, key string) error {
	m.reqs = append(m.reqs, op+" "+key)
	if err := ContextError(ctx); err != nil {
		return err
	}
	if m.fail != nil {
		return m.fail(op, key)
	}
	return nil
}

// setFail sets the fault hook (nil: none) while requests may be in flight.
func (m *mem) setFail(f func(op, key string) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = f
}

// requests returns the requests made so far and forgets them.
func (m *mem) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.reqs
	m.reqs = nil
	return r
}

// count returns how many requests of op were made (and forgets none).
func count(reqs []string, op string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasPrefix(r, op+" ") {
			n++
		}
	}
	return n
}

// put stores an object directly.
func (m *mem) put(key string, data []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.store(key, data)
}

// store stores an object; mu is held.
func (m *mem) store(key string, data []byte) string {
	m.seq++
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	m.objs[key] = memObject{data: slices.Clone(data), etag: etag, mtime: time.Unix(1700000000+int64(m.seq), 0)}
	return etag
}

// keys lists every key in order.
func (m *mem) keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ks []string
	for k := range m.objs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// pending reports how many multipart uploads are unfinished.
func (m *mem) pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.uploads)
}

func (m *mem) HeadObject(ctx context.Context, key string) (Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "HEAD", key); err != nil {
		return Object{}, err
	}
	o, ok := m.objs[key]
	if !ok {
		return Object{}, syscall.ENOENT
	}
	return Object{Key: key, Size: int64(len(o.data)), ModTime: o.mtime, ETag: o.etag}, nil
}

func (m *mem) GetObject(ctx context.Context, key string, off, n int64, ifMatch string) (io.ReadCloser, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "GET", key); err != nil {
		return nil, "", err
	}
	o, ok := m.objs[key]
	switch {
	case !ok:
		return nil, "", syscall.ENOENT
	case ifMatch != "" && ifMatch != o.etag:
		return nil, "", syscall.ESTALE
	case off >= int64(len(o.data)):
		return EmptyBody(), o.etag, nil
	}
	end := int64(len(o.data))
	if n > 0 {
		end = min(end, off+n)
	}
	var body io.ReadCloser = &ctxBody{ctx: ctx, data: o.data[off:end]}
	if m.body != nil {
		body = m.body(ctx, key, body)
	}
	return body, o.etag, nil
}

// ctxBody is a body that fails once its request's context ends, as an
// HTTP response body does.
type ctxBody struct {
	ctx  context.Context
	data []byte
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *ctxBody) Close() error { return nil }

func (m *mem) ListObjects(ctx context.Context, prefix, delimiter, token string, limit int) (Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "LIST", prefix); err != nil {
		return Page{}, err
	}
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pg Page
	n, last := 0, ""
	for _, k := range keys {
		if token != "" && (k <= token || (delimiter != "" && strings.HasSuffix(token, delimiter) && strings.HasPrefix(k, token))) {
			continue
		}
		if n == limit {
			pg.Next = last
			break
		}
		if delimiter != "" {
			if j := strings.Index(k[len(prefix):], delimiter); j >= 0 {
				cp := k[:len(prefix)+j+len(delimiter)]
				if cp != last {
					pg.Prefixes = append(pg.Prefixes, cp)
					last = cp
					n++
				}
				continue
			}
		}
		o := m.objs[k]
		pg.Objects = append(pg.Objects, Object{Key: k, Size: int64(len(o.data)), ModTime: o.mtime, ETag: o.etag})
		last = k
		n++
	}
	return pg, nil
}

func (m *mem) PutObject(ctx context.Context, key string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "PUT", key); err != nil {
		return "", err
	}
	return m.store(key, data), nil
}

func (m *mem) CopyObject(ctx context.Context, src, dst string, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "COPY", src); err != nil {
		return err
	}
	o, ok := m.objs[src]
	if !ok {
		return syscall.ENOENT
	}
	if int64(len(o.data)) != size {
		return fmt.Errorf("copy of %d bytes asked for an object of %d: %w", size, len(o.data), syscall.EIO)
	}
	m.store(dst, o.data)
	return nil
}

func (m *mem) DeleteObject(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "DELETE", key); err != nil {
		return err
	}
	delete(m.objs, key) // S3 answers success for a missing key
	return nil
}

func (m *mem) DeleteObjects(ctx context.Context, keys []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "DELETES", keys[0]); err != nil {
		return err
	}
	for _, k := range keys {
		delete(m.objs, k)
	}
	return nil
}

func (m *mem) MoveObject(ctx context.Context, src, dst string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "MOVE", src); err != nil {
		return err
	}
	o, ok := m.objs[src]
	if !ok {
		return syscall.ENOENT
	}
	delete(m.objs, src)
	m.objs[dst] = o
	return nil
}

func (m *mem) CreateUpload(ctx context.Context, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "CREATEUPLOAD", key); err != nil {
		return "", err
	}
	m.seq++
	id := fmt.Sprintf("upload-%d", m.seq)
	m.uploads[id] = &memUpload{key: key, parts: map[int][]byte{}}
	return id, nil
}

func (m *mem) UploadPart(ctx context.Context, key, id string, number int, data []byte) (Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "PART", key); err != nil {
		return Part{}, err
	}
	u := m.uploads[id]
	if u == nil || u.key != key {
		return Part{}, fmt.Errorf("no upload %s of %s: %w", id, key, syscall.ENOENT)
	}
	u.parts[number] = slices.Clone(data)
	sum := md5.Sum(data)
	return Part{Number: number, ETag: hex.EncodeToString(sum[:])}, nil
}

func (m *mem) CopyPart(ctx context.Context, key, id string, number int, src string, off, n int64, ifMatch string) (Part, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "COPYPART", key); err != nil {
		return Part{}, err
	}
	u := m.uploads[id]
	if u == nil || u.key != key {
		return Part{}, fmt.Errorf("no upload %s of %s: %w", id, key, syscall.ENOENT)
	}
	o, ok := m.objs[src]
	switch {
	case !ok:
		return Part{}, syscall.ENOENT
	case ifMatch != "" && o.etag != ifMatch:
		return Part{}, syscall.ESTALE
	case off < 0 || n <= 0 || off+n > int64(len(o.data)):
		return Part{}, fmt.Errorf("range %d+%d of %d bytes: %w", off, n, len(o.data), syscall.EINVAL)
	}
	u.parts[number] = slices.Clone(o.data[off : off+n])
	sum := md5.Sum(u.parts[number])
	return Part{Number: number, ETag: hex.EncodeToString(sum[:])}, nil
}

func (m *mem) CompleteUpload(ctx context.Context, key, id string, parts []Part) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "COMPLETE", key); err != nil {
		return "", err
	}
	u := m.uploads[id]
	if u == nil || u.key != key {
		return "", fmt.Errorf("no upload %s of %s: %w", id, key, syscall.ENOENT)
	}
	var data []byte
	for i, p := range parts {
		b, ok := u.parts[p.Number]
		sum := md5.Sum(b)
		if !ok || p.Number != i+1 || p.ETag != hex.EncodeToString(sum[:]) {
			return "", fmt.Errorf("bad part list at %d: %w", i, syscall.EINVAL)
		}
		if i < len(parts)-1 && len(b) < m.minPart {
			return "", fmt.Errorf("part %d of %d bytes is below %d: %w", p.Number, len(b), m.minPart, syscall.EINVAL)
		}
		data = append(data, b...)
	}
	delete(m.uploads, id)
	return m.store(key, data), nil
}

func (m *mem) AbortUpload(ctx context.Context, key, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.begin(ctx, "ABORT", key); err != nil {
		return err
	}
	delete(m.uploads, id)
	return nil
}

// basic is a Client without any optional interface: no multipart
// upload, no server-side move, no batch delete.
type basic struct{ Client }

// errInjected is the failure the tests inject.
var errInjected = errors.New("injected by the test")

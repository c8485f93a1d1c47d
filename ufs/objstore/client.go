package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Object describes one stored object.
type Object struct {
	// Key is the object's full key (HeadObject may leave it empty).
	Key string
	// Size is the length in bytes.
	Size int64
	// ModTime is the last modification time, zero when unknown.
	ModTime time.Time
	// ETag is the store's content identity, without quotes.
	ETag string
}

// Page is one answer of a listing.
type Page struct {
	// Objects are the keys of the page, in key order.
	Objects []Object
	// Prefixes are the common prefixes of the page, each ending in the
	// delimiter (none without a delimiter).
	Prefixes []string
	// Next continues the listing; "" on the last page.
	Next string
}

// Part is one uploaded part of a multipart upload.
type Part struct {
	// Number is the part's place in the object, from 1.
	Number int
	// ETag is what the store answered for the part.
	ETag string
	// Size is the part's length (set by the writer).
	Size int64
}

// Client is the handful of requests every object store answers, the
// primitives Store builds a file system from. Errors wrap a syscall.Errno
// (ENOENT for a missing key or bucket, EACCES for refused credentials,
// ...) with a message that says what to check, but no path: Store names
// the object. A Client never puts a credential in an error.
type Client interface {
	// HeadObject describes the object key.
	HeadObject(ctx context.Context, key string) (Object, error)
	// GetObject returns the bytes of key from off, n of them (n < 0: to
	// the end); an off at or past the end gives an empty body. ctx bounds
	// the body's life, not only the request's. The body comes with the
	// object's version as the store names it, which a later GetObject
	// takes as ifMatch: then it fails with ESTALE unless the object is
	// still that version. A store that cannot tell returns etag "".
	GetObject(ctx context.Context, key string, off, n int64, ifMatch string) (body io.ReadCloser, etag string, err error)
	// ListObjects returns one page of at most limit keys and common
	// prefixes under prefix, grouped by delimiter ("" for none), from
	// token ("" for the first page).
	ListObjects(ctx context.Context, prefix, delimiter, token string, limit int) (Page, error)
	// PutObject stores data as key in one request, replacing what is
	// there, and returns the new object's ETag.
	PutObject(ctx context.Context, key string, data []byte) (etag string, err error)
	// CopyObject copies the object src of size bytes to dst on the
	// server, replacing what is at dst.
	CopyObject(ctx context.Context, src, dst string, size int64) error
	// DeleteObject removes key.
	DeleteObject(ctx context.Context, key string) error
}

// Multipart is implemented by stores that upload an object in parts.
// Without it, Store sends every file in one PutObject at Close.
type Multipart interface {
	// CreateUpload starts a multipart upload of key and returns its id.
	CreateUpload(ctx context.Context, key string) (uploadID string, err error)
	// UploadPart uploads data as part number of the upload.
	UploadPart(ctx context.Context, key, uploadID string, number int, data []byte) (Part, error)
	// CompleteUpload makes the object of the parts visible and returns
	// its ETag.
	CompleteUpload(ctx context.Context, key, uploadID string, parts []Part) (etag string, err error)
	// AbortUpload discards the upload and its parts; an upload that is
	// already gone is not an error.
	AbortUpload(ctx context.Context, key, uploadID string) error
}

// Mover is implemented by stores that move an object on the server in
// one request. Without it, Store copies and then deletes.
type Mover interface {
	// MoveObject moves src to dst, replacing what is at dst.
	MoveObject(ctx context.Context, src, dst string) error
}

// PartCopier is implemented by stores whose multipart uploads can take a
// part from a range of a stored object on the server (S3's
// UploadPartCopy), so that a rewrite of part of a big file uploads only
// the parts that changed.
type PartCopier interface {
	// CopyPart makes part number of the upload the bytes [off, off+n) of
	// the object src, provided src is still the version whose ETag is
	// ifMatch: otherwise it fails with ESTALE.
	CopyPart(ctx context.Context, key, uploadID string, number int, src string, off, n int64, ifMatch string) (Part, error)
}

// BatchDeleter is implemented by stores that delete many objects in one
// request. Without it, Store deletes them one by one.
type BatchDeleter interface {
	// DeleteObjects removes keys, at most Config.ListPage of them.
	DeleteObjects(ctx context.Context, keys []string) error
}

// KeyError is an error of a request about another key than the one it
// was asked for (the destination of a copy, one key of a batch): Store
// names that key in the error it returns.
type KeyError struct {
	// Key is the full key the error is about.
	Key string
	// Err is what went wrong with it.
	Err error
}

// Error names the key and says what went wrong with it.
func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

// Unwrap returns the error about the key.
func (e *KeyError) Unwrap() error { return e.Err }

// ContextError returns nil while ctx is live, and afterwards its error
// together with the errno the FUSE layer should report (EINTR, or
// ETIMEDOUT for a deadline).
func ContextError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	errno := syscall.EINTR
	if errors.Is(err, context.DeadlineExceeded) {
		errno = syscall.ETIMEDOUT
	}
	return fmt.Errorf("%w (%w)", err, errno)
}

// HTTPRange is the value of the HTTP Range header that asks for n bytes
// from off (n < 0: to the end), "" for the whole object.
func HTTPRange(off, n int64) string {
	switch {
	case n > 0:
		return "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)
	case off > 0:
		return "bytes=" + strconv.FormatInt(off, 10) + "-"
	}
	return ""
}

// WholeBody turns body, the whole object from a server that answered a
// ranged GET for n bytes from off (n <= 0: to the end) with all of it (200,
// as a server that ignores Range may), into the range asked for: the
// first off bytes are skipped, and at most n are read. An object that
// ends before off gives an empty body.
func WholeBody(body io.ReadCloser, off, n int64) (io.ReadCloser, error) {
	if off > 0 {
		if _, err := io.CopyN(io.Discard, body, off); err != nil {
			body.Close()
			if errors.Is(err, io.EOF) {
				return EmptyBody(), nil
			}
			return nil, err
		}
	}
	if n > 0 {
		return struct {
			io.Reader
			io.Closer
		}{io.LimitReader(body, n), body}, nil
	}
	return body, nil
}

// emptyBody is the body of a range at or past the end.
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// EmptyBody returns a body with no bytes, for GetObject of a range at or
// past the end.
func EmptyBody() io.ReadCloser { return emptyBody{} }

// contentRange parses the byte span of a Content-Range header,
// "bytes first-last/size".
func parseContentRange(h string) (first, last int64, ok bool) {
	span, _, ok := strings.Cut(strings.TrimPrefix(h, "bytes "), "/")
	a, b, ok2 := strings.Cut(span, "-")
	if !ok || !ok2 || !strings.HasPrefix(h, "bytes ") {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// LengthChecked returns body, an answer without a Content-Length to a
// GET whose first byte is at offset start of the object, made to fail
// with io.ErrUnexpectedEOF, which the reader resumes after, when it ends
// before its last byte: the one its Content-Range header names, if it has
// one, else the object's last, which size gives once the body has ended.
// Go's HTTP client checks a Content-Length itself, but an answer without
// one (from a proxy speaking HTTP/1.0, say) that is cut cleanly ends like
// a whole one.
func LengthChecked(body io.ReadCloser, start int64, contentRange string, size func() (int64, error)) io.ReadCloser {
	b := &lengthChecked{ReadCloser: body, start: start, want: -1, size: size}
	if first, last, ok := parseContentRange(contentRange); ok {
		b.start, b.want = first, last-first+1
	}
	return b
}

// lengthChecked is an answer's body whose end is checked against its
// length: want bytes, or, when want < 0, up to the object's size.
type lengthChecked struct {
	io.ReadCloser
	start int64 // the object offset of the body's first byte
	read  int64
	want  int64
	size  func() (int64, error)
}

func (b *lengthChecked) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	if err != io.EOF {
		return n, err
	}
	if b.want >= 0 {
		if b.read < b.want {
			return n, fmt.Errorf("answer ended after %d of its %d bytes: %w", b.read, b.want, io.ErrUnexpectedEOF)
		}
		return n, io.EOF
	}
	size, serr := b.size()
	switch {
	case serr != nil:
		return n, fmt.Errorf("answer without a length ended at offset %d, and the object's size is unknown: %w", b.start+b.read, serr)
	case b.start+b.read < size:
		return n, fmt.Errorf("answer ended at offset %d of a %d-byte object: %w", b.start+b.read, size, io.ErrUnexpectedEOF)
	}
	return n, io.EOF
}

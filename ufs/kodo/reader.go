package kodo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/storage"
)

// urlLifetime is how long a signed download URL stays valid.
const urlLifetime = time.Hour

// OpenRange returns a reader of n bytes of the file p from off (n < 0: to
// the end) through one ranged GET of a signed private download URL on the
// download host. An off at or past the end gives an empty reader. The
// request is retried like any other until an answer starts; a connection
// that breaks while the body is read fails the read (EIO).
func (s *Store) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	const op = "open"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, s.pathErr(op, "", syscall.EISDIR)
	}
	key := s.key(c)
	if off < 0 {
		return nil, s.pathErr(op, key, fmt.Errorf("negative offset %d: %w", off, syscall.EINVAL))
	}
	if n == 0 {
		fi, err := s.stat(ctx, op, c)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, s.pathErr(op, key, syscall.EISDIR)
		}
		return io.NopCloser(eofReader{}), nil
	}
	var body io.ReadCloser
	err = s.retry(ctx, "download", func(actx context.Context) error {
		b, err := s.get(ctx, key, off, n)
		body = b
		return err
	})
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			if fi, serr := s.stat(ctx, op, c); serr == nil && fi.IsDir() {
				return nil, s.pathErr(op, key, syscall.EISDIR)
			}
		}
		return nil, s.pathErr(op, key, err)
	}
	return &objectReader{s: s, key: key, body: body}, nil
}

// get sends one ranged GET and returns the body of a 200 or 206 answer,
// an empty body for 416 (off at or past the end), else an *httpError.
// The caller's context (not one attempt's) bounds the body's life.
func (s *Store) get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	deadline := time.Now().Add(urlLifetime).Unix()
	u := storage.MakePrivateURLv2(s.mac, s.cfg.downloadHost, key, deadline)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("bad download URL for %s: %w", s.cfg.downloadHost, syscall.EINVAL)
	}
	switch {
	case n > 0:
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10))
	case off > 0:
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
		if resp.StatusCode == http.StatusOK && off > 0 {
			// A server that ignores Range: skip to off.
			if _, err := io.CopyN(io.Discard, resp.Body, off); err != nil {
				resp.Body.Close()
				if errors.Is(err, io.EOF) {
					return io.NopCloser(eofReader{}), nil
				}
				return nil, err
			}
			if n > 0 {
				return struct {
					io.Reader
					io.Closer
				}{io.LimitReader(resp.Body, n), resp.Body}, nil
			}
		}
		return resp.Body, nil
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return io.NopCloser(eofReader{}), nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return nil, &httpError{code: resp.StatusCode, msg: string(msg)}
}

// eofReader is an empty reader.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// objectReader reads the body of a download, turning its failures into
// the project's errors.
type objectReader struct {
	s      *Store
	key    string
	body   io.ReadCloser
	closed bool
}

// Read reads from the download.
func (r *objectReader) Read(p []byte) (int, error) {
	if r.closed {
		return 0, r.s.pathErr("read", r.key, syscall.EBADF)
	}
	n, err := r.body.Read(p)
	if err != nil && err != io.EOF {
		return n, r.s.pathErr("read", r.key, fmt.Errorf("%s: %w", r.s.scrub(err.Error()), syscall.EIO))
	}
	return n, err
}

// Close ends the download.
func (r *objectReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.body.Close()
}

package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// OpenRange returns a reader of n bytes of the file p from off (n < 0: to
// the end) through one ranged GetObject. An off at or past the end gives an
// empty reader. When the connection breaks or stalls for longer than the
// request timeout, the reader asks again for the rest, on condition that
// the object is still the one it started reading (If-Match on the ETag),
// up to max.error.retry times.
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
	r := &objectReader{s: s, ctx: ctx, key: key, off: off, left: n}
	if err := r.open(); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			if fi, serr := s.stat(ctx, op, c); serr == nil && fi.IsDir() {
				return nil, s.pathErr(op, key, syscall.EISDIR)
			}
		}
		return nil, err
	}
	return r, nil
}

// eofReader is an empty reader.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// objectReader reads a range of an object, resuming after broken or
// stalled connections. Like any io.Reader it is for one goroutine.
type objectReader struct {
	s    *Store
	ctx  context.Context
	key  string
	etag string // of the first answer; later requests must match it

	off  int64 // next byte to read
	left int64 // bytes still wanted; < 0 for all
	eof  bool

	body    io.ReadCloser // nil between requests
	cancel  context.CancelFunc
	stall   *time.Timer // cancels the request when a read stalls
	resumes int
	closed  bool
}

// open requests the rest of the range.
func (r *objectReader) open() error {
	s := r.s
	in := &s3.GetObjectInput{Bucket: &s.cfg.bucket, Key: &r.key}
	switch {
	case r.left > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(r.off, 10) + "-" + strconv.FormatInt(r.off+r.left-1, 10))
	case r.off > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(r.off, 10) + "-")
	}
	if r.etag != "" {
		in.IfMatch = aws.String(r.etag)
	}
	ctx, cancel := context.WithCancel(r.ctx)
	out, err := s.client.GetObject(ctx, in, s.streaming)
	if err != nil {
		cancel()
		if isInvalidRange(err) { // off is at or past the end
			r.eof = true
			return nil
		}
		if ei := inspect(err); ei.status == 412 || ei.code == "PreconditionFailed" {
			return s.pathErr("read", r.key, fmt.Errorf("the object changed while it was read: %w", syscall.ESTALE))
		}
		return s.pathErr("open", r.key, s.classify(r.ctx, err))
	}
	if r.etag == "" {
		r.etag = aws.ToString(out.ETag)
	}
	r.body, r.cancel = out.Body, cancel
	if s.cfg.timeout > 0 {
		r.stall = time.AfterFunc(s.cfg.timeout, cancel)
		r.stall.Stop()
	}
	return nil
}

// Read reads from the current answer, and asks again for the rest when the
// answer breaks off.
func (r *objectReader) Read(p []byte) (int, error) {
	for {
		switch {
		case r.closed:
			return 0, r.s.pathErr("read", r.key, syscall.EBADF)
		case r.eof || r.left == 0:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				return 0, err
			}
			continue
		}
		if r.left > 0 && int64(len(p)) > r.left {
			p = p[:r.left]
		}
		if r.stall != nil {
			r.stall.Reset(r.s.cfg.timeout)
		}
		n, err := r.body.Read(p)
		stalled := r.stall != nil && !r.stall.Stop()
		r.off += int64(n)
		if r.left > 0 {
			r.left -= int64(n)
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF: // net/http checks the length: this is the end
			r.eof = true
			r.dropBody()
			return n, io.EOF
		}
		r.dropBody()
		if cerr := ctxErr(r.ctx); cerr != nil {
			return n, r.s.pathErr("read", r.key, cerr)
		}
		if r.resumes >= r.s.cfg.maxRetry {
			what := err.Error()
			if stalled {
				what = fmt.Sprintf("no data for %v (%s)", r.s.cfg.timeout, keyTimeout)
			}
			return n, r.s.pathErr("read", r.key, fmt.Errorf("at offset %d after %d resumes: %s: %w",
				r.off, r.resumes, what, syscall.EIO))
		}
		r.resumes++
		slog.Debug("resuming an interrupted object read", "component", "ufs/s3",
			"object", r.s.uri(r.key), "offset", r.off, "stalled", stalled, "err", err.Error())
		if n > 0 {
			return n, nil
		}
	}
}

// dropBody ends the current answer.
func (r *objectReader) dropBody() {
	if r.body == nil {
		return
	}
	if r.stall != nil {
		r.stall.Stop()
	}
	r.cancel()
	r.body.Close()
	r.body, r.cancel, r.stall = nil, nil, nil
}

// Close ends the read.
func (r *objectReader) Close() error {
	r.dropBody()
	r.closed = true
	return nil
}

package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// OpenRange returns a reader of n bytes of the file p from off (n < 0: to
// the end) through one ranged GetObject. An off at or past the end gives an
// empty reader. When the body breaks, or stalls for longer than
// Config.ReadStall, the reader asks again for the rest, on condition that
// the object is still the one it started reading, up to
// Config.ReadResumes times.
func (s *Store) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return s.openRange(ctx, p, off, n, "")
}

// multipartETag matches the ETag S3 gives an object uploaded in parts: the
// hex MD5 of its parts' MD5s, a dash and their count, quoted or not.
var multipartETag = regexp.MustCompile(`^"?[0-9a-fA-F]{32}-[0-9]+"?$`)

// MoveKeeps reports whether an object with fingerprint keeps it when
// renamed (ufs.MoveKeeper). A rename copies the object: the copy of one
// uploaded in parts gets the MD5 of its bytes as its ETag, where one
// uploaded whole has the same MD5 as before.
func (s *Store) MoveKeeps(fingerprint string) bool {
	etag, ok := strings.CutPrefix(fingerprint, "etag:")
	return !ok || !multipartETag.MatchString(etag)
}

// OpenRangeVersion is OpenRange of the version of p whose fingerprint (a
// ufs.FileInfo.Fingerprint from a Stat, a List or a write) is given: the
// request is conditional on the object's ETag, so a name that holds
// another object by now fails with ESTALE instead of returning other
// bytes. A fingerprint that is not an ETag is not checked.
func (s *Store) OpenRangeVersion(ctx context.Context, p string, off, n int64, fingerprint string) (io.ReadCloser, error) {
	return s.openRange(ctx, p, off, n, etagOf(fingerprint))
}

// etagOf returns the ETag a fingerprint names (ufs.FileInfo.Fingerprint),
// "" when it names none.
func etagOf(fingerprint string) string {
	etag, _ := strings.CutPrefix(fingerprint, "etag:")
	if etag == fingerprint {
		return ""
	}
	return etag
}

// openRange is OpenRange, on condition that the object's ETag is etag
// when that is set.
func (s *Store) openRange(ctx context.Context, p string, off, n int64, etag string) (io.ReadCloser, error) {
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
		return EmptyBody(), nil
	}
	r := &reader{s: s, ctx: ctx, key: key, off: off, left: n, etag: etag}
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

// reader reads a range of an object, resuming after broken or stalled
// bodies. Like any io.Reader it is for one goroutine.
type reader struct {
	s    *Store
	ctx  context.Context
	key  string
	etag string // asked for, or of the first answer; later requests must match it

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
func (r *reader) open() error {
	s := r.s
	ctx, cancel := context.WithCancel(r.ctx)
	body, etag, err := s.client.GetObject(ctx, r.key, r.off, r.left, r.etag)
	if err != nil {
		cancel()
		if errors.Is(err, syscall.ESTALE) {
			return s.pathErr("read", r.key, fmt.Errorf("the object changed while it was read: %w", err))
		}
		return s.pathErr("open", r.key, err)
	}
	if r.etag == "" {
		r.etag = etag
	}
	r.body, r.cancel = body, cancel
	if s.cfg.ReadStall > 0 {
		r.stall = time.AfterFunc(s.cfg.ReadStall, cancel)
		r.stall.Stop()
	}
	return nil
}

// Read reads from the current answer, and asks again for the rest when the
// answer breaks off.
func (r *reader) Read(p []byte) (int, error) {
	s := r.s
	for {
		switch {
		case r.closed:
			return 0, s.pathErr("read", r.key, syscall.EBADF)
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
			r.stall.Reset(s.cfg.ReadStall)
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
		case err == io.EOF: // the body is checked against its length: this is the end
			r.eof = true
			r.dropBody()
			return n, io.EOF
		}
		r.dropBody()
		if cerr := ContextError(r.ctx); cerr != nil {
			return n, s.pathErr("read", r.key, cerr)
		}
		if r.resumes >= s.cfg.ReadResumes {
			what := s.cfg.Scrub(err.Error())
			if stalled {
				what = fmt.Sprintf("no data for %v (%s)", s.cfg.ReadStall, s.cfg.ReadStallKey)
			}
			return n, s.pathErr("read", r.key, fmt.Errorf("at offset %d after %d resumes: %s: %w",
				r.off, r.resumes, what, syscall.EIO))
		}
		r.resumes++
		slog.Debug("resuming an interrupted object read", "component", s.cfg.Component,
			"object", s.uri(r.key), "offset", r.off, "stalled", stalled, "err", s.cfg.Scrub(err.Error()))
		if n > 0 {
			return n, nil
		}
	}
}

// dropBody ends the current answer.
func (r *reader) dropBody() {
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
func (r *reader) Close() error {
	r.dropBody()
	r.closed = true
	return nil
}

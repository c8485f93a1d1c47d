package s3

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alluxio-go/alluxio/ufs"
)

// partGrowth is how many parts are uploaded at one part size before the
// size doubles, keeping a stream of unknown length under maxParts.
const partGrowth = 1000

// abortTimeout bounds the clean-up of a failed upload, which runs after
// the caller's context may have ended.
const abortTimeout = time.Minute

// Create starts writing the file p. Nothing is visible until Close. The
// parent is not checked, nor that p is not a directory: an object store has
// neither constraint, and the master has checked both. opts.Mode is not
// kept; opts.SizeHint, when known, picks a part size that fits the file in
// 10000 parts.
func (s *Store) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	const op = "create"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, s.pathErr(op, "", syscall.EISDIR)
	}
	partSize := s.cfg.partSize
	if opts.SizeHint > 0 {
		const mb = 1 << 20
		need := (opts.SizeHint + maxParts - 1) / maxParts
		need = (need + mb - 1) / mb * mb
		partSize = min(max(partSize, need), maxPartSize)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &writer{s: s, key: s.key(c), name: path.Base(c), ctx: wctx, cancel: cancel, partSize: partSize}, nil
}

// writer is the ufs.Writer of Create: one buffered part, then a multipart
// upload once a part is full.
type writer struct {
	s      *Store
	key    string // guarded by mu once Retarget may run
	name   string
	ctx    context.Context // for parts uploaded from Write
	cancel context.CancelFunc

	mu       sync.Mutex // guards everything below
	buf      []byte
	partSize int64
	upload   *string // multipart upload id, nil before the first part
	parts    []types.CompletedPart
	size     int64
	err      error // the first failure; the upload is then aborted
	done     bool  // Close or Abort has run
}

// Write buffers b, uploading each part as it fills.
func (w *writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, w.s.pathErr("write", w.key, syscall.EBADF)
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(b) > 0 {
		take := min(int(w.partSize)-len(w.buf), len(b))
		if cap(w.buf)-len(w.buf) < take {
			// Grow by doubling up to one part, never beyond it.
			nc := min(int(w.partSize), max(2*cap(w.buf), len(w.buf)+take, 64<<10))
			nb := make([]byte, len(w.buf), nc)
			copy(nb, w.buf)
			w.buf = nb
		}
		w.buf = append(w.buf, b[:take]...)
		b = b[take:]
		written += take
		w.size += int64(take)
		if len(w.buf) == int(w.partSize) {
			if err := w.flushPart(w.ctx); err != nil {
				return written, w.fail(err)
			}
		}
	}
	return written, nil
}

// flushPart uploads the buffer as the next part, starting the multipart
// upload first if needed.
func (w *writer) flushPart(ctx context.Context) error {
	s := w.s
	if w.upload == nil {
		id, err := s.startUpload(ctx, w.key)
		if err != nil {
			return s.pathErr("write", w.key, err)
		}
		w.upload = id
	}
	n := int32(len(w.parts) + 1)
	if n > maxParts {
		return s.pathErr("write", w.key, fmt.Errorf("more than %d parts: %w", maxParts, syscall.EFBIG))
	}
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.cfg.bucket, Key: &w.key, UploadId: w.upload, PartNumber: aws.Int32(n),
		Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return s.pathErr("write", w.key, fmt.Errorf("part %d: %w", n, s.classify(ctx, err)))
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
	w.buf = w.buf[:0]
	if n%partGrowth == 0 && 2*w.partSize <= maxPartSize {
		w.partSize *= 2
	}
	return nil
}

// fail records the first failure and aborts the multipart upload.
func (w *writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	w.buf = nil
	if w.upload != nil {
		w.s.abortUpload(w.ctx, w.key, w.upload)
		w.upload = nil
	}
	return w.err
}

// Close uploads what is buffered (PutObject when no part was uploaded yet,
// else the last part and CompleteMultipartUpload) and describes the new
// object. On failure nothing is left behind and the old file, if any, is
// intact.
func (w *writer) Close(ctx context.Context) (ufs.FileInfo, error) {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.s
	if w.done {
		return ufs.FileInfo{}, s.pathErr(op, w.key, syscall.EBADF)
	}
	w.done = true
	defer w.cancel()
	if w.err != nil {
		return ufs.FileInfo{}, w.err
	}
	if err := ctxErr(ctx); err != nil {
		return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
	}
	var etag *string
	if w.upload == nil {
		in := &s3.PutObjectInput{
			Bucket: &s.cfg.bucket, Key: &w.key,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
		}
		if s.cfg.sse {
			in.ServerSideEncryption = types.ServerSideEncryptionAes256
		}
		out, err := s.client.PutObject(ctx, in)
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, s.classify(ctx, err)))
		}
		etag = out.ETag
	} else {
		if len(w.buf) > 0 {
			if err := w.flushPart(ctx); err != nil {
				return ufs.FileInfo{}, w.fail(err)
			}
		}
		out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &s.cfg.bucket, Key: &w.key, UploadId: w.upload,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts},
		})
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, s.classify(ctx, err)))
		}
		etag = out.ETag
		w.upload = nil
	}
	w.buf = nil
	h, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.bucket, Key: &w.key})
	if err != nil {
		// The object is written; describe it from what is known.
		slog.Warn("cannot describe a newly written object", "component", "ufs/s3",
			"object", s.uri(w.key), "err", s.classify(ctx, err).Error())
		now := time.Now()
		return s.fileInfo(w.name, w.size, &now, etag), nil
	}
	return s.fileInfo(w.name, aws.ToInt64(h.ContentLength), h.LastModified, h.ETag), nil
}

// Retarget makes Close land the file at p instead (ufs.Retargeter), as
// long as no part has been uploaded yet: parts of a multipart upload belong
// to its key, and completing it at the old key would touch whatever is
// there now. Past the first part it fails with EXDEV.
func (w *writer) Retarget(ctx context.Context, p string) error {
	const op = "retarget"
	c, err := w.s.begin(ctx, op, p)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.done:
		return w.s.pathErr(op, w.key, syscall.EBADF)
	case c == "":
		return w.s.pathErr(op, "", syscall.EISDIR)
	case w.upload != nil || len(w.parts) > 0:
		return w.s.pathErr(op, w.key, fmt.Errorf("cannot move to %s: %d bytes already uploaded under this key: %w",
			w.s.uri(w.s.key(c)), w.size-int64(len(w.buf)), syscall.EXDEV))
	}
	w.key, w.name = w.s.key(c), path.Base(c)
	return nil
}

// Abort discards the file: the multipart upload, if one started, is
// aborted so that its parts are freed. The target is left as it was.
func (w *writer) Abort() error {
	w.cancel() // stops a part upload in progress in Write
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	if w.upload != nil {
		err := w.s.abortUpload(w.ctx, w.key, w.upload)
		w.upload = nil
		return err
	}
	return nil
}

// startUpload starts a multipart upload of key and returns its id.
func (s *Store) startUpload(ctx context.Context, key string) (*string, error) {
	in := &s3.CreateMultipartUploadInput{Bucket: &s.cfg.bucket, Key: &key}
	if s.cfg.sse {
		in.ServerSideEncryption = types.ServerSideEncryptionAes256
	}
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return nil, s.classify(ctx, err)
	}
	return out.UploadId, nil
}

// abortUpload aborts a multipart upload, even when ctx has ended. A
// failure is logged (the parts stay until a lifecycle rule removes them)
// and returned.
func (s *Store) abortUpload(ctx context.Context, key string, id *string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
		Bucket: &s.cfg.bucket, Key: &key, UploadId: id,
	})
	if err == nil || inspect(err).code == codeNoSuchUpload {
		return nil
	}
	err = s.pathErr("abort", key, s.classify(actx, err))
	slog.Warn("cannot abort a multipart upload; its parts stay until a lifecycle rule removes them",
		"component", "ufs/s3", "object", s.uri(key), "err", err.Error())
	return err
}

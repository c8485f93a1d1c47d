package kodo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sync"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/storage"

	"github.com/alluxio-go/alluxio/ufs"
)

const (
	// partSize is the size of a multipart upload's parts, and the size
	// up to which a file is sent in one form upload.
	partSize = 4 << 20
	// maxPartSize is Kodo's largest part (v2 multipart upload).
	maxPartSize = 1 << 30
	// maxParts is Kodo's limit on the parts of a multipart upload.
	maxParts = 10000
	// partGrowth is how many parts are uploaded at one part size before
	// the size doubles, keeping a stream of unknown length under maxParts.
	partGrowth = 1000
	// abortTimeout bounds the clean-up of a failed upload, which runs
	// after the caller's context may have ended.
	abortTimeout = time.Minute
)

// Create starts writing the file p. Nothing is visible until Close. The
// parent is not checked, nor that p is not a directory: an object store
// has neither constraint, and the master has checked both. opts.Mode is
// not kept; opts.SizeHint, when known, picks a part size that fits the
// file in 10000 parts.
func (s *Store) Create(ctx context.Context, p string, opts ufs.CreateOptions) (ufs.Writer, error) {
	const op = "create"
	c, err := s.begin(ctx, op, p)
	if err != nil {
		return nil, err
	}
	if c == "" {
		return nil, s.pathErr(op, "", syscall.EISDIR)
	}
	size := int64(partSize)
	if opts.SizeHint > 0 {
		const mb = 1 << 20
		need := (opts.SizeHint + maxParts - 1) / maxParts
		need = (need + mb - 1) / mb * mb
		size = min(max(size, need), maxPartSize)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &writer{s: s, key: s.key(c), name: path.Base(c), ctx: wctx, cancel: cancel, partSize: size}, nil
}

// writer is the ufs.Writer of Create: one buffered part, then a v2
// multipart upload once a part is full.
type writer struct {
	s      *Store
	name   string
	ctx    context.Context // for parts uploaded from Write
	cancel context.CancelFunc

	mu       sync.Mutex // guards everything below
	key      string
	token    string // upload token of key, once an upload started
	buf      []byte
	partSize int64
	upload   string // multipart upload id, "" before the first part
	parts    []storage.UploadPartInfo
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
	if w.upload == "" {
		w.token = s.upToken(w.key)
		var ret storage.InitPartsRet
		err := s.retry(ctx, "initiate multipart upload", func(ctx context.Context) error {
			return s.resumable.InitParts(ctx, w.token, s.cfg.upHost, s.cfg.bucket, w.key, true, &ret)
		})
		if err != nil {
			return s.pathErr("write", w.key, err)
		}
		w.upload = ret.UploadID
	}
	n := int64(len(w.parts) + 1)
	if n > maxParts {
		return s.pathErr("write", w.key, fmt.Errorf("more than %d parts: %w", maxParts, syscall.EFBIG))
	}
	sum := md5.Sum(w.buf)
	var ret storage.UploadPartsRet
	err := s.retry(ctx, "upload part", func(ctx context.Context) error {
		return s.resumable.UploadParts(ctx, w.token, s.cfg.upHost, s.cfg.bucket, w.key, true, w.upload,
			n, hex.EncodeToString(sum[:]), &ret, bytes.NewReader(w.buf), len(w.buf))
	})
	if err != nil {
		return s.pathErr("write", w.key, fmt.Errorf("part %d: %w", n, err))
	}
	w.parts = append(w.parts, storage.UploadPartInfo{Etag: ret.Etag, PartNumber: n})
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
	if w.upload != "" {
		w.s.abortUpload(w.ctx, w.key, w.token, w.upload)
		w.upload = ""
	}
	return w.err
}

// Close uploads what is buffered (one form upload when no part was
// uploaded yet, else the last part and the completion of the multipart
// upload) and describes the new object. On failure nothing is left behind
// and the old file, if any, is intact.
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
	var hash string
	if w.upload == "" {
		h, err := s.formPut(ctx, w.key, w.buf)
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
		}
		hash = h
	} else {
		if len(w.buf) > 0 {
			if err := w.flushPart(ctx); err != nil {
				return ufs.FileInfo{}, w.fail(err)
			}
		}
		var ret storage.PutRet
		err := s.retry(ctx, "complete multipart upload", func(ctx context.Context) error {
			return s.resumable.CompleteParts(ctx, w.token, s.cfg.upHost, &ret, s.cfg.bucket, w.key, true, w.upload,
				&storage.RputV2Extra{Progresses: w.parts})
		})
		if err != nil {
			return ufs.FileInfo{}, w.fail(s.pathErr(op, w.key, err))
		}
		hash = ret.Hash
		w.upload = ""
	}
	w.buf = nil
	info, err := s.statKey(ctx, w.key)
	if err != nil {
		// The object is written; describe it from what is known.
		slog.Warn("cannot describe a newly written object", "component", "ufs/kodo",
			"object", s.uri(w.key), "err", err.Error())
		return s.fileInfo(w.name, w.size, time.Now().UnixNano()/100, hash), nil
	}
	return s.fileInfo(w.name, info.Fsize, info.PutTime, info.Hash), nil
}

// Retarget makes Close land the file at p instead (ufs.Retargeter), as
// long as no part has been uploaded yet: a multipart upload belongs to its
// key. Past the first part it fails with EXDEV.
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
	case w.upload != "" || len(w.parts) > 0:
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
	if w.upload != "" {
		err := w.s.abortUpload(w.ctx, w.key, w.token, w.upload)
		w.upload = ""
		return err
	}
	return nil
}

// abortUpload aborts a multipart upload (DELETE
// /buckets/<bucket>/objects/<key>/uploads/<id>, which the SDK does not
// wrap), even when ctx has ended. A failure is logged (Kodo drops
// unfinished uploads after their expiry) and returned.
func (s *Store) abortUpload(ctx context.Context, key, token, id string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	u := s.cfg.upHost + "/buckets/" + s.cfg.bucket + "/objects/" +
		base64.URLEncoding.EncodeToString([]byte(key)) + "/uploads/" + id
	err := s.retry(actx, "abort multipart upload", func(ctx context.Context) error {
		h := http.Header{}
		h.Set("Authorization", "UpToken "+token)
		return s.client.CallWith(ctx, nil, http.MethodDelete, u, h, nil, 0)
	})
	if err == nil {
		return nil
	}
	err = s.pathErr("abort", key, err)
	slog.Warn("cannot abort a multipart upload; Kodo drops it when it expires",
		"component", "ufs/kodo", "object", s.uri(key), "err", err.Error())
	return err
}

package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
)

// maxResumes bounds how often one reader reopens its file after a read
// failed on every datanode of a block.
const maxResumes = 3

// OpenRange returns a reader of n bytes of the file from off (n < 0: to
// the end); past the end it reads nothing. The namenode gives the block
// locations; the bytes come from the datanodes, with every checksum
// chunk verified and a failed datanode left for the next replica.
func (s *Store) OpenRange(ctx context.Context, p string, off, n int64) (io.ReadCloser, error) {
	return s.openRange(ctx, p, off, n, "")
}

// OpenRangeVersion is OpenRange of the file at p only while it is the
// version with the given fingerprint (ufs.FileInfo.Fingerprint); another
// file there (one renamed into its name, or rewritten) fails with ESTALE,
// so that a reader of a version never gets another's bytes.
func (s *Store) OpenRangeVersion(ctx context.Context, p string, off, n int64, fingerprint string) (io.ReadCloser, error) {
	identity, ok := strings.CutPrefix(fingerprint, "etag:")
	if !ok {
		identity = "" // not one of this store's: nothing to check against
	}
	return s.openRange(ctx, p, off, n, identity)
}

// openRange is OpenRange of the file whose identity (ETag) is identity,
// when that is not empty.
func (s *Store) openRange(ctx context.Context, p string, off, n int64, identity string) (io.ReadCloser, error) {
	const op = "open"
	c, err := s.begin(ctx, op, p, lookup)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, s.pathErr(op, c, fmt.Errorf("negative offset %d: %w", off, syscall.EINVAL))
	}
	r := &reader{s: s, c: c, ctx: ctx, pos: off, identity: identity}
	if err := r.reopen(op); err != nil {
		return nil, err
	}
	r.end = r.size
	if n >= 0 && off+n < r.size {
		r.end = off + n
	}
	return r, nil
}

// reader reads a range of a file through colinmarc/hdfs.
type reader struct {
	s   *Store
	c   string // store-relative path
	ctx context.Context

	fr       *hdfs.FileReader
	piece    int   // bytes asked of colinmarc/hdfs at a time
	size     int64 // the file's length when opened
	identity string
	pos, end int64
	resumes  int
	closed   bool
	// checked says the file was found still to be the version asked
	// for (identity) after the reader fetched its block locations, which
	// colinmarc/hdfs asks of the namenode by path at the first read.
	checked bool
}

// opened is a file open for reading at the reader's position.
type opened struct {
	fr       *hdfs.FileReader
	piece    int
	size     int64
	identity string
}

// reopen opens the file at the reader's position. On a reopen the file
// must be the one first opened (ESTALE if it was replaced or changed).
func (r *reader) reopen(op string) error {
	var o opened
	identity, pos := r.identity, r.pos
	err := r.s.do(r.ctx, op, r.c, func(cl *hdfs.Client, _ attempt) error {
		var err error
		o, err = r.s.openAt(cl, r.c, pos, identity)
		return err
	})
	if err != nil {
		return err
	}
	r.fr, r.piece, r.size, r.identity = o.fr, o.piece, o.size, o.identity
	r.checked = false
	return nil
}

// check makes sure, once the reader fetched its block locations, that
// the file at its path is still the version it opened: a file renamed
// over it in between would have given the blocks of the new one, read as
// the old version's.
func (r *reader) check() error {
	if r.checked {
		return nil
	}
	var now string
	err := r.s.do(r.ctx, "read", r.c, func(cl *hdfs.Client, _ attempt) error {
		fi, err := cl.Stat(r.s.abs(r.c))
		if err == nil {
			now = r.s.info(fi.Name(), fi).ETag
		}
		return err
	})
	switch {
	case errors.Is(err, syscall.ENOENT):
		return r.s.pathErr("read", r.c, fmt.Errorf("the file was removed: %w", syscall.ESTALE))
	case err != nil:
		return err
	case now != r.identity:
		return r.s.pathErr("read", r.c, fmt.Errorf("another version of the file is there: %w", syscall.ESTALE))
	}
	r.checked = true
	return nil
}

// openAt opens the file c at pos for reading; identity, when set, is the
// ETag the file must still have.
func (s *Store) openAt(cl *hdfs.Client, c string, pos int64, identity string) (opened, error) {
	fr, err := cl.Open(s.abs(c))
	if err != nil {
		return opened{}, err
	}
	fi := fr.Stat()
	if fi.IsDir() {
		fr.Close()
		return opened{}, s.pathErr("open", c, syscall.EISDIR)
	}
	o := opened{fr: fr, size: fi.Size(), identity: s.info(fi.Name(), fi).ETag}
	if identity != "" && o.identity != identity {
		fr.Close()
		return opened{}, s.pathErr("open", c, fmt.Errorf("another version of the file is there: %w", syscall.ESTALE))
	}
	// colinmarc/hdfs verifies each checksum chunk, but a read that spans
	// whole chunks returns the bytes of a chunk that failed before it
	// fails over; a read of less than a chunk returns verified bytes only.
	o.piece = maxPiece
	if d, err := cl.ServerDefaults(); err == nil && d.BytesPerChecksum > 1 {
		o.piece = min(o.piece, d.BytesPerChecksum-1)
	}
	if pos < o.size {
		if _, err := fr.Seek(pos, io.SeekStart); err != nil {
			fr.Close()
			return opened{}, err
		}
	}
	return o, nil
}

// Read fills b from the datanodes, each read bounded by the request
// timeout. After a failure on every replica of a block it reopens the
// file and goes on from where it stopped, up to maxResumes times.
func (r *reader) Read(b []byte) (int, error) {
	const op = "read"
	if r.closed {
		return 0, r.s.pathErr(op, r.c, fmt.Errorf("reader is closed: %w", syscall.EBADF))
	}
	if r.pos >= r.end {
		return 0, io.EOF
	}
	if err := contextErr(r.ctx); err != nil {
		return 0, r.s.pathErr(op, r.c, err)
	}
	want := int(min(int64(len(b)), r.end-r.pos))
	got := 0
	r.fr.SetDeadline(time.Now().Add(r.s.cfg.timeout))
	for got < want {
		k := min(r.piece, want-got)
		m, err := r.fr.Read(b[got : got+k])
		if m > 0 && !r.checked {
			if cerr := r.check(); cerr != nil {
				return 0, cerr
			}
		}
		got += m
		r.pos += int64(m)
		switch {
		case err == io.EOF && r.pos < r.end:
			return got, r.s.pathErr(op, r.c, fmt.Errorf("the file ended at %d bytes, it had %d: %w", r.pos, r.size, syscall.ESTALE))
		case err == io.EOF:
			return got, nil
		case err != nil && got > 0:
			return got, nil // the next Read meets the failure again
		case err != nil:
			if rerr := r.resume(err); rerr != nil {
				return 0, rerr
			}
			r.fr.SetDeadline(time.Now().Add(r.s.cfg.timeout))
		case m == 0:
			return got, nil
		}
	}
	return got, nil
}

// resume reopens the file after a read failed, or says why not.
func (r *reader) resume(cause error) error {
	const op = "read"
	if cerr := contextErr(r.ctx); cerr != nil {
		return r.s.pathErr(op, r.c, cerr)
	}
	var he hdfs.Error
	if errno, text, kind := r.s.classify(cause); errors.As(cause, &he) && kind == noRetry {
		// The namenode refused (no permission to read the blocks, the
		// file removed): no other datanode or reopen would do better.
		return r.s.pathErr(op, r.c, fmt.Errorf("%s: %w", text, errno))
	}
	if r.resumes >= maxResumes {
		_, text, _ := r.s.classify(cause)
		return r.s.pathErr(op, r.c, fmt.Errorf("no datanode serves the bytes at %d after %d reopens of the file: %s: %w",
			r.pos, r.resumes, text, syscall.EIO))
	}
	r.resumes++
	r.fr.Close()
	t := time.NewTimer(r.s.cfg.backoff << (r.resumes - 1))
	select {
	case <-r.ctx.Done():
		t.Stop()
		return r.s.pathErr(op, r.c, contextErr(r.ctx))
	case <-t.C:
	}
	return r.reopen(op)
}

// Close releases the datanode connection.
func (r *reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.fr.Close()
}

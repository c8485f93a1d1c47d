package hdfs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sync"
	"syscall"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"

	"github.com/alluxio-go/alluxio/ufs"
)

// writer is the ufs.Writer of Create: it streams to a temporary file in
// the target's directory (namenode create and addBlock, the datanode
// pipeline with CRC32C checksums), and Close completes that file and
// renames it over the target with HDFS's atomic rename2 OVERWRITE.
type writer struct {
	s      *Store
	nc     *nnClient // the client holding the file's lease
	fw     *hdfs.FileWriter
	tmp    string // absolute HDFS path of the temporary file
	target string // store-relative clean path

	mu    sync.Mutex // guards everything below; held through each call
	n     int64      // bytes written
	state writerState
	err   error // the failure that ended the writer
}

type writerState int

const (
	writing writerState = iota
	closed
	aborted
	failed
)

var _ ufs.Retargeter = (*writer)(nil)

// Write sends b down the datanode pipeline. A failure ends the writer:
// colinmarc/hdfs does not recover a pipeline.
func (w *writer) Write(b []byte) (int, error) {
	const op = "write"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return 0, w.s.pathErr(op, w.target, w.stateErr())
	}
	if len(b) == 0 {
		// colinmarc/hdfs allocates a block for an empty write, which no
		// datanode ever receives and the namenode never completes.
		return 0, nil
	}
	w.fw.SetDeadline(time.Now().Add(w.s.cfg.timeout))
	n, err := w.fw.Write(b)
	w.n += int64(n)
	if err != nil {
		w.state, w.err = failed, w.s.wrap(op, w.target, err)
		w.discard()
		return n, w.err
	}
	return n, nil
}

// stateErr says why the writer takes no more calls.
func (w *writer) stateErr() error {
	switch w.state {
	case closed:
		return fmt.Errorf("the file is already closed: %w", syscall.EBADF)
	case aborted:
		return fmt.Errorf("the file was aborted: %w", syscall.EBADF)
	}
	return fmt.Errorf("an earlier write failed (%v): %w", w.err, syscall.EIO)
}

// pipelineWaits is how many times Close asks for the completion of a
// file whose last block's pipeline failed before it gives up.
const pipelineWaits = 4

// Close flushes the last packets, waits for the datanodes' acks,
// completes the file at the namenode (again, with backoff, while the
// namenode answers that blocks are not yet reported), renames it over
// the target and describes it. On failure the temporary file is removed
// and the target left as it was.
func (w *writer) Close(ctx context.Context) (ufs.FileInfo, error) {
	const op = "close"
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		if w.state == failed {
			return ufs.FileInfo{}, w.err
		}
		return ufs.FileInfo{}, w.s.pathErr(op, w.target, w.stateErr())
	}
	s := w.s
	fail := func(err error) (ufs.FileInfo, error) {
		w.state, w.err = failed, err
		w.discard()
		return ufs.FileInfo{}, err
	}
	// A Close that fails before the completion (its error is not the
	// completion's *os.PathError) failed in the last block's pipeline
	// (a datanode) or in the namenode's update of the block (a
	// failover). The library cannot send the block again: a second
	// Close skips it, updates the block and asks for the completion.
	// After a failover that succeeds; after a failed pipeline the
	// namenode answers that the block is not on the datanodes yet
	// (ErrReplicating) for good, so those answers end the close after
	// a few tries instead of at the retry deadline.
	var pipeErr error
	waits := 0
	err := s.doOn(ctx, op, w.target, w.nc, func(cl *hdfs.Client, a attempt) error {
		w.fw.SetDeadline(time.Now().Add(s.cfg.timeout))
		err := w.fw.Close()
		var pe *os.PathError
		switch {
		case err != nil && !errors.As(err, &pe):
			pipeErr = cmp.Or(pipeErr, err)
		case pipeErr != nil && errors.Is(err, hdfs.ErrReplicating):
			if waits++; waits >= pipelineWaits {
				errno, text, _ := s.classify(pipeErr)
				return s.pathErr(op, w.target, fmt.Errorf("the last block's pipeline failed: %s: %w", text, errno))
			}
		}
		var he hdfs.Error
		if err != nil && a.ambiguous && errors.As(err, &he) && he.Exception() == exLeaseExpired {
			// An earlier complete was carried out but its answer lost.
			if fi, serr := cl.Stat(w.tmp); serr == nil && fi.Size() == w.n {
				err = nil
			}
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	var out ufs.FileInfo
	dst := w.s.abs(w.target)
	err = s.do(ctx, op, w.target, func(cl *hdfs.Client, a attempt) error {
		w.follow(cl)
		if a.ambiguous {
			if _, err := cl.Stat(w.tmp); errors.Is(err, os.ErrNotExist) {
				fi, err := cl.Stat(dst)
				if err != nil {
					return err
				}
				out = s.info(path.Base(dst), fi)
				return nil // the lost answer of an earlier rename
			}
		}
		fi, err := cl.Stat(w.tmp)
		if err != nil {
			return err
		}
		if fi.Size() != w.n {
			return s.pathErr(op, w.target, fmt.Errorf("the namenode has %d bytes of the %d written: %w", fi.Size(), w.n, syscall.EIO))
		}
		if err := cl.Rename(w.tmp, dst); err != nil {
			var he hdfs.Error
			if errors.As(err, &he) && he.Exception() == exIO {
				if di, serr := cl.Stat(dst); serr == nil && di.IsDir() {
					return s.pathErr(op, w.target, fmt.Errorf("%s is a directory: %w", w.target, syscall.EISDIR))
				}
			}
			return err
		}
		out = s.info(path.Base(dst), fi)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	w.state = closed
	s.release(w.nc)
	return out, nil
}

// Abort discards what was written: the block stream is cut and the
// temporary file deleted, which ends its lease. It does nothing after
// Close, Abort or a failure that already cleaned up.
func (w *writer) Abort() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return nil
	}
	w.state = aborted
	w.discard()
	return nil
}

// discard cuts the block stream and deletes the temporary file, bounded
// by the request timeout.
func (w *writer) discard() {
	w.fw.SetDeadline(time.Unix(1, 0))
	w.fw.Close() // closes the datanode connection; fails at once
	ctx, cancel := context.WithTimeout(context.Background(), w.s.cfg.timeout)
	defer cancel()
	w.s.do(ctx, "abort", w.target, func(cl *hdfs.Client, _ attempt) error {
		w.follow(cl)
		err := cl.Remove(w.tmp)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	w.s.release(w.nc)
}

// follow finds the temporary file where a rename of a directory above it
// took it: beside the target (Retarget gave the new one), which was beside
// it when the write began.
func (w *writer) follow(cl *hdfs.Client) {
	if _, err := cl.Stat(w.tmp); !errors.Is(err, os.ErrNotExist) {
		return
	}
	moved := path.Join(path.Dir(w.s.abs(w.target)), path.Base(w.tmp))
	if _, err := cl.Stat(moved); err == nil {
		w.tmp = moved
	}
}

// Retarget makes Close land the file at p instead (its directory must
// exist then). The temporary file stays where it is until Close, or
// moves with its directory.
func (w *writer) Retarget(ctx context.Context, p string) error {
	const op = "retarget"
	c, err := w.s.begin(ctx, op, p, create)
	if err != nil {
		return err
	}
	if c == "" {
		return w.s.pathErr(op, c, fmt.Errorf("the store root is a directory: %w", syscall.EISDIR))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state != writing {
		return w.s.pathErr(op, c, w.stateErr())
	}
	w.target = c
	return nil
}

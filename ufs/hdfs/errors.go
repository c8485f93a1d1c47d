package hdfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	hdfs "github.com/colinmarc/hdfs/v2"
)

// Java exception classes a namenode answers with that the store tells
// apart.
const (
	exFileNotFound       = "java.io.FileNotFoundException"
	exIO                 = "java.io.IOException"
	exFileExists         = "org.apache.hadoop.fs.FileAlreadyExistsException"
	exParentNotDir       = "org.apache.hadoop.fs.ParentNotDirectoryException"
	exNotEmpty           = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	exInvalidPath        = "org.apache.hadoop.fs.InvalidPathException"
	exAccess             = "org.apache.hadoop.security.AccessControlException"
	exSafeMode           = "org.apache.hadoop.hdfs.server.namenode.SafeModeException"
	exStandby            = "org.apache.hadoop.ipc.StandbyException"
	exRetriable          = "org.apache.hadoop.ipc.RetriableException"
	exNotReplicatedYet   = "org.apache.hadoop.hdfs.server.namenode.NotReplicatedYetException"
	exRecovery           = "org.apache.hadoop.hdfs.protocol.RecoveryInProgressException"
	exLeaseExpired       = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	exBeingCreated       = "org.apache.hadoop.hdfs.protocol.AlreadyBeingCreatedException"
	exDSQuota            = "org.apache.hadoop.hdfs.protocol.DSQuotaExceededException"
	exNSQuota            = "org.apache.hadoop.hdfs.protocol.NSQuotaExceededException"
	exQuota              = "org.apache.hadoop.hdfs.protocol.QuotaExceededException"
	exIllegalArgument    = "org.apache.hadoop.HadoopIllegalArgumentException"
	exJavaIllegalArg     = "java.lang.IllegalArgumentException"
	exUnsupported        = "java.lang.UnsupportedOperationException"
	exNoSuchMethod       = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	exUnresolvedPath     = "org.apache.hadoop.hdfs.protocol.UnresolvedPathException"
	exSnapshotAccess     = "org.apache.hadoop.hdfs.protocol.SnapshotAccessControlException"
	exInvalidProtocolBuf = "com.google.protobuf.InvalidProtocolBufferException"
)

// retryKind says whether another attempt of a failed call may succeed.
type retryKind int

const (
	// noRetry: another attempt would fail the same way.
	noRetry retryKind = iota
	// retrySafe: the namenode did not carry the call out (standby, safe
	// mode, no connection); any call may be sent again.
	retrySafe
	// retryMaybe: the answer was lost; the call may have been carried
	// out, so a retry must allow for that.
	retryMaybe
)

// exceptions maps the exception classes with an errno of their own. A
// class that is not here is EIO.
var exceptions = map[string]struct {
	errno syscall.Errno
	retry retryKind
}{
	exFileNotFound:       {syscall.ENOENT, noRetry},
	exFileExists:         {syscall.EEXIST, noRetry},
	exParentNotDir:       {syscall.ENOTDIR, noRetry},
	exNotEmpty:           {syscall.ENOTEMPTY, noRetry},
	exInvalidPath:        {syscall.EINVAL, noRetry},
	exAccess:             {syscall.EACCES, noRetry},
	exSnapshotAccess:     {syscall.EROFS, noRetry},
	exSafeMode:           {syscall.EAGAIN, retrySafe},
	exStandby:            {syscall.EAGAIN, retrySafe},
	exRetriable:          {syscall.EAGAIN, retrySafe},
	exNotReplicatedYet:   {syscall.EAGAIN, retrySafe},
	exRecovery:           {syscall.EBUSY, retrySafe},
	exBeingCreated:       {syscall.EBUSY, noRetry},
	exLeaseExpired:       {syscall.EIO, noRetry},
	exDSQuota:            {syscall.EDQUOT, noRetry},
	exNSQuota:            {syscall.EDQUOT, noRetry},
	exQuota:              {syscall.EDQUOT, noRetry},
	exIllegalArgument:    {syscall.EINVAL, noRetry},
	exJavaIllegalArg:     {syscall.EINVAL, noRetry},
	exUnsupported:        {syscall.ENOTSUP, noRetry},
	exNoSuchMethod:       {syscall.ENOTSUP, noRetry},
	exUnresolvedPath:     {syscall.ENOTSUP, noRetry},
	exInvalidProtocolBuf: {syscall.EPROTO, noRetry},
}

// ioMessages are the IOException messages of a namenode that stand for a
// more precise errno; HDFS throws a plain IOException for them.
var ioMessages = []struct {
	prefix string
	errno  syscall.Errno
}{
	{"rename destination directory is not empty", syscall.ENOTEMPTY},
	{"Rename destination", syscall.EINVAL}, // "... is a directory or file under source ..."
	{"rename source cannot be the root", syscall.EBUSY},
	{"rename destination cannot be the root", syscall.EBUSY},
}

// errNoNamenode starts colinmarc/hdfs's error when no namenode can be
// reached or every one failed in the last 5 seconds (it does not wrap
// the cause).
const errNoNamenode = "no available namenodes"

// classify turns an error of colinmarc/hdfs into an errno, a message
// without the Java stack trace, and whether a retry may help.
func (s *Store) classify(err error) (syscall.Errno, string, retryKind) {
	var he hdfs.Error
	switch {
	case errors.As(err, &he):
		class, text := he.Exception(), firstLine(he.Message())
		text = strings.TrimPrefix(text, class+": ")
		if text == "" {
			text = he.Desc()
		}
		short := class[strings.LastIndex(class, ".")+1:]
		if e, ok := exceptions[class]; ok {
			if e.errno == syscall.EACCES {
				return e.errno, fmt.Sprintf("%s (HDFS user %s)", text, s.cfg.user), e.retry
			}
			return e.errno, short + ": " + text, e.retry
		}
		if class == exIO {
			for _, m := range ioMessages {
				if strings.HasPrefix(text, m.prefix) {
					return m.errno, text, noRetry
				}
			}
		}
		return syscall.EIO, short + ": " + text, noRetry
	case errors.Is(err, hdfs.ErrReplicating):
		return syscall.EAGAIN, "the namenode has not heard from the datanodes of every block yet", retrySafe
	case errors.Is(err, syscall.ENOTEMPTY): // before ErrExist, which ENOTEMPTY also is
		return syscall.ENOTEMPTY, "directory not empty", noRetry
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT, "no such file or directory", noRetry
	case errors.Is(err, os.ErrExist):
		return syscall.EEXIST, "file exists", noRetry
	case errors.Is(err, os.ErrPermission):
		return syscall.EACCES, fmt.Sprintf("permission denied by the namenode to HDFS user %s (from %s)", s.cfg.user, s.cfg.userFrom), noRetry
	case errors.Is(err, os.ErrInvalid):
		return syscall.EINVAL, "invalid argument", noRetry
	case strings.Contains(err.Error(), errNoNamenode+": "):
		return syscall.EHOSTUNREACH, fmt.Sprintf("no namenode of %s answers: %s", strings.Join(s.cfg.addrs, ", "), err), retrySafe
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		return syscall.EHOSTUNREACH, err.Error(), retrySafe
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.ETIMEDOUT, fmt.Sprintf("no answer within %s=%v: %v", keyTimeout, s.cfg.timeout, err), retryMaybe
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed), errors.Is(err, errConnBroken):
		return syscall.EIO, "connection lost: " + err.Error(), retryMaybe
	}
	return syscall.EIO, err.Error(), noRetry
}

// firstLine is the first line of a Java exception message (the rest is
// the stack trace).
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// pathErr builds the store's error for op on the store-relative path p.
func (s *Store) pathErr(op, p string, err error) error {
	return &fs.PathError{Op: op, Path: s.uri(p), Err: err}
}

// wrap classifies err for op on p.
func (s *Store) wrap(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.HasPrefix(pe.Path, "hdfs://") {
		return err // already ours
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return s.pathErr(op, p, err)
	}
	errno, text, _ := s.classify(err)
	return s.pathErr(op, p, fmt.Errorf("%s: %w", text, errno))
}

// contextErr is a context's end as an error that wraps both it and the
// errno FUSE reports (EINTR, or ETIMEDOUT for a deadline).
func contextErr(ctx context.Context) error {
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

// attempt describes the try of a call that do passes to it.
type attempt struct {
	n         int       // 0 for the first
	ambiguous bool      // an earlier try may have been carried out
	nc        *nnClient // the client of this try
}

// do runs fn, a call or a few to the namenode, until it succeeds, fails
// in a way no retry cures, or the retry time (retry.max.duration) is
// spent; waits back off exponentially with jitter. fn runs in its own
// goroutine so that ctx ends the wait at once (the call itself ends by
// its own timeout): what fn writes to variables it shares with its
// caller may land after do returns with ctx's error, so the caller reads
// them only when do succeeds. The error is a *fs.PathError for op on p.
func (s *Store) do(ctx context.Context, op, p string, fn func(cl *hdfs.Client, a attempt) error) error {
	return s.doOn(ctx, op, p, nil, fn)
}

// doOn is do on the client fixed (a writer's, whose lease it holds), or
// on the store's current one when fixed is nil; the store's is retired
// when none of its namenodes answers.
func (s *Store) doOn(ctx context.Context, op, p string, fixed *nnClient, fn func(cl *hdfs.Client, a attempt) error) error {
	if err := contextErr(ctx); err != nil {
		return s.pathErr(op, p, err)
	}
	start := time.Now()
	a := attempt{}
	for {
		nc, err := fixed, error(nil)
		if nc == nil {
			nc, err = s.client()
		}
		if err == nil {
			a.nc = nc
			err = run(ctx, func() error { return fn(nc.cl, a) })
			if err != nil && fixed == nil && strings.Contains(err.Error(), errNoNamenode+": ") {
				s.retire(nc)
			}
		}
		if err == nil {
			return nil
		}
		if cerr := contextErr(ctx); cerr != nil {
			return s.pathErr(op, p, cerr)
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && strings.HasPrefix(pe.Path, "hdfs://") {
			return err // fn's own verdict, already classified
		}
		errno, text, kind := s.classify(err)
		if kind == noRetry || time.Since(start) >= s.cfg.retryFor {
			if a.n > 0 {
				text = fmt.Sprintf("after %d attempts in %v: %s", a.n+1, time.Since(start).Round(time.Millisecond), text)
			}
			return s.pathErr(op, p, fmt.Errorf("%s: %w", text, errno))
		}
		if kind == retryMaybe {
			a.ambiguous = true
		}
		d := s.cfg.backoff << min(a.n, 16)
		if d > s.cfg.maxBackoff || d <= 0 {
			d = s.cfg.maxBackoff
		}
		d = d/2 + rand.N(d/2+1)
		if left := s.cfg.retryFor - time.Since(start); d > left {
			d = max(left, 0)
		}
		slog.Debug("retrying an HDFS call", "component", "ufs/hdfs", "op", op, "path", s.uri(p),
			"attempt", a.n+1, "backoff", d, "err", text)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return s.pathErr(op, p, contextErr(ctx))
		case <-t.C:
		}
		a.n++
	}
}

// run calls fn in a goroutine and waits for it or for ctx to end.
func run(ctx context.Context, fn func() error) error {
	if ctx.Done() == nil {
		return fn()
	}
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

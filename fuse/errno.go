package fuse

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
)

// toErrno is the one place where errors become errno values. Errors that
// carry a syscall.Errno keep it; cancellation becomes EINTR; anything else
// is logged and reported as EIO, the answer of last resort.
func toErrno(log *slog.Logger, op, path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		if errno == 0 {
			return syscall.EIO
		}
		return errno
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT
	}
	log.Warn("operation failed", "op", op, "path", path, "err", err)
	return syscall.EIO
}

// uninterrupted keeps a kernel interrupt (a signal to the caller, such as
// the Go runtime's preemption signal) from cancelling an operation half
// way: a mkdir applied at the master but answered EINTR would make the
// caller's retry fail with EEXIST. Operations run to completion; their
// own timeouts still bound them.
func uninterrupted(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

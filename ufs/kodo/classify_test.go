package kodo

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestClassifyConnectionErrors: a dial that fails is a host that cannot be
// reached; a connection that breaks off after it was made is an I/O error.
func TestClassifyConnectionErrors(t *testing.T) {
	s := &Store{cfg: &config{}}
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"refused dial", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, syscall.EHOSTUNREACH},
		{"unknown host", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "kodo.invalid"}}, syscall.EHOSTUNREACH},
		{"reset mid-body", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, syscall.EIO},
		{"closed mid-request", &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, syscall.EIO},
	} {
		if got := s.classify(context.Background(), tc.err); !errors.Is(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

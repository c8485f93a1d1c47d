package s3

import (
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
)

// TestConnectionCut: a server that takes a request and then drops the
// connection every time fails the request with EIO, saying that the
// connection broke off; "unreachable" (EHOSTUNREACH) is for endpoints no
// connection can be made to (TestUnreachable).
func TestConnectionCut(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL, keyMaxRetry, "1"))
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method != http.MethodPut {
			return false
		}
		io.CopyN(io.Discard, r.Body, 1000)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
		return true
	}, nil)
	w, err := u.Create(t.Context(), "cut", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, err)
	w.Write(randomBytes(64<<10, 9))
	_, err = w.Close(t.Context())
	errContains(t, err, "s3://"+bucket+"/cut", "connection to endpoint "+p.srv.URL+" broke off", "after 2 attempts")
	if !errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("error %v, want EIO", err)
	}
	noSecret(t, err)
	if n := count(p.requests(), "PUT"); n != 2 {
		t.Errorf("%d PUT requests, want 2 (1 + max.error.retry)", n)
	}
}

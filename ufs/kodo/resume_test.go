package kodo

import (
	"bytes"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/ufs/kodo/kodotest"
)

// cutProxy is a download host in front of a kodotest server whose first
// GET answer breaks off after cut bytes. It keeps the Host header, which
// the download token signs.
func cutProxy(t *testing.T, srv *kodotest.Server, cut int) (host string, gets *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0), // the test cuts connections on purpose
	}
	gets = new(atomic.Int64)
	p := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && gets.Add(1) == 1 {
			w = &cutWriter{ResponseWriter: w, left: cut}
		}
		rp.ServeHTTP(w, r)
	}))
	p.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.Start()
	t.Cleanup(p.Close)
	return p.URL, gets
}

// cutWriter passes left bytes of a response body through, then fails the
// connection.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errors.New("connection cut by the test")
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.ResponseWriter.Write(p)
	c.left -= n
	return n, err
}

// TestReadResume: a download that breaks off is resumed where it stopped;
// if the object changed meanwhile the read fails with ESTALE.
func TestReadResume(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	srv.Put(b, "f", data)

	t.Run("resumed", func(t *testing.T) {
		host, gets := cutProxy(t, srv, 256<<10)
		opts := options(srv, b)
		opts[keyDownloadHost] = host + "/" + b
		s := openStore(t, "kodo://"+b+"/", opts)
		if got := readFile(t, s, "f"); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes that differ from the %d stored", len(got), len(data))
		}
		if n := gets.Load(); n != 2 {
			t.Errorf("%d GET requests, want 2", n)
		}
	})
	t.Run("changed", func(t *testing.T) {
		host, _ := cutProxy(t, srv, 64<<10)
		opts := options(srv, b)
		opts[keyDownloadHost] = host + "/" + b
		s := openStore(t, "kodo://"+b+"/", opts)
		r, err := s.OpenRange(t.Context(), "f", 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := io.ReadFull(r, make([]byte, 32<<10)); err != nil {
			t.Fatal(err)
		}
		srv.Put(b, "f", []byte("rewritten"))
		if _, err := io.ReadAll(r); !errors.Is(err, syscall.ESTALE) {
			t.Errorf("reading on after a rewrite: %v, want ESTALE", err)
		}
	})
}

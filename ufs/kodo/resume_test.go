package kodo

import (
	"bytes"
	"errors"
	"fmt"
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

// unsizedProxy is a download host in front of a kodotest server that
// answers GETs without a Content-Length, ending each body by closing the
// connection as an HTTP/1.0 proxy does, and cuts its first answer cleanly
// after cut bytes. With ignoreRange it answers every GET with the whole
// object (200); else it passes Range on (206, with Content-Range).
func unsizedProxy(t *testing.T, srv *kodotest.Server, cut int, ignoreRange bool) (host string, gets *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	upstream := &http.Transport{}
	t.Cleanup(upstream.CloseIdleConnections)
	gets = new(atomic.Int64)
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
		if ignoreRange {
			out.Header.Del("Range")
		}
		resp, err := upstream.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		if r.Method == http.MethodGet && gets.Add(1) == 1 && len(body) > cut {
			body = body[:cut]
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		resp.Header.Del("Content-Length")
		resp.Header.Set("Connection", "close")
		fmt.Fprintf(buf, "HTTP/1.1 %s\r\n", resp.Status)
		resp.Header.Write(buf)
		buf.WriteString("\r\n")
		buf.Write(body)
		buf.Flush()
	}))
	t.Cleanup(p.Close)
	return p.URL, gets
}

// TestReadUnsizedAnswer: an answer without a Content-Length that the
// download host ends early, yet cleanly, is resumed, not taken for the
// object's end.
func TestReadUnsizedAnswer(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	rng := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	srv.Put(b, "f", data)
	open := func(t *testing.T, cut int, ignoreRange bool) (*Store, *atomic.Int64) {
		host, gets := unsizedProxy(t, srv, cut, ignoreRange)
		opts := options(srv, b)
		opts[keyDownloadHost] = host + "/" + b
		return openStore(t, "kodo://"+b+"/", opts), gets
	}
	readRange := func(t *testing.T, s *Store, off, n int64) []byte {
		r, err := s.OpenRange(t.Context(), "f", off, n)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %d bytes from %d: %v", n, off, err)
		}
		return got
	}

	for _, tt := range []struct {
		name        string
		ignoreRange bool
		off, n      int64
		cut         int
	}{
		{"whole, 200", false, 0, -1, 256 << 10},
		{"to the end, 206", false, 1 << 20, -1, 256 << 10},
		{"range, 206", false, 1 << 20, 1 << 20, 256 << 10},
		{"to the end, Range ignored", true, 1 << 20, -1, 1<<20 + 256<<10},
		{"range, Range ignored", true, 1 << 20, 1 << 20, 1<<20 + 256<<10},
		{"cut before the range, Range ignored", true, 1 << 20, 1 << 20, 256 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, gets := open(t, tt.cut, tt.ignoreRange)
			end := int64(len(data))
			if tt.n > 0 {
				end = tt.off + tt.n
			}
			if got := readRange(t, s, tt.off, tt.n); !bytes.Equal(got, data[tt.off:end]) {
				t.Fatalf("read %d bytes that differ from the %d stored there", len(got), end-tt.off)
			}
			if n := gets.Load(); n != 2 {
				t.Errorf("%d GET requests, want 2: one cut, one resumed", n)
			}
		})
	}
	t.Run("whole answers", func(t *testing.T) {
		s, gets := open(t, len(data)+1, false)
		if got := readRange(t, s, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes that differ from the %d stored", len(got), len(data))
		}
		if got := readRange(t, s, 2<<20, 2<<20); !bytes.Equal(got, data[2<<20:]) {
			t.Fatalf("the last MiB: read %d bytes that differ from those stored", len(got))
		}
		if n := gets.Load(); n != 2 {
			t.Errorf("%d GET requests for two reads, want 2", n)
		}
	})
}

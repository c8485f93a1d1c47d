package s3

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// TestConnectionCut: a server that takes a request and then drops the
// connection every time fails the request with EIO, saying that the
// connection broke off; "unreachable" (EHOSTUNREACH) is for endpoints no
// connection can be made to (TestUnreachable).
func TestConnectionCut(t *testing.T) {
	u, p, bucket := proxiedStore(t, keyMaxRetry, "1")
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

// TestConnectionDroppedOnce: a PUT or DELETE whose connection the server
// drops once, after taking the whole request (the answer lost) or part of
// its body, is sent again and succeeds.
func TestConnectionDroppedOnce(t *testing.T) {
	u, p, _ := proxiedStore(t, keyMaxRetry, "2")
	ctx := t.Context()
	for _, tt := range []struct {
		name   string
		method string
		read   int64 // bytes of the body read before the connection is dropped; -1: all
	}{
		{"PUT answer lost", http.MethodPut, -1},
		{"PUT cut mid-upload", http.MethodPut, 100},
		{"DELETE answer lost", http.MethodDelete, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(4<<10, 7)
			if tt.method == http.MethodDelete {
				putFile(t, u, "f", data)
			}
			var dropped atomic.Bool
			p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.Method != tt.method || dropped.Load() {
					return false
				}
				if tt.read < 0 {
					// Let the request through, then lose the answer.
					return false
				}
				io.CopyN(io.Discard, r.Body, tt.read)
				dropped.Store(true)
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close()
				}
				return true
			}, func(w http.ResponseWriter, r *http.Request, n int) http.ResponseWriter {
				if r.Method != tt.method || dropped.Load() || tt.read >= 0 {
					return w
				}
				dropped.Store(true)
				return &loseAnswer{ResponseWriter: w}
			})
			defer p.set(nil, nil)
			p.requests()
			if tt.method == http.MethodDelete {
				must(t, u.DeleteFile(ctx, "f"))
				if _, err := u.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("f after DeleteFile: %v, want ENOENT", err)
				}
			} else {
				putFile(t, u, "f", data)
				if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
					t.Errorf("f holds %d bytes, not the %d written", len(got), len(data))
				}
			}
			if !dropped.Load() {
				t.Fatal("no connection was dropped")
			}
			if n := count(p.requests(), tt.method); n != 2 {
				t.Errorf("%d %s requests, want 2 (the dropped one and its retry)", n, tt.method)
			}
		})
	}
}

// loseAnswer passes a request's answer on to nowhere and then drops the
// connection: the server has done the request, the client never hears.
type loseAnswer struct {
	http.ResponseWriter
}

func (l *loseAnswer) WriteHeader(int) {
	if conn, _, err := l.ResponseWriter.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

func (l *loseAnswer) Write(b []byte) (int, error) { return len(b), nil }

// TestCompleteAnswerLost: a multipart upload whose completion the server
// made but whose answer was lost. The retry finds the upload gone
// (NoSuchUpload, as AWS may answer); the object at the key is the one the
// parts make (its ETag is theirs), so the upload succeeded. One whose
// upload vanished otherwise, the key holding another object, still fails.
func TestCompleteAnswerLost(t *testing.T) {
	u, p, _ := proxiedStore(t, keyMaxRetry, "2", keyPartSize, "5MB")
	ctx := t.Context()
	completing := func(r *http.Request) bool {
		return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
	}
	noSuchUpload := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message></Error>`)
	}
	data := randomBytes(11<<20, 9)
	var lost atomic.Bool
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !completing(r) || !lost.Load() {
			return false
		}
		noSuchUpload(w)
		return true
	}, func(w http.ResponseWriter, r *http.Request, n int) http.ResponseWriter {
		if !completing(r) || lost.Swap(true) {
			return w
		}
		return &loseAnswer{ResponseWriter: w}
	})
	p.requests()
	fi := putFile(t, u, "f", data)
	p.set(nil, nil)
	if n := count(p.requests(), http.MethodPost); !lost.Load() || n != 3 {
		t.Fatalf("%d POST requests, want the upload's start and two completions, the first answer lost (%v)", n, lost.Load())
	}
	if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
		t.Fatalf("f holds %d bytes, not the %d written", len(got), len(data))
	}
	if st, err := u.Stat(ctx, "f"); err != nil || st.Fingerprint() != fi.Fingerprint() {
		t.Errorf("f is %v (%v), but the write reported %s", st.Fingerprint(), err, fi.Fingerprint())
	}

	// The upload is gone before its completion (aborted elsewhere): the
	// object at the key is still the one written before, and the write
	// fails.
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !completing(r) {
			return false
		}
		noSuchUpload(w)
		return true
	}, nil)
	defer p.set(nil, nil)
	w, err := u.Create(ctx, "f", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, err)
	if _, err := w.Write(randomBytes(11<<20, 10)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(ctx); err == nil {
		t.Fatal("a write whose upload vanished succeeded")
	}
	if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
		t.Fatalf("f holds %d bytes after the failed write, not the %d written before", len(got), len(data))
	}
}

// TestSlowUpload: a part whose bytes go out more slowly than the request
// timeout allows for a whole request is uploaded while the server keeps
// taking them; one the server stops taking fails with ETIMEDOUT.
func TestSlowUpload(t *testing.T) {
	u, p, _ := proxiedStore(t, keyTimeout, "1s", keyMaxRetry, "1", keyPartSize, "24MB")
	ctx := t.Context()
	uploading := func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
	}
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if uploading(r) {
			r.Body = &slowBody{r: r.Body, rate: 8 << 20}
		}
		return false
	}, nil)
	data := randomBytes(30<<20, 11)
	putFile(t, u, "f", data)
	p.set(nil, nil)
	if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
		t.Fatalf("f holds %d bytes, not the %d written", len(got), len(data))
	}

	// The server notices no closed connection while it reads nothing:
	// the handlers are let go once the upload has failed.
	release := make(chan struct{})
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !uploading(r) {
			return false
		}
		<-release // takes none of the part's bytes
		return true
	}, nil)
	defer p.set(nil, nil)
	var err error
	quick(t, 30*time.Second, "an upload to a server that takes no bytes", func() {
		w, cerr := u.Create(ctx, "g", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
		must(t, cerr)
		if _, err = w.Write(data); err == nil {
			_, err = w.Close(ctx)
		}
	})
	close(release)
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("upload to a server that takes no bytes: %v, want ETIMEDOUT", err)
	}
}

// An upload whose answer stops after its headers fails within the request
// timeout: the body of a PutObject or UploadPart answer must keep coming.
func TestUploadAnswerStalls(t *testing.T) {
	u, p, _ := proxiedStore(t, keyTimeout, "1s", keyMaxRetry, "1")
	ctx := t.Context()
	release := make(chan struct{})
	safety := time.AfterFunc(20*time.Second, func() { close(release) }) // never hang the run
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method != http.MethodPut {
			return false
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-release // the rest of the answer never comes
		return true
	}, nil)
	defer p.set(nil, nil)
	start := time.Now()
	w, err := u.Create(ctx, "g", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, err)
	if _, err = w.Write(randomBytes(2<<20, 12)); err == nil { // above maxLeanPut: the SDK's PutObject
		_, err = w.Close(ctx)
	}
	took := time.Since(start)
	if safety.Stop() {
		close(release)
	}
	if !errors.Is(err, syscall.ETIMEDOUT) || took > 15*time.Second {
		t.Errorf("upload whose answer stalls: %v after %v, want ETIMEDOUT within a few timeouts", err, took)
	}
}

// slowBody reads a request body at about rate bytes a second.
type slowBody struct {
	r    io.ReadCloser
	rate int
}

func (b *slowBody) Read(p []byte) (int, error) {
	p = p[:min(len(p), b.rate/16)]
	n, err := b.r.Read(p)
	time.Sleep(time.Duration(n) * time.Second / time.Duration(b.rate))
	return n, err
}

func (b *slowBody) Close() error { return b.r.Close() }

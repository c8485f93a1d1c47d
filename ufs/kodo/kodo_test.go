package kodo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/kodo/kodotest"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

const (
	testAK = "test-access-key"
	testSK = "test-secret-key-never-shown"
)

var bucketSeq atomic.Int64

// startServer starts a kodotest server that stops with the test.
func startServer(t *testing.T) *kodotest.Server {
	t.Helper()
	srv, err := kodotest.Start(testAK, testSK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// newBucket creates a fresh bucket on srv.
func newBucket(srv *kodotest.Server) string {
	b := fmt.Sprintf("bucket-%d", bucketSeq.Add(1))
	srv.CreateBucket(b)
	return b
}

// options are the mount options of a store on srv for bucket.
func options(srv *kodotest.Server, bucket string) map[string]string {
	return map[string]string{
		keyAccessKey:    testAK,
		keySecretKey:    testSK,
		keyEndpoint:     srv.URL(),
		keyDownloadHost: srv.DownloadHost(bucket),
		keyMaxRetry:     "4",
	}
}

// openStore opens uri through the registry with fast retries, closed with
// the test.
func openStore(t *testing.T, uri string, opts map[string]string) *Store {
	t.Helper()
	u, err := ufs.Open(uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := u.(*Store)
	s.cfg.backoff = 5 * time.Millisecond
	t.Cleanup(func() { s.Close() })
	return s
}

// putFile writes a whole file.
func putFile(t *testing.T, s ufs.UFS, p string, data []byte) ufs.FileInfo {
	t.Helper()
	w, err := s.Create(t.Context(), p, ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	fi, err := w.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// readFile reads a whole file.
func readFile(t *testing.T, s ufs.UFS, p string) []byte {
	t.Helper()
	r, err := s.OpenRange(t.Context(), p, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestContract(t *testing.T) {
	srv := startServer(t)
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		b := newBucket(srv)
		return openStore(t, "kodo://"+b+"/", options(srv, b))
	})
}

func TestContractPrefix(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	neighbour := openStore(t, "kodo://"+b+"/", options(srv, b))
	putFile(t, neighbour, "mount-1x", []byte("a key that shares the prefix's first letters"))
	n := 0
	ufstest.Run(t, func(t *testing.T) ufs.UFS {
		n++
		return openStore(t, fmt.Sprintf("kodo://%s/mount-%d/sub/", b, n), options(srv, b))
	})
}

func TestLargeMultipartUpload(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/dir/", options(srv, b))
	rng := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 9<<20+777)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	w, err := s.Create(t.Context(), "big", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(1<<20))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if srv.Uploads() != 1 {
		t.Errorf("%d multipart uploads in progress before Close, want 1", srv.Uploads())
	}
	fi, err := w.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size != int64(len(data)) || fi.ETag != kodotest.Etag(data) {
		t.Errorf("Close = %+v, want %d bytes with qetag %s", fi, len(data), kodotest.Etag(data))
	}
	if got := readFile(t, s, "big"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
	if srv.Uploads() != 0 {
		t.Errorf("%d multipart uploads left after Close", srv.Uploads())
	}

	// Abort after a part was uploaded leaves nothing behind.
	w, err = s.Create(t.Context(), "aborted", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data[:5<<20]); err != nil {
		t.Fatal(err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if srv.Uploads() != 0 {
		t.Errorf("%d multipart uploads left after Abort", srv.Uploads())
	}
	if _, err := s.Stat(t.Context(), "aborted"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Abort: %v, want ErrNotExist", err)
	}
}

func TestRetries(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/", options(srv, b))
	putFile(t, s, "f", []byte("payload"))
	tests := []struct {
		name string
		code int
		n    int
		op   func() error
	}{
		{"stat through 573", 573, 3, func() error { _, err := s.Stat(t.Context(), "f"); return err }},
		{"read through 503", 503, 2, func() error {
			if got := readFile(t, s, "f"); string(got) != "payload" {
				return fmt.Errorf("read %q", got)
			}
			return nil
		}},
		{"upload through 573", 573, 4, func() error { putFile(t, s, "g", []byte("x")); return nil }},
		{"list through 599", 599, 1, func() error { return s.List(t.Context(), "", func(ufs.FileInfo) error { return nil }) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.FailNext(tt.n, tt.code)
			if err := tt.op(); err != nil {
				t.Fatalf("after %d injected %d answers: %v", tt.n, tt.code, err)
			}
		})
	}
	t.Run("gives up", func(t *testing.T) {
		srv.FailNext(100, 573)
		defer srv.FailNext(0, 0)
		_, err := s.Stat(t.Context(), "f")
		if !errors.Is(err, syscall.EAGAIN) || !strings.Contains(err.Error(), "after 5 attempts") {
			t.Fatalf("Stat against a rate-limiting server: %v, want EAGAIN after 5 attempts", err)
		}
	})
	t.Run("not on 612", func(t *testing.T) {
		before := srv.Requests()
		if _, err := s.Stat(t.Context(), "missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Stat missing: %v", err)
		}
		// The key, then one listing under key/ (a marker sorts first):
		// no retry of a 612.
		if n := srv.Requests() - before; n != 2 {
			t.Errorf("Stat of a missing key sent %d requests, want 2", n)
		}
	})
}

func TestTimeoutAndCancel(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	opts := options(srv, b)
	opts[keyTimeout] = "100ms"
	opts[keyMaxRetry] = "1"
	s := openStore(t, "kodo://"+b+"/", opts)
	srv.SetLatency(time.Second)
	defer srv.SetLatency(0)
	start := time.Now()
	_, err := s.Stat(t.Context(), "f")
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("Stat against a slow server: %v, want ETIMEDOUT", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Stat took %v with a 100ms timeout and one retry", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	opts[keyTimeout] = "0"
	s2 := openStore(t, "kodo://"+b+"/", opts)
	if _, err := s2.Stat(ctx, "f"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stat with an ending context: %v, want DeadlineExceeded", err)
	}
}

func TestWrongSecret(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	opts := options(srv, b)
	const wrong = "wrong-secret-value-xyz"
	opts[keySecretKey] = wrong
	s := openStore(t, "kodo://"+b+"/", opts)
	ctx := t.Context()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, syscall.EACCES) {
			t.Fatalf("%s with a wrong secret: %v, want EACCES", what, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "access denied") || !strings.Contains(msg, keyAccessKey) || !strings.Contains(msg, keySecretKey) {
			t.Errorf("%s: error %q does not say access denied naming %s/%s", what, msg, keyAccessKey, keySecretKey)
		}
		if strings.Contains(msg, wrong) || strings.Contains(msg, testSK) {
			t.Errorf("%s: error %q shows a secret", what, msg)
		}
	}
	_, err := s.Stat(ctx, "")
	check("Stat root", err)
	_, err = s.Stat(ctx, "f")
	check("Stat", err)
	w, err := s.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	_, err = w.Close(ctx)
	check("upload", err)
	srv.Put(b, "g", []byte("data"))
	_, err = s.OpenRange(ctx, "g", 0, -1)
	check("download", err)
}

func TestOptions(t *testing.T) {
	base := map[string]string{
		keyAccessKey: "ak", keySecretKey: "sk-secret", keyEndpoint: "z0", keyDownloadHost: "cdn.example.com",
	}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range base {
			m[kk] = vv
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		uri     string
		opts    map[string]string
		wantErr string // substring; "" for success
		check   func(c *config) error
	}{
		{"region id", "kodo://b/dir/", base, "", func(c *config) error {
			if c.upHost != "https://up.qiniup.com" || c.rsHost != "https://rs.qbox.me" || c.rsfHost != "https://rsf.qbox.me" ||
				c.downloadHost != "http://cdn.example.com" || c.prefix != "dir/" || c.bucket != "b" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		{"region up host", "kodo://b/", with(keyEndpoint, "up-z1.qiniup.com"), "", func(c *config) error {
			if c.upHost != "https://up-z1.qiniup.com" || c.rsHost != "https://rs-z1.qbox.me" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		// Alluxio's Kodo guide gives each region's source (IO) host as
		// the endpoint.
		{"guide's IO host", "kodo://b/", with(keyEndpoint, "iovip-z1.qbox.me"), "", func(c *config) error {
			if c.upHost != "https://up-z1.qiniup.com" || c.rsHost != "https://rs-z1.qbox.me" || c.rsfHost != "https://rsf-z1.qbox.me" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		{"guide's IO host, z0", "kodo://b/", with(keyEndpoint, "iovip.qbox.me"), "", func(c *config) error {
			if c.upHost != "https://up.qiniup.com" || c.rsHost != "https://rs.qbox.me" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		{"explicit host", "kodo://b/", with(keyEndpoint, "http://127.0.0.1:9"), "", func(c *config) error {
			if c.upHost != "http://127.0.0.1:9" || c.rsfHost != "http://127.0.0.1:9" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		{"root option prefix", "kodo://b/", map[string]string{
			rootOptionPrefix + keyAccessKey: "ak", rootOptionPrefix + keySecretKey: "sk-secret",
			rootOptionPrefix + keyEndpoint: "z2", rootOptionPrefix + keyDownloadHost: "https://d.example.com",
		}, "", func(c *config) error {
			if c.accessKey != "ak" || c.upHost != "https://up-z2.qiniup.com" || c.downloadHost != "https://d.example.com" {
				return fmt.Errorf("%+v", *c)
			}
			return nil
		}},
		{"no access key", "kodo://b/", with(keyAccessKey, "<unset>"), keyAccessKey, nil},
		{"no secret key", "kodo://b/", with(keySecretKey, "<unset>"), keySecretKey, nil},
		{"no endpoint", "kodo://b/", with(keyEndpoint, "<unset>"), keyEndpoint, nil},
		{"no download host", "kodo://b/", with(keyDownloadHost, "<unset>"), keyDownloadHost, nil},
		{"bad endpoint", "kodo://b/", with(keyEndpoint, "ftp://x"), keyEndpoint, nil},
		{"bad timeout", "kodo://b/", with(keyTimeout, "soon"), keyTimeout, nil},
		{"unknown key", "kodo://b/", with("alluxio.underfs.kodo.typo", "1"), "alluxio.underfs.kodo.typo", nil},
		{"no bucket", "kodo:///x", base, "no bucket", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseConfig(u, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, syscall.EINVAL) {
					t.Fatalf("parseConfig: %v, want EINVAL naming %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sk-secret") {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBatchDelete removes files with rs /batch (ufs.BatchFileDeleter):
// one request for several keys, a missing key is no error, a 5xx is
// retried, and the test server's batch refuses a request signed with the
// wrong secret.
func TestBatchDelete(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/dir/", options(srv, b))
	for _, p := range []string{"a", "b/c", "keep"} {
		putFile(t, s, p, []byte(p))
	}
	if !s.BatchDeletes() {
		t.Fatal("the Kodo store says it cannot delete in batches")
	}
	before := srv.Requests()
	if err := s.DeleteFiles(t.Context(), []string{"a", "b/c", "missing"}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests() - before; n != 1 {
		t.Errorf("3 deletes sent %d requests, want one batch", n)
	}
	if got := srv.Keys(b); !slices.Equal(got, []string{"dir/keep"}) {
		t.Fatalf("bucket after the batch: %v, want dir/keep alone", got)
	}

	srv.FailNext(2, 503)
	if err := s.DeleteFiles(t.Context(), []string{"keep"}); err != nil {
		t.Fatalf("batch through two 503s: %v", err)
	}
	if got := srv.Keys(b); len(got) != 0 {
		t.Fatalf("bucket after the retried batch: %v, want it empty", got)
	}

	opts := options(srv, b)
	opts[keySecretKey] = "wrong-secret"
	bad := openStore(t, "kodo://"+b+"/dir/", opts)
	err := bad.DeleteFiles(t.Context(), []string{"x"})
	if err == nil || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("batch with a wrong secret: %v, want a refusal that does not show the secret", err)
	}
}

// TestDeleteFileMissing: deleting a file that is not there succeeds
// (ufs.FileDeleter), and so does a delete whose answer was lost, which
// finds the key gone when tried again; a missing bucket is still an error.
func TestDeleteFileMissing(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/", options(srv, b))
	if err := s.DeleteFile(t.Context(), "missing"); err != nil {
		t.Fatalf("DeleteFile of a missing file: %v", err)
	}
	putFile(t, s, "f", []byte("x"))
	srv.LoseNext(1)
	if err := s.DeleteFile(t.Context(), "f"); err != nil {
		t.Fatalf("DeleteFile whose answer was lost: %v", err)
	}
	if got := srv.Keys(b); len(got) != 0 {
		t.Fatalf("bucket after the delete: %v, want it empty", got)
	}
	gone := openStore(t, "kodo://no-such-bucket/", options(srv, "no-such-bucket"))
	if err := gone.DeleteFile(t.Context(), "f"); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("DeleteFile in a missing bucket: %v, want ENOENT naming the bucket", err)
	}
}

// TestMoveAnswerLost: a rename whose move the server carried out but whose
// answer was lost is tried again, finds the source gone, and succeeds:
// the file is at its new name.
func TestMoveAnswerLost(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/", options(srv, b))
	putFile(t, s, "a", []byte("moved once"))
	o := objects{s: s}
	srv.LoseNext(1)
	if err := o.MoveObject(t.Context(), "a", "b"); err != nil {
		t.Fatalf("a move whose answer was lost: %v", err)
	}
	if got := readFile(t, s, "b"); string(got) != "moved once" {
		t.Fatalf("b after the move: %q", got)
	}
	if _, err := s.Stat(t.Context(), "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a after the move: %v", err)
	}
}

// TestCompleteAnswerLost: a multipart upload whose completion the server
// made but whose answer was lost. The retry finds the upload gone (612);
// the key holds an object of the parts' length put since, so the write
// succeeded, with that object's hash.
func TestCompleteAnswerLost(t *testing.T) {
	srv := startServer(t)
	b := newBucket(srv)
	s := openStore(t, "kodo://"+b+"/", options(srv, b))
	data := bytes.Repeat([]byte("completed once "), 700<<10) // 10.5 MB: parts
	w, err := s.Create(t.Context(), "big", ufs.CreateOptions{SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	srv.LoseNextWhere(1, func(r *http.Request) bool {
		// POST .../uploads/<id>: the completion.
		return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/uploads/") &&
			strings.Count(r.URL.Path[strings.Index(r.URL.Path, "/uploads/"):], "/") == 2
	})
	fi, err := w.Close(t.Context())
	if err != nil {
		t.Fatalf("a write whose completion's answer was lost: %v", err)
	}
	if fi.Size != int64(len(data)) || fi.ETag != kodotest.Etag(data) {
		t.Errorf("Close = %+v, want %d bytes with qetag %s", fi, len(data), kodotest.Etag(data))
	}
	if got := readFile(t, s, "big"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes that differ from the %d written", len(got), len(data))
	}
}

// A password in a host option is not repeated in the error that refuses it.
func TestHostOptionPasswordHidden(t *testing.T) {
	u, _ := url.Parse("kodo://bucket/")
	for _, k := range []string{keyEndpoint, keyDownloadHost} {
		opts := map[string]string{keyAccessKey: "AK", keySecretKey: "SK", keyEndpoint: "http://127.0.0.1:1", keyDownloadHost: "http://127.0.0.1:1"}
		opts[k] = "http://admin:HOSTSECRET@127.0.0.1:1"
		_, err := parseConfig(u, opts)
		if err == nil || strings.Contains(err.Error(), "HOSTSECRET") || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: %v, want an error naming the option without the password", k, err)
		}
	}
}

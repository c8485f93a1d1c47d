package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/alluxio-go/alluxio/internal/httpfault"
	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestLayout checks that the bucket is laid out as Alluxio lays it out:
// files are objects, directories are "dir/" markers or implied by keys
// under them, and a mount's prefix is a plain key prefix.
func TestLayout(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	ctx := t.Context()
	raw := func(key, body string) {
		t.Helper()
		if _, err := g.admin.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
	}
	rawSize := func(key string) (int64, bool) {
		t.Helper()
		h, err := g.admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(key)})
		if err != nil {
			return 0, false
		}
		return aws.ToInt64(h.ContentLength), true
	}
	// Written by someone else (Alluxio, the AWS CLI): keys without markers.
	raw("mnt/x/y/z", "zzz")
	raw("mnt/top", "t")
	raw("elsewhere", "not under the mount")
	u := openStore(t, "s3://"+bucket+"/mnt/", options(g.url))

	for _, p := range []string{"x", "x/y"} {
		fi, err := u.Stat(ctx, p)
		if err != nil || !fi.IsDir() {
			t.Errorf("Stat(%s) = %+v, %v; want an implied directory", p, fi, err)
		}
	}
	if got := readFile(t, u, "x/y/z"); string(got) != "zzz" {
		t.Errorf("x/y/z = %q", got)
	}
	var names []string
	must(t, u.List(ctx, "", func(fi ufs.FileInfo) error {
		names = append(names, fmt.Sprintf("%s:%v", fi.Name, fi.IsDir()))
		return nil
	}))
	if strings.Join(names, " ") != "top:false x:true" {
		t.Errorf("root lists %v, want [top:false x:true]", names)
	}
	err := u.Delete(ctx, "x")
	if !errors.Is(err, syscall.ENOTEMPTY) {
		t.Errorf("Delete of an implied non-empty directory: %v, want ENOTEMPTY", err)
	}

	// Written here: read by anyone as plain objects and markers.
	must(t, u.Mkdir(ctx, "newdir", 0o755))
	if size, ok := rawSize("mnt/newdir/"); !ok || size != 0 {
		t.Errorf("Mkdir did not write the zero-byte marker mnt/newdir/ (size %d, found %v)", size, ok)
	}
	if h, err := g.admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("mnt/newdir/")}); err != nil ||
		aws.ToString(h.ContentType) != "application/x-directory" {
		t.Errorf("the marker's content type: %v, %v; want application/x-directory", h, err)
	}
	// Stat finds the marker by a listing, which gives its time.
	mh, err := g.admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("mnt/newdir/")})
	must(t, err)
	if fi, err := u.Stat(ctx, "newdir"); err != nil || !fi.IsDir() || !fi.ModTime.Equal(aws.ToTime(mh.LastModified)) {
		t.Errorf("Stat(newdir) = %+v, %v; want a directory with its marker's time %v", fi, err, aws.ToTime(mh.LastModified))
	}
	written := putFile(t, u, "newdir/f", []byte("hello"))
	if size, ok := rawSize("mnt/newdir/f"); !ok || size != 5 {
		t.Errorf("file newdir/f is not the object mnt/newdir/f of 5 bytes (size %d, found %v)", size, ok)
	}
	fi, err := u.Stat(ctx, "newdir/f")
	must(t, err)
	h, err := g.admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("mnt/newdir/f")})
	must(t, err)
	if fi.ETag == "" || fi.ETag != strings.Trim(aws.ToString(h.ETag), `"`) || written.ETag != fi.ETag {
		t.Errorf("ETag %q (%q from the write), the object's is %s", fi.ETag, written.ETag, aws.ToString(h.ETag))
	}
	if _, err := u.Stat(ctx, "elsewhere"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a key outside the mount is visible: %v", err)
	}

	// Copy on the server; directories refused.
	must(t, u.Copy(ctx, "newdir/f", "copied"))
	if got := readFile(t, u, "copied"); string(got) != "hello" {
		t.Errorf("copied = %q", got)
	}
	if err := u.Copy(ctx, "newdir", "d2"); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Copy of a directory: %v, want EISDIR", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestMultipart writes a file of three 5MB parts and checks the requests
// and the bytes, then that Abort frees an upload in progress.
func TestMultipart(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL, keyPartSize, "5MB"))
	ctx := t.Context()

	data := randomBytes(2*5<<20+777_777, 3)
	w, err := u.Create(ctx, "big", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	ufstest.WriteInPieces(t, w, data, 1_000_003)
	if _, err := u.Stat(ctx, "big"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file is visible before Close: %v", err)
	}
	fi, err := w.Close(ctx)
	must(t, err)
	reqs := p.requests()
	if n := count(reqs, "POST", "?uploads"); n != 1 {
		t.Errorf("%d CreateMultipartUpload requests, want 1: %q", n, reqs)
	}
	if n := count(reqs, "PUT", "partNumber="); n != 3 {
		t.Errorf("%d UploadPart requests, want 3: %q", n, reqs)
	}
	if n := count(reqs, "POST", "uploadId="); n != 1 {
		t.Errorf("%d CompleteMultipartUpload requests, want 1: %q", n, reqs)
	}
	if fi.Size != int64(len(data)) || !strings.HasSuffix(fi.ETag, "-3") {
		t.Errorf("Close = %+v, want %d bytes and a 3-part ETag", fi, len(data))
	}
	if got := readFile(t, u, "big"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
	}
	// Ranges across the part boundaries.
	for _, off := range []int64{5<<20 - 10, 2*5<<20 - 1, int64(len(data)) - 5} {
		r, err := u.OpenRange(ctx, "big", off, 20)
		must(t, err)
		got, err := io.ReadAll(r)
		r.Close()
		must(t, err)
		if want := data[off:min(off+20, int64(len(data)))]; !bytes.Equal(got, want) {
			t.Errorf("range at %d differs", off)
		}
	}

	// A server-side multipart copy (forced by a tiny copy limit).
	u.copyLimit = 1
	p.requests()
	must(t, u.Rename(ctx, "big", "moved"))
	if n := count(p.requests(), "PUT", "partNumber="); n != 3 {
		t.Errorf("%d UploadPartCopy requests for the rename, want 3", n)
	}
	if got := readFile(t, u, "moved"); !bytes.Equal(got, data) {
		t.Fatalf("the copied file differs")
	}

	// Abort after two parts: nothing visible, the upload gone.
	w, err = u.Create(ctx, "aborted", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	if _, err := w.Write(data[:2*5<<20+1]); err != nil {
		t.Fatal(err)
	}
	must(t, w.Abort())
	if n := count(p.requests(), "DELETE", "uploadId="); n != 1 {
		t.Errorf("%d AbortMultipartUpload requests, want 1", n)
	}
	if _, err := u.Stat(ctx, "aborted"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Abort: %v", err)
	}
	lu, err := g.admin.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	must(t, err)
	if len(lu.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after Abort", len(lu.Uploads))
	}
}

// TestMultipartFailure: when a part cannot be uploaded the writer fails,
// aborts the upload and leaves the old file as it was.
func TestMultipartFailure(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL, keyPartSize, "5MB", keyMaxRetry, "1"))
	ctx := t.Context()
	putFile(t, u, "f", []byte("old"))
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.RawQuery, "partNumber=2") {
			s3Error(w, http.StatusInternalServerError, "InternalError")
			return true
		}
		return false
	}, nil)
	w, err := u.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	_, err = w.Write(randomBytes(3*5<<20, 4))
	errContains(t, err, "s3://"+bucket+"/f", "part 2", "HTTP 500")
	if _, cerr := w.Close(ctx); cerr == nil {
		t.Error("Close after a failed Write succeeded")
	}
	if got := readFile(t, u, "f"); string(got) != "old" {
		t.Errorf("f = %q after a failed rewrite, want the old content", got)
	}
	lu, err := g.admin.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	must(t, err)
	if len(lu.Uploads) != 0 {
		t.Errorf("%d multipart uploads left after a failure", len(lu.Uploads))
	}
}

// TestPathStyle checks both addressing styles on the wire: path style
// (http://host/bucket/key) with disable.dns.buckets=true, virtual hosts
// (http://bucket.host/key) otherwise. Every host name is dialled at the
// proxy on 127.0.0.1.
func TestPathStyle(t *testing.T) {
	g := startGateway(t, "--virtual-domain", "s3.test")
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	_, port, _ := net.SplitHostPort(p.srv.Listener.Addr().String())
	endpoint := "http://s3.test:" + port
	var mu sync.Mutex
	var hosts []string
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		hosts = append(hosts, r.Method+" "+r.Host+" "+r.URL.Path)
		if !strings.HasPrefix(r.RequestURI, "/") {
			// Not origin form (the absolute form a proxy gets).
			hosts = append(hosts, "request line "+r.Method+" "+r.RequestURI)
		}
		return false
	}, nil)
	for _, tt := range []struct {
		pathStyle string
		host      string
		path      string
	}{
		{"true", "s3.test:" + port, "/" + bucket + "/f"},
		{"false", bucket + ".s3.test:" + port, "/f"},
	} {
		t.Run("disable.dns.buckets="+tt.pathStyle, func(t *testing.T) {
			opts := options(endpoint, keyPathStyle, tt.pathStyle)
			u := openStore(t, "s3://"+bucket+"/", opts)
			u.transport.Proxy = nil
			u.transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, p.srv.Listener.Addr().String())
			}
			mu.Lock()
			hosts = nil
			mu.Unlock()
			putFile(t, u, "f", []byte("style "+tt.pathStyle))
			if got := readFile(t, u, "f"); string(got) != "style "+tt.pathStyle {
				t.Errorf("read %q", got)
			}
			putFile(t, u, "g", nil)
			must(t, u.DeleteFile(t.Context(), "g"))
			if _, err := u.Stat(t.Context(), "g"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("g after DeleteFile: %v, want ENOENT", err)
			}
			mu.Lock()
			defer mu.Unlock()
			del := "DELETE " + tt.host + " " + strings.TrimSuffix(tt.path, "f") + "g"
			deleted := false
			for _, h := range hosts {
				switch {
				case !strings.Contains(h, " "+tt.host+" "):
					t.Errorf("request %q, want one to host %s", h, tt.host)
				case h == del:
					deleted = true
				case strings.HasPrefix(h, "DELETE "):
					t.Errorf("request %q, want %q", h, del)
				case strings.HasSuffix(h, "/g"), strings.HasSuffix(h, " "+strings.TrimSuffix(tt.path, "/f")),
					strings.HasSuffix(h, " /"):
					// g's upload, and the listing of Stat's look for a directory g
				case h != "GET "+tt.host+" "+tt.path && h != "PUT "+tt.host+" "+tt.path:
					t.Errorf("request %q, want one to %q", h, tt.host+" "+tt.path)
				}
			}
			if !deleted {
				t.Errorf("no %q among %q", del, hosts)
			}
			if len(hosts) == 0 {
				t.Error("no request reached the proxy")
			}
		})
	}
}

// TestCABundlePlainHTTP: with AWS_CA_BUNDLE naming a real file, a plain
// http endpoint works, with static keys and with the SDK's default chain.
func TestCABundlePlainHTTP(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	_, pemFile := newTLSProxy(t, g.url) // any real certificate will do
	t.Setenv(envCABundle, pemFile)

	u := openStore(t, "s3://"+bucket+"/", options(g.url))
	putFile(t, u, "static", []byte("static keys"))
	if got := readFile(t, u, "static"); string(got) != "static keys" {
		t.Errorf("read %q", got)
	}

	// No keys in the options: the default chain finds them in the
	// environment, and the SDK's loader sees AWS_CA_BUNDLE too.
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	opts := options(g.url)
	delete(opts, keyAccessKeyID)
	delete(opts, keySecretKey)
	u2 := openStore(t, "s3://"+bucket+"/", opts)
	if got := readFile(t, u2, "static"); string(got) != "static keys" {
		t.Errorf("read %q with the default chain", got)
	}
}

// TestCABundleBad: a missing or empty bundle fails Open, naming the
// variable.
func TestCABundleBad(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file string
		want error
	}{
		{filepath.Join(dir, "missing.pem"), fs.ErrNotExist},
		{empty, syscall.EINVAL},
		{dir, syscall.EISDIR},
	} {
		t.Setenv(envCABundle, tt.file)
		_, err := ufs.Open("s3://bkt/", options("http://127.0.0.1:1"))
		errContains(t, err, envCABundle, tt.file)
		if !errors.Is(err, tt.want) {
			t.Errorf("AWS_CA_BUNDLE=%s: %v, want %v", tt.file, err, tt.want)
		}
		noSecret(t, err)
	}
}

// TestHTTPS puts a TLS-terminating proxy in front of the gateway: the
// store trusts it only through AWS_CA_BUNDLE.
func TestHTTPS(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p, pemFile := newTLSProxy(t, g.url)
	endpoint := p.srv.URL // https://127.0.0.1:port

	t.Run("with the bundle", func(t *testing.T) {
		t.Setenv(envCABundle, pemFile)
		u := openStore(t, "s3://"+bucket+"/", options(endpoint))
		putFile(t, u, "tls", []byte("over TLS"))
		if got := readFile(t, u, "tls"); string(got) != "over TLS" {
			t.Errorf("read %q", got)
		}
		if len(p.requests()) == 0 {
			t.Error("no request went through the TLS proxy")
		}
	})
	t.Run("without the bundle", func(t *testing.T) {
		t.Setenv(envCABundle, "")
		u := openStore(t, "s3://"+bucket+"/", options(endpoint))
		var err error
		quick(t, 5*time.Second, "Stat of an untrusted endpoint", func() { _, err = u.Stat(t.Context(), "") })
		errContains(t, err, "s3://"+bucket, endpoint, "certificate", envCABundle)
		if !errors.Is(err, syscall.EACCES) {
			t.Errorf("error %v, want EACCES", err)
		}
		noSecret(t, err)
	})
	t.Run("http to an https endpoint", func(t *testing.T) {
		plain := "http://" + p.srv.Listener.Addr().String()
		u := openStore(t, "s3://"+bucket+"/", options(plain, keyMaxRetry, "0"))
		_, err := u.Stat(t.Context(), "")
		if err == nil {
			t.Fatal("plain http to a TLS port succeeded")
		}
		noSecret(t, err)
	})
}

// TestRetries injects 500 and 503 SlowDown answers: the first requests
// fail, then every other request for a whole workload; everything still
// succeeds.
func TestRetries(t *testing.T) {
	u, p, _ := proxiedStore(t, keyPartSize, "5MB")
	ctx := t.Context()
	var failed atomic.Int64
	inject := func(w http.ResponseWriter, n int) {
		failed.Add(1)
		if n%2 == 0 {
			s3Error(w, http.StatusServiceUnavailable, "SlowDown")
		} else {
			s3Error(w, http.StatusInternalServerError, "InternalError")
		}
	}

	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n <= 4 {
			inject(w, n)
			return true
		}
		return false
	}, nil)
	fi, err := u.Stat(ctx, "")
	if err != nil || !fi.IsDir() || failed.Load() != 4 {
		t.Fatalf("Stat after 4 failures: %+v, %v (%d failures injected)", fi, err, failed.Load())
	}

	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n%2 == 1 {
			inject(w, n)
			return true
		}
		return false
	}, nil)
	failed.Store(0)
	data := randomBytes(2*5<<20+12345, 5)
	must(t, u.Mkdir(ctx, "d", 0o755))
	putFile(t, u, "d/big", data)
	putFile(t, u, "d/small", []byte("small"))
	if got := readFile(t, u, "d/big"); !bytes.Equal(got, data) {
		t.Fatal("big file differs")
	}
	n := 0
	must(t, u.List(ctx, "d", func(ufs.FileInfo) error { n++; return nil }))
	if n != 2 {
		t.Errorf("d lists %d entries, want 2", n)
	}
	must(t, u.Rename(ctx, "d", "e"))
	must(t, u.Delete(ctx, "e/small"))
	if got := readFile(t, u, "e/big"); !bytes.Equal(got, data) {
		t.Fatal("renamed big file differs")
	}
	putFile(t, u, "e/gone", []byte("x"))
	before := failed.Load()
	must(t, u.DeleteFile(ctx, "e/gone"))
	if _, err := u.Stat(ctx, "e/gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("e/gone after DeleteFile: %v, want ENOENT", err)
	}
	if failed.Load() == before {
		t.Error("no failure injected into DeleteFile's requests")
	}
	if failed.Load() < 10 {
		t.Errorf("only %d failures injected", failed.Load())
	}
}

// TestAlwaysFailing: a server that always answers 500 makes operations
// fail quickly with the key and the status.
func TestAlwaysFailing(t *testing.T) {
	u, p, bucket := proxiedStore(t, keyMaxRetry, "2")
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		s3Error(w, http.StatusInternalServerError, "InternalError")
		return true
	}, nil)
	ctx := t.Context()
	var err error
	quick(t, 5*time.Second, "Stat against a failing server", func() { _, err = u.Stat(ctx, "some/key") })
	errContains(t, err, "s3://"+bucket+"/some/key", "HTTP 500", "after 3 attempts")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("error %v, want EIO", err)
	}
	if n := len(p.requests()); n != 3 {
		t.Errorf("%d requests, want 3 (1 + max.error.retry)", n)
	}
	w, err := u.Create(ctx, "some/file", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write([]byte("x"))
	_, err = w.Close(ctx)
	errContains(t, err, "s3://"+bucket+"/some/file", "HTTP 500")
	noSecret(t, err)
	p.requests()
	quick(t, 5*time.Second, "DeleteFile against a failing server", func() { err = u.DeleteFile(ctx, "some/key") })
	errContains(t, err, "s3://"+bucket+"/some/key", "HTTP 500 InternalError", "after 3 attempts")
	if !errors.Is(err, syscall.EIO) {
		t.Errorf("DeleteFile: %v, want EIO", err)
	}
	if reqs := p.requests(); len(reqs) != 3 || !strings.HasPrefix(reqs[0], "DELETE /"+bucket+"/some/key") {
		t.Errorf("DeleteFile made %q, want 3 DELETEs of the key", reqs)
	}
	noSecret(t, err)
}

// TestReadResume: a GetObject answer that breaks off, or stalls for longer
// than the request timeout, is resumed where it stopped.
func TestReadResume(t *testing.T) {
	u, p, _ := proxiedStore(t, keyTimeout, "500ms")
	data := randomBytes(3<<20, 6)
	putFile(t, u, "f", data)

	for _, tt := range []struct {
		name  string
		stall time.Duration // how long a stalled answer waits for the client to give up
	}{{"cut", 0}, {"stall", 10 * time.Second}} {
		t.Run(tt.name, func(t *testing.T) {
			var done atomic.Bool
			p.set(nil, func(w http.ResponseWriter, r *http.Request, n int) http.ResponseWriter {
				if r.Method != http.MethodGet || done.Swap(true) {
					return w
				}
				return &httpfault.CutWriter{ResponseWriter: w, Left: 256 << 10, Stall: tt.stall, Ctx: r.Context()}
			})
			p.requests()
			var got []byte
			quick(t, 4*time.Second, "a resumed read", func() { got = readFile(t, u, "f") })
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes differing from the %d written", len(got), len(data))
			}
			if n := count(p.requests(), "GET"); n != 2 {
				t.Errorf("%d GET requests, want 2", n)
			}
		})
	}
	p.set(nil, nil)

	// The object changes under a resumed read: the read fails.
	t.Run("changed", func(t *testing.T) {
		var done atomic.Bool
		p.set(nil, func(w http.ResponseWriter, r *http.Request, n int) http.ResponseWriter {
			if r.Method != http.MethodGet || done.Swap(true) {
				return w
			}
			return &httpfault.CutWriter{ResponseWriter: w, Left: 64 << 10, Ctx: r.Context()}
		})
		r, err := u.OpenRange(t.Context(), "f", 0, -1)
		must(t, err)
		defer r.Close()
		buf := make([]byte, 32<<10)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		putFile(t, u, "f", []byte("rewritten"))
		_, err = io.ReadAll(r)
		if !errors.Is(err, syscall.ESTALE) {
			t.Errorf("reading on after a rewrite: %v, want ESTALE", err)
		}
	})
}

// TestRequestTimeout: a server that does not answer within the request
// timeout fails the request after the retries, saying so.
func TestRequestTimeout(t *testing.T) {
	u, p, bucket := proxiedStore(t, keyTimeout, "200ms", keyMaxRetry, "1")
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return true
	}, nil)
	var err error
	quick(t, 3*time.Second, "Stat against a silent server", func() { _, err = u.Stat(t.Context(), "k") })
	errContains(t, err, "s3://"+bucket+"/k", keyTimeout)
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("error %v, want ETIMEDOUT", err)
	}

	// The caller's cancellation ends a request at once.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	u2 := openStore(t, "s3://"+bucket+"/", options(p.srv.URL))
	quick(t, 2*time.Second, "Stat with a deadline", func() { _, err = u2.Stat(ctx, "k") })
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("Stat past its deadline: %v, want context.DeadlineExceeded and ETIMEDOUT", err)
	}
}

// TestBadCredentials: refused credentials are reported as such, without
// the secret.
func TestBadCredentials(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	for _, tt := range []struct {
		name       string
		key, value string
	}{
		{"wrong secret", keySecretKey, "wrong-secret-value-42"},
		{"unknown key id", keyAccessKeyID, "AKIAUNKNOWN"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := openStore(t, "s3://"+bucket+"/", options(g.url, tt.key, tt.value))
			var err error
			quick(t, 5*time.Second, "Stat with bad credentials", func() { _, err = u.Stat(t.Context(), "") })
			errContains(t, err, "s3://"+bucket, "access denied (check s3a.accessKeyId/s3a.secretKey)")
			if !errors.Is(err, syscall.EACCES) || !errors.Is(err, fs.ErrPermission) {
				t.Errorf("error %v, want EACCES", err)
			}
			noSecret(t, err)
			quick(t, 5*time.Second, "DeleteFile with bad credentials", func() { err = u.DeleteFile(t.Context(), "f") })
			errContains(t, err, "s3://"+bucket+"/f", "access denied (check s3a.accessKeyId/s3a.secretKey)")
			if !errors.Is(err, syscall.EACCES) {
				t.Errorf("DeleteFile: %v, want EACCES", err)
			}
			noSecret(t, err)
		})
	}
	t.Run("aws.* aliases", func(t *testing.T) {
		u := openStore(t, "s3://"+bucket+"/", map[string]string{
			"aws.accessKeyId": testAccessKey, "aws.secretKey": testSecretKey,
			keyEndpoint: g.url, keyPathStyle: "true",
		})
		if _, err := u.Stat(t.Context(), ""); err != nil {
			t.Errorf("Stat with aws.* keys: %v", err)
		}
	})
}

// TestUnreachable: an endpoint nobody listens on is named in the error of
// the root's Stat, which is what a mount does first.
func TestUnreachable(t *testing.T) {
	u := openStore(t, "s3://bucket/", options("http://127.0.0.1:1", keyMaxRetry, "1"))
	var err error
	quick(t, 5*time.Second, "Stat of an unreachable endpoint", func() { _, err = u.Stat(t.Context(), "") })
	errContains(t, err, "s3://bucket: endpoint http://127.0.0.1:1 unreachable")
	if !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("error %v, want EHOSTUNREACH", err)
	}
	noSecret(t, err)
}

// TestNoSuchBucket: a missing bucket is reported as such.
func TestNoSuchBucket(t *testing.T) {
	g := startGateway(t)
	u := openStore(t, "s3://no-such-bucket/dir/", options(g.url))
	_, err := u.Stat(t.Context(), "")
	errContains(t, err, "s3://no-such-bucket", "bucket no-such-bucket does not exist")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v, want ENOENT", err)
	}
	noSecret(t, err)
	err = u.DeleteFile(t.Context(), "f")
	errContains(t, err, "s3://no-such-bucket/dir/f", "bucket no-such-bucket does not exist")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DeleteFile: %v, want ENOENT", err)
	}
}

// TestNoCredentials: without keys and with nothing for the default chain
// to find, the error says what to set.
func TestNoCredentials(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	opts := options("http://127.0.0.1:1", keyMaxRetry, "0")
	delete(opts, keyAccessKeyID)
	delete(opts, keySecretKey)
	u := openStore(t, "s3://bkt/", opts)
	_, err := u.Stat(t.Context(), "")
	errContains(t, err, "s3://bkt", "no usable credentials", "s3a.accessKeyId")
	if !errors.Is(err, syscall.EACCES) {
		t.Errorf("error %v, want EACCES", err)
	}
}

// TestOddNames: names that need escaping survive writes, listings, server
// copies (x-amz-copy-source) and ranged reads.
func TestOddNames(t *testing.T) {
	g := startGateway(t)
	u := openStore(t, "s3://"+g.newBucket(t)+"/", options(g.url))
	ctx := t.Context()
	names := []string{"sp ace", "plus+sign", "per%cent", "ünï cødé", "q?mark", "hash#tag", "amp&eq=", "tilde~"}
	must(t, u.Mkdir(ctx, "dir with space", 0o755))
	for _, n := range names {
		putFile(t, u, "dir with space/"+n, []byte(n))
	}
	got := map[string]bool{}
	must(t, u.List(ctx, "dir with space", func(fi ufs.FileInfo) error { got[fi.Name] = true; return nil }))
	for _, n := range names {
		if !got[n] {
			t.Errorf("%q not listed (listed %v)", n, got)
		}
	}
	must(t, u.Rename(ctx, "dir with space", "renamed dir+"))
	for _, n := range names {
		if b := readFile(t, u, "renamed dir+/"+n); string(b) != n {
			t.Errorf("%q holds %q after the rename", n, b)
		}
	}
	// DeleteFile signs its request apart from the SDK (see lean): each
	// name must be escaped as it was signed.
	if u.lean == nil {
		t.Fatal("the store sends DELETEs through the SDK; want the lean path against a custom endpoint")
	}
	for _, n := range names {
		must(t, u.DeleteFile(ctx, "renamed dir+/"+n))
		if _, err := u.Stat(ctx, "renamed dir+/"+n); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q after DeleteFile: %v, want ENOENT", n, err)
		}
	}
}

// TestRenameLargeDir moves a directory of more than one listing page.
func TestRenameLargeDir(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1010 objects")
	}
	g := startGateway(t)
	u := openStore(t, "s3://"+g.newBucket(t)+"/", options(g.url))
	ctx := t.Context()
	const n = 1010
	must(t, u.Mkdir(ctx, "src", 0o755))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			w, err := u.Create(ctx, fmt.Sprintf("src/f%04d", i), ufs.CreateOptions{SizeHint: -1})
			if err == nil {
				w.Write([]byte{byte(i)})
				_, err = w.Close(ctx)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	must(t, u.Rename(ctx, "src", "dst"))
	if _, err := u.Stat(ctx, "src"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("src after the rename: %v", err)
	}
	count := 0
	must(t, u.List(ctx, "dst", func(fi ufs.FileInfo) error { count++; return nil }))
	if count != n {
		t.Errorf("dst lists %d entries, want %d", count, n)
	}
	if b := readFile(t, u, "dst/f1009"); len(b) != 1 || b[0] != byte(1009%256) {
		t.Errorf("dst/f1009 = %v", b)
	}
}

// TestRetarget: a file renamed while written lands at its new name while
// it is still one buffered part; once parts are uploaded it cannot move.
func TestRetarget(t *testing.T) {
	g := startGateway(t)
	u := openStore(t, "s3://"+g.newBucket(t)+"/", options(g.url, keyPartSize, "5MB"))
	ctx := t.Context()
	putFile(t, u, "old", []byte("another file now at the old name"))
	w, err := u.Create(ctx, "old", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write([]byte("moved"))
	must(t, w.(ufs.Retargeter).Retarget(ctx, "new"))
	fi, err := w.Close(ctx)
	must(t, err)
	if fi.Name != "new" {
		t.Errorf("Close describes %q, want new", fi.Name)
	}
	if got := readFile(t, u, "new"); string(got) != "moved" {
		t.Errorf("new = %q", got)
	}
	if got := readFile(t, u, "old"); string(got) != "another file now at the old name" {
		t.Errorf("old = %q: it was touched", got)
	}

	w, err = u.Create(ctx, "big", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write(randomBytes(5<<20+1, 7))
	err = w.(ufs.Retargeter).Retarget(ctx, "elsewhere")
	if !errors.Is(err, syscall.EXDEV) {
		t.Errorf("Retarget after a part: %v, want EXDEV", err)
	}
	must(t, w.Abort())
}

// TestServerSideEncryption: with SSE on, every upload asks for it, the
// small ones sent without the SDK (see lean) as well as multipart ones,
// and the server accepts the signed header. (versitygw does not encrypt,
// so what is checked is the request.)
func TestServerSideEncryption(t *testing.T) {
	u, p, bucket := proxiedStore(t, keySSE, "true", keyPartSize, "5MB")
	var mu sync.Mutex
	var uploads []string
	p.set(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method == http.MethodPut || (r.Method == http.MethodPost && r.URL.Query().Has("uploads")) {
			mu.Lock()
			uploads = append(uploads, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Amz-Server-Side-Encryption"))
			mu.Unlock()
		}
		return false
	}, nil)
	small := []byte("small")
	big := randomBytes(6<<20, 3)
	putFile(t, u, "small", small)
	putFile(t, u, "big", big)
	if got := readFile(t, u, "small"); !bytes.Equal(got, small) {
		t.Errorf("small reads %q", got)
	}
	if got := readFile(t, u, "big"); !bytes.Equal(got, big) {
		t.Error("big differs")
	}
	mu.Lock()
	defer mu.Unlock()
	var sawSmall, sawBig bool
	for _, up := range uploads {
		switch {
		case up == "PUT /"+bucket+"/small AES256":
			sawSmall = true
		case up == "POST /"+bucket+"/big AES256":
			sawBig = true
		case strings.HasPrefix(up, "PUT /"+bucket+"/big "):
			// the parts: SSE is asked for when the upload starts
		default:
			t.Errorf("upload %q without AES256", up)
		}
	}
	if !sawSmall || !sawBig {
		t.Errorf("uploads %q: want the small PUT and the multipart start to ask for AES256", uploads)
	}
}

// TestCopyParts rewrites a 3-part file with its stored version as the
// base: the part whose bytes did not change is copied on the server
// (UploadPartCopy on the base's ETag), the others uploaded; once the base
// has been replaced, the copy is refused and every part is uploaded. The
// bytes are the new version's either way.
func TestCopyParts(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL, keyPartSize, "5MB"))
	ctx := t.Context()

	old := randomBytes(2*5<<20+777_777, 7)
	write := func(name string, data []byte, base *ufs.BaseVersion) (ufs.FileInfo, int64) {
		t.Helper()
		w, err := u.Create(ctx, name, ufs.CreateOptions{SizeHint: -1, Base: base})
		must(t, err)
		ufstest.WriteInPieces(t, w, data, 1_000_003)
		fi, err := w.Close(ctx)
		must(t, err)
		return fi, w.(ufs.CopyReporter).Copied()
	}
	fi, _ := write("big", old, nil)

	// A byte of the second part changed, 1,000 bytes appended.
	data := append(bytes.Clone(old), randomBytes(1000, 8)...)
	const changed = 5<<20 + 5
	data[changed] ^= 0xff
	base := &ufs.BaseVersion{Path: "big", Fingerprint: fi.Fingerprint(), Size: fi.Size,
		Unchanged: func(off, end int64) bool { return !(off <= changed && changed < end) }}
	p.requests()
	_, copied := write("big", data, base)
	reqs := p.requests()
	if n := count(reqs, "PUT", "partNumber=", "(copy)"); n != 1 || copied != 5<<20 {
		t.Errorf("%d parts copied (%d bytes), want the first (5 MiB): %q", n, copied, reqs)
	}
	if n := count(reqs, "PUT", "partNumber="); n != 3 {
		t.Errorf("%d parts in all, want 3: %q", n, reqs)
	}
	if got := readFile(t, u, "big"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
	}

	// The base is the version before the last now: replaced, so not
	// copied from.
	data2 := bytes.Clone(data)
	data2[changed] ^= 0x0f
	fi2, copied := write("big", data2, base)
	if copied != 0 {
		t.Errorf("%d bytes copied from a base replaced since", copied)
	}
	if got := readFile(t, u, "big"); !bytes.Equal(got, data2) {
		t.Fatalf("read back %d bytes after a refused copy, differing from the %d written", len(got), len(data2))
	}

	// A base that reads the bytes back: its parts are copied without
	// the writer holding them (both first parts at once).
	data3 := bytes.Clone(data2)
	data3[len(data3)-1] ^= 0xff
	base = &ufs.BaseVersion{Path: "big", Fingerprint: fi2.Fingerprint(), Size: fi2.Size,
		Unchanged: func(off, end int64) bool { return end < int64(len(data3)) }, ReadAt: bytes.NewReader(data3).ReadAt}
	if _, copied := write("big", data3, base); copied != 2*5<<20 {
		t.Errorf("%d bytes copied, want the first two parts'", copied)
	}
	if got := readFile(t, u, "big"); !bytes.Equal(got, data3) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data3))
	}

	// An append whose old bytes the store takes on its side: the last
	// 777,777 bytes are below S3's least part, so the second part copied
	// takes them too (10 MiB + 777,777), and nothing of the base is read.
	fi3, _ := write("big", data3, nil)
	tail := randomBytes(1000, 9)
	w, err := u.Create(ctx, "big", ufs.CreateOptions{SizeHint: -1, Base: &ufs.BaseVersion{Path: "big", Fingerprint: fi3.Fingerprint(),
		Size: fi3.Size, Unchanged: func(off, end int64) bool { return end <= fi3.Size }}})
	must(t, err)
	p.requests()
	must(t, w.(ufs.BaseTaker).TakeBase(fi3.Size))
	ufstest.WriteInPieces(t, w, tail, 100)
	_, err = w.Close(ctx)
	must(t, err)
	reqs = p.requests()
	if n := count(reqs, "PUT", "partNumber=", "(copy)"); n != 2 || w.(ufs.CopyReporter).Copied() != fi3.Size {
		t.Errorf("%d parts copied (%d bytes), want 2 (%d bytes): %q", n, w.(ufs.CopyReporter).Copied(), fi3.Size, reqs)
	}
	if n := count(reqs, "GET"); n != 0 {
		t.Errorf("%d reads, want none: %q", n, reqs)
	}
	if got, want := readFile(t, u, "big"), append(bytes.Clone(data3), tail...); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(want))
	}
}

// TestRangeIgnored: a gateway that answers a ranged GET with the whole
// object (200, no Content-Range) is read from the offset asked for.
func TestRangeIgnored(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL))
	data := randomBytes(100_000, 7)
	fi := putFile(t, u, "f", data)
	p.set(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Method != http.MethodGet || r.Header.Get("Range") == "" {
			return false
		}
		w.Header().Set("ETag", `"`+fi.ETag+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data)
		return true
	}, nil)
	for _, c := range []struct{ off, n int64 }{{0, 10}, {5, 10}, {99_990, -1}, {40_000, 30_000}, {200_000, 5}} {
		r, err := u.OpenRange(t.Context(), "f", c.off, c.n)
		if err != nil {
			t.Fatalf("OpenRange(%d, %d): %v", c.off, c.n, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		end := int64(len(data))
		if c.n >= 0 {
			end = min(end, c.off+c.n)
		}
		want := data[min(c.off, int64(len(data))):max(end, min(c.off, int64(len(data))))]
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("OpenRange(%d, %d) from a server ignoring Range: %d bytes, %v; want %d bytes from %d", c.off, c.n, len(got), err, len(want), c.off)
		}
	}
}

// TestUnsizedAnswerCut: an answer without a Content-Length (from a proxy
// speaking HTTP/1.0) that ends early, yet cleanly, is resumed, not taken
// for the object's end: whole (200) and ranged (206) reads.
func TestUnsizedAnswerCut(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	u := openStore(t, "s3://"+bucket+"/", options(p.srv.URL))
	data := randomBytes(1<<20, 8)
	fi := putFile(t, u, "f", data)
	for _, c := range []struct{ off, n int64 }{{0, -1}, {100_000, -1}, {100_000, 500_000}} {
		var cuts atomic.Int64
		p.set(func(w http.ResponseWriter, r *http.Request, _ int) bool {
			if r.Method != http.MethodGet || r.URL.Query().Has("list-type") || cuts.Add(1) > 1 {
				return false
			}
			status, first, last := "200 OK", int64(0), int64(len(data)-1)
			head := ""
			if c.off > 0 {
				status, first = "206 Partial Content", c.off
				if c.n > 0 {
					last = c.off + c.n - 1
				}
				head = fmt.Sprintf("Content-Range: bytes %d-%d/%d\r\n", first, last, len(data))
			}
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return true
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 %s\r\nETag: \"%s\"\r\n%sConnection: close\r\n\r\n", status, fi.ETag, head)
			buf.Write(data[first : first+(last-first+1)/2])
			buf.Flush()
			return true
		}, nil)
		r, err := u.OpenRange(t.Context(), "f", c.off, c.n)
		if err != nil {
			t.Fatalf("OpenRange(%d, %d): %v", c.off, c.n, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		end := int64(len(data))
		if c.n > 0 {
			end = c.off + c.n
		}
		if err != nil || !bytes.Equal(got, data[c.off:end]) {
			t.Errorf("OpenRange(%d, %d) with its first answer cut: %d bytes, %v; want the %d stored", c.off, c.n, len(got), err, end-c.off)
		}
		if n := cuts.Load(); n < 2 {
			t.Errorf("OpenRange(%d, %d): %d GETs, want the cut one and another", c.off, c.n, n)
		}
	}
}

// TestCopyTakesItsTime: a copy made in one request (a rename) whose answer
// comes after the request timeout, as a big object's does, is waited for
// (a second more for each 16 MiB).
func TestCopyTakesItsTime(t *testing.T) {
	u, p, _ := proxiedStore(t, keyTimeout, "1s")
	putFile(t, u, "f", randomBytes(64<<20, 9))
	p.set(func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			time.Sleep(1500 * time.Millisecond) // the server copying
		}
		return false
	}, nil)
	if err := u.Rename(t.Context(), "f", "g"); err != nil {
		t.Fatalf("rename whose copy takes longer than the request timeout: %v", err)
	}
	if fi, err := u.Stat(t.Context(), "g"); err != nil || fi.Size != 64<<20 {
		t.Fatalf("g after the rename: %+v, %v", fi, err)
	}
}

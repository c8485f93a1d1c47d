package s3

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/alluxio-go/alluxio/ufs"
)

// The root credentials every test gateway runs with.
const (
	testAccessKey = "AKIAALLUXIOGOTEST"
	testSecretKey = "alluxio-go-test-secret-0123456789"
)

// installHint is what a test says when the S3 server is not installed.
const installHint = "versitygw is not installed: run tests/s3/install-versitygw.sh (it puts it in .cache/bin)"

// gateway is a versitygw process serving a posix directory on 127.0.0.1.
type gateway struct {
	url   string // http://127.0.0.1:port
	dir   string // the posix backend: one directory per bucket
	admin *s3.Client
}

// versitygwPath finds the server binary: $VERSITYGW, else .cache/bin of the
// repository. Without it the test fails (skips under -short), telling how
// to install it.
func versitygwPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("VERSITYGW")
	if p == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for dir := wd; p == ""; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p = filepath.Join(dir, ".cache", "bin", "versitygw")
			} else if filepath.Dir(dir) == dir {
				t.Fatalf("no go.mod above %s; %s", wd, installHint)
			}
		}
	}
	if _, err := os.Stat(p); err != nil {
		if testing.Short() {
			t.Skipf("%s (looked for %s)", installHint, p)
		}
		t.Fatalf("%s (looked for %s)", installHint, p)
	}
	return p
}

// startGateway starts versitygw with the test credentials on a free port of
// 127.0.0.1 and stops it, by its PID, when the test ends.
func startGateway(t *testing.T, extra ...string) *gateway {
	t.Helper()
	bin := versitygwPath(t)
	var lastErr error
	for range 3 { // the free port may be taken between probe and listen
		g, err := tryGateway(t, bin, extra)
		if err == nil {
			return g
		}
		lastErr = err
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

func tryGateway(t *testing.T, bin string, extra []string) (*gateway, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	// Keep-alive as real S3 servers keep it (versitygw closes every
	// connection after one request without it).
	args := append([]string{"--access", testAccessKey, "--secret", testSecretKey, "--port", addr, "--quiet", "--keep-alive"}, extra...)
	args = append(args, "posix", dir)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("versitygw exited: %v: %s", err, out.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("versitygw does not answer on %s: %v: %s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(stop)
	g := &gateway{url: "http://" + addr, dir: dir}
	g.admin = s3.New(s3.Options{
		Region:       defaultRegion,
		BaseEndpoint: aws.String(g.url),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecretKey, ""),
	})
	return g, nil
}

// bucketSeq numbers the buckets of one test binary.
var bucketSeq atomic.Int64

// newBucket creates a fresh bucket and returns its name.
func (g *gateway) newBucket(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("b%d-%d", os.Getpid(), bucketSeq.Add(1))
	if _, err := g.admin.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
	return name
}

// options are the mount options of a store on endpoint with the test
// credentials, plus extra.
func options(endpoint string, extra ...string) map[string]string {
	o := map[string]string{
		keyAccessKeyID: testAccessKey,
		keySecretKey:   testSecretKey,
		keyEndpoint:    endpoint,
		keyPathStyle:   "true",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i]] = extra[i+1]
	}
	return o
}

// proxiedStore starts a gateway with a new bucket and opens the bucket
// through a fault-injecting proxy in front of it, with the options extra
// (key, value, ...) on top of the defaults.
func proxiedStore(t *testing.T, extra ...string) (*Store, *proxy, string) {
	t.Helper()
	g := startGateway(t)
	bucket := g.newBucket(t)
	p := newProxy(t, g.url)
	return openStore(t, "s3://"+bucket+"/", options(p.srv.URL, extra...)), p, bucket
}

// openStore opens uri with opts through the registry and closes it when the
// test ends.
func openStore(t *testing.T, uri string, opts map[string]string) *Store {
	t.Helper()
	u, err := ufs.Open(uri, opts)
	if err != nil {
		t.Fatalf("ufs.Open(%s): %v", uri, err)
	}
	t.Cleanup(func() { u.Close() })
	return u.(*Store)
}

// proxy is a reverse proxy in front of a gateway that records requests and
// can answer some of them itself. It keeps the Host header, which the
// request signatures cover.
type proxy struct {
	srv *httptest.Server

	mu   sync.Mutex
	reqs []string // "METHOD /path?query" of every request that reached it
	// fault, when set, sees each request with its number (from 1) and may
	// answer it itself (returning true).
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
	// body, when set, may wrap the response writer of a forwarded request.
	body func(w http.ResponseWriter, r *http.Request, n int) http.ResponseWriter
}

// newProxy starts a plain-http proxy to target.
func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{}
	p.srv = httptest.NewUnstartedServer(p.handler(t, target))
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// newTLSProxy starts an https proxy to target and returns it with a PEM
// file of its certificate.
func newTLSProxy(t *testing.T, target string) (*proxy, string) {
	p := &proxy{}
	p.srv = httptest.NewUnstartedServer(p.handler(t, target))
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the tests make fail
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	pemFile := filepath.Join(t.TempDir(), "proxy-ca.pem")
	writePEM(t, pemFile, p.srv.Certificate())
	return p, pemFile
}

// writePEM writes a certificate as a PEM file.
func writePEM(t *testing.T, name string, cert *x509.Certificate) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (p *proxy) handler(t *testing.T, target string) http.Handler {
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(tu)
			r.Out.Host = r.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0), // the tests cut connections on purpose
	}
	var seq atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(seq.Add(1))
		p.mu.Lock()
		req := r.Method + " " + r.URL.RequestURI()
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			req += " (copy)"
		}
		p.reqs = append(p.reqs, req)
		fault, body := p.fault, p.body
		p.mu.Unlock()
		if fault != nil && fault(w, r, n) {
			io.Copy(io.Discard, r.Body)
			return
		}
		if body != nil {
			w = body(w, r, n)
		}
		rp.ServeHTTP(w, r)
	})
}

// set installs fault and body hooks (nil to remove them).
func (p *proxy) set(fault func(http.ResponseWriter, *http.Request, int) bool,
	body func(http.ResponseWriter, *http.Request, int) http.ResponseWriter) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.body = fault, body
}

// requests returns the requests seen so far ("METHOD URI", with " (copy)"
// when the request copies from another object) and forgets them.
func (p *proxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

// count returns how many of reqs contain every one of parts.
func count(reqs []string, parts ...string) int {
	n := 0
next:
	for _, r := range reqs {
		for _, p := range parts {
			if !strings.Contains(r, p) {
				continue next
			}
		}
		n++
	}
	return n
}

// s3Error answers a request with an S3 error document.
func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test</Message><RequestId>test</RequestId></Error>`, code)
}

// putFile writes a whole file through the store.
func putFile(t *testing.T, u ufs.UFS, p string, data []byte) ufs.FileInfo {
	t.Helper()
	ctx := t.Context()
	w, err := u.Create(ctx, p, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	if err != nil {
		t.Fatalf("Create %s: %v", p, err)
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		t.Fatalf("Write %s: %v", p, err)
	}
	fi, err := w.Close(ctx)
	if err != nil {
		t.Fatalf("Close %s: %v", p, err)
	}
	return fi
}

// readFile reads a whole file through the store.
func readFile(t *testing.T, u ufs.UFS, p string) []byte {
	t.Helper()
	r, err := u.OpenRange(t.Context(), p, 0, -1)
	if err != nil {
		t.Fatalf("OpenRange %s: %v", p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return b
}

// noSecret fails if err's text holds a credential of the test.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{testSecretKey, testAccessKey, "wrong-secret-value-42"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q reveals a credential", err)
		}
	}
}

// errContains fails unless err's text has every one of parts.
func errContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

// quick runs f and fails if it takes longer than limit.
func quick(t *testing.T, limit time.Duration, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	if d := time.Since(start); d > limit {
		t.Errorf("%s took %v, want under %v", what, d, limit)
	}
}

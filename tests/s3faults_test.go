package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alluxio-go/alluxio/internal/httpfault"
)

// fault is what the fault proxy does to one request.
type fault int

const (
	pass        fault = iota // forward it
	err500                   // answer 500 InternalError
	slowDown                 // answer 503 SlowDown (S3's throttling)
	cutBody                  // forward it, and drop the connection part way through the answer's body
	stallBody                // forward it, and stop sending part way through the body until the client gives up
	stallHead                // answer nothing until the client gives up
	cutRequest               // read part of the request's body, then drop the connection
	loseAnswer               // forward it, and drop the connection instead of passing the answer on
	holdRequest              // forward it once the test calls release
)

func (f fault) String() string {
	return [...]string{"pass", "500 InternalError", "503 SlowDown", "connection cut mid-body",
		"stall mid-body", "stall before the answer", "connection cut mid-upload", "answer lost", "held"}[f]
}

// faultCut is where cutBody, stallBody and cutRequest break off: less than
// a page, so that every ranged read of the object meets it.
const faultCut = 100 << 10

// faultRule injects faults into the requests of one S3 operation on one
// key: the first len(first) such requests get first's faults in turn, the
// ones after them always (pass for none).
type faultRule struct {
	op     string // an S3 operation name, as s3Op returns it
	key    string // the object key
	first  []fault
	always fault
}

// faultProxy is an HTTP proxy in front of an S3 server that injects the
// faults of its rule into matching requests.
type faultProxy struct {
	url    string
	bucket string

	mu      sync.Mutex // guards the fields below
	rule    *faultRule
	matched int           // requests the rule matched
	faulted []string      // "op: fault" of each fault injected
	seen    []string      // "op key" of every request since the last took
	held    chan struct{} // closed by release
}

// startFaultProxy starts a proxy to the S3 server at target for path-style
// requests to bucket; it stops when the test ends.
// mount mounts s3://target through the proxy at the Alluxio path at, with
// the fault tests' short timeout and few retries, and extra options.
func (p *faultProxy) mount(c *cluster, at, target string, extra ...string) {
	args := []string{"fs", "mount",
		"--option", "s3a.accessKeyId=" + s3Key,
		"--option", "s3a.secretKey=" + s3Secret,
		"--option", "alluxio.underfs.s3.endpoint=" + p.url,
		"--option", "alluxio.underfs.s3.disable.dns.buckets=true",
		"--option", "alluxio.underfs.s3.request.timeout=" + faultTimeout,
		"--option", "alluxio.underfs.s3.max.error.retry=" + faultRetries}
	c.must("alluxio", append(append(args, extra...), at, "s3://"+target)...)
}

func startFaultProxy(t *testing.T, target, bucket string) *faultProxy {
	t.Helper()
	tu, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{bucket: bucket}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(tu)
			r.Out.Host = r.In.Host // the signature covers the host
		},
		ErrorLog: log.New(io.Discard, "", 0), // connections are cut on purpose
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f := p.fault(r); f {
		case pass:
			rp.ServeHTTP(w, r)
		case err500:
			io.Copy(io.Discard, r.Body)
			s3ErrorAnswer(w, http.StatusInternalServerError, "InternalError")
		case slowDown:
			io.Copy(io.Discard, r.Body)
			s3ErrorAnswer(w, http.StatusServiceUnavailable, "SlowDown")
		case cutBody:
			rp.ServeHTTP(&httpfault.CutWriter{ResponseWriter: w, Left: faultCut, Ctx: r.Context()}, r)
		case stallBody:
			rp.ServeHTTP(&httpfault.CutWriter{ResponseWriter: w, Left: faultCut, Stall: 30 * time.Second, Ctx: r.Context()}, r)
		case stallHead:
			io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
			s3ErrorAnswer(w, http.StatusServiceUnavailable, "SlowDown")
		case holdRequest:
			select {
			case <-p.holding():
				rp.ServeHTTP(w, r)
			case <-r.Context().Done():
			}
		case cutRequest, loseAnswer:
			if f == loseAnswer {
				rp.ServeHTTP(httptest.NewRecorder(), r)
			} else {
				io.CopyN(io.Discard, r.Body, faultCut)
			}
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// set installs a rule (nil for none) and forgets what the last one did.
func (p *faultProxy) set(r *faultRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule, p.matched, p.faulted = r, 0, nil
}

// holding returns the channel release closes.
func (p *faultProxy) holding() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = make(chan struct{})
	}
	return p.held
}

// release forwards the requests held (holdRequest), and those held later.
func (p *faultProxy) release() { close(p.holding()) }

// injected returns the faults injected under the current rule.
func (p *faultProxy) injected() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.faulted...)
}

// took returns the requests ("op key") the proxy passed or answered since
// the last call, and forgets them.
func (p *faultProxy) took() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.seen
	p.seen = nil
	return s
}

// fault decides the fault of one request.
func (p *faultProxy) fault(r *http.Request) fault {
	op, key := p.classify(r)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, op+" "+key)
	rule := p.rule
	if rule == nil || rule.op != op || rule.key != key {
		return pass
	}
	f := rule.always
	if p.matched < len(rule.first) {
		f = rule.first[p.matched]
	}
	p.matched++
	if f != pass {
		p.faulted = append(p.faulted, op+": "+f.String())
	}
	return f
}

// classify names the S3 operation of a path-style request and its key.
func (p *faultProxy) classify(r *http.Request) (op, key string) {
	q := r.URL.Query()
	if r.Method == http.MethodPost && q.Has("delete") {
		return "DeleteObjects", "" // the keys are in the body
	}
	key, ok := strings.CutPrefix(r.URL.Path, "/"+p.bucket+"/")
	if !ok || key == "" {
		return "bucket", ""
	}
	switch {
	case r.Method == http.MethodGet:
		return "GetObject", key
	case r.Method == http.MethodHead:
		return "HeadObject", key
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart", key
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		return "CopyObject", key
	case r.Method == http.MethodPut:
		return "PutObject", key
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload", key
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload", key
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload", key
	case r.Method == http.MethodDelete:
		return "DeleteObject", key
	}
	return r.Method, key
}

// s3ErrorAnswer answers with an S3 error document.
func s3ErrorAnswer(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test</Message><RequestId>fault</RequestId></Error>`, code)
}

// Settings of the faulty mount: a short request timeout and few retries
// keep the cases that must fail short.
const (
	faultTimeout  = "1s"
	faultRetries  = "3"
	faultPartSize = 5 << 20
)

// TestS3FaultsThroughMount puts a fault-injecting proxy between a nested
// S3 mount and versitygw and reads and writes through the FUSE mount while
// the store answers 500, throttles with 503 SlowDown, drops a connection
// in the middle of a body or stalls past the request timeout: reads are
// retried and return the object's bytes, or fail with EIO when the store
// keeps failing; a write is reported complete only when the bucket holds
// the whole object. Then mounts that cannot work (wrong credentials, a
// missing bucket, an endpoint nobody answers on) are refused with an
// error naming the mount point and the store, and no credential.
func TestS3FaultsThroughMount(t *testing.T) {
	const bucket, prefix = "faults", "data/"
	endpoint, _, admin := startBucket(t, bucket)
	proxy := startFaultProxy(t, endpoint, bucket)
	c := newCluster(t, map[string]string{
		"alluxio.fuse.entry.timeout": "0",
		"alluxio.fuse.attr.timeout":  "0",
	})
	c.start()
	proxy.mount(c, "/s3", bucket+"/"+prefix,
		"--option", fmt.Sprintf("alluxio.underfs.s3.multipart.part.size=%d", faultPartSize))
	mnt := filepath.Join(c.mnt, "s3")
	stored := func(key string) ([]byte, error) {
		out, err := admin.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + key)})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(out.Body)
	}

	t.Run("read", func(t *testing.T) {
		cases := []struct {
			name   string
			first  []fault
			always fault
			fails  bool
		}{
			{"500s", []fault{err500, err500}, pass, false},
			{"SlowDown", []fault{slowDown, slowDown, slowDown}, pass, false},
			{"cut mid-body", []fault{cutBody, cutBody}, pass, false},
			{"stall mid-body", []fault{stallBody}, pass, false},
			{"stall before the answer", []fault{stallHead}, pass, false},
			{"mixed", []fault{slowDown, cutBody, err500, stallBody}, pass, false},
			{"always 500", nil, err500, true},
			{"always cut", nil, cutBody, true},
			{"always stalled", nil, stallBody, true},
		}
		// The objects are put straight into the bucket, so that no read
		// finds them cached.
		data := randomData(6<<20+333, 11)
		for _, tc := range cases {
			if _, err := admin.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket),
				Key: aws.String(prefix + "r/" + strings.ReplaceAll(tc.name, " ", "-")), Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
		}
		c.must("alluxio", "fs", "loadMetadata", "-R", "/s3")
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				name := strings.ReplaceAll(tc.name, " ", "-")
				key := prefix + "r/" + name
				proxy.set(&faultRule{op: "GetObject", key: key, first: tc.first, always: tc.always})
				defer proxy.set(nil)
				start := time.Now()
				got, err := os.ReadFile(filepath.Join(mnt, "r", name))
				took := time.Since(start)
				injected := proxy.injected()
				t.Logf("read in %v, %d faults injected, err %v", took.Round(time.Millisecond), len(injected), err)
				if len(injected) == 0 {
					t.Fatal("no fault was injected: the read never reached the store")
				}
				if tc.fails {
					if !errors.Is(err, syscall.EIO) {
						t.Fatalf("read from a store that keeps failing: %d bytes, %v; want EIO", len(got), err)
					}
					// The store recovers: the next read succeeds and is whole.
					proxy.set(nil)
					got, err = os.ReadFile(filepath.Join(mnt, "r", name))
				}
				if err != nil {
					t.Fatalf("read: %v (faults: %v)", err, injected)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("read %d bytes that differ from the %d stored (faults: %v)", len(got), len(data), injected)
				}
			})
		}
	})

	t.Run("write", func(t *testing.T) {
		small := randomData(100<<10, 12)
		large := randomData(2*faultPartSize+4321, 13) // three parts
		cases := []struct {
			name  string
			data  []byte
			rule  faultRule // its key is filled in
			fails bool
		}{
			{"PutObject 500s", small, faultRule{op: "PutObject", first: []fault{err500, err500}}, false},
			{"PutObject SlowDown", small, faultRule{op: "PutObject", first: []fault{slowDown, slowDown}}, false},
			{"PutObject cut mid-upload", small, faultRule{op: "PutObject", first: []fault{cutRequest}}, false},
			{"PutObject stalled", small, faultRule{op: "PutObject", first: []fault{stallHead}}, false},
			{"UploadPart faults", large, faultRule{op: "UploadPart", first: []fault{slowDown, cutRequest, stallHead}}, false},
			{"CreateMultipartUpload 500", large, faultRule{op: "CreateMultipartUpload", first: []fault{err500}}, false},
			{"CompleteMultipartUpload SlowDown", large, faultRule{op: "CompleteMultipartUpload", first: []fault{slowDown, err500}}, false},
			{"PutObject answer lost", small, faultRule{op: "PutObject", first: []fault{loseAnswer}}, false},
			{"UploadPart answer lost", large, faultRule{op: "UploadPart", first: []fault{loseAnswer}}, false},
			{"CompleteMultipartUpload answer lost", large, faultRule{op: "CompleteMultipartUpload", first: []fault{loseAnswer}}, false},
			{"PutObject always 500", small, faultRule{op: "PutObject", always: err500}, true},
			{"PutObject always cut", small, faultRule{op: "PutObject", always: cutRequest}, true},
			{"UploadPart always SlowDown", large, faultRule{op: "UploadPart", always: slowDown}, true},
			{"CompleteMultipartUpload always 500", large, faultRule{op: "CompleteMultipartUpload", always: err500}, true},
		}
		if err := os.Mkdir(filepath.Join(mnt, "w"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				key := "w/" + strings.ReplaceAll(tc.name, " ", "-")
				rule := tc.rule
				rule.key = prefix + key
				proxy.set(&rule)
				defer proxy.set(nil)
				err := os.WriteFile(filepath.Join(mnt, key), tc.data, 0o644)
				injected := proxy.injected()
				t.Logf("write: %d faults injected, err %v", len(injected), err)
				if len(injected) == 0 {
					t.Fatal("no fault was injected: the write never reached the store")
				}
				proxy.set(nil)
				got, serr := stored(key)
				if err == nil {
					// Reported complete: the bucket must hold all of it.
					if serr != nil || !bytes.Equal(got, tc.data) {
						t.Fatalf("the write was reported complete, but the bucket holds %d bytes (want %d): %v (faults: %v)",
							len(got), len(tc.data), serr, injected)
					}
					if tc.fails {
						t.Fatalf("a write to a store that keeps failing was reported complete (faults: %v)", injected)
					}
					checkMount(t, filepath.Join(mnt, key), tc.data)
					return
				}
				if !tc.fails {
					t.Fatalf("the write failed although the store recovered: %v (faults: %v)", err, injected)
				}
				if !errors.Is(err, syscall.EIO) {
					t.Errorf("the failed write reported %v, want EIO", err)
				}
				// open(O_CREAT) made the file, so an empty object may
				// stand for it (as an empty file would on a local disk,
				// and the FUSE daemon may put it after the failed close);
				// none of the failed write's bytes may be there.
				var nsk *types.NoSuchKey
				if !errors.As(serr, &nsk) && (serr != nil || len(got) != 0) {
					t.Fatalf("after a failed write the bucket holds %d bytes at %s: %v; want no object or an empty one", len(got), key, serr)
				}
				// No part of a failed multipart upload is left behind.
				ups, err := admin.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket),
					Prefix: aws.String(prefix + key)})
				if err != nil {
					t.Fatal(err)
				}
				if len(ups.Uploads) != 0 {
					t.Errorf("%d multipart uploads of %s left behind", len(ups.Uploads), key)
				}
				// The name is free again: a second write, with the store
				// healthy, succeeds whole.
				if fi, err := os.Stat(filepath.Join(mnt, key)); err == nil {
					t.Logf("after the failed write the mount shows %s with %d bytes", key, fi.Size())
				}
				if err := os.WriteFile(filepath.Join(mnt, key), tc.data, 0o644); err != nil {
					t.Fatalf("writing again with the store healthy: %v", err)
				}
				if got, err := stored(key); err != nil || !bytes.Equal(got, tc.data) {
					t.Fatalf("the second write: the bucket holds %d bytes, %v", len(got), err)
				}
			})
		}
	})

	t.Run("mount errors", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := l.Addr().String()
		l.Close()
		const wrongSecret = "wrong-secret-never-shown"
		cases := []struct {
			name    string
			mount   string
			uri     string
			options []string
			want    []string // in the error, besides the mount point and the store
		}{
			{"wrong credentials", "/bad-key", "s3://" + bucket + "/",
				[]string{"s3a.accessKeyId=" + s3Key, "s3a.secretKey=" + wrongSecret, "alluxio.underfs.s3.endpoint=" + endpoint},
				[]string{"denied", "s3a.secretKey"}},
			{"missing bucket", "/bad-bucket", "s3://no-such-bucket/x/",
				[]string{"s3a.accessKeyId=" + s3Key, "s3a.secretKey=" + s3Secret, "alluxio.underfs.s3.endpoint=" + endpoint},
				[]string{"no-such-bucket", "does not exist"}},
			{"bad endpoint", "/bad-endpoint", "s3://" + bucket + "/",
				[]string{"s3a.accessKeyId=" + s3Key, "s3a.secretKey=" + s3Secret, "alluxio.underfs.s3.endpoint=http://" + dead,
					"alluxio.underfs.s3.max.error.retry=1"},
				[]string{dead}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				args := []string{"fs", "mount"}
				for _, o := range append(tc.options, "alluxio.underfs.s3.disable.dns.buckets=true") {
					args = append(args, "--option", o)
				}
				out, err := c.run("alluxio", append(args, tc.mount, tc.uri)...)
				t.Logf("refused: %s", strings.TrimSpace(out))
				if err == nil {
					t.Fatalf("the mount succeeded:\n%s", out)
				}
				for _, w := range append([]string{tc.mount, strings.TrimSuffix(tc.uri, "/")}, tc.want...) {
					if !strings.Contains(out, w) {
						t.Errorf("the error does not say %q:\n%s", w, out)
					}
				}
				for _, secret := range []string{s3Secret, wrongSecret} {
					if strings.Contains(out, secret) {
						t.Errorf("the error shows a secret key:\n%s", out)
					}
				}
				if _, err := os.Stat(filepath.Join(c.mnt, tc.mount)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the refused mount point: %v, want ENOENT", err)
				}
			})
		}
		if out := c.must("alluxio", "fs", "mount"); strings.Contains(out, "/bad-") {
			t.Errorf("a refused mount is in the mount table:\n%s", out)
		}
	})

	logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(s3Secret)) {
			t.Errorf("%s contains the S3 secret", filepath.Base(l))
		}
	}
}

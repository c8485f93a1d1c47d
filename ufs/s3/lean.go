package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// emptySHA256 is the SHA-256 of an empty payload, in hex.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// lean sends the requests whose cost is mostly the SDK's own, a DELETE
// and a small PUT: a DeleteObject through the SDK's middleware (endpoint
// rules, auth scheme resolution, a dozen handlers) took 160-300 µs of CPU
// here against 60-110 µs for the same request signed with the SDK's
// signer and sent by the store's HTTP client, and an unlink of an S3 file
// waits for it. The requests keep the SDK's signing, retries (its
// standard retryer, so the same errors are retried with the same backoff)
// and the store's error classification, which reads the same status and
// code off a leanError as off the SDK's errors.
type lean struct {
	client    *http.Client
	scheme    string
	host      string // the endpoint's host[:port], with the bucket in front for virtual-hosted addressing
	prefix    string // the path before the key: "/bucket/" or "/"
	region    string
	creds     aws.CredentialsProvider
	signer    *v4.Signer
	retryer   aws.Retryer
	userAgent string
	now       func() time.Time // the clock requests are signed by
	skew      atomic.Int64     // nanoseconds the server's clock is ahead of ours, learnt from RequestTimeTooSkewed
}

// newLean returns the lean client of a store with an endpoint of its own
// (alluxio.underfs.s3.endpoint), or nil where the SDK keeps every
// request. Against AWS a request's round trip dwarfs the SDK's cost, and
// the SDK knows AWS's endpoint variants (FIPS, dual-stack, access points,
// S3 Express); against a server on the same network, such as MinIO, the
// SDK's cost is most of a DELETE's. The addressing is the SDK's for a
// custom endpoint: path-style when asked or when the endpoint's host is
// an IP address, else virtual-hosted, which bucket names with dots or
// other characters a host name cannot carry are left to the SDK for.
func newLean(c *config, client *http.Client, creds aws.CredentialsProvider, retryer aws.Retryer) *lean {
	if c.endpoint == "" || creds == nil {
		return nil
	}
	u, err := url.Parse(c.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil
	}
	b := c.bucket
	l := &lean{
		client:    client,
		scheme:    u.Scheme,
		host:      u.Host,
		prefix:    "/" + b + "/",
		region:    c.region,
		creds:     creds,
		signer:    v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }),
		retryer:   retryer,
		userAgent: "alluxio-go",
		now:       time.Now,
	}
	if !c.pathStyle && net.ParseIP(u.Hostname()) == nil {
		if !hostLabel(b) {
			return nil
		}
		l.host, l.prefix = b+"."+u.Host, "/"
	}
	return l
}

// hostLabel reports whether a bucket name can be a host name's first
// label as it is: 3 to 63 lower-case letters, digits and hyphens, not
// starting or ending with a hyphen.
func hostLabel(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '-' || b[len(b)-1] == '-' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// leanError is an S3 error answer: the status, code and message the
// store's classify and the SDK's retryer read off an error.
type leanError struct {
	status    int
	code      string
	message   string
	requestID string
	skew      time.Duration // for RequestTimeTooSkewed, how far the server's clock is ahead
}

var _ smithy.APIError = (*leanError)(nil)

func (e *leanError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s (request id %s)", e.status, e.code, e.message, e.requestID)
}

// HTTPStatusCode is the answer's status.
func (e *leanError) HTTPStatusCode() int { return e.status }

// ErrorCode is S3's error code, empty when the answer had no body.
func (e *leanError) ErrorCode() string { return e.code }

// ErrorMessage is S3's error message.
func (e *leanError) ErrorMessage() string { return e.message }

// ErrorFault says whose fault the error is.
func (e *leanError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// deleteObject deletes key, retrying as the SDK would.
func (l *lean) deleteObject(ctx context.Context, key string) error {
	return l.retry(ctx, func() error {
		_, err := l.send(ctx, http.MethodDelete, key, nil, nil)
		return err
	})
}

// putObject uploads data as key in one request, with the headers in h,
// and returns the object's ETag (without quotes). The payload is signed
// by its SHA-256, as the SDK signs a PutObject.
func (l *lean) putObject(ctx context.Context, key string, data []byte, h http.Header) (string, error) {
	var etag string
	err := l.retry(ctx, func() error {
		rh, err := l.send(ctx, http.MethodPut, key, data, h)
		if err == nil {
			etag = strings.Trim(rh.Get("ETag"), `"`)
		}
		return err
	})
	return etag, err
}

// retry runs one attempt after another until one succeeds, the retryer
// says the error is not worth another, or the attempts run out.
func (l *lean) retry(ctx context.Context, attempt func() error) error {
	skewed := false
	for n := 1; ; n++ {
		err := attempt()
		if err == nil {
			return nil
		}
		var le *leanError
		if errors.As(err, &le) && le.skew != 0 && !skewed {
			// Signed by a clock too far from the server's: once more, by
			// the server's, as the SDK corrects it.
			skewed = true
			l.skew.Store(int64(le.skew))
			n--
			continue
		}
		if ctx.Err() != nil || !l.retryer.IsErrorRetryable(err) {
			return err
		}
		if n >= l.retryer.MaxAttempts() {
			return &retry.MaxAttemptsError{Attempt: n, Err: err}
		}
		delay, derr := l.retryer.RetryDelay(n, err)
		if derr != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// send makes one request for key with body (nil for none) and the
// headers in h, and reads its answer: the headers of a 2xx, else a
// leanError (or the transport's error).
func (l *lean) send(ctx context.Context, method, key string, body []byte, h http.Header) (http.Header, error) {
	creds, err := l.creds.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	hash := emptySHA256
	var rd io.Reader
	if body != nil {
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.scheme+"://"+l.host+"/", rd)
	if err != nil {
		return nil, err
	}
	// RawPath carries the path exactly as signed (every byte but the
	// unreserved ones and "/" escaped, as S3 canonicalises it): Go would
	// escape Path its own way, and S3 checks the signature against the
	// path it received. The request line stays in origin form, as the
	// SDK's.
	req.URL.Path = l.prefix + key
	req.URL.RawPath = l.prefix + httpbinding.EscapePath(key, false)
	if req.URL.EscapedPath() != req.URL.RawPath {
		return nil, fmt.Errorf("key %q: cannot send its escaped path as it is signed", key)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", l.userAgent)
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := l.signer.SignHTTP(ctx, creds, req, hash, "s3", l.region, l.now().Add(time.Duration(l.skew.Load()))); err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// As the SDK wraps it: a connection that broke off, or an
		// answer lost, is retried like any connection error.
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return resp.Header, nil
	}
	e := &leanError{status: resp.StatusCode, requestID: resp.Header.Get("X-Amz-Request-Id")}
	var answer struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if xml.Unmarshal(b, &answer) == nil {
		e.code, e.message = answer.Code, answer.Message
	}
	if e.code == "RequestTimeTooSkewed" {
		if at, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			e.skew = at.Sub(l.now())
		}
	}
	return nil, e
}

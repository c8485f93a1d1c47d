package kodo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
	"github.com/qiniu/go-sdk/v7/client"
	"github.com/qiniu/go-sdk/v7/storage"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// Scheme is the URI scheme the store registers under.
const Scheme = "kodo"

// Kodo answers the store tells apart.
const (
	codeNoSuchKey    = 612
	codeExists       = 614
	codeNoSuchBucket = 631
	codeRateLimited  = 573
)

const (
	// listPage is how many entries one rsf listing asks for (Kodo's
	// maximum).
	listPage = 1000
	// maxKeyLen is Kodo's limit on the length of a key in bytes.
	maxKeyLen = 750
	// moveParallel bounds the concurrent moves of a directory rename.
	moveParallel = 16
	// partSize is the size of a multipart upload's parts, and the size
	// up to which a file is sent in one form upload.
	partSize = 4 << 20
	// maxPartSize is Kodo's largest part (v2 multipart upload).
	maxPartSize = 1 << 30
	// maxParts is Kodo's limit on the parts of a multipart upload.
	maxParts = 10000
	// maxBackoff caps the wait between two attempts of a request.
	maxBackoff = 5 * time.Second
)

func init() {
	ufs.Register(Scheme, open)
}

// Store is an under-store over a Kodo bucket, or over the keys under a
// prefix of one: the file system of objstore over the Kodo requests of
// objects. It is safe for concurrent use.
type Store struct {
	*objstore.Store // Stat, List, OpenRange, Create, ..., Copy, Close

	cfg       *config
	mac       *auth.Credentials
	transport *http.Transport
	http      *http.Client
	client    client.Client
	form      *storage.FormUploader
	resumable *storage.ResumeUploaderV2
}

var _ ufs.UFS = (*Store)(nil)

// open is the registry factory for kodo:// URIs. It does no network I/O.
func open(u *url.URL, options map[string]string) (ufs.UFS, error) {
	c, err := parseConfig(u, options)
	if err != nil {
		return nil, err
	}
	return newStore(c), nil
}

// newStore builds the store's HTTP client and SDK objects.
func newStore(c *config) *Store {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: c.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   c.requestsMax,
		MaxConnsPerHost:       c.requestsMax,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   c.connectTimeout,
		ResponseHeaderTimeout: c.timeout,
		ExpectContinueTimeout: time.Second,
	}
	hc := &http.Client{Transport: tr}
	clt := client.Client{Client: hc}
	sdkCfg := &storage.Config{
		UseHTTPS: strings.HasPrefix(c.upHost, "https://"),
		RsHost:   c.rsHost, RsfHost: c.rsfHost, ApiHost: c.apiHost, UpHost: c.upHost,
		CentralRsHost: c.rsHost,
	}
	s := &Store{
		cfg:       c,
		mac:       auth.New(c.accessKey, c.secretKey),
		transport: tr,
		http:      hc,
		client:    clt,
		form:      storage.NewFormUploaderEx(sdkCfg, &clt),
		resumable: storage.NewResumeUploaderV2Ex(sdkCfg, &clt),
	}
	s.Store = objstore.New(objects{s}, c.layout())
	return s
}

// layout is how objstore lays the mount out and tunes it.
func (c *config) layout() objstore.Config {
	return objstore.Config{
		BucketURI:    "kodo://" + c.bucket,
		Prefix:       c.prefix,
		FileMode:     c.fileMode,
		DirMode:      c.dirMode,
		MaxKeyLen:    maxKeyLen,
		ListPage:     listPage,
		Parallel:     moveParallel,
		PartSize:     partSize,
		MaxPartSize:  maxPartSize,
		MaxParts:     maxParts,
		ReadStall:    c.timeout,
		ReadStallKey: keyTimeout,
		ReadResumes:  c.maxRetry,
		Scrub:        c.scrub,
		Component:    "ufs/kodo",
	}
}

// retry runs one request, again after a backoff while it fails in a way
// worth another try (5xx, 573, a broken connection, a timeout of one
// attempt), up to maxRetry more times. Each attempt is bounded by the
// request timeout. The error is classified (see classify).
func (s *Store) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	r := objstore.Retry{
		Retries:    s.cfg.maxRetry,
		Timeout:    s.cfg.timeout,
		Backoff:    s.cfg.backoff,
		MaxBackoff: maxBackoff,
		Retryable:  retryable,
		OnRetry: func(attempt int, d time.Duration, err error) {
			slog.Debug("retrying a Kodo request", "component", "ufs/kodo", "request", what,
				"attempt", attempt, "backoff", d, "err", s.cfg.scrub(err.Error()))
		},
	}
	n, err := r.Do(ctx, fn)
	if err == nil {
		return nil
	}
	err = s.classify(ctx, err)
	if n > 1 {
		err = fmt.Errorf("after %d attempts: %w", n, err)
	}
	return err
}

// status returns the HTTP status of an SDK error, 0 when no answer came.
func status(err error) (int, string) {
	var ei *client.ErrorInfo
	if errors.As(err, &ei) {
		return ei.Code, ei.Err
	}
	var he *httpError
	if errors.As(err, &he) {
		return he.code, he.msg
	}
	return 0, ""
}

// httpError is a failed download answer.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.msg) }

// retryable reports whether another attempt may succeed: a server error
// (5xx, including Kodo's 573 rate limit and 599), or no answer at all.
func retryable(err error) bool {
	code, _ := status(err)
	if code != 0 {
		return code >= 500 && code < 600
	}
	return true // connection refused, reset, timed out, ...
}

// classify turns an error of the SDK or the HTTP client into the
// project's convention, wrapping the errno the FUSE layer reports.
// Credentials never appear in it.
func (s *Store) classify(ctx context.Context, err error) error {
	if cerr := objstore.ContextError(ctx); cerr != nil {
		return cerr
	}
	code, msg := status(err)
	msg = s.cfg.scrub(msg)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("access denied (check %s/%s): HTTP %d %s: %w", keyAccessKey, keySecretKey, code, msg, syscall.EACCES)
	case code == codeNoSuchKey || code == http.StatusNotFound:
		return syscall.ENOENT
	case code == codeExists:
		return syscall.EEXIST
	case code == codeNoSuchBucket:
		return fmt.Errorf("bucket %s does not exist: %w", s.cfg.bucket, syscall.ENOENT)
	case code == http.StatusPreconditionFailed: // the If-Match of a resumed download
		return syscall.ESTALE
	case code == codeRateLimited:
		return fmt.Errorf("rate limited by Kodo (HTTP 573): %s: %w", msg, syscall.EAGAIN)
	case code != 0:
		return fmt.Errorf("HTTP %d: %s: %w", code, msg, syscall.EIO)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s=%v: %s: %w", keyTimeout, s.cfg.timeout, s.cfg.scrub(err.Error()), syscall.ETIMEDOUT)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		if oe.Op == "dial" || oe.Op == "proxyconnect" {
			return fmt.Errorf("Kodo unreachable: %s: %w", s.cfg.scrub(oe.Error()), syscall.EHOSTUNREACH)
		}
		// Reached, then the connection broke off: an I/O error, not a
		// host to look for.
		return fmt.Errorf("connection to Kodo broke off: %s: %w", s.cfg.scrub(oe.Error()), syscall.EIO)
	}
	return fmt.Errorf("%s: %w", s.cfg.scrub(err.Error()), syscall.EIO)
}

// scrub removes the credentials from text that came from elsewhere (a
// server's error message, a URL with a download token), should it carry
// them.
func (c *config) scrub(text string) string {
	if i := strings.Index(text, "token="); i >= 0 {
		text = text[:i] + "token=xxxxx"
	}
	for _, secret := range []string{c.secretKey} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "xxxxx")
		}
	}
	return text
}

// manage calls a management API (rs, rsf) with a v2-signed request and
// decodes its JSON answer into ret.
func (s *Store) manage(ctx context.Context, what, reqURL string, ret any) error {
	return s.retry(ctx, what, func(ctx context.Context) error {
		return s.client.CredentialedCall(ctx, s.mac, auth.TokenQiniu, ret, http.MethodPost, reqURL, nil)
	})
}

// upToken is an upload token that may create or overwrite key, valid for
// an hour.
func (s *Store) upToken(key string) string {
	p := storage.PutPolicy{Scope: s.cfg.bucket + ":" + key, Expires: 3600}
	return p.UploadToken(s.mac)
}

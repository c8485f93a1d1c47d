package kodo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/auth"
	"github.com/qiniu/go-sdk/v7/client"
	"github.com/qiniu/go-sdk/v7/storage"

	"github.com/alluxio-go/alluxio/ufs"
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

func init() {
	ufs.Register(Scheme, open)
}

// Store is an under-store over a Kodo bucket, or over the keys under a
// prefix of one. It is safe for concurrent use.
type Store struct {
	cfg       *config
	mac       *auth.Credentials
	transport *http.Transport
	http      *http.Client
	client    client.Client
	form      *storage.FormUploader
	resumable *storage.ResumeUploaderV2
	closed    atomic.Bool
}

var (
	_ ufs.UFS        = (*Store)(nil)
	_ ufs.Retargeter = (*writer)(nil)
)

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
	return &Store{
		cfg:       c,
		mac:       auth.New(c.accessKey, c.secretKey),
		transport: tr,
		http:      hc,
		client:    clt,
		form:      storage.NewFormUploaderEx(sdkCfg, &clt),
		resumable: storage.NewResumeUploaderV2Ex(sdkCfg, &clt),
	}
}

// Close releases idle connections. Operations after Close fail with
// EBADF.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.transport.CloseIdleConnections()
	return nil
}

// uri names the object key for errors and logs.
func (s *Store) uri(key string) string {
	if key == "" {
		return "kodo://" + s.cfg.bucket
	}
	return "kodo://" + s.cfg.bucket + "/" + key
}

// pathErr builds the error of op on the object key.
func (s *Store) pathErr(op, key string, err error) error {
	return &fs.PathError{Op: op, Path: s.uri(key), Err: err}
}

// retry runs one request, again after a backoff while it fails in a way
// worth another try (5xx, 573, a broken connection, a timeout of one
// attempt), up to maxRetry more times. Each attempt is bounded by the
// request timeout. The error is classified (see classify).
func (s *Store) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if s.cfg.timeout > 0 {
			actx, cancel = context.WithTimeout(ctx, s.cfg.timeout)
		}
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retryable(err) || attempt >= s.cfg.maxRetry {
			cerr := s.classify(ctx, err)
			if attempt > 0 {
				cerr = fmt.Errorf("after %d attempts: %w", attempt+1, cerr)
			}
			return cerr
		}
		d := s.cfg.backoff << min(attempt, 6)
		d = min(d, 5*time.Second)
		d = d/2 + rand.N(d/2+1)
		slog.Debug("retrying a Kodo request", "component", "ufs/kodo", "request", what,
			"attempt", attempt+1, "backoff", d, "err", s.scrub(err.Error()))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctxErr(ctx)
		case <-t.C:
		}
	}
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
	if cerr := ctxErr(ctx); cerr != nil {
		return cerr
	}
	code, msg := status(err)
	msg = s.scrub(msg)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("access denied (check %s/%s): HTTP %d %s: %w", keyAccessKey, keySecretKey, code, msg, syscall.EACCES)
	case code == codeNoSuchKey || code == http.StatusNotFound:
		return syscall.ENOENT
	case code == codeExists:
		return syscall.EEXIST
	case code == codeNoSuchBucket:
		return fmt.Errorf("bucket %s does not exist: %w", s.cfg.bucket, syscall.ENOENT)
	case code == codeRateLimited:
		return fmt.Errorf("rate limited by Kodo (HTTP 573): %s: %w", msg, syscall.EAGAIN)
	case code != 0:
		return fmt.Errorf("HTTP %d: %s: %w", code, msg, syscall.EIO)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s=%v: %s: %w", keyTimeout, s.cfg.timeout, s.scrub(err.Error()), syscall.ETIMEDOUT)
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("Kodo unreachable: %s: %w", s.scrub(oe.Error()), syscall.EHOSTUNREACH)
	}
	return fmt.Errorf("%s: %w", s.scrub(err.Error()), syscall.EIO)
}

// ctxErr returns nil while ctx is live, and afterwards its error together
// with the errno the FUSE layer should report (EINTR, or ETIMEDOUT for a
// deadline).
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	errno := syscall.EINTR
	if errors.Is(err, context.DeadlineExceeded) {
		errno = syscall.ETIMEDOUT
	}
	return fmt.Errorf("%w (%w)", err, errno)
}

// scrub removes the credentials from text that came from elsewhere (a
// server's error message, a URL with a download token), should it carry
// them.
func (s *Store) scrub(text string) string {
	if i := strings.Index(text, "token="); i >= 0 {
		text = text[:i] + "token=xxxxx"
	}
	for _, secret := range []string{s.cfg.secretKey} {
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

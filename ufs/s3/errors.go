package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// S3 error codes the store tells apart.
const (
	codeNoSuchKey    = "NoSuchKey"
	codeNotFound     = "NotFound"
	codeNoSuchBucket = "NoSuchBucket"
	codeNoSuchUpload = "NoSuchUpload"
	codeInvalidRange = "InvalidRange"
)

// accessCodes are the answers to credentials the server does not accept.
var accessCodes = map[string]bool{
	"AccessDenied":          true,
	"Forbidden":             true,
	"InvalidAccessKeyId":    true,
	"SignatureDoesNotMatch": true,
	"InvalidToken":          true,
	"ExpiredToken":          true,
	"TokenRefreshRequired":  true,
	"AllAccessDisabled":     true,
	"AccountProblem":        true,
	"XAdminUserNotFound":    true, // versitygw's answer to an unknown key id
}

// regionCodes are the answers to a request signed for the wrong region.
var regionCodes = map[string]bool{
	"PermanentRedirect":                  true,
	"AuthorizationHeaderMalformed":       true,
	"IllegalLocationConstraintException": true,
}

// errInfo is what an SDK error says: the HTTP status (0 when no answer
// came), the S3 error code and its message.
type errInfo struct {
	status  int
	code    string
	message string
}

// inspect pulls the status, code and message out of an SDK error.
func inspect(err error) errInfo {
	var ei errInfo
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		ei.status = se.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		ei.code = ae.ErrorCode()
		ei.message = ae.ErrorMessage()
	}
	return ei
}

// isNotFound reports whether err is S3's answer for a missing key (not a
// missing bucket).
func isNotFound(err error) bool {
	ei := inspect(err)
	return ei.code == codeNoSuchKey || ei.code == codeNotFound || (ei.status == 404 && ei.code == "")
}

// isInvalidRange reports whether err is the 416 answer to a range that
// starts at or past the end of the object.
func isInvalidRange(err error) bool {
	ei := inspect(err)
	return ei.code == codeInvalidRange || ei.status == 416
}

// classify turns an SDK error into the project's convention: a message
// that says what went wrong and what to check, wrapping the errno the FUSE
// layer reports. Credentials never appear in it: the SDK's errors carry
// none, and text that comes from the server is scrubbed of them.
func (s *Store) classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := objstore.ContextError(ctx); cerr != nil {
		return cerr
	}
	var ce *credentialsError
	if errors.As(err, &ce) {
		return fmt.Errorf("no usable credentials (set %s/%s, or configure the AWS default chain): %s: %w",
			keyAccessKeyID, keySecretKey, s.cfg.scrub(ce.err.Error()), syscall.EACCES)
	}
	attempts := ""
	var mae *retry.MaxAttemptsError
	if errors.As(err, &mae) {
		attempts = fmt.Sprintf(" (after %d attempts)", mae.Attempt)
	}
	ei := inspect(err)
	switch {
	case accessCodes[ei.code] || ei.status == 403:
		what := ei.code
		if what == "" {
			what = "HTTP 403"
		}
		return fmt.Errorf("access denied (check %s/%s): %s: %w", keyAccessKeyID, keySecretKey, what, syscall.EACCES)
	case ei.code == codeNoSuchBucket:
		return fmt.Errorf("bucket %s does not exist at %s: %w", s.cfg.bucket, s.endpoint, syscall.ENOENT)
	case isNotFound(err):
		return syscall.ENOENT
	case ei.status == 404:
		return fmt.Errorf("HTTP 404 %s: %s: %w", ei.code, s.cfg.scrub(ei.message), syscall.ENOENT)
	case regionCodes[ei.code] || ei.status == 301:
		return fmt.Errorf("the bucket is not in region %s (check %s): %s: %w",
			s.cfg.region, keyRegion, s.cfg.scrub(ei.message), syscall.EINVAL)
	case ei.code == codeNoSuchUpload:
		return fmt.Errorf("multipart upload vanished: %s: %w", s.cfg.scrub(ei.message), syscall.EIO)
	case ei.status != 0 && ei.status/100 != 2:
		return fmt.Errorf("HTTP %d %s%s: %s: %w", ei.status, ei.code, attempts, s.cfg.scrub(ei.message), syscall.EIO)
	}
	// A 2xx answer that failed while it was read is told by how.
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) {
		return fmt.Errorf("endpoint %s: TLS certificate not trusted (add its CA to %s): %v: %w",
			s.endpoint, envCABundle, rootCause(err), syscall.EACCES)
	}
	var rhe tls.RecordHeaderError
	if errors.As(err, &rhe) {
		return fmt.Errorf("endpoint %s does not speak TLS (use http://): %w", s.endpoint, syscall.EPROTO)
	}
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("endpoint %s did not answer within %s=%v%s: %v: %w",
			s.endpoint, keyTimeout, s.cfg.timeout, attempts, rootCause(err), syscall.ETIMEDOUT)
	}
	var sendErr interface{ ConnectionError() bool }
	if ne != nil || (errors.As(err, &sendErr) && sendErr.ConnectionError()) {
		if !connected(err) {
			return fmt.Errorf("endpoint %s unreachable%s: %v: %w", s.endpoint, attempts, rootCause(err), syscall.EHOSTUNREACH)
		}
		// The server was reached and then dropped the connection: an I/O
		// error, not a host to look for.
		return fmt.Errorf("connection to endpoint %s broke off%s: %v: %w", s.endpoint, attempts, rootCause(err), syscall.EIO)
	}
	return fmt.Errorf("%s: %w", s.cfg.scrub(err.Error()), syscall.EIO)
}

// connected reports whether a connection error happened after the
// connection was made (a reset, a connection closed mid-request), rather
// than while making it (a refused dial, an unknown host, a proxy that
// cannot be reached).
func connected(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op != "dial" && oe.Op != "proxyconnect"
	}
	return true
}

// rootCause returns the innermost network error of err, which says what
// failed without the SDK's wrapping ("dial tcp 127.0.0.1:1: connect:
// connection refused").
func rootCause(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// scrub removes the mount's credentials from text that came from
// elsewhere (a server's error message), should it echo them.
func (c *config) scrub(text string) string {
	for _, secret := range []string{c.secretKey, c.accessKey} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "xxxxx")
		}
	}
	return text
}

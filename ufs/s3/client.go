package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"github.com/alluxio-go/alluxio/ufs/objstore"
)

// envCABundle names the environment variable of a PEM file with extra
// certificate authorities, as the AWS SDKs and CLI read it.
const envCABundle = "AWS_CA_BUNDLE"

// maxBackoff caps the delay between two attempts of a request.
const maxBackoff = 10 * time.Second

// caBundle returns the PEM bytes of AWS_CA_BUNDLE, nil when it is unset.
// A file that cannot be read or holds no certificate is an error naming
// the variable, found at Open rather than at the first request.
func caBundle() ([]byte, error) {
	name := os.Getenv(envCABundle)
	if name == "" {
		return nil, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		errno := syscall.EIO
		var e syscall.Errno
		if errors.As(err, &e) {
			errno = e
		}
		return nil, fmt.Errorf("%s=%s: cannot read the CA bundle: %w", envCABundle, name, errno)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s=%s: no PEM certificate in the CA bundle: %w", envCABundle, name, syscall.EINVAL)
	}
	return b, nil
}

// tlsConfig trusts the system's roots plus the certificates in bundle.
// Each call builds a fresh pool, so that nothing shares a mutable pool.
func tlsConfig(bundle []byte) *tls.Config {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if bundle != nil {
		pool.AppendCertsFromPEM(bundle)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// newTransport is the store's HTTP transport. The response-header timeout
// bounds how long a request waits for the server to start answering once
// it is sent, and each write of a request to a connection must end within
// the timeout too: an upload, whose whole time depends on the link, is
// bounded by its progress.
func newTransport(bundle []byte, timeout time.Duration) *http.Transport {
	dialTimeout := 30 * time.Second
	if timeout > 0 && timeout < dialTimeout {
		dialTimeout = timeout
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := dialer.DialContext
	if timeout > 0 {
		dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return writeBounded{Conn: c, timeout: timeout}, nil
		}
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dial,
		TLSClientConfig:       tlsConfig(bundle),
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
	}
}

// writeBounded is a connection each of whose writes must end within
// timeout: the server takes a request's bytes, or the request fails
// (a net.Error whose Timeout is true).
type writeBounded struct {
	net.Conn
	timeout time.Duration
}

func (c writeBounded) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// answerBounded is a transport whose answers must keep coming: once the
// headers are in (ResponseHeaderTimeout bounds the wait for them), a read
// of the body that waits longer than timeout for the server cancels the
// request, which ends the read with an error that says it timed out. An
// upload's answer is small; without this a server that stops after the
// headers would hold the upload, and the file's close, for good.
type answerBounded struct {
	rt      http.RoundTripper
	timeout time.Duration
}

func (a answerBounded) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	resp, err := a.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &stallBounded{ReadCloser: resp.Body, cancel: cancel, timeout: a.timeout}
	return resp, nil
}

// stallBounded is an answer's body under answerBounded.
type stallBounded struct {
	io.ReadCloser
	cancel  context.CancelFunc
	timeout time.Duration
}

func (b *stallBounded) Read(p []byte) (int, error) {
	t := time.AfterFunc(b.timeout, b.cancel)
	n, err := b.ReadCloser.Read(p)
	if !t.Stop() && err != nil {
		err = answerStalled{b.timeout}
	}
	return n, err
}

func (b *stallBounded) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// answerStalled is the error of an answer that stopped coming.
type answerStalled struct{ after time.Duration }

func (e answerStalled) Error() string {
	return fmt.Sprintf("the answer stopped coming for %v after its headers", e.after)
}
func (answerStalled) Timeout() bool   { return true }
func (answerStalled) Temporary() bool { return true }

// newRetryer is the SDK's standard retryer (5xx, throttling, connection
// errors; exponential backoff with full jitter) with maxRetry retries and
// without the client-side retry quota, which under a burst of server
// errors fails requests without trying them. A certificate the client
// does not trust is not retried: it will not become trusted.
func newRetryer(maxRetry int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxRetry + 1
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(untrusted)}, o.Retryables...)
	})
}

// untrusted says "do not retry" for TLS verification failures.
func untrusted(err error) aws.Ternary {
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var rhe tls.RecordHeaderError
	if errors.As(err, &cve) || errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &rhe) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// newStore builds the clients for a parsed mount. It reads local files
// (AWS_CA_BUNDLE, ~/.aws) but does not touch the network.
func newStore(c *config) (*Store, error) {
	bundle, err := caBundle()
	if err != nil {
		return nil, err
	}
	tr := newTransport(bundle, c.timeout)

	// The SDK's own loader resolves the region and, without static keys,
	// the default credential chain. It gets an HTTP client of its own type
	// (the only one it can apply AWS_CA_BUNDLE to) for fetching
	// credentials; the S3 client below never sees the bundle.
	credClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.TLSClientConfig = tlsConfig(bundle)
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(credClient),
		awsconfig.WithLogger(sdkLogger{}),
	}
	if c.region != "" {
		opts = append(opts, awsconfig.WithRegion(c.region))
	}
	if c.accessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.accessKey, c.secretKey, "")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// The loader's errors name files and profiles, not secrets.
		return nil, fmt.Errorf("loading the AWS configuration: %v: %w", err, syscall.EINVAL)
	}
	if awsCfg.Credentials != nil {
		awsCfg.Credentials = aws.NewCredentialsCache(markedCredentials{awsCfg.Credentials})
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	c.region = awsCfg.Region

	api := &http.Client{Transport: tr, Timeout: c.timeout}
	stream := &http.Client{Transport: tr}
	send := stream
	if c.timeout > 0 {
		send = &http.Client{Transport: answerBounded{rt: tr, timeout: c.timeout}}
	}
	slowTr := tr.Clone()
	slowTr.ResponseHeaderTimeout = 0
	slow := &http.Client{Transport: slowTr}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.HTTPClient = api
		o.Retryer = newRetryer(c.maxRetry)
		o.UsePathStyle = c.pathStyle
		if c.endpoint != "" {
			o.BaseEndpoint = aws.String(c.endpoint)
		}
		// Checksums only where S3 demands them: many S3-compatible
		// servers reject the SDK's default trailing checksums.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.Logger = sdkLogger{}
	})
	endpoint := c.endpoint
	if endpoint == "" {
		if awsCfg.BaseEndpoint != nil {
			endpoint = *awsCfg.BaseEndpoint
		} else {
			endpoint = "https://s3." + c.region + ".amazonaws.com"
		}
	}
	s := &Store{
		cfg:           c,
		client:        client,
		transport:     tr,
		copyTransport: slowTr,
		endpoint:      endpoint,
		// A GetObject body is read for as long as the caller reads, so it
		// must not fall under the client's overall timeout; stalls are
		// caught by the reader instead.
		streaming: func(o *s3.Options) { o.HTTPClient = stream },
		// An upload's time depends on the link: its progress is bounded
		// instead (writeBounded), and then its answer (answerBounded).
		sending:   func(o *s3.Options) { o.HTTPClient = send },
		copying:   func(o *s3.Options) { o.HTTPClient = slow },
		copyLimit: maxCopySize,
		lean:      newLean(c, api, awsCfg.Credentials, newRetryer(c.maxRetry)),
	}
	s.Store = objstore.New(objects{s}, c.layout())
	return s, nil
}

// sdkLogger sends the SDK's few log lines (such as a response body it
// could not drain) to slog at debug level; the store reports what matters
// in its errors.
type sdkLogger struct{}

func (sdkLogger) Logf(class logging.Classification, format string, v ...any) {
	slog.Debug(fmt.Sprintf(format, v...), "component", "ufs/s3", "source", "aws-sdk", "class", string(class))
}

// markedCredentials marks the errors of a credentials provider, so that a
// failure to find credentials is told apart from the server refusing them.
type markedCredentials struct{ aws.CredentialsProvider }

// Retrieve fetches credentials from the wrapped provider.
func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := m.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

// credentialsError is a failure to obtain credentials.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

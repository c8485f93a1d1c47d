package s3

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

// Option keys, in Alluxio's spelling. Lookups ignore case.
const (
	keyAccessKeyID   = "s3a.accessKeyId"
	keySecretKey     = "s3a.secretKey"
	keyAWSAccessKey  = "aws.accessKeyId"
	keyAWSSecretKey  = "aws.secretKey"
	keyEndpoint      = "alluxio.underfs.s3.endpoint"
	keyRegion        = "alluxio.underfs.s3.endpoint.region"
	keyRegionOld     = "alluxio.underfs.s3.region"
	keyPathStyle     = "alluxio.underfs.s3.disable.dns.buckets"
	keyTimeout       = "alluxio.underfs.s3.request.timeout"
	keyMaxRetry      = "alluxio.underfs.s3.max.error.retry"
	keyUploads       = "alluxio.underfs.s3.upload.threads.max"
	keyPartSize      = "alluxio.underfs.s3.multipart.part.size"
	keyPartSizeAlias = "alluxio.underfs.s3.streaming.upload.partition.size"
	keySecureHTTP    = "alluxio.underfs.s3.secure.http.enabled"
	keySSE           = "alluxio.underfs.s3.server.side.encryption.enabled"
	keyDefaultMode   = "alluxio.underfs.s3.default.mode"
	keyDirSuffix     = "alluxio.underfs.s3.directory.suffix"

	// s3Namespace starts every Alluxio S3 property; an unknown key in it
	// is an error, since it is most likely a misspelt one.
	s3Namespace = "alluxio.underfs.s3."
)

// Limits and defaults of the options.
const (
	defaultTimeout  = 60 * time.Second
	defaultMaxRetry = 10
	defaultPartSize = 64 << 20
	defaultUploads  = 1
	maxUploads      = 64
	minPartSize     = 5 << 20 // S3's smallest non-final part
	maxPartSize     = 5 << 30 // S3's largest part
	defaultRegion   = "us-east-1"
)

// ignoredKeys are Alluxio S3 properties that have no meaning here (thread
// pools, ACL mapping, proxies: Go's HTTP client takes HTTPS_PROXY from the
// environment). They are accepted so that an existing
// alluxio-site.properties keeps working.
var ignoredKeys = []string{
	"alluxio.underfs.s3.admin.threads.max",
	"alluxio.underfs.s3.bulk.delete.enabled",
	"alluxio.underfs.s3.connections.max",
	"alluxio.underfs.s3.inherit.acl",
	"alluxio.underfs.s3.intermediate.upload.clean.age",
	"alluxio.underfs.s3.list.objects.v1",
	"alluxio.underfs.s3.owner.id.to.username.mapping",
	"alluxio.underfs.s3.proxy.host",
	"alluxio.underfs.s3.proxy.port",
	"alluxio.underfs.s3.proxy.https.only",
	"alluxio.underfs.s3.signer.algorithm",
	"alluxio.underfs.s3.socket.timeout",
	"alluxio.underfs.s3.streaming.upload.enabled",
	"alluxio.underfs.s3.threads.max",
}

// config is a parsed mount: the URI and its options.
type config struct {
	bucket string
	prefix string // key prefix of the mount root: "" or "dir/"
	name   string // "s3://bucket/dir", for errors and logs

	accessKey, secretKey string // both or neither

	endpoint   string // with scheme; "" for AWS's own
	region     string // "" to take the SDK's
	pathStyle  bool
	timeout    time.Duration // per attempt; 0 for none
	maxRetry   int
	partSize   int64
	uploads    int // parts of one file sent at once
	sse        bool
	fileMode   fs.FileMode
	dirMode    fs.FileMode
	secureHTTP bool
}

// parseConfig reads a mount URI and its options. Errors name the URI
// (without credentials) and the offending key, never a credential's
// value.
func parseConfig(u *url.URL, options map[string]string) (*config, error) {
	c := &config{
		timeout:    defaultTimeout,
		maxRetry:   defaultMaxRetry,
		partSize:   defaultPartSize,
		uploads:    defaultUploads,
		fileMode:   0o644,
		dirMode:    0o755,
		secureHTTP: true,
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("want %s://bucket/[prefix/]: no bucket: %w", u.Scheme, syscall.EINVAL)
	}
	c.bucket = u.Host
	if strings.ContainsAny(c.bucket, " /\\") {
		return nil, fmt.Errorf("bad bucket name %q: %w", c.bucket, syscall.EINVAL)
	}
	p, err := ufs.Clean(u.Path)
	if err != nil {
		return nil, fmt.Errorf("bad prefix %q: %w", u.Path, syscall.EINVAL)
	}
	if p != "" {
		c.prefix = p + "/"
	}
	c.name = "s3://" + c.bucket
	if p != "" {
		c.name += "/" + p
	}
	if u.User != nil {
		c.accessKey = u.User.Username()
		c.secretKey, _ = u.User.Password()
	}

	o := ufs.NewOptions(options)
	get := o.Lookup
	for _, k := range ignoredKeys {
		if k, _, ok := get(k); ok {
			slog.Warn("S3 under-store option has no effect here", "component", "ufs/s3", "uri", c.name, "key", k)
		}
	}
	known := append([]string{keyEndpoint, keyRegion, keyRegionOld, keyPathStyle, keyTimeout, keyMaxRetry, keyUploads,
		keyPartSize, keyPartSizeAlias, keySecureHTTP, keySSE, keyDefaultMode, keyDirSuffix}, ignoredKeys...)
	if err := o.CheckNamespace(s3Namespace, known...); err != nil {
		return nil, err
	}

	// Credentials: the options win over the URI, and come in pairs.
	ak, akOK := "", false
	if _, v, ok := get(keyAccessKeyID, keyAWSAccessKey); ok {
		ak, akOK = v, true
	}
	sk, skOK := "", false
	if _, v, ok := get(keySecretKey, keyAWSSecretKey); ok {
		sk, skOK = v, true
	}
	if akOK || skOK {
		c.accessKey, c.secretKey = ak, sk
	}
	switch {
	case c.accessKey != "" && c.secretKey == "":
		return nil, fmt.Errorf("option %s is set but %s is not: %w", keyAccessKeyID, keySecretKey, syscall.EINVAL)
	case c.accessKey == "" && c.secretKey != "":
		return nil, fmt.Errorf("option %s is set but %s is not: %w", keySecretKey, keyAccessKeyID, syscall.EINVAL)
	}

	if k, v, ok := get(keySecureHTTP); ok {
		if c.secureHTTP, err = ufs.ParseBool(k, v); err != nil {
			return nil, err
		}
	}
	if k, v, ok := get(keyEndpoint); ok && v != "" {
		if c.endpoint, err = parseEndpoint(k, v, c.secureHTTP); err != nil {
			return nil, err
		}
	}
	if _, v, ok := get(keyRegion, keyRegionOld); ok {
		c.region = v
	}
	if k, v, ok := get(keyPathStyle); ok {
		if c.pathStyle, err = ufs.ParseBool(k, v); err != nil {
			return nil, err
		}
	}
	if k, v, ok := get(keyTimeout); ok {
		if c.timeout, err = ufs.ParseDuration(k, v); err != nil {
			return nil, err
		}
	}
	if k, v, ok := get(keyMaxRetry); ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("option %s=%q: want a whole number from 0 to 100: %w", k, v, syscall.EINVAL)
		}
		c.maxRetry = n
	}
	if k, v, ok := get(keyUploads); ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > maxUploads {
			return nil, fmt.Errorf("option %s=%q: want a whole number from 1 to %d: %w", k, v, maxUploads, syscall.EINVAL)
		}
		c.uploads = n
	}
	if k, v, ok := get(keyPartSize, keyPartSizeAlias); ok {
		n, perr := ufs.ParseBytes(v)
		if perr != nil {
			return nil, fmt.Errorf("option %s=%q: %w", k, v, perr)
		}
		if n < minPartSize || n > maxPartSize {
			return nil, fmt.Errorf("option %s=%q: want from 5MB to 5GB: %w", k, v, syscall.EINVAL)
		}
		c.partSize = n
	}
	if k, v, ok := get(keySSE); ok {
		if c.sse, err = ufs.ParseBool(k, v); err != nil {
			return nil, err
		}
	}
	if k, v, ok := get(keyDefaultMode); ok {
		m, perr := strconv.ParseUint(v, 8, 32)
		if perr != nil || m > 0o777 {
			return nil, fmt.Errorf("option %s=%q: want octal permission bits such as 0700: %w", k, v, syscall.EINVAL)
		}
		c.dirMode = fs.FileMode(m)
		c.fileMode = fs.FileMode(m) &^ 0o111
	}
	if k, v, ok := get(keyDirSuffix); ok && v != "/" {
		return nil, fmt.Errorf("option %s=%q: only \"/\" is supported: %w", k, v, syscall.EINVAL)
	}
	return c, nil
}

// parseEndpoint checks an endpoint and gives it a scheme when it has none.
func parseEndpoint(key, v string, secure bool) (string, error) {
	if !strings.Contains(v, "://") {
		scheme := "https://"
		if !secure {
			scheme = "http://"
		}
		v = scheme + v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("option %s=%q: want http(s)://host[:port]: %w", key, ufs.Redact(v), syscall.EINVAL)
	}
	return strings.TrimSuffix(v, "/"), nil
}

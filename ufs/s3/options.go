package s3

import (
	"fmt"
	"io/fs"
	"log/slog"
	"math/big"
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
	"alluxio.underfs.s3.upload.threads.max",
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

	opts := map[string]string{}  // lower-cased key -> value
	given := map[string]string{} // lower-cased key -> key as given
	for k, v := range options {
		lk := strings.ToLower(strings.TrimSpace(k))
		opts[lk] = strings.TrimSpace(v)
		given[lk] = k
	}
	get := func(keys ...string) (string, string, bool) {
		for _, k := range keys {
			if v, ok := opts[strings.ToLower(k)]; ok {
				return k, v, true
			}
		}
		return "", "", false
	}
	known := map[string]bool{}
	for _, k := range []string{keyEndpoint, keyRegion, keyRegionOld, keyPathStyle, keyTimeout, keyMaxRetry,
		keyPartSize, keyPartSizeAlias, keySecureHTTP, keySSE, keyDefaultMode, keyDirSuffix} {
		known[strings.ToLower(k)] = true
	}
	for _, k := range ignoredKeys {
		known[k] = true
		if _, ok := opts[k]; ok {
			slog.Warn("S3 under-store option has no effect here", "component", "ufs/s3", "uri", c.name, "key", given[k])
		}
	}
	for lk := range opts {
		if strings.HasPrefix(lk, s3Namespace) && !known[lk] {
			return nil, fmt.Errorf("unknown option %q: %w", given[lk], syscall.EINVAL)
		}
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
		if c.secureHTTP, err = parseBool(k, v); err != nil {
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
		if c.pathStyle, err = parseBool(k, v); err != nil {
			return nil, err
		}
	}
	if k, v, ok := get(keyTimeout); ok {
		if c.timeout, err = parseDuration(k, v); err != nil {
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
	if k, v, ok := get(keyPartSize, keyPartSizeAlias); ok {
		n, perr := parseBytes(v)
		if perr != nil {
			return nil, fmt.Errorf("option %s=%q: %w", k, v, perr)
		}
		if n < minPartSize || n > maxPartSize {
			return nil, fmt.Errorf("option %s=%q: want from 5MB to 5GB: %w", k, v, syscall.EINVAL)
		}
		c.partSize = n
	}
	if k, v, ok := get(keySSE); ok {
		if c.sse, err = parseBool(k, v); err != nil {
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

// parseBool accepts true/false in any case, as Alluxio does.
func parseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("option %s=%q: want true or false: %w", key, v, syscall.EINVAL)
}

// parseDuration reads a Go duration ("1m30s") or Alluxio's syntax: a
// number with an optional unit ms, s/sec, m/min, h/hour, d/day; a plain
// number is milliseconds.
func parseDuration(key, v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	num, unit := splitNumber(v)
	mult, ok := map[string]time.Duration{
		"": time.Millisecond, "ms": time.Millisecond, "millis": time.Millisecond,
		"millisecond": time.Millisecond, "milliseconds": time.Millisecond,
		"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
		"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
		"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	}[strings.ToLower(unit)]
	n, fits := scale(num, int64(mult))
	if num == "" || !ok || !fits {
		return 0, fmt.Errorf("option %s=%q: want a duration such as 60s or 60000: %w", key, v, syscall.EINVAL)
	}
	return time.Duration(n), nil
}

// parseBytes reads a size in Alluxio's syntax: a number with an optional
// unit B, KB, MB, GB, TB (or K, M, G, T) in multiples of 1024.
func parseBytes(v string) (int64, error) {
	num, unit := splitNumber(v)
	mult, ok := map[string]int64{
		"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40,
	}[strings.ToLower(unit)]
	n, fits := scale(num, mult)
	if num == "" || !ok || !fits {
		return 0, fmt.Errorf("want a size such as 64MB: %w", syscall.EINVAL)
	}
	return n, nil
}

// splitNumber splits " 1.5 GB" into "1.5" and "GB"; num is "" when s does
// not start with a number.
func splitNumber(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i, digits, dot := 0, 0, false
	for ; i < len(s) && i < 64; i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits++
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		break
	}
	if digits == 0 {
		return "", s
	}
	return s[:i], strings.TrimSpace(s[i:])
}

// scale returns floor(num * mult) if it fits an int64.
func scale(num string, mult int64) (int64, bool) {
	r, ok := new(big.Rat).SetString(strings.TrimSuffix(num, "."))
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	return q.Int64(), q.IsInt64()
}

package kodo

import (
	"fmt"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/qiniu/go-sdk/v7/storage"

	"github.com/alluxio-go/alluxio/ufs"
)

// Option keys, in Alluxio's spelling. Lookups ignore case.
const (
	keyAccessKey      = "fs.kodo.accesskey"
	keySecretKey      = "fs.kodo.secretkey"
	keyDownloadHost   = "alluxio.underfs.kodo.downloadhost"
	keyEndpoint       = "alluxio.underfs.kodo.endpoint"
	keyConnectTimeout = "alluxio.underfs.kodo.connect.timeout"
	keyRequestsMax    = "alluxio.underfs.kodo.requests.max"
	keyTimeout        = "alluxio.underfs.kodo.request.timeout"
	keyMaxRetry       = "alluxio.underfs.kodo.max.error.retry"
	keyDefaultMode    = "alluxio.underfs.kodo.default.mode"

	// rootOptionPrefix starts the root mount's options in
	// alluxio-site.properties; it is stripped when present.
	rootOptionPrefix = ufs.RootOptionPrefix
	// kodoNamespace starts every Alluxio Kodo property; an unknown key in
	// it is an error, since it is most likely a misspelt one.
	kodoNamespace = "alluxio.underfs.kodo."
)

// Defaults of the options.
const (
	defaultTimeout        = 60 * time.Second
	defaultConnectTimeout = 50 * time.Second // Alluxio's default
	defaultRequestsMax    = 64               // Alluxio's default
	defaultMaxRetry       = 5
)

// config is a parsed mount: the URI and its options.
type config struct {
	bucket string
	prefix string // key prefix of the mount root: "" or "dir/"
	name   string // "kodo://bucket/dir", for errors and logs

	accessKey, secretKey string

	upHost, rsHost, rsfHost, apiHost string // with scheme
	downloadHost                     string // with scheme, maybe a path

	connectTimeout time.Duration
	timeout        time.Duration // one attempt of one request; 0: none
	maxRetry       int
	requestsMax    int
	fileMode       fs.FileMode
	dirMode        fs.FileMode
	backoff        time.Duration // first retry delay; tests shorten it
}

// parseConfig reads a mount URI and its options. Errors name the URI and
// the offending key, never a credential's value.
func parseConfig(u *url.URL, options map[string]string) (*config, error) {
	c := &config{
		connectTimeout: defaultConnectTimeout,
		timeout:        defaultTimeout,
		maxRetry:       defaultMaxRetry,
		requestsMax:    defaultRequestsMax,
		fileMode:       0o644,
		dirMode:        0o755,
		backoff:        100 * time.Millisecond,
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("want kodo://bucket/[dir/]: no bucket: %w", syscall.EINVAL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("credentials in a kodo:// URI are not supported; use %s and %s: %w",
			keyAccessKey, keySecretKey, syscall.EINVAL)
	}
	c.bucket = u.Host
	if strings.ContainsAny(c.bucket, " /\\:") {
		return nil, fmt.Errorf("bad bucket name %q: %w", c.bucket, syscall.EINVAL)
	}
	p, err := ufs.Clean(u.Path)
	if err != nil {
		return nil, fmt.Errorf("bad prefix %q: %w", u.Path, syscall.EINVAL)
	}
	c.name = "kodo://" + c.bucket
	if p != "" {
		c.prefix = p + "/"
		c.name += "/" + p
	}

	o := ufs.NewOptions(options)
	if err := o.CheckNamespace(kodoNamespace, keyDownloadHost, keyEndpoint, keyConnectTimeout, keyRequestsMax,
		keyTimeout, keyMaxRetry, keyDefaultMode); err != nil {
		return nil, err
	}
	opts := func(key string) (string, bool) {
		_, v, ok := o.Lookup(key)
		return v, ok
	}
	required := func(key string) (string, error) {
		v := o.Get(key)
		if v == "" {
			return "", fmt.Errorf("option %s is not set: %w", key, syscall.EINVAL)
		}
		return v, nil
	}
	if c.accessKey, err = required(keyAccessKey); err != nil {
		return nil, err
	}
	if c.secretKey, err = required(keySecretKey); err != nil {
		return nil, err
	}
	v, err := required(keyEndpoint)
	if err != nil {
		return nil, err
	}
	if err := c.parseEndpoint(v); err != nil {
		return nil, err
	}
	if v, err = required(keyDownloadHost); err != nil {
		return nil, err
	}
	if c.downloadHost, err = parseHost(keyDownloadHost, v, "http://", true); err != nil {
		return nil, err
	}
	if v, ok := opts(keyConnectTimeout); ok {
		if c.connectTimeout, err = ufs.ParseDuration(keyConnectTimeout, v); err != nil {
			return nil, err
		}
	}
	if v, ok := opts(keyTimeout); ok {
		if c.timeout, err = ufs.ParseDuration(keyTimeout, v); err != nil {
			return nil, err
		}
	}
	if v, ok := opts(keyMaxRetry); ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || n > 100 {
			return nil, fmt.Errorf("option %s=%q: want a whole number from 0 to 100: %w", keyMaxRetry, v, syscall.EINVAL)
		}
		c.maxRetry = n
	}
	if v, ok := opts(keyRequestsMax); ok {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 {
			return nil, fmt.Errorf("option %s=%q: want a positive whole number: %w", keyRequestsMax, v, syscall.EINVAL)
		}
		c.requestsMax = n
	}
	if v, ok := opts(keyDefaultMode); ok {
		m, perr := strconv.ParseUint(v, 8, 32)
		if perr != nil || m > 0o777 {
			return nil, fmt.Errorf("option %s=%q: want octal permission bits such as 0700: %w", keyDefaultMode, v, syscall.EINVAL)
		}
		c.dirMode = fs.FileMode(m)
		c.fileMode = fs.FileMode(m) &^ 0o111
	}
	return c, nil
}

// regionIDs are the regions of Qiniu's public region table that the
// endpoint option accepts by name.
var regionIDs = []storage.RegionID{
	storage.RIDHuadong, storage.RIDHuabei, storage.RIDHuanan,
	storage.RIDNorthAmerica, storage.RIDSingapore, storage.RIDFogCnEast1,
}

// parseEndpoint sets the up, rs, rsf and api hosts from the endpoint
// option: a region id (z0, z1, z2, na0, as0), or the region's source (IO)
// host that Alluxio's Kodo guide gives as the endpoint (iovip.qbox.me,
// iovip-z1.qbox.me, ...), takes that region's published hosts over https;
// a host that is one of a region's upload hosts takes that region's other
// hosts; any other host serves every API.
func (c *config) parseEndpoint(v string) error {
	region := func(r storage.Region) {
		c.upHost = "https://" + r.SrcUpHosts[0]
		c.rsHost, c.rsfHost, c.apiHost = "https://"+r.RsHost, "https://"+r.RsfHost, "https://"+r.ApiHost
	}
	if r, ok := storage.GetRegionByID(storage.RegionID(strings.ToLower(v))); ok && !strings.ContainsAny(v, ".:/") {
		region(r)
		return nil
	}
	h, err := parseHost(keyEndpoint, v, "https://", false)
	if err != nil {
		return err
	}
	c.upHost, c.rsHost, c.rsfHost, c.apiHost = h, h, h, h
	hu, _ := url.Parse(h)
	for _, id := range regionIDs {
		if r, _ := storage.GetRegionByID(id); strings.EqualFold(hu.Host, r.IovipHost) {
			region(r)
			return nil
		}
	}
	for _, id := range regionIDs {
		r, _ := storage.GetRegionByID(id)
		for _, up := range append(append([]string{}, r.SrcUpHosts...), r.CdnUpHosts...) {
			if strings.EqualFold(hu.Host, up) {
				scheme := hu.Scheme + "://"
				c.rsHost, c.rsfHost, c.apiHost = scheme+r.RsHost, scheme+r.RsfHost, scheme+r.ApiHost
				return nil
			}
		}
	}
	return nil
}

// parseHost checks a host option and gives it a scheme when it has none.
// A path is allowed only where withPath is set.
func parseHost(key, v, scheme string, withPath bool) (string, error) {
	if !strings.Contains(v, "://") {
		v = scheme + v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || (!withPath && strings.Trim(u.Path, "/") != "") {
		return "", fmt.Errorf("option %s=%q: want [http(s)://]host[:port]: %w", key, ufs.Redact(v), syscall.EINVAL)
	}
	return strings.TrimSuffix(v, "/"), nil
}

package s3

import (
	"errors"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

func TestParseConfig(t *testing.T) {
	const secret = "very-secret-value"
	tests := []struct {
		name  string
		uri   string
		opts  map[string]string
		check func(t *testing.T, c *config)
		err   string // substring of the error; "" for success
	}{
		{name: "defaults", uri: "s3://bkt/", check: func(t *testing.T, c *config) {
			if c.bucket != "bkt" || c.prefix != "" || c.name != "s3://bkt" || c.timeout != 60*time.Second ||
				c.maxRetry != 10 || c.partSize != 64<<20 || c.uploads != 1 || c.pathStyle || c.endpoint != "" || c.accessKey != "" ||
				c.fileMode != 0o644 || c.dirMode != 0o755 {
				t.Errorf("defaults: %+v", c)
			}
		}},
		{name: "prefix", uri: "s3a://bkt//a/./c/", check: func(t *testing.T, c *config) {
			if c.prefix != "a/c/" || c.name != "s3://bkt/a/c" {
				t.Errorf("prefix %q name %q", c.prefix, c.name)
			}
		}},
		{name: "every supported option", uri: "s3://bkt/p", opts: map[string]string{
			"s3a.accessKeyId": "AK", "s3a.secretKey": secret,
			"alluxio.underfs.s3.endpoint":                       "http://127.0.0.1:9000/",
			"alluxio.underfs.s3.endpoint.region":                "eu-west-3",
			"alluxio.underfs.s3.disable.dns.buckets":            "TRUE",
			"alluxio.underfs.s3.request.timeout":                "5sec",
			"alluxio.underfs.s3.max.error.retry":                "3",
			"alluxio.underfs.s3.multipart.part.size":            "5MB",
			"alluxio.underfs.s3.upload.threads.max":             "4",
			"alluxio.underfs.s3.server.side.encryption.enabled": "true",
			"alluxio.underfs.s3.default.mode":                   "0750",
			"alluxio.underfs.s3.threads.max":                    "64",
			"alluxio.underfs.s3.directory.suffix":               "/",
			"alluxio.underfs.kodo.endpoint":                     "another store's option",
		}, check: func(t *testing.T, c *config) {
			if c.accessKey != "AK" || c.secretKey != secret || c.endpoint != "http://127.0.0.1:9000" ||
				c.region != "eu-west-3" || !c.pathStyle || c.timeout != 5*time.Second || c.maxRetry != 3 ||
				c.partSize != 5<<20 || c.uploads != 4 || !c.sse || c.dirMode != 0o750 || c.fileMode != 0o640 || c.prefix != "p/" {
				t.Errorf("parsed %+v", c)
			}
		}},
		{name: "aws key aliases", uri: "s3://bkt", opts: map[string]string{"aws.accessKeyId": "AK", "aws.secretKey": secret},
			check: func(t *testing.T, c *config) {
				if c.accessKey != "AK" || c.secretKey != secret {
					t.Errorf("keys not taken from aws.* aliases")
				}
			}},
		{name: "keys in the URI", uri: "s3://AK:" + secret + "@bkt/", check: func(t *testing.T, c *config) {
			if c.accessKey != "AK" || c.secretKey != secret || strings.Contains(c.name, secret) {
				t.Errorf("keys %q name %q", c.accessKey, c.name)
			}
		}},
		{name: "options win over the URI", uri: "s3://URIKEY:urisecret@bkt/", opts: map[string]string{"s3a.accessKeyId": "AK", "s3a.secretKey": secret},
			check: func(t *testing.T, c *config) {
				if c.accessKey != "AK" || c.secretKey != secret {
					t.Errorf("keys %q", c.accessKey)
				}
			}},
		{name: "timeout forms", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.request.timeout": "1500"},
			check: func(t *testing.T, c *config) {
				if c.timeout != 1500*time.Millisecond {
					t.Errorf("timeout %v", c.timeout)
				}
			}},
		{name: "go duration", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.request.timeout": "1m30s"},
			check: func(t *testing.T, c *config) {
				if c.timeout != 90*time.Second {
					t.Errorf("timeout %v", c.timeout)
				}
			}},
		{name: "no timeout", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.request.timeout": "0"},
			check: func(t *testing.T, c *config) {
				if c.timeout != 0 {
					t.Errorf("timeout %v", c.timeout)
				}
			}},
		{name: "endpoint without scheme", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.endpoint": "s3.example.com"},
			check: func(t *testing.T, c *config) {
				if c.endpoint != "https://s3.example.com" {
					t.Errorf("endpoint %q", c.endpoint)
				}
			}},
		{name: "endpoint without scheme, insecure", uri: "s3://bkt", opts: map[string]string{
			"alluxio.underfs.s3.endpoint": "minio:9000", "alluxio.underfs.s3.secure.http.enabled": "false"},
			check: func(t *testing.T, c *config) {
				if c.endpoint != "http://minio:9000" {
					t.Errorf("endpoint %q", c.endpoint)
				}
			}},
		{name: "case of keys is ignored", uri: "s3://bkt", opts: map[string]string{"ALLUXIO.UNDERFS.S3.MAX.ERROR.RETRY": "0"},
			check: func(t *testing.T, c *config) {
				if c.maxRetry != 0 {
					t.Errorf("maxRetry %d", c.maxRetry)
				}
			}},

		{name: "no bucket", uri: "s3:///dir/", err: "no bucket"},
		{name: "climbing prefix", uri: "s3://bkt/a/../../b", err: "bad prefix"},
		{name: "unknown s3 option", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.endpiont": "x"}, err: `"alluxio.underfs.s3.endpiont"`},
		{name: "bad bool", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.disable.dns.buckets": "yes"}, err: "alluxio.underfs.s3.disable.dns.buckets"},
		{name: "bad timeout", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.request.timeout": "soon"}, err: "alluxio.underfs.s3.request.timeout"},
		{name: "bad retry", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.max.error.retry": "-1"}, err: "alluxio.underfs.s3.max.error.retry"},
		{name: "bad uploads", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.upload.threads.max": "0"}, err: `alluxio.underfs.s3.upload.threads.max="0": want a whole number from 1 to 64`},
		{name: "part too small", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.multipart.part.size": "4MB"}, err: "5MB"},
		{name: "part too large", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.multipart.part.size": "6GB"}, err: "alluxio.underfs.s3.multipart.part.size"},
		{name: "bad part size", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.multipart.part.size": "lots"}, err: "alluxio.underfs.s3.multipart.part.size"},
		{name: "bad endpoint", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.endpoint": "ftp://host"}, err: "alluxio.underfs.s3.endpoint"},
		{name: "bad mode", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.default.mode": "rwx"}, err: "alluxio.underfs.s3.default.mode"},
		{name: "other directory suffix", uri: "s3://bkt", opts: map[string]string{"alluxio.underfs.s3.directory.suffix": "_$folder$"}, err: "alluxio.underfs.s3.directory.suffix"},
		{name: "key without secret", uri: "s3://bkt", opts: map[string]string{"s3a.accessKeyId": "AK"}, err: "s3a.secretKey"},
		{name: "secret without key", uri: "s3://bkt", opts: map[string]string{"s3a.secretKey": secret}, err: "s3a.accessKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseConfig(u, tt.opts)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("parseConfig: %v", err)
				}
				tt.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("parseConfig succeeded, want an error saying %q", tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) || !errors.Is(err, syscall.EINVAL) {
				t.Errorf("error %q, want EINVAL saying %q", err, tt.err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	const secret = "uri-secret-xyz"
	tests := []struct {
		uri  string
		opts map[string]string
		want string
	}{
		{"s3://AK:" + secret + "@bkt/", map[string]string{"alluxio.underfs.s3.nope": "1"}, "alluxio.underfs.s3.nope"},
		{"s3a:///x", nil, "no bucket"},
		{"s3://bkt/", map[string]string{"s3a.secretKey": secret}, "s3a.accessKeyId"},
	}
	for _, tt := range tests {
		_, err := ufs.Open(tt.uri, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Open(%s): %v, want EINVAL saying %q", ufs.Redact(tt.uri), err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%s): error %q reveals the secret", ufs.Redact(tt.uri), err)
		}
	}
	// Open is lazy: an endpoint nobody listens on is not noticed yet.
	u, err := ufs.Open("s3://bkt/", options("http://127.0.0.1:1"))
	if err != nil {
		t.Fatalf("Open with an unreachable endpoint: %v", err)
	}
	u.Close()
}

func TestCopySource(t *testing.T) {
	tests := []struct{ bucket, key, want string }{
		{"b", "a/b.txt", "b/a/b.txt"},
		{"b", "sp ace+plus", "b/sp%20ace%2Bplus"},
		{"b", "ü?#%", "b/%C3%BC%3F%23%25"},
	}
	for _, tt := range tests {
		if got := copySource(tt.bucket, tt.key); got != tt.want {
			t.Errorf("copySource(%q, %q) = %q, want %q", tt.bucket, tt.key, got, tt.want)
		}
	}
}

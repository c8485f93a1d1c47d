package s3

import (
	"errors"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestLeanAddressing: the lean DELETE is used only against an endpoint of
// the mount's own, and addresses the bucket as the SDK does there.
func TestLeanAddressing(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("id", "secret", "")
	for _, tt := range []struct {
		endpoint  string
		pathStyle bool
		bucket    string
		host      string // "" when the SDK keeps the requests
		prefix    string
	}{
		{"http://minio:9000", true, "data", "minio:9000", "/data/"},
		{"http://minio:9000", false, "data", "data.minio:9000", "/"},
		{"https://s3.example.com/", false, "my-bucket-1", "my-bucket-1.s3.example.com", "/"},
		{"http://127.0.0.1:9000", false, "data", "127.0.0.1:9000", "/data/"}, // an IP host: path-style, as the SDK
		{"http://[::1]:9000", false, "data", "[::1]:9000", "/data/"},
		{"http://minio:9000", false, "dotted.name", "", ""}, // not a host label: left to the SDK
		{"http://minio:9000", true, "dotted.name", "minio:9000", "/dotted.name/"},
		{"http://minio:9000", false, "Upper", "", ""},
		{"", false, "data", "", ""},                         // AWS: the SDK
		{"http://minio:9000/s3/", true, "data", "", ""},     // a path in the endpoint
		{"ftp://minio:9000", true, "data", "", ""},          // not HTTP
		{"http://user:pw@minio:9000", true, "data", "", ""}, // user info
	} {
		c := &config{endpoint: tt.endpoint, pathStyle: tt.pathStyle, bucket: tt.bucket, region: "us-east-1"}
		l := newLean(c, http.DefaultClient, creds, newRetryer(1))
		switch {
		case tt.host == "" && l != nil:
			t.Errorf("%s %v %s: lean client for %s%s, want the SDK", tt.endpoint, tt.pathStyle, tt.bucket, l.host, l.prefix)
		case tt.host != "" && l == nil:
			t.Errorf("%s %v %s: the SDK, want a lean client for %s%s", tt.endpoint, tt.pathStyle, tt.bucket, tt.host, tt.prefix)
		case l != nil && (l.host != tt.host || l.prefix != tt.prefix):
			t.Errorf("%s %v %s: %s%s, want %s%s", tt.endpoint, tt.pathStyle, tt.bucket, l.host, l.prefix, tt.host, tt.prefix)
		}
	}
	if l := newLean(&config{endpoint: "http://minio:9000", bucket: "data"}, http.DefaultClient, nil, newRetryer(1)); l != nil {
		t.Error("a lean client without a credentials provider")
	}
}

// TestLeanClockSkew: a lean request signed by a clock an hour ahead of the
// server's is refused with RequestTimeTooSkewed, and sent once more signed
// by the server's clock, as the SDK corrects it; later ones are signed
// right at once.
func TestLeanClockSkew(t *testing.T) {
	u, p, _ := proxiedStore(t)
	u.lean.now = func() time.Time { return time.Now().Add(time.Hour) }
	ctx := t.Context()
	p.requests()
	putFile(t, u, "f", []byte("skewed"))
	if got := readFile(t, u, "f"); string(got) != "skewed" {
		t.Errorf("f holds %q", got)
	}
	if n := count(p.requests(), "PUT"); n != 2 {
		t.Errorf("%d PUTs, want 2: refused for the skew, then signed by the server's clock", n)
	}
	must(t, u.DeleteFile(ctx, "f"))
	if n := count(p.requests(), "DELETE"); n != 1 {
		t.Errorf("%d DELETEs, want 1: the skew is known by now", n)
	}
	if _, err := u.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("f after DeleteFile: %v, want ENOENT", err)
	}
}

package tests

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3AsyncRewriteDuringUpload: an ASYNC_THROUGH file rewritten while
// the worker uploads its first version ends with the second version in
// the bucket, and only that one marked persisted. The first upload is held
// by the fault proxy until the rewrite is closed. Before, the first
// upload's mark made the second version persisted with the first one's
// ETag, the second version's own persist then took it for done, and the
// bucket kept the first version's bytes for good.
func TestS3AsyncRewriteDuringUpload(t *testing.T) {
	const bucket, prefix = "rewrite", "data/"
	endpoint, _, admin := startBucket(t, bucket)
	proxy := startFaultProxy(t, endpoint, bucket)
	c := newCluster(t, map[string]string{"alluxio.user.file.writetype.default": "ASYNC_THROUGH"})
	c.start()
	// The first upload waits for the test, not for a timeout.
	proxy.mount(c, "/s3", bucket+"/"+prefix, "--option", "alluxio.underfs.s3.request.timeout=2min")
	p := filepath.Join(c.mnt, "s3", "f")
	stored := func() (string, string) {
		t.Helper()
		out, err := admin.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "f")})
		if err != nil {
			return "", err.Error()
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), strings.Trim(aws.ToString(out.ETag), `"`)
	}

	proxy.set(&faultRule{op: "PutObject", key: prefix + "f", first: []fault{holdRequest}})
	one, two := "version one", "version two, which is longer"
	if err := os.WriteFile(p, []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(proxy.injected()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first version's upload never reached the bucket")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(p, []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	// Time for the second version's persist to start, then the first
	// upload goes through.
	time.Sleep(500 * time.Millisecond)
	proxy.release()

	deadline = time.Now().Add(30 * time.Second)
	for {
		st := c.must("alluxio", "fs", "stat", "/s3/f")
		body, etag := stored()
		if strings.Contains(st, "persisted=true") && body == two {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the rewrite: the bucket holds %q (ETag %s), want %q; status:\n%s", body, etag, two, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// No upload lands later, and the bytes read back are the second
	// version's, from the bucket once the cache let them go.
	time.Sleep(time.Second)
	if body, _ := stored(); body != two {
		t.Fatalf("after the persists settled the bucket holds %q, want %q", body, two)
	}
	c.must("alluxio", "fs", "free", "/s3/f")
	if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, []byte(two)) {
		t.Fatalf("reading the file back: %q, %v; want %q", got, err, two)
	}
}

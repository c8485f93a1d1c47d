package tests

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// asyncBucket is a cluster writing ASYNC_THROUGH into a bucket mounted at
// /s3 through a fault proxy, whose requests wait for the test rather than
// time out.
type asyncBucket struct {
	c      *cluster
	proxy  *faultProxy
	admin  *s3.Client
	bucket string
}

const asyncPrefix = "data/"

func newAsyncBucket(t *testing.T, bucket string) *asyncBucket {
	endpoint, _, admin := startBucket(t, bucket)
	proxy := startFaultProxy(t, endpoint, bucket)
	c := newCluster(t, map[string]string{"alluxio.user.file.writetype.default": "ASYNC_THROUGH"})
	c.start()
	proxy.mount(c, "/s3", bucket+"/"+asyncPrefix, "--option", "alluxio.underfs.s3.request.timeout=2min")
	return &asyncBucket{c: c, proxy: proxy, admin: admin, bucket: bucket}
}

// path is name's path in the mount.
func (b *asyncBucket) path(name string) string { return filepath.Join(b.c.mnt, "s3", name) }

// stored returns the bytes of the object of name, or "" when there is none.
func (b *asyncBucket) stored(t *testing.T, name string) string {
	t.Helper()
	out, err := b.admin.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(asyncPrefix + name)})
	if err != nil {
		return ""
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// holdFirstPut holds the first upload of name until release, and returns
// once the bucket's side has it.
func (b *asyncBucket) holdFirstPut(t *testing.T, name string, write func()) {
	t.Helper()
	b.proxy.set(&faultRule{op: "PutObject", key: asyncPrefix + name, first: []fault{holdRequest}})
	write()
	deadline := time.Now().Add(30 * time.Second)
	for len(b.proxy.injected()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the upload of %s never reached the bucket", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled waits until the file at name is persisted with want in the
// bucket, checks that nothing lands there later and that the bucket's
// bytes are what the mount reads once the cache let them go.
func (b *asyncBucket) settled(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := b.c.must("alluxio", "fs", "stat", "/s3/"+name)
		body := b.stored(t, name)
		if strings.Contains(st, "persisted=true") && body == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s on, the bucket holds %q at %s, want %q; status:\n%s", body, name, want, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if body := b.stored(t, name); body != want {
		t.Fatalf("after the persists settled the bucket holds %q at %s, want %q", body, name, want)
	}
	b.c.must("alluxio", "fs", "free", "/s3/"+name)
	if got, err := os.ReadFile(b.path(name)); err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("reading %s back: %q, %v; want %q", name, got, err, want)
	}
}

// TestS3AsyncRewriteDuringUpload: an ASYNC_THROUGH file rewritten while
// the worker uploads its first version ends with the second version in
// the bucket, and only that one marked persisted. The first upload is held
// by the fault proxy until the rewrite is closed. Before, the first
// upload's mark made the second version persisted with the first one's
// ETag, the second version's own persist then took it for done, and the
// bucket kept the first version's bytes for good.
func TestS3AsyncRewriteDuringUpload(t *testing.T) {
	b := newAsyncBucket(t, "rewrite")
	one, two := "version one", "version two, which is longer"
	b.holdFirstPut(t, "f", func() {
		if err := os.WriteFile(b.path("f"), []byte(one), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if err := os.WriteFile(b.path("f"), []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	// Time for the second version's persist to start, then the first
	// upload goes through.
	time.Sleep(500 * time.Millisecond)
	b.proxy.release()
	b.settled(t, "f", two)
}

// TestS3AsyncRenameDuringUpload: an ASYNC_THROUGH file renamed after its
// close, as a program writes a temporary file and renames it into place,
// is uploaded to its new name, and nothing stays at the old one, whether
// the rename came before the upload or during it (held by the proxy).
// Before, the upload went to the name the file had at its close and the
// file was marked persisted at its new name: once its cached copy went,
// the file was gone.
func TestS3AsyncRenameDuringUpload(t *testing.T) {
	b := newAsyncBucket(t, "rename")
	data := "the only version"
	write := func(name string) {
		if err := os.WriteFile(b.path(name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rename := func(from, to string) {
		if err := os.Rename(b.path(from), b.path(to)); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(name string) {
		t.Helper()
		if body := b.stored(t, name); body != "" {
			t.Errorf("the bucket still holds %q at the old name %s", body, name)
		}
		if _, err := os.Stat(b.path(name)); err == nil {
			t.Errorf("%s is still in the mount", name)
		}
	}

	write("a.tmp")
	rename("a.tmp", "a")
	b.settled(t, "a", data)
	gone("a.tmp")

	b.holdFirstPut(t, "b.tmp", func() { write("b.tmp") })
	rename("b.tmp", "b")
	b.proxy.release()
	b.settled(t, "b", data)
	gone("b.tmp")
}

// TestS3AsyncRemoveDuringUpload: an ASYNC_THROUGH file removed while its
// upload is on the wire (held by the proxy) leaves nothing in the bucket:
// the upload the master could no longer mark is taken back. Before, the
// object stayed, and a listing of the bucket (or a sync) brought the
// removed file back.
func TestS3AsyncRemoveDuringUpload(t *testing.T) {
	b := newAsyncBucket(t, "remove")
	b.holdFirstPut(t, "c", func() {
		if err := os.WriteFile(b.path("c"), []byte("removed at once"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if err := os.Remove(b.path("c")); err != nil {
		t.Fatal(err)
	}
	b.proxy.release()
	// The upload lands, then goes.
	deadline := time.Now().Add(30 * time.Second)
	for b.stored(t, "c") != "" || !slices.Contains(b.proxy.took(), "DeleteObject "+asyncPrefix+"c") {
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the removal the bucket holds %q at c", b.stored(t, "c"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if body := b.stored(t, "c"); body != "" {
		t.Fatalf("the removed file came back to the bucket: %q", body)
	}
	if _, err := os.Stat(b.path("c")); err == nil {
		t.Fatal("the removed file is in the mount")
	}
}

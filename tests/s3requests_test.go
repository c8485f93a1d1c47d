package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestS3RequestsThroughMount pins the S3 requests of the common file
// operations through the FUSE mount of a nested S3 mount, counted by a
// proxy in front of versitygw, so that none can grow back unnoticed: in a
// directory the master knows, a file created, written and closed is one
// PutObject and an unlink one DeleteObject; a directory made is one
// PutObject of its marker (none for its parent's), after lookups that do
// not write. Then an unlink whose DeleteObject the store keeps failing
// fails with EIO and leaves the file listed, readable and in the bucket;
// once the store recovers the unlink removes the object. (Deferred
// deletes are off here.)
func TestS3RequestsThroughMount(t *testing.T) {
	const bucket, prefix = "requests", "data/"
	ctx := t.Context()
	endpoint, _, admin := startBucket(t, bucket)
	proxy := startFaultProxy(t, endpoint, bucket)
	// Unlinks wait for their DELETE here, as with deferred deletes off;
	// TestS3DeferredDeletes pins the requests of deferred ones.
	c := newCluster(t, map[string]string{"alluxio.master.ufs.delete.deferred": "false"})
	c.start()
	proxy.mount(c, "/s3", bucket+"/"+prefix)
	mnt := filepath.Join(c.mnt, "s3")
	inBucket := func(key string) bool {
		_, err := admin.HeadObject(context.WithoutCancel(ctx), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + key)})
		return err == nil
	}
	writes := func(reqs []string) []string {
		var w []string
		for _, r := range reqs {
			if !strings.HasPrefix(r, "HeadObject ") && !strings.HasPrefix(r, "bucket ") {
				w = append(w, r)
			}
		}
		return w
	}

	if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := writes(proxy.took()), []string{"PutObject " + prefix + "d/"}; !slices.Equal(got, want) {
		t.Errorf("mkdir d: requests other than lookups %q, want %q", got, want)
	}
	if err := os.Mkdir(filepath.Join(mnt, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, want := writes(proxy.took()), []string{"PutObject " + prefix + "d/e/"}; !slices.Equal(got, want) {
		t.Errorf("mkdir d/e: requests other than lookups %q, want %q", got, want)
	}

	data := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	ops := []struct {
		name string
		op   func() error
		want []string
	}{
		{"create, write 1 KiB, close", func() error { return os.WriteFile(filepath.Join(mnt, "d", "f"), data, 0o644) },
			[]string{"PutObject " + prefix + "d/f"}},
		{"create, write 1 KiB, close, deeper", func() error { return os.WriteFile(filepath.Join(mnt, "d", "e", "g"), data, 0o644) },
			[]string{"PutObject " + prefix + "d/e/g"}},
		{"stat", func() error { _, err := os.Stat(filepath.Join(mnt, "d", "f")); return err }, nil},
		{"unlink", func() error { return os.Remove(filepath.Join(mnt, "d", "e", "g")) },
			[]string{"DeleteObject " + prefix + "d/e/g"}},
	}
	for _, o := range ops {
		if err := o.op(); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		if got := proxy.took(); !slices.Equal(got, o.want) {
			t.Errorf("%s sent %q, want %q", o.name, got, o.want)
		}
	}
	if inBucket("d/e/g") {
		t.Error("d/e/g is still in the bucket after its unlink returned")
	}

	// A DeleteObject that keeps failing: the unlink fails, the file stays.
	f := filepath.Join(mnt, "d", "f")
	proxy.set(&faultRule{op: "DeleteObject", key: prefix + "d/f", always: err500})
	err := os.Remove(f)
	injected := proxy.injected()
	proxy.set(nil)
	if !errors.Is(err, syscall.EIO) || len(injected) == 0 {
		t.Fatalf("unlink while the store fails its DELETE: %v (faults %q); want EIO", err, injected)
	}
	if !inBucket("d/f") {
		t.Fatal("the object of a file whose unlink failed is gone from the bucket")
	}
	names, err := os.ReadDir(filepath.Join(mnt, "d"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(names, func(e os.DirEntry) bool { return e.Name() == "f" }) {
		t.Errorf("d lists %v after a failed unlink of f, want f in it", names)
	}
	if got, err := os.ReadFile(f); err != nil || !bytes.Equal(got, data) {
		t.Errorf("after a failed unlink, f reads %d bytes, %v; want its %d bytes", len(got), err, len(data))
	}
	if err := os.Remove(f); err != nil {
		t.Fatalf("unlink once the store recovered: %v", err)
	}
	if inBucket("d/f") {
		t.Error("d/f is still in the bucket after its unlink returned")
	}
}

package s3

import (
	"bytes"
	"errors"
	"io"
	"syscall"
	"testing"
)

// TestOpenRangeVersion reads versions of files from versitygw by the
// fingerprint their write returned, one sent in one PutObject and one in a
// multipart upload: each reads while it is the object at its name, and
// fails with ESTALE once another file was renamed over it.
func TestOpenRangeVersion(t *testing.T) {
	g := startGateway(t)
	bucket := g.newBucket(t)
	u := openStore(t, "s3://"+bucket+"/", options(g.url, keyPartSize, "5MB"))
	ctx := t.Context()
	cases := []struct {
		name string
		size int
	}{
		{"one PutObject", 100 << 10},
		{"multipart", 11 << 20},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := bytes.Repeat([]byte{byte('a' + i)}, tc.size)
			fi := putFile(t, u, "f", data)
			r, err := u.OpenRangeVersion(ctx, "f", 7, 1000, fi.Fingerprint())
			must(t, err)
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data[7:1007]) {
				t.Fatalf("read of the current version: %d bytes, %v", len(got), err)
			}
			putFile(t, u, "other", []byte("another file"))
			must(t, u.Rename(ctx, "other", "f"))
			r, err = u.OpenRangeVersion(ctx, "f", 7, 1000, fi.Fingerprint())
			if !errors.Is(err, syscall.ESTALE) {
				if err == nil {
					r.Close()
				}
				t.Fatalf("read of a version another file was renamed over: %v, want ESTALE", err)
			}
		})
	}
}

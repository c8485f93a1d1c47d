package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/alluxio-go/alluxio/ufs/hdfs/hdfstest"
)

// s3RootPrefix is the key prefix of the root mount in the tests' bucket:
// a prefix, not the bucket's top, as Alluxio's S3 guide writes the root.
const s3RootPrefix = "alluxio/"

// newS3RootCluster lays out an installation whose root under-store is a
// bucket of a real S3 server (versitygw, started for the test), configured
// as Alluxio's S3 guide writes it: s3://bucket/prefix/ and the s3a.* and
// alluxio.underfs.s3.* keys as plain properties. props override the
// generated properties. It returns the cluster, not started, and the
// directory of the server's posix backend that holds the root's objects
// (one file per object, one directory per key prefix), where a test can
// look at what the bucket holds.
func newS3RootCluster(t *testing.T, props map[string]string) (*cluster, string) {
	t.Helper()
	c, dir, _ := newS3RootClusterAdmin(t, props)
	return c, dir
}

// newS3RootClusterAdmin is newS3RootCluster, with a client of the S3
// server too, for changes made in the bucket directly.
func newS3RootClusterAdmin(t *testing.T, props map[string]string) (*cluster, string, *s3.Client) {
	t.Helper()
	const bucket = "root"
	endpoint, dir, admin := startBucket(t, bucket)
	all := map[string]string{
		"alluxio.master.mount.table.root.ufs":    "s3://" + bucket + "/" + s3RootPrefix,
		"s3a.accessKeyId":                        s3Key,
		"s3a.secretKey":                          s3Secret,
		"alluxio.underfs.s3.endpoint":            endpoint,
		"alluxio.underfs.s3.disable.dns.buckets": "true",
	}
	for k, v := range props {
		all[k] = v
	}
	// The secret is in the configuration only; no log line may carry it.
	// Registered before the cluster's cleanup, so it runs after the
	// processes stopped.
	var c *cluster
	t.Cleanup(func() {
		logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
		for _, l := range logs {
			if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(s3Secret)) {
				t.Errorf("%s contains the S3 secret", filepath.Base(l))
			}
		}
	})
	c = newCluster(t, all)
	return c, filepath.Join(dir, bucket, filepath.FromSlash(s3RootPrefix)), admin
}

// TestS3ReplacedInBucket: an object replaced in the bucket directly, not
// through the mount, while metadata sync is off: the version the master
// knows is gone from the bucket, so a read of it fails (ESTALE) rather
// than return the new object's bytes as the old version's, where they
// would be cached for every later reader; once its metadata is loaded
// again the file reads as the new object. Whole and multipart objects:
// the copy a rename makes of a multipart object has another ETag, so for
// those the new object's length tells (a replacement of the same length
// is taken for a rename, docs/posix.md).
func TestS3ReplacedInBucket(t *testing.T) {
	c, _, admin := newS3RootClusterAdmin(t, map[string]string{"alluxio.fuse.passthrough.enabled": "false"})
	c.start()
	put := func(key string, data []byte, parts int) {
		t.Helper()
		k := aws.String(s3RootPrefix + key)
		if parts <= 1 {
			if _, err := admin.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("root"), Key: k, Body: bytes.NewReader(data)}); err != nil {
				t.Fatal(err)
			}
			return
		}
		up, err := admin.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String("root"), Key: k})
		if err != nil {
			t.Fatal(err)
		}
		var done []types.CompletedPart
		size := (len(data) + parts - 1) / parts
		for i := range parts {
			part := data[i*size : min(len(data), (i+1)*size)]
			out, err := admin.UploadPart(t.Context(), &s3.UploadPartInput{Bucket: aws.String("root"), Key: k, UploadId: up.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part)})
			if err != nil {
				t.Fatal(err)
			}
			done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
		}
		if _, err := admin.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{Bucket: aws.String("root"), Key: k,
			UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		parts int
	}{{"whole", 1}, {"multipart", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			old, replaced := randomData(11<<20, 41), randomData(10<<20, 42)
			// A directory each: loadMetadata lists the file's
			// directory, after which (sync off) a name added to it in
			// the bucket is not looked for.
			key := tc.name + "/replaced"
			put(key, old, tc.parts)
			p := filepath.Join(c.mnt, key)
			f, err := os.Open(p) // the master loads the object's metadata
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			put(key, replaced, 1)
			buf := make([]byte, 1<<20)
			n, err := f.ReadAt(buf, 5<<20)
			switch {
			case err != nil:
				t.Logf("read of the replaced version: %v", err)
			case bytes.Equal(buf[:n], replaced[5<<20:5<<20+n]):
				t.Fatalf("a read of the version the master knows returned the bytes that replaced it in the bucket")
			case !bytes.Equal(buf[:n], old[5<<20:5<<20+n]):
				t.Fatalf("a read of the version the master knows returned bytes of neither version")
			}
			f.Close()
			c.must("alluxio", "fs", "loadMetadata", "/"+key)
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, replaced) {
				t.Fatalf("after loadMetadata: %d bytes, %v; want the object that replaced it (%d bytes)", len(got), err, len(replaced))
			}
		})
	}
}

// TestS3OpenFilesMoved covers what happens to open files whose names move
// on an S3 root, once their pages have left a small cache: the worker
// reads them from the bucket, where the name now holds something else.
func TestS3OpenFilesMoved(t *testing.T) {
	c, bucket := newS3RootCluster(t, map[string]string{
		"alluxio.fuse.passthrough.enabled":             "false",
		"alluxio.worker.tieredstore.level0.dirs.quota": "8MB",
	})
	c.start()
	// evict writes more than the tier holds, so earlier files' pages go.
	evict := func(t *testing.T) {
		t.Helper()
		for i := range 4 {
			if err := os.WriteFile(filepath.Join(c.mnt, fmt.Sprintf("filler%d", i)), randomData(3<<20, uint64(100+i)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A handle writing before the end of its file copies the old version
	// first; renamed since it was opened, the file is at another key.
	t.Run("write into a renamed file", func(t *testing.T) {
		old := randomData(2<<20, 1)
		a, e := filepath.Join(c.mnt, "w-a"), filepath.Join(c.mnt, "w-e")
		if err := os.WriteFile(a, old, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(a, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := os.Rename(a, e); err != nil {
			t.Fatal(err)
		}
		evict(t)
		if _, err := f.WriteAt([]byte("patched"), 100); err != nil {
			t.Fatalf("write into the renamed file: %v", err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		copy(old[100:], "patched")
		if got, err := os.ReadFile(e); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("the renamed file after the write: %d bytes, %v", len(got), err)
		}
	})

	// An append whose upload began (the bucket copies the old 6 MiB,
	// more than a quarter of the tier, as a part) and whose file is
	// renamed before the close: a multipart upload cannot change its key,
	// so the rename commits the append first, and the writes after it
	// make a version at the new name. It used to fail the close with
	// EXDEV and leave the file empty.
	t.Run("append to a file renamed while written", func(t *testing.T) {
		want := randomData(6<<20, 2)
		a, e := filepath.Join(c.mnt, "ap-a"), filepath.Join(c.mnt, "ap-e")
		if err := os.WriteFile(a, want, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(a, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(a, e); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte("two")); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("close of the file renamed while written: %v", err)
		}
		want = append(want, "onetwo"...)
		for _, p := range []string{e, filepath.Join(bucket, "ap-e")} {
			if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s after the append: %d bytes, %v; want %d", p, len(got), err, len(want))
			}
		}
		if _, err := os.Stat(filepath.Join(bucket, "ap-a")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the old name in the bucket: %v, want gone", err)
		}

		// Renamed by another client, behind this mount's writer, while
		// its upload is under way: the commit cannot land at the new
		// name, and says so; the file keeps the version it had, in the
		// namespace and the bucket, not emptied. The client is started
		// before the file is opened: a process forked while it is open
		// would make the kernel flush (commit) it as the fork's copy of
		// the descriptor closes.
		mv := exec.Command(filepath.Join(c.home, "bin", "alluxio"), "fs", "mv", "/ap-e", "/ap-f")
		mv.Env = c.env()
		wait := exec.Command("bash", "-c", `read -r go && exec "$0" "$@"`, mv.Path)
		wait.Args = append(wait.Args, mv.Args[1:]...)
		wait.Env = mv.Env
		goAhead, err := wait.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var mvOut bytes.Buffer
		wait.Stdout, wait.Stderr = &mvOut, &mvOut
		if err := wait.Start(); err != nil {
			t.Fatal(err)
		}
		g, err := os.OpenFile(e, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if _, err := g.Write([]byte("three")); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(goAhead, "go")
		if err := wait.Wait(); err != nil {
			t.Fatalf("alluxio fs mv: %v\n%s", err, mvOut.String())
		}
		if err := g.Close(); !errors.Is(err, syscall.EXDEV) {
			t.Errorf("close of an append whose file another client renamed: %v, want EXDEV", err)
		}
		if st := c.must("alluxio", "fs", "stat", "/ap-f"); !strings.Contains(st, fmt.Sprintf("length=%d,", len(want))) || !strings.Contains(st, "completed=true") {
			t.Errorf("the file after the failed append:\n%s", st)
		}
		if got, err := os.ReadFile(filepath.Join(bucket, "ap-f")); err != nil || !bytes.Equal(got, want) {
			t.Errorf("the bucket's ap-f after the failed append: %d bytes, %v; want the %d before it", len(got), err, len(want))
		}
	})

	// A read-only handle of a file another one was renamed over: the bucket
	// holds the other file's bytes at the name now. Pages still cached are
	// served; the others fail with ESTALE (docs/posix.md), never with the
	// other file's bytes.
	t.Run("read a file renamed over", func(t *testing.T) {
		mine, theirs := randomData(3<<20, 2), randomData(3<<20, 3)
		b, a := filepath.Join(c.mnt, "r-b"), filepath.Join(c.mnt, "r-a")
		if err := os.WriteFile(b, mine, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(a, theirs, 0o644); err != nil {
			t.Fatal(err)
		}
		evict(t) // not cached when opened: read page by page
		f, err := os.Open(b)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := os.Rename(a, b); err != nil {
			t.Fatal(err)
		}
		evict(t)
		buf := make([]byte, 64<<10)
		stale := 0
		for off := int64(0); off < int64(len(mine)); off += 1 << 20 {
			n, err := f.ReadAt(buf, off)
			switch {
			case errors.Is(err, syscall.ESTALE):
				stale++
			case err != nil:
				t.Fatalf("read at %d: %v, want the bytes or ESTALE", off, err)
			case !bytes.Equal(buf[:n], mine[off:off+int64(n)]):
				t.Fatalf("read at %d returned other bytes (those of the file renamed over it: %v)",
					off, bytes.Equal(buf[:n], theirs[off:off+int64(n)]))
			}
		}
		if stale == 0 {
			t.Fatal("every page was still cached: the test did not reach the bucket")
		}
		if got, err := os.ReadFile(b); err != nil || !bytes.Equal(got, theirs) {
			t.Fatalf("the name after the rename: %d bytes, %v", len(got), err)
		}
	})
}

// TestS3RewriteCopiesUnchangedParts: an append to, a write into, and a
// truncate and regrowth of a multipart file on an S3 root upload only the
// parts that changed; the others the bucket copies from the old version
// (UploadPartCopy), which the worker counts. The bucket holds the bytes
// tmpfs would after each step.
func TestS3RewriteCopiesUnchangedParts(t *testing.T) {
	c, bucket := newS3RootCluster(t, map[string]string{
		"alluxio.underfs.s3.multipart.part.size": "5MB",
	})
	c.start()
	const part = 5 << 20
	p := filepath.Join(c.mnt, "big")
	want := randomData(2*part+12345, 11)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	// The copies so far must add up to at least this (the heartbeats
	// bring the workers' counters to the master).
	var copies int
	written := func(m map[string]float64) float64 { return m["Cluster.BytesWrittenUfsAll"] }
	m0 := c.waitMetrics(func(m map[string]float64) bool { return written(m) >= float64(len(want)) })
	check := func(t *testing.T, atLeast int) map[string]float64 {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(bucket, "big"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("the bucket's %d bytes differ from the %d expected", len(got), len(want))
		}
		copies += atLeast
		m := c.waitMetrics(func(m map[string]float64) bool { return m["Cluster.BytesCopiedUfs"] >= float64(copies) })
		if got := m["Cluster.BytesCopiedUfs"]; got < float64(copies) {
			t.Errorf("%.0f bytes copied in the bucket so far, want at least %d", got, copies)
		}
		return m
	}
	update := func(t *testing.T, flags int, fn func(f *os.File) error) {
		t.Helper()
		f, err := os.OpenFile(p, flags, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(f); err != nil {
			f.Close()
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("append", func(t *testing.T) {
		tail := randomData(1000, 12)
		update(t, os.O_WRONLY|os.O_APPEND, func(f *os.File) error { _, err := f.Write(tail); return err })
		want = append(want, tail...)
		m := check(t, 2*part)
		// Only the last part went up: the copied ones count as copied,
		// not written.
		if d := written(m) - written(m0); d < float64(len(tail)) || d > part {
			t.Errorf("%.0f bytes written to the bucket for an append of %d, want at most a part", d, len(tail))
		}
	})
	t.Run("write into the middle", func(t *testing.T) {
		patch := randomData(4096, 13)
		update(t, os.O_RDWR, func(f *os.File) error { _, err := f.WriteAt(patch, part+100); return err })
		copy(want[part+100:], patch)
		check(t, part)
	})
	t.Run("truncate and grow again", func(t *testing.T) {
		update(t, os.O_RDWR, func(f *os.File) error {
			if err := f.Truncate(part + 7); err != nil {
				return err
			}
			return f.Truncate(int64(len(want)))
		})
		clear(want[part+7:])
		check(t, part)
	})
	t.Run("append to a big file not cached", func(t *testing.T) {
		// Above the size a worker reads into its cache first: the bucket
		// takes the old bytes on its side, and none is downloaded.
		hp := filepath.Join(c.mnt, "huge")
		huge := randomData(4*part+777, 14)
		if err := os.WriteFile(hp, huge, 0o644); err != nil {
			t.Fatal(err)
		}
		c.must("alluxio", "fs", "free", "/huge")
		read := func(m map[string]float64) float64 { return m["Cluster.BytesReadUfsAll"] }
		copied := func(m map[string]float64) float64 { return m["Cluster.BytesCopiedUfs"] }
		m1 := c.waitMetrics(func(m map[string]float64) bool { return written(m) >= written(m0)+float64(len(huge)) })
		tail := randomData(1000, 15)
		mustAppend(t, hp, tail)
		huge = append(huge, tail...)
		got, err := os.ReadFile(filepath.Join(bucket, "huge"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, huge) {
			t.Fatalf("the bucket's %d bytes differ from the %d expected", len(got), len(huge))
		}
		m2 := c.waitMetrics(func(m map[string]float64) bool { return copied(m) >= copied(m1)+float64(len(huge)-len(tail)) })
		if d := copied(m2) - copied(m1); d != float64(len(huge)-len(tail)) {
			t.Errorf("%.0f bytes copied in the bucket for the append, want the old version's %d", d, len(huge)-len(tail))
		}
		if d := read(m2) - read(m1); d >= part {
			t.Errorf("%.0f bytes read from the bucket for an append, want none of the old version's", d)
		}
		if d := written(m2) - written(m1); d < float64(len(tail)) || d > part {
			t.Errorf("%.0f bytes written to the bucket for an append of %d, want at most a part", d, len(tail))
		}
		if got, err := os.ReadFile(hp); err != nil || !bytes.Equal(got, huge) {
			t.Fatalf("read back through the mount: %d bytes, %v; want the %d written", len(got), err, len(huge))
		}

		// Replaced in the bucket behind the mount's back (no metadata
		// sync), and not cached: the append cannot take bytes that are
		// no longer there, fails, and leaves the bucket's object alone.
		c.must("alluxio", "fs", "free", "/huge")
		admin := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.props["alluxio.underfs.s3.endpoint"]),
			UsePathStyle: true, Credentials: credentials.NewStaticCredentialsProvider(s3Key, s3Secret, "")})
		other := randomData(len(huge), 16)
		if _, err := admin.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("root"),
			Key: aws.String(s3RootPrefix + "huge"), Body: bytes.NewReader(other)}); err != nil {
			t.Fatal(err)
		}
		if werr, cerr := appendTo(t, hp, tail); !errors.Is(werr, syscall.ESTALE) && !errors.Is(cerr, syscall.ESTALE) {
			t.Errorf("append to a version replaced in the bucket: write %v, close %v; want ESTALE", werr, cerr)
		}
		if got, err := os.ReadFile(filepath.Join(bucket, "huge")); err != nil || !bytes.Equal(got, other) {
			t.Errorf("the bucket's object after the refused append: %d bytes, %v; want the replacement's %d", len(got), err, len(other))
		}
		// The file is its version before the append again, complete:
		// a sync takes the bucket's object.
		if st, err := os.Stat(hp); err != nil || st.Size() != int64(len(huge)) {
			t.Errorf("after the refused append: %v, %v; want the %d bytes before it", st, err, len(huge))
		}
		c.must("alluxio", "fs", "loadMetadata", "/huge")
		if got, err := os.ReadFile(hp); err != nil || !bytes.Equal(got, other) {
			t.Errorf("read after a sync: %d bytes, %v; want the bucket's %d", len(got), err, len(other))
		}
	})
}

// TestS3AsyncAppendCopiesParts: an ASYNC_THROUGH append to a persisted
// file is uploaded later, and then too only its changed part goes up; the
// bucket copies the others from the old version.
func TestS3AsyncAppendCopiesParts(t *testing.T) {
	c, bucket := newS3RootCluster(t, map[string]string{
		"alluxio.underfs.s3.multipart.part.size": "5MB",
		"alluxio.user.file.writetype.default":    "ASYNC_THROUGH",
	})
	c.start()
	const part = 5 << 20
	p := filepath.Join(c.mnt, "log")
	want := randomData(4*part+777, 17)
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	inBucket := func() {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := os.ReadFile(filepath.Join(bucket, "log"))
			if err == nil && bytes.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the bucket holds %d bytes (%v), not the %d written, 30 s after the close", len(got), err, len(want))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	inBucket()
	written := func(m map[string]float64) float64 { return m["Cluster.BytesWrittenUfsAll"] }
	copied := func(m map[string]float64) float64 { return m["Cluster.BytesCopiedUfs"] }
	m0 := c.waitMetrics(func(m map[string]float64) bool { return written(m) >= float64(len(want)) })

	tail := randomData(1000, 18)
	mustAppend(t, p, tail)
	want = append(want, tail...)
	inBucket()
	m1 := c.waitMetrics(func(m map[string]float64) bool { return copied(m) >= copied(m0)+4*part })
	if d := copied(m1) - copied(m0); d != 4*part {
		t.Errorf("%.0f bytes copied in the bucket for the append, want the four whole parts of the old version (%d)", d, 4*part)
	}
	if d := written(m1) - written(m0); d != float64(len(want)-4*part) {
		t.Errorf("%.0f bytes written to the bucket for the append, want the last part's %d", d, len(want)-4*part)
	}
}

// TestS3CommitRacingDirRename: a file's close through one mount racing a
// rename of its directory through another (two nodes). The writer looks
// where its file is, then uploads it there; a rename made in between
// leaves the object at the old key, or copies it along, and the bucket
// must end up with the file's bytes at its new name and nothing at the
// old one, whichever came first.
func TestS3CommitRacingDirRename(t *testing.T) {
	c, bucket := newS3RootCluster(t, nil)
	c.start()
	commitRacingDirRename(t, c, localStore(bucket))
}

// TestCommitRacingDirRename is TestS3CommitRacingDirRename on a local
// directory, where the rename moves the directory at once (a commit
// that opens the file there just after finds no directory).
func TestCommitRacingDirRename(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	commitRacingDirRename(t, c, localStore(c.ufs))
}

// TestHDFSCommitRacingDirRename is TestCommitRacingDirRename on HDFS.
func TestHDFSCommitRacingDirRename(t *testing.T) {
	srv := startHDFS(t, hdfstest.Config{})
	c := newHDFSRootCluster(t, srv, nil)
	c.start()
	commitRacingDirRename(t, c, func(rel string) ([]byte, error) {
		if _, err := srv.Stat("/alluxio/" + rel); err != nil {
			// The test namenode fails a lookup only for a missing
			// name (here, or a missing directory on the way).
			return nil, fmt.Errorf("%s: %v: %w", rel, err, fs.ErrNotExist)
		}
		return srv.ReadFile("/alluxio/" + rel)
	})
}

// localStore reads the under-store's files from the local directory dir.
func localStore(dir string) func(rel string) ([]byte, error) {
	return func(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel))) }
}

// commitRacingDirRename races closes through c's mount against renames
// of their directories through a second mount; stored reads a file of
// the under-store (fs.ErrNotExist when there is none).
func commitRacingDirRename(t *testing.T, c *cluster, stored func(rel string) ([]byte, error)) {
	mnt2 := secondMount(t, c, "mnt2")
	for i := range 30 {
		d, e := fmt.Sprintf("d%d", i), fmt.Sprintf("e%d", i)
		if err := os.Mkdir(filepath.Join(c.mnt, d), 0o755); err != nil {
			t.Fatal(err)
		}
		data := randomData(64<<10, uint64(i))
		f, err := os.Create(filepath.Join(c.mnt, d, "f"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		var cerr, rerr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; cerr = f.Close() })
		wg.Go(func() { <-start; rerr = os.Rename(filepath.Join(mnt2, d), filepath.Join(mnt2, e)) })
		close(start)
		wg.Wait()
		if cerr != nil || rerr != nil {
			t.Fatalf("round %d: close: %v; rename through the second mount: %v", i, cerr, rerr)
		}
		if got, err := os.ReadFile(filepath.Join(c.mnt, e, "f")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: the mount reads %d bytes (%v) at the new name, want the %d written", i, len(got), err, len(data))
		}
		if got, err := stored(e + "/f"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round %d: the under-store holds %d bytes (%v) at the new name, want the %d written", i, len(got), err, len(data))
		}
		if _, err := stored(d + "/f"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("round %d: the under-store still holds the old name (%v)", i, err)
		}
	}
}

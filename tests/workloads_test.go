package tests

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestReportedWorkloads runs, through the mount, the workloads that
// Alluxio's FUSE users reported failing there; each checks the bytes
// through the mount and in the under-store.
func TestReportedWorkloads(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }
	u := func(p string) string { return filepath.Join(c.ufs, p) }
	same := func(t *testing.T, name string, want []byte) {
		t.Helper()
		for _, p := range []string{m(name), u(name)} {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %d bytes (%v), want %d bytes: %.40q vs %.40q", p, len(got), err, len(want), got, want)
			}
		}
	}

	t.Run("overwrite and append from sh", func(t *testing.T) {
		sh(t, fmt.Sprintf("cd %s && echo a > f && echo b > f && echo c >> f", c.mnt))
		same(t, "f", []byte("b\nc\n"))
	})

	t.Run("fio O_DIRECT md5 verify over an existing file", func(t *testing.T) {
		old := make([]byte, 8<<20)
		rand.Read(old)
		if err := os.WriteFile(m("direct.bin"), old, 0o644); err != nil {
			t.Fatal(err)
		}
		// fio opens the existing file O_RDWR|O_CREAT with O_DIRECT,
		// writes it, and reads every block back against its md5.
		sh(t, fmt.Sprintf("fio --name=direct --filename=%s --rw=write --direct=1 --bs=64k --size=8m "+
			"--verify=md5 --do_verify=1 --verify_state_save=0 --ioengine=psync --output-format=terse >/dev/null", m("direct.bin")))
		got, err := os.ReadFile(u("direct.bin"))
		if err != nil || len(got) != len(old) || bytes.Equal(got, old) {
			t.Fatalf("under-store after fio: %d bytes (%v), rewritten: %v", len(got), err, !bytes.Equal(got, old))
		}
	})

	t.Run("read while another descriptor writes", func(t *testing.T) {
		w, err := os.Create(m("growing"))
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, err := os.Open(m("growing"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var all []byte
		for i := range 4 {
			chunk := make([]byte, 300<<10+i)
			rand.Read(chunk)
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(chunk)+10)
			n, err := r.ReadAt(got, int64(len(all)))
			if n != len(chunk) || !bytes.Equal(got[:n], chunk) || (err != nil && err != io.EOF) {
				t.Fatalf("chunk %d read by the other descriptor before close: %d bytes (%v), want %d", i, n, err, len(chunk))
			}
			all = append(all, chunk...)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		same(t, "growing", all)
	})

	t.Run("python writes at scattered offsets and reads back", func(t *testing.T) {
		want := filepath.Join(t.TempDir(), "want")
		script := `
import os, random, sys
path, want = sys.argv[1], sys.argv[2]
r = random.Random(7)
ref = bytearray()
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(400):
    off, n = r.randrange(0, 3 << 20), r.randrange(1, 64 << 10)
    b = r.randbytes(n)
    assert os.pwrite(fd, b, off) == n
    if off > len(ref):
        ref.extend(bytes(off - len(ref)))
    ref[off:off + n] = b
    if i % 40 == 0:
        roff = r.randrange(0, len(ref))
        got = os.pread(fd, 100000, roff)
        assert got == bytes(ref[roff:roff + 100000]), "read back at %d after write %d" % (roff, i)
assert os.pread(fd, len(ref) + 1, 0) == bytes(ref), "whole file before close"
os.fsync(fd)
os.close(fd)
with open(path, "rb") as f:
    assert f.read() == bytes(ref), "whole file after close"
with open(want, "wb") as f:
    f.write(ref)
`
		cmd := exec.Command("python3", "-c", script, m("scattered.bin"), want)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		data, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		same(t, "scattered.bin", data)
	})

	t.Run("shared writable mmap reaches the under-store", func(t *testing.T) {
		// Written through a MAP_SHARED mapping, once with msync and
		// once with only munmap and close.
		script := `
import mmap, os, sys
p = sys.argv[1]
with open(p, "wb") as f:
    f.write(b"a" * 10000)
for off, data, sync in ((0, b"HELLO", True), (9000, b"WORLD", False)):
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, 10000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[off:off + len(data)] = data
    if sync:
        m.flush()
    m.close()
    os.close(fd)
`
		if out, err := exec.Command("python3", "-c", script, m("mapped.bin")).CombinedOutput(); err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		want := bytes.Repeat([]byte("a"), 10000)
		copy(want, "HELLO")
		copy(want[9000:], "WORLD")
		same(t, "mapped.bin", want)
	})

	t.Run("fallocate grows, punches and zeroes", func(t *testing.T) {
		if err := os.WriteFile(m("falloc.bin"), []byte("abcdefgh"), 0o644); err != nil {
			t.Fatal(err)
		}
		sh(t, fmt.Sprintf("fallocate -l 100000 %[1]s && fallocate -n -l 200000 %[1]s && fallocate -p -o 2 -l 3 %[1]s && "+
			"fallocate -z -o 99990 -l 20 %[1]s", m("falloc.bin")))
		want := make([]byte, 100010)
		copy(want, "ab\x00\x00\x00fgh")
		same(t, "falloc.bin", want)
	})

	t.Run("S3 server keeps its data on the mount", func(t *testing.T) {
		data := m("s3data")
		if err := os.Mkdir(data, 0o755); err != nil {
			t.Fatal(err)
		}
		endpoint := startVersitygwAt(t, data)
		s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(s3Key, s3Secret, "")})
		ctx := t.Context()
		bucket := aws.String("onmount")
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket}); err != nil {
			t.Fatal(err)
		}
		put := func(key string, body []byte) {
			t.Helper()
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
				t.Fatalf("put %s: %v", key, err)
			}
		}
		get := func(key string) []byte {
			t.Helper()
			out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)})
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			return b
		}
		objects := map[string][]byte{}
		for i, size := range []int{0, 1, 4096, 3<<20 + 5} {
			b := make([]byte, size)
			rand.Read(b)
			key := fmt.Sprintf("dir/obj%d", i)
			put(key, b)
			objects[key] = b
		}
		// Overwrite: the server replaces the file (and its metadata
		// attributes) in place.
		objects["dir/obj1"] = []byte("overwritten with other bytes")
		put("dir/obj1", objects["dir/obj1"])
		list, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
			if want := int64(len(objects[aws.ToString(o.Key)])); aws.ToInt64(o.Size) != want {
				t.Errorf("listed %s with %d bytes, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), want)
			}
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != "dir/obj0,dir/obj1,dir/obj2,dir/obj3" {
			t.Fatalf("listing: %q", keys)
		}
		for key, want := range objects {
			if got := get(key); !bytes.Equal(got, want) {
				t.Fatalf("get %s: %d bytes, want %d", key, len(got), len(want))
			}
			same(t, filepath.Join("s3data", "onmount", key), want)
		}
		if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("dir/obj2")}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(u("s3data/onmount/dir/obj2")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("deleted object still in the under-store: %v", err)
		}
	})
}

// TestFuseKill9 kills the FUSE daemon with -9 and checks what POSIX and
// the README promise: files closed or fsync'ed before the kill are whole
// in the under-store and through a new mount, and `alluxio-start.sh fuse`
// mounts again at the same mount point, with no stale "Transport endpoint
// is not connected" left, even while a program still holds a descriptor
// of the dead mount.
func TestFuseKill9(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }

	closed := make([]byte, 3<<20+1)
	rand.Read(closed)
	if err := os.WriteFile(m("closed.bin"), closed, 0o644); err != nil {
		t.Fatal(err)
	}
	synced := make([]byte, 1<<20+7)
	rand.Read(synced)
	sf, err := os.Create(m("synced.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	if _, err := sf.Write(synced); err != nil {
		t.Fatal(err)
	}
	if err := sf.Sync(); err != nil {
		t.Fatal(err)
	}
	// Written, neither closed nor fsync'ed: it may be lost, but must not
	// be in the way afterwards.
	open, err := os.Create(m("open.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if _, err := open.Write([]byte("not yet durable")); err != nil {
		t.Fatal(err)
	}

	pid := fusePid(t, c)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(c.mnt); errors.Is(err, syscall.ENOTCONN) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mount of the killed daemon does not report ENOTCONN")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, want := range map[string][]byte{"closed.bin": closed, "synced.bin": synced} {
		if got, err := os.ReadFile(filepath.Join(c.ufs, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s in the under-store after the kill: %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}

	out := c.must("alluxio-start.sh", "fuse")
	if _, err := os.Stat(c.mnt); err != nil {
		t.Fatalf("mount point after alluxio-start.sh fuse: %v\n%s", err, out)
	}
	if n := strings.Count(mountLines(c.mnt), "\n"); n != 1 {
		t.Fatalf("%d mounts at %s after the restart, want 1:\n%s", n, c.mnt, mountLines(c.mnt))
	}
	for name, want := range map[string][]byte{"closed.bin": closed, "synced.bin": synced} {
		if got, err := os.ReadFile(m(name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s through the new mount: %d bytes (%v), want %d", name, len(got), err, len(want))
		}
	}
	// The descriptors of the dead mount fail; the names work again.
	if _, err := open.Write([]byte("more")); err == nil {
		t.Error("a write through a descriptor of the killed mount succeeded")
	}
	if err := os.WriteFile(m("open.bin"), []byte("again"), 0o644); err != nil {
		t.Fatalf("rewrite of the file left open at the kill: %v", err)
	}
	if got, err := os.ReadFile(m("open.bin")); err != nil || string(got) != "again" {
		t.Fatalf("open.bin after the rewrite: %q %v", got, err)
	}
	if pid2 := fusePid(t, c); pid2 == pid {
		t.Fatalf("the pid file still names the killed daemon %d", pid)
	}
}

// fusePid reads the PID of the cluster's FUSE daemon from its pid file.
func fusePid(t *testing.T, c *cluster) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(c.home, "logs", "fuse-*.pid"))
	if len(files) != 1 {
		t.Fatalf("fuse pid files: %q", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		t.Fatalf("pid file %s: %q", files[0], data)
	}
	return pid
}

// mountLines returns the lines of /proc/self/mounts for dir.
func mountLines(dir string) string {
	data, _ := os.ReadFile("/proc/self/mounts")
	var b strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == dir {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

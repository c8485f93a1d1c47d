package tests

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	s3Key    = "AKIASYSTEMTEST"
	s3Secret = "systemtest-secret-never-logged"
)

// startVersitygw runs the real S3 server the project's install script put
// in .cache/bin, serving a new posix directory, and returns its endpoint and
// that directory. It is stopped by PID when the test ends.
func startVersitygw(t *testing.T) (endpoint, dir string) {
	t.Helper()
	dir = t.TempDir()
	return startVersitygwAt(t, dir), dir
}

// startVersitygwAt runs the S3 server of .cache/bin with its posix
// backend on dir, and returns its endpoint; it is stopped
// by PID when the test ends.
func startVersitygwAt(t *testing.T, dir string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(filepath.Dir(file)), ".cache", "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("versitygw is not installed: run tests/s3/install-versitygw.sh (%v)", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// Keep-alive as real S3 servers keep it (versitygw closes every
	// connection after one request without it).
	cmd := exec.Command(bin, "--access", s3Key, "--secret", s3Secret, "--port", addr, "--quiet", "--keep-alive", "posix", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stopped before the cluster's cleanup unmounts its directory.
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	endpoint := "http://" + addr
	for deadline := time.Now().Add(15 * time.Second); ; {
		if resp, err := http.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw does not answer on %s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestS3NestedMount mounts a real S3 bucket into the namespace with
// startBucket starts versitygw with bucket made in it, and returns the
// server's endpoint, the directory of its posix backend and a client of it.
func startBucket(t *testing.T, bucket string) (endpoint, dir string, admin *s3.Client) {
	t.Helper()
	endpoint, dir = startVersitygw(t)
	admin = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s3Key, s3Secret, "")})
	if _, err := admin.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return endpoint, dir, admin
}

// mountS3 mounts uri (s3://bucket/prefix/) of the versitygw at endpoint at
// path, with the test keys as mount options, as users mount a bucket.
func (c *cluster) mountS3(endpoint, path, uri string) {
	c.t.Helper()
	c.must("alluxio", "fs", "mount",
		"--option", "s3a.accessKeyId="+s3Key, "--option", "s3a.secretKey="+s3Secret,
		"--option", "alluxio.underfs.s3.endpoint="+endpoint, "--option", "alluxio.underfs.s3.disable.dns.buckets=true",
		path, uri)
}

// Alluxio's options and uses it through the FUSE mount.
func TestS3NestedMount(t *testing.T) {
	const bucket = "systest"
	endpoint, dir, _ := startBucket(t, bucket)
	c := newCluster(t, nil)
	c.start()
	c.mountS3(endpoint, "/s3", "s3://"+bucket+"/data/")

	data := make([]byte, 5<<20+3)
	rand.Read(data)
	mnt := filepath.Join(c.mnt, "s3")
	if err := os.MkdirAll(filepath.Join(mnt, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "dir", "obj.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, bucket, "data", "dir", "obj.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object in the bucket: %d bytes, %v", len(got), err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "dir", "obj.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back through the mount: %d bytes, %v", len(got), err)
	}
	// A write in the middle goes through staging to a new object.
	f, err := os.OpenFile(filepath.Join(mnt, "dir", "obj.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("patched"), 1000)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	copy(data[1000:], "patched")
	if got, _ := os.ReadFile(filepath.Join(dir, bucket, "data", "dir", "obj.bin")); !bytes.Equal(got, data) {
		t.Fatal("the patched object differs in the bucket")
	}
	out := c.must("alluxio", "fs", "mount")
	if !strings.Contains(out, "s3://"+bucket+"/data/") || strings.Contains(out, s3Secret) {
		t.Fatalf("mount listing (must show the mount, never the secret):\n%s", out)
	}
	// Wrong credentials: the mount is refused and says why, without the secret.
	out, err = c.run("alluxio", "fs", "mount", "--option", "s3a.accessKeyId="+s3Key,
		"--option", "s3a.secretKey=wrong-secret-value", "--option", "alluxio.underfs.s3.endpoint="+endpoint,
		"--option", "alluxio.underfs.s3.disable.dns.buckets=true", "/bad", "s3://"+bucket+"/")
	if err == nil || strings.Contains(out, "wrong-secret-value") || !strings.Contains(strings.ToLower(out), "denied") {
		t.Fatalf("mount with a bad secret: %v\n%s", err, out)
	}
	logs, _ := filepath.Glob(filepath.Join(c.home, "logs", "*.log"))
	for _, l := range logs {
		if b, _ := os.ReadFile(l); bytes.Contains(b, []byte(s3Secret)) {
			t.Fatalf("%s contains the S3 secret", filepath.Base(l))
		}
	}
}

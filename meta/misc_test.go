package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/hashicorp/go-hclog"
)

func TestCleanPath(t *testing.T) {
	cases := []struct {
		in, want string
		err      error
	}{
		{"/", "/", nil},
		{"/a/b", "/a/b", nil},
		{"/a//b/", "/a/b", nil},
		{"/a/./b", "/a/b", nil},
		{"a/b", "", syscall.EINVAL},
		{"", "", syscall.EINVAL},
		{"/a/../b", "", syscall.EINVAL},
		{"/..", "", syscall.EINVAL},
		{"/a\x00b", "", syscall.EINVAL},
		{"/" + strings.Repeat("x", 256), "", syscall.ENAMETOOLONG},
	}
	for _, c := range cases {
		got, err := cleanPath("op", c.in)
		if got != c.want || !errors.Is(err, c.err) && !(c.err == nil && err == nil) {
			t.Errorf("cleanPath(%q) = %q, %v; want %q, %v", c.in, got, err, c.want, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), c.in[:min(len(c.in), 20)]) {
			t.Errorf("error %q does not name the path %q", err, c.in)
		}
	}
}

func TestMountTableResolve(t *testing.T) {
	mt := newMountTable([]MountInfo{
		{ID: 1, AlluxioPath: "/"},
		{ID: 2, AlluxioPath: "/mnt/s3"},
		{ID: 3, AlluxioPath: "/mnt/s3/inner"},
	})
	cases := []struct {
		path string
		id   uint64
		rel  string
	}{
		{"/", 1, ""},
		{"/a/b", 1, "a/b"},
		{"/mnt", 1, "mnt"},
		{"/mnt/s3", 2, ""},
		{"/mnt/s3x", 1, "mnt/s3x"},
		{"/mnt/s3/k/v", 2, "k/v"},
		{"/mnt/s3/inner/z", 3, "z"},
	}
	for _, c := range cases {
		m, rel, ok := mt.resolve(c.path)
		if !ok || m.ID != c.id || rel != c.rel {
			t.Errorf("resolve(%q) = %d %q %v; want %d %q", c.path, m.ID, rel, ok, c.id, c.rel)
		}
	}
}

func TestScrubError(t *testing.T) {
	const secret = "s3cr3t"
	cases := []struct {
		name string
		err  error
		uri  string
		opts map[string]string
		keep bool // the original error is returned as is
	}{
		{"no secret", fmt.Errorf("boom: %w", syscall.EIO), "s3://bucket", nil, true},
		{"option value", fmt.Errorf("bad key %s: %w", secret, syscall.EACCES), "s3://b", map[string]string{"aws.secretKey": secret}, false},
		{"uri password", fmt.Errorf("dial s3://id:%s@b: %w", secret, syscall.ECONNREFUSED), "s3://id:" + secret + "@b", nil, false},
		{"token", errors.New("token " + secret), "kodo://b", map[string]string{"Kodo.Token": secret}, false},
		{"non-secret option", errors.New("region " + secret), "s3://b", map[string]string{"region": secret}, true},
		// AWS secret keys hold '/', which ends a URI's authority early.
		{"uri password with a slash", fmt.Errorf("open s3://id:ab/%s@b: %w", secret, syscall.EINVAL), "s3://id:ab/" + secret + "@b", nil, false},
		{"private key", errors.New("key " + secret + " refused"), "s3://b", map[string]string{"private_key": secret}, false},
		// A secret too short to tell from the message's own words is
		// left; so is one that is only part of a longer word.
		{"short secret", errors.New("mount /a: bucket b unreachable"), "s3://b", map[string]string{"s3a.accessKeyId": "a", "s3a.secretKey": "b"}, true},
		{"part of a word", errors.New("mount /data: " + secret + "x unreachable"), "s3://b", map[string]string{"s3a.secretKey": secret}, true},
	}
	for _, c := range cases {
		got := scrubError(c.err, c.uri, c.opts)
		if c.keep {
			if got != c.err {
				t.Errorf("%s: error replaced: %v", c.name, got)
			}
			continue
		}
		if strings.Contains(got.Error(), secret) {
			t.Errorf("%s: secret left in %q", c.name, got)
		}
		var want syscall.Errno = syscall.EIO
		errors.As(c.err, &want)
		if !errors.Is(got, want) {
			t.Errorf("%s: errno lost: %v", c.name, got)
		}
	}
	if got := ufs.Redact("s3://id:" + secret + "@bucket/dir"); strings.Contains(got, secret) || !strings.Contains(got, "bucket/dir") {
		t.Errorf("ufs.Redact = %q", got)
	}
	if got := fmt.Sprint(MountInfo{AlluxioPath: "/x", UfsURI: "s3://b", Options: map[string]string{"secret": secret}}); strings.Contains(got, secret) {
		t.Errorf("MountInfo prints its options: %q", got)
	}
}

func TestHclogAdapter(t *testing.T) {
	buf := &lockedBuffer{}
	l := newHclog(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Debug("hidden")
	l.Named("net").With("peer", "p1").Warn("slow", "ms", 5)
	l.Error("broken")
	out := buf.String()
	for _, want := range []string{"level=WARN msg=slow logger=net peer=p1 ms=5", "level=ERROR msg=broken"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hidden") || l.IsDebug() || !l.IsInfo() {
		t.Errorf("debug not filtered:\n%s", out)
	}
	if l.GetLevel() != hclog.Info {
		t.Errorf("level %v", l.GetLevel())
	}
	l.SetLevel(hclog.Error)
	l.Warn("dropped")
	if strings.Contains(buf.String(), "dropped") {
		t.Error("SetLevel ignored")
	}
	l.StandardLogger(nil).Print("std line")
	if !strings.Contains(buf.String(), "std line") {
		t.Error("standard logger lost its line")
	}
}

func TestParsePeer(t *testing.T) {
	cases := []struct {
		in, id, addr string
		ok           bool
	}{
		{"m1=127.0.0.1:19201", "m1", "127.0.0.1:19201", true},
		{"127.0.0.1:19201", "127.0.0.1:19201", "127.0.0.1:19201", true},
		{"m1=", "", "", false},
		{"m1=nohost", "", "", false},
	}
	for _, c := range cases {
		s, err := parsePeer(c.in)
		if (err == nil) != c.ok || c.ok && (string(s.ID) != c.id || string(s.Address) != c.addr) {
			t.Errorf("parsePeer(%q) = %+v, %v", c.in, s, err)
		}
	}
}

func TestOpenConfigErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no journal", Config{RaftAddr: "127.0.0.1:1", RootUFS: "/"}, "JournalDir"},
		{"no raft address", Config{JournalDir: t.TempDir(), RootUFS: "/"}, "RaftAddr"},
		{"no root", Config{JournalDir: t.TempDir(), RaftAddr: "127.0.0.1:1"}, "RootUFS"},
	}
	for _, c := range cases {
		_, err := Open(ctx, c.cfg)
		if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// TestSecondOpenRefused checks that a journal in use is not opened twice.
func TestSecondOpenRefused(t *testing.T) {
	e := newEnv(t, -1)
	cfg := e.cfg
	cfg.RaftAddr = freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, cfg)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), metastoreName) {
		t.Fatalf("second Open on a journal in use: %v", err)
	}
}

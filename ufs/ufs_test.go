package ufs_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		raw    string
		scheme string
		host   string
		path   string
		bad    bool
	}{
		{raw: "/tmp/x", scheme: "file", path: "/tmp/x"},
		{raw: "/tmp//x/./y/../z/", scheme: "file", path: "/tmp/x/z"},
		{raw: "/", scheme: "file", path: "/"},
		{raw: "file:///data/ufs", scheme: "file", path: "/data/ufs"},
		{raw: "FILE:///data", scheme: "file", path: "/data"},
		{raw: "s3://bucket/dir/", scheme: "s3", host: "bucket", path: "/dir/"},
		{raw: "S3://Bucket", scheme: "s3", host: "Bucket"},
		{raw: "kodo://bucket/a%20b", scheme: "kodo", host: "bucket", path: "/a b"},
		{raw: "hdfs://namenode:8020/user/x", scheme: "hdfs", host: "namenode:8020", path: "/user/x"},
		{raw: "", bad: true},
		{raw: "relative/dir", bad: true},
		{raw: "bucket", bad: true},
		{raw: "://nothing", bad: true},
		{raw: "s3://bad host/x", bad: true},
		{raw: "s3://bucket/%zz", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := ufs.ParseURI(tt.raw)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseURI(%q) = %v, want an error", tt.raw, u)
				}
				if tt.raw != "" && !strings.Contains(err.Error(), tt.raw) {
					t.Errorf("error %q does not name the URI", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tt.raw, err)
			}
			if u.Scheme != tt.scheme || u.Host != tt.host || u.Path != tt.path {
				t.Errorf("ParseURI(%q) = scheme %q host %q path %q; want %q %q %q",
					tt.raw, u.Scheme, u.Host, u.Path, tt.scheme, tt.host, tt.path)
			}
		})
	}
}

func TestClean(t *testing.T) {
	tests := []struct {
		in   string
		want string
		bad  bool
	}{
		{in: "", want: ""},
		{in: "/", want: ""},
		{in: ".", want: ""},
		{in: "./", want: ""},
		{in: "//", want: ""},
		{in: "a", want: "a"},
		{in: "/a/", want: "a"},
		{in: "a//b", want: "a/b"},
		{in: "./a/./b/.", want: "a/b"},
		{in: "...", want: "..."},
		{in: "a/..b/c..", want: "a/..b/c.."},
		{in: "..", bad: true},
		{in: "../a", bad: true},
		{in: "/../a", bad: true},
		{in: "a/..", bad: true}, // stays inside, but ".." is refused outright
		{in: "a/b/../../..", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ufs.Clean(tt.in)
			if tt.bad {
				if !errors.Is(err, syscall.EINVAL) {
					t.Fatalf("Clean(%q) = %q, %v; want EINVAL", tt.in, got, err)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || pe.Path != tt.in {
					t.Errorf("Clean(%q) error %v does not name the path", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		elems []string
		want  string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"", "a"}, "a"},
		{[]string{"/", "a"}, "a"},
		{[]string{"a", "b"}, "a/b"},
		{[]string{"a/", "/b/"}, "a/b"},
		{[]string{"a", "", "b"}, "a/b"},
	}
	for _, tt := range tests {
		if got := ufs.Join(tt.elems...); got != tt.want {
			t.Errorf("Join(%q) = %q, want %q", tt.elems, got, tt.want)
		}
	}
}

func TestFileInfo(t *testing.T) {
	mt := time.Unix(1700000000, 123)
	tests := []struct {
		name string
		fi   ufs.FileInfo
		dir  bool
		fp   string
	}{
		{"file", ufs.FileInfo{Size: 10, ModTime: mt, Mode: 0o644}, false, "mt:1700000000000000123:10"},
		{"dir", ufs.FileInfo{ModTime: mt, Mode: fs.ModeDir | 0o755}, true, "mt:1700000000000000123:0"},
		{"object", ufs.FileInfo{Size: 10, ModTime: mt, ETag: "abc"}, false, "etag:abc"},
	}
	for _, tt := range tests {
		if got := tt.fi.IsDir(); got != tt.dir {
			t.Errorf("%s: IsDir = %v, want %v", tt.name, got, tt.dir)
		}
		if got := tt.fi.Fingerprint(); got != tt.fp {
			t.Errorf("%s: Fingerprint = %q, want %q", tt.name, got, tt.fp)
		}
	}
	a := ufs.FileInfo{Size: 3, ModTime: mt}
	b := a
	b.ModTime = mt.Add(time.Nanosecond)
	if a.Fingerprint() == b.Fingerprint() {
		t.Errorf("fingerprint ignores a one-nanosecond mtime change")
	}
}

// stubStore is a UFS that refuses everything; it exists to be returned by
// a test factory.
type stubStore struct{ uri *url.URL }

func (stubStore) OpenRange(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, syscall.ENOSYS
}
func (stubStore) Stat(context.Context, string) (ufs.FileInfo, error) {
	return ufs.FileInfo{}, syscall.ENOSYS
}
func (stubStore) List(context.Context, string, func(ufs.FileInfo) error) error { return syscall.ENOSYS }
func (stubStore) Create(context.Context, string, ufs.CreateOptions) (ufs.Writer, error) {
	return nil, syscall.ENOSYS
}
func (stubStore) Delete(context.Context, string) error             { return syscall.ENOSYS }
func (stubStore) Rename(context.Context, string, string) error     { return syscall.ENOSYS }
func (stubStore) Mkdir(context.Context, string, fs.FileMode) error { return syscall.ENOSYS }
func (stubStore) Close() error                                     { return nil }

var errRefused = errors.New("refused by the test factory")

func init() {
	ufs.Register("UFSTest", func(u *url.URL, opts map[string]string) (ufs.UFS, error) {
		if u.Host == "refuse" {
			return nil, errRefused
		}
		return stubStore{uri: u}, nil
	})
}

func TestOpen(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr error  // matched with errors.Is, when set
		mention string // the error must contain this
		ok      bool
	}{
		{raw: "ufstest://bucket/dir", ok: true},
		{raw: "UFSTEST://bucket", ok: true},
		{raw: "ufstest://refuse/dir", wantErr: errRefused, mention: "ufstest://refuse/dir"},
		{raw: "nosuch://bucket/dir", mention: `"nosuch"`},
		{raw: "gopher://x", mention: "ufstest"}, // lists what is supported
		{raw: "", mention: "empty"},
		{raw: "relative/dir", mention: "relative/dir"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			s, err := ufs.Open(tt.raw, map[string]string{"k": "v"})
			if tt.ok {
				if err != nil {
					t.Fatalf("Open(%q): %v", tt.raw, err)
				}
				defer s.Close()
				st, ok := s.(stubStore)
				if !ok || st.uri.Scheme != "ufstest" {
					t.Errorf("Open(%q) = %#v; want the test store with a lower-case scheme", tt.raw, s)
				}
				return
			}
			if err == nil {
				t.Fatalf("Open(%q) succeeded, want an error", tt.raw)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Open(%q) error %v does not wrap %v", tt.raw, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Open(%q) error %q does not mention %q", tt.raw, err, tt.mention)
			}
		})
	}
}

func TestSchemes(t *testing.T) {
	got := ufs.Schemes()
	if !slices.Contains(got, "ufstest") {
		t.Errorf("Schemes() = %v, want it to hold the registered, lower-cased %q", got, "ufstest")
	}
	if !slices.IsSorted(got) {
		t.Errorf("Schemes() = %v, not sorted", got)
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"", "/", "/tmp/x", "file:///tmp/x", "s3://bucket/dir/", "S3://B", "kodo://b/%20",
		"hdfs://nn:8020/p", "relative", "://x", "a:b", "/../..", "//host/p", "s3://u:p@b/",
		"file:relative", "x://[::1]:80/", "\x00", "%", "s3://b/%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := ufs.ParseURI(raw)
		if err != nil {
			if u != nil {
				t.Fatalf("ParseURI(%q) returned both %v and %v", raw, u, err)
			}
			return
		}
		if u.Scheme == "" || u.Scheme != strings.ToLower(u.Scheme) {
			t.Fatalf("ParseURI(%q) scheme %q: want non-empty lower case", raw, u.Scheme)
		}
		if strings.HasPrefix(raw, "/") {
			if u.Scheme != "file" || u.Path != path.Clean(raw) {
				t.Fatalf("ParseURI(%q) = %q %q; want file and the cleaned path", raw, u.Scheme, u.Path)
			}
		}
	})
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{
		"", "/", ".", "..", "a/../b", "/a//b/", "./a/./b", "...", "a/...", "..a", "a..",
		"/../", "a/b/c/../../..", "\x00", "a\\..\\b", "//..//",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := ufs.Clean(p)
		if err != nil {
			if !slices.Contains(strings.Split(p, "/"), "..") {
				t.Fatalf("Clean(%q) refused a path without \"..\": %v", p, err)
			}
			if !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("Clean(%q) error %v is not EINVAL", p, err)
			}
			return
		}
		if strings.HasPrefix(c, "/") {
			t.Fatalf("Clean(%q) = %q starts with /", p, c)
		}
		for _, el := range strings.Split(c, "/") {
			if el == ".." || el == "." || (el == "" && c != "") {
				t.Fatalf("Clean(%q) = %q has element %q", p, c, el)
			}
		}
		if again, err := ufs.Clean(c); err != nil || again != c {
			t.Fatalf("Clean is not idempotent: Clean(%q) = %q, Clean(%q) = %q, %v", p, c, c, again, err)
		}
	})
}

func TestRedact(t *testing.T) {
	cases := []struct{ in, want string }{
		{"s3://AKID:SECRET@bucket/dir", "s3://AKID:xxxxx@bucket/dir"},
		{"s3://bucket/dir", "s3://bucket/dir"},
		{"hdfs://user@nn:8020/p", "hdfs://user@nn:8020/p"},
		{"/local/path", "/local/path"},
		{"kodo://k:s@b", "kodo://k:xxxxx@b"},
		// Secrets pasted unescaped: AWS secret keys hold '/'.
		{"s3://AKID:wJa/SECRET@bucket/dir", "s3://AKID:xxxxx@bucket/dir"},
		{"s3a://AKID:12/SECRET@bucket", "s3a://AKID:xxxxx@bucket"},
		{"s3://AKID:SE#CR?ET@bucket/a", "s3://AKID:xxxxx@bucket/a"},
		{"s3://AKID:SE@CRET@bucket/a", "s3://AKID:xxxxx@bucket/a"},
		// A port, and '@' in the path, is not a password.
		{"hdfs://nn:8020/a@b", "hdfs://nn:8020/a@b"},
		{"hdfs://user@nn:8020/a@b", "hdfs://user@nn:8020/a@b"},
		{"s3://bucket/dir:x/a@b", "s3://bucket/dir:x/a@b"},
	}
	for _, c := range cases {
		if got := ufs.Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(ufs.Redact(c.in), "SECRET") {
			t.Errorf("Redact(%q) leaks the secret", c.in)
		}
	}
	if _, err := ufs.Open("nope://AKID:SECRET@b/x", nil); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("Open error leaks or is nil: %v", err)
	}
	for _, raw := range []string{"s3://AKID:wJa/SECRET@bucket/dir", "s3://AKID:SE%zzCRET@bucket"} {
		if _, err := ufs.ParseURI(raw); err == nil || strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "%2F") {
			t.Errorf("ParseURI(%q) error leaks, is nil or gives no hint: %v", raw, err)
		}
	}
	// Without a password, the parser's reason is given.
	if _, err := ufs.ParseURI("hdfs://nn:abc/x"); err == nil || !strings.Contains(err.Error(), "invalid port") {
		t.Errorf("ParseURI of a bad port: %v", err)
	}
	if pw, ok := ufs.Password("s3://AKID:a%2Fb@bucket"); !ok || pw != "a/b" {
		t.Errorf("Password = %q %v", pw, ok)
	}
}

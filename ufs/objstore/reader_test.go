package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// brokenBody passes left bytes through and then fails, at once or after
// stalling until its request is canceled.
type brokenBody struct {
	io.ReadCloser
	ctx   context.Context
	left  int
	stall bool
}

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.stall {
			select {
			case <-b.ctx.Done():
				return 0, b.ctx.Err()
			case <-time.After(10 * time.Second):
			}
		}
		return 0, errors.New("connection reset by the test")
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= n
	return n, err
}

// breakBodies makes the next n bodies break after left bytes.
func breakBodies(m *mem, n int, left int, stall bool) {
	var done atomic.Int64
	m.body = func(ctx context.Context, _ string, r io.ReadCloser) io.ReadCloser {
		if done.Add(1) > int64(n) {
			return r
		}
		return &brokenBody{ReadCloser: r, ctx: ctx, left: left, stall: stall}
	}
}

// TestReadResume: a body that breaks off, or stalls for longer than
// ReadStall, is resumed where it stopped, as long as resumes are left.
func TestReadResume(t *testing.T) {
	data := randomBytes(1<<20, 6)
	tests := []struct {
		name    string
		breaks  int
		stall   bool
		off, n  int64
		resumes int
		gets    int
		wantErr error
	}{
		{"cut", 1, false, 0, -1, 3, 2, nil},
		{"stall", 1, true, 0, -1, 3, 2, nil},
		{"cut in a range", 2, false, 1000, 500000, 3, 3, nil},
		{"cut each time", 4, false, 0, -1, 3, 4, syscall.EIO},
		{"stall each time", 2, true, 0, -1, 1, 2, syscall.EIO},
		{"no resumes", 1, false, 0, -1, 0, 1, syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			u := open(t, m, Config{ReadStall: 50 * time.Millisecond, ReadStallKey: "test.read.stall", ReadResumes: tt.resumes})
			m.put("f", data)
			breakBodies(m, tt.breaks, 64<<10, tt.stall)
			m.requests()
			r, err := u.OpenRange(t.Context(), "f", tt.off, tt.n)
			must(t, err)
			defer r.Close()
			start := time.Now()
			got, err := io.ReadAll(r)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the read took %v", d)
			}
			if n := count(m.requests(), "GET"); n != tt.gets {
				t.Errorf("%d GET requests, want %d", n, tt.gets)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("read: %v, want %v", err, tt.wantErr)
				}
				what := "connection reset by the test"
				if tt.stall {
					what = "no data for 50ms (test.read.stall)"
				}
				errContains(t, err, "read mem://bkt/f", "resumes", what)
				return
			}
			must(t, err)
			end := int64(len(data))
			if tt.n > 0 {
				end = tt.off + tt.n
			}
			if !bytes.Equal(got, data[tt.off:end]) {
				t.Fatalf("read %d bytes that differ from the %d wanted", len(got), end-tt.off)
			}
		})
	}
}

// TestReadChanged: when the object is rewritten under a resumed read, the
// read fails with ESTALE instead of mixing two versions.
func TestReadChanged(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{ReadResumes: 3})
	m.put("f", randomBytes(256<<10, 7))
	breakBodies(m, 1, 64<<10, false)
	r, err := u.OpenRange(t.Context(), "f", 0, -1)
	must(t, err)
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	m.put("f", []byte("rewritten"))
	_, err = io.ReadAll(r)
	if !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("reading on after a rewrite: %v, want ESTALE", err)
	}
	errContains(t, err, "read mem://bkt/f", "changed while it was read")
}

// TestReadContext: a read whose context ends stops with the context's
// error, without resuming; a closed reader says EBADF.
func TestReadContext(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{ReadStall: time.Minute, ReadResumes: 5})
	m.put("f", randomBytes(256<<10, 8))
	breakBodies(m, 1, 64<<10, true)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	r, err := u.OpenRange(ctx, "f", 0, -1)
	must(t, err)
	_, err = io.ReadAll(r)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("read past the deadline: %v, want DeadlineExceeded and ETIMEDOUT", err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Read after Close: %v, want EBADF", err)
	}
	if n := count(m.requests(), "GET"); n != 1 {
		t.Errorf("%d GET requests, want 1", n)
	}
}

// TestOpenRangeVersion: a read of a given version returns its bytes while
// the object is that version, and ESTALE once another object took its
// name; a fingerprint that is not an ETag is not checked.
func TestOpenRangeVersion(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{})
	old := randomBytes(64<<10, 9)
	m.put("f", old)
	fi, err := u.Stat(t.Context(), "f")
	must(t, err)
	oldPrint := fi.Fingerprint()
	now := []byte("another file renamed over f")
	m.put("f", now)
	fi, err = u.Stat(t.Context(), "f")
	must(t, err)
	cases := []struct {
		name        string
		fingerprint string
		want        []byte
		err         error
	}{
		{"current version", fi.Fingerprint(), now[5:], nil},
		{"replaced version", oldPrint, nil, syscall.ESTALE},
		{"not an ETag", "mt:1:2", now[5:], nil},
		{"no fingerprint", "", now[5:], nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := u.OpenRangeVersion(t.Context(), "f", 5, -1, tc.fingerprint)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("open: %v, want %v", err, tc.err)
				}
				errContains(t, err, "mem://bkt/f")
				return
			}
			must(t, err)
			defer r.Close()
			got, err := io.ReadAll(r)
			must(t, err)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("read %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMoveKeeps: only an object uploaded in parts (an S3 multipart ETag)
// may get another fingerprint from the copy a rename makes.
func TestMoveKeeps(t *testing.T) {
	var s Store
	for fp, want := range map[string]bool{
		`etag:"9bb58f26192e4ba00f01e2e7b136bbd8"`:   true,  // uploaded whole: the copy has the same MD5
		`etag:"b54357faf0632cce46e942fa68356b38-3"`: false, // uploaded in 3 parts
		`etag:b54357faf0632cce46e942fa68356b38-12`:  false,
		"etag:Fh8xVqod2MGSRZsBkjQ4CEg-0ZTb":         true, // a Kodo hash (URL-safe base64), not hex
		"mt:1795828161002494155:8":                  true,
		`etag:"b54357faf0632cce46e942fa68356b38-"`:  true,
		`etag:"b54357faf0632cce46e942fa68356b3-3"`:  true, // 31 hex digits
	} {
		if got := s.MoveKeeps(fp); got != want {
			t.Errorf("MoveKeeps(%s) = %v, want %v", fp, got, want)
		}
	}
}

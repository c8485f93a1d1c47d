package objstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"github.com/alluxio-go/alluxio/ufs/ufstest"
)

// TestMultipart writes files of several sizes in pieces and checks the
// requests and the bytes: one PutObject up to a part, a multipart upload
// beyond, nothing visible before Close.
func TestMultipart(t *testing.T) {
	const part = 1 << 10
	tests := []struct {
		name             string
		size             int
		multipart        bool
		puts, parts, cmp int
	}{
		{"empty", 0, true, 1, 0, 0},
		{"under a part", part - 1, true, 1, 0, 0},
		{"one part", part, true, 0, 1, 1},
		{"parts and a bit", 2*part + 7, true, 0, 3, 1},
		{"no multipart", 3*part + 7, false, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			var c Client = m
			if !tt.multipart {
				c = basic{m}
			}
			u := open(t, c, Config{PartSize: part})
			ctx := t.Context()
			data := randomBytes(tt.size, 3)
			w, err := u.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
			must(t, err)
			ufstest.WriteInPieces(t, w, data, 333)
			if _, err := u.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the file is visible before Close: %v", err)
			}
			fi, err := w.Close(ctx)
			must(t, err)
			reqs := m.requests()
			for op, n := range map[string]int{"PUT": tt.puts, "PART": tt.parts, "COMPLETE": tt.cmp, "CREATEUPLOAD": tt.cmp, "ABORT": 0} {
				if got := count(reqs, op); got != n {
					t.Errorf("%d %s requests, want %d: %q", got, op, n, reqs)
				}
			}
			if fi.Name != "f" || fi.Size != int64(len(data)) || fi.ETag == "" {
				t.Errorf("Close = %+v, want f of %d bytes with an ETag", fi, len(data))
			}
			if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
			}
			if m.pending() != 0 {
				t.Errorf("%d uploads left", m.pending())
			}
		})
	}
}

// TestPartSize checks the part size a SizeHint picks, and that the size
// doubles every 1000 parts of a stream of unknown length.
func TestPartSize(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name      string
		part, max int64
		maxParts  int
		hint      int64
		want      int64
	}{
		{"no hint", 5 * mb, 5 << 30, 10000, -1, 5 * mb},
		{"small hint", 5 * mb, 5 << 30, 10000, 100 * mb, 5 * mb},
		{"large hint", 5 * mb, 5 << 30, 10000, 100000 * mb, 10 * mb},
		{"rounded to MiB", 5 * mb, 5 << 30, 4, 30*mb + 1, 8 * mb},
		{"capped", 5 * mb, 6 * mb, 4, 100 * mb, 6 * mb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := open(t, newMem(), Config{PartSize: tt.part, MaxPartSize: tt.max, MaxParts: tt.maxParts})
			w, err := u.Create(t.Context(), "f", ufs.CreateOptions{SizeHint: tt.hint})
			must(t, err)
			defer w.Abort()
			if got := w.(*writer).partSize; got != tt.want {
				t.Errorf("part size %d, want %d", got, tt.want)
			}
		})
	}

	t.Run("growth", func(t *testing.T) {
		m := newMem()
		u := open(t, m, Config{PartSize: 16, MaxPartSize: 64})
		w, err := u.Create(t.Context(), "f", ufs.CreateOptions{SizeHint: -1})
		must(t, err)
		data := randomBytes(1000*16+1000*32+1000*64+100, 9)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if got := w.(*writer).partSize; got != 64 {
			t.Errorf("part size %d after 3000 parts, want 64 (doubled twice, then capped)", got)
		}
		_, err = w.Close(t.Context())
		must(t, err)
		if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
			t.Fatal("the file differs")
		}
	})
	t.Run("too many parts", func(t *testing.T) {
		m := newMem()
		u := open(t, m, Config{PartSize: 16, MaxPartSize: 16, MaxParts: 3})
		w, err := u.Create(t.Context(), "f", ufs.CreateOptions{SizeHint: -1})
		must(t, err)
		_, err = w.Write(make([]byte, 64))
		if !errors.Is(err, syscall.EFBIG) {
			t.Errorf("a fourth part: %v, want EFBIG", err)
		}
		if m.pending() != 0 {
			t.Errorf("%d uploads left after the failure", m.pending())
		}
	})
}

// TestWriteFailure: when a request of an upload fails the writer fails,
// aborts the upload and leaves the old file as it was.
func TestWriteFailure(t *testing.T) {
	tests := []struct {
		name    string
		op      string // the request that fails
		size    int
		atClose bool   // the failure shows at Close, not at Write
		says    string // what the error says
	}{
		{"part", "PART", 3 << 10, false, "write mem://bkt/f: part 2: HTTP 500"},
		{"create upload", "CREATEUPLOAD", 3 << 10, false, "write mem://bkt/f: HTTP 500"},
		{"last part", "PART", 1<<10 + 1, true, "write mem://bkt/f: part 2: HTTP 500"},
		{"complete", "COMPLETE", 3 << 10, true, "close mem://bkt/f: HTTP 500"},
		{"put", "PUT", 100, true, "close mem://bkt/f: HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			u := open(t, m, Config{PartSize: 1 << 10})
			ctx := t.Context()
			putFile(t, u, "f", []byte("old"))
			parts := 0
			m.setFail(func(op, key string) error {
				if op == "PART" {
					parts++
				}
				if op == tt.op && (op != "PART" || parts == 2) {
					return fmt.Errorf("HTTP 500 InternalError: %w", syscall.EIO)
				}
				return nil
			})
			w, err := u.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
			must(t, err)
			_, werr := w.Write(randomBytes(tt.size/2, 4))
			if werr == nil {
				_, werr = w.Write(randomBytes(tt.size-tt.size/2, 5))
			}
			_, cerr := w.Close(ctx)
			err = werr
			if tt.atClose {
				if werr != nil {
					t.Fatalf("Write: %v", werr)
				}
				err = cerr
			} else if cerr == nil {
				t.Error("Close after a failed Write succeeded")
			}
			errContains(t, err, tt.says)
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("error %v, want EIO", err)
			}
			m.setFail(nil)
			if got := readFile(t, u, "f"); string(got) != "old" {
				t.Errorf("f = %q after a failed rewrite, want the old content", got)
			}
			if m.pending() != 0 {
				t.Errorf("%d uploads left after a failure", m.pending())
			}
		})
	}
}

// TestAbort: Abort after parts frees the upload and shows nothing.
func TestAbort(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{PartSize: 1 << 10})
	ctx := t.Context()
	w, err := u.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	if _, err := w.Write(make([]byte, 2<<10+1)); err != nil {
		t.Fatal(err)
	}
	if m.pending() != 1 {
		t.Errorf("%d uploads in progress, want 1", m.pending())
	}
	must(t, w.Abort())
	if n := count(m.requests(), "ABORT"); n != 1 {
		t.Errorf("%d ABORT requests, want 1", n)
	}
	if m.pending() != 0 {
		t.Errorf("%d uploads left after Abort", m.pending())
	}
	if _, err := u.Stat(ctx, "f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Abort: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Write after Abort: %v, want EBADF", err)
	}

	// A failing abort is reported, naming the object.
	w, err = u.Create(ctx, "g", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	if _, err := w.Write(make([]byte, 1<<10)); err != nil {
		t.Fatal(err)
	}
	m.setFail(func(op, key string) error {
		if op == "ABORT" {
			return fmt.Errorf("HTTP 503: %w", syscall.EIO)
		}
		return nil
	})
	errContains(t, w.Abort(), "abort mem://bkt/g", "HTTP 503")
}

// TestRetarget: a file renamed while written lands at its new name while
// it is still one buffered part; once parts are uploaded it cannot move.
func TestRetarget(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{PartSize: 1 << 10})
	ctx := t.Context()
	putFile(t, u, "old", []byte("another file now at the old name"))
	w, err := u.Create(ctx, "old", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write([]byte("moved"))
	must(t, w.(ufs.Retargeter).Retarget(ctx, "d/new"))
	fi, err := w.Close(ctx)
	must(t, err)
	if fi.Name != "new" {
		t.Errorf("Close describes %q, want new", fi.Name)
	}
	if got := readFile(t, u, "d/new"); string(got) != "moved" {
		t.Errorf("d/new = %q", got)
	}
	if got := readFile(t, u, "old"); string(got) != "another file now at the old name" {
		t.Errorf("old = %q: it was touched", got)
	}
	if err := w.(ufs.Retargeter).Retarget(ctx, "x"); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Retarget after Close: %v, want EBADF", err)
	}

	w, err = u.Create(ctx, "big", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write(make([]byte, 1<<10+1))
	err = w.(ufs.Retargeter).Retarget(ctx, "elsewhere")
	if !errors.Is(err, syscall.EXDEV) || !strings.Contains(err.Error(), "1024 bytes already uploaded") {
		t.Errorf("Retarget after a part: %v, want EXDEV saying 1024 bytes", err)
	}
	must(t, w.Abort())
}

// TestCloseDescribes: when the new object cannot be described after
// Close, Close still succeeds with what it knows.
func TestCloseDescribes(t *testing.T) {
	m := newMem()
	u := open(t, m, Config{})
	w, err := u.Create(t.Context(), "f", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	w.Write([]byte("12345"))
	m.setFail(func(op, key string) error {
		if op == "HEAD" {
			return fmt.Errorf("HTTP 503: %w", syscall.EIO)
		}
		return nil
	})
	fi, err := w.Close(t.Context())
	must(t, err)
	m.setFail(nil)
	h, err := m.HeadObject(t.Context(), "f")
	must(t, err)
	if fi.Size != 5 || fi.ETag != h.ETag || fi.ModTime.IsZero() {
		t.Errorf("Close = %+v, want 5 bytes with ETag %s and a time", fi, h.ETag)
	}
}

// TestCopyParts rewrites part of a stored file with its older version as
// the base: the parts that hold the base's own bytes are copied on the
// server and the others uploaded; a base replaced since, or one named by
// something other than an ETag, is not copied from, and the bytes are
// always the new file's.
func TestCopyParts(t *testing.T) {
	const part = 1 << 10
	old := randomBytes(5*part+7, 4)
	// The new version: a byte of the second part changed, 100 bytes
	// appended (the last part straddles the base's end).
	data := append(bytes.Clone(old), randomBytes(100, 5)...)
	const changed = part + 17
	data[changed] ^= 0xff
	unchanged := func(off, end int64) bool { return !(off <= changed && changed < end) }
	tests := []struct {
		name         string
		fingerprint  func(etag string) string
		replace      bool // another object at the name before the writes
		readAt       bool // the base reads the bytes back (none held)
		copies, puts int
		// copiesUpTo, when set, allows from copies to this many copy
		// requests: copies in flight at once may all be refused.
		copiesUpTo int
	}{
		{"copied", func(e string) string { return "etag:" + e }, false, false, 4, 2, 0},
		{"base replaced", func(e string) string { return "etag:" + e }, true, false, 1, 6, 0},
		{"no etag", func(string) string { return "mt:1:2" }, false, false, 0, 6, 0},
		{"copied without the bytes held", func(e string) string { return "etag:" + e }, false, true, 4, 2, 0},
		{"base replaced, bytes read back", func(e string) string { return "etag:" + e }, true, true, 1, 6, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			u := open(t, m, Config{PartSize: part})
			ctx := t.Context()
			etag := m.put("d/f", old)
			base := &ufs.BaseVersion{Path: "/d/f", Fingerprint: tt.fingerprint(etag), Size: int64(len(old)), Unchanged: unchanged}
			if tt.readAt {
				base.ReadAt = bytes.NewReader(data).ReadAt
			}
			w, err := u.Create(ctx, "/d/f", ufs.CreateOptions{SizeHint: -1, Base: base})
			must(t, err)
			if tt.replace {
				m.put("d/f", randomBytes(len(old), 6))
			}
			m.requests()
			ufstest.WriteInPieces(t, w, data, 333)
			fi, err := w.Close(ctx)
			must(t, err)
			reqs := m.requests()
			if got := count(reqs, "COPYPART"); got < tt.copies || got > max(tt.copies, tt.copiesUpTo) {
				t.Errorf("%d copy requests, want %d (up to %d): %q", got, tt.copies, tt.copiesUpTo, reqs)
			}
			if got := count(reqs, "PART"); got != tt.puts {
				t.Errorf("%d parts uploaded, want %d: %q", got, tt.puts, reqs)
			}
			copied := int64(0)
			if tt.copies > 0 && !tt.replace {
				copied = int64(tt.copies * part)
			}
			if got := w.(ufs.CopyReporter).Copied(); got != copied {
				t.Errorf("Copied = %d, want %d", got, copied)
			}
			if fi.Size != int64(len(data)) {
				t.Errorf("Close = %+v, want %d bytes", fi, len(data))
			}
			if got := readFile(t, u, "/d/f"); !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
			}
		})
	}
}

// TestPartsInBackground: a part is sent while the writer takes the next
// one's bytes: the Write that fills a part returns before the part's
// upload is answered, and Close waits for it.
func TestPartsInBackground(t *testing.T) {
	const part = 1 << 10
	m := newMem()
	u := open(t, m, Config{PartSize: part})
	ctx := t.Context()
	returned := make(chan struct{})
	var waitedOut atomic.Bool
	m.setFail(func(op, key string) error {
		if op == "PART" {
			select {
			case <-returned:
			case <-time.After(10 * time.Second):
				waitedOut.Store(true) // Write waited for this answer
			}
		}
		return nil
	})
	data := randomBytes(part+part/2, 9)
	w, err := u.Create(ctx, "f", ufs.CreateOptions{SizeHint: -1})
	must(t, err)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	close(returned)
	if _, err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if waitedOut.Load() {
		t.Error("the Write that filled a part waited for its upload")
	}
	if got := readFile(t, u, "f"); !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(data))
	}
}

// TestTakeBase appends to a stored file whose bytes are taken on the
// server (ufs.BaseTaker): copied part by part, never below the least part
// size but for the last, read from the base where too small to copy or
// where the store refuses; a base replaced meanwhile fails the file
// rather than give it the other object's bytes.
func TestTakeBase(t *testing.T) {
	const part, minPart = 1 << 10, 256
	tail := randomBytes(100, 11)
	tests := []struct {
		name     string
		base     int   // the base's size
		maxPart  int64 // Config.MaxPartSize, when set
		refuse   bool  // the store refuses every copy
		copies   int   // copy requests (with refuse, at least: those in flight may all be tried)
		gets     int   // reads of the base
		uploaded int   // parts uploaded (PUT: one PutObject)
	}{
		{name: "whole parts", base: 3 * part, copies: 3, uploaded: 1},
		{name: "a small rest joins the last part", base: 5*part + 7, copies: 5, uploaded: 1},
		{name: "a rest of a part's least size is one", base: 5*part + 300, copies: 6, uploaded: 1},
		{name: "the joined part would be too big", base: 2*part + 50, maxPart: part + 10, copies: 3, uploaded: 1},
		{name: "below a part's least size: read", base: 100, gets: 1, uploaded: 1},
		{name: "copies refused: read", base: 3*part + 7, refuse: true, copies: 1, gets: 3, uploaded: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMem()
			m.minPart = minPart
			u := open(t, m, Config{PartSize: part, MinPartSize: minPart, MaxPartSize: tt.maxPart})
			if tt.refuse {
				m.setFail(func(op, key string) error {
					if op == "COPYPART" {
						return fmt.Errorf("copies not implemented: %w", syscall.ENOTSUP)
					}
					return nil
				})
			}
			ctx := t.Context()
			old := randomBytes(tt.base, 12)
			etag := m.put("d/f", old)
			base := &ufs.BaseVersion{Path: "/d/f", Fingerprint: "etag:" + etag, Size: int64(len(old)),
				Unchanged: func(off, end int64) bool { return end <= int64(len(old)) }}
			w, err := u.Create(ctx, "/d/f", ufs.CreateOptions{SizeHint: -1, Base: base})
			must(t, err)
			m.requests()
			must(t, w.(ufs.BaseTaker).TakeBase(int64(len(old))))
			must(t, w.(ufs.Settler).Settle())
			ufstest.WriteInPieces(t, w, tail, 33)
			fi, err := w.Close(ctx)
			must(t, err)
			reqs := m.requests()
			if got := count(reqs, "COPYPART"); got != tt.copies && !(tt.refuse && got > tt.copies && got <= tt.gets) {
				t.Errorf("%d copy requests, want %d: %q", got, tt.copies, reqs)
			}
			if got := count(reqs, "GET"); got != tt.gets {
				t.Errorf("%d reads of the base, want %d: %q", got, tt.gets, reqs)
			}
			if got := count(reqs, "PART") + count(reqs, "PUT"); got != tt.uploaded {
				t.Errorf("%d parts uploaded, want %d: %q", got, tt.uploaded, reqs)
			}
			copied := int64(len(old))
			if tt.refuse || tt.copies == 0 {
				copied = 0
			}
			if got := w.(ufs.CopyReporter).Copied(); got != copied {
				t.Errorf("Copied = %d, want %d", got, copied)
			}
			want := append(bytes.Clone(old), tail...)
			if fi.Size != int64(len(want)) {
				t.Errorf("Close = %+v, want %d bytes", fi, len(want))
			}
			if got := readFile(t, u, "/d/f"); !bytes.Equal(got, want) {
				t.Fatalf("read back %d bytes, differing from the %d written", len(got), len(want))
			}
		})
	}

	t.Run("base replaced", func(t *testing.T) {
		m := newMem()
		u := open(t, m, Config{PartSize: part})
		ctx := t.Context()
		old := randomBytes(3*part, 13)
		etag := m.put("d/f", old)
		base := &ufs.BaseVersion{Path: "/d/f", Fingerprint: "etag:" + etag, Size: int64(len(old)),
			Unchanged: func(off, end int64) bool { return true }}
		w, err := u.Create(ctx, "/d/f", ufs.CreateOptions{SizeHint: -1, Base: base})
		must(t, err)
		other := randomBytes(len(old), 14)
		m.put("d/f", other)
		must(t, w.(ufs.BaseTaker).TakeBase(int64(len(old))))
		if err := w.(ufs.Settler).Settle(); !errors.Is(err, syscall.ESTALE) {
			t.Fatalf("Settle = %v, want ESTALE", err)
		}
		if _, err := w.Close(ctx); !errors.Is(err, syscall.ESTALE) {
			t.Fatalf("Close = %v, want ESTALE", err)
		}
		if got := readFile(t, u, "/d/f"); !bytes.Equal(got, other) {
			t.Fatal("the object at the name changed")
		}
		if n := m.pending(); n != 0 {
			t.Errorf("%d uploads left behind", n)
		}
	})

	t.Run("refused", func(t *testing.T) {
		m := newMem()
		u := open(t, m, Config{PartSize: part})
		ctx := t.Context()
		etag := m.put("d/f", randomBytes(3*part, 15))
		for name, fingerprint := range map[string]string{"no etag": "mt:1:2", "etag": "etag:" + etag} {
			w, err := u.Create(ctx, "/d/f", ufs.CreateOptions{SizeHint: -1, Base: &ufs.BaseVersion{
				Path: "/d/f", Fingerprint: fingerprint, Size: 3 * part, Unchanged: func(off, end int64) bool { return true }}})
			must(t, err)
			if name == "etag" {
				// After a write, nothing can be taken.
				if _, err := w.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := w.(ufs.BaseTaker).TakeBase(3 * part); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("%s: TakeBase after a write = %v, want EINVAL", name, err)
				}
			} else if err := w.(ufs.BaseTaker).TakeBase(3 * part); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("%s: TakeBase = %v, want ErrUnsupported", name, err)
			}
			must(t, w.Abort())
		}
	})
}

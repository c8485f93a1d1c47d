// Package ufstest is the contract every under-store meets: a test suite
// that checks the semantics documented on ufs.UFS against a real store.
// A store's own tests call Run with a function that opens a fresh, empty
// store (a new directory, bucket or prefix):
//
//	func TestContract(t *testing.T) {
//		ufstest.Run(t, func(t *testing.T) ufs.UFS {
//			s, err := local.New(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Only behaviour that every store shares is checked here: what a store
// may decide for itself (whether Create checks the parent, modes, owners,
// times) is left to the store's own tests. Under -short the listing test
// uses fewer entries than one S3 page.
package ufstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"

	"github.com/alluxio-go/alluxio/ufs"
)

// Run runs the contract suite, one subtest per property, each against a
// store of its own from open, which returns a fresh, empty store and
// arranges (with t.Cleanup) for it to be closed. Closing it twice must be
// harmless.
func Run(t *testing.T, open func(t *testing.T) ufs.UFS) {
	tests := []struct {
		name string
		fn   func(t *testing.T, u ufs.UFS)
	}{
		{"StatRoot", testStatRoot},
		{"CreateAndStat", testCreateAndStat},
		{"OpenRange", testOpenRange},
		{"OpenRangeEmptyFile", testOpenRangeEmpty},
		{"OpenRangeErrors", testOpenRangeErrors},
		{"OpenRangeVersion", testOpenRangeVersion},
		{"LargeFile", testLargeFile},
		{"VisibleOnlyAfterClose", testVisibleAfterClose},
		{"Abort", testAbort},
		{"AbortKeepsOldFile", testAbortKeepsOld},
		{"WriterAfterClose", testWriterAfterClose},
		{"CreateReplaces", testCreateReplaces},
		{"Delete", testDelete},
		{"Mkdir", testMkdir},
		{"List", testList},
		{"ListErrors", testListErrors},
		{"ListPaging", testListPaging},
		{"RenameFile", testRenameFile},
		{"RenameOntoFile", testRenameOntoFile},
		{"RenameDir", testRenameDir},
		{"RenameErrors", testRenameErrors},
		{"PathsAreCleaned", testPaths},
		{"CanceledContext", testCanceled},
		{"ClosedStore", testClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// wantErr fails unless err wraps want and is an *fs.PathError, the
// project's convention for under-store errors.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %v (%T) is not an *fs.PathError", what, err, err)
	}
}

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// put writes a whole file and returns what Close reported.
func put(t *testing.T, u ufs.UFS, p string, data []byte) ufs.FileInfo {
	t.Helper()
	ctx := t.Context()
	w, err := u.Create(ctx, p, ufs.CreateOptions{Mode: 0o644, SizeHint: int64(len(data))})
	must(t, "Create "+p, err)
	if _, err := w.Write(data); err != nil {
		w.Abort()
		t.Fatalf("Write %s: %v", p, err)
	}
	fi, err := w.Close(ctx)
	must(t, "Close "+p, err)
	return fi
}

// get reads n bytes of p from off.
func get(t *testing.T, u ufs.UFS, p string, off, n int64) []byte {
	t.Helper()
	r, err := u.OpenRange(t.Context(), p, off, n)
	must(t, fmt.Sprintf("OpenRange(%s, %d, %d)", p, off, n), err)
	defer r.Close()
	b, err := io.ReadAll(r)
	must(t, fmt.Sprintf("read %s [%d,+%d)", p, off, n), err)
	return b
}

// mkdir creates a directory.
func mkdir(t *testing.T, u ufs.UFS, p string) {
	t.Helper()
	must(t, "Mkdir "+p, u.Mkdir(t.Context(), p, 0o755))
}

// list returns the entries of dir by name.
func list(t *testing.T, u ufs.UFS, dir string) map[string]ufs.FileInfo {
	t.Helper()
	m := map[string]ufs.FileInfo{}
	err := u.List(t.Context(), dir, func(fi ufs.FileInfo) error {
		if _, dup := m[fi.Name]; dup {
			return fmt.Errorf("name %q listed twice", fi.Name)
		}
		m[fi.Name] = fi
		return nil
	})
	must(t, "List "+dir, err)
	return m
}

// names returns the sorted keys of a listing.
func names(m map[string]ufs.FileInfo) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// checkFile fails unless p is a file holding data.
func checkFile(t *testing.T, u ufs.UFS, p string, data []byte) {
	t.Helper()
	fi, err := u.Stat(t.Context(), p)
	must(t, "Stat "+p, err)
	if fi.IsDir() || fi.Size != int64(len(data)) {
		t.Fatalf("Stat(%s) = %+v, want a file of %d bytes", p, fi, len(data))
	}
	if got := get(t, u, p, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("content of %s = %q, want %q", p, clip(got), clip(data))
	}
}

// checkMissing fails unless p does not exist.
func checkMissing(t *testing.T, u ufs.UFS, p string) {
	t.Helper()
	_, err := u.Stat(t.Context(), p)
	wantErr(t, "Stat "+p, err, fs.ErrNotExist)
}

// clip shortens data for a failure message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return append(b[:64:64], "..."...)
	}
	return b
}

func testStatRoot(t *testing.T, u ufs.UFS) {
	for _, p := range []string{"", "/"} {
		fi, err := u.Stat(t.Context(), p)
		must(t, fmt.Sprintf("Stat(%q)", p), err)
		if !fi.IsDir() {
			t.Errorf("Stat(%q) = %+v, want a directory", p, fi)
		}
	}
	if m := list(t, u, ""); len(m) != 0 {
		t.Errorf("a fresh store lists %v, want nothing", names(m))
	}
}

func testCreateAndStat(t *testing.T, u ufs.UFS) {
	data := []byte("hello world")
	fi := put(t, u, "a", data)
	if fi.Name != "a" || fi.Size != int64(len(data)) || fi.IsDir() {
		t.Errorf("Close returned %+v, want file a of %d bytes", fi, len(data))
	}
	st, err := u.Stat(t.Context(), "a")
	must(t, "Stat a", err)
	if st.Name != "a" || st.Size != fi.Size || st.IsDir() {
		t.Errorf("Stat(a) = %+v, want file a of %d bytes", st, len(data))
	}
	if st.Fingerprint() == "" || st.Fingerprint() != fi.Fingerprint() {
		t.Errorf("fingerprint of Stat %q differs from Close's %q", st.Fingerprint(), fi.Fingerprint())
	}
	mkdir(t, u, "d")
	put(t, u, "d/b", []byte("bb"))
	checkFile(t, u, "d/b", []byte("bb"))
	di, err := u.Stat(t.Context(), "d")
	must(t, "Stat d", err)
	if !di.IsDir() || di.Name != "d" {
		t.Errorf("Stat(d) = %+v, want directory d", di)
	}
	checkMissing(t, u, "nope")
	checkMissing(t, u, "d/nope")
	checkMissing(t, u, "nope/deeper")
}

func testOpenRange(t *testing.T, u ufs.UFS) {
	put(t, u, "f", []byte("hello world"))
	tests := []struct {
		off, n int64
		want   string
	}{
		{0, -1, "hello world"},
		{0, 5, "hello"},
		{6, 5, "world"},
		{6, 100, "world"},
		{6, -1, "world"},
		{10, 1, "d"},
		{0, 0, ""},
		{5, 0, ""},
		{11, -1, ""},
		{11, 5, ""},
		{20, 5, ""},
		{20, -1, ""},
	}
	for _, tt := range tests {
		if got := get(t, u, "f", tt.off, tt.n); string(got) != tt.want {
			t.Errorf("OpenRange(f, %d, %d) read %q, want %q", tt.off, tt.n, got, tt.want)
		}
	}
}

// testOpenRangeVersion: where the store can tell versions apart
// (ufs.VersionOpener), a version reads while it is the file at its name,
// and fails with ESTALE once another file was renamed over it; the other
// file reads by its own fingerprint.
func testOpenRangeVersion(t *testing.T, u ufs.UFS) {
	v, ok := u.(ufs.VersionOpener)
	if !ok {
		t.Skip("the store does not read by version")
	}
	ctx := t.Context()
	fi := put(t, u, "f", []byte("the first version"))
	r, err := v.OpenRangeVersion(ctx, "f", 4, 5, fi.Fingerprint())
	must(t, "OpenRangeVersion of the current version", err)
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "first" {
		t.Fatalf("read of the current version: %q, %v", got, err)
	}
	other := put(t, u, "other", []byte("another file, renamed over the first"))
	must(t, "Rename", u.Rename(ctx, "other", "f"))
	r, err = v.OpenRangeVersion(ctx, "f", 4, 5, fi.Fingerprint())
	if err == nil {
		r.Close()
	}
	wantErr(t, "OpenRangeVersion of a version another file was renamed over", err, syscall.ESTALE)
	r, err = v.OpenRangeVersion(ctx, "f", 0, 7, other.Fingerprint())
	must(t, "OpenRangeVersion of the file renamed there", err)
	got, err = io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != "another" {
		t.Fatalf("read of the renamed file by its version: %q, %v", got, err)
	}
}

func testOpenRangeEmpty(t *testing.T, u ufs.UFS) {
	fi := put(t, u, "empty", nil)
	if fi.Size != 0 {
		t.Errorf("Close of an empty file reported %d bytes", fi.Size)
	}
	for _, r := range [][2]int64{{0, -1}, {0, 10}, {0, 0}, {3, -1}} {
		if got := get(t, u, "empty", r[0], r[1]); len(got) != 0 {
			t.Errorf("OpenRange(empty, %d, %d) read %q", r[0], r[1], got)
		}
	}
}

func testOpenRangeErrors(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "f", []byte("x"))
	mkdir(t, u, "d")
	_, err := u.OpenRange(ctx, "missing", 0, -1)
	wantErr(t, "OpenRange missing", err, fs.ErrNotExist)
	_, err = u.OpenRange(ctx, "d/missing", 0, 10)
	wantErr(t, "OpenRange d/missing", err, fs.ErrNotExist)
	_, err = u.OpenRange(ctx, "f", -1, 1)
	wantErr(t, "OpenRange negative offset", err, syscall.EINVAL)
	_, err = u.OpenRange(ctx, "d", 0, -1)
	wantErr(t, "OpenRange directory", err, syscall.EISDIR)
}

func testLargeFile(t *testing.T, u ufs.UFS) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	ctx := t.Context()
	w, err := u.Create(ctx, "big", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, "Create big", err)
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 1+rng.IntN(200<<10))
		if _, err := w.Write(rest[:n]); err != nil {
			w.Abort()
			t.Fatalf("Write: %v", err)
		}
		rest = rest[n:]
	}
	fi, err := w.Close(ctx)
	must(t, "Close big", err)
	if fi.Size != int64(len(data)) {
		t.Fatalf("Close reported %d bytes, want %d", fi.Size, len(data))
	}
	checkFile(t, u, "big", data)
	for range 8 {
		off := rng.Int64N(int64(len(data)))
		n := rng.Int64N(1 << 20)
		want := data[off:min(off+n, int64(len(data)))]
		if got := get(t, u, "big", off, n); !bytes.Equal(got, want) {
			t.Fatalf("OpenRange(big, %d, %d): %d bytes differ from the %d written", off, n, len(got), len(want))
		}
	}
}

func testVisibleAfterClose(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	w, err := u.Create(ctx, "f", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, "Create", err)
	if _, err := w.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	checkMissing(t, u, "f")
	if m := list(t, u, ""); len(m) != 0 {
		t.Errorf("before Close the root lists %v, want nothing", names(m))
	}
	if _, err := w.Write([]byte(" and the rest")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	checkFile(t, u, "f", []byte("partial and the rest"))
	if m := list(t, u, ""); !slices.Equal(names(m), []string{"f"}) {
		t.Errorf("after Close the root lists %v, want [f]", names(m))
	}
}

func testAbort(t *testing.T, u ufs.UFS) {
	w, err := u.Create(t.Context(), "f", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, "Create", err)
	if _, err := w.Write([]byte("doomed")); err != nil {
		t.Fatal(err)
	}
	must(t, "Abort", w.Abort())
	must(t, "second Abort", w.Abort())
	checkMissing(t, u, "f")
	if m := list(t, u, ""); len(m) != 0 {
		t.Errorf("after Abort the root lists %v, want nothing", names(m))
	}
	if _, err := w.Close(t.Context()); err == nil {
		t.Error("Close after Abort succeeded")
	}
	checkMissing(t, u, "f")
}

func testAbortKeepsOld(t *testing.T, u ufs.UFS) {
	put(t, u, "f", []byte("old content"))
	w, err := u.Create(t.Context(), "f", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, "Create", err)
	if _, err := w.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	must(t, "Abort", w.Abort())
	checkFile(t, u, "f", []byte("old content"))
}

func testWriterAfterClose(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	w, err := u.Create(ctx, "f", ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	must(t, "Create", err)
	if _, err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if _, err := w.Close(ctx); err == nil {
		t.Error("second Close succeeded")
	}
	must(t, "Abort after Close", w.Abort())
	checkFile(t, u, "f", nil)
}

func testCreateReplaces(t *testing.T, u ufs.UFS) {
	first := put(t, u, "f", []byte("the first, longer version"))
	second := put(t, u, "f", []byte("second"))
	checkFile(t, u, "f", []byte("second"))
	if first.Fingerprint() == second.Fingerprint() {
		t.Errorf("fingerprint %q did not change when the file was rewritten", first.Fingerprint())
	}
}

func testDelete(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "f", []byte("x"))
	mkdir(t, u, "empty")
	mkdir(t, u, "full")
	put(t, u, "full/g", []byte("y"))

	must(t, "Delete f", u.Delete(ctx, "f"))
	checkMissing(t, u, "f")
	must(t, "Delete empty", u.Delete(ctx, "empty"))
	checkMissing(t, u, "empty")
	wantErr(t, "Delete full", u.Delete(ctx, "full"), syscall.ENOTEMPTY)
	checkFile(t, u, "full/g", []byte("y"))
	wantErr(t, "Delete missing", u.Delete(ctx, "missing"), fs.ErrNotExist)
	wantErr(t, "Delete f again", u.Delete(ctx, "f"), fs.ErrNotExist)
	must(t, "Delete full/g", u.Delete(ctx, "full/g"))
	if m := list(t, u, "full"); len(m) != 0 {
		t.Errorf("full lists %v after its file was deleted", names(m))
	}
	must(t, "Delete full", u.Delete(ctx, "full"))
	if m := list(t, u, ""); len(m) != 0 {
		t.Errorf("root lists %v after everything was deleted", names(m))
	}
}

func testMkdir(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	mkdir(t, u, "m")
	fi, err := u.Stat(ctx, "m")
	must(t, "Stat m", err)
	if !fi.IsDir() || fi.Name != "m" {
		t.Errorf("Stat(m) = %+v, want directory m", fi)
	}
	if m := list(t, u, "m"); len(m) != 0 {
		t.Errorf("new directory lists %v, want nothing", names(m))
	}
	if m := list(t, u, ""); !m["m"].IsDir() || len(m) != 1 {
		t.Errorf("root lists %v, want directory m only", m)
	}
	wantErr(t, "Mkdir m again", u.Mkdir(ctx, "m", 0o755), fs.ErrExist)
	wantErr(t, "Mkdir root", u.Mkdir(ctx, "", 0o755), fs.ErrExist)
	wantErr(t, "Mkdir no/such", u.Mkdir(ctx, "no/such", 0o755), fs.ErrNotExist)
	checkMissing(t, u, "no")
	mkdir(t, u, "m/n")
	mkdir(t, u, "m/n/o")
	if m := list(t, u, "m/n"); !slices.Equal(names(m), []string{"o"}) || !m["o"].IsDir() {
		t.Errorf("m/n lists %v, want directory o", m)
	}
	put(t, u, "f", nil)
	wantErr(t, "Mkdir over a file", u.Mkdir(ctx, "f", 0o755), fs.ErrExist)
}

func testList(t *testing.T, u ufs.UFS) {
	put(t, u, "a", []byte("1"))
	put(t, u, "b.txt", []byte("22"))
	put(t, u, "b-1", []byte("333"))
	mkdir(t, u, "b")
	put(t, u, "b/inner", []byte("4444"))
	mkdir(t, u, "c")
	m := list(t, u, "")
	if got, want := names(m), []string{"a", "b", "b-1", "b.txt", "c"}; !slices.Equal(got, want) {
		t.Fatalf("root lists %v, want %v", got, want)
	}
	for name, size := range map[string]int64{"a": 1, "b.txt": 2, "b-1": 3} {
		if fi := m[name]; fi.IsDir() || fi.Size != size {
			t.Errorf("entry %s = %+v, want a file of %d bytes", name, fi, size)
		}
	}
	for _, name := range []string{"b", "c"} {
		if !m[name].IsDir() {
			t.Errorf("entry %s = %+v, want a directory", name, m[name])
		}
	}
	if got := names(list(t, u, "b")); !slices.Equal(got, []string{"inner"}) {
		t.Errorf("b lists %v, want [inner]", got)
	}
	if got := names(list(t, u, "/b/")); !slices.Equal(got, []string{"inner"}) {
		t.Errorf("/b/ lists %v, want [inner]", got)
	}
}

func testListErrors(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "f", []byte("x"))
	put(t, u, "g", []byte("y"))
	wantErr(t, "List missing", u.List(ctx, "missing", func(ufs.FileInfo) error { return nil }), fs.ErrNotExist)
	wantErr(t, "List a file", u.List(ctx, "f", func(ufs.FileInfo) error { return nil }), syscall.ENOTDIR)
	stop := errors.New("stop here")
	calls := 0
	err := u.List(ctx, "", func(ufs.FileInfo) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("List with a failing callback: %v after %d calls, want %v after 1", err, calls, stop)
	}
}

func testListPaging(t *testing.T, u ufs.UFS) {
	n := 1234 // more than one S3 page of 1000
	if testing.Short() {
		n = 150
	}
	mkdir(t, u, "many")
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("file-%05d", i)
	}
	// Fill in parallel: one request per file is slow over a network.
	var wg sync.WaitGroup
	errs := make(chan error, len(want))
	work := make(chan string)
	for range 16 {
		wg.Go(func() {
			for name := range work {
				ctx := t.Context()
				w, err := u.Create(ctx, "many/"+name, ufs.CreateOptions{Mode: 0o644, SizeHint: 1})
				if err == nil {
					if _, err = w.Write([]byte{'x'}); err == nil {
						_, err = w.Close(ctx)
					} else {
						w.Abort()
					}
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
			}
		})
	}
	for _, name := range want {
		work <- name
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	m := list(t, u, "many")
	if got := names(m); !slices.Equal(got, want) {
		t.Fatalf("many lists %d names, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	for name, fi := range m {
		if fi.IsDir() || fi.Size != 1 {
			t.Fatalf("entry %s = %+v, want a 1-byte file", name, fi)
		}
	}
}

func testRenameFile(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "a", []byte("content"))
	mkdir(t, u, "d")
	must(t, "Rename a d/b", u.Rename(ctx, "a", "d/b"))
	checkMissing(t, u, "a")
	checkFile(t, u, "d/b", []byte("content"))
	must(t, "Rename d/b c", u.Rename(ctx, "d/b", "c"))
	checkFile(t, u, "c", []byte("content"))
	if got := names(list(t, u, "")); !slices.Equal(got, []string{"c", "d"}) {
		t.Errorf("root lists %v, want [c d]", got)
	}
}

func testRenameOntoFile(t *testing.T, u ufs.UFS) {
	put(t, u, "src", []byte("new"))
	put(t, u, "dst", []byte("old and longer"))
	must(t, "Rename", u.Rename(t.Context(), "src", "dst"))
	checkMissing(t, u, "src")
	checkFile(t, u, "dst", []byte("new"))
}

func testRenameDir(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	mkdir(t, u, "d")
	put(t, u, "d/x", []byte("xx"))
	mkdir(t, u, "d/sub")
	put(t, u, "d/sub/y", []byte("yyy"))
	mkdir(t, u, "d/empty")
	must(t, "Rename d e", u.Rename(ctx, "d", "e"))
	checkMissing(t, u, "d")
	checkMissing(t, u, "d/x")
	checkFile(t, u, "e/x", []byte("xx"))
	checkFile(t, u, "e/sub/y", []byte("yyy"))
	if got := names(list(t, u, "e")); !slices.Equal(got, []string{"empty", "sub", "x"}) {
		t.Errorf("e lists %v, want [empty sub x]", got)
	}
	if got := names(list(t, u, "")); !slices.Equal(got, []string{"e"}) {
		t.Errorf("root lists %v, want [e]", got)
	}
	// An empty directory is replaced.
	mkdir(t, u, "target")
	must(t, "Rename e target", u.Rename(ctx, "e", "target"))
	checkFile(t, u, "target/sub/y", []byte("yyy"))
	checkMissing(t, u, "e")
}

func testRenameErrors(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "f", []byte("x"))
	mkdir(t, u, "d")
	put(t, u, "d/g", []byte("y"))
	mkdir(t, u, "other")
	put(t, u, "other/h", []byte("z"))
	wantErr(t, "Rename missing", u.Rename(ctx, "missing", "m2"), fs.ErrNotExist)
	wantErr(t, "Rename file onto directory", u.Rename(ctx, "f", "d"), syscall.EISDIR)
	wantErr(t, "Rename directory onto file", u.Rename(ctx, "d", "f"), syscall.ENOTDIR)
	wantErr(t, "Rename onto a non-empty directory", u.Rename(ctx, "d", "other"), syscall.ENOTEMPTY)
	checkFile(t, u, "f", []byte("x"))
	checkFile(t, u, "d/g", []byte("y"))
	checkFile(t, u, "other/h", []byte("z"))
}

func testPaths(t *testing.T, u ufs.UFS) {
	ctx := t.Context()
	put(t, u, "/a", []byte("1"))
	checkFile(t, u, "a", []byte("1"))
	checkFile(t, u, "./a", []byte("1"))
	mkdir(t, u, "d/")
	put(t, u, "d//b", []byte("2"))
	checkFile(t, u, "/d/b", []byte("2"))
	_, err := u.Stat(ctx, "../outside")
	wantErr(t, "Stat ../outside", err, syscall.EINVAL)
	_, err = u.Create(ctx, "d/../../x", ufs.CreateOptions{})
	wantErr(t, "Create d/../../x", err, syscall.EINVAL)
}

func testCanceled(t *testing.T, u ufs.UFS) {
	put(t, u, "f", []byte("x"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := u.Stat(ctx, "f")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a canceled context: %v, want context.Canceled", err)
	}
	_, err = u.OpenRange(ctx, "f", 0, -1)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("OpenRange with a canceled context: %v, want context.Canceled", err)
	}
	err = u.List(ctx, "", func(ufs.FileInfo) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context: %v, want context.Canceled", err)
	}
}

func testClosed(t *testing.T, u ufs.UFS) {
	put(t, u, "f", []byte("x"))
	must(t, "Close", u.Close())
	_, err := u.Stat(t.Context(), "f")
	wantErr(t, "Stat after Close", err, syscall.EBADF)
	must(t, "second Close", u.Close())
}

// WriteInPieces writes data to w piece bytes at a time, as a stream comes
// in, failing t on an error.
func WriteInPieces(t testing.TB, w ufs.Writer, data []byte, piece int) {
	t.Helper()
	for rest := data; len(rest) > 0; {
		n := min(len(rest), piece)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
}

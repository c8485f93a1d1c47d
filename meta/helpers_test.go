package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/internal/testport"
	"github.com/alluxio-go/alluxio/ufs"
)

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a free TCP address on 127.0.0.1.
func freeAddr(t testing.TB) string {
	t.Helper()
	port, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// testOpenUFS opens a dirUFS for a local path URI. Options: "plain"
// hides the optional interfaces; "batch" wraps it in the batchUFS of its
// directory (one per directory, kept across opens); "fail" makes opening fail with an error
// that quotes the secret key option, to check that it is scrubbed.
func testOpenUFS(uri string, opts map[string]string) (ufs.UFS, error) {
	if opts["fail"] != "" {
		return nil, fmt.Errorf("login refused for secret %s: %w", opts["s3.secretKey"], syscall.EACCES)
	}
	u, err := ufs.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "file" {
		return nil, fmt.Errorf("test store: scheme %q: %w", u.Scheme, syscall.EINVAL)
	}
	var s ufs.UFS = &dirUFS{root: u.Path}
	if opts["plain"] == "true" {
		s = plainUFS{s}
	}
	if opts["batch"] == "true" {
		v, _ := batchStores.LoadOrStore(u.Path, &batchUFS{UFS: s})
		return v.(*batchUFS), nil
	}
	return s, nil
}

// testEnv is one master over a temporary under-store directory.
type testEnv struct {
	cfg  Config
	ufs  string // root under-store directory
	logs *lockedBuffer
	m    *Master
}

// newEnv starts a single-node master with the given sync interval.
func newEnv(t testing.TB, interval time.Duration) *testEnv {
	t.Helper()
	return newEnvWith(t, func(c *Config) { c.SyncInterval = interval })
}

// newEnvWith starts a single-node master whose configuration edit
// changes.
func newEnvWith(t testing.TB, edit func(*Config)) *testEnv {
	t.Helper()
	logs := &lockedBuffer{}
	e := &testEnv{ufs: t.TempDir(), logs: logs}
	e.cfg = Config{
		JournalDir: t.TempDir(),
		RaftAddr:   freeAddr(t),
		RootUFS:    "",
		OpenUFS:    testOpenUFS,
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	e.cfg.RootUFS = e.ufs
	edit(&e.cfg)
	e.m = e.open(t)
	return e
}

// open starts a master on the environment's configuration.
func (e *testEnv) open(t testing.TB) *Master {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := Open(ctx, e.cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// restart closes the master and opens a new one on the same journal.
func (e *testEnv) restart(t testing.TB) {
	t.Helper()
	if err := e.m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	e.m = e.open(t)
}

// path returns the local path of a namespace path in the root store.
func (e *testEnv) path(p string) string { return filepath.Join(e.ufs, filepath.FromSlash(p)) }

// writeUFS puts a file straight into the under-store.
func (e *testEnv) writeUFS(t testing.TB, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.path(p)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.path(p), []byte(data), 0o640); err != nil {
		t.Fatal(err)
	}
}

// writeFile creates, writes (through the under-store, as a worker would)
// and completes a file.
func (e *testEnv) writeFile(t testing.TB, p, data string) FileInfo {
	t.Helper()
	ctx := context.Background()
	fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644, Persisted: true, Overwrite: true})
	if err != nil {
		t.Fatalf("CreateFile %s: %v", p, err)
	}
	u, err := e.m.UFS(fi.MountID)
	if err != nil {
		t.Fatal(err)
	}
	w, err := u.Create(ctx, fi.UfsPath, ufs.CreateOptions{Mode: 0o644, SizeHint: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	ufi, err := w.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fi, err = e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: int64(len(data)), Persisted: true, UfsFingerprint: ufi.Fingerprint()})
	if err != nil {
		t.Fatalf("CompleteFile %s: %v", p, err)
	}
	return fi
}

// mkdir makes a directory or fails the test.
func (e *testEnv) mkdir(t testing.TB, p string) FileInfo {
	t.Helper()
	fi, err := e.m.CreateDirectory(context.Background(), p, MkdirOptions{Mode: 0o755, Recursive: true})
	if err != nil {
		t.Fatalf("CreateDirectory %s: %v", p, err)
	}
	return fi
}

// inodeCount returns the number of inodes in the master's metastore.
func inodeCount(t testing.TB, m *Master) int {
	t.Helper()
	var n int
	if err := m.fsm.view(func(tx *txn) error { n = tx.inodeCount(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// names lists the names of a directory.
func names(t testing.TB, m *Master, p string) []string {
	t.Helper()
	list, err := m.ListStatus(context.Background(), p)
	if err != nil {
		t.Fatalf("ListStatus %s: %v", p, err)
	}
	var out []string
	for _, fi := range list {
		out = append(out, fi.Name)
	}
	return out
}

// wantErrno checks that err is of the errno class want (nil: no error).
func wantErrno(t testing.TB, what string, err error, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// exists reports whether a local path exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

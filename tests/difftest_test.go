package tests

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"time"
)

// The differential tester runs one seeded random sequence of file-system
// calls against the mount and against a plain tmpfs directory, and demands
// the same results, errno values and final bytes from both. A failing
// sequence is shrunk to a short one before it is reported, with the seed
// that reproduces it.
var (
	diffOps  = flag.Int("diff.ops", 10000, "operations per differential run")
	diffSeed = flag.Int64("diff.seed", 0, "seed of the differential run (-1: time based; 0: the regression seed)")
)

// regressionSeed runs in `make test`; make soak runs random seeds.
const regressionSeed = 21

// opKind is one kind of call.
type opKind int

const (
	opOpen opKind = iota
	opClose
	opPwrite
	opAppend
	opPread
	opFtruncate
	opTruncate
	opFsync
	opRename
	opUnlink
	opMkdir
	opRmdir
	opChmod
	opStat
	opReaddir
	opSetxattr
	opGetxattr
	numOpKinds
)

var opNames = [...]string{"open", "close", "pwrite", "append", "pread", "ftruncate", "truncate",
	"fsync", "rename", "unlink", "mkdir", "rmdir", "chmod", "stat", "readdir", "setxattr", "getxattr"}

// op is one generated call; its fields are interpreted against the state
// at run time, so dropping ops while shrinking keeps the rest meaningful.
type op struct {
	kind      opKind
	path, to  string
	flags     int
	slot      int // which open descriptor, modulo how many are open
	off, size int64
	mode      uint32
	seed      int64 // bytes to write
}

func (o op) String() string {
	switch o.kind {
	case opOpen:
		return fmt.Sprintf("open(%s, %s)", o.path, flagString(o.flags))
	case opPwrite, opPread:
		return fmt.Sprintf("%s(fd#%d, off=%d, len=%d)", opNames[o.kind], o.slot, o.off, o.size)
	case opAppend:
		return fmt.Sprintf("write(fd#%d, len=%d)", o.slot, o.size)
	case opFtruncate:
		return fmt.Sprintf("ftruncate(fd#%d, %d)", o.slot, o.size)
	case opTruncate:
		return fmt.Sprintf("truncate(%s, %d)", o.path, o.size)
	case opClose, opFsync:
		return fmt.Sprintf("%s(fd#%d)", opNames[o.kind], o.slot)
	case opRename:
		if o.flags&unix.RENAME_EXCHANGE != 0 {
			return fmt.Sprintf("renameat2(%s, %s, RENAME_EXCHANGE)", o.path, o.to)
		}
		return fmt.Sprintf("rename(%s, %s)", o.path, o.to)
	case opChmod:
		return fmt.Sprintf("chmod(%s, %04o)", o.path, o.mode)
	case opMkdir:
		return fmt.Sprintf("mkdir(%s, %04o)", o.path, o.mode)
	case opSetxattr:
		return fmt.Sprintf("setxattr(%s, %s, len=%d, flags=%d)", o.path, o.to, o.size, o.flags)
	case opGetxattr:
		return fmt.Sprintf("getxattr(%s, %s)", o.path, o.to)
	}
	return fmt.Sprintf("%s(%s)", opNames[o.kind], o.path)
}

func flagString(f int) string {
	var s []string
	switch f & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		s = append(s, "O_RDONLY")
	case syscall.O_WRONLY:
		s = append(s, "O_WRONLY")
	default:
		s = append(s, "O_RDWR")
	}
	for _, fl := range []struct {
		bit  int
		name string
	}{{syscall.O_CREAT, "O_CREAT"}, {syscall.O_EXCL, "O_EXCL"}, {syscall.O_TRUNC, "O_TRUNC"}, {syscall.O_APPEND, "O_APPEND"}} {
		if f&fl.bit != 0 {
			s = append(s, fl.name)
		}
	}
	return strings.Join(s, "|")
}

// A small name space, so that calls collide: files and dirs two deep.
var diffNames = []string{"a", "b", "c", "d/a", "d/b", "e", "d/e/a", "d/e"}

func generate(seed int64, n int) []op {
	r := rand.New(rand.NewSource(seed))
	name := func() string { return diffNames[r.Intn(len(diffNames))] }
	ops := make([]op, n)
	for i := range ops {
		o := op{kind: opKind(r.Intn(int(numOpKinds))), path: name(), slot: r.Intn(8), seed: r.Int63()}
		switch o.kind {
		case opOpen:
			o.flags = []int{syscall.O_RDONLY, syscall.O_WRONLY, syscall.O_RDWR}[r.Intn(3)]
			for _, b := range []int{syscall.O_CREAT, syscall.O_EXCL, syscall.O_TRUNC, syscall.O_APPEND} {
				if r.Intn(3) == 0 {
					o.flags |= b
				}
			}
			if r.Intn(2) == 0 {
				o.flags |= syscall.O_CREAT
			}
		case opPwrite, opPread:
			o.off = int64(r.Intn(3 << 20))
			if r.Intn(2) == 0 {
				o.off = int64(r.Intn(8192))
			}
			o.size = int64(r.Intn(300 << 10))
		case opAppend:
			o.size = int64(r.Intn(64 << 10))
		case opFtruncate, opTruncate:
			o.size = int64(r.Intn(2 << 20))
			if r.Intn(3) == 0 {
				o.size = 0
			}
		case opRename:
			o.to = name()
			if o.seed%4 == 0 { // from the op's own seed: the stream stays as it was
				o.flags = unix.RENAME_EXCHANGE
			}
		case opChmod:
			o.mode = []uint32{0o644, 0o600, 0o755, 0o444}[r.Intn(4)]
		case opMkdir:
			o.mode = 0o755
		case opSetxattr, opGetxattr:
			o.to = []string{"user.a", "user.b"}[r.Intn(2)]
			o.flags = []int{0, 0, unix.XATTR_CREATE, unix.XATTR_REPLACE}[r.Intn(4)]
			o.size = int64(r.Intn(100))
		}
		ops[i] = o
	}
	// Opens and writes more often than renames and removals.
	for i := range ops {
		if ops[i].kind >= opRename && r.Intn(3) != 0 {
			ops[i].kind = []opKind{opOpen, opPwrite, opPread, opClose, opAppend}[r.Intn(5)]
			if ops[i].kind == opOpen {
				ops[i].flags = syscall.O_RDWR | syscall.O_CREAT
			}
			if ops[i].size == 0 {
				ops[i].size = int64(r.Intn(64 << 10))
			}
		}
	}
	return ops
}

// world is one side of the comparison: a root directory and its open
// descriptors.
type world struct {
	root string
	fds  []int
}

func (w *world) close() {
	for _, fd := range w.fds {
		syscall.Close(fd)
	}
	w.fds = nil
}

// result is what one call returned.
type result struct {
	errno syscall.Errno
	n     int
	data  []byte
	extra string
}

func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

func payload(seed int64, n int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// apply runs one op in w. Ops on descriptors that are not open are no-ops.
func (w *world) apply(o op) (result, bool) {
	p := filepath.Join(w.root, o.path)
	fd := -1
	if len(w.fds) > 0 {
		fd = w.fds[o.slot%len(w.fds)]
	}
	needFD := o.kind == opClose || o.kind == opPwrite || o.kind == opAppend || o.kind == opPread ||
		o.kind == opFtruncate || o.kind == opFsync
	if needFD && fd < 0 {
		return result{}, false
	}
	switch o.kind {
	case opOpen:
		if len(w.fds) >= 8 {
			return result{}, false
		}
		nfd, err := syscall.Open(p, o.flags|syscall.O_CLOEXEC, 0o644)
		if err == nil {
			w.fds = append(w.fds, nfd)
		}
		return result{errno: errnoOf(err)}, true
	case opClose:
		i := o.slot % len(w.fds)
		w.fds = append(w.fds[:i], w.fds[i+1:]...)
		return result{errno: errnoOf(syscall.Close(fd))}, true
	case opPwrite:
		n, err := syscall.Pwrite(fd, payload(o.seed, o.size), o.off)
		return result{errno: errnoOf(err), n: n}, true
	case opAppend:
		n, err := syscall.Write(fd, payload(o.seed, o.size))
		return result{errno: errnoOf(err), n: n}, true
	case opPread:
		buf := make([]byte, o.size)
		n, err := syscall.Pread(fd, buf, o.off)
		if n < 0 {
			n = 0
		}
		return result{errno: errnoOf(err), n: n, data: buf[:n]}, true
	case opFtruncate:
		return result{errno: errnoOf(syscall.Ftruncate(fd, o.size))}, true
	case opTruncate:
		return result{errno: errnoOf(syscall.Truncate(p, o.size))}, true
	case opFsync:
		return result{errno: errnoOf(syscall.Fsync(fd))}, true
	case opRename:
		return result{errno: errnoOf(unix.Renameat2(unix.AT_FDCWD, p, unix.AT_FDCWD, filepath.Join(w.root, o.to), uint(o.flags)))}, true
	case opUnlink:
		return result{errno: errnoOf(syscall.Unlink(p))}, true
	case opMkdir:
		return result{errno: errnoOf(syscall.Mkdir(p, o.mode))}, true
	case opRmdir:
		return result{errno: errnoOf(syscall.Rmdir(p))}, true
	case opChmod:
		return result{errno: errnoOf(syscall.Chmod(p, o.mode))}, true
	case opStat:
		var st syscall.Stat_t
		err := syscall.Stat(p, &st)
		if err != nil {
			return result{errno: errnoOf(err)}, true
		}
		size := st.Size
		if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			size = 0 // directory sizes are the file system's own business
		}
		return result{extra: fmt.Sprintf("mode=%o size=%d", st.Mode, size)}, true
	case opSetxattr:
		return result{errno: errnoOf(unix.Setxattr(p, o.to, payload(o.seed, o.size), o.flags))}, true
	case opGetxattr:
		buf := make([]byte, 128)
		n, err := unix.Getxattr(p, o.to, buf)
		if err != nil {
			return result{errno: errnoOf(err)}, true
		}
		return result{n: n, data: buf[:n]}, true
	case opReaddir:
		entries, err := os.ReadDir(p)
		if err != nil {
			return result{errno: errnoOf(err)}, true
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return result{extra: strings.Join(names, ",")}, true
	}
	return result{}, false
}

// snapshot describes a whole tree: every path with its type, mode, size
// and a digest of its bytes.
func snapshot(root string) (string, error) {
	var lines []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if info.IsDir() {
			lines = append(lines, fmt.Sprintf("%s dir %o%s", rel, info.Mode().Perm(), xattrsOf(p)))
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		lines = append(lines, fmt.Sprintf("%s file %o %d %x%s", rel, info.Mode().Perm(), len(data), hash(data), xattrsOf(p)))
		return nil
	})
	return strings.Join(lines, "\n"), err
}

// xattrsOf describes the user extended attributes of p: " name=digest"
// each, sorted.
func xattrsOf(p string) string {
	buf := make([]byte, 4096)
	n, err := unix.Listxattr(p, buf)
	if err != nil || n == 0 {
		return ""
	}
	names := strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		v := make([]byte, 256)
		m, err := unix.Getxattr(p, name, v)
		if err != nil {
			fmt.Fprintf(&b, " %s=?%v", name, err)
			continue
		}
		fmt.Fprintf(&b, " %s=%x", name, hash(v[:m]))
	}
	return b.String()
}

func hash(b []byte) uint64 {
	var h uint64 = 14695981039346656037
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}

// diffRoots are the directories a differential run compares: the mount,
// the tmpfs reference and, where the test can look at it directly, the
// directory the mount's root under-store keeps its files in (the local
// under-store itself, or versitygw's posix backend of the S3 bucket).
type diffRoots struct {
	mount, ref, store string
	// objectStore is set when the root under-store keeps no bytes of a
	// file once its name is gone (S3): see detachedRead.
	objectStore bool
	// detachedReads counts the reads detachedRead let pass.
	detachedReads *int
	// settle, when set, waits until the under-store has caught up with
	// the namespace (the master's deferred deletes made).
	settle func() error
}

// divergence runs ops in fresh directories under the roots and returns a
// description of the first difference, or "". After the last op and the
// closes, the mount and the under-store must hold what tmpfs holds.
func divergence(roots diffRoots, ops []op, attempt int) string {
	run := fmt.Sprintf("run%d", attempt)
	a := &world{root: filepath.Join(roots.mount, run)}
	b := &world{root: filepath.Join(roots.ref, run)}
	for _, w := range []*world{a, b} {
		if err := os.MkdirAll(filepath.Join(w.root, "d"), 0o755); err != nil {
			return "setup: " + err.Error()
		}
	}
	defer func() {
		a.close()
		b.close()
		os.RemoveAll(a.root)
		os.RemoveAll(b.root)
	}()
	for i, o := range ops {
		if roots.objectStore && o.kind == opRename && o.flags&unix.RENAME_EXCHANGE != 0 {
			continue // EINVAL on an object store (docs/posix.md), where tmpfs swaps
		}
		ra, okA := a.apply(o)
		rb, okB := b.apply(o)
		if okA != okB || len(a.fds) != len(b.fds) {
			return fmt.Sprintf("op %d %v: descriptor tables diverged", i, o)
		}
		if !okA {
			continue
		}
		if ra.errno != rb.errno || ra.n != rb.n || !bytes.Equal(ra.data, rb.data) || ra.extra != rb.extra {
			if roots.objectStore && detachedRead(o, b, ra, rb) {
				if roots.detachedReads != nil {
					*roots.detachedReads++
				}
				continue
			}
			return fmt.Sprintf("op %d %v: mount gave errno=%v n=%d %s, tmpfs gave errno=%v n=%d %s%s",
				i, o, ra.errno, ra.n, ra.extra, rb.errno, rb.n, rb.extra, firstDiff(ra.data, rb.data))
		}
	}
	a.close()
	b.close()
	sa, errA := snapshot(a.root)
	sb, errB := snapshot(b.root)
	if errA != nil || errB != nil || sa != sb {
		return fmt.Sprintf("final trees differ (errors %v / %v)\nmount:\n%s\ntmpfs:\n%s", errA, errB, sa, sb)
	}
	if roots.store == "" {
		return ""
	}
	// Every file was closed, so the under-store holds every byte
	// (CACHE_THROUGH, the default write type, persists on close), and
	// unlinked files leave it with the master's next batch of deletes.
	if roots.settle != nil {
		if err := roots.settle(); err != nil {
			return err.Error()
		}
	}
	ss, errS := storeSnapshot(filepath.Join(roots.store, run))
	sr, errR := storeSnapshot(b.root)
	if errS != nil || errR != nil || ss != sr {
		return fmt.Sprintf("under-store differs from tmpfs (errors %v / %v)\nunder-store:\n%s\ntmpfs:\n%s", errS, errR, ss, sr)
	}
	return ""
}

// storeSnapshot describes the names, types, sizes and bytes of a tree, as
// an under-store keeps them: modes, owners and extended attributes are
// the master's, not the store's.
func storeSnapshot(root string) (string, error) {
	var lines []string
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if info.IsDir() {
			lines = append(lines, rel+" dir")
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", rel, err)
		}
		lines = append(lines, fmt.Sprintf("%s file %d %x", rel, len(data), hash(data)))
		return nil
	})
	return strings.Join(lines, "\n"), err
}

// detachedRead reports whether the mount's answer to a read differs from
// tmpfs's only as docs/posix.md documents for an object under-store: a
// file opened read-only and then unlinked or renamed over keeps only its
// cached pages (the store has no bytes of it any more), so a read of the
// others fails with ESTALE, or comes back short with the right bytes. Never
// other bytes, and never for a handle that can write (the writer keeps the
// file in a staging file).
func detachedRead(o op, ref *world, onMount, onTmpfs result) bool {
	if o.kind != opPread || onTmpfs.errno != 0 || len(ref.fds) == 0 {
		return false
	}
	fd := ref.fds[o.slot%len(ref.fds)]
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&syscall.O_ACCMODE != syscall.O_RDONLY {
		return false
	}
	var st syscall.Stat_t
	if syscall.Fstat(fd, &st) != nil || st.Nlink != 0 {
		return false
	}
	switch {
	case onMount.errno == syscall.ESTALE:
		return true
	case onMount.errno == 0 && onMount.n < onTmpfs.n && bytes.Equal(onMount.data, onTmpfs.data[:onMount.n]):
		return true
	}
	return false
}

func firstDiff(a, b []byte) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return fmt.Sprintf(" (bytes differ first at %d)", i)
		}
	}
	return ""
}

// shrink removes ops while the sequence still diverges, within a budget of
// re-runs: first everything after the failing op, then chunks of halving
// size.
func shrink(roots diffRoots, ops []op, budget int) []op {
	attempt := 1000
	try := func(cand []op) bool {
		if budget <= 0 {
			return false
		}
		budget--
		attempt++
		return divergence(roots, cand, attempt) != ""
	}
	for chunk := len(ops) / 2; chunk >= 1; chunk /= 2 {
		for start := 0; start+chunk <= len(ops); {
			cand := append(append([]op{}, ops[:start]...), ops[start+chunk:]...)
			if try(cand) {
				ops = cand
				continue
			}
			start += chunk
		}
	}
	return ops
}

// TestDifferential compares the mount with tmpfs over -diff.ops random
// calls (10,000 by default), once with the root on a local directory and
// once with the root on a bucket of a real S3 server (versitygw), both
// with a MEM tier of 8 MB, so that pages are evicted and read back from
// the under-store; after each run the under-store itself must hold the
// files tmpfs holds. The shrunk sequences of diffRegressions run first.
// On S3, reads of a file removed while open read-only may fail as
// docs/posix.md documents (detachedRead), and no other way. Kernel
// passthrough is off here: with it on, a write open of a file that a
// reader holds through passthrough is refused (ETXTBSY, see
// TestPassthroughWriterBusy), which tmpfs never does.
func TestDifferential(t *testing.T) {
	props := map[string]string{
		"alluxio.fuse.entry.timeout":       "0",
		"alluxio.fuse.attr.timeout":        "0",
		"alluxio.fuse.passthrough.enabled": "false",
		// A MEM tier of a few files, so that pages are evicted and
		// read again from the under-store.
		"alluxio.worker.tieredstore.level0.dirs.quota": "8MB",
	}
	seed := *diffSeed
	switch {
	case seed == 0:
		seed = regressionSeed
	case seed < 0:
		seed = time.Now().UnixNano()
	}
	t.Run("local", func(t *testing.T) {
		c := newCluster(t, props)
		c.start()
		runDifferential(t, diffRoots{mount: c.mnt, ref: diffRef(t), store: c.ufs}, seed, 0)
	})
	t.Run("s3", func(t *testing.T) {
		c, bucket := newS3RootCluster(t, props)
		c.start()
		var detached int
		settle := func() error { return c.settleDeletes() }
		runDifferential(t, diffRoots{mount: c.mnt, ref: diffRef(t), store: bucket, objectStore: true, detachedReads: &detached, settle: settle}, seed, 0)
		t.Logf("%d reads of files removed while open read-only failed with ESTALE or came back short (docs/posix.md)", detached)
		m := c.waitMetrics(func(m map[string]float64) bool { return m["Cluster.BytesReadUfsAll"] > 0 })
		if m["Cluster.BytesReadUfsAll"] == 0 && *diffOps >= 1000 {
			t.Fatal("no byte was read from the bucket: the run never missed the cache")
		}
		t.Logf("%.0f MB read from the bucket", m["Cluster.BytesReadUfsAll"]/1e6)
	})
}

// diffRef makes the tmpfs directory a differential run compares with.
func diffRef(t *testing.T) string {
	t.Helper()
	ref, err := os.MkdirTemp("/dev/shm", "alluxio-difftest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(ref) })
	return ref
}

// diffRegressions are sequences the tester found diverging, shrunk: each
// runs on both roots after the random sequence, whatever its seed.
var diffRegressions = []struct {
	name string
	ops  []op
}{
	{
		// The write before the end copies the old version; the worker
		// took it from the under-store at the name the handle opened
		// (ENOENT), once its pages had left the (8 MB) tier.
		"write into a file renamed while open", []op{
			{kind: opOpen, path: "d/a", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 1634779, seed: 1},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 46709, seed: 2},
			{kind: opRename, path: "d/a", to: "a"},
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opRename, path: "a", to: "e"},
			// 9 MB more through the 8 MB tier.
			{kind: opOpen, path: "b", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 3},
			{kind: opClose, slot: 2},
			{kind: opOpen, path: "c", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 4},
			{kind: opClose, slot: 2},
			{kind: opOpen, path: "d/b", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 5},
			{kind: opClose, slot: 2},
			{kind: opAppend, slot: 1, size: 56464, seed: 6},
		},
	},
	{
		// A read-only open with O_TRUNC emptied the file, but a reader
		// already open kept the old length: once the name was gone (its
		// attributes then come from the handle) it read the old bytes.
		"read-only O_TRUNC open under an open reader", []op{
			{kind: opOpen, path: "d/e", flags: syscall.O_WRONLY | syscall.O_CREAT | syscall.O_APPEND},
			{kind: opAppend, slot: 0, size: 38490, seed: 1},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "d/e", flags: syscall.O_RDONLY},
			{kind: opOpen, path: "d/e", flags: syscall.O_RDONLY | syscall.O_CREAT | syscall.O_TRUNC},
			{kind: opUnlink, path: "d/e"},
			{kind: opPread, slot: 0, off: 3757, size: 222860},
		},
	},
	{
		// A new file's first bytes wait for its commit, which opened
		// the worker session at the name the file had at its creation:
		// a directory there by then failed the close with EISDIR.
		"new file renamed before its first bytes reached a worker", []op{
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 95, seed: 1},
			{kind: opRename, path: "a", to: "e"},
			{kind: opMkdir, path: "a", mode: 0o755},
			{kind: opClose, slot: 0},
		},
	},
	{
		"new file renamed, a directory at its old name, before a write too big to hold", []op{
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opRename, path: "a", to: "e"},
			{kind: opMkdir, path: "a", mode: 0o755},
			{kind: opPwrite, slot: 0, size: 2 << 20, seed: 1},
			{kind: opClose, slot: 0},
		},
	},
	{
		"new file exchanged with a directory before its first bytes reached a worker", []op{
			{kind: opMkdir, path: "e", mode: 0o755},
			{kind: opOpen, path: "d/b", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 95, seed: 1},
			{kind: opRename, path: "d/b", to: "e", flags: unix.RENAME_EXCHANGE},
			{kind: opClose, slot: 0},
		},
	},
	{
		// A file open for writing read its bytes not cached from its
		// name in the under-store as it was at the open; after an
		// exchange that name held the other file, so the read failed
		// with EIO (the other file shorter) or, here, returned the
		// other file's bytes. A local under-store now reads a version
		// only while it is the file at its name (ESTALE otherwise, and
		// the worker asks the master where it is now).
		"read of a file open for writing, exchanged and evicted", []op{
			{kind: opOpen, path: "e", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 1351357, seed: 1},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "c", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 613274, seed: 2},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "c", flags: rdwrCreate},
			{kind: opOpen, path: "e", flags: rdwrCreate},
			{kind: opRename, path: "e", to: "c", flags: unix.RENAME_EXCHANGE},
			// 9 MB more through the 8 MB tier.
			{kind: opOpen, path: "b", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 3},
			{kind: opClose, slot: 2},
			{kind: opOpen, path: "d/a", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 4},
			{kind: opClose, slot: 2},
			{kind: opOpen, path: "d/b", flags: rdwrCreate},
			{kind: opPwrite, slot: 2, size: 3 << 20, seed: 5},
			{kind: opClose, slot: 2},
			{kind: opPread, slot: 0, off: 0, size: 65536},
			{kind: opPread, slot: 1, off: 1048000, size: 65536},
		},
	},
	{
		// A read through a file open for writing, answered by splice
		// from the worker's backing file, came back short by 1,068
		// bytes: the range began 3,858 bytes into a page and touched a
		// page more than the pipe go-fuse grows for the reply holds
		// (fuse.fitsPipe). Found by make soak (seed 1795746547110337465).
		"unaligned read of a file open for writing, spliced", []op{
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opPwrite, slot: 0, size: 300000, seed: 1},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "a", flags: syscall.O_RDWR},
			{kind: opPread, slot: 0, off: 7954, size: 255258},
		},
	},
	{
		// A truncate by path made a new version under a read-only
		// handle, which took its length but held nothing of it: once
		// its pages had left the (8 MB) tier and the name was
		// unlinked, reads failed with ESTALE on a local root too. The
		// handle now asks for the whole new version, as an open does.
		// Found by make soak (seed 1795772435910975519).
		"read-only handle of a file truncated by path, evicted and unlinked", []op{
			{kind: opOpen, path: "a", flags: rdwrCreate},
			{kind: opClose, slot: 0},
			{kind: opOpen, path: "a", flags: syscall.O_RDONLY},
			{kind: opTruncate, path: "a", size: 898188},
			// 9 MB more through the 8 MB tier.
			{kind: opOpen, path: "b", flags: rdwrCreate},
			{kind: opPwrite, slot: 1, size: 3 << 20, seed: 1},
			{kind: opClose, slot: 1},
			{kind: opOpen, path: "c", flags: rdwrCreate},
			{kind: opPwrite, slot: 1, size: 3 << 20, seed: 2},
			{kind: opClose, slot: 1},
			{kind: opOpen, path: "d/b", flags: rdwrCreate},
			{kind: opPwrite, slot: 1, size: 3 << 20, seed: 3},
			{kind: opClose, slot: 1},
			{kind: opUnlink, path: "a"},
			{kind: opPread, slot: 0, off: 0, size: 65536},
			{kind: opPread, slot: 0, off: 850000, size: 65536},
		},
	},
}

// rdwrCreate is the flags of most opens of the regression sequences.
const rdwrCreate = syscall.O_RDWR | syscall.O_CREAT

func runDifferential(t *testing.T, roots diffRoots, seed int64, run int) {
	for i, r := range diffRegressions {
		if d := divergence(roots, r.ops, 100+i); d != "" {
			t.Errorf("regression %q diverges: %s", r.name, d)
		}
	}
	ops := generate(seed, *diffOps)
	t.Logf("seed %d, %d operations (reproduce with -diff.seed=%d -diff.ops=%d)", seed, len(ops), seed, len(ops))
	start := time.Now()
	d := divergence(roots, ops, run)
	t.Logf("%d operations in %v", len(ops), time.Since(start).Round(time.Millisecond))
	if d == "" {
		return
	}
	// Cut at the failing op, then shrink.
	var at int
	if _, err := fmt.Sscanf(d, "op %d", &at); err == nil && at < len(ops) {
		ops = ops[:at+1]
	}
	small := shrink(roots, ops, 300)
	var b strings.Builder
	for i, o := range small {
		fmt.Fprintf(&b, "  %3d %v\n", i, o)
	}
	t.Fatalf("seed %d diverges: %s\nshrunk to %d operations:\n%s(last divergence: %s)",
		seed, d, len(small), b.String(), divergence(roots, small, 9999))
}

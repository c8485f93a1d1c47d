package fuse

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// Options configure a mount.
type Options struct {
	// MountPoint is the local directory to mount on.
	MountPoint string
	// Root is the cluster path shown at the mount point ("/" by default).
	Root string
	// MountOptions are -o style options (allow_other, ro, ...).
	MountOptions []string
	// EntryTimeout and AttrTimeout bound how long the kernel trusts names
	// and attributes without asking again.
	EntryTimeout, AttrTimeout time.Duration
	// MaxIO is the largest read or write request (1 MiB by default).
	MaxIO int
	// BlockSize is reported as st_blksize, so tools pick big buffers.
	BlockSize int
	// Passthrough lets reads of fully cached files bypass user space.
	Passthrough bool
	// FsName is shown as the source in /proc/mounts.
	FsName string
	// Debug logs every kernel request.
	Debug  bool
	Logger *slog.Logger
}

// fileSystem is the state shared by every node of one mount.
type fileSystem struct {
	client                    Client
	root                      string
	entryTimeout, attrTimeout time.Duration
	blockSize                 int
	passthrough               atomic.Bool
	log                       *slog.Logger

	// writersMu guards writers: the nodes with an open writer, by inode
	// number.
	writersMu sync.Mutex
	writers   map[uint64]*node
}

// Mount is a live FUSE mount.
type Mount struct {
	server *gofuse.Server
	dir    string
	// Passthrough reports whether the kernel accepted passthrough files.
	Passthrough bool
	// Latencies times every kernel request (metrics.go).
	Latencies *Latencies
}

// CheckMountPoint returns an error naming the mount point when it cannot be
// mounted on: missing, not a directory, already a mount, or not empty.
func CheckMountPoint(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.ENOTCONN {
			return fmt.Errorf("mount point %s: a dead FUSE mount is still there (run `alluxio-fuse umount %s`)", dir, dir)
		}
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("mount point %s: not a directory: %w", dir, syscall.ENOTDIR)
	}
	mounted, err := IsMounted(dir)
	if err != nil {
		return err
	}
	if mounted {
		return fmt.Errorf("mount point %s: already mounted: %w", dir, syscall.EBUSY)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != io.EOF {
		if err == nil {
			return fmt.Errorf("mount point %s: directory is not empty: %w", dir, syscall.ENOTEMPTY)
		}
		return fmt.Errorf("mount point %s: %w", dir, err)
	}
	return nil
}

// IsMounted reports whether dir is a mount point listed in /proc/self/mounts.
func IsMounted(dir string) (bool, error) {
	mounts, err := Mounts()
	if err != nil {
		return false, err
	}
	clean := path.Clean(dir)
	for _, m := range mounts {
		if m.Dir == clean {
			return true, nil
		}
	}
	return false, nil
}

// MountEntry is one line of /proc/self/mounts.
type MountEntry struct {
	Source, Dir, Type, Options string
}

// Mounts lists the mounts of this mount namespace.
func Mounts() ([]MountEntry, error) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil, fmt.Errorf("read mount table: %w", err)
	}
	var out []MountEntry
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		out = append(out, MountEntry{Source: unescape(f[0]), Dir: unescape(f[1]), Type: f[2], Options: f[3]})
	}
	return out, nil
}

// unescape undoes the octal escapes of /proc/mounts (\040 for space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Serve mounts the file system and starts serving kernel requests. The
// caller waits with Wait and unmounts with Unmount.
func Serve(client Client, o Options) (*Mount, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	if o.BlockSize <= 0 {
		o.BlockSize = 1 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := CheckMountPoint(o.MountPoint); err != nil {
		return nil, err
	}
	mo := gofuse.MountOptions{
		FsName:      o.FsName,
		Name:        "alluxio",
		DirectMount: true,
		Debug:       o.Debug,
		// Extended attributes are kept by the master (xattr.go); the
		// kernel's per-write security.capability probe is answered here.
		DisableXAttrs: false,
	}
	for _, opt := range o.MountOptions {
		if err := applyOption(&mo, &o, strings.TrimSpace(opt)); err != nil {
			return nil, err
		}
	}
	if o.MaxIO <= 0 || o.MaxIO > 1<<20 {
		o.MaxIO = 1 << 20
	}
	o.MaxIO = spliceable(o.MaxIO, pipeMaxSize())
	mo.MaxWrite, mo.MaxReadAhead = o.MaxIO, o.MaxIO
	// O_TRUNC arrives with the open, so an open decides its I/O mode
	// knowing the file is being emptied.
	mo.ExtraCapabilities |= gofuse.CAP_ATOMIC_O_TRUNC
	// Writers use direct I/O, where the kernel refuses shared writable
	// mappings (ENODEV) unless told otherwise (Linux 6.6+): with this a
	// MAP_SHARED mapping lives in the page cache and its dirty pages come
	// back as writes on msync, fsync, munmap and close.
	mo.ExtraCapabilities |= gofuse.CAP_DIRECT_IO_ALLOW_MMAP
	if !hasOption(mo.Options, "default_permissions") {
		// With allow_other the kernel must check permissions, or every
		// user could read every file.
		mo.Options = append(mo.Options, "default_permissions")
	}
	fsys := &fileSystem{
		client:       client,
		root:         path.Clean("/" + o.Root),
		entryTimeout: o.EntryTimeout,
		attrTimeout:  o.AttrTimeout,
		blockSize:    o.BlockSize,
		log:          o.Logger.With("component", "fuse"),
	}
	fsys.passthrough.Store(o.Passthrough)
	mo.Logger = log.New(slogWriter{fsys.log, mo.Debug}, "", 0)
	entry, attr := o.EntryTimeout, o.AttrTimeout
	lat := &Latencies{}
	server, err := mountTimed(lat, o.MountPoint, &node{fsys: fsys}, &fs.Options{
		MountOptions:   mo,
		EntryTimeout:   &entry,
		AttrTimeout:    &attr,
		RootStableAttr: &fs.StableAttr{Ino: 1},
		// Mode 0000 means no permission: without this go-fuse shows
		// it as 0644 (0755 for a directory), and a file chmod'ed 000
		// would be readable by every user.
		NullPermissions: true,
	})
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", o.MountPoint, err)
	}
	m := &Mount{server: server, dir: o.MountPoint, Latencies: lat}
	if o.Passthrough {
		m.Passthrough = probePassthrough(server)
		fsys.passthrough.Store(m.Passthrough) // requests may be arriving already
		if !m.Passthrough {
			fsys.log.Info("kernel passthrough unavailable; hot reads go through user space")
		}
	}
	return m, nil
}

// spliceable caps a request size so that a read's reply fits a pipe of
// at most pipeMax bytes: go-fuse splices a read answered from a file (the
// worker's backing file) through a pipe it grows to the whole reply plus a
// page, and fails over to copying the bytes through user space when the
// pipe cannot grow that far. With Linux's default limit of 1 MiB, every
// read of 1 MiB did. A limit under 256 KiB is not worth the smaller
// requests and leaves size as it is.
func spliceable(size, pipeMax int) int {
	page := os.Getpagesize()
	limit := pipeMax - 2*page // the reply's header and go-fuse's spare page
	if pipeMax < 256<<10 || size <= limit {
		return size
	}
	return limit / page * page
}

// pipeMaxSize is the most a pipe can hold (/proc/sys/fs/pipe-max-size), or
// 0 when unknown.
func pipeMaxSize() int {
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// fstabOnly are options that mount(8) and /etc/fstab use and that mean
// nothing to the kernel's FUSE (or that libfuse knows and this mount
// decides by itself, such as direct_io).
var fstabOnly = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "nofail": true, "_netdev": true,
	"user": true, "users": true, "nouser": true, "owner": true, "group": true,
	"direct_io": true, "kernel_cache": true, "auto_cache": true, "big_writes": true,
	"async": true, "atime": true, "noatime": true, "relatime": true, "nodiratime": true,
}

// kernelOptions pass through to mount(2).
var kernelOptions = map[string]bool{
	"ro": true, "rw": true, "dev": true, "nodev": true, "suid": true, "nosuid": true,
	"exec": true, "noexec": true, "sync": true, "dirsync": true, "default_permissions": true,
}

// applyOption takes one -o option: libfuse-style timeouts and sizes set
// the mount's own settings, fstab-only options are dropped, kernel options
// pass through, and anything else is an error naming it.
func applyOption(mo *gofuse.MountOptions, o *Options, opt string) error {
	key, val, hasVal := strings.Cut(opt, "=")
	switch {
	case opt == "":
	case opt == "allow_other":
		mo.AllowOther = true
	case opt == "debug":
		mo.Debug = true
	case fstabOnly[opt], strings.HasPrefix(opt, "x-"), key == "comment", key == "fsname", key == "subtype":
	case kernelOptions[opt]:
		mo.Options = append(mo.Options, opt)
	case hasVal && (key == "attr_timeout" || key == "entry_timeout"):
		secs, err := strconv.ParseFloat(val, 64)
		if err != nil || secs < 0 {
			return fmt.Errorf("mount option %s: want seconds", opt)
		}
		d := time.Duration(secs * float64(time.Second))
		if key == "attr_timeout" {
			o.AttrTimeout = d
		} else {
			o.EntryTimeout = d
		}
	case hasVal && (key == "max_read" || key == "max_write"):
		n, err := strconv.Atoi(val)
		if err != nil || n < 4096 {
			return fmt.Errorf("mount option %s: want a byte count of at least 4096", opt)
		}
		o.MaxIO = n
	default:
		return fmt.Errorf("mount option %q: not supported", opt)
	}
	return nil
}

// probePassthrough registers a throwaway backing file to learn whether the
// kernel (6.9+) and our privileges allow passthrough.
func probePassthrough(server *gofuse.Server) bool {
	f, err := os.CreateTemp("", "alluxio-passthrough-probe")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	id, errno := server.RegisterBackingFd(&gofuse.BackingMap{Fd: int32(f.Fd())})
	if errno != 0 {
		return false
	}
	server.UnregisterBackingFd(id)
	return true
}

func hasOption(opts []string, want string) bool {
	for _, o := range opts {
		if o == want {
			return true
		}
	}
	return false
}

// Wait blocks until the mount is unmounted.
func (m *Mount) Wait() { m.server.Wait() }

// Unmount detaches the mount, lazily if it is busy.
func (m *Mount) Unmount() error {
	if err := m.server.Unmount(); err != nil {
		if err2 := syscall.Unmount(m.dir, syscall.MNT_DETACH); err2 != nil {
			return fmt.Errorf("unmount %s: %w", m.dir, err)
		}
	}
	return nil
}

// Unmount detaches whatever is mounted at dir, including the dead mount a
// killed daemon leaves ("Transport endpoint is not connected").
func Unmount(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, syscall.ENOTCONN) {
		// The daemon is gone. A thread of it may still wait, forever,
		// for an answer from its own mount (go-fuse looks at the mount
		// once it is up; a kill -9 at that moment leaves that thread
		// stuck and the process a zombie): abort the connection, which
		// answers every waiting request with an error.
		abortConnection(dir)
	}
	err := syscall.Unmount(dir, 0)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EBUSY) {
		err = syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}

// abortConnection aborts the FUSE connection of the mount at dir through
// the fusectl file system (/sys/fs/fuse/connections/<minor>/abort), which
// it mounts if needed; best effort.
func abortConnection(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	clean := path.Clean(dir)
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || unescape(f[4]) != clean {
			continue
		}
		_, minor, ok := strings.Cut(f[2], ":")
		if !ok {
			return
		}
		const ctl = "/sys/fs/fuse/connections"
		if _, err := os.Stat(path.Join(ctl, minor)); err != nil {
			if syscall.Mount("fusectl", ctl, "fusectl", 0, "") == nil {
				defer syscall.Unmount(ctl, 0)
			}
		}
		os.WriteFile(path.Join(ctl, minor, "abort"), []byte("1"), 0o200)
		return
	}
}

// slogWriter adapts go-fuse's log.Logger output to slog; with the debug
// option on, its request trace is logged at info level.
type slogWriter struct {
	log   *slog.Logger
	debug bool
}

func (w slogWriter) Write(p []byte) (int, error) {
	level := slog.LevelDebug
	if w.debug {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

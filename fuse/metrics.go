package fuse

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	gofuse "github.com/hanwen/go-fuse/v2/fuse"
)

// LatencyBuckets are the upper bounds, in seconds, of the latency
// histograms: from a kernel-cached getattr to a cold read of a remote
// under-store.
var LatencyBuckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Latencies records how long the kernel's requests take to serve, one
// histogram per operation. It is safe for concurrent use; the zero value
// is ready.
type Latencies struct {
	ops sync.Map // operation name -> *histogram
}

type histogram struct {
	buckets []atomic.Uint64 // one per LatencyBuckets bound, then +Inf
	count   atomic.Uint64
	sumNS   atomic.Int64
}

// Observe adds one request of the operation op that took d.
func (l *Latencies) Observe(op string, d time.Duration) {
	v, ok := l.ops.Load(op)
	if !ok {
		v, _ = l.ops.LoadOrStore(op, &histogram{buckets: make([]atomic.Uint64, len(LatencyBuckets)+1)})
	}
	h := v.(*histogram)
	secs := d.Seconds()
	i := sort.SearchFloat64s(LatencyBuckets, secs) // first bound >= secs
	h.buckets[i].Add(1)
	h.count.Add(1)
	h.sumNS.Add(int64(d))
}

// OpLatency is the summary of one operation's histogram.
type OpLatency struct {
	Op    string `json:"op"`
	Count uint64 `json:"count"`
	// Sum is the total time spent, in seconds.
	Sum float64 `json:"sum"`
	// Buckets are cumulative counts, one per LatencyBuckets bound.
	Buckets []uint64 `json:"buckets"`
}

// Snapshot returns every operation's histogram, sorted by operation.
func (l *Latencies) Snapshot() []OpLatency {
	var out []OpLatency
	l.ops.Range(func(k, v any) bool {
		h := v.(*histogram)
		o := OpLatency{Op: k.(string), Count: h.count.Load(), Sum: time.Duration(h.sumNS.Load()).Seconds(),
			Buckets: make([]uint64, len(LatencyBuckets))}
		var cum uint64
		for i := range LatencyBuckets {
			cum += h.buckets[i].Load()
			o.Buckets[i] = cum
		}
		out = append(out, o)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	return out
}

// LatencyMetric is the Prometheus name of the histograms, after Alluxio's
// Fuse.<operation> timers.
const LatencyMetric = "Fuse_Latency_seconds"

// WritePrometheus writes the histograms in the Prometheus text format, one
// series per operation (label op), with Fuse_TotalCalls beside them.
func (l *Latencies) WritePrometheus(w io.Writer) error {
	snap := l.Snapshot()
	var total uint64
	bw := &errWriter{w: w}
	bw.printf("# HELP %s Time to serve a kernel FUSE request, by operation.\n# TYPE %s histogram\n",
		LatencyMetric, LatencyMetric)
	for _, o := range snap {
		total += o.Count
		for i, le := range LatencyBuckets {
			bw.printf("%s_bucket{op=%q,le=%q} %d\n", LatencyMetric, o.Op, strconv.FormatFloat(le, 'g', -1, 64), o.Buckets[i])
		}
		bw.printf("%s_bucket{op=%q,le=\"+Inf\"} %d\n", LatencyMetric, o.Op, o.Count)
		bw.printf("%s_sum{op=%q} %g\n%s_count{op=%q} %d\n", LatencyMetric, o.Op, o.Sum, LatencyMetric, o.Op, o.Count)
	}
	bw.printf("# TYPE Fuse_TotalCalls counter\nFuse_TotalCalls %d\n", total)
	return bw.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// timedFS times the kernel requests a file system serves. Operations it
// does not name pass through untimed (Forget, interrupts, xattrs, locks).
type timedFS struct {
	gofuse.RawFileSystem
	lat *Latencies
}

// mountTimed is fs.Mount with every request timed into lat.
func mountTimed(lat *Latencies, dir string, root fs.InodeEmbedder, options *fs.Options) (*gofuse.Server, error) {
	raw := &timedFS{RawFileSystem: fs.NewNodeFS(root, options), lat: lat}
	server, err := gofuse.NewServer(raw, dir, &options.MountOptions)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, err
	}
	return server, nil
}

func (t *timedFS) done(op string, start time.Time) { t.lat.Observe(op, time.Since(start)) }

func (t *timedFS) Lookup(c <-chan struct{}, h *gofuse.InHeader, name string, out *gofuse.EntryOut) gofuse.Status {
	defer t.done("lookup", time.Now())
	return t.RawFileSystem.Lookup(c, h, name, out)
}

func (t *timedFS) GetAttr(c <-chan struct{}, in *gofuse.GetAttrIn, out *gofuse.AttrOut) gofuse.Status {
	defer t.done("getattr", time.Now())
	return t.RawFileSystem.GetAttr(c, in, out)
}

func (t *timedFS) SetAttr(c <-chan struct{}, in *gofuse.SetAttrIn, out *gofuse.AttrOut) gofuse.Status {
	defer t.done("setattr", time.Now())
	return t.RawFileSystem.SetAttr(c, in, out)
}

func (t *timedFS) Mkdir(c <-chan struct{}, in *gofuse.MkdirIn, name string, out *gofuse.EntryOut) gofuse.Status {
	defer t.done("mkdir", time.Now())
	return t.RawFileSystem.Mkdir(c, in, name, out)
}

func (t *timedFS) Unlink(c <-chan struct{}, h *gofuse.InHeader, name string) gofuse.Status {
	defer t.done("unlink", time.Now())
	return t.RawFileSystem.Unlink(c, h, name)
}

func (t *timedFS) Rmdir(c <-chan struct{}, h *gofuse.InHeader, name string) gofuse.Status {
	defer t.done("rmdir", time.Now())
	return t.RawFileSystem.Rmdir(c, h, name)
}

func (t *timedFS) Rename(c <-chan struct{}, in *gofuse.RenameIn, oldName, newName string) gofuse.Status {
	defer t.done("rename", time.Now())
	return t.RawFileSystem.Rename(c, in, oldName, newName)
}

func (t *timedFS) Symlink(c <-chan struct{}, h *gofuse.InHeader, target, name string, out *gofuse.EntryOut) gofuse.Status {
	defer t.done("symlink", time.Now())
	return t.RawFileSystem.Symlink(c, h, target, name, out)
}

func (t *timedFS) Readlink(c <-chan struct{}, h *gofuse.InHeader) ([]byte, gofuse.Status) {
	defer t.done("readlink", time.Now())
	return t.RawFileSystem.Readlink(c, h)
}

func (t *timedFS) Create(c <-chan struct{}, in *gofuse.CreateIn, name string, out *gofuse.CreateOut) gofuse.Status {
	defer t.done("create", time.Now())
	return t.RawFileSystem.Create(c, in, name, out)
}

func (t *timedFS) Open(c <-chan struct{}, in *gofuse.OpenIn, out *gofuse.OpenOut) gofuse.Status {
	defer t.done("open", time.Now())
	return t.RawFileSystem.Open(c, in, out)
}

func (t *timedFS) Read(c <-chan struct{}, in *gofuse.ReadIn, buf []byte) (gofuse.ReadResult, gofuse.Status) {
	defer t.done("read", time.Now())
	return t.RawFileSystem.Read(c, in, buf)
}

func (t *timedFS) Write(c <-chan struct{}, in *gofuse.WriteIn, data []byte) (uint32, gofuse.Status) {
	defer t.done("write", time.Now())
	return t.RawFileSystem.Write(c, in, data)
}

func (t *timedFS) Writev(c <-chan struct{}, in *gofuse.WriteIn, data [][]byte) (uint32, gofuse.Status) {
	defer t.done("write", time.Now())
	return t.RawFileSystem.Writev(c, in, data)
}

func (t *timedFS) Flush(c <-chan struct{}, in *gofuse.FlushIn) gofuse.Status {
	defer t.done("flush", time.Now())
	return t.RawFileSystem.Flush(c, in)
}

func (t *timedFS) Fsync(c <-chan struct{}, in *gofuse.FsyncIn) gofuse.Status {
	defer t.done("fsync", time.Now())
	return t.RawFileSystem.Fsync(c, in)
}

func (t *timedFS) Release(c <-chan struct{}, in *gofuse.ReleaseIn) {
	defer t.done("release", time.Now())
	t.RawFileSystem.Release(c, in)
}

func (t *timedFS) OpenDir(c <-chan struct{}, in *gofuse.OpenIn, out *gofuse.OpenOut) gofuse.Status {
	defer t.done("opendir", time.Now())
	return t.RawFileSystem.OpenDir(c, in, out)
}

func (t *timedFS) ReadDir(c <-chan struct{}, in *gofuse.ReadIn, out *gofuse.DirEntryList) gofuse.Status {
	defer t.done("readdir", time.Now())
	return t.RawFileSystem.ReadDir(c, in, out)
}

func (t *timedFS) ReadDirPlus(c <-chan struct{}, in *gofuse.ReadIn, out *gofuse.DirEntryList) gofuse.Status {
	defer t.done("readdirplus", time.Now())
	return t.RawFileSystem.ReadDirPlus(c, in, out)
}

func (t *timedFS) StatFs(c <-chan struct{}, h *gofuse.InHeader, out *gofuse.StatfsOut) gofuse.Status {
	defer t.done("statfs", time.Now())
	return t.RawFileSystem.StatFs(c, h, out)
}

func (t *timedFS) Fallocate(c <-chan struct{}, in *gofuse.FallocateIn) gofuse.Status {
	defer t.done("fallocate", time.Now())
	return t.RawFileSystem.Fallocate(c, in)
}

func (t *timedFS) Lseek(c <-chan struct{}, in *gofuse.LseekIn, out *gofuse.LseekOut) gofuse.Status {
	defer t.done("lseek", time.Now())
	return t.RawFileSystem.Lseek(c, in, out)
}

func (t *timedFS) CopyFileRange(c <-chan struct{}, in *gofuse.CopyFileRangeIn) (uint32, gofuse.Status) {
	defer t.done("copy_file_range", time.Now())
	return t.RawFileSystem.CopyFileRange(c, in)
}

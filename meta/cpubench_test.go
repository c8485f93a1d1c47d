package meta

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per operation since start
// (with b.N operations), and its ratio to base, a per-operation CPU time
// measured in the same run.
func reportCPU(b *testing.B, start time.Duration, base time.Duration) {
	per := float64(cpuTime(b)-start) / float64(b.N)
	b.ReportMetric(per/1e3, "cpu-µs/op")
	if base > 0 {
		b.ReportMetric(per/float64(base), "x-bbolt-view")
	}
}

// bboltViewCPU is the CPU time of one metastore read transaction that
// reads the root inode without decoding it: the floor of any metadata read.
func bboltViewCPU(b *testing.B, m *Master) time.Duration {
	const n = 20000
	start := cpuTime(b)
	for range n {
		err := m.fsm.view(func(t *txn) error {
			if t.tx.Bucket(bucketInodes).Get(u64(rootID)) == nil {
				return fmt.Errorf("no root inode")
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return (cpuTime(b) - start) / n
}

// BenchmarkMasterCPU measures the master's CPU time per call of the
// metadata operations the FUSE daemon makes most: a stat of an existing
// file, a page of a listing, and a create, sequentially (no RPC), with
// their ratio to one bare metastore read transaction.
func BenchmarkMasterCPU(b *testing.B) {
	quiet := func(c *Config) {
		c.SyncInterval = -1
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	e := newEnvWith(b, quiet)
	ctx := context.Background()
	const files = 100
	e.mkdir(b, "/a/b/c")
	for i := range files {
		fi, err := e.m.CreateFile(ctx, fmt.Sprintf("/a/b/c/f%03d", i), CreateOptions{Mode: 0o644})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 1}); err != nil {
			b.Fatal(err)
		}
	}
	base := bboltViewCPU(b, e.m)
	b.Logf("baseline: one metastore read transaction takes %v of CPU", base)

	b.Run("GetStatus", func(b *testing.B) {
		start := cpuTime(b)
		i := 0
		for b.Loop() {
			if _, err := e.m.GetStatus(ctx, fmt.Sprintf("/a/b/c/f%03d", i%files)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportCPU(b, start, base)
	})
	b.Run("ListStatusPage", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			entries, _, err := e.m.ListStatusPage(ctx, "/a/b/c", "", 0)
			if err != nil || len(entries) != files {
				b.Fatalf("ListStatusPage: %d entries, %v", len(entries), err)
			}
		}
		reportCPU(b, start, base)
	})
	e.mkdir(b, "/new")
	if _, err := e.m.SetAttr(ctx, "/new", SetAttrOptions{Mode: ptr(uint32(0o777))}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	b.Run("CreateFile", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			if _, err := e.m.CreateFile(ctx, fmt.Sprintf("/new/f%d", seq.Add(1)), CreateOptions{Mode: 0o644}); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start, base)
	})
	// As the FUSE daemon creates a file under THROUGH: complete and
	// empty from the start, in the under-store too, for a caller, once
	// per request id.
	b.Run("CreateFileComplete", func(b *testing.B) {
		start := cpuTime(b)
		for b.Loop() {
			ctx := WithCaller(WithRequestID(ctx, NewRequestID()), Caller{UID: 1000, GID: 1000})
			o := CreateOptions{Mode: 0o644, UID: 1000, GID: 1000, Exclusive: true, Persisted: true, Complete: true}
			if _, err := e.m.CreateFile(ctx, fmt.Sprintf("/new/g%d", seq.Add(1)), o); err != nil {
				b.Fatal(err)
			}
		}
		reportCPU(b, start, base)
	})
	// As the FUSE daemon unlinks a persisted file: the under-store's
	// copy and the entry at once, once per request id. The files are
	// made in batches, with their CPU time left out.
	b.Run("DeleteFile", func(b *testing.B) {
		var spent time.Duration
		var names []string
		start := cpuTime(b)
		for b.Loop() {
			if len(names) == 0 {
				spent += cpuTime(b) - start
				b.StopTimer()
				for range 1000 {
					p := fmt.Sprintf("/new/d%d", seq.Add(1))
					o := CreateOptions{Mode: 0o644, Exclusive: true, Persisted: true, Complete: true}
					if _, err := e.m.CreateFile(ctx, p, o); err != nil {
						b.Fatal(err)
					}
					names = append(names, p)
				}
				b.StartTimer()
				start = cpuTime(b)
			}
			ctx := WithCaller(WithRequestID(ctx, NewRequestID()), Caller{UID: 1000, GID: 1000})
			if err := e.m.DeleteWith(ctx, names[len(names)-1], DeleteOptions{Unlink: true}); err != nil {
				b.Fatal(err)
			}
			names = names[:len(names)-1]
		}
		spent += cpuTime(b) - start
		b.ReportMetric(float64(spent)/float64(b.N)/1e3, "cpu-µs/op")
		b.ReportMetric(float64(spent)/float64(b.N)/float64(base), "x-bbolt-view")
	})
}

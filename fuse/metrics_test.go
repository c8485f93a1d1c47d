package fuse

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLatencies(t *testing.T) {
	var l Latencies
	cases := []struct {
		op string
		d  time.Duration
	}{
		{"read", 30 * time.Microsecond},     // first bucket
		{"read", 50 * time.Microsecond},     // on a bound: counted in it
		{"read", 3 * time.Millisecond},      // 0.005
		{"read", 20 * time.Second},          // over every bound: +Inf only
		{"getattr", 700 * time.Microsecond}, // 0.001
	}
	for _, c := range cases {
		l.Observe(c.op, c.d)
	}
	snap := l.Snapshot()
	if len(snap) != 2 || snap[0].Op != "getattr" || snap[1].Op != "read" {
		t.Fatalf("snapshot = %+v", snap)
	}
	read := snap[1]
	bucket := func(le float64) uint64 {
		for i, b := range LatencyBuckets {
			if b == le {
				return read.Buckets[i]
			}
		}
		t.Fatalf("no bucket %g", le)
		return 0
	}
	want := []struct {
		le    float64
		count uint64
	}{{0.00005, 2}, {0.001, 2}, {0.0025, 2}, {0.005, 3}, {10, 3}}
	for _, w := range want {
		if got := bucket(w.le); got != w.count {
			t.Errorf("read bucket le=%g = %d, want %d", w.le, got, w.count)
		}
	}
	if read.Count != 4 || read.Sum < 20 || read.Sum > 20.01 {
		t.Errorf("read count %d sum %g", read.Count, read.Sum)
	}

	var b strings.Builder
	if err := l.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"# TYPE Fuse_Latency_seconds histogram\n",
		`Fuse_Latency_seconds_bucket{op="read",le="5e-05"} 2` + "\n",
		`Fuse_Latency_seconds_bucket{op="read",le="0.005"} 3` + "\n",
		`Fuse_Latency_seconds_bucket{op="read",le="+Inf"} 4` + "\n",
		`Fuse_Latency_seconds_count{op="getattr"} 1` + "\n",
		"Fuse_TotalCalls 5\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q\n%s", s, out)
		}
	}
}

func TestLatenciesConcurrent(t *testing.T) {
	var l Latencies
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				l.Observe("lookup", time.Duration(j)*time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if s := l.Snapshot(); len(s) != 1 || s[0].Count != 8000 {
		t.Errorf("snapshot = %+v", s)
	}
}

package meta

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkCreateComplete measures CreateFile+CompleteFile pairs through a
// one-node Raft group, sequential and parallel (where Raft batches), and
// reports the ratio against one synced bbolt write in the same run (the
// floor of a durable metadata change), and how many commands share one
// Raft log write and one metastore transaction.
func BenchmarkCreateComplete(b *testing.B) {
	baseline := bboltPutTime(b)
	b.Logf("baseline: one synced bbolt write takes %v", baseline)
	run := func(b *testing.B, parallel bool) {
		e := newEnv(b, -1)
		e.mkdir(b, "/bench")
		ctx := context.Background()
		var seq atomic.Int64
		one := func() {
			p := fmt.Sprintf("/bench/f%d", seq.Add(1))
			fi, err := e.m.CreateFile(ctx, p, CreateOptions{Mode: 0o644})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := e.m.CompleteFile(ctx, fi.ID, CompleteOptions{Size: 1}); err != nil {
				b.Fatal(err)
			}
		}
		before := e.m.Stats()
		b.ResetTimer()
		start := time.Now()
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					one()
				}
			})
		} else {
			for b.Loop() {
				one()
			}
		}
		per := time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "files/s")
		b.ReportMetric(float64(per)/float64(baseline), "x-bbolt-write")
		// Batching: Raft log writes (fsyncs) and metastore transactions
		// per command; 1 means every command paid its own.
		after := e.m.Stats()
		if w := after.LogWrites - before.LogWrites; w > 0 {
			b.ReportMetric(float64(after.LogEntries-before.LogEntries)/float64(w), "entries/log-write")
		}
		if tx := after.ApplyBatches - before.ApplyBatches; tx > 0 {
			b.ReportMetric(float64(after.AppliedEntries-before.AppliedEntries)/float64(tx), "entries/apply-txn")
		}
	}
	b.Run("sequential", func(b *testing.B) { run(b, false) })
	b.Run("parallel", func(b *testing.B) { run(b, true) })
}

// bboltPutTime measures one synced bbolt write transaction.
func bboltPutTime(b *testing.B) time.Duration {
	db, err := bbolt.Open(filepath.Join(b.TempDir(), "base.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n = 200
	start := time.Now()
	for i := range n {
		err := db.Update(func(tx *bbolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return bk.Put(u64(uint64(i)), []byte("value"))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / n
}

package meta

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// damage is one way of breaking a file in place.
type damage struct {
	name string
	do   func(t *testing.T, path string)
}

// truncateTo cuts a file to n bytes (n < 0: to half its size).
func truncateTo(n int64) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		if n < 0 {
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			n = st.Size() / 2
		}
		if err := os.Truncate(path, n); err != nil {
			t.Fatal(err)
		}
	}
}

// flipBytes inverts every byte of a file from off (off < 0: from the
// end) for n bytes (n == 0: to the end).
func flipBytes(off, n int64) func(t *testing.T, path string) {
	return func(t *testing.T, path string) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		start := off
		if start < 0 {
			start += int64(len(data))
		}
		end := int64(len(data))
		if n > 0 {
			end = start + n
		}
		for i := start; i < end; i++ {
			data[i] ^= 0xff
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// boltDamages are the ways a bbolt file is broken in the tests: each must
// be refused.
var boltDamages = []damage{
	{"empty", truncateTo(0)},
	{"first 100 bytes", truncateTo(100)},
	{"three pages left", truncateTo(3 * 4096)},
	{"meta page 0 checksum", flipBytes(16+40, 4)},
	{"meta page 0 magic", flipBytes(16, 1)},
	{"meta page 1 checksum", flipBytes(4096+16+40, 4)},
	{"every page after the meta pages", flipBytes(8192, 0)},
}

// TestDamagedMetastoreRefused breaks a metastore file in each way and
// checks that opening it fails naming the file, and leaves it as it was.
func TestDamagedMetastoreRefused(t *testing.T) {
	healthy := filepath.Join(t.TempDir(), metastoreName)
	st, err := openStore(healthy, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.update(func(tx *txn) error {
		for i := range 200 {
			tx.putInode(&inode{ID: uint64(100 + i), Name: strings.Repeat("x", 100), Mode: 0o644})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st.close()
	good, err := os.ReadFile(healthy)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := openStore(healthy, time.Second); err != nil {
		t.Fatalf("a healthy metastore: %v", err)
	} else {
		st.close()
	}
	good, _ = os.ReadFile(healthy) // an open commits (initStore)

	for _, d := range boltDamages {
		t.Run(d.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), metastoreName)
			if err := os.WriteFile(path, good, 0o600); err != nil {
				t.Fatal(err)
			}
			d.do(t, path)
			before, _ := os.ReadFile(path)
			st, err := openStore(path, time.Second)
			if err == nil {
				st.close()
				t.Fatal("a damaged metastore opened")
			}
			if !errors.Is(err, errDamaged) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name the damaged file: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("the damaged file was changed")
			}
		})
	}

	t.Run("locked", func(t *testing.T) {
		st, err := openStore(healthy, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.close()
		if _, err := openStore(healthy, 100*time.Millisecond); !errors.Is(err, syscall.EBUSY) {
			t.Errorf("a metastore in use: %v, want EBUSY", err)
		}
	})
}

// TestDamagedRaftFilesRefused breaks raft.db and the newest snapshot of a
// stopped master in turn: Open fails naming the file and leaves it as it
// was; repaired, the master opens with its namespace.
func TestDamagedRaftFilesRefused(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/kept")
	if err := e.m.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	e.mkdir(t, "/after-snapshot")
	want, err := e.m.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	snapDirs, _ := filepath.Glob(filepath.Join(e.cfg.JournalDir, snapshotDirName, "*-*-*"))
	if len(snapDirs) != 1 {
		t.Fatalf("snapshots: %v", snapDirs)
	}
	raftDB := filepath.Join(e.cfg.JournalDir, raftDBName)
	state := filepath.Join(snapDirs[0], "state.bin")
	metaJSON := filepath.Join(snapDirs[0], "meta.json")

	cases := []struct {
		file string
		damage
	}{
		{raftDB, damage{"missing", func(t *testing.T, path string) { os.Remove(path) }}},
		{state, damage{"truncated", truncateTo(-1)}},
		{state, damage{"one byte flipped", flipBytes(-100, 1)}},
		{metaJSON, damage{"garbage", func(t *testing.T, path string) { os.WriteFile(path, []byte("{"), 0o600) }}},
	}
	for _, d := range boltDamages {
		cases = append(cases, struct {
			file string
			damage
		}{raftDB, d})
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file)+" "+tc.name, func(t *testing.T) {
			good, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			tc.do(t, tc.file)
			before, _ := os.ReadFile(tc.file)
			m, err := Open(ctx, e.cfg)
			if err == nil {
				m.Close()
				t.Fatal("a master with a damaged journal file started")
			}
			if !errors.Is(err, errDamaged) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error does not name %s: %v", tc.file, err)
			}
			if after, _ := os.ReadFile(tc.file); !bytes.Equal(after, before) {
				t.Error("the damaged file was changed")
			}
			if err := os.WriteFile(tc.file, good, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	}

	e.m = e.open(t)
	got, err := e.m.Digest(ctx)
	if err != nil || got.SHA256 != want.SHA256 {
		t.Fatalf("after the repairs: %+v, %v; want %+v", got, err, want)
	}
}

// TestCheckpointConfig checks how the checkpoint knobs reach Raft.
func TestCheckpointConfig(t *testing.T) {
	for _, tc := range []struct {
		in                  CheckpointConfig
		threshold, trailing uint64
		interval            time.Duration
	}{
		{CheckpointConfig{}, DefaultCheckpointPeriodEntries, maxTrailingEntries, defaultCheckpointInterval},
		{CheckpointConfig{PeriodEntries: 50_000}, 50_000, 5_000, defaultCheckpointInterval},
		{CheckpointConfig{PeriodEntries: 2_000_000}, 2_000_000, maxTrailingEntries, defaultCheckpointInterval},
		{CheckpointConfig{PeriodEntries: 5, Interval: time.Second}, 5, 1, time.Second},
		{CheckpointConfig{PeriodEntries: 500, TrailingEntries: 7}, 500, 7, defaultCheckpointInterval},
	} {
		rc := newRaftConfig("n", slog.New(slog.NewTextHandler(io.Discard, nil)))
		tc.in.apply(rc)
		if rc.SnapshotThreshold != tc.threshold || rc.TrailingLogs != tc.trailing || rc.SnapshotInterval != tc.interval {
			t.Errorf("%+v: threshold %d, trailing %d, interval %v", tc.in, rc.SnapshotThreshold, rc.TrailingLogs, rc.SnapshotInterval)
		}
	}
}

package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// entries makes raft log entries from..to (inclusive) whose data names
// their index.
func entries(from, to uint64) []*raft.Log {
	var out []*raft.Log
	for i := from; i <= to; i++ {
		out = append(out, &raft.Log{Index: i, Term: 1 + i/10, Type: raft.LogCommand,
			Data: fmt.Appendf(nil, "entry %d %s", i, strings.Repeat("x", int(i%7)*10)), AppendedAt: time.Unix(0, int64(i))})
	}
	return out
}

func openTestLog(t *testing.T, dir string, need uint64) *segLog {
	t.Helper()
	l, err := openSegLog(dir, need, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// storeRange appends from..to in batches of n.
func storeRange(t *testing.T, l *segLog, from, to uint64, n int) {
	t.Helper()
	all := entries(from, to)
	for len(all) > 0 {
		k := min(n, len(all))
		if err := l.StoreLogs(all[:k]); err != nil {
			t.Fatalf("store %d..: %v", all[0].Index, err)
		}
		all = all[k:]
	}
}

// checkLog asserts the log holds exactly first..last, each entry as
// entries made it.
func checkLog(t *testing.T, l *segLog, first, last uint64) {
	t.Helper()
	f, _ := l.FirstIndex()
	la, _ := l.LastIndex()
	if f != first || la != last {
		t.Fatalf("log holds %d..%d, want %d..%d", f, la, first, last)
	}
	if first == 0 {
		return
	}
	want := entries(first, last)
	for i, w := range want {
		var got raft.Log
		if err := l.GetLog(w.Index, &got); err != nil {
			t.Fatalf("entry %d: %v", w.Index, err)
		}
		if got.Index != w.Index || got.Term != w.Term || got.Type != w.Type || !bytes.Equal(got.Data, w.Data) || !got.AppendedAt.Equal(w.AppendedAt) {
			t.Fatalf("entry %d (#%d): got %+v, want %+v", w.Index, i, got, *w)
		}
	}
	var out raft.Log
	for _, i := range []uint64{first - 1, last + 1} {
		if err := l.GetLog(i, &out); !errors.Is(err, raft.ErrLogNotFound) {
			t.Errorf("entry %d outside the log: %v, want ErrLogNotFound", i, err)
		}
	}
}

// TestSegLogRoundTrip writes entries in batches across segments and reads
// them back, before and after reopening.
func TestSegLogRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, 0)
	checkLog(t, l, 0, 0)
	l.maxSize = 4 << 10
	storeRange(t, l, 1, 300, 7)
	checkLog(t, l, 1, 300)
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) < 3 {
		t.Errorf("%d segments for 300 entries of 4 KiB segments, want several", len(segs))
	}
	if err := l.StoreLogs(entries(302, 302)); err == nil {
		t.Error("an append with a gap succeeded")
	}
	l.Close()
	l = openTestLog(t, dir, 300)
	checkLog(t, l, 1, 300)
	storeRange(t, l, 301, 320, 3)
	checkLog(t, l, 1, 320)
}

// TestSegLogDeleteRange compacts a prefix file by file and cuts a suffix
// inside a batch, as Raft does after a snapshot and on a conflict.
func TestSegLogDeleteRange(t *testing.T) {
	dir := t.TempDir()
	l := openTestLog(t, dir, 0)
	l.maxSize = 2 << 10
	storeRange(t, l, 1, 200, 5)
	before, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err := l.DeleteRange(1, 120); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 121, 200)
	after, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(after) >= len(before) {
		t.Errorf("compaction kept all %d segment files", len(before))
	}
	// A suffix from the middle of a batch (entries 186..190 are one).
	if err := l.DeleteRange(188, 200); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 121, 187)
	storeRange(t, l, 188, 210, 4)
	checkLog(t, l, 121, 210)
	if err := l.DeleteRange(150, 160); err == nil {
		t.Error("deleting from the middle of the log succeeded")
	}
	// A suffix from the first entry of a segment takes the whole file.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	lastBase, _ := strconv.ParseUint(strings.TrimSuffix(filepath.Base(segs[len(segs)-1]), ".seg"), 10, 64)
	if err := l.DeleteRange(lastBase, 210); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 121, lastBase-1)
	if now, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(now) != len(segs)-1 {
		t.Errorf("%d segment files after dropping the last one's entries, want %d", len(now), len(segs)-1)
	}
	storeRange(t, l, lastBase, 210, 4)
	// A copy a crash left behind is removed at the next open.
	os.WriteFile(filepath.Join(dir, segName(lastBase)+".tmp"), []byte("half"), 0o600)
	l.Close()
	// Reopened, the log may hold compacted entries of a segment it kept,
	// but at least everything that was not deleted.
	l = openTestLog(t, dir, 210)
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Errorf("left after opening: %v", left)
	}
	first, _ := l.FirstIndex()
	if first > 121 {
		t.Fatalf("reopened log starts at %d, want at most 121", first)
	}
	checkLog(t, l, first, 210)
	// Everything goes when Raft installs a snapshot past the log.
	if err := l.DeleteRange(first, 500); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 0, 0)
	storeRange(t, l, 501, 510, 3)
	checkLog(t, l, 501, 510)
	l.Close()
	l = openTestLog(t, dir, 510)
	checkLog(t, l, 501, 510)
}

// lastSegment is the newest segment file in dir.
func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	return segs[len(segs)-1]
}

// TestSegLogTornAppend: a crash in the middle of an append leaves part of
// the last batch; opening the log cuts it off and keeps everything before.
func TestSegLogTornAppend(t *testing.T) {
	for _, keep := range []int{0, 3, 8, 20, -1} {
		t.Run(fmt.Sprint("keep ", keep), func(t *testing.T) {
			dir := t.TempDir()
			l := openTestLog(t, dir, 0)
			storeRange(t, l, 1, 50, 5)
			l.Close()
			path := lastSegment(t, dir)
			whole, _ := os.ReadFile(path)
			l = openTestLog(t, dir, 50)
			storeRange(t, l, 51, 55, 5)
			l.Close()
			data, _ := os.ReadFile(path)
			batch := data[len(whole):]
			if keep < 0 {
				// All of it, but a byte of it never reached the disk.
				batch = bytes.Clone(batch)
				batch[len(batch)/2] ^= 0xff
			} else {
				batch = batch[:keep]
			}
			if err := os.WriteFile(path, append(whole, batch...), 0o600); err != nil {
				t.Fatal(err)
			}
			l = openTestLog(t, dir, 50)
			checkLog(t, l, 1, 50)
			if st, _ := os.Stat(path); st.Size() != int64(len(whole)) {
				t.Errorf("after opening, the segment is %d bytes, want %d", st.Size(), len(whole))
			}
			storeRange(t, l, 51, 60, 5)
			l.Close()
			l = openTestLog(t, dir, 60)
			checkLog(t, l, 1, 60)
		})
	}
}

// TestSegLogZerosAhead: an open log's segments run on in zeros written
// ahead of the appends, which a crash leaves in the files: opening such a
// log finds its entries, cuts a torn last batch followed by zeros, still
// refuses a bad batch with entries after it, and Close cuts the zeros off.
func TestSegLogZerosAhead(t *testing.T) {
	// crashed copies the log's files as they are while it is open, as a
	// crash would leave them, into a new folder.
	crashed := func(t *testing.T, dir string) string {
		t.Helper()
		out := t.TempDir()
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		for _, p := range segs {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, filepath.Base(p)), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	dir := t.TempDir()
	l := openTestLog(t, dir, 0)
	l.maxSize = 4 << 10
	storeRange(t, l, 1, 120, 3)
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	last := lastSegment(t, dir)
	if st, _ := os.Stat(last); st.Size() < segPrealloc {
		t.Fatalf("the open log's last segment is %d bytes: no zeros written ahead", st.Size())
	}
	if st, _ := os.Stat(segs[0]); st.Size() >= segPrealloc {
		t.Errorf("a full segment keeps its zeros (%d bytes)", st.Size())
	}

	t.Run("entries found", func(t *testing.T) {
		c := crashed(t, dir)
		checkLog(t, openTestLog(t, c, 120), 1, 120)
	})

	t.Run("torn batch before the zeros", func(t *testing.T) {
		c := crashed(t, dir)
		p := filepath.Join(c, filepath.Base(last))
		l.mu.RLock()
		end := l.segs[len(l.segs)-1].size
		l.mu.RUnlock()
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Half a batch of entry 121 made it before the crash.
		var h [batchHeaderLen]byte
		h[0], h[4] = 200, 7
		f.WriteAt(append(h[:], bytes.Repeat([]byte{9}, 50)...), end)
		f.Close()
		got := openTestLog(t, c, 120)
		checkLog(t, got, 1, 120)
		storeRange(t, got, 121, 130, 4)
		got.Close()
		checkLog(t, openTestLog(t, c, 130), 1, 130)
	})

	t.Run("bad batch with entries after it", func(t *testing.T) {
		c := crashed(t, dir)
		p := filepath.Join(c, filepath.Base(last))
		flipBytes(segHeaderLen+batchHeaderLen+3, 1)(t, p)
		got, err := openSegLog(c, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			got.Close()
			t.Fatal("a damaged log opened")
		}
		if !errors.Is(err, errDamaged) || !strings.Contains(err.Error(), p) {
			t.Errorf("error does not name %s as damaged: %v", p, err)
		}
	})

	t.Run("close cuts the zeros", func(t *testing.T) {
		l.Close()
		for _, p := range segs {
			data, _ := os.ReadFile(p)
			if len(data) < batchHeaderLen || allZero(data[len(data)-batchHeaderLen:]) {
				t.Errorf("%s ends in zeros after Close (%d bytes)", p, len(data))
			}
		}
		checkLog(t, openTestLog(t, dir, 120), 1, 120)
	})
}

// TestSegLogDamageRefused: damage that a crash cannot explain (a bad
// batch with more after it, a bad older segment, a log shorter than what
// the metastore applied) fails the open naming the file, which is left as
// it was.
func TestSegLogDamageRefused(t *testing.T) {
	cases := []struct {
		name string
		// damage breaks the log in dir and returns the file to name.
		damage func(t *testing.T, dir string) string
		need   uint64
		// one keeps the whole log in one segment.
		one bool
	}{
		{"a batch flipped with batches after it", func(t *testing.T, dir string) string {
			p := lastSegment(t, dir)
			flipBytes(segHeaderLen+batchHeaderLen+3, 1)(t, p)
			return p
		}, 0, true},
		{"an older segment's last batch flipped", func(t *testing.T, dir string) string {
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			flipBytes(-5, 1)(t, segs[0])
			return segs[0]
		}, 0, false},
		{"an older segment truncated", func(t *testing.T, dir string) string {
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			truncateTo(-1)(t, segs[0])
			return segs[0]
		}, 0, false},
		{"a header overwritten", func(t *testing.T, dir string) string {
			p := lastSegment(t, dir)
			flipBytes(0, 4)(t, p)
			return p
		}, 0, false},
		{"the last batches lost below the applied entries", func(t *testing.T, dir string) string {
			p := lastSegment(t, dir)
			truncateTo(-1)(t, p)
			return p
		}, 200, false},
		{"a middle segment missing", func(t *testing.T, dir string) string {
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			os.Remove(segs[1])
			return segs[2]
		}, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTestLog(t, dir, 0)
			if !tc.one {
				l.maxSize = 2 << 10
			}
			storeRange(t, l, 1, 200, 4)
			l.Close()
			file := tc.damage(t, dir)
			before := map[string][]byte{}
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			for _, s := range segs {
				before[s], _ = os.ReadFile(s)
			}
			got, err := openSegLog(dir, tc.need, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				got.Close()
				t.Fatal("a damaged log opened")
			}
			if !errors.Is(err, errDamaged) || !strings.Contains(err.Error(), file) {
				t.Errorf("error does not name %s as damaged: %v", file, err)
			}
			for _, s := range segs {
				if now, _ := os.ReadFile(s); !bytes.Equal(now, before[s]) {
					t.Errorf("%s was changed", s)
				}
			}
		})
	}
}

// TestMoveBoltLog: a journal whose log is in raft.db has it moved into
// the segment log once, and a move a crash interrupted is redone.
func TestMoveBoltLog(t *testing.T) {
	for _, interrupted := range []bool{false, true} {
		t.Run(fmt.Sprint("interrupted ", interrupted), func(t *testing.T) {
			dir := t.TempDir()
			bolt, err := raftboltdb.NewBoltStore(filepath.Join(dir, raftDBName))
			if err != nil {
				t.Fatal(err)
			}
			defer bolt.Close()
			if err := bolt.StoreLogs(entries(5, 700)); err != nil {
				t.Fatal(err)
			}
			if err := bolt.SetUint64([]byte("CurrentTerm"), 7); err != nil {
				t.Fatal(err)
			}
			logDir := filepath.Join(dir, raftLogDirName)
			if interrupted {
				// A copy left half done.
				os.MkdirAll(logDir+".new", 0o700)
				os.WriteFile(filepath.Join(logDir+".new", segName(5)), []byte(segMagic), 0o600)
			}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			if err := moveBoltLog(bolt, logDir, quiet); err != nil {
				t.Fatal(err)
			}
			if last, _ := bolt.LastIndex(); last != 0 {
				t.Errorf("raft.db still holds entries up to %d", last)
			}
			if term, _ := bolt.GetUint64([]byte("CurrentTerm")); term != 7 {
				t.Errorf("raft.db's term is %d, want 7", term)
			}
			if _, err := os.Stat(logDir + ".new"); err == nil {
				t.Error("the copy's folder is still there")
			}
			l := openTestLog(t, logDir, 700)
			checkLog(t, l, 5, 700)
			// Moved already: nothing happens again.
			if err := moveBoltLog(bolt, logDir, quiet); err != nil {
				t.Fatal(err)
			}
			checkLog(t, l, 5, 700)
		})
	}
}

// TestMasterMovesBoltLog: a master whose journal keeps its log in
// raft.db, as journals written before the segment log do, starts with its
// namespace and goes on writing.
func TestMasterMovesBoltLog(t *testing.T) {
	e := newEnv(t, -1)
	ctx := context.Background()
	e.mkdir(t, "/a")
	e.mkdir(t, "/a/b")
	want, err := e.m.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.Close(); err != nil {
		t.Fatal(err)
	}
	// Put the log back into raft.db, as an older master kept it.
	logDir := filepath.Join(e.cfg.JournalDir, raftLogDirName)
	l := openTestLog(t, logDir, 0)
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	var all []*raft.Log
	for i := first; i <= last; i++ {
		e := new(raft.Log)
		if err := l.GetLog(i, e); err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	l.Close()
	bolt, err := raftboltdb.NewBoltStore(filepath.Join(e.cfg.JournalDir, raftDBName))
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.StoreLogs(all); err != nil {
		t.Fatal(err)
	}
	bolt.Close()
	if err := os.RemoveAll(logDir); err != nil {
		t.Fatal(err)
	}
	e.m = e.open(t)
	got, err := e.m.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.SHA256 != want.SHA256 {
		t.Fatalf("after the move: digest %+v, want %+v", got, want)
	}
	e.mkdir(t, "/a/c")
	if _, err := e.m.GetStatus(ctx, "/a/c"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.logs.String(), "moved the raft log") {
		t.Error("the master did not say it moved the log")
	}
}

// TestSegLogModel runs random appends, prefix and suffix deletions and
// reopenings against a plain model of a Raft log and compares every entry
// after each step.
func TestSegLogModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	dir := t.TempDir()
	l := openTestLog(t, dir, 0)
	l.maxSize = 1 << 10
	var first, last uint64 // the model: entries first..last as entries() makes them
	next := uint64(1)
	for step := range 3000 {
		switch op := rng.IntN(20); {
		case op < 12: // append a batch
			n := uint64(1 + rng.IntN(6))
			if first == 0 {
				first = next
			}
			storeRange(t, l, next, next+n-1, int(n))
			next += n
			last = next - 1
		case op < 14 && first != 0: // compact a prefix
			max := first + uint64(rng.IntN(int(last-first+1)))
			if rng.IntN(10) == 0 {
				max = last + uint64(rng.IntN(5)) // everything, as a snapshot install does
			}
			if err := l.DeleteRange(first, max); err != nil {
				t.Fatalf("step %d: delete %d-%d: %v", step, first, max, err)
			}
			if max >= last {
				first, last = 0, 0
				next = max + 1 + uint64(rng.IntN(3))
			} else {
				first = max + 1
			}
		case op < 17 && first != 0: // cut a suffix, as a follower's conflict does
			min := first + uint64(rng.IntN(int(last-first+1)))
			if err := l.DeleteRange(min, last); err != nil {
				t.Fatalf("step %d: delete %d-%d: %v", step, min, last, err)
			}
			last = min - 1
			if last < first {
				first, last = 0, 0
			}
			next = min
		case op < 20: // restart
			l.Close()
			l = openTestLog(t, dir, last)
			l.maxSize = 1 << 10
			// Compacted entries of a kept segment may come back.
			if f, _ := l.FirstIndex(); first != 0 && f < first {
				first = f
			}
		}
		if first == 0 {
			if la, _ := l.LastIndex(); la != 0 {
				// An emptied log keeps no entries.
				t.Fatalf("step %d: log holds up to %d, want none", step, la)
			}
			continue
		}
		checkLog(t, l, first, last)
	}
}

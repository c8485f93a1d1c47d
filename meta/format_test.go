package meta

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFormatJournalToken formats an embedded journal folder in steps: a
// token formats once, another token formats again, no token formats and
// leaves none behind.
func TestFormatJournalToken(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{JournalDir: dir}
	db := filepath.Join(dir, raftDBName)
	for i, step := range []struct {
		token     string
		formatted bool
		err       error
	}{
		{token: "rel-revision-2", formatted: true},
		{token: "rel-revision-2", formatted: false},
		{token: "rel-revision-3", formatted: true},
		{token: "", formatted: true},
		{token: "", formatted: true},
		{token: "two words", err: syscall.EINVAL},
	} {
		if err := os.WriteFile(db, []byte("state"), 0o600); err != nil {
			t.Fatal(err)
		}
		formatted, err := FormatJournalFor(context.Background(), cfg, step.token)
		if !errors.Is(err, step.err) || (err != nil) != (step.err != nil) {
			t.Fatalf("step %d, token %q: error %v, want %v", i, step.token, err, step.err)
		}
		_, statErr := os.Stat(db)
		if formatted != step.formatted || errors.Is(statErr, os.ErrNotExist) != step.formatted {
			t.Errorf("step %d, token %q: formatted %v (raft.db gone: %v), want %v", i, step.token, formatted, statErr != nil, step.formatted)
		}
		if err != nil {
			continue
		}
		if got, _ := readFormatToken(dir); got != step.token {
			t.Errorf("step %d: the journal carries token %q, want %q", i, got, step.token)
		}
	}
}

// TestUFSJournalFormat formats a UFS journal folder for a token while a
// leader and a standby run on it: the leader takes no more writes and
// both stop, naming both formats; formatting again for the token is a
// no-op except for a host whose metastore is older than the format; a
// master restarted on its old metastore rebuilds it from the folder and
// ends with the new (empty) namespace.
func TestUFSJournalFormat(t *testing.T) {
	g := newUFSGroup(t)
	g.start(0, "")
	g.start(1, "")
	l := g.leader(-1)
	s := 1 - l
	e := &testEnv{m: g.masters[l]}
	e.mkdir(t, "/old")
	g.waitSame(s, l)
	stopped := map[int]chan error{}
	for _, i := range []int{l, s} {
		ch := make(chan error, 1)
		fn := func(err error) { ch <- err }
		g.masters[i].jr.(*ufsJournal).fatal.Store(&fn)
		stopped[i] = ch
	}

	// Another host formats the folder.
	ctx := context.Background()
	if formatted, err := FormatJournalFor(ctx, g.config(2, ""), "rel-revision-2"); err != nil || !formatted {
		t.Fatalf("format: %v, %v", formatted, err)
	}
	if _, err := g.masters[l].CreateDirectory(ctx, "/during", MkdirOptions{Mode: 0o755}); err == nil {
		t.Fatal("the leader of the erased journal took a write")
	}
	for _, i := range []int{l, s} {
		select {
		case err := <-stopped[i]:
			if !errors.Is(err, errFormatChanged) || !strings.Contains(err.Error(), `formatted with token "rel-revision-2"`) ||
				!strings.Contains(err.Error(), `built from token ""`) {
				t.Errorf("master %d stopped with %v", i, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("master %d did not stop within 30s after the format; log:\n%s", i, g.logs[i])
		}
	}
	g.stop(l)
	g.stop(s)

	// A write of the old leader that landed after the format, in an
	// epoch of the erased journal: no master of the new one applies it.
	data, err := encodeCommand(&createDirectoryCmd{Path: "/stale", Mode: 0o755, Now: 1, Loaded: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.journal, segmentName(1, 1, 1)), encodeSegment([][]byte{data}), 0o600); err != nil {
		t.Fatal(err)
	}
	// Formatting again for the token erases nothing; a host whose
	// metastore predates the format loses it.
	logsDir := filepath.Join(g.journal, ujLogs)
	before, _ := os.ReadDir(logsDir)
	standbyDB := filepath.Join(g.root, fmt.Sprint("ms-", s), metastoreName)
	if formatted, err := FormatJournalFor(ctx, g.config(s, ""), "rel-revision-2"); err != nil || formatted {
		t.Fatalf("second format for the same token: %v, %v", formatted, err)
	}
	if _, err := os.Stat(standbyDB); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the standby's metastore of the erased journal is still there: %v", err)
	}
	after, _ := os.ReadDir(logsDir)
	if !slices.EqualFunc(before, after, func(a, b os.DirEntry) bool { return a.Name() == b.Name() }) {
		t.Errorf("a second format for the same token changed the log files: %v -> %v", before, after)
	}

	// The old leader restarts on its metastore of the erased journal.
	g.start(l, "")
	g.leader(-1)
	dump := dumpNamespace(t, g.masters[l])
	if strings.Contains(dump, "/old") || strings.Contains(dump, "/during") || strings.Contains(dump, "/stale") {
		t.Fatalf("namespace after the format:\n%s", dump)
	}
	if !strings.Contains(g.logs[l].String(), "rebuilding the metastore from the folder") {
		t.Errorf("the restarted master did not say it rebuilt its metastore:\n%s", g.logs[l])
	}
	e = &testEnv{m: g.masters[l]}
	e.mkdir(t, "/new")
	built, err := readMetastoreFormat(g.masters[l].fsm.path)
	if err != nil || built.Token != "rel-revision-2" {
		t.Errorf("the metastore records format %v, %v", built, err)
	}
	g.start(s, "")
	g.waitSame(s, l)
}

package meta

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.etcd.io/bbolt"

	"github.com/alluxio-go/alluxio/internal/atomicfile"
)

// storeOpenTimeout bounds the wait for the metastore's file lock.
const storeOpenTimeout = time.Second

// fsm is the Raft state machine: the namespace and mount table in the
// metastore. Because the state is persistent, entries already applied
// before a restart are recognised by the stored lastApplied index and
// skipped when Raft replays its log.
type fsm struct {
	path string
	log  *slog.Logger
	// onRestore is called after a snapshot replaced the state, so that
	// caches derived from it can be dropped.
	onRestore func()

	// maxRequests bounds the table of recorded request results
	// (maxRecordedRequests; smaller in tests).
	maxRequests uint64

	// stMu guards st against the file swap in Restore: readers and Apply
	// hold it shared, Restore exclusively.
	stMu sync.RWMutex
	st   *store

	// batches and entries count ApplyBatch calls (one metastore
	// transaction each) and the entries they applied.
	batches, entries atomic.Uint64

	// changes counts the commands that changed the namespace; epoch is
	// random, drawn again when a snapshot replaces the state (see
	// Master.NamespaceVersion).
	changes, epoch atomic.Uint64

	// removeDir, when set, is a private directory of a HEAP metastore,
	// removed on close.
	removeDir string
}

// applyResult is what Apply hands back to the caller of raft.Apply.
type applyResult struct {
	value any
	err   error
}

// openFSM opens the metastore at path.
func openFSM(path string, log *slog.Logger) (*fsm, error) {
	if _, err := setAsideTorn(path, log); err != nil {
		return nil, err
	}
	st, err := openStoreWith(path, storeOpenTimeout, true)
	if err != nil {
		return nil, err
	}
	if err := writeMetastoreState(path, "open "+bootID()); err != nil {
		st.close()
		return nil, err
	}
	f := &fsm{path: path, log: log, st: st, maxRequests: maxRecordedRequests}
	f.epoch.Store(rand.Uint64())
	return f, nil
}

// close closes the metastore.
func (f *fsm) close() error {
	f.stMu.Lock()
	defer f.stMu.Unlock()
	err := f.st.db.Sync()
	if cerr := f.st.close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = writeMetastoreState(f.path, "clean")
	}
	if f.removeDir != "" {
		os.RemoveAll(f.removeDir)
	}
	return err
}

// view runs fn in a read transaction of the current metastore.
func (f *fsm) view(fn func(t *txn) error) error {
	f.stMu.RLock()
	defer f.stMu.RUnlock()
	return f.st.view(fn)
}

// lastApplied returns the index of the last applied Raft entry.
func (f *fsm) lastApplied() uint64 {
	var i uint64
	_ = f.view(func(t *txn) error { i = t.lastApplied(); return nil })
	return i
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: the whole batch is applied in one
// metastore transaction, together with the new lastApplied index.
//
// A command that fails validation yields its error as result and changes
// nothing. A storage failure cannot be reported per command (Raft already
// considers the entries committed), so it stops the process: on restart
// Raft replays the entries after the stored lastApplied.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	changed := uint64(0)
	f.batches.Add(1)
	f.entries.Add(uint64(len(logs)))
	f.stMu.RLock()
	defer f.stMu.RUnlock()
	err := f.st.update(func(t *txn) error {
		last := t.lastApplied()
		applied := last
		for i, l := range logs {
			if l.Index <= last {
				out[i] = &applyResult{}
				continue
			}
			applied = l.Index
			if l.Type != raft.LogCommand {
				continue
			}
			v, fresh, err := f.applyEntry(t, l.Data)
			if t.err != nil {
				return fmt.Errorf("raft entry %d: %w", l.Index, t.err)
			}
			if u := (*unknownCommandError)(nil); errors.As(err, &u) {
				// Skipping it would part this master's namespace
				// from the group's without a word.
				f.log.Error("a journal entry is of a kind this master does not know: it was written by a newer "+
					"master; stopping rather than skip it: upgrade this master", "file", f.path, "entry", l.Index,
					"type", u.typ, "level", CommandLevel)
				panic(fmt.Sprintf("meta: raft entry %d: %v: upgrade this master", l.Index, err))
			}
			out[i] = &applyResult{value: v, err: err}
			if err == nil && fresh && changesNamespace(innerType(l.Data)) {
				changed++
			}
		}
		if applied > last {
			t.setLastApplied(applied)
		}
		return t.err
	})
	if err != nil {
		f.log.Error("metastore write failed; stopping", "file", f.path, "err", err)
		panic(fmt.Sprintf("meta: metastore %s: applying raft entries failed: %v", f.path, err))
	}
	// Counted once the transaction is visible to readers, so that a
	// reader that sees the old count never misses a change it reports.
	f.changes.Add(changed)
	return out
}

// changesNamespace says whether an applied command of type typ may change
// what a FUSE daemon's metadata cache holds (names, attributes, whether
// there are extended attributes), and so counts in NamespaceVersion. These
// do not, and counting them would empty every such cache for nothing: a
// master's address; the end of a deferred delete (ufsDeletedCmd: the file
// left the namespace when it was unlinked), after each batch of deletes;
// and a file reaching its under-store (markPersistedCmd,
// persistVersionCmd), after each file an ASYNC_THROUGH writer closed.
func changesNamespace(typ commandType) bool {
	switch typ {
	case cmdSetMasterAddr, cmdUfsDeleted, cmdMarkPersisted, cmdPersistVersion:
		return false
	}
	return true
}

// innerType is the type of the command in data, a Raft entry's data,
// inside its request envelope if it has one.
func innerType(data []byte) commandType {
	if len(data) == 0 {
		return 0
	}
	if commandType(data[0]) == cmdRequest {
		if _, cmd, err := decodeRequest(data); err == nil {
			return commandType(cmd[0])
		}
	}
	return commandType(data[0])
}

// applyEntry applies one command, unwrapping a request envelope: a
// request whose id is recorded already is answered with the recorded
// result and not applied again (fresh false); otherwise its result is
// recorded.
func (f *fsm) applyEntry(t *txn, data []byte) (v any, fresh bool, err error) {
	if len(data) == 0 || commandType(data[0]) != cmdRequest {
		v, err = applyCommand(t, data)
		return v, true, err
	}
	id, cmd, err := decodeRequest(data)
	if err != nil {
		return nil, false, err
	}
	if r, ok := t.recordedRequest(id); ok {
		v, err = r.result()
		return v, false, err
	}
	if t.err != nil {
		return nil, false, t.err
	}
	v, err = applyCommand(t, cmd)
	if t.err != nil {
		return nil, false, t.err
	}
	t.recordRequest(id, recordOf(v, err), f.maxRequests)
	return v, true, err
}

// Snapshot implements raft.FSM with a bbolt read transaction: it is a
// consistent view that Apply can keep writing past while Persist streams it.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.stMu.RLock()
	defer f.stMu.RUnlock()
	tx, err := f.st.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("meta: snapshot of %s: %w", f.path, err)
	}
	return &fsmSnapshot{tx: tx}, nil
}

// fsmSnapshot streams one read transaction of the metastore.
type fsmSnapshot struct {
	tx *bbolt.Tx
}

// Persist writes the metastore file as of the snapshot to the sink.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.tx.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("meta: persist snapshot %s: %w", sink.ID(), err)
	}
	return sink.Close()
}

// Release ends the read transaction.
func (s *fsmSnapshot) Release() { _ = s.tx.Rollback() }

// Restore implements raft.FSM: the stream (a metastore file) is written to
// a temporary file next to the live one, synced, checked, and swapped in.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp, err := f.receive(rc)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // no-op once renamed

	if err := f.swap(tmp); err != nil {
		return err
	}
	// The state jumped: no count a client saw before describes it. The
	// new epoch is set after the swap, so a read labelled with it sees
	// the new state.
	f.epoch.Store(rand.Uint64())
	if f.onRestore != nil {
		f.onRestore()
	}
	f.log.Info("metastore restored from snapshot", "file", f.path, "lastApplied", f.lastApplied())
	return nil
}

// swap replaces the live metastore file with the file at tmp.
func (f *fsm) swap(tmp string) error {
	f.stMu.Lock()
	defer f.stMu.Unlock()
	if err := f.st.close(); err != nil {
		return fmt.Errorf("meta: restore: close %s: %w", f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		// Keep serving the old state rather than none.
		st, rerr := openStoreWith(f.path, storeOpenTimeout, true)
		if rerr == nil {
			f.st = st
		}
		return fmt.Errorf("meta: restore: replace %s: %w", f.path, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(f.path)); err != nil {
		f.log.Warn("fsync of journal directory failed", "dir", filepath.Dir(f.path), "err", err)
	}
	st, err := openStoreWith(f.path, storeOpenTimeout, true)
	if err != nil {
		return fmt.Errorf("meta: restore: reopen: %w", err)
	}
	f.st = st
	return nil
}

// receive copies a snapshot stream into a synced temporary file next to
// the metastore and checks that it opens as one.
func (f *fsm) receive(r io.Reader) (string, error) {
	out, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".restore-*")
	if err != nil {
		return "", fmt.Errorf("meta: restore: %w", err)
	}
	name := out.Name()
	_, err = io.Copy(out, r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		var st *store
		if st, err = openStore(name, storeOpenTimeout); err == nil {
			err = st.close()
		}
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("meta: restore: receive snapshot into %s: %w", name, err)
	}
	return name, nil
}

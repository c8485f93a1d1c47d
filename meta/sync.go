package meta

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/ufs"
	"golang.org/x/sync/singleflight"
)

// maxSyncTimes bounds the in-memory table of last sync times; past it,
// entries older than the interval are dropped.
const maxSyncTimes = 1 << 20

// syncer decides when under-store metadata must be fetched again. The
// last sync times live in memory on the leader only: losing them (restart,
// new leader) costs one extra sync per path, never a wrong answer.
type syncer struct {
	interval time.Duration // < 0 never again, 0 on every call
	group    singleflight.Group

	lastMu sync.Mutex // guards last
	last   map[string]time.Time
}

func newSyncer(interval time.Duration) *syncer {
	return &syncer{interval: interval, last: map[string]time.Time{}}
}

// due reports whether p, synced before, must be synced again at now.
func (s *syncer) due(p string, now time.Time) bool {
	switch {
	case s.interval < 0:
		return false
	case s.interval == 0:
		return true
	}
	s.lastMu.Lock()
	t, ok := s.last[p]
	s.lastMu.Unlock()
	return !ok || now.Sub(t) >= s.interval
}

// mark records paths as synced at now.
func (s *syncer) mark(now time.Time, paths ...string) {
	if s.interval <= 0 {
		return
	}
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	if len(s.last)+len(paths) > maxSyncTimes {
		for p, t := range s.last {
			if now.Sub(t) >= s.interval {
				delete(s.last, p)
			}
		}
	}
	for _, p := range paths {
		s.last[p] = now
	}
}

// forget drops the sync times of p and everything below it.
func (s *syncer) forget(p string) {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	for k := range s.last {
		if within(k, p) {
			delete(s.last, k)
		}
	}
}

// reset drops every sync time.
func (s *syncer) reset() {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	clear(s.last)
}

// syncPath brings the namespace up to date for p: a path absent from the
// namespace is looked up in its under-store (load on miss), and a persisted
// file whose sync is due is stat'ed again. It fails only when the
// under-store or Raft does; whether p exists is for the caller's lookup to
// tell.
func (m *Master) syncPath(ctx context.Context, p string) error {
	_, err := m.syncPathThen(ctx, p, nil)
	return err
}

// lookupSynced is syncPath followed by a lookup of p for op: the entry at
// p and the caller's view of it, or an ENOENT / ENOTDIR error. When p
// needs no sync (the common case) the metastore is read once, in the
// transaction that found so, instead of once to decide and once more to
// answer.
func (m *Master) lookupSynced(ctx context.Context, op, p string) (*inode, FileInfo, error) {
	var (
		n    *inode
		fi   FileInfo
		lerr error
	)
	read := func(t *txn, w walkResult, mt mountTable) {
		if n, lerr = w.entry(op, p); lerr == nil {
			fi = mt.toInfo(n, p)
		}
	}
	answered, err := m.syncPathThen(ctx, p, read)
	if err != nil {
		return nil, FileInfo{}, err
	}
	if !answered {
		err = m.fsm.view(func(t *txn) error {
			w := t.walk(p)
			if t.err == nil {
				read(t, w, t.mountTable())
			}
			return nil
		})
		if err != nil {
			return nil, FileInfo{}, err
		}
	}
	return n, fi, lerr
}

// syncPathThen is syncPath. When p needs no sync, answer (if not nil) is
// called within the read transaction that found so, with the walk to p
// and the mount table, and answered is true; when a sync changed or may
// have changed the namespace, answer is not called.
func (m *Master) syncPathThen(ctx context.Context, p string, answer func(t *txn, w walkResult, mt mountTable)) (answered bool, err error) {
	now := time.Now()
	var (
		w      walkResult
		mt     mountTable
		action syncAction
	)
	err = m.fsm.view(func(t *txn) error {
		w, mt = t.walk(p), t.mountTable()
		if t.err != nil {
			return nil // the view reports it
		}
		_, _, ok := mt.resolve(p)
		action = m.syncActionFor(p, ok, w, now)
		if action == syncNone && answer != nil {
			answer(t, w, mt)
			answered = true
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	switch action {
	case syncRestat:
		_, err := m.syncOnce(ctx, "restat\x00"+p, func() (any, error) {
			return nil, m.restat(ctx, p, now)
		})
		return false, err
	case syncLoad:
		v, err := m.syncOnce(ctx, "load\x00"+p, func() (any, error) {
			return m.loadMissing(ctx, p, now)
		})
		if err != nil {
			return false, err
		}
		if found, _ := v.(bool); !found && len(w.missing) > 1 {
			// p is not in the under-store, but its parent may be: load it
			// so that creating p there works.
			dir, _ := splitParent(p)
			return false, m.syncPath(ctx, dir)
		}
	}
	return answered, nil
}

// syncAction is what syncPath must do for a path.
type syncAction int

const (
	syncNone   syncAction = iota // the namespace's answer stands
	syncRestat                   // stat a persisted file again
	syncLoad                     // look a missing path up in its under-store
)

// syncActionFor decides syncPath's action for p at now, from the walk to
// p; mounted is false when there is no root mount yet.
func (m *Master) syncActionFor(p string, mounted bool, w walkResult, now time.Time) syncAction {
	if !mounted {
		return syncNone // nothing to load from
	}
	if n := w.node; n != nil {
		if !n.isFile() || !n.Persisted || !n.Completed || !m.sync.due(p, now) {
			return syncNone
		}
		return syncRestat
	}
	if !w.last.IsDir || (w.last.Loaded && !m.sync.due(w.lastPath, now)) {
		return syncNone // ENOTDIR, or a listed directory that does not hold it
	}
	return syncLoad
}

// syncOnce runs fn once for the concurrent callers of key, unless ctx
// holds path locks: the call in flight may be waiting for them, so the
// request holding them runs fn itself.
func (m *Master) syncOnce(ctx context.Context, key string, fn func() (any, error)) (any, error) {
	if _, ok := ctx.Value(lockCtxKey{}).(heldLocks); ok {
		return fn()
	}
	v, err, _ := m.sync.group.Do(key, fn)
	return v, err
}

// restat compares a persisted file with the under-store and applies a
// SyncFile command when it vanished or changed. A failing under-store is
// logged and the namespace's answer served. The file and its mount are
// read once p is locked: an unmount or mount over p's mount before that
// would have the caller's reading stat another store.
func (m *Master) restat(ctx context.Context, p string, now time.Time) error {
	ctx, unlock, err := m.locks.lock(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	var (
		n       *inode
		mi      MountInfo
		rel     string
		mounted bool
	)
	if err := m.fsm.view(func(t *txn) error {
		n = t.walk(p).node
		mi, rel, mounted = t.mountTable().resolve(p)
		return nil
	}); err != nil {
		return err
	}
	if n == nil || !n.isFile() || !n.Persisted || !n.Completed || !mounted {
		return nil // changed meanwhile, by a request that had p locked
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		m.log.Warn("metadata sync skipped", "path", p, "err", err)
		return nil
	}
	cmd := &syncFileCmd{Path: p}
	fi, err := u.Stat(ctx, rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		cmd.Gone = true
	case err != nil:
		m.log.Warn("metadata sync skipped", "path", p, "ufs", ufs.Redact(mi.UfsURI),
			"err", scrubError(err, mi.UfsURI, mi.Options))
		return nil
	default:
		target, ok := m.readlink(ctx, u, rel, fi)
		if !ok {
			return nil
		}
		cmd.Entry = entryFromUFS(n.Name, fi, target)
		if n.sameKind(cmd.Entry) && n.UfsFingerprint == cmd.Entry.Fingerprint {
			m.sync.mark(now, p)
			return nil
		}
	}
	if _, err := m.propose(ctx, cmd); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.sync.mark(now, p)
	return nil
}

// loadMissing stats p in the under-store and, when it exists there, adds
// it with its missing ancestors. It reports whether p was found. The walk
// to p and its mount are made once p is locked, as in restat.
func (m *Master) loadMissing(ctx context.Context, p string, now time.Time) (bool, error) {
	ctx, unlock, err := m.locks.lock(ctx, p)
	if err != nil {
		return false, err
	}
	defer unlock()
	var (
		w       walkResult
		mi      MountInfo
		rel     string
		mounted bool
	)
	if err := m.fsm.view(func(t *txn) error {
		w = t.walk(p)
		mi, rel, mounted = t.mountTable().resolve(p)
		return nil
	}); err != nil {
		return false, err
	}
	if w.node != nil {
		return true, nil // made meanwhile, by a request that had p locked
	}
	if len(w.missing) == 0 || !w.last.IsDir || !mounted {
		return false, nil
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return false, err
	}
	var deferred bool
	if err := m.fsm.view(func(t *txn) error { deferred = t.deferred(mi.ID, rel); return nil }); err != nil || deferred {
		return false, err // unlinked, still to leave the store
	}
	fi, err := u.Stat(ctx, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load %s from %s: %w", p, ufs.Redact(mi.UfsURI), scrubError(err, mi.UfsURI, mi.Options))
	}
	target, ok := m.readlink(ctx, u, rel, fi)
	if !ok {
		return false, nil
	}
	// The missing ancestors lie in the same mount: every mount point is
	// in the namespace, so the deepest existing entry is at or below it.
	var entries []ufsEntry
	anc := w.lastPath
	for _, name := range w.missing[:len(w.missing)-1] {
		anc = joinPath(anc, name)
		arel := relativeTo(mi, anc)
		e := ufsEntry{Name: anc, IsDir: true, Mode: defaultDirMode, Mtime: fi.ModTime.UnixNano()}
		if afi, err := u.Stat(ctx, arel); err == nil && afi.IsDir() {
			e = entryFromUFS(anc, afi, "")
		}
		entries = append(entries, e)
	}
	entries = append(entries, entryFromUFS(p, fi, target))
	if _, err := m.propose(ctx, &addUFSEntriesCmd{Entries: entries}); err != nil {
		return false, err
	}
	m.sync.mark(now, p)
	return true, nil
}

// relativeTo returns the ufs-relative path of p, which lies in mount mi.
func relativeTo(mi MountInfo, p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, mi.AlluxioPath), "/")
}

// readlink returns the target of a symbolic link entry; ok is false for a
// link the store cannot read (it is then left out of the namespace).
func (m *Master) readlink(ctx context.Context, u ufs.UFS, rel string, fi ufs.FileInfo) (target string, ok bool) {
	if fi.Mode&fs.ModeSymlink == 0 {
		return "", true
	}
	sl, isLinker := u.(ufs.Symlinker)
	if !isLinker {
		return "", false
	}
	target, err := sl.Readlink(ctx, rel)
	if err != nil || target == "" {
		m.log.Debug("symbolic link skipped", "ufsPath", rel, "err", err)
		return "", false
	}
	return target, true
}

// syncDir lists directory p from its under-store and applies SyncDir when
// p was never listed (loaded false) or its sync is due.
func (m *Master) syncDir(ctx context.Context, p string, loaded bool) error {
	now := time.Now()
	if loaded && !m.sync.due(p, now) {
		return nil
	}
	_, err := m.syncOnce(ctx, "list\x00"+p, func() (any, error) {
		return nil, m.listUFS(ctx, p, now)
	})
	return err
}

// listUFS does the work of syncDir, with p locked: no request changes
// the directory between its listing and the commands that apply it.
func (m *Master) listUFS(ctx context.Context, p string, now time.Time) error {
	ctx, unlock, err := m.locks.lock(ctx, p)
	if err != nil {
		return err
	}
	defer unlock()
	mi, rel, err := m.Resolve(p)
	if err != nil {
		return err
	}
	u, err := m.ufsFor(mi)
	if err != nil {
		return err
	}
	var (
		entries []ufsEntry
		links   []int
		infos   []ufs.FileInfo
	)
	err = u.List(ctx, rel, func(fi ufs.FileInfo) error {
		if !validName(fi.Name) {
			return nil
		}
		if fi.Mode&fs.ModeSymlink != 0 {
			links = append(links, len(infos))
		}
		infos = append(infos, fi)
		return nil
	})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		infos = nil // gone from the under-store: drop what was persisted
	case err != nil:
		return fmt.Errorf("list %s in %s: %w", p, ufs.Redact(mi.UfsURI), scrubError(err, mi.UfsURI, mi.Options))
	}
	targets := make(map[int]string, len(links))
	for _, i := range links {
		if t, ok := m.readlink(ctx, u, ufs.Join(rel, infos[i].Name), infos[i]); ok {
			targets[i] = t
		}
	}
	synced := []string{p}
	for i, fi := range infos {
		t, isLink := targets[i]
		if fi.Mode&fs.ModeSymlink != 0 && !isLink {
			continue
		}
		entries = append(entries, entryFromUFS(fi.Name, fi, t))
		if !fi.IsDir() {
			synced = append(synced, joinPath(p, fi.Name))
		}
	}
	if err := m.proposeSyncDir(ctx, p, entries); err != nil {
		return err
	}
	m.sync.mark(now, synced...)
	return nil
}

// syncBatchSize bounds the entries of one command that reconciles a
// directory with its under-store: a directory of a million objects is
// reconciled in bounded Raft entries rather than one huge one. A variable
// for tests.
var syncBatchSize = 4096

// proposeSyncDir reconciles directory p with the whole under-store listing
// entries. A listing that fits one batch is one SyncDir command, as
// always. A bigger one is sorted by name and cut into batches, each a
// SyncDirRange command that owns a range of names: it adds, refreshes and
// removes entries in that range only. The ranges together cover every
// name, so every entry is reconciled once, and removals are still decided
// on the complete listing, known before the first batch is proposed. The
// directory is marked listed by the last batch, so a failure half way
// leaves it to be listed again. Batches that would change nothing are not
// proposed.
func (m *Master) proposeSyncDir(ctx context.Context, p string, entries []ufsEntry) error {
	if len(entries) <= syncBatchSize {
		var changes bool
		err := m.fsm.view(func(t *txn) error {
			sp, err := planSyncDir(t, p, entries)
			changes = err != nil || sp.changes() // an error is for apply to report
			return nil
		})
		if err != nil {
			return err
		}
		if changes {
			_, err = m.propose(ctx, &syncDirCmd{Path: p, Entries: entries})
		}
		return err
	}
	slices.SortStableFunc(entries, func(a, b ufsEntry) int { return strings.Compare(a.Name, b.Name) })
	for start := 0; start < len(entries); {
		end := min(start+syncBatchSize, len(entries))
		for end < len(entries) && entries[end].Name == entries[end-1].Name {
			end++ // a name listed twice stays in one batch
		}
		cmd := &syncDirRangeCmd{Path: p, Entries: entries[start:end]}
		if start > 0 {
			cmd.After = entries[start-1].Name
		}
		if end < len(entries) {
			cmd.Through = entries[end-1].Name
		}
		start = end
		var changes bool
		err := m.fsm.view(func(t *txn) error {
			sp, err := planSyncRange(t, p, cmd.Entries, cmd.After, cmd.Through)
			changes = err != nil || sp.rangeChanges(cmd.Through == "")
			return nil
		})
		if err != nil {
			return err
		}
		if !changes {
			continue
		}
		if _, err := m.propose(ctx, cmd); err != nil {
			return err
		}
	}
	return nil
}

// syncDirRangeCmd reconciles the entries of one directory whose names lie
// in (After, Through] with the part of an under-store listing in that
// range, as syncDirCmd does for the whole directory. After "" starts at
// the first name, Through "" ends at the last; the command whose range
// reaches the last name marks the directory listed.
type syncDirRangeCmd struct {
	Path    string     `json:"path"`
	After   string     `json:"after,omitempty"`
	Through string     `json:"through,omitempty"`
	Entries []ufsEntry `json:"entries"` // Name is the base name
}

func (*syncDirRangeCmd) commandType() commandType { return cmdSyncDirRange }

func (c *syncDirRangeCmd) apply(t *txn) (any, error) {
	sp, err := planSyncRange(t, c.Path, c.Entries, c.After, c.Through)
	if err != nil {
		return nil, err
	}
	applySyncPlan(t, sp, c.Through == "")
	return nil, t.err
}

// rangeChanges reports whether applying a plan for a range of names would
// change anything; final is set for the range that reaches the last name,
// which marks the directory listed.
func (sp *syncPlan) rangeChanges(final bool) bool {
	return (final && !sp.dir.Loaded) || len(sp.drop)+len(sp.replace)+len(sp.refresh)+len(sp.add) > 0
}

// applySyncPlan writes a reconciliation; final marks the directory as
// listed from its under-store.
func applySyncPlan(t *txn, sp *syncPlan, final bool) {
	dir := sp.dir
	for _, n := range sp.drop {
		t.removeTree(dir, n)
	}
	for _, r := range sp.replace {
		t.removeTree(dir, r.old)
		t.linkNew(dir, newInodeFromEntry(t.allocInodeID(), dir.ID, r.old.Name, r.entry))
	}
	for _, n := range sp.refresh {
		t.putInode(n)
	}
	for _, e := range sp.add {
		t.linkNew(dir, newInodeFromEntry(t.allocInodeID(), dir.ID, e.Name, e))
	}
	if final {
		dir.Loaded = true
	}
	t.putInode(dir)
}

// planSyncRange computes the reconciliation of the entries of directory p
// whose names lie in (after, through] ("" for no bound) with the listing
// entries, without writing. Listed names outside the range are ignored.
func planSyncRange(t *txn, p string, entries []ufsEntry, after, through string) (*syncPlan, error) {
	dir, err := t.lookup("sync", p)
	if err != nil {
		return nil, err
	}
	if !dir.IsDir {
		return nil, &fs.PathError{Op: "sync", Path: p, Err: syscall.ENOTDIR}
	}
	inRange := func(name string) bool { return name > after && (through == "" || name <= through) }
	deferred := deferredIn(t, p)
	sp := &syncPlan{dir: dir}
	mt := t.mountTable()
	listed := make(map[string]int, len(entries))
	for i, e := range entries {
		if validName(e.Name) && inRange(e.Name) {
			listed[e.Name] = i
		}
	}
	type child struct {
		name string
		id   uint64
	}
	var kids []child
	t.childrenAfter(dir.ID, after, func(name string, id uint64) bool {
		if through != "" && name > through {
			return false
		}
		kids = append(kids, child{name, id})
		return true
	})
	for _, k := range kids {
		cp := joinPath(p, k.name)
		n, ok := t.inode(k.id)
		if !ok {
			continue
		}
		i, inUFS := listed[k.name]
		delete(listed, k.name) // handled here, whatever the outcome
		if _, isMount := mt.mountAt(cp); isMount || !n.Persisted || !n.Completed {
			continue // shadows the under-store's entry, or not ours to drop
		}
		switch {
		case !inUFS:
			if removable(t, mt, n, cp) {
				sp.drop = append(sp.drop, n)
			}
		case !n.sameKind(entries[i]):
			if removable(t, mt, n, cp) && !deferred(entries[i]) {
				sp.replace = append(sp.replace, replacement{old: n, entry: entries[i]})
			}
		case refresh(n, entries[i]):
			sp.refresh = append(sp.refresh, n)
		}
	}
	for _, e := range entries {
		if _, todo := listed[e.Name]; todo {
			delete(listed, e.Name) // a name listed twice is added once
			if !deferred(e) {
				sp.add = append(sp.add, e)
			}
		}
	}
	return sp, t.err
}

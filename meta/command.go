package meta

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"syscall"
)

// commandType tags an encoded command. The values are stored in Raft logs
// and snapshots: never renumber them, only add.
type commandType uint8

// The closed set of commands.
const (
	cmdCreateFile commandType = iota + 1
	cmdCompleteFile
	cmdCreateDirectory
	cmdDelete
	cmdRename
	cmdSetAttr
	cmdCreateSymlink
	cmdMount
	cmdUnmount
	cmdSyncDir
	cmdAddUFSEntries
	cmdMarkPersisted
	cmdSyncFile
	// cmdRequest is not in applyTable: it wraps another command with the
	// client's request id (see encodeRequest) and is unwrapped by the FSM.
	cmdRequest
	cmdSetMasterAddr
	cmdNewVersion
	cmdSetAttrBatch
	cmdClearTTL
	cmdSetXattr
	cmdSyncDirRange
	cmdExchange
	cmdRestoreVersion
	cmdUfsDeleted
	cmdPersistVersion
)

// command is a typed record that changes the state. Every field that must
// be the same on every replica (timestamps, owners, sizes, fingerprints) is
// chosen by the leader and carried in the record; ids are allocated during
// apply from the replicated counters.
type command interface {
	commandType() commandType
}

// applyFunc decodes a command and applies it in a write transaction. It
// returns the caller's result (a FileInfo, a MountInfo or nil) or a
// validation error wrapping a syscall.Errno; on a validation error nothing
// was changed.
type applyFunc func(t *txn, data []byte) (any, error)

// applyTable maps each command type to its apply function.
var applyTable = map[commandType]applyFunc{
	cmdCreateFile:      decodeApply((*createFileCmd).apply),
	cmdCompleteFile:    decodeApply((*completeFileCmd).apply),
	cmdCreateDirectory: decodeApply((*createDirectoryCmd).apply),
	cmdDelete:          decodeApply((*deleteCmd).apply),
	cmdRename:          decodeApply((*renameCmd).apply),
	cmdSetAttr:         decodeApply((*setAttrCmd).apply),
	cmdCreateSymlink:   decodeApply((*createSymlinkCmd).apply),
	cmdMount:           decodeApply((*mountCmd).apply),
	cmdUnmount:         decodeApply((*unmountCmd).apply),
	cmdSyncDir:         decodeApply((*syncDirCmd).apply),
	cmdAddUFSEntries:   decodeApply((*addUFSEntriesCmd).apply),
	cmdMarkPersisted:   decodeApply((*markPersistedCmd).apply),
	cmdPersistVersion:  decodeApply((*persistVersionCmd).apply),
	cmdSyncFile:        decodeApply((*syncFileCmd).apply),
	cmdNewVersion:      decodeApply((*newVersionCmd).apply),
	cmdSetMasterAddr:   decodeApply((*setMasterAddrCmd).apply),
	cmdSetAttrBatch:    decodeApply((*setAttrBatchCmd).apply),
	cmdClearTTL:        decodeApply((*clearTTLCmd).apply),
	cmdSetXattr:        decodeApply((*setXattrCmd).apply),
	cmdSyncDirRange:    decodeApply((*syncDirRangeCmd).apply),
	cmdExchange:        decodeApply((*exchangeCmd).apply),
	cmdRestoreVersion:  decodeApply((*restoreVersionCmd).apply),
	cmdUfsDeleted:      decodeApply((*ufsDeletedCmd).apply),
}

// decodeApply turns a typed apply method into an applyFunc.
func decodeApply[C any](fn func(*C, *txn) (any, error)) applyFunc {
	return func(t *txn, data []byte) (any, error) {
		c := new(C)
		if err := json.Unmarshal(data, c); err != nil {
			return nil, fmt.Errorf("meta: decode %T: %v: %w", c, err, syscall.EINVAL)
		}
		return fn(c, t)
	}
}

// encodeCommand encodes a command as one type byte followed by JSON.
func encodeCommand(c command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("meta: encode %T: %w", c, err)
	}
	return append([]byte{byte(c.commandType())}, b...), nil
}

// applyCommand applies one encoded command.
func applyCommand(t *txn, buf []byte) (any, error) {
	if len(buf) == 0 {
		return nil, fmt.Errorf("meta: empty command: %w", syscall.EINVAL)
	}
	f, ok := applyTable[commandType(buf[0])]
	if !ok {
		return nil, &unknownCommandError{typ: buf[0]}
	}
	return f(t, buf[1:])
}

// unknownCommandError is a journal command of a type this master does not
// know: written by a newer master, which it must not skip (fsm.ApplyBatch
// stops instead).
type unknownCommandError struct{ typ byte }

func (e *unknownCommandError) Error() string {
	return fmt.Sprintf("meta: unknown command type %d (journal command level %d here)", e.typ, CommandLevel)
}

func (e *unknownCommandError) Unwrap() error { return syscall.EINVAL }

// touch records a change of a directory's entries.
func touch(dir *inode, now int64) { dir.Mtime, dir.Ctime = now, now }

// infoOf returns the caller's view of n at p, computed in t.
func infoOf(t *txn, n *inode, p string) (any, error) {
	if t.err != nil {
		return nil, t.err
	}
	return t.mountTable().toInfo(n, p), nil
}

// createFileCmd makes an incomplete file, replacing an existing one when
// Overwrite allows it.
type createFileCmd struct {
	Path      string `json:"path"`
	Mode      uint32 `json:"mode"`
	UID       uint32 `json:"uid"`
	GID       uint32 `json:"gid"`
	Now       int64  `json:"now"`
	Overwrite bool   `json:"overwrite,omitempty"`
	Exclusive bool   `json:"exclusive,omitempty"`
	// UfsKept says an overwritten file's old bytes stay in the
	// under-store until the new ones replace them (so it stays persisted:
	// removing it must remove them).
	UfsKept bool `json:"ufsKept,omitempty"`
	// Complete makes a new file complete and empty at once, persisted
	// with UfsFingerprint (CreateOptions.Complete); an existing file
	// overwritten is not affected.
	Complete       bool   `json:"complete,omitempty"`
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
}

func (*createFileCmd) commandType() commandType { return cmdCreateFile }

func (c *createFileCmd) apply(t *txn) (any, error) {
	parent, existing, err := checkCreateFile(t, c.Path, c.Overwrite, c.Exclusive)
	if err != nil {
		return nil, err
	}
	if existing != nil && existing.isFile() {
		// Overwriting a file keeps its inode, as O_TRUNC does: the
		// kernel and the handles open on it keep seeing the same file.
		// The pin, the TTL and the creation time stay with it.
		n := existing
		n.Size, n.Completed, n.UfsFingerprint, n.Location = 0, false, "", ""
		n.Persisted = n.Persisted && c.UfsKept
		n.Mtime, n.Ctime = c.Now, c.Now
		n.Fingerprint = writtenFingerprint(n.ID, c.Now)
		t.putInode(n)
		touch(parent, c.Now)
		t.putInode(parent)
		return infoOf(t, n, c.Path)
	}
	if existing != nil {
		t.removeTree(parent, existing)
	}
	_, name := splitParent(c.Path)
	n := &inode{
		ID: t.allocInodeID(), Name: name, Mode: c.Mode & 0o7777, UID: c.UID, GID: c.GID,
		Mtime: c.Now, Atime: c.Now, Ctime: c.Now, CreationTime: c.Now,
	}
	// The version's identity is fixed at creation, so the worker can cache
	// pages under it while the file is being written.
	n.Fingerprint = writtenFingerprint(n.ID, c.Now)
	if c.Complete {
		n.Completed, n.Persisted, n.UfsFingerprint = true, true, c.UfsFingerprint
	}
	touch(parent, c.Now)
	t.linkNew(parent, n)
	return infoOf(t, n, c.Path)
}

// completeFileCmd records the end of a write: size, persistence, the new
// content fingerprint, and for an unpersisted file the worker holding it.
type completeFileCmd struct {
	ID             uint64 `json:"id"`
	Size           int64  `json:"size"`
	Persisted      bool   `json:"persisted,omitempty"`
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
	Now            int64  `json:"now"`
	// Location is the worker holding the only copy (ignored when
	// Persisted).
	Location string `json:"location,omitempty"`
	// Kept are attributes the writer set while it had the file open: the
	// file gets them, and a kept mtime instead of Now.
	Kept *KeptAttrs `json:"kept,omitempty"`
	// Replaces is the fingerprint of the empty version a file was
	// created complete with (CompleteOptions.Replaces).
	Replaces string `json:"replaces,omitempty"`
}

func (*completeFileCmd) commandType() commandType { return cmdCompleteFile }

func (c *completeFileCmd) apply(t *txn) (any, error) {
	n, p, err := inodeByID(t, "complete", c.ID)
	if err != nil {
		return nil, err
	}
	// The empty version made at creation, still as it was, is its
	// writer's to replace, with bytes in the under-store (where that
	// version's empty copy is).
	replacing := n.Completed && c.Replaces != "" && n.Fingerprint == c.Replaces && n.Size == 0 && c.Persisted
	switch {
	case n.IsDir:
		return nil, &fs.PathError{Op: "complete", Path: p, Err: syscall.EISDIR}
	case n.IsSymlink || c.Size < 0:
		return nil, &fs.PathError{Op: "complete", Path: p, Err: syscall.EINVAL}
	case n.Completed && !replacing:
		// A retry of a completion that was applied: same answer.
		if n.Size == c.Size && n.Persisted == c.Persisted {
			return infoOf(t, n, p)
		}
		return nil, fmt.Errorf("complete %s: already completed: %w", p, syscall.EINVAL)
	}
	n.Size, n.Completed, n.Persisted = c.Size, true, c.Persisted
	n.UfsFingerprint = c.UfsFingerprint
	n.Location = ""
	if !c.Persisted {
		n.Location = c.Location
	}
	n.Mtime, n.Ctime = c.Now, c.Now
	if c.Kept != nil {
		c.Kept.apply(n)
	}
	if n.Fingerprint == "" {
		n.Fingerprint = writtenFingerprint(n.ID, n.Mtime)
	}
	t.putInode(n)
	return infoOf(t, n, p)
}

// inodeByID loads an inode and its path for an operation by id.
func inodeByID(t *txn, op string, id uint64) (*inode, string, error) {
	culprit := fmt.Sprintf("inode %d", id)
	n, ok := t.inode(id)
	if !ok {
		if t.err != nil {
			return nil, "", t.err
		}
		return nil, "", &fs.PathError{Op: op, Path: culprit, Err: syscall.ENOENT}
	}
	p, ok := t.pathOf(n)
	if !ok {
		return nil, "", fmt.Errorf("%s %s: detached from the tree: %w", op, culprit, syscall.EIO)
	}
	return n, p, nil
}

// createDirectoryCmd makes a directory, and its missing parents when
// Recursive.
type createDirectoryCmd struct {
	Path        string `json:"path"`
	Mode        uint32 `json:"mode"`
	UID         uint32 `json:"uid"`
	GID         uint32 `json:"gid"`
	Now         int64  `json:"now"`
	Recursive   bool   `json:"recursive,omitempty"`
	AllowExists bool   `json:"allowExists,omitempty"`
	// Loaded marks the new directories as listed: they were made empty in
	// the under-store, so there is nothing to load.
	Loaded bool `json:"loaded,omitempty"`
}

func (*createDirectoryCmd) commandType() commandType { return cmdCreateDirectory }

func (c *createDirectoryCmd) apply(t *txn) (any, error) {
	w, exists, err := checkMkdir(t, c.Path, c.Recursive, c.AllowExists)
	if err != nil {
		return nil, err
	}
	if exists {
		return infoOf(t, w.node, c.Path)
	}
	cur := w.last
	for i, name := range w.missing {
		mode := c.Mode & 0o7777
		if i < len(w.missing)-1 {
			mode |= 0o300 // as mkdir -p: parents stay usable by their owner
		}
		n := &inode{
			ID: t.allocInodeID(), Name: name, IsDir: true, Mode: mode, UID: c.UID, GID: c.GID,
			Mtime: c.Now, Atime: c.Now, Ctime: c.Now, CreationTime: c.Now,
			Completed: true, Persisted: true, Loaded: c.Loaded,
		}
		touch(cur, c.Now)
		t.linkNew(cur, n)
		cur = n
	}
	return infoOf(t, cur, c.Path)
}

// deleteCmd removes an entry, and everything below it when Recursive.
type deleteCmd struct {
	Path      string `json:"path"`
	Recursive bool   `json:"recursive,omitempty"`
	Now       int64  `json:"now"`
	// Later records the file's removal from its under-store for the
	// leader's batches (deferdelete.go): the leader did not remove it.
	Later bool `json:"later,omitempty"`
}

func (*deleteCmd) commandType() commandType { return cmdDelete }

func (c *deleteCmd) apply(t *txn) (any, error) {
	parent, n, err := checkDelete(t, c.Path, c.Recursive)
	if err != nil {
		return nil, err
	}
	if c.Later && n.isFile() {
		if mi, rel, ok := t.mountTable().resolve(c.Path); ok {
			t.deferDelete(mi.ID, rel)
		}
	}
	touch(parent, c.Now)
	t.removeTree(parent, n)
	return nil, t.err
}

// renameCmd moves an entry with POSIX semantics: a file replaces a file, a
// directory replaces an empty directory.
type renameCmd struct {
	Src string `json:"src"`
	Dst string `json:"dst"`
	Now int64  `json:"now"`
	// NoReplace fails the rename with EEXIST when Dst exists.
	NoReplace bool `json:"noReplace,omitempty"`
}

func (*renameCmd) commandType() commandType { return cmdRename }

func (c *renameCmd) apply(t *txn) (any, error) {
	if c.NoReplace {
		if err := checkNoReplace(t, c.Dst); err != nil {
			return nil, err
		}
	}
	rp, err := checkRename(t, c.Src, c.Dst)
	if err != nil || rp.noop {
		return nil, err
	}
	if rp.existing != nil {
		t.removeTree(rp.dstParent, rp.existing)
	}
	touch(rp.srcParent, c.Now)
	touch(rp.dstParent, c.Now)
	t.unlinkEdge(rp.srcParent, rp.n)
	_, rp.n.Name = splitParent(c.Dst)
	rp.n.Ctime = c.Now
	t.link(rp.dstParent, rp.n)
	return nil, t.err
}

// exchangeCmd swaps the entries at A and B (renameat2's RENAME_EXCHANGE):
// each takes the other's name and directory.
type exchangeCmd struct {
	A   string `json:"a"`
	B   string `json:"b"`
	Now int64  `json:"now"`
}

func (*exchangeCmd) commandType() commandType { return cmdExchange }

func (c *exchangeCmd) apply(t *txn) (any, error) {
	xp, err := checkExchange(t, c.A, c.B)
	if err != nil || xp.noop {
		return nil, err
	}
	touch(xp.aParent, c.Now)
	touch(xp.bParent, c.Now)
	t.unlinkEdge(xp.aParent, xp.a)
	t.unlinkEdge(xp.bParent, xp.b)
	_, aName := splitParent(c.A)
	_, bName := splitParent(c.B)
	xp.a.Name, xp.b.Name = bName, aName
	xp.a.Ctime, xp.b.Ctime = c.Now, c.Now
	t.link(xp.bParent, xp.a)
	t.link(xp.aParent, xp.b)
	return nil, t.err
}

// setAttrCmd changes mode, owner, times, pin and TTL, or truncates a file
// to 0. Recursive gives the pin and TTL to everything below a directory
// too (for a tree of up to maxAttrBatch entries; bigger ones are changed
// with setAttrBatchCmd first and then this command without Recursive).
type setAttrCmd struct {
	nsAttrs
	Recursive bool `json:"recursive,omitempty"`

	Path  string  `json:"path"`
	Mode  *uint32 `json:"mode,omitempty"`
	UID   *uint32 `json:"uid,omitempty"`
	GID   *uint32 `json:"gid,omitempty"`
	Mtime *int64  `json:"mtime,omitempty"`
	Atime *int64  `json:"atime,omitempty"`
	Size  *int64  `json:"size,omitempty"`
	// UfsFingerprint is the under-store fingerprint after the change,
	// when the change touched the under-store's copy.
	UfsFingerprint *string `json:"ufsFingerprint,omitempty"`
	Now            int64   `json:"now"`
}

func (*setAttrCmd) commandType() commandType { return cmdSetAttr }

func (c *setAttrCmd) apply(t *txn) (any, error) {
	n, truncate, err := checkSetAttr(t, c)
	if err != nil {
		return nil, err
	}
	if truncate {
		n.Size, n.Mtime = 0, c.Now
	}
	KeptAttrs{Mode: c.Mode, UID: c.UID, GID: c.GID, Mtime: c.Mtime, Atime: c.Atime}.apply(n)
	if truncate {
		n.Fingerprint = writtenFingerprint(n.ID, n.Mtime)
		n.Location = ""
	}
	if c.UfsFingerprint != nil && n.Persisted {
		n.UfsFingerprint = *c.UfsFingerprint
	}
	c.nsAttrs.apply(t, n, c.Now)
	n.Ctime = c.Now
	t.putInode(n)
	if c.Recursive && n.IsDir && c.nsAttrs.set() {
		c.nsAttrs.applyBelow(t, n.ID, c.Now)
	}
	return infoOf(t, n, c.Path)
}

// createSymlinkCmd makes a symbolic link. Persisted says whether the
// under-store holds it too.
type createSymlinkCmd struct {
	Path      string `json:"path"`
	Target    string `json:"target"`
	UID       uint32 `json:"uid"`
	GID       uint32 `json:"gid"`
	Now       int64  `json:"now"`
	Persisted bool   `json:"persisted,omitempty"`
}

func (*createSymlinkCmd) commandType() commandType { return cmdCreateSymlink }

func (c *createSymlinkCmd) apply(t *txn) (any, error) {
	if c.Target == "" {
		return nil, &fs.PathError{Op: "symlink", Path: c.Path, Err: syscall.ENOENT}
	}
	parent, err := checkCreateNew(t, "symlink", c.Path)
	if err != nil {
		return nil, err
	}
	_, name := splitParent(c.Path)
	n := &inode{
		ID: t.allocInodeID(), Name: name, IsSymlink: true, Symlink: c.Target,
		Mode: symlinkMode, UID: c.UID, GID: c.GID, Size: int64(len(c.Target)),
		Mtime: c.Now, Atime: c.Now, Ctime: c.Now, CreationTime: c.Now,
		Completed: true, Persisted: c.Persisted,
	}
	touch(parent, c.Now)
	t.link(parent, n)
	return infoOf(t, n, c.Path)
}

// mountCmd adds a mount (and its mount point directory), or for "/"
// creates or updates the root mount.
type mountCmd struct {
	Path     string            `json:"path"`
	URI      string            `json:"uri"`
	Options  map[string]string `json:"options,omitempty"`
	ReadOnly bool              `json:"readOnly,omitempty"`
	Shared   bool              `json:"shared,omitempty"`
	// Root describes the under-store's root, for the mount point's
	// attributes.
	Root ufsEntry `json:"root"`
	Now  int64    `json:"now"`
}

func (*mountCmd) commandType() commandType { return cmdMount }

func (c *mountCmd) apply(t *txn) (any, error) {
	if c.Path == "/" {
		return c.applyRoot(t)
	}
	parent, err := checkMount(t, c.Path)
	if err != nil {
		return nil, err
	}
	_, name := splitParent(c.Path)
	n := newInodeFromEntry(t.allocInodeID(), parent.ID, name, c.Root)
	n.IsDir, n.IsSymlink, n.Symlink, n.Size = true, false, "", 0
	touch(parent, c.Now)
	t.linkNew(parent, n)
	m := MountInfo{
		ID: t.allocMountID(), AlluxioPath: c.Path, UfsURI: c.URI, Options: c.Options,
		ReadOnly: c.ReadOnly, Shared: c.Shared,
	}
	t.putMount(m)
	return m, t.err
}

// applyRoot creates the root mount, or updates it when the configured
// under-store changed; a new URI makes every directory of the root mount
// listed again, so that what only the old store held goes and what the
// new one holds comes.
func (c *mountCmd) applyRoot(t *txn) (any, error) {
	root, ok := t.inode(rootID)
	if !ok {
		return nil, fmt.Errorf("mount /: root inode missing: %w", syscall.EIO)
	}
	m, exists := t.mountTable().mountAt("/")
	if !exists {
		m.ID = t.allocMountID()
		root.Mode, root.UID, root.GID = c.Root.Mode, c.Root.UID, c.Root.GID
		root.Mtime, root.Atime, root.Ctime = c.Root.Mtime, c.Root.Mtime, c.Root.Mtime
		root.CreationTime = c.Root.Mtime
	} else if m.UfsURI != c.URI {
		root.Loaded = false
		root.Ctime = c.Now
		t.unloadDirs(root)
	}
	m.AlluxioPath, m.UfsURI, m.Options = "/", c.URI, c.Options
	m.ReadOnly, m.Shared = c.ReadOnly, c.Shared
	t.putInode(root)
	t.putMount(m)
	return m, t.err
}

// unloadDirs marks the directories below dir, down to the mount points of
// other mounts, as not listed from their under-store.
func (t *txn) unloadDirs(dir *inode) {
	mounted := map[uint64]bool{} // inode ids of mount points
	for _, mi := range t.mountTable() {
		if n := t.walk(mi.AlluxioPath).node; n != nil {
			mounted[n.ID] = true
		}
	}
	stack := []*inode{dir}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if d.SubDirs == 0 {
			continue
		}
		t.fail(t.children(d.ID, func(_ string, id uint64) error {
			if n, ok := t.inode(id); ok && n.IsDir && !mounted[id] {
				if n.Loaded {
					n.Loaded = false
					t.putInode(n)
				}
				stack = append(stack, n)
			}
			return t.err
		}))
	}
}

// unmountCmd removes a mount and its subtree from the namespace (not from
// the under-store).
type unmountCmd struct {
	Path string `json:"path"`
	Now  int64  `json:"now"`
}

func (*unmountCmd) commandType() commandType { return cmdUnmount }

func (c *unmountCmd) apply(t *txn) (any, error) {
	m, err := checkUnmount(t, c.Path)
	if err != nil {
		return nil, err
	}
	if hasDeferred(t, m, "") {
		// An unlink recorded after the leader emptied the records: the
		// leader removes it and tries again (Unmount).
		return nil, fmt.Errorf("unmount %s: %w", c.Path, errDeferredLeft)
	}
	n, err := t.lookup("unmount", c.Path)
	if err != nil {
		return nil, err
	}
	parent, err := parentOf(t, "unmount", c.Path, n)
	if err != nil {
		return nil, err
	}
	touch(parent, c.Now)
	t.removeTree(parent, n)
	t.deleteMount(m.ID)
	return m, t.err
}

// syncDirCmd reconciles one directory's children with an under-store
// listing: missing entries are added, persisted entries absent from the
// listing are removed (unpersisted or incomplete files never are), changed
// files get the new size, mtime and fingerprint.
type syncDirCmd struct {
	Path    string     `json:"path"`
	Entries []ufsEntry `json:"entries"` // Name is the base name
}

func (*syncDirCmd) commandType() commandType { return cmdSyncDir }

func (c *syncDirCmd) apply(t *txn) (any, error) {
	sp, err := planSyncDir(t, c.Path, c.Entries)
	if err != nil {
		return nil, err
	}
	applySyncPlan(t, sp, true)
	return nil, t.err
}

// syncPlan is what reconciling a directory with a listing would change.
type syncPlan struct {
	dir     *inode
	drop    []*inode      // persisted entries gone from the under-store
	replace []replacement // entries that changed kind (file, directory, link)
	refresh []*inode      // files and links with new content, already updated
	add     []ufsEntry    // entries new to the namespace
}

// replacement is an entry that changed kind in the under-store.
type replacement struct {
	old   *inode
	entry ufsEntry
}

// changes reports whether applying the plan would change anything.
func (sp *syncPlan) changes() bool {
	return !sp.dir.Loaded || len(sp.drop)+len(sp.replace)+len(sp.refresh)+len(sp.add) > 0
}

// planSyncDir computes the reconciliation of directory p with a listing
// without writing, so that the leader can skip a command that would change
// nothing.
func planSyncDir(t *txn, p string, entries []ufsEntry) (*syncPlan, error) {
	return planSyncRange(t, p, entries, "", "")
}

// refresh updates a persisted entry from its under-store entry of the same
// kind and reports whether anything changed.
func refresh(n *inode, e ufsEntry) bool {
	switch {
	case n.isFile() && n.UfsFingerprint != e.Fingerprint:
		n.Size, n.Mtime, n.Ctime = e.Size, e.Mtime, e.Mtime
		n.UfsFingerprint, n.Fingerprint = e.Fingerprint, e.Fingerprint
		n.Location = ""
		return true
	case n.IsSymlink && e.Symlink != "" && n.Symlink != e.Symlink:
		n.Symlink, n.Size, n.Mtime, n.Ctime = e.Symlink, e.Size, e.Mtime, e.Mtime
		return true
	}
	return false
}

// addUFSEntriesCmd inserts entries an under-store lookup found, parents
// first (the missing ancestors of a looked-up path, then the path). Entries
// already present, or whose parent is gone, are skipped: a concurrent sync
// may have been first.
type addUFSEntriesCmd struct {
	Entries []ufsEntry `json:"entries"` // Name is the absolute path
}

func (*addUFSEntriesCmd) commandType() commandType { return cmdAddUFSEntries }

func (c *addUFSEntriesCmd) apply(t *txn) (any, error) {
	for _, e := range c.Entries {
		if e.Name == "/" {
			continue
		}
		dir, name := splitParent(e.Name)
		if !validName(name) {
			continue
		}
		w := t.walk(dir)
		if w.node == nil || !w.node.IsDir {
			continue
		}
		if _, exists := t.child(w.node.ID, name); exists {
			continue
		}
		if deferredAt(t, e.Name, e) {
			continue // unlinked, still to leave the store
		}
		t.linkNew(w.node, newInodeFromEntry(t.allocInodeID(), w.node.ID, name, e))
	}
	return nil, t.err
}

// syncFileCmd reconciles one entry with an under-store stat: a persisted
// entry that vanished is removed (the result is then ENOENT), a changed
// file is updated.
type syncFileCmd struct {
	Path  string   `json:"path"`
	Gone  bool     `json:"gone,omitempty"`
	Entry ufsEntry `json:"entry"`
}

func (*syncFileCmd) commandType() commandType { return cmdSyncFile }

func (c *syncFileCmd) apply(t *txn) (any, error) {
	n, err := t.lookup("sync", c.Path)
	if err != nil {
		return nil, err
	}
	mt := t.mountTable()
	if _, isMount := mt.mountAt(c.Path); isMount || !n.Persisted || !n.Completed {
		return infoOf(t, n, c.Path)
	}
	if c.Gone || !n.sameKind(c.Entry) {
		if !removable(t, mt, n, c.Path) || (!c.Gone && deferredAt(t, c.Path, c.Entry)) {
			return infoOf(t, n, c.Path)
		}
		parent, err := parentOf(t, "sync", c.Path, n)
		if err != nil {
			return nil, err
		}
		t.removeTree(parent, n)
		if c.Gone {
			if t.err != nil {
				return nil, t.err
			}
			return nil, &fs.PathError{Op: "stat", Path: c.Path, Err: syscall.ENOENT}
		}
		n = newInodeFromEntry(t.allocInodeID(), parent.ID, n.Name, c.Entry)
		t.linkNew(parent, n)
		return infoOf(t, n, c.Path)
	}
	if refresh(n, c.Entry) {
		t.putInode(n)
	}
	return infoOf(t, n, c.Path)
}

// markPersistedCmd records that a completed file's bytes reached the
// under-store (asynchronous persistence); no worker holds the only copy
// any more.
type markPersistedCmd struct {
	ID             uint64 `json:"id"`
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
}

func (*markPersistedCmd) commandType() commandType { return cmdMarkPersisted }

func (c *markPersistedCmd) apply(t *txn) (any, error) {
	return markPersisted(t, c.ID, nil, c.UfsFingerprint)
}

// persistVersionCmd is markPersistedCmd for one version of the file (its
// FileInfo.Fingerprint) uploaded to one place (MountID, UfsPath): a file
// given another version, or moved, since the worker began uploading is
// left as it is.
type persistVersionCmd struct {
	ID uint64 `json:"id"`
	PersistedVersion
	UfsFingerprint string `json:"ufsFingerprint,omitempty"`
}

func (*persistVersionCmd) commandType() commandType { return cmdPersistVersion }

func (c *persistVersionCmd) apply(t *txn) (any, error) {
	return markPersisted(t, c.ID, &c.PersistedVersion, c.UfsFingerprint)
}

// PersistedVersion names what a worker uploaded: a version of a file (its
// FileInfo.Fingerprint), to a place in an under-store.
type PersistedVersion struct {
	Version string `json:"version"`
	MountID uint64 `json:"mountId"`
	UfsPath string `json:"ufsPath"`
}

// check fails with ESTALE unless fi, a file's status, is still the
// version uploaded, at the place it went to.
func (v *PersistedVersion) check(fi FileInfo) error {
	switch {
	case fi.Fingerprint != v.Version:
		return fmt.Errorf("persist %s: version %s was replaced by %s: %w", fi.Path, v.Version, fi.Fingerprint, syscall.ESTALE)
	case fi.MountID != v.MountID || fi.UfsPath != v.UfsPath:
		return fmt.Errorf("persist %s: moved from %s (mount %d) while it was uploaded: %w", fi.Path, v.UfsPath, v.MountID, syscall.ESTALE)
	}
	return nil
}

// markPersisted records that the file with inode id is in its under-store
// with ufsFingerprint; with v, only while the file is that version at that
// place (ESTALE otherwise).
func markPersisted(t *txn, id uint64, v *PersistedVersion, ufsFingerprint string) (any, error) {
	n, p, err := inodeByID(t, "persist", id)
	if err != nil {
		return nil, err
	}
	if !n.isFile() {
		return nil, &fs.PathError{Op: "persist", Path: p, Err: syscall.EINVAL}
	}
	if v != nil {
		if err := v.check(t.mountTable().toInfo(n, p)); err != nil {
			return nil, err
		}
	}
	if !n.Completed {
		return nil, fmt.Errorf("persist %s: not completed yet: %w", p, syscall.EBUSY)
	}
	n.Persisted, n.UfsFingerprint, n.Location = true, ufsFingerprint, ""
	t.putInode(n)
	return infoOf(t, n, p)
}

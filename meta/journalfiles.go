package meta

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
)

// Checks of the journal's files before a master opens them. A damaged
// raft.db, metastore.db or latest snapshot makes the master refuse to
// start with an error naming the file, and the file is left exactly as it
// was: bbolt opened read-write on a damaged file may panic, write into it
// (a new meta page on every commit) or serve a state that lost committed
// entries, and no master should quietly diverge from the group.
//
// The checks are cheap for a big healthy file: the two meta pages (magic,
// version, checksum, page ids), the file size against the high-water mark
// they record, and the headers of the root and freelist pages. bbolt's own
// full consistency check (every page) runs when the file is small or when
// opening it failed anyway.

// errDamaged is the class of errors about a damaged journal file.
var errDamaged = fmt.Errorf("journal file is damaged: %w", syscall.EIO)

// errPanicked marks an error made from a panic (or memory fault) while
// reading a journal file.
var errPanicked = errors.New("reading it failed")

// fullCheckBelow is the size up to which a bbolt file always gets bbolt's
// full page-by-page check before it is opened (milliseconds at this size).
const fullCheckBelow = 32 << 20

// damagedFile reports a damaged journal file; what says which file it is.
func damagedFile(what, path, detail string) error {
	return fmt.Errorf("%s %s is damaged: %s; it is not opened and left as it is "+
		"(restore it from a backup, or, in a group of masters, run `alluxio formatJournal` on this master "+
		"so that it catches up from the others): %w", what, path, detail, errDamaged)
}

// bbolt's on-disk layout, as far as the checks read it (native byte order,
// go.etcd.io/bbolt/internal/common).
const (
	boltPageHeader   = 16 // id u64, flags u16, count u16, overflow u32
	boltMetaSize     = 64 // magic .. txid, then the checksum (u64)
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltBranchPage   = 0x01
	boltLeafPage     = 0x02
	boltMetaPage     = 0x04
	boltFreelistPage = 0x10
	boltNoFreelist   = ^uint64(0)
)

// boltMeta is what a bbolt meta page records.
type boltMeta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// parseBoltMeta decodes and validates the meta page in buf, which must be
// meta page number id (0 or 1).
func parseBoltMeta(buf []byte, id uint64) (boltMeta, error) {
	if len(buf) < boltPageHeader+boltMetaSize {
		return boltMeta{}, fmt.Errorf("meta page %d: short read", id)
	}
	ne := binary.NativeEndian
	m := buf[boltPageHeader:]
	switch {
	case ne.Uint32(m[0:]) != boltMagic:
		return boltMeta{}, fmt.Errorf("meta page %d: not a bbolt meta page (bad magic number)", id)
	case ne.Uint32(m[4:]) != boltVersion:
		return boltMeta{}, fmt.Errorf("meta page %d: format version %d, want %d", id, ne.Uint32(m[4:]), boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaSize-8])
	if ne.Uint64(m[boltMetaSize-8:]) != h.Sum64() {
		return boltMeta{}, fmt.Errorf("meta page %d: checksum mismatch", id)
	}
	meta := boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
	switch {
	case ne.Uint64(buf[0:]) != id || ne.Uint16(buf[8:])&boltMetaPage == 0:
		return boltMeta{}, fmt.Errorf("meta page %d: page header says page %d, flags %#x", id, ne.Uint64(buf[0:]), ne.Uint16(buf[8:]))
	case meta.pageSize < 512 || meta.pageSize&(meta.pageSize-1) != 0:
		return boltMeta{}, fmt.Errorf("meta page %d: page size %d", id, meta.pageSize)
	case meta.pgid < 4 || meta.root < 2 || meta.root >= meta.pgid:
		return boltMeta{}, fmt.Errorf("meta page %d: root page %d outside the %d pages of the file", id, meta.root, meta.pgid)
	case meta.freelist != boltNoFreelist && (meta.freelist < 2 || meta.freelist >= meta.pgid):
		return boltMeta{}, fmt.Errorf("meta page %d: freelist page %d outside the %d pages of the file", id, meta.freelist, meta.pgid)
	}
	return meta, nil
}

// checkBoltFile checks the bbolt file at path before it is opened (what
// names it in errors: "metastore", "raft log"). A missing file is fine (it
// is created); an empty one is not: bbolt would start it afresh. A file
// locked by a running master fails with errLocked (EBUSY) after timeout.
func checkBoltFile(what, path string, timeout time.Duration) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	defer f.Close()
	if err := lockShared(f, timeout); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	size := st.Size()
	if size == 0 {
		return damagedFile(what, path, "it is empty (0 bytes; truncated?)")
	}
	if _, err := checkBoltPages(f, size); err != nil {
		return damagedFile(what, path, err.Error())
	}
	if size <= fullCheckBelow {
		if problems := fullCheckBolt(path, timeout); problems != "" {
			return damagedFile(what, path, problems)
		}
	}
	return nil
}

// checkBoltPages reads the meta pages and the pages they point at with
// plain reads (no mmap, so a short file cannot fault) and returns the
// newest meta.
func checkBoltPages(f *os.File, size int64) (boltMeta, error) {
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	m0, err0 := parseBoltMeta(buf[:n], 0)
	pageSize := int64(m0.pageSize)
	if err0 != nil {
		// Find the page size from the second meta page, as bbolt does.
		for ps := int64(1024); ps <= 64<<10 && ps < size; ps *= 2 {
			n, _ := f.ReadAt(buf, ps)
			if m1, err := parseBoltMeta(buf[:n], 1); err == nil && int64(m1.pageSize) == ps {
				return boltMeta{}, fmt.Errorf("%v (meta page 1 is valid)", err0)
			}
		}
		return boltMeta{}, err0
	}
	if size < 2*pageSize {
		return boltMeta{}, fmt.Errorf("truncated: %d bytes, shorter than its two meta pages of %d bytes", size, pageSize)
	}
	n, _ = f.ReadAt(buf, pageSize)
	m1, err1 := parseBoltMeta(buf[:n], 1)
	if err1 != nil {
		return boltMeta{}, fmt.Errorf("%v (meta page 0 is valid)", err1)
	}
	if m1.pageSize != m0.pageSize {
		return boltMeta{}, fmt.Errorf("the meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
	}
	newest := m0
	if m1.txid > m0.txid {
		newest = m1
	}
	if need := int64(newest.pgid) * pageSize; size < need {
		return boltMeta{}, fmt.Errorf("truncated: %d bytes, but its meta page records %d pages of %d bytes (%d bytes)",
			size, newest.pgid, pageSize, need)
	}
	check := func(what string, id uint64, flags uint16) error {
		hdr := make([]byte, boltPageHeader)
		if _, err := f.ReadAt(hdr, int64(id)*pageSize); err != nil {
			return fmt.Errorf("%s page %d: %v", what, id, err)
		}
		ne := binary.NativeEndian
		gotID, gotFlags, overflow := ne.Uint64(hdr), ne.Uint16(hdr[8:]), uint64(ne.Uint32(hdr[12:]))
		switch {
		case gotID != id:
			return fmt.Errorf("%s page %d: its header says page %d", what, id, gotID)
		case gotFlags&flags == 0:
			return fmt.Errorf("%s page %d: page flags %#x", what, id, gotFlags)
		case id+overflow >= newest.pgid:
			return fmt.Errorf("%s page %d: %d overflow pages run past the %d pages of the file", what, id, overflow, newest.pgid)
		}
		return nil
	}
	if err := check("root", newest.root, boltBranchPage|boltLeafPage); err != nil {
		return boltMeta{}, err
	}
	if newest.freelist != boltNoFreelist {
		if err := check("freelist", newest.freelist, boltFreelistPage); err != nil {
			return boltMeta{}, err
		}
	}
	return newest, nil
}

// lockShared takes a shared flock on f, as a read-only bbolt open does, so
// that a running master (which holds it exclusively) is told apart from a
// damaged file, and waits up to timeout for it.
func lockShared(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (is a master running?): %w", errLocked, syscall.EBUSY)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fullCheckBolt runs bbolt's consistency check over every page of the file
// on a read-only open and returns its findings ("" when it found none).
// A panic or a memory fault while reading a damaged page counts as one.
func fullCheckBolt(path string, timeout time.Duration) (problems string) {
	var found []string
	err := guarded(func() error {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: timeout})
		if err != nil {
			if errors.Is(err, bbolt.ErrTimeout) {
				return nil // held by a master; not something this check can judge
			}
			return err
		}
		defer db.Close()
		return db.View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				if len(found) < 3 {
					found = append(found, err.Error())
				}
			}
			return nil
		})
	})
	if err != nil {
		found = append(found, err.Error())
	}
	return strings.Join(found, "; ")
}

// guarded runs fn, turning a panic (and, in this goroutine, a fault on a
// mapped page past the end of a truncated file) into an error.
func guarded(fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", errPanicked, r)
		}
	}()
	return fn()
}

// openBolt opens a checked bbolt file with open, which may still fail or
// panic on damage that the cheap checks cannot see: then the full check
// names what is wrong.
func openBolt(what, path string, timeout time.Duration, open func() error) error {
	err := guarded(open)
	if err == nil || errors.Is(err, bbolt.ErrTimeout) {
		return err
	}
	if problems := fullCheckBolt(path, timeout); problems != "" {
		return damagedFile(what, path, problems)
	}
	if errors.Is(err, errPanicked) {
		return damagedFile(what, path, err.Error())
	}
	return err
}

// checkRaftFiles checks the Raft files of the journal folder dir before
// they are opened: raft.db (checkBoltFile), and the newest snapshot
// (latestSnapshot). raft.db may be missing only on first start: once the
// metastore has applied entries (applied > 0) or a snapshot exists, a
// missing log has lost the term and vote this master promised, and
// starting afresh could elect two leaders in one term.
func checkRaftFiles(dir string, applied uint64, timeout time.Duration) error {
	dbPath := filepath.Join(dir, raftDBName)
	if err := checkBoltFile("raft log", dbPath, timeout); err != nil {
		return err
	}
	snap, err := latestSnapshot(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) && (applied > 0 || snap != nil) {
		detail := fmt.Sprintf("it is missing, but the metastore has applied the journal up to entry %d", applied)
		if snap != nil {
			detail = fmt.Sprintf("it is missing, but snapshot %s exists", snap.ID)
		}
		return damagedFile("raft log", dbPath, detail)
	}
	return nil
}

// snapshotFileMeta is the part of hashicorp/raft's FileSnapshotStore
// meta.json that the checks read.
type snapshotFileMeta struct {
	ID    string
	Index uint64
	Term  uint64
	Size  int64
	CRC   []byte
}

// latestSnapshot checks the newest snapshot in the journal folder dir (by
// term and index, as Raft orders them) and returns its meta; nil when there
// is none. Raft itself skips a snapshot whose meta.json it cannot read and
// checks the CRC only when it sends one, so a damaged snapshot would be
// noticed late, or never.
func latestSnapshot(dir string) (*snapshotFileMeta, error) {
	snapDir := filepath.Join(dir, snapshotDirName)
	entries, err := os.ReadDir(snapDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("raft snapshots %s: %w", snapDir, err)
	}
	type named struct {
		name               string
		term, index, milli uint64
	}
	var snaps []named
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue // a snapshot being written (or abandoned): Raft ignores it
		}
		parts := strings.Split(e.Name(), "-")
		var nums [3]uint64
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			nums[i], err = strconv.ParseUint(parts[i], 10, 64)
			ok = err == nil
		}
		if !ok {
			continue // not one of Raft's
		}
		snaps = append(snaps, named{e.Name(), nums[0], nums[1], nums[2]})
	}
	if len(snaps) == 0 {
		return nil, nil
	}
	latest := slices.MaxFunc(snaps, func(a, b named) int {
		if c := cmp.Compare(a.term, b.term); c != 0 {
			return c
		}
		if c := cmp.Compare(a.index, b.index); c != 0 {
			return c
		}
		return cmp.Compare(a.milli, b.milli)
	})
	dirOf := filepath.Join(snapDir, latest.name)
	metaPath := filepath.Join(dirOf, "meta.json")
	data, err := os.ReadFile(metaPath)
	if err != nil {
		return nil, damagedFile("raft snapshot meta", metaPath, err.Error())
	}
	var meta snapshotFileMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, damagedFile("raft snapshot meta", metaPath, err.Error())
	}
	if meta.Index != latest.index || meta.Term != latest.term {
		return nil, damagedFile("raft snapshot meta", metaPath,
			fmt.Sprintf("it records term %d index %d, its folder name says term %d index %d", meta.Term, meta.Index, latest.term, latest.index))
	}
	statePath := filepath.Join(dirOf, "state.bin")
	if err := checkSnapshotState(statePath, &meta); err != nil {
		return nil, err
	}
	return &meta, nil
}

// checkSnapshotState checks a snapshot's state file (a metastore copy)
// against its meta: the size always, the bbolt pages cheaply, and the CRC
// (which reads the whole file) when it is small.
func checkSnapshotState(path string, meta *snapshotFileMeta) error {
	const what = "raft snapshot"
	f, err := os.Open(path)
	if err != nil {
		return damagedFile(what, path, err.Error())
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	if st.Size() != meta.Size {
		return damagedFile(what, path, fmt.Sprintf("%d bytes, its meta.json says %d (truncated?)", st.Size(), meta.Size))
	}
	if _, err := checkBoltPages(f, st.Size()); err != nil {
		return damagedFile(what, path, err.Error())
	}
	if st.Size() <= fullCheckBelow {
		h := crc64.New(crc64.MakeTable(crc64.ECMA))
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("%s %s: %w", what, path, err)
		}
		if !slices.Equal(h.Sum(nil), meta.CRC) {
			return damagedFile(what, path, "its CRC does not match the one in meta.json")
		}
	}
	return nil
}

package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/bbolt"

	"github.com/alluxio-go/alluxio/internal/atomicfile"
	"github.com/alluxio-go/alluxio/ufs"
)

// formatLockTimeout is how long Format waits for a journal file's lock
// before deciding that a master holds it.
const formatLockTimeout = 200 * time.Millisecond

// Format erases the master's journal in journalDir: raft.db, raft-log/, snapshots/,
// metastore.db and its state file, and nothing else. It refuses (EBUSY) while a master has
// the files open.
func Format(journalDir string) error {
	if journalDir == "" {
		return fmt.Errorf("meta: format: empty journal folder: %w", syscall.EINVAL)
	}
	files := []string{filepath.Join(journalDir, metastoreName), filepath.Join(journalDir, raftDBName)}
	for _, f := range files {
		if err := checkUnlocked(f); err != nil {
			return err
		}
	}
	for _, f := range append(files, metastoreStatePath(files[0])) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("meta: format: %w", err)
		}
	}
	for _, d := range []string{snapshotDirName, raftLogDirName, raftLogDirName + ".new"} {
		if err := os.RemoveAll(filepath.Join(journalDir, d)); err != nil {
			return fmt.Errorf("meta: format: %w", err)
		}
	}
	return nil
}

// checkUnlocked fails when another process holds the bbolt file's lock.
func checkUnlocked(path string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: formatLockTimeout, ReadOnly: true})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("meta: format: a master is running: %s is locked: %w", path, syscall.EBUSY)
	}
	if err != nil {
		// A damaged file is what formatting is for; only a lock stops it.
		return nil
	}
	return db.Close()
}

// FormatJournal erases what a master keeps as cfg describes it: with the
// embedded journal, Format of the journal folder and the metastore in
// cfg.MetastoreDir; with the UFS journal, every log file, epoch marker and
// checkpoint in the shared journal folder and the local metastore. It
// refuses while this host's master holds its metastore. The journal is
// left without a format token.
func FormatJournal(ctx context.Context, cfg Config) error {
	_, err := FormatJournalFor(ctx, cfg, "")
	return err
}

// FormatJournalFor is FormatJournal for a format that happens once per
// token: when token is not empty and the journal already carries it, it
// formats nothing and returns false (with the UFS journal it resets this
// host's metastore when that was built before the folder's format);
// otherwise it formats and records token in the journal (none when token
// is empty) and returns true. Masters of an embedded group whose journals
// carry different tokens refuse each other's Raft connections, so a
// rolling format (stop, format, start, one master at a time) starts the
// group empty once a majority is formatted.
func FormatJournalFor(ctx context.Context, cfg Config, token string) (bool, error) {
	if err := checkFormatToken(token); err != nil {
		return false, err
	}
	var files []string
	if cfg.MetastoreDir != "" && cfg.MetastoreDir != cfg.JournalDir {
		files = append(files, filepath.Join(cfg.MetastoreDir, metastoreName))
	}
	if cfg.JournalType == JournalUFS {
		return formatUFSJournalFor(ctx, cfg, token, files)
	}
	if token != "" {
		// An unreadable record is not this token's: formatting
		// replaces it.
		if have, err := readFormatToken(cfg.JournalDir); err == nil && have == token {
			return false, nil
		}
	}
	for _, f := range files {
		if err := checkUnlocked(f); err != nil {
			return false, err
		}
	}
	if err := Format(cfg.JournalDir); err != nil {
		return false, err
	}
	if err := removeMetastores(files); err != nil {
		return false, err
	}
	if err := writeFormatToken(cfg.JournalDir, token); err != nil {
		return false, err
	}
	return true, nil
}

// formatUFSJournalFor is FormatJournalFor of a UFS journal; local are the
// metastore files of this host.
func formatUFSJournalFor(ctx context.Context, cfg Config, token string, local []string) (bool, error) {
	store, err := openJournalStore(cfg)
	if err != nil {
		return false, err
	}
	defer store.Close()
	where := ufs.Redact(cfg.JournalDir)
	if token != "" {
		have, err := readFolderFormat(ctx, store, where)
		if err != nil {
			return false, err
		}
		if have.Token == token {
			// Formatted for token already (by another master): only a
			// metastore built before that format is stale.
			for _, f := range local {
				if built, err := readMetastoreFormat(f); err == nil && built == have {
					continue
				}
				if err := checkUnlocked(f); err != nil {
					return false, err
				}
				if err := removeMetastores([]string{f}); err != nil {
					return false, err
				}
			}
			return false, nil
		}
	}
	for _, f := range local {
		if err := checkUnlocked(f); err != nil {
			return false, err
		}
	}
	if err := formatUFSJournal(ctx, store, where, token); err != nil {
		return false, err
	}
	return true, removeMetastores(local)
}

// removeMetastores removes metastore files with their state and format
// files.
func removeMetastores(files []string) error {
	for _, f := range files {
		for _, g := range []string{f, metastoreStatePath(f), metastoreFormatPath(f)} {
			if err := os.Remove(g); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("meta: format: %w", err)
			}
		}
	}
	return nil
}

// openJournalStore opens the under-store of a UFS journal folder.
func openJournalStore(cfg Config) (ufs.UFS, error) {
	open := cfg.OpenUFS
	if open == nil {
		open = ufs.Open
	}
	store, err := open(cfg.JournalDir, cfg.JournalOptions)
	if err != nil {
		return nil, fmt.Errorf("meta: format journal folder %s: %w", ufs.Redact(cfg.JournalDir), err)
	}
	return store, nil
}

// formatUFSJournal empties the folders of a UFS journal. It first writes
// an epoch marker above every earlier one, so that a leader still running
// is fenced at its next write or check; then it deletes the log files,
// checkpoints and older markers; and last it records the format (token
// and marker) in ujFormat, which tells running masters that their
// metastores describe a journal that is gone, and which makes the log
// files an old leader may still land in the folder count for nothing.
func formatUFSJournal(ctx context.Context, store ufs.UFS, where, token string) error {
	fail := func(err error) error {
		return fmt.Errorf("meta: format journal folder %s: %w", where, err)
	}
	for _, d := range []string{ujLogs, ujEpochs, ujCheckpoints} {
		if err := mkdirIfMissing(ctx, store, d); err != nil {
			return fail(err)
		}
	}
	epochs, err := listNames(ctx, store, ujEpochs)
	if err != nil {
		return fail(err)
	}
	var top uint64
	for _, n := range epochs {
		if v, ok := parseEpoch(n); ok {
			top = max(top, v)
		}
	}
	epoch := top + 1
	marker := fmt.Sprintf("%s/%020d", ujEpochs, epoch)
	if err := writeObject(ctx, store, marker, []byte("format "+token+"\n")); err != nil {
		return fail(fmt.Errorf("write epoch marker %d: %w", epoch, err))
	}
	for _, d := range []string{ujLogs, ujCheckpoints, ujEpochs} {
		names, err := listNames(ctx, store, d)
		if err != nil {
			return fail(err)
		}
		for _, n := range names {
			if d == ujEpochs {
				if v, ok := parseEpoch(n); ok && v >= epoch {
					continue
				}
			}
			if err := store.Delete(ctx, d+"/"+n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(fmt.Errorf("%s/%s: %w", d, n, err))
			}
		}
	}
	id := folderFormat{Token: token, Epoch: epoch}
	if err := writeObject(ctx, store, ujFormat, id.encode()); err != nil {
		return fail(fmt.Errorf("%s: %w", ujFormat, err))
	}
	return nil
}

// listNames lists the names in dir of a store; a missing dir has none.
func listNames(ctx context.Context, store ufs.UFS, dir string) ([]string, error) {
	var names []string
	err := store.List(ctx, dir, func(fi ufs.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}

// writeObject stores data at p in one piece.
func writeObject(ctx context.Context, store ufs.UFS, p string, data []byte) error {
	w, err := store.Create(ctx, p, ufs.CreateOptions{Mode: 0o600, SizeHint: int64(len(data))})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	_, err = w.Close(ctx)
	return err
}

// Format tokens. An embedded journal folder keeps the token of its last
// format in formatTokenFile (the name the image's entrypoint used, so
// journals it formatted keep theirs); a UFS journal folder keeps its
// format (token and epoch) in the object ujFormat, and each master keeps
// the format its local metastore was built from next to the metastore
// (metastoreFormatPath).
const (
	formatTokenFile = ".alluxio-format-token"
	ujFormat        = "format-token"
	// maxFormatToken bounds a token's length: it travels behind one
	// length byte in the Raft handshake.
	maxFormatToken = 255
)

// checkFormatToken accepts printable ASCII without spaces, up to
// maxFormatToken bytes ("" is no token).
func checkFormatToken(token string) error {
	if len(token) > maxFormatToken {
		return fmt.Errorf("meta: format token %.20q...: longer than %d bytes: %w", token, maxFormatToken, syscall.EINVAL)
	}
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] >= 0x7f {
			return fmt.Errorf("meta: format token %q: want printable ASCII without spaces: %w", token, syscall.EINVAL)
		}
	}
	return nil
}

// readFormatToken returns the format token of an embedded journal folder
// ("" when it has none).
func readFormatToken(dir string) (string, error) {
	p := filepath.Join(dir, formatTokenFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("meta: format token %s: %w", p, err)
	}
	token := strings.TrimSpace(string(data))
	if err := checkFormatToken(token); err != nil {
		return "", fmt.Errorf("meta: format token file %s: %w", p, err)
	}
	return token, nil
}

// writeFormatToken records token in an embedded journal folder, durably;
// an empty token removes the record.
func writeFormatToken(dir, token string) error {
	p := filepath.Join(dir, formatTokenFile)
	if token == "" {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("meta: format token %s: %w", p, err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("meta: format token %s: %w", p, err)
	}
	if err := atomicfile.Write(p, []byte(token+"\n"), 0o600); err != nil {
		return fmt.Errorf("meta: format token %s: %w", p, err)
	}
	return nil
}

// folderFormat identifies the last format of a UFS journal folder: the
// token it was given and the epoch marker it wrote. The zero value stands
// for a folder that was never formatted with such a record.
type folderFormat struct {
	Token string
	Epoch uint64
}

// String names the format in messages.
func (f folderFormat) String() string {
	return fmt.Sprintf("token %q (format epoch %d)", f.Token, f.Epoch)
}

// encode lays out the record as ujFormat and the metastore's copy hold it.
func (f folderFormat) encode() []byte {
	return fmt.Appendf(nil, "token=%s\nepoch=%d\n", f.Token, f.Epoch)
}

// parseFolderFormat parses what encode wrote.
func parseFolderFormat(data []byte) (folderFormat, error) {
	var f folderFormat
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "token":
			f.Token = v
		case "epoch":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return folderFormat{}, fmt.Errorf("epoch %q: %w", v, syscall.EINVAL)
			}
			f.Epoch = n
		}
	}
	return f, checkFormatToken(f.Token)
}

// readFolderFormat reads a UFS journal folder's format record (the zero
// value when it has none).
func readFolderFormat(ctx context.Context, store ufs.UFS, where string) (folderFormat, error) {
	rc, err := store.OpenRange(ctx, ujFormat, 0, -1)
	if errors.Is(err, fs.ErrNotExist) {
		return folderFormat{}, nil
	}
	if err != nil {
		return folderFormat{}, fmt.Errorf("meta: journal folder %s: %s: %w", where, ujFormat, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return folderFormat{}, fmt.Errorf("meta: journal folder %s: %s: %w", where, ujFormat, err)
	}
	f, err := parseFolderFormat(data)
	if err != nil {
		return folderFormat{}, fmt.Errorf("meta: journal folder %s: %s: %w", where, ujFormat, err)
	}
	return f, nil
}

// metastoreFormatPath is the file next to the metastore at path that
// records the format of the UFS journal folder it was built from.
func metastoreFormatPath(path string) string { return path + ".format" }

// readMetastoreFormat returns the format the metastore at path was built
// from (the zero value when it records none).
func readMetastoreFormat(path string) (folderFormat, error) {
	data, err := os.ReadFile(metastoreFormatPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return folderFormat{}, nil
	}
	if err != nil {
		return folderFormat{}, fmt.Errorf("meta: %w", err)
	}
	f, err := parseFolderFormat(data)
	if err != nil {
		return folderFormat{}, fmt.Errorf("meta: %s: %w", metastoreFormatPath(path), err)
	}
	return f, nil
}

// writeMetastoreFormat records, durably, the format the metastore at path
// was built from.
func writeMetastoreFormat(path string, f folderFormat) error {
	if err := atomicfile.Write(metastoreFormatPath(path), f.encode(), 0o600); err != nil {
		return fmt.Errorf("meta: %s: %w", metastoreFormatPath(path), err)
	}
	return nil
}

// parseEpoch parses an epoch marker's name.
func parseEpoch(name string) (uint64, bool) {
	v, err := strconv.ParseUint(name, 10, 64)
	return v, err == nil && len(name) == 20
}

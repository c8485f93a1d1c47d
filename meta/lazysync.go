package meta

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alluxio-go/alluxio/internal/atomicfile"
)

// The metastore is written without an fsync per transaction: it is state
// derived from the journal (Raft's log and snapshots, or the UFS journal's
// files and checkpoints), which is what makes a change durable before it
// is acknowledged. A killed process loses nothing (its writes are in the
// page cache, and bbolt commits in an order that leaves the last
// committed transaction whole); only a crash of the machine can leave the
// file torn. So a state file beside the metastore says whether it was
// closed cleanly and, when it was not, in which boot it was open: a
// metastore left open in an earlier boot is set aside and rebuilt from
// the journal, as a HEAP metastore is at every start. This takes two of
// the six fsyncs out of every journaled change in a group of masters.

// bootID identifies the running boot of the machine ("" when unknown).
var bootID = func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// metastoreStatePath is the state file of the metastore at path.
func metastoreStatePath(path string) string { return path + ".state" }

// writeMetastoreState replaces the state file durably.
func writeMetastoreState(path, state string) error {
	sp := metastoreStatePath(path)
	if err := atomicfile.Write(sp, []byte(state+"\n"), 0o600); err != nil {
		return fmt.Errorf("metastore state %s: %w", sp, err)
	}
	return nil
}

// setAsideTorn moves a metastore that was open when the machine last went
// down out of the way (kept, renamed, for inspection), so that the master
// rebuilds it from the journal. It reports whether it did.
func setAsideTorn(path string, log *slog.Logger) (bool, error) {
	state, err := os.ReadFile(metastoreStatePath(path))
	if err != nil {
		return false, nil // new, or written before state files: trusted
	}
	open, boot, _ := strings.Cut(string(bytes.TrimSpace(state)), " ")
	if open != "open" || (boot != "" && boot == bootID()) {
		return false, nil // closed cleanly, or only the process died
	}
	if _, err := os.Stat(path); err != nil {
		return false, nil
	}
	aside := fmt.Sprintf("%s.unclean-%d", path, time.Now().Unix())
	if err := os.Rename(path, aside); err != nil {
		return false, fmt.Errorf("metastore %s: set aside after a machine crash: %w", path, err)
	}
	log.Warn("the metastore was open when the machine went down; rebuilding it from the journal",
		"file", path, "setAside", filepath.Base(aside))
	return true, nil
}

package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// stressors are the stress-ng file-system stressors run through the mount:
// each runs one worker for a short time in its own directory on the mount
// (--temp-path, --timeout 3s), all at once, and must end with status 0,
// no failure reported and at least minOps of its bogo operations done.
// Sizes are small so that the whole table takes seconds.
var stressors = []struct {
	name string
	args []string
	// minOps is the bogo operations a run must complete. The xattr
	// stressor's one operation sets, replaces three ways, reads and
	// removes 4096 attributes of one file, some 20,000 durable metadata
	// changes: a short run completes none and is judged by its calls
	// (each failure is reported) alone.
	minOps int
}{
	{"dentry", []string{"--dentry", "1", "--dentries", "256"}, 1},
	{"dir", []string{"--dir", "1", "--dir-dirs", "128"}, 1},
	// The link stressor makes hard links only (see stressGaps); its
	// symbolic-link twin runs too.
	{"link", []string{"--link", "1"}, 1},
	{"symlink", []string{"--symlink", "1"}, 1},
	{"rename", []string{"--rename", "1"}, 1},
	{"chmod", []string{"--chmod", "1"}, 1},
	{"seek", []string{"--seek", "1", "--seek-size", "8M"}, 1},
	{"fallocate", []string{"--fallocate", "1", "--fallocate-bytes", "8M"}, 1},
	{"flock", []string{"--flock", "1"}, 1},
	{"lockf", []string{"--lockf", "1"}, 1},
	// --mmap-file maps a file on the mount MAP_SHARED and msyncs it.
	{"mmap", []string{"--mmap", "1", "--mmap-bytes", "4M", "--mmap-file"}, 1},
	{"sync-file", []string{"--sync-file", "1", "--sync-file-bytes", "8M"}, 1},
	{"xattr", []string{"--xattr", "1"}, 0},
	{"hdd", []string{"--hdd", "1", "--hdd-bytes", "8M"}, 1},
}

// stressGaps are the stressors that fail because of a documented limit
// (docs/posix.md). They must still fail: one that starts passing fails the
// test until it is taken out of this table and the document.
var stressGaps = map[string]string{
	// stress-ng reports "link calls not allowed on the filesystem,
	// skipping stressor" and completes no operation.
	"link": "hard links are not supported: link(2) returns EPERM",
}

// stressFailed matches stress-ng's reports of a failure ("fail: [pid]
// ...", "stressor failed", "unsuccessful run") and of a stressor that
// could not run ("skipping stressor", "aborted early").
var stressFailed = regexp.MustCompile(`\bfail: |stressor failed|unsuccessful run|skipping stressor|aborted early`)

// TestStressNG runs stress-ng's file-system stressors on the mount, side
// by side on one cluster.
func TestStressNG(t *testing.T) {
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Fatalf("stress-ng is not installed (tests/install-deps.sh installs it): %v", err)
	}
	c := newCluster(t, nil)
	c.start()
	runStressors(t, c.mnt)
}

// runStressors runs the stressors side by side on the mount mnt.
func runStressors(t *testing.T, mnt string) {
	for _, s := range stressors {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(mnt, "stress-ng", s.name)
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--temp-path", dir, "--timeout", "3s", "--verify", "--metrics-brief"}, s.args...)
			out, err := exec.Command("stress-ng", args...).CombinedOutput()
			ops := -1
			m := regexp.MustCompile(`metrc: \[\d+\] ` + regexp.QuoteMeta(s.name) + `\s+(\d+)\s`).FindSubmatch(out)
			if m != nil {
				ops, _ = strconv.Atoi(string(m[1]))
			}
			ok := err == nil && !stressFailed.Match(out) && ops >= s.minOps
			report := fmt.Sprintf("stress-ng %s: %v, %d bogo ops\n%s", strings.Join(args, " "), err, ops, out)
			reason, gap := stressGaps[s.name]
			switch {
			case gap && ok:
				t.Errorf("%s passes now, but is listed as an expected gap (%s): take it out of stressGaps and docs/posix.md\n%s",
					s.name, reason, report)
			case gap:
				t.Logf("expected gap (%s):\n%s", reason, report)
			case !ok:
				t.Error(report)
			default:
				t.Logf("%d bogo ops", ops)
			}
		})
	}
}

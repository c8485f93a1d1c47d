package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// stressors are the stress-ng file-system stressors run through the mount:
// each runs one worker for a short time in its own directory on the mount
// (--temp-path) and must end with status 0 and stress-ng's own "passed"
// for it, nothing failed or skipped. Sizes are small so that each takes
// seconds.
var stressors = []struct {
	name string
	args []string
}{
	{"dentry", []string{"--dentry", "1", "--dentries", "512"}},
	{"dir", []string{"--dir", "1", "--dir-dirs", "256"}},
	// The link stressor makes hard links only: see stressGaps. Its
	// symbolic-link twin covers names that point at others.
	{"link", []string{"--link", "1"}},
	{"symlink", []string{"--symlink", "1"}},
	{"rename", []string{"--rename", "1"}},
	{"chmod", []string{"--chmod", "1"}},
	{"seek", []string{"--seek", "1", "--seek-size", "8M"}},
	{"fallocate", []string{"--fallocate", "1", "--fallocate-bytes", "8M"}},
	{"flock", []string{"--flock", "1"}},
	{"lockf", []string{"--lockf", "1"}},
	{"mmap", []string{"--mmap", "1", "--mmap-bytes", "8M", "--mmap-file"}},
	{"sync-file", []string{"--sync-file", "1", "--sync-file-bytes", "8M"}},
	{"xattr", []string{"--xattr", "1"}},
	{"hdd", []string{"--hdd", "1", "--hdd-bytes", "8M"}},
}

// stressGaps are the stressors that fail because of a documented limit
// (docs/posix.md). They must still fail: one that starts passing fails the
// test until it is taken out of this table and the document.
var stressGaps = map[string]string{
	"link": "hard links are not supported: link(2) returns EPERM",
}

// stressFailed matches stress-ng's closing lines for a stressor that
// failed or was skipped ("failed: 1: link (1)", "skipped: 1: ...") and its
// failure messages ("fail: [pid] ...").
var stressFailed = regexp.MustCompile(`(?m)(failed|skipped): [1-9]|\bfail: `)

// TestStressNG runs stress-ng's file-system stressors on the mount.
func TestStressNG(t *testing.T) {
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Fatalf("stress-ng is not installed (tests/install-deps.sh installs it): %v", err)
	}
	c := newCluster(t, nil)
	c.start()
	for _, s := range stressors {
		t.Run(s.name, func(t *testing.T) {
			dir := filepath.Join(c.mnt, "stress-ng", s.name)
			if err := os.MkdirAll(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"--temp-path", dir, "--timeout", "3s", "--verify", "--metrics-brief"}, s.args...)
			out, err := exec.Command("stress-ng", args...).CombinedOutput()
			passed := regexp.MustCompile(`passed: 1: ` + regexp.QuoteMeta(s.name) + ` \(1\)`).Match(out)
			ok := err == nil && passed && !stressFailed.Match(out)
			report := fmt.Sprintf("stress-ng %s: %v\n%s", strings.Join(args, " "), err, out)
			reason, gap := stressGaps[s.name]
			switch {
			case gap && ok:
				t.Errorf("%s passes now, but is listed as an expected gap (%s): take it out of stressGaps and docs/posix.md\n%s",
					s.name, reason, report)
			case gap:
				t.Logf("expected gap (%s):\n%s", reason, report)
			case !ok:
				t.Error(report)
			}
		})
	}
}

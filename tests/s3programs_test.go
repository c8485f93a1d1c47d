package tests

import (
	"os/exec"
	"testing"
)

// TestStressNGS3 runs stress-ng's file-system stressors (the table of
// TestStressNG, with the same expected gaps) on a mount whose root is a
// bucket of a real S3 server (versitygw).
func TestStressNGS3(t *testing.T) {
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Fatalf("stress-ng is not installed (tests/install-deps.sh installs it): %v", err)
	}
	// A MEM tier smaller than what the stressors write, so that reads go
	// back to the bucket.
	c, _ := newS3RootCluster(t, map[string]string{"alluxio.worker.tieredstore.level0.dirs.quota": "8MB"})
	c.start()
	runStressors(t, c.mnt)
}

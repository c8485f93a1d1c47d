package tests

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// runAsUser runs one of the installation's commands as another user.
func (c *cluster) runAsUser(uid int, name string, args ...string) (string, error) {
	full := append([]string{fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups",
		filepath.Join(c.home, "bin", name)}, args...)
	cmd := exec.Command("setpriv", full...)
	cmd.Env = c.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestCLIPermissions: the master checks what a user of the CLI may do
// against modes and owners, as a local file system does.
func TestCLIPermissions(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	c.must("alluxio", "fs", "mkdir", "/secure")
	c.must("alluxio", "fs", "chmod", "700", "/secure")
	c.must("alluxio", "fs", "touch", "/secure/f")
	c.must("alluxio", "fs", "mkdir", "/home")
	c.must("alluxio", "fs", "chown", "1000:1000", "/home")

	denied := []struct {
		name string
		args []string
	}{
		{"list a 0700 root dir", []string{"fs", "ls", "/secure"}},
		{"stat inside it", []string{"fs", "stat", "/secure/f"}},
		{"remove it", []string{"fs", "rm", "-R", "/secure"}},
		{"mkdir in a 0755 root dir", []string{"fs", "mkdir", "/mine"}},
		{"chmod a root file", []string{"fs", "chmod", "777", "/home"}},
		{"mount", []string{"fs", "mount", "/m", t.TempDir()}},
	}
	for _, d := range denied {
		uid := 1000
		if d.name == "chmod a root file" {
			uid = 1001 // /home belongs to 1000
		}
		out, err := c.runAsUser(uid, "alluxio", d.args...)
		if err == nil || !(strings.Contains(out, "permission denied") || strings.Contains(out, "operation not permitted")) {
			t.Errorf("%s as uid %d: %v\n%s", d.name, uid, err, out)
		}
	}
	// The owner of /home works in it, and what they make is theirs.
	if out, err := c.runAsUser(1000, "alluxio", "fs", "mkdir", "/home/alice"); err != nil {
		t.Fatalf("mkdir in one's own dir: %v\n%s", err, out)
	}
	out := c.must("alluxio", "fs", "stat", "/home/alice")
	if !strings.Contains(out, "1000") {
		t.Errorf("stat of a directory made by uid 1000:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(c.ufs, "secure", "f")); err != nil {
		t.Fatalf("a refused rm touched the under-store: %v", err)
	}
}

// TestRootSquashMount: with alluxio.security.authorization.root.squash,
// root on a FUSE mount is the nobody user to the master.
func TestRootSquashMount(t *testing.T) {
	c := newCluster(t, map[string]string{"alluxio.security.authorization.root.squash": "true"})
	c.start()
	m := func(p string) string { return filepath.Join(c.mnt, p) }
	// Made by the CLI as root... which is squashed too: the root of the
	// namespace is root's 0755, so nobody can make nothing there.
	if out, err := c.run("alluxio", "fs", "mkdir", "/x"); err == nil {
		t.Fatalf("squashed root made a directory in a 0755 root-owned dir:\n%s", out)
	}
	// The under-store's own root may be opened up by its owner outside.
	if err := os.Mkdir(filepath.Join(c.ufs, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(c.ufs, "open"), 0o777)
	if err := os.Mkdir(filepath.Join(c.ufs, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(m("private/f"), []byte("x"), 0o644); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("root wrote into a 0700 root dir through a squashing mount: %v", err)
	}
	if err := os.WriteFile(m("open/f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(m("open/f"), &st); err != nil || st.Uid != 65534 {
		t.Fatalf("file root made through a squashing mount: uid %d, %v; want nobody (65534)", st.Uid, err)
	}
}

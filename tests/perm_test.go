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

// TestRootSquashChownBeforeClose: on a squashing mount, root's fchown of a
// file it is writing (as tar -x does before it closes each file) is
// refused by the master when the file is completed, after the completion
// itself was made. The close may report the refusal, but the bytes
// written stay the file's: the kernel's release after it must not commit
// the file again from nothing.
func TestRootSquashChownBeforeClose(t *testing.T) {
	for _, wt := range []string{"CACHE_THROUGH", "MUST_CACHE", "ASYNC_THROUGH"} {
		t.Run(wt, func(t *testing.T) {
			c := newCluster(t, map[string]string{
				"alluxio.security.authorization.root.squash": "true",
				"alluxio.user.file.writetype.default":        wt,
			})
			c.start()
			if err := os.Mkdir(filepath.Join(c.ufs, "open"), 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(c.ufs, "open"), 0o777)
			want := bytes.Repeat([]byte("tar member "), 20000)
			p := filepath.Join(c.mnt, "open", "member")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(want); err != nil {
				t.Fatal(err)
			}
			if err := f.Chown(1000, 1000); err != nil {
				t.Fatalf("fchown as root on the mount: %v", err)
			}
			cerr := f.Close()
			t.Logf("close after a refused chown: %v", cerr)
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("after close: %d bytes, %v; want the %d written", len(got), err, len(want))
			}
			var st syscall.Stat_t
			if err := syscall.Stat(p, &st); err != nil || st.Uid != 65534 || st.Size != int64(len(want)) {
				t.Fatalf("stat: uid %d size %d, %v; want nobody's (the chown refused) and %d bytes", st.Uid, st.Size, err, len(want))
			}
			if wt == "CACHE_THROUGH" {
				if b, err := os.ReadFile(filepath.Join(c.ufs, "open", "member")); err != nil || !bytes.Equal(b, want) {
					t.Fatalf("the under-store's copy: %d bytes, %v; want the %d written", len(b), err, len(want))
				}
			}
		})
	}
}

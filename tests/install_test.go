package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMakeInstall installs into a scratch prefix and runs the installed
// commands through their PATH links: ALLUXIO_HOME is found from the link,
// and the mount helper sits where mount(8) looks (here, a scratch sbin).
func TestMakeInstall(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	dir := t.TempDir()
	prefix, bin, sbin := filepath.Join(dir, "opt"), filepath.Join(dir, "bin"), filepath.Join(dir, "sbin")
	for _, d := range []string{bin, sbin} {
		os.MkdirAll(d, 0o755)
	}
	units := filepath.Join(dir, "units")
	cmd := exec.Command("make", "-s", "install", "PREFIX="+prefix, "BINDIR="+bin, "SBINDIR="+sbin, "SYSTEMDDIR="+units)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for _, name := range []string{"alluxio", "alluxio-fuse", "alluxio-start.sh", "alluxio-stop.sh"} {
		target, err := os.Readlink(filepath.Join(bin, name))
		if err != nil || target != filepath.Join(prefix, "bin", name) {
			t.Fatalf("%s on the PATH: %q %v", name, target, err)
		}
	}
	if _, err := os.Stat(filepath.Join(sbin, "mount.fuse.alluxio")); err != nil {
		t.Fatalf("mount helper: %v", err)
	}
	if _, err := os.Stat(filepath.Join(prefix, "conf", "alluxio-site.properties.template")); err != nil {
		t.Fatalf("conf template: %v", err)
	}
	// The systemd units, with the install prefix filled in, pass
	// systemd's own checker (ordering, dependencies, executables).
	verify := exec.Command("systemd-analyze", "verify", "--man=no", "alluxio-master.service", "alluxio-worker.service",
		`alluxio-fuse@mnt-alluxio\x2dfuse.service`, `mnt-alluxio\x2dfuse.mount`)
	verify.Dir = units
	verify.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+units+":")
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(filepath.Join(units, "alluxio-master.service")); !strings.Contains(string(data), "ExecStart="+prefix+"/bin/alluxio process master") {
		t.Fatalf("master unit does not start the installed binary:\n%s", data)
	}
	run := exec.Command(filepath.Join(bin, "alluxio"), "getConf", "alluxio.home")
	run.Env = withoutAlluxioEnv()
	out, err := run.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != prefix {
		t.Fatalf("installed alluxio finds home %q (%v), want %s", out, err, prefix)
	}
}

func withoutAlluxioEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ALLUXIO_") {
			env = append(env, kv)
		}
	}
	return env
}

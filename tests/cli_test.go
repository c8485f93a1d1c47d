package tests

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFsCommands drives `alluxio fs` verbs against a running cluster and
// checks their effect in the under-store and through the mount.
func TestFsCommands(t *testing.T) {
	c := newCluster(t, nil)
	c.start()

	local := filepath.Join(t.TempDir(), "in.bin")
	data := make([]byte, 2<<20+5)
	rand.Read(data)
	os.WriteFile(local, data, 0o640)

	c.must("alluxio", "fs", "mkdir", "/d1/d2")
	c.must("alluxio", "fs", "copyFromLocal", local, "/d1/d2/f.bin")
	if got, err := os.ReadFile(filepath.Join(c.ufs, "d1/d2/f.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copyFromLocal: under-store copy %d bytes, %v", len(got), err)
	}
	out := c.must("alluxio", "fs", "ls", "/d1/d2")
	if !strings.Contains(out, "/d1/d2/f.bin") || !strings.Contains(out, fmt.Sprint(len(data))) || !strings.Contains(out, "PERSISTED") {
		t.Fatalf("ls: %s", out)
	}
	sum := md5.Sum(data)
	if out := c.must("alluxio", "fs", "checksum", "/d1/d2/f.bin"); !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Fatalf("checksum: %s", out)
	}
	if out := c.must("alluxio", "fs", "head", "-c", "10", "/d1/d2/f.bin"); out != string(data[:10]) {
		t.Fatalf("head -c 10: %q", out)
	}
	if out := c.must("alluxio", "fs", "tail", "-c", "7", "/d1/d2/f.bin"); out != string(data[len(data)-7:]) {
		t.Fatalf("tail -c 7: %q", out)
	}
	if out := c.must("alluxio", "fs", "cat", "/d1/d2/f.bin"); out != string(data) {
		t.Fatalf("cat: %d bytes differ", len(out))
	}
	if out := c.must("alluxio", "fs", "du", "-s", "/d1"); !strings.HasPrefix(out, fmt.Sprint(len(data))) {
		t.Fatalf("du -s: %s", out)
	}
	if out := c.must("alluxio", "fs", "stat", "/d1/d2/f.bin"); !strings.Contains(out, "is a file path") || !strings.Contains(out, "persisted=true") {
		t.Fatalf("stat: %s", out)
	}
	c.must("alluxio", "fs", "mv", "/d1/d2/f.bin", "/d1/g.bin")
	if _, err := os.Stat(filepath.Join(c.ufs, "d1/g.bin")); err != nil {
		t.Fatalf("mv not in the under-store: %v", err)
	}
	back := filepath.Join(t.TempDir(), "back")
	c.must("alluxio", "fs", "copyToLocal", "/d1", back)
	if got, err := os.ReadFile(filepath.Join(back, "g.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copyToLocal: %d bytes, %v", len(got), err)
	}
	// The mount sees what the CLI did.
	if got, err := os.ReadFile(filepath.Join(c.mnt, "d1/g.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("through the mount: %d bytes, %v", len(got), err)
	}
	if out := c.must("alluxio", "fs", "mount"); !strings.Contains(out, c.ufs) || !strings.Contains(out, " / ") {
		t.Fatalf("fs mount (list): %s", out)
	}
	if out, err := c.run("alluxio", "fs", "rm", "/d1"); err == nil {
		t.Fatalf("rm of a non-empty dir without -R succeeded: %s", out)
	}
	c.must("alluxio", "fs", "rm", "-R", "/d1")
	if _, err := os.Stat(filepath.Join(c.ufs, "d1")); !os.IsNotExist(err) {
		t.Fatalf("rm -R left the under-store dir: %v", err)
	}
	out, err := c.run("alluxio", "fs", "cat", "/nope")
	if err == nil || !strings.Contains(out, "/nope") {
		t.Fatalf("cat of a missing file: err %v, output %q (want the path named)", err, out)
	}
	if out := c.must("alluxio", "fsadmin", "report"); !strings.Contains(out, "Live Workers: 1") {
		t.Fatalf("fsadmin report: %s", out)
	}
}

// TestFormatRefusedWhileRunning: formatting the journal under a live master
// is refused, and works once it stopped.
func TestFormatRefusedWhileRunning(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	c.must("alluxio", "fs", "mkdir", "/keep")
	out, err := c.run("alluxio", "formatJournal")
	if err == nil {
		t.Fatalf("formatJournal succeeded while the master runs:\n%s", out)
	}
	if !strings.Contains(strings.ToLower(out), "running") {
		t.Fatalf("formatJournal error does not say a master runs: %s", out)
	}
	c.must("alluxio-stop.sh", "local")
	c.must("alluxio", "format")
	if _, err := os.Stat(filepath.Join(c.home, "journal", "metastore.db")); !os.IsNotExist(err) {
		t.Fatalf("metastore survived format: %v", err)
	}
	// The namespace restarts empty but loads the under-store lazily.
	c.start()
	if out := c.must("alluxio", "fs", "ls", "/"); !strings.Contains(out, "/keep") {
		t.Fatalf("after format, ls / does not load /keep from the under-store: %s", out)
	}
}

// TestLegacyEnvFile: Alluxio 1.0's conf/alluxio-env.sh names the root
// under-store, and the environment beats it.
func TestLegacyEnvFile(t *testing.T) {
	c := newCluster(t, nil)
	delete(c.props, "alluxio.master.mount.table.root.ufs")
	c.writeConf()
	env := "ALLUXIO_UNDERFS_ADDRESS=/tmp\nexport ALLUXIO_JAVA_OPTS=\"-Dalluxio.user.file.writetype.default=THROUGH\"\n"
	os.WriteFile(filepath.Join(c.home, "conf", "alluxio-env.sh"), []byte(env), 0o644)
	if out := strings.TrimSpace(c.must("alluxio", "getConf", "alluxio.master.mount.table.root.ufs")); out != "/tmp" {
		t.Fatalf("root ufs from alluxio-env.sh: %q, want /tmp", out)
	}
	if out := strings.TrimSpace(c.must("alluxio", "getConf", "alluxio.user.file.writetype.default")); out != "THROUGH" {
		t.Fatalf("write type from ALLUXIO_JAVA_OPTS: %q", out)
	}
	out := c.must("alluxio", "-Dalluxio.user.file.writetype.default=MUST_CACHE", "getConf", "alluxio.user.file.writetype.default")
	if strings.TrimSpace(out) != "MUST_CACHE" {
		t.Fatalf("a -D flag does not beat the env file: %q", out)
	}
}

// TestLoadMetadata: with metadata sync off (the default), changes made in
// the under-store behind the namespace's back show only after
// alluxio fs loadMetadata or ls --sync, and a changed file is then read
// with its new bytes, never from the pages cached for the old ones.
func TestLoadMetadata(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(c.ufs, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("d/x", "old bytes")
	write("d/sub/y", "y")
	if out := c.must("alluxio", "fs", "cat", "/d/x"); out != "old bytes" {
		t.Fatalf("cat /d/x = %q", out)
	}
	c.must("alluxio", "fs", "ls", "-R", "/d")

	write("d/x", "new bytes, longer")
	write("d/sub/z", "z")
	if err := os.Remove(filepath.Join(c.ufs, "d", "sub", "y")); err != nil {
		t.Fatal(err)
	}
	if out := c.must("alluxio", "fs", "ls", "-R", "/d"); strings.Contains(out, "/d/sub/z") || !strings.Contains(out, "/d/sub/y") {
		t.Fatalf("with sync off, ls saw under-store changes:\n%s", out)
	}
	out := c.must("alluxio", "fs", "ls", "-R", "--sync", "/d")
	if !strings.Contains(out, "/d/sub/z") || strings.Contains(out, "/d/sub/y") {
		t.Fatalf("ls -R --sync does not show the under-store's tree:\n%s", out)
	}
	if out := c.must("alluxio", "fs", "cat", "/d/x"); out != "new bytes, longer" {
		t.Fatalf("after the sync, cat /d/x = %q", out)
	}

	write("e/f", "f")
	if out := c.must("alluxio", "fs", "loadMetadata", "-R", "/"); !strings.Contains(out, "Synced / with the under-store") {
		t.Fatalf("loadMetadata: %s", out)
	}
	if out := c.must("alluxio", "fs", "cat", "/e/f"); out != "f" {
		t.Fatalf("cat /e/f after loadMetadata = %q", out)
	}
	if out, err := c.run("alluxio", "fs", "loadMetadata", "/no/such/path"); err == nil || !strings.Contains(out, "/no/such/path") {
		t.Fatalf("loadMetadata of a missing path: err %v\n%s", err, out)
	}
}

// TestMoreFsCommands covers count, chmod, chown, chgrp, test,
// getCapacityBytes, getUsedBytes, checkConsistency and distributedLoad.
func TestMoreFsCommands(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	for _, f := range []string{"t/a", "t/b", "t/sub/c"} {
		p := filepath.Join(c.ufs, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(c.ufs, "t", "empty"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := c.must("alluxio", "fs", "count", "/t")
	if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) != 3 || f[0] != "4" || f[1] != "2" || f[2] != "3000" {
		t.Fatalf("count /t:\n%s", out)
	}

	c.must("alluxio", "fs", "chmod", "-R", "700", "/t")
	c.must("alluxio", "fs", "chown", "-R", "1234:2345", "/t")
	c.must("alluxio", "fs", "chgrp", "3456", "/t/a")
	st := c.must("alluxio", "fs", "stat", "/t/sub/c")
	if !strings.Contains(st, "mode=0700") || !strings.Contains(st, "owner=1234") || !strings.Contains(st, "group=2345") {
		t.Fatalf("after chmod/chown -R:\n%s", st)
	}
	if st := c.must("alluxio", "fs", "stat", "/t/a"); !strings.Contains(st, "group=3456") {
		t.Fatalf("after chgrp:\n%s", st)
	}
	if fi, err := os.Stat(filepath.Join(c.ufs, "t", "sub", "c")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("chmod -R did not reach the under-store: %v %v", fi.Mode(), err)
	}
	if out, err := c.run("alluxio", "fs", "chmod", "u+x", "/t"); err == nil || !strings.Contains(out, `"u+x"`) {
		t.Fatalf("chmod with a symbolic mode: err %v\n%s", err, out)
	}
	if out, err := c.run("alluxio", "fs", "chown", "no-such-user-here", "/t"); err == nil || !strings.Contains(out, "no-such-user-here") {
		t.Fatalf("chown to an unknown user: err %v\n%s", err, out)
	}

	for _, tc := range []struct {
		flag, path string
		want       bool
	}{
		{"-d", "/t", true}, {"-d", "/t/a", false}, {"-e", "/t/a", true}, {"-e", "/nope", false},
		{"-f", "/t/a", true}, {"-f", "/t", false}, {"-s", "/t/a", true}, {"-s", "/t/empty", false},
		{"-z", "/t/empty", true}, {"-z", "/t/a", false},
	} {
		_, err := c.run("alluxio", "fs", "test", tc.flag, tc.path)
		if (err == nil) != tc.want {
			t.Errorf("fs test %s %s: err %v, want true=%v", tc.flag, tc.path, err, tc.want)
		}
	}

	if out := c.must("alluxio", "fs", "getCapacityBytes"); !strings.Contains(out, "Capacity Bytes: 268435456") {
		t.Errorf("getCapacityBytes: %s", out)
	}
	out = c.must("alluxio", "fs", "distributedLoad", "--thread", "2", "/t")
	if !strings.Contains(out, "4 files loaded") {
		t.Fatalf("distributedLoad: %s", out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out := c.must("alluxio", "fs", "getUsedBytes")
		if strings.Contains(out, "Used Bytes: 3000") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("getUsedBytes after loading 3000 bytes: %s", out)
		}
		time.Sleep(300 * time.Millisecond)
	}

	if out := c.must("alluxio", "fs", "checkConsistency", "/t"); !strings.Contains(out, "is consistent") {
		t.Fatalf("checkConsistency of an untouched tree: %s", out)
	}
	if err := os.Remove(filepath.Join(c.ufs, "t", "b")); err != nil {
		t.Fatal(err)
	}
	out, err := c.run("alluxio", "fs", "checkConsistency", "/t")
	if err == nil || !strings.Contains(out, "/t/b: missing in the under-store") {
		t.Fatalf("checkConsistency after a removal: err %v\n%s", err, out)
	}
	c.must("alluxio", "fs", "checkConsistency", "-r", "/t")
	if out := c.must("alluxio", "fs", "checkConsistency", "/t"); !strings.Contains(out, "is consistent") {
		t.Fatalf("checkConsistency after -r: %s", out)
	}
}

// TestFsadminReports covers fsadmin report capacity|metrics|ufs.
func TestFsadminReports(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	worker := "127.0.0.1:" + c.props["alluxio.worker.rpc.port"]
	c.waitReport("Live Workers: 1", 15*time.Second)
	if out := c.must("alluxio", "fsadmin", "report", "capacity"); !strings.Contains(out, worker) ||
		!strings.Contains(out, "MEM") || !strings.Contains(out, "Total Capacity: 256.00MB") {
		t.Fatalf("report capacity:\n%s", out)
	}
	if out := c.must("alluxio", "fsadmin", "report", "metrics"); !strings.Contains(out, "Cluster.BytesReadCache") {
		t.Fatalf("report metrics:\n%s", out)
	}
	if out := c.must("alluxio", "fsadmin", "report", "ufs"); !strings.Contains(out, c.ufs+" on / (read-write") {
		t.Fatalf("report ufs:\n%s", out)
	}
	// Reads make counters; metrics clear zeroes them.
	if err := os.WriteFile(filepath.Join(c.ufs, "m"), []byte("metrics"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must("alluxio", "fs", "load", "/m")
	web := c.props["alluxio.worker.web.port"]
	if workerMetric(t, web, "Worker.BytesReadUfsAll") == 0 {
		t.Fatal("loading a file read nothing from the under-store")
	}
	c.must("alluxio", "fsadmin", "metrics", "clear")
	if n := workerMetric(t, web, "Worker.BytesReadUfsAll"); n != 0 {
		t.Fatalf("after metrics clear the worker counts %v bytes read from the under-store", n)
	}
	if out, err := c.run("alluxio", "fsadmin", "report", "everything"); err == nil {
		t.Fatalf("report with an unknown category succeeded:\n%s", out)
	}
}

// TestCopyDir: alluxio copyDir runs rsync to every host of conf/masters
// and conf/workers (an rsync on PATH that records its arguments stands in
// for the real one, which would need ssh to the hosts).
func TestCopyDir(t *testing.T) {
	c := newCluster(t, nil)
	fake := t.TempDir()
	record := filepath.Join(fake, "calls")
	script := "#!/bin/sh\necho \"$@\" >>" + record + "\ncase \"$4\" in bad:*) exit 3;; esac\n"
	if err := os.WriteFile(filepath.Join(fake, "rsync"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(c.home, "conf")
	os.WriteFile(filepath.Join(conf, "masters"), []byte("m1 # the master\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "workers"), []byte("w1\nw2\n\nm1\n"), 0o644)
	cmd := exec.Command(filepath.Join(c.home, "bin", "alluxio"), "copyDir", conf)
	cmd.Env = append(c.env(), "PATH="+fake+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copyDir: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(record)
	want := ""
	for _, h := range []string{"m1", "w1", "w2"} {
		want += fmt.Sprintf("-az --delete %s/ %s:%s/\n", conf, h, conf)
	}
	if string(calls) != want {
		t.Fatalf("rsync calls:\n%s\nwant:\n%s", calls, want)
	}
	os.WriteFile(filepath.Join(conf, "workers"), []byte("bad\n"), 0o644)
	cmd = exec.Command(filepath.Join(c.home, "bin", "alluxio"), "copyDir", conf)
	cmd.Env = append(c.env(), "PATH="+fake+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "rsync failed for bad") {
		t.Fatalf("copyDir with a failing host: %v\n%s", err, out)
	}
}

// TestLogLevel reads and sets the log level of the running master and
// worker with alluxio logLevel.
func TestLogLevel(t *testing.T) {
	c := newCluster(t, nil)
	c.start()
	c.waitReport("Live Workers: 1", 15*time.Second)
	out := c.must("alluxio", "logLevel")
	if strings.Count(out, "level INFO") != 2 {
		t.Fatalf("logLevel of master and worker:\n%s", out)
	}
	out = c.must("alluxio", "logLevel", "--target", "workers", "--level", "DEBUG")
	if !strings.Contains(out, "worker 127.0.0.1:"+c.props["alluxio.worker.web.port"]+": level DEBUG") {
		t.Fatalf("set the workers' level:\n%s", out)
	}
	out = c.must("alluxio", "logLevel", "--target", "127.0.0.1:"+c.props["alluxio.master.web.port"]+",workers")
	if !strings.Contains(out, ": level INFO") || !strings.Contains(out, ": level DEBUG") {
		t.Fatalf("levels after the change:\n%s", out)
	}
	if out, err := c.run("alluxio", "logLevel", "--level", "LOUD"); err == nil || !strings.Contains(out, "LOUD") {
		t.Fatalf("a bad level: err %v\n%s", err, out)
	}
}

// TestStartAllOverSSH: with conf/masters and conf/workers naming other
// hosts, alluxio-start.sh all starts each process through ssh (an ssh on
// PATH that runs the command here stands in for the hosts), and
// alluxio-stop.sh all stops them the same way. The worker's MEM tier is
// mounted as a tmpfs of its quota (Mount).
func TestStartAllOverSSH(t *testing.T) {
	c := newCluster(t, nil)
	tier := filepath.Join(c.home, "ramdisk")
	c.props["alluxio.worker.tieredstore.level0.dirs.path"] = tier
	c.props["alluxio.worker.tieredstore.level0.dirs.quota"] = "64MB"
	c.writeConf()
	t.Cleanup(func() { syscall.Unmount(tier, syscall.MNT_DETACH) }) // after the cluster's cleanup
	fake := t.TempDir()
	calls := filepath.Join(fake, "calls")
	ssh := "#!/bin/sh\necho \"$5\" >>" + calls + "\nshift 5\nexec bash -c \"$*\"\n"
	if err := os.WriteFile(filepath.Join(fake, "ssh"), []byte(ssh), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(c.home, "conf")
	os.WriteFile(filepath.Join(conf, "masters"), []byte("master-host\n"), 0o644)
	os.WriteFile(filepath.Join(conf, "workers"), []byte("# the workers\nworker-host\n"), 0o644)
	run := func(script string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(c.home, "bin", script), args...)
		cmd.Env = append(c.env(), "PATH="+fake+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
		return string(out)
	}
	out := run("alluxio-start.sh", "all", "Mount")
	if got, _ := os.ReadFile(calls); string(got) != "master-host\nworker-host\n" {
		t.Fatalf("ssh calls %q\n%s", got, out)
	}
	c.waitReport("Live Workers: 1", 15*time.Second)
	mounts, _ := os.ReadFile("/proc/mounts")
	if !strings.Contains(string(mounts), "tmpfs "+tier+" tmpfs rw") || !strings.Contains(string(mounts), "size=65536k") {
		t.Fatalf("Mount did not put a 64 MiB tmpfs at %s:\n%s", tier, mounts)
	}
	// With huge pages, where the kernel has them for tmpfs.
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/shmem_enabled"); err == nil &&
		!strings.Contains(string(mounts), "huge=within_size") {
		t.Errorf("Mount did not ask for huge pages (the kernel has them for tmpfs):\n%s", mounts)
	}
	if out := c.must("alluxio", "fsadmin", "report", "capacity"); !strings.Contains(out, tier) {
		t.Fatalf("the worker does not use the ramdisk:\n%s", out)
	}
	run("alluxio-stop.sh", "all")
	if got, _ := os.ReadFile(calls); string(got) != "master-host\nworker-host\nworker-host\nmaster-host\n" {
		t.Fatalf("ssh calls after stop %q", got)
	}
	for _, pf := range []string{"master.pid", "worker.pid"} {
		if _, err := os.Stat(filepath.Join(c.home, "logs", pf)); err == nil {
			t.Errorf("%s is still there after alluxio-stop.sh all", pf)
		}
	}
	if out, err := c.run("alluxio-start.sh", "worker", "Mountt"); err == nil || !strings.Contains(out, "Mountt") {
		t.Fatalf("a bad ramdisk option: err %v\n%s", err, out)
	}
}

// TestSmallVerbs runs the commands no other test needs: version,
// validateConf, fs touch, fsadmin ping, completion, --help and
// formatWorker.
func TestSmallVerbs(t *testing.T) {
	c := newCluster(t, nil)
	if out := c.must("alluxio", "version"); !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(out) {
		t.Errorf("version: %q", out)
	}
	if out := c.must("alluxio", "validateConf"); !strings.Contains(out, "Configuration is valid.") {
		t.Errorf("validateConf: %s", out)
	}
	if out, err := c.run("alluxio", "-Dalluxio.worker.rpc.port=seventy", "validateConf"); err == nil || !strings.Contains(out, "alluxio.worker.rpc.port") {
		t.Errorf("validateConf with a bad port: err %v\n%s", err, out)
	}
	if out, err := c.run("alluxio", "-Dalluxio.worker.block.annotator.class=bogus", "validateConf"); err == nil || !strings.Contains(out, "alluxio.worker.block.annotator.class") {
		t.Errorf("validateConf with an unknown eviction policy: err %v\n%s", err, out)
	}
	if out := c.must("alluxio", "fs", "cat", "--help"); !strings.Contains(out, "Usage of alluxio fs cat:") || !strings.Contains(out, "Example:") {
		t.Errorf("fs cat --help: %s", out)
	}
	if out := c.must("alluxio-fuse", "mount", "--help"); !strings.Contains(out, "Example:\n  alluxio-fuse mount") {
		t.Errorf("alluxio-fuse mount --help: %s", out)
	}
	if out := c.must("alluxio", "completion", "bash"); !strings.Contains(out, "complete -F _alluxio alluxio") {
		t.Errorf("completion bash: %s", out)
	}
	c.start()
	if out := c.must("alluxio", "fs", "touch", "/empty"); !strings.Contains(out, "/empty has been created") {
		t.Errorf("touch: %s", out)
	}
	if out, err := c.run("alluxio", "fs", "touch", "/empty"); err == nil {
		t.Errorf("touch of an existing file succeeded: %s", out)
	}
	if fi, err := os.Stat(filepath.Join(c.mnt, "empty")); err != nil || fi.Size() != 0 {
		t.Errorf("the touched file through the mount: %v %v", fi, err)
	}
	if out := c.must("alluxio", "fsadmin", "ping"); !strings.Contains(out, "Leader") {
		t.Errorf("fsadmin ping: %s", out)
	}
	if out, err := c.run("alluxio", "formatWorker"); err == nil {
		t.Errorf("formatWorker while the worker runs succeeded: %s", out)
	}
	c.must("alluxio-stop.sh", "local")
	c.must("alluxio", "formatWorker")
}

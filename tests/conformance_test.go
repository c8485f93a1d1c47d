package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// TestThirdPartyPrograms runs real programs from Debian's packages on the
// mount (tests/install-deps.sh installs them), once with the root on a
// local directory and once with the root on a bucket of a real S3 server
// (versitygw); each program fails the test on error.
func TestThirdPartyPrograms(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		c := newCluster(t, nil)
		c.start()
		runThirdPartyPrograms(t, c)
		checkStoreHoldsMount(t, c.mnt, c.ufs)
	})
	t.Run("s3", func(t *testing.T) {
		// S3's smallest part, so that fio's 16 MiB file goes up in a
		// multipart upload, and a MEM tier smaller than what the
		// programs write, so that reads go back to the bucket.
		c, bucket := newS3RootCluster(t, map[string]string{
			"alluxio.underfs.s3.multipart.part.size":       "5MB",
			"alluxio.worker.tieredstore.level0.dirs.quota": "8MB",
		})
		c.start()
		runThirdPartyPrograms(t, c)
		checkStoreHoldsMount(t, c.mnt, bucket)
	})
}

// checkStoreHoldsMount fails the test unless the under-store directory
// store (the local under-store, or the S3 server's posix backend) holds
// the names, sizes and bytes the mount shows: every file the programs
// wrote was closed, so it is persisted.
func checkStoreHoldsMount(t *testing.T, mnt, store string) {
	t.Helper()
	sm, errM := storeSnapshot(mnt)
	ss, errS := storeSnapshot(store)
	if errM != nil || errS != nil {
		t.Fatalf("describing the trees: mount %v, under-store %v", errM, errS)
	}
	if sm != ss {
		t.Fatalf("the under-store differs from the mount:\n%s", lineDiff(sm, ss))
	}
	t.Logf("the under-store holds the mount's %d entries", strings.Count(sm, "\n")+1)
}

// lineDiff lists the lines only one of two descriptions has.
func lineDiff(mount, store string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	a, b := in(mount), in(store)
	var out []string
	for l := range a {
		if !b[l] {
			out = append(out, "mount only:       "+l)
		}
	}
	for l := range b {
		if !a[l] {
			out = append(out, "under-store only: "+l)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// runThirdPartyPrograms runs the programs on the mount of c.
func runThirdPartyPrograms(t *testing.T, c *cluster) {
	_, file, _, _ := runtime.Caller(0)
	repo := filepath.Dir(filepath.Dir(file))
	src := t.TempDir()

	t.Run("git clone and fsck", func(t *testing.T) {
		origin := filepath.Join(src, "origin")
		sh(t, fmt.Sprintf("git init -q %[1]s && cd %[1]s && cp -r %[2]s/meta %[2]s/fuse . && git add -A && "+
			"git -c user.email=t@t -c user.name=t commit -qm init", origin, repo))
		sh(t, fmt.Sprintf("git clone -q %s %s/repo", origin, c.mnt))
		sh(t, fmt.Sprintf("cd %s/repo && git fsck --full && test -z \"$(git status --porcelain)\"", c.mnt))
		sh(t, fmt.Sprintf("cd %s/repo && echo change >> meta/doc.go && git -c user.email=t@t -c user.name=t commit -qam change && git fsck --full", c.mnt))
	})

	t.Run("tar extract and diff", func(t *testing.T) {
		sh(t, fmt.Sprintf("tar -C %s -cf %s/t.tar daemon ufs", repo, src))
		sh(t, fmt.Sprintf("mkdir %[1]s/tarx && tar -C %[1]s/tarx -xf %[2]s/t.tar && diff -r %[3]s/daemon %[1]s/tarx/daemon && diff -r %[3]s/ufs %[1]s/tarx/ufs",
			c.mnt, src, repo))
		// tar's own comparison: contents, modes, owners and modification
		// times (tar sets them on each open file before closing it).
		sh(t, fmt.Sprintf("tar -C %s/tarx -df %s/t.tar", c.mnt, src))
	})

	t.Run("rsync round trip", func(t *testing.T) {
		back := filepath.Join(src, "back")
		sh(t, fmt.Sprintf("rsync -a %s/cli/ %s/rs/ && rsync -a %s/rs/ %s/ && diff -r %s/cli %s",
			repo, c.mnt, c.mnt, back, repo, back))
		// A second rsync finds nothing to do: times and sizes round-trip.
		out := sh(t, fmt.Sprintf("rsync -a --itemize-changes %s/cli/ %s/rs/", repo, c.mnt))
		if strings.TrimSpace(out) != "" {
			t.Fatalf("second rsync changed files:\n%s", out)
		}
	})

	t.Run("sqlite transactions", func(t *testing.T) {
		// Each transaction creates, closes and unlinks a rollback
		// journal; a journal that came back after its unlink (the
		// kernel's release of it committing during the unlink) was
		// taken for a hot one and rolled a committed transaction back.
		// A few databases give that race several chances.
		script := "create table t(a integer primary key, b text);" +
			"begin;" + strings.Repeat("insert into t(b) values(hex(randomblob(200)));", 500) + "commit;" +
			"begin; update t set b = 'x' where a % 3 = 0; delete from t where a % 7 = 0; commit;" +
			"begin; insert into t(b) values('rolled back'); rollback;"
		for i := range 5 {
			db := filepath.Join(c.mnt, fmt.Sprintf("t%d.db", i))
			cmd := exec.Command("sqlite3", db, script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sqlite3 %s: %v\n%s", db, err, out)
			}
			out := sh(t, fmt.Sprintf("sqlite3 %s 'pragma integrity_check; select count(*) from t; select count(*) from t where b = \"rolled back\";'", db))
			if want := "ok\n429\n0\n"; out != want {
				t.Fatalf("sqlite3 %s after the transactions: %q, want %q", db, out, want)
			}
			if _, err := os.Stat(db + "-journal"); !os.IsNotExist(err) {
				t.Fatalf("%s-journal outlived its transaction: %v", db, err)
			}
		}
	})

	t.Run("fio verify", func(t *testing.T) {
		dir := filepath.Join(c.mnt, "fio")
		os.MkdirAll(dir, 0o755)
		sh(t, fmt.Sprintf("fio --name=w --directory=%s --rw=write --bs=64k --size=16m --verify=crc32c --do_verify=1 --verify_state_save=0 --ioengine=psync --output-format=terse >/dev/null", dir))
		sh(t, fmt.Sprintf("fio --name=r --directory=%s --rw=randwrite --bs=4k --size=4m --verify=crc32c --do_verify=1 --verify_state_save=0 --ioengine=psync --output-format=terse >/dev/null", dir))
	})
}

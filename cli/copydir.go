package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hostsOf reads a conf/masters or conf/workers file: one host a line,
// # comments; a missing file lists none.
func hostsOf(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hosts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line != "" {
			hosts = append(hosts, line)
		}
	}
	return hosts, sc.Err()
}

// copyDir copies a directory to the same path on every host in the
// conf dir's masters and workers files, with rsync over ssh, as Alluxio's
// `alluxio copyDir` does.
func copyDir(env *Env, args []string) error {
	if len(args) != 1 {
		return usageError("usage: alluxio copyDir <dir>")
	}
	dir, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return usageError("alluxio copyDir: %s is not a directory", args[0])
	}
	confDir := env.Conf.String("alluxio.conf.dir")
	seen := map[string]bool{}
	var hosts []string
	for _, name := range []string{"masters", "workers"} {
		hs, err := hostsOf(filepath.Join(confDir, name))
		if err != nil {
			return fmt.Errorf("copyDir: reading %s: %w", filepath.Join(confDir, name), err)
		}
		for _, h := range hs {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	if len(hosts) == 0 {
		return fmt.Errorf("copyDir: no hosts in %s/masters or %s/workers", confDir, confDir)
	}
	var failed []string
	for _, h := range hosts {
		fmt.Fprintf(env.Stdout, "RSYNC'ing %s to %s\n", dir, h)
		cmd := exec.Command("rsync", "-az", "--delete", dir+"/", h+":"+dir+"/")
		cmd.Stdout, cmd.Stderr = env.Stdout, env.Stderr
		if err := cmd.Run(); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", h, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("copyDir: rsync failed for %s", strings.Join(failed, ", "))
	}
	return nil
}

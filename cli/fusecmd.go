package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/fuse"
)

const fuseUsage = `Usage: alluxio-fuse [-Dkey=value ...] COMMAND
  mount [-o opt[,opt...]] [MOUNT_POINT [ALLUXIO_PATH]]   mount in the background
  umount MOUNT_POINT                                      unmount (also a dead mount)
  stat                                                    list mounts and their daemons
  run [-o opts] [MOUNT_POINT [ALLUXIO_PATH]]              serve in the foreground
`

// AlluxioFuse runs the `alluxio-fuse` command.
func AlluxioFuse(args []string) error {
	flags, rest, err := splitFlags(args)
	if err != nil {
		return usageError("%v", err)
	}
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Print(fuseUsage)
		return nil
	}
	verb, rest := rest[0], rest[1:]
	if wantsHelp(rest) {
		printHelp(os.Stdout, "alluxio-fuse "+verb, fuseUsage)
		return nil
	}
	withFlags := append(flagArgs(flags), rest...)
	switch verb {
	case "run":
		return runProcess("fuse", withFlags)
	case "mount":
		return fuseMount(flags, rest)
	}
	env, rest, err := loadEnv(withFlags, conf.RoleFuse, false)
	if err != nil {
		return err
	}
	switch verb {
	case "umount", "unmount":
		if len(rest) != 1 {
			return usageError("usage: alluxio-fuse umount MOUNT_POINT")
		}
		return fuseUmount(env, rest[0])
	case "stat":
		return fuseStat(env)
	}
	return usageError("alluxio-fuse: unknown command %q\n%s", verb, fuseUsage)
}

// pidFile is where the daemon serving a mount point records its PID.
func pidFile(c *conf.Config, mountPoint string) string {
	name := strings.ReplaceAll(strings.Trim(filepath.Clean(mountPoint), "/"), "/", "-")
	if name == "" {
		name = "root"
	}
	return filepath.Join(c.String("alluxio.logs.dir"), "fuse-"+name+".pid")
}

// fuseMount starts a FUSE daemon in the background and returns once the
// mount is up, or with the daemon's error if it could not mount.
func fuseMount(flags map[string]string, args []string) error {
	env, _, err := loadEnv(flagArgs(flags), conf.RoleFuse, false)
	if err != nil {
		return err
	}
	var mp string
	var operands, opts []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-o" && i+1 < len(args):
			opts = append(opts, args[i+1])
			i++
		case strings.HasPrefix(args[i], "-o"):
			opts = append(opts, args[i][2:])
		default:
			operands = append(operands, args[i])
		}
	}
	if len(operands) > 2 {
		return usageError("usage: alluxio-fuse mount [-o opts] MOUNT_POINT [ALLUXIO_PATH]")
	}
	if len(operands) > 0 {
		mp = operands[0]
	} else {
		mp = env.Conf.String("alluxio.fuse.mount.point")
	}
	mp, err = filepath.Abs(mp)
	if err != nil {
		return err
	}
	if err := fuse.CheckMountPoint(mp); err != nil {
		return err
	}
	logs := env.Conf.String("alluxio.logs.dir")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return fmt.Errorf("logs dir %s (alluxio.logs.dir): %w", logs, err)
	}
	pf := pidFile(env.Conf, mp)
	logPath := strings.TrimSuffix(pf, ".pid") + ".log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	runArgs := append([]string{"run"}, flagArgs(flags)...)
	for _, o := range opts {
		runArgs = append(runArgs, "-o", o)
	}
	runArgs = append(runArgs, mp)
	if len(operands) > 1 {
		runArgs = append(runArgs, operands[1])
	}
	start, _ := logf.Seek(0, 2)
	cmd := exec.Command(exe, runArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start fuse daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		// Mounted, and the daemon has said so: go-fuse looks at the
		// mount itself once it is up, and a daemon killed during that
		// look would leave a thread waiting on its own mount.
		if ok, _ := fuse.IsMounted(mp); ok && logged(logPath, start, fuseReadyLine) {
			// The PID, then the mount point, so that alluxio-stop.sh
			// unmounts this installation's mounts and no one else's.
			if err := os.WriteFile(pf, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"+mp+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Successfully mounted Alluxio to %s (pid %d)\n", mp, cmd.Process.Pid)
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("fuse daemon failed to mount %s (%v): %s", mp, err, lastError(logPath, start))
		case <-deadline:
			cmd.Process.Kill()
			fuse.Unmount(mp)
			return fmt.Errorf("fuse daemon did not mount %s within 60s; see %s", mp, logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fuseReadyLine is what the FUSE daemon prints once it serves its mount.
const fuseReadyLine = "FUSE daemon serving its mount"

// logged reports whether the daemon's log holds text after offset.
func logged(logPath string, offset int64, text string) bool {
	data, err := os.ReadFile(logPath)
	return err == nil && int64(len(data)) >= offset && strings.Contains(string(data[offset:]), text)
}

// lastError returns the daemon's last error line written since offset.
func lastError(logPath string, offset int64) string {
	data, err := os.ReadFile(logPath)
	if err != nil || int64(len(data)) < offset {
		return "see " + logPath
	}
	lines := strings.Split(strings.TrimSpace(string(data[offset:])), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "Error:") {
			return strings.TrimSpace(strings.TrimPrefix(lines[i], "Error:"))
		}
	}
	if len(lines) > 0 && lines[len(lines)-1] != "" {
		return lines[len(lines)-1]
	}
	return "see " + logPath
}

// fuseUmount stops the daemon of a mount point and makes sure nothing is
// left mounted, including the dead mount of a daemon killed with -9.
func fuseUmount(env *Env, mp string) error {
	mp, err := filepath.Abs(mp)
	if err != nil {
		return err
	}
	pf := pidFile(env.Conf, mp)
	if pid, err := readPid(pf); err == nil && alive(pid) {
		syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.Remove(pf)
	if mounted, _ := fuse.IsMounted(mp); mounted {
		if err := fuse.Unmount(mp); err != nil {
			return err
		}
	} else if _, err := os.Stat(mp); err != nil && !errors.Is(err, syscall.ENOTCONN) {
		return fmt.Errorf("umount %s: %w", mp, err)
	}
	fmt.Fprintf(env.Stdout, "Unmounted %s\n", mp)
	return nil
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(data), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie (exited, not yet reaped) counts as gone.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := strings.LastIndexByte(string(data), ')'); i > 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

func fuseStat(env *Env) error {
	mounts, err := fuse.Mounts()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%-8s %-30s %-20s %s\n", "pid", "mount_point", "alluxio_path", "state")
	for _, m := range mounts {
		if m.Type != "fuse.alluxio" {
			continue
		}
		state, pid := "running", "-"
		if p, err := readPid(pidFile(env.Conf, m.Dir)); err == nil {
			pid = strconv.Itoa(p)
			if !alive(p) {
				state = "dead (run alluxio-fuse umount)"
			}
		}
		if _, err := os.Stat(m.Dir); errors.Is(err, syscall.ENOTCONN) {
			state = "dead (run alluxio-fuse umount)"
		}
		fmt.Fprintf(env.Stdout, "%-8s %-30s %-20s %s\n", pid, m.Dir, strings.TrimPrefix(m.Source, "alluxio:"), state)
	}
	return nil
}

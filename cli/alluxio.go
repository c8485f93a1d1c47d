package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alluxio-go/alluxio/daemon"
	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
)

const alluxioUsage = `Usage: alluxio [-Dkey=value ...] COMMAND [ARGS]

COMMAND is one of:
  format [-s]          format the master journal and the worker storage
  formatJournal [--token T]  format the master journal (refused while a master runs);
                       with a token (or ALLUXIO_FORMAT_TOKEN), only once per token
  formatWorker         remove the worker's cached pages
  fs                   file system commands (alluxio fs help)
  fsadmin report       cluster summary, with every master's Raft state and lag
  fsadmin journal quorum info|remove|elect   the master group (alluxio fsadmin help)
  runTests             write and read test files with every read/write type
  runTest Basic READTYPE WRITETYPE
  getConf [--unit U] [KEY]  print configuration (sizes in unit U: B, KB, MB, GB, TB)
  validateConf         check the configuration and report problems
  copyDir DIR          rsync DIR to the hosts in conf/masters and conf/workers
  logLevel [--target master,workers,HOST:PORT] [--level LEVEL]
                       print or set the log level of running processes
  version              print the version
  completion bash|zsh  print a shell completion script
  process master|worker|fuse   run one process in the foreground
`

// Alluxio runs the `alluxio` command.
func Alluxio(args []string) error {
	flags, rest, err := splitFlags(args)
	if err != nil {
		return usageError("%v", err)
	}
	if len(rest) == 0 || rest[0] == "help" || rest[0] == "-h" || rest[0] == "--help" {
		fmt.Print(alluxioUsage)
		return nil
	}
	verb, rest := rest[0], rest[1:]
	if wantsHelp(rest) {
		return commandHelp(verb, rest)
	}
	withFlags := append(flagArgs(flags), rest...)
	switch verb {
	case "completion":
		if len(rest) != 1 {
			return usageError("usage: alluxio completion bash|zsh")
		}
		return completionScript(os.Stdout, rest[0])
	case "version":
		fmt.Println(daemon.Version)
		return nil
	case "process":
		if len(rest) < 1 {
			return usageError("usage: alluxio process master|worker|fuse")
		}
		return runProcess(rest[0], append(flagArgs(flags), rest[1:]...))
	}
	env, rest, err := loadEnv(withFlags, conf.RoleUser, false)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	switch verb {
	case "format":
		return format(env, rest, true, true)
	case "formatJournal", "formatMasters":
		return format(env, rest, true, false)
	case "formatWorker", "formatWorkers":
		return format(env, rest, false, true)
	case "fs":
		return fsCommand(ctx, env, rest)
	case "fsadmin":
		return fsadmin(ctx, env, rest)
	case "runTests":
		return runTests(ctx, env, rest)
	case "runTest":
		return runTest(ctx, env, rest)
	case "getConf":
		return getConf(env, rest)
	case "copyDir":
		return copyDir(env, rest)
	case "logLevel":
		return logLevel(ctx, env, rest)
	case "validateConf":
		for _, w := range env.Conf.Warnings() {
			fmt.Fprintln(env.Stdout, "WARN:", w)
		}
		// What only the worker reads is checked when it starts; check it here too.
		if err := daemon.WorkerConfigFrom(env.Conf, env.Log).Store.Check(); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "Configuration is valid.")
		return nil
	}
	return usageError("alluxio: unknown command %q\n%s", verb, alluxioUsage)
}

func flagArgs(flags map[string]string) []string {
	var out []string
	for k, v := range flags {
		out = append(out, "-D"+k+"="+v)
	}
	sort.Strings(out)
	return out
}

// newClient returns a client of the master group and the local worker.
func newClient(env *Env) *client.Client {
	cfg := daemon.ClientConfigFrom(env.Conf, env.Log)
	cfg.Caller = osCaller()
	return client.New(cfg)
}

// format resets the journal and/or the worker's cached pages. Formatting
// the journal alone takes a format token: --token T, or else the
// environment's ALLUXIO_FORMAT_TOKEN (see meta.FormatJournalFor).
func format(env *Env, args []string, journal, worker bool) error {
	var token string
	if journal && !worker {
		var err error
		if token, err = formatToken(args); err != nil {
			return err
		}
	}
	if journal {
		cfg := meta.Config{JournalDir: env.Conf.String("alluxio.master.journal.folder")}
		if mc, err := daemon.MasterConfigFrom(env.Conf, env.Log); err == nil {
			cfg = mc.Meta
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		formatted, err := meta.FormatJournalFor(ctx, cfg, token)
		if err != nil {
			return err
		}
		if !formatted {
			fmt.Fprintf(env.Stdout, "journal %s was already formatted for %s; not formatting again\n", ufs.Redact(cfg.JournalDir), token)
		} else if token != "" {
			fmt.Fprintf(env.Stdout, "Formatted journal %s for %s\n", ufs.Redact(cfg.JournalDir), token)
		} else {
			fmt.Fprintf(env.Stdout, "Formatted journal %s\n", ufs.Redact(cfg.JournalDir))
		}
	}
	if worker {
		sock := env.Conf.String("alluxio.worker.data.server.domain.socket.address")
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return fmt.Errorf("format worker storage: a worker is running (it answers on %s); stop it first", sock)
		}
		// ASYNC_THROUGH files whose upload is pending exist only in the
		// worker's cache.
		queue := daemon.PersistQueueDir(daemon.WorkerConfigFrom(env.Conf, env.Log).Store)
		if entries, _ := os.ReadDir(queue); len(entries) > 0 {
			return fmt.Errorf("format worker storage: %d file(s) written ASYNC_THROUGH are not persisted yet "+
				"(%s); start the worker to persist them, or remove that directory to drop them", len(entries), queue)
		}
		folder := strings.Trim(env.Conf.String("alluxio.worker.data.folder"), "/")
		for _, t := range env.Conf.Tiers() {
			for _, d := range t.Dirs {
				p := filepath.Join(d, folder)
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("format worker storage %s: %w", p, err)
				}
				fmt.Fprintf(env.Stdout, "Formatted worker storage %s\n", p)
			}
		}
	}
	return nil
}

// formatToken returns the format token of formatJournal's arguments:
// --token T or --token=T, else $ALLUXIO_FORMAT_TOKEN.
func formatToken(args []string) (string, error) {
	token, given := "", false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--token":
			if i+1 >= len(args) || args[i+1] == "" {
				return "", usageError("alluxio formatJournal --token needs a value")
			}
			token, given = args[i+1], true
			i++
		case strings.HasPrefix(a, "--token="):
			token, given = strings.TrimPrefix(a, "--token="), true
			if token == "" {
				return "", usageError("alluxio formatJournal --token needs a value")
			}
		default:
			return "", usageError("alluxio formatJournal: unexpected argument %q (usage: alluxio formatJournal [--token T])", a)
		}
	}
	if !given {
		token = os.Getenv("ALLUXIO_FORMAT_TOKEN")
	}
	return token, nil
}

func getConf(env *Env, args []string) error {
	var unit string
	if len(args) >= 2 && args[0] == "--unit" {
		unit, args = strings.ToUpper(args[1]), args[2:]
	}
	if len(args) > 0 {
		key := args[0]
		if _, ok := env.Conf.Lookup(key); !ok {
			return fmt.Errorf("%s: unknown property", key)
		}
		if unit != "" {
			return printInUnit(env, key, unit)
		}
		fmt.Fprintln(env.Stdout, env.Conf.Masked(key))
		return nil
	}
	if unit != "" {
		return usageError("alluxio getConf --unit needs a property key")
	}
	for _, k := range env.Conf.Keys() {
		fmt.Fprintf(env.Stdout, "%s=%s\n", k, env.Conf.Masked(k))
	}
	return nil
}

// printInUnit prints a size (or a list of sizes) in unit: B, KB, MB, GB,
// TB (powers of 1024, as Alluxio's getConf --unit).
func printInUnit(env *Env, key, unit string) error {
	div := map[string]int64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
	if div == 0 {
		return usageError("alluxio getConf --unit %s: want B, KB, MB, GB or TB", unit)
	}
	var out []string
	for _, item := range env.Conf.Strings(key) {
		n, err := conf.ParseBytes(item)
		if err != nil {
			return fmt.Errorf("%s=%s is not a size: %w", key, env.Conf.Masked(key), err)
		}
		out = append(out, strconv.FormatInt(n/div, 10))
	}
	fmt.Fprintln(env.Stdout, strings.Join(out, ","))
	return nil
}

// humanBytes formats a byte count as the CLI shows sizes.
func humanBytes(n int64) string { return conf.HumanBytes(n) }

// runProcess runs a master, worker or FUSE daemon in the foreground until
// SIGTERM/SIGINT.
func runProcess(kind string, args []string) error {
	role, ok := map[string]conf.Role{"master": conf.RoleMaster, "worker": conf.RoleWorker, "fuse": conf.RoleFuse}[kind]
	if !ok {
		return usageError("alluxio process: unknown process %q (master, worker or fuse)", kind)
	}
	env, rest, err := loadEnv(args, role, true)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	switch kind {
	case "master":
		mc, err := daemon.MasterConfigFrom(env.Conf, env.Log)
		if err != nil {
			return err
		}
		m, err := daemon.StartMaster(ctx, mc)
		if err != nil {
			return err
		}
		<-ctx.Done()
		env.Log.Info("master stopping")
		return m.Close()
	case "worker":
		w, err := daemon.StartWorker(ctx, daemon.WorkerConfigFrom(env.Conf, env.Log))
		if err != nil {
			return err
		}
		<-ctx.Done()
		env.Log.Info("worker stopping")
		return w.Close()
	default:
		return serveFuse(ctx, env, rest)
	}
}

// serveFuse mounts and serves until a signal or an external unmount.
func serveFuse(ctx context.Context, env *Env, args []string) error {
	var mp, path string
	var opts []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-o" && i+1 < len(args):
			opts = append(opts, strings.Split(args[i+1], ",")...)
			i++
		case strings.HasPrefix(args[i], "-o"):
			opts = append(opts, strings.Split(args[i][2:], ",")...)
		case mp == "":
			mp = args[i]
		case path == "":
			path = args[i]
		default:
			return usageError("unexpected argument %q", args[i])
		}
	}
	d, err := daemon.StartFuse(ctx, daemon.FuseConfigFrom(env.Conf, mp, path, opts, env.Log))
	if err != nil {
		return err
	}
	// What alluxio-fuse mount waits for, whatever the log level.
	fmt.Fprintln(env.Stdout, fuseReadyLine)
	done := make(chan struct{})
	go func() { d.Wait(); close(done) }()
	select {
	case <-ctx.Done():
		env.Log.Info("fuse daemon stopping; unmounting")
		if err := d.Close(); err != nil {
			return err
		}
		<-done
	case <-done:
		env.Log.Info("mount point was unmounted")
	}
	return nil
}

// osCaller is the user running the command, whom the masters check
// permissions for.
func osCaller() *meta.Caller {
	c := &meta.Caller{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	if groups, err := os.Getgroups(); err == nil {
		for _, g := range groups {
			c.Groups = append(c.Groups, uint32(g))
		}
	}
	return c
}

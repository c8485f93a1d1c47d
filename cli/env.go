// Package cli implements the `alluxio` and `alluxio-fuse` commands with
// Alluxio's verbs.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/alluxio-go/alluxio/daemon/conf"
)

// Env is what every command gets: its configuration, output streams and a
// logger.
type Env struct {
	Conf   *conf.Config
	Stdout io.Writer
	Stderr io.Writer
	Log    *slog.Logger
}

// splitFlags takes -Dkey=value and --conf key=value arguments out of args.
func splitFlags(args []string) (map[string]string, []string, error) {
	flags := map[string]string{}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "-D") && strings.Contains(a, "="):
			k, v, _ := strings.Cut(a[2:], "=")
			flags[k] = v
		case a == "--conf":
			if i+1 >= len(args) || !strings.Contains(args[i+1], "=") {
				return nil, nil, fmt.Errorf("--conf wants key=value")
			}
			k, v, _ := strings.Cut(args[i+1], "=")
			flags[k] = v
			i++
		default:
			rest = append(rest, a)
		}
	}
	return flags, rest, nil
}

// home finds ALLUXIO_HOME: the environment, else the directory above the
// running binary's bin/ (following symlinks, so /usr/local/bin/alluxio ->
// /opt/alluxio/bin/alluxio gives /opt/alluxio).
func home() string {
	if h := os.Getenv("ALLUXIO_HOME"); h != "" {
		return h
	}
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Dir(filepath.Dir(exe))
}

// loadEnv loads the configuration for a command run as role.
func loadEnv(args []string, role conf.Role, verbose bool) (*Env, []string, error) {
	flags, rest, err := splitFlags(args)
	if err != nil {
		return nil, nil, err
	}
	c, err := conf.Load(conf.LoadOptions{Home: home(), Flags: flags, Role: role})
	if err != nil {
		return nil, nil, err
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	if lv := c.String("alluxio.log.level"); verbose && lv != "" {
		level = parseLevel(lv)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	for _, w := range c.Warnings() {
		log.Warn(w)
	}
	return &Env{Conf: c, Stdout: os.Stdout, Stderr: os.Stderr, Log: log}, rest, nil
}

func parseLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// exitError carries an exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// usageError is a command-line mistake (exit status 2).
func usageError(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// Exit prints err and exits with its status.
func Exit(err error) {
	if err == nil {
		os.Exit(0)
	}
	e, ok := err.(*exitError)
	if ok && e.err == nil {
		os.Exit(e.code) // an answer, not a failure (alluxio fs test)
	}
	fmt.Fprintln(os.Stderr, "Error:", err)
	if ok {
		os.Exit(e.code)
	}
	os.Exit(1)
}

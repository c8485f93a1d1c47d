// Command fileops measures the small-file operations of a mounted file
// system, one at a time as a simple program makes them: it creates -n
// files of -size bytes in a new directory (open O_CREAT|O_EXCL, write,
// close), stats each, reads the directory, and unlinks each. It prints one
// line: the operations per second of the four phases, in that order
// (a readdir "operation" is one entry returned). -hook runs a command
// around each phase, outside its timing (CPU counters, profilers).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "", "a directory on the file system to measure; a new subdirectory is made in it")
	n := flag.Int("n", 1000, "files")
	size := flag.Int("size", 1024, "bytes written to each file")
	hook := flag.String("hook", "", "a shell command run, and waited for, just before and just after each phase, with two arguments: begin or end, and the phase (create, stat, readdir or unlink); its output goes to stderr")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("fileops: ")
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	d := filepath.Join(*dir, fmt.Sprintf("fileops-%d", time.Now().UnixNano()))
	if err := os.Mkdir(d, 0o755); err != nil {
		log.Fatal(err)
	}
	names := make([]string, *n)
	for i := range names {
		names[i] = filepath.Join(d, fmt.Sprintf("f%05d", i))
	}
	data := make([]byte, *size)
	for i := range data {
		data[i] = byte(i)
	}
	rate := func(phase string, ops int, f func() error) float64 {
		runHook(*hook, "begin", phase)
		start := time.Now()
		if err := f(); err != nil {
			log.Fatal(err)
		}
		secs := time.Since(start).Seconds()
		runHook(*hook, "end", phase)
		return float64(ops) / secs
	}
	create := rate("create", *n, func() error {
		for _, name := range names {
			f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		return nil
	})
	stat := rate("stat", *n, func() error {
		for _, name := range names {
			fi, err := os.Stat(name)
			if err != nil {
				return err
			}
			if fi.Size() != int64(*size) {
				return fmt.Errorf("%s: %d bytes, want %d", name, fi.Size(), *size)
			}
		}
		return nil
	})
	readdir := rate("readdir", *n, func() error {
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		if len(entries) != *n {
			return fmt.Errorf("%s lists %d entries, want %d", d, len(entries), *n)
		}
		return nil
	})
	unlink := rate("unlink", *n, func() error {
		for _, name := range names {
			if err := os.Remove(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err := os.Remove(d); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f %.0f %.0f %.0f\n", create, stat, readdir, unlink)
}

// runHook runs the shell command line, when there is one, with the
// arguments event and phase, its output going to stderr.
func runHook(line, event, phase string) {
	if line == "" {
		return
	}
	cmd := exec.Command("sh", "-c", line+` "$@"`, "hook", event, phase)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("hook %s %s: %v", event, phase, err)
	}
}

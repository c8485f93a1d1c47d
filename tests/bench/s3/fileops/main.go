// Command fileops measures the small-file operations of a mounted file
// system, one at a time as a simple program makes them: it creates -n
// files of -size bytes in a new directory (open O_CREAT|O_EXCL, write,
// close), stats each, reads the directory, and unlinks each. It prints one
// line: the operations per second of the four phases, in that order
// (a readdir "operation" is one entry returned).
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
	beforeUnlink := flag.String("before-unlink", "", "a shell command started (not waited for) as the unlink phase begins, such as a profiler's")
	afterUnlink := flag.String("after-unlink", "", "a shell command run as the unlink phase ends")
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
	rate := func(ops int, f func() error) float64 {
		start := time.Now()
		if err := f(); err != nil {
			log.Fatal(err)
		}
		return float64(ops) / time.Since(start).Seconds()
	}
	create := rate(*n, func() error {
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
	stat := rate(*n, func() error {
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
	readdir := rate(*n, func() error {
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		if len(entries) != *n {
			return fmt.Errorf("%s lists %d entries, want %d", d, len(entries), *n)
		}
		return nil
	})
	if cmd := startHook(*beforeUnlink); cmd != nil {
		defer cmd.Wait()
	}
	unlink := rate(*n, func() error {
		for _, name := range names {
			if err := os.Remove(name); err != nil {
				return err
			}
		}
		return nil
	})
	if cmd := startHook(*afterUnlink); cmd != nil {
		if err := cmd.Wait(); err != nil {
			log.Fatal(err)
		}
	}
	if err := os.Remove(d); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.0f %.0f %.0f %.0f\n", create, stat, readdir, unlink)
}

// startHook starts the shell command line, its output going to stderr, or
// returns nil when line is empty.
func startHook(line string) *exec.Cmd {
	if line == "" {
		return nil
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	return cmd
}

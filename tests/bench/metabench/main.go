// Command metabench measures metadata rates of one directory from one
// process, as `make bench` reports them for the mount, tmpfs and the
// go-fuse loopback: create (open O_CREAT|O_EXCL and close) of n empty
// files, stat of each, readdir of the directory with a stat of every
// entry (ls -l), and unlink of each. With -drop the kernel's dentry and
// inode caches are dropped before each phase but the first, so that stat
// and unlink ask the file system rather than the cache. It prints one
// "phase ops/s" line per phase.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory to work in (made if missing)")
	n := flag.Int("n", 10000, "files")
	drop := flag.Bool("drop", false, "drop the kernel's dentry and inode caches before stat, readdir and unlink (root)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("usage: metabench -dir DIR [-n 10000] [-drop]")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	names := make([]string, *n)
	for i := range names {
		names[i] = filepath.Join(*dir, fmt.Sprintf("f%06d", i))
	}
	phase := func(name string, ops int, do func() error) {
		if *drop && name != "create" {
			dropCaches()
		}
		start := time.Now()
		if err := do(); err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		fmt.Printf("%s %.0f\n", name, float64(ops)/time.Since(start).Seconds())
	}
	phase("create", *n, func() error {
		for _, p := range names {
			fd, err := syscall.Open(p, syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if err := syscall.Close(fd); err != nil {
				return fmt.Errorf("close %s: %w", p, err)
			}
		}
		return nil
	})
	phase("stat", *n, func() error {
		var st syscall.Stat_t
		for _, p := range names {
			if err := syscall.Lstat(p, &st); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	phase("readdir+stat", *n, func() error {
		f, err := os.Open(*dir)
		if err != nil {
			return err
		}
		defer f.Close()
		entries, err := f.Readdirnames(-1)
		if err != nil {
			return err
		}
		if len(entries) != *n {
			return fmt.Errorf("readdir: %d entries, want %d", len(entries), *n)
		}
		var st syscall.Stat_t
		for _, e := range entries {
			if err := syscall.Lstat(filepath.Join(*dir, e), &st); err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
		}
		return nil
	})
	phase("unlink", *n, func() error {
		for _, p := range names {
			if err := syscall.Unlink(p); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
}

// dropCaches writes back dirty data and drops the dentry and inode caches.
func dropCaches() {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0o200); err != nil {
		log.Fatalf("drop caches: %v", err)
	}
}

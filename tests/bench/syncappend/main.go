// Command syncappend measures the floor of a durable metadata change on a
// disk: appends of -size bytes to a file in -dir, each followed by
// fdatasync, as the master's Raft log makes one per change (its segment
// runs ahead in zeros, so an append rewrites blocks the file has). It
// prints appends per second: no durable create or unlink through the mount
// can be faster, whatever else it costs. With -gap it sleeps that long
// before each append and counts only the appends' own time: a request
// chain leaves the disk and the CPU idle between its syncs, and on some
// machines (virtual ones) a sync issued after idling takes much longer
// than one issued back to back.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	dir := flag.String("dir", "", "directory on the disk to measure")
	n := flag.Int("n", 5000, "appends")
	size := flag.Int("size", 300, "bytes per append (about one create's journal entry)")
	gap := flag.Duration("gap", 0, "idle time before each append, left out of the rate")
	flag.Parse()
	if *dir == "" {
		log.Fatal("usage: syncappend -dir DIR [-n 5000] [-size 300] [-gap 1ms]")
	}
	f, err := os.CreateTemp(*dir, "syncappend-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(filepath.Join(*dir, filepath.Base(f.Name())))
	defer f.Close()
	// Zeros ahead of the appends, synced, as the log writes them.
	if _, err := f.Write(make([]byte, *n**size+4096)); err != nil {
		log.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	b := make([]byte, *size)
	var spent time.Duration
	for i := range *n {
		if *gap > 0 {
			time.Sleep(*gap)
		}
		start := time.Now()
		if _, err := f.WriteAt(b, int64(i**size)); err != nil {
			log.Fatal(err)
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			log.Fatal(err)
		}
		spent += time.Since(start)
	}
	fmt.Printf("%.0f\n", float64(*n)/spent.Seconds())
}

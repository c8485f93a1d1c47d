// Command loopback is the benchmark's FUSE ceiling: go-fuse's own loopback
// file system over a directory, with the same request size the mount uses
// and kernel passthrough off, so the figure is what user-space FUSE can do
// on this machine.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func main() {
	// The metadata rows give it the mount's entry and attribute
	// timeouts (1s); the read rows leave them at 0.
	timeout := flag.Duration("timeout", 0, "entry and attribute timeout")
	flag.Parse()
	if flag.NArg() != 2 {
		log.Fatal("usage: loopback DIR MOUNTPOINT")
	}
	root, err := fs.NewLoopbackRoot(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	server, err := fs.Mount(flag.Arg(1), root, &fs.Options{EntryTimeout: timeout, AttrTimeout: timeout, MountOptions: fuse.MountOptions{
		DirectMount: true, MaxWrite: 1 << 20, MaxReadAhead: 1 << 20, Name: "loopback",
		DisabledCapabilities: fuse.CAP_PASSTHROUGH,
	}})
	if err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; server.Unmount() }()
	server.Wait()
}

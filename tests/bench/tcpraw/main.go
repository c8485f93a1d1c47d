// Command tcpraw measures the baseline of a remote-worker read: streaming
// bytes from memory over one TCP connection on the loopback interface, read
// in 1 MiB pieces. It prints the best GB/s of -runs runs.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"time"
)

func main() {
	sizeMiB := flag.Int64("size", 1024, "MiB to stream per run")
	runs := flag.Int("runs", 3, "runs; the best is printed")
	flag.Parse()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	total := *sizeMiB << 20
	go func() {
		buf := make([]byte, 4<<20)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for sent := int64(0); sent < total; {
					n, err := c.Write(buf[:min(int64(len(buf)), total-sent)])
					if err != nil {
						return
					}
					sent += int64(n)
				}
			}()
		}
	}()
	best := 0.0
	buf := make([]byte, 1<<20)
	for i := 0; i < *runs; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{c}, buf)
		secs := time.Since(start).Seconds()
		c.Close()
		if err != nil || n != total {
			log.Fatalf("read %d of %d bytes: %v", n, total, err)
		}
		best = max(best, float64(n)/secs/1e9)
	}
	fmt.Printf("%.2f\n", best)
}

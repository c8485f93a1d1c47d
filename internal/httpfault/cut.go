// Package httpfault makes an HTTP answer fail on purpose, for tests of how
// clients (the S3 under-store, the mount above it) survive a server that
// breaks off.
package httpfault

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// CutWriter passes Left bytes of a response body through and then fails
// the connection: at once, or, with Stall set, after flushing what went
// through and stalling until Ctx ends (the client gave up) or Stall has
// passed.
type CutWriter struct {
	http.ResponseWriter
	Left  int
	Stall time.Duration
	Ctx   context.Context
}

// Write implements http.ResponseWriter.
func (c *CutWriter) Write(p []byte) (int, error) {
	n := 0
	if c.Left > 0 {
		// A short write would make a proxy give up on the body at
		// once: pass what is left, then break here.
		k := min(len(p), c.Left)
		var err error
		n, err = c.ResponseWriter.Write(p[:k])
		c.Left -= n
		if err != nil || n == len(p) {
			return n, err
		}
	}
	if c.Stall > 0 {
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-c.Ctx.Done():
		case <-time.After(c.Stall):
		}
	}
	return n, errors.New("connection cut by the test")
}

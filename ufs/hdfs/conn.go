package hdfs

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// errConnBroken is the error of a namenode connection that failed once:
// colinmarc/hdfs keeps a connection after a read error, so the store
// closes it, and the next call reconnects instead of reading a stale
// answer.
var errConnBroken = errors.New("namenode connection broken by an earlier error")

// nnConn is a namenode connection whose every read and write must finish
// within the request timeout. colinmarc/hdfs sets no deadline of its own
// on namenode calls.
type nnConn struct {
	net.Conn
	timeout time.Duration

	mu     sync.Mutex // guards broken
	broken bool
}

func (c *nnConn) Read(b []byte) (int, error) {
	if c.isBroken() {
		return 0, errConnBroken
	}
	if c.timeout > 0 {
		c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		c.fail()
	}
	return n, err
}

func (c *nnConn) Write(b []byte) (int, error) {
	if c.isBroken() {
		return 0, errConnBroken
	}
	if c.timeout > 0 {
		c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	n, err := c.Conn.Write(b)
	if err != nil {
		c.fail()
	}
	return n, err
}

func (c *nnConn) isBroken() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.broken
}

// fail closes the connection for good after an error.
func (c *nnConn) fail() {
	c.mu.Lock()
	c.broken = true
	c.mu.Unlock()
	c.Conn.Close()
}

// dnConn is a datanode connection read through a buffer. The store reads
// files in pieces smaller than a checksum chunk (see reader), which
// colinmarc/hdfs turns into a socket read each; the buffer makes them
// cheap.
type dnConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *dnConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// dialNamenode connects to a namenode within the connect timeout.
func (s *Store) dialNamenode(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: s.cfg.connectTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &nnConn{Conn: conn, timeout: s.cfg.timeout}, nil
}

// dialDatanode connects to a datanode within the connect timeout.
// colinmarc/hdfs sets the deadlines the reader and writer ask for.
func (s *Store) dialDatanode(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: s.cfg.connectTimeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &dnConn{Conn: conn, r: bufio.NewReaderSize(conn, 128<<10)}, nil
}

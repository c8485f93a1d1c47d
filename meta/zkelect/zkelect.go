// Package zkelect elects the leading master through ZooKeeper, the way
// Alluxio's UFS-journal masters do: every candidate holds an ephemeral
// sequential node under the election path, and the one with the lowest
// sequence number leads. The node's data is the candidate's client RPC
// address, so clients find the leader by reading the election path.
package zkelect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// DefaultElectionPath is Alluxio's default alluxio.zookeeper.election.path.
const DefaultElectionPath = "/alluxio/election"

// nodePrefix names election nodes: <prefix><10-digit sequence>.
const nodePrefix = "n_"

// Config says where the election takes place.
type Config struct {
	// Servers are the ZooKeeper host:port addresses.
	Servers []string
	// Path is the election path (DefaultElectionPath when empty).
	Path string
	// SessionTimeout is ZooKeeper's session timeout: how long a leader
	// that stopped talking to ZooKeeper keeps its node.
	SessionTimeout time.Duration
	// Logger receives the election's and the ZooKeeper client's logs.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Path == "" {
		c.Path = DefaultElectionPath
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Leadership is a change of this candidate's role.
type Leadership struct {
	// Leading is set when this candidate became leader and clear when it
	// stopped being one.
	Leading bool
	// Seq is the sequence number of the election node that won: it grows
	// with every candidacy, so a later leader has a larger one.
	Seq uint64
}

// Candidate takes part in the election until Close.
type Candidate struct {
	cfg    Config
	data   []byte
	conn   *zk.Conn
	events <-chan zk.Event
	log    *slog.Logger

	changes chan Leadership
	resign  chan struct{}
	stop    chan struct{}
	done    chan struct{}

	mu      sync.Mutex // guards leading
	leading bool
}

// Join connects to ZooKeeper and starts running for leader with data (the
// candidate's RPC address) on its node. Leadership changes arrive on
// Changes, which must be read.
func Join(cfg Config, data string) (*Candidate, error) {
	cfg.defaults()
	conn, events, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	c := &Candidate{
		cfg: cfg, data: []byte(data), conn: conn, events: events, log: cfg.Logger.With("component", "zkelect"),
		changes: make(chan Leadership, 4), resign: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go c.run()
	return c, nil
}

func connect(cfg Config) (*zk.Conn, <-chan zk.Event, error) {
	if len(cfg.Servers) == 0 {
		return nil, nil, fmt.Errorf("zookeeper: no server address (alluxio.zookeeper.address): %w", syscall.EINVAL)
	}
	conn, events, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{cfg.Logger.With("component", "zookeeper")}), zk.WithLogInfo(false))
	if err != nil {
		return nil, nil, fmt.Errorf("zookeeper %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	return conn, events, nil
}

// Changes delivers leadership changes, in order.
func (c *Candidate) Changes() <-chan Leadership { return c.changes }

// Leading reports whether this candidate leads now.
func (c *Candidate) Leading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading
}

// Resign gives up leadership (or the place in line) and stands again, at
// the back of the line.
func (c *Candidate) Resign() {
	select {
	case c.resign <- struct{}{}:
	default:
	}
}

// Leader returns the current leader's data and every candidate's, read
// from ZooKeeper.
func (c *Candidate) Leader() (string, []string, error) {
	return leaderOf(c.conn, c.cfg.Path)
}

// Close withdraws from the election (a leader's node is deleted, so
// another candidate takes over at once) and disconnects.
func (c *Candidate) Close() error {
	close(c.stop)
	<-c.done
	c.conn.Close()
	return nil
}

// run stands for election until Close: it creates a node, waits for its
// turn by watching the node before it, leads while its node lives, and
// stands again when the session expires or on Resign.
func (c *Candidate) run() {
	defer close(c.done)
	for {
		node, err := c.stand()
		if err == nil {
			err = c.follow(node)
			c.setLeading(false, 0)
			c.withdraw(node)
		}
		if errors.Is(err, errStopped) {
			return
		}
		if err != nil {
			c.log.Warn("zookeeper election interrupted; standing again", "path", c.cfg.Path, "err", err)
		}
		select {
		case <-c.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

var errStopped = errors.New("zkelect: stopped")

// stand creates this candidate's election node and returns its name.
func (c *Candidate) stand() (string, error) {
	if err := c.ensurePath(c.cfg.Path); err != nil {
		return "", err
	}
	p, err := c.conn.CreateProtectedEphemeralSequential(path.Join(c.cfg.Path, nodePrefix), c.data, zk.WorldACL(zk.PermAll))
	if err != nil {
		return "", fmt.Errorf("zookeeper: create election node under %s: %w", c.cfg.Path, err)
	}
	return path.Base(p), nil
}

// ensurePath creates p and its parents as persistent nodes.
func (c *Candidate) ensurePath(p string) error {
	var cur string
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + part
		if _, err := c.conn.Create(cur, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("zookeeper: create %s: %w", cur, err)
		}
	}
	return nil
}

// follow waits for node's turn, leads while it lasts, and returns when it
// is gone (session expired, deleted), on Resign or on Close.
func (c *Candidate) follow(node string) error {
	for {
		children, _, err := c.conn.Children(c.cfg.Path)
		if err != nil {
			return fmt.Errorf("zookeeper: list %s: %w", c.cfg.Path, err)
		}
		nodes := sortBySeq(children)
		i := slices.Index(nodes, node)
		if i < 0 {
			return fmt.Errorf("zookeeper: election node %s is gone", node)
		}
		watch := node // the leader watches its own node
		if i > 0 {
			watch = nodes[i-1]
		}
		ok, _, ch, err := c.conn.ExistsW(path.Join(c.cfg.Path, watch))
		if err != nil {
			return fmt.Errorf("zookeeper: watch %s: %w", watch, err)
		}
		if !ok {
			continue
		}
		if i == 0 && !c.Leading() {
			c.setLeading(true, seqOf(node))
		}
		if err := c.wait(ch); err != nil {
			return err
		}
	}
}

// wait waits for a watch to fire; it fails when the session expires, on
// Resign and on Close.
func (c *Candidate) wait(ch <-chan zk.Event) error {
	for {
		select {
		case <-c.stop:
			return errStopped
		case <-c.resign:
			return fmt.Errorf("resigned")
		case ev := <-c.events:
			if ev.Type == zk.EventSession && ev.State == zk.StateExpired {
				return fmt.Errorf("zookeeper session expired")
			}
		case <-ch:
			return nil
		}
	}
}

// withdraw deletes node (best effort: an expired session took it already).
func (c *Candidate) withdraw(node string) {
	if err := c.conn.Delete(path.Join(c.cfg.Path, node), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		c.log.Debug("could not delete election node", "node", node, "err", err)
	}
}

func (c *Candidate) setLeading(leading bool, seq uint64) {
	c.mu.Lock()
	was := c.leading
	c.leading = leading
	c.mu.Unlock()
	if was == leading {
		return
	}
	select {
	case c.changes <- Leadership{Leading: leading, Seq: seq}:
	case <-c.stop:
	}
}

// seqOf returns the sequence number ZooKeeper appended to a node's name.
func seqOf(name string) uint64 {
	if len(name) < 10 {
		return 0
	}
	n, err := strconv.ParseUint(name[len(name)-10:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// sortBySeq returns the election nodes among names, lowest sequence first.
func sortBySeq(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, nodePrefix) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		sa, sb := seqOf(a), seqOf(b)
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return strings.Compare(a, b)
	})
	return out
}

// leaderOf reads the election path: the lowest node's data leads.
func leaderOf(conn *zk.Conn, p string) (string, []string, error) {
	children, _, err := conn.Children(p)
	if err != nil {
		if errors.Is(err, zk.ErrNoNode) {
			return "", nil, nil
		}
		return "", nil, fmt.Errorf("zookeeper: list %s: %w", p, err)
	}
	var all []string
	for _, n := range sortBySeq(children) {
		data, _, err := conn.Get(path.Join(p, n))
		if err != nil {
			continue // gone meanwhile
		}
		all = append(all, string(data))
	}
	if len(all) == 0 {
		return "", nil, nil
	}
	return all[0], all, nil
}

// Watcher reads the election path for clients that look the leader up in
// ZooKeeper instead of asking masters.
type Watcher struct {
	cfg  Config
	conn *zk.Conn
}

// NewWatcher connects to ZooKeeper (in the background).
func NewWatcher(cfg Config) (*Watcher, error) {
	cfg.defaults()
	conn, events, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	go func() {
		for range events {
		}
	}()
	return &Watcher{cfg: cfg, conn: conn}, nil
}

// Leader returns the leading master's RPC address and every candidate's,
// bounded by ctx.
func (w *Watcher) Leader(ctx context.Context) (string, []string, error) {
	type answer struct {
		leader string
		all    []string
		err    error
	}
	ch := make(chan answer, 1)
	go func() {
		l, all, err := leaderOf(w.conn, w.cfg.Path)
		ch <- answer{l, all, err}
	}()
	select {
	case a := <-ch:
		return a.leader, a.all, a.err
	case <-ctx.Done():
		return "", nil, fmt.Errorf("zookeeper %s: ask for the leader: %w", strings.Join(w.cfg.Servers, ","), ctx.Err())
	}
}

// Close disconnects.
func (w *Watcher) Close() error {
	w.conn.Close()
	return nil
}

// zkLogger sends the ZooKeeper client's log lines to slog at debug level:
// it logs every reconnection attempt, which is noise while a server is
// restarting.
type zkLogger struct{ log *slog.Logger }

// Printf implements zk.Logger.
func (l zkLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

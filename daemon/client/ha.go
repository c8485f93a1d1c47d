package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gofuse "github.com/hanwen/go-fuse/v2/fuse"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// statusTimeout bounds the question "who leads?" asked of one master.
const statusTimeout = 2 * time.Second

// maxBackoff caps the wait between rounds of attempts while no master
// serves; an election takes about a second.
const maxBackoff = 500 * time.Millisecond

// Masters calls the master group. A call goes to the master believed to
// lead; a follower's answer (EAGAIN, meta.NotLeaderError on its side) makes
// it ask that master for the leader's RPC address and go there; a master
// that cannot be reached makes it try the next one. It gives up when a
// master answers with another error, when ctx ends, or once the retry
// window has passed and every master was tried in the last round. It is
// safe for concurrent use.
type Masters struct {
	addrs    []string
	retryFor time.Duration
	log      *slog.Logger
	// discovery, when set, names the leader and the candidates (the
	// ZooKeeper election of a UFS journal).
	discovery Discovery
	// followerStaleness, when positive, sends reads to any master (see
	// WithFollowerReads); lastWrite (unix nanos) is this caller's last
	// change, after which it reads from the leader for followerStaleness;
	// spread picks the master of the next follower read.
	followerStaleness time.Duration
	lastWrite         atomic.Int64
	spread            atomic.Uint32
	// caller, when set, is who calls are made for when their context
	// names no one (meta.WithCaller): the masters check permissions
	// against it.
	caller *meta.Caller

	// mu guards clients, order and current.
	mu      sync.Mutex
	clients map[string]*rpc.Client
	order   []string // addrs, then addresses learned from redirects
	current string   // where calls go first
}

// WithCaller makes calls whose context names no caller be made for c.
func (m *Masters) WithCaller(c *meta.Caller) *Masters {
	m.caller = c
	return m
}

// callerOf returns who a call with ctx is made for: the context's caller,
// else root when the call serves a FUSE request of root (so that the
// masters can squash it), else the configured one.
func (m *Masters) callerOf(ctx context.Context) (meta.Caller, bool) {
	if c, ok := meta.CallerFrom(ctx); ok {
		return c, true
	}
	if fc, ok := gofuse.FromContext(ctx); ok {
		if fc.Uid == 0 {
			return meta.Caller{}, true
		}
		return meta.Caller{}, false // the kernel checked (default_permissions)
	}
	if m.caller != nil {
		return *m.caller, true
	}
	return meta.Caller{}, false
}

// withCaller adds the caller field to a request body.
func withCaller(req any, c meta.Caller) any {
	b, err := json.Marshal(c)
	if err != nil {
		return req
	}
	return withField(req, `"`+wire.CallerField+`":`+string(b))
}

// readMethods are the calls a fresh follower may answer.
var readMethods = map[string]bool{
	wire.MasterGetStatus: true, wire.MasterListStatus: true, wire.MasterListStatusPage: true,
	wire.MasterGetXattr: true, wire.MasterListXattr: true,
}

// WithFollowerReads spreads reads over every master: a follower that heard
// from the leader less than staleness ago answers from its own state
// (others send the read on to the leader). For staleness after each of
// its own changes, this caller reads from the leader, so it always sees
// what it wrote.
func (m *Masters) WithFollowerReads(staleness time.Duration) *Masters {
	m.followerStaleness = staleness
	return m
}

// callFollower tries a read at the next master in turn; done is false when
// that master would not serve it (then the leader is asked).
func (m *Masters) callFollower(ctx context.Context, method string, req, resp any) (done bool, err error) {
	m.mu.Lock()
	order := slices.Clone(m.order)
	m.mu.Unlock()
	if len(order) == 0 {
		return false, nil
	}
	addr := order[int(m.spread.Add(1))%len(order)]
	res, err := m.client(addr).Call(ctx, method, withField(req, `"`+wire.FollowerReadField+`":true`), nil, resp, nil)
	if err != nil && (notLeader(err) || unreachable(err)) && ctx.Err() == nil {
		return false, nil
	}
	if err == nil {
		err = takeData(resp, res, method)
	}
	return true, err
}

// Discovery names the leading master and every master, as ZooKeeper does
// for masters on the UFS journal (*zkelect.Watcher).
type Discovery interface {
	Leader(ctx context.Context) (leader string, all []string, err error)
	Close() error
}

// WithDiscovery makes calls ask d for the leader before trying the
// configured addresses (which may then be empty).
func (m *Masters) WithDiscovery(d Discovery) *Masters {
	m.discovery = d
	return m
}

// discover asks the discovery for the leader and adds the candidates to
// the addresses tried; it reports whether it learnt a leader.
func (m *Masters) discover(ctx context.Context) bool {
	if m.discovery == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	leader, all, err := m.discovery.Leader(ctx)
	if err != nil {
		m.log.Debug("could not ask for the leading master", "err", err)
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range all {
		if !slices.Contains(m.order, a) {
			m.order = append(m.order, a)
		}
	}
	if leader != "" {
		m.current = leader
	}
	return leader != ""
}

// NewMasters returns a caller of the masters at addrs (RPC host:port),
// retrying for up to retryFor. Connections are made on first use.
func NewMasters(addrs []string, retryFor time.Duration, log *slog.Logger) *Masters {
	if log == nil {
		log = slog.Default()
	}
	addrs = slices.Clone(addrs)
	m := &Masters{addrs: addrs, retryFor: retryFor, log: log, clients: map[string]*rpc.Client{}, order: slices.Clone(addrs)}
	if len(addrs) > 0 {
		m.current = addrs[0]
	}
	return m
}

// Addrs returns the configured master addresses, or with a discovery, the
// masters it names.
func (m *Masters) Addrs() []string {
	if m.discovery != nil {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		defer cancel()
		if _, all, err := m.discovery.Leader(ctx); err == nil && len(all) > 0 {
			return all
		}
	}
	return slices.Clone(m.addrs)
}

// Current returns the master calls go to first: the last known leader.
func (m *Masters) Current() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current
}

// Close closes every connection.
func (m *Masters) Close() error {
	m.mu.Lock()
	clients := m.clients
	m.clients = map[string]*rpc.Client{}
	m.mu.Unlock()
	var errs []error
	for _, c := range clients {
		errs = append(errs, c.Close())
	}
	if m.discovery != nil {
		errs = append(errs, m.discovery.Close())
	}
	return errors.Join(errs...)
}

// client returns the connection to addr, made on first use.
func (m *Masters) client(addr string) *rpc.Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.clients[addr]
	if c == nil {
		c = rpc.NewClient("tcp", addr)
		m.clients[addr] = c
		if !slices.Contains(m.order, addr) {
			m.order = append(m.order, addr)
		}
	}
	return c
}

// known returns how many master addresses are known.
func (m *Masters) known() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.order)
}

// pick returns the master to try next: the current one unless it failed in
// this round, else the next one in order that did not; "" when all did.
func (m *Masters) pick(failed map[string]bool) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != "" && !failed[m.current] {
		return m.current
	}
	start := slices.Index(m.order, m.current)
	for i := 1; i <= len(m.order); i++ {
		if a := m.order[(start+i+len(m.order))%len(m.order)]; !failed[a] {
			m.current = a
			return a
		}
	}
	return ""
}

// setCurrent makes addr the master calls go to first.
func (m *Masters) setCurrent(addr string) {
	m.mu.Lock()
	m.current = addr
	m.mu.Unlock()
}

// Call calls method on the leader. A call that is not idempotent carries a
// random request id (wire.RequestID) that stays the same across attempts,
// so that the master group applies it once even when a reply was lost and
// the call is retried, at the same master or after an election.
func (m *Masters) Call(ctx context.Context, method string, idempotent bool, req, resp any) error {
	if len(m.addrs) == 0 && m.discovery == nil {
		return fmt.Errorf("%s: no master address configured (alluxio.master.rpc.addresses): %w", method, syscall.EINVAL)
	}
	if m.Current() == "" {
		m.discover(ctx)
	}
	if c, ok := m.callerOf(ctx); ok {
		req = withCaller(req, c)
	}
	if _, ok := resp.(binaryAnswer); ok {
		req = withField(req, `"`+wire.BinaryAnswerField+`":true,"`+wire.BinaryExtField+`":true`)
	}
	if !idempotent {
		defer m.lastWrite.Store(time.Now().UnixNano())
	} else if m.followerStaleness > 0 && readMethods[method] &&
		time.Since(time.Unix(0, m.lastWrite.Load())) > m.followerStaleness {
		if done, err := m.callFollower(ctx, method, req, resp); done {
			return err
		}
	}
	body := req
	if !idempotent {
		body = withField(req, `"`+wire.RequestIDField+`":"`+meta.NewRequestID().String()+`"`)
	}
	deadline := time.Now().Add(m.retryFor)
	backoff := 50 * time.Millisecond
	failed := map[string]bool{} // unreachable in this round
	redirects := 0
	var last error
	for {
		addr := m.pick(failed)
		if addr != "" {
			res, err := m.client(addr).Call(ctx, method, body, nil, resp, nil)
			if err == nil {
				return takeData(resp, res, method)
			}
			last = err
			if ctx.Err() != nil {
				return err
			}
			switch {
			case notLeader(err):
				leader := m.askLeader(ctx, addr)
				if leader != "" && leader != addr && !failed[leader] && redirects < 2*m.known()+2 {
					m.log.Debug("following the master group's leader", "method", method, "from", addr, "to", leader)
					m.setCurrent(leader)
					redirects++
					continue
				}
				// No leader known yet (an election), or it is catching up.
			case unreachable(err):
				m.log.Debug("master unreachable; trying another", "method", method, "master", addr, "err", err)
				failed[addr] = true
				continue
			default:
				return err
			}
		}
		if time.Now().After(deadline) {
			if last == nil {
				last = fmt.Errorf("%s: no master to call: ZooKeeper names no leader and no address is configured: %w", method, syscall.EAGAIN)
			}
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", method, ctx.Err(), last)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
		clear(failed)
		redirects = 0
		m.discover(ctx)
	}
}

// takeData hands a response's data section to resp when resp takes one
// (a binary listing page, wire.ListPageResponse), and decodes a binary
// answer into resp (wire.StampedInfo, wire.Stamped: their master sends
// no JSON then), so that no caller can miss it.
func takeData(resp any, res rpc.Result, method string) error {
	if d, ok := resp.(interface{ SetData([]byte) }); ok && res.Data != nil {
		d.SetData(res.Data)
	}
	if b, ok := resp.(binaryAnswer); ok {
		return b.TakeBinary(method)
	}
	return nil
}

// binaryAnswer is a response that can decode its answer in binary from
// the data section (wire.StampedInfo, wire.Stamped); a call with one asks
// the master for binary (wire.BinaryAnswerField).
type binaryAnswer interface {
	SetData([]byte)
	TakeBinary(what string) error
}

// CallAt calls method on the master at addr only, without redirects or
// retries (status of one master, for reports).
func (m *Masters) CallAt(ctx context.Context, addr, method string, req, resp any) error {
	_, err := m.client(addr).Call(ctx, method, req, nil, resp, nil)
	return err
}

// askLeader asks the master at addr for the leader's RPC address; "" when
// it knows none other than itself.
func (m *Masters) askLeader(ctx context.Context, addr string) string {
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var st wire.RaftStatus
	if err := m.CallAt(ctx, addr, wire.MasterRaftStatus, nil, &st); err != nil {
		return ""
	}
	return st.LeaderRPC
}

// notLeader reports an answer from a master that does not serve as the
// leader now (a follower, a candidate, a leader still catching up).
func notLeader(err error) bool {
	var rerr *rpc.Error
	return errors.As(err, &rerr) && rerr.Errno == syscall.EAGAIN
}

// withField returns the JSON of req with a field ("name":value) added
// (req must encode as a JSON object or null; anything else is sent as is).
// A req that is JSON already (json.RawMessage, as withField returns) is
// not encoded again.
func withField(req any, field string) any {
	b, ok := req.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(req); err != nil {
			return req // the RPC layer reports the encoding error
		}
	}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")), bytes.Equal(b, []byte("{}")):
		return json.RawMessage("{" + field + "}")
	case len(b) > 2 && b[0] == '{':
		out := make([]byte, 0, len(b)+len(field)+1)
		out = append(out, '{')
		out = append(out, field...)
		out = append(out, ',')
		return json.RawMessage(append(out, b[1:]...))
	}
	return req
}

// RaftStatus asks the master at addr about itself.
func (c *Client) RaftStatus(ctx context.Context, addr string) (wire.RaftStatus, error) {
	var st wire.RaftStatus
	err := c.masters.CallAt(ctx, addr, wire.MasterRaftStatus, nil, &st)
	return st, err
}

// Masters returns the configured master RPC addresses.
func (c *Client) Masters() []string { return c.masters.Addrs() }

// Leader returns the leader's RPC address, asking the masters in turn.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var info wire.InfoResponse
	if err := c.callMaster(ctx, wire.MasterInfo, true, nil, &info); err != nil {
		return "", err
	}
	if info.Leader == "" {
		return "", fmt.Errorf("no leader elected among the masters %v: %w", c.masters.Addrs(), syscall.EAGAIN)
	}
	return info.Leader, nil
}

// QuorumInfo lists the members of the master group.
func (c *Client) QuorumInfo(ctx context.Context) ([]meta.QuorumServer, error) {
	var resp wire.QuorumResponse
	err := c.callMaster(ctx, wire.MasterQuorumInfo, true, nil, &resp)
	return resp.Servers, err
}

// QuorumRemove removes the master at addr (journal host:port) from the
// group; the leader does it.
func (c *Client) QuorumRemove(ctx context.Context, addr string) error {
	return c.callLeader(ctx, wire.MasterQuorumRemove, wire.QuorumAddressRequest{Address: addr})
}

// QuorumElect hands leadership to the master at addr (journal host:port).
func (c *Client) QuorumElect(ctx context.Context, addr string) error {
	return c.callLeader(ctx, wire.MasterQuorumElect, wire.QuorumAddressRequest{Address: addr})
}

// callLeader calls a method that only the leader serves. These calls are
// safe to repeat, and go through the same redirects as namespace calls.
func (c *Client) callLeader(ctx context.Context, method string, req any) error {
	return c.callMaster(ctx, method, true, req, nil)
}

// InfoAt asks the master at addr for its Info, without redirects.
func (c *Client) InfoAt(ctx context.Context, addr string) (wire.InfoResponse, error) {
	var info wire.InfoResponse
	err := c.masters.CallAt(ctx, addr, wire.MasterInfo, nil, &info)
	return info, err
}

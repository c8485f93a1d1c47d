package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

// portKey is the property that sets the gossip port, named in bind errors.
const portKey = "alluxio.worker.membership.port"

// Defaults for Config.
const (
	// DefaultRejoinInterval is how often a member that knows no other
	// looks for seeds again.
	DefaultRejoinInterval = 10 * time.Second
	// DefaultLeaveTimeout bounds Leave when it is given no timeout.
	DefaultLeaveTimeout = 5 * time.Second
)

// Config configures a Membership.
type Config struct {
	// Self is this member. Self.Name is the memberlist node name and
	// Self.Gossip the address to bind (host:port, port not 0); a host
	// name is resolved once at start.
	Self Member
	// Seeds are gossip addresses (host:port) of other members to join;
	// this member's own address is skipped.
	Seeds []string
	// SeedFunc, if set, finds more seeds (for example the workers the
	// masters know). It is called at start and then every RejoinInterval
	// while this member knows no other; it should bound its own run time.
	SeedFunc func(ctx context.Context) []string
	// RejoinInterval is how often a member alone tries the seeds again;
	// 0 means DefaultRejoinInterval.
	RejoinInterval time.Duration
	// VirtualNodes is the ring points per member (0 means
	// DefaultVirtualNodes). Every process must use the same value.
	VirtualNodes int
	// Tuning overrides memberlist's LAN timing; zero fields keep it.
	Tuning Tuning
	// Logger receives this package's and memberlist's logs; nil means
	// slog.Default().
	Logger *slog.Logger
	// OnChange, if set, is called with each new ring, the first one
	// included (possibly before Start returns). Calls come one at a time,
	// in order, from no lock the callee can take; OnChange must not call
	// Leave or Close, which wait for it.
	OnChange func(*Ring)
}

// Tuning is memberlist's failure detector and gossip timing. A zero field
// keeps memberlist.DefaultLANConfig's value.
type Tuning struct {
	// ProbeInterval is how often a random member is probed.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspected member has to refute
	// before it is declared dead.
	SuspicionMult int
	// GossipInterval is how often state is gossiped to a few members.
	GossipInterval time.Duration
	// PushPullInterval is how often full state is exchanged with one member.
	PushPullInterval time.Duration
	// TCPTimeout bounds a TCP exchange with one member (joins included).
	TCPTimeout time.Duration
}

// FastTuning detects a failed member within about a second on a quiet
// network: for tests and small single-rack clusters, at the cost of more
// traffic and more false suspicion under load.
func FastTuning() Tuning {
	return Tuning{
		ProbeInterval:    200 * time.Millisecond,
		ProbeTimeout:     100 * time.Millisecond,
		SuspicionMult:    2,
		GossipInterval:   20 * time.Millisecond,
		PushPullInterval: 2 * time.Second,
		TCPTimeout:       time.Second,
	}
}

func (t Tuning) apply(c *memberlist.Config) {
	set := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	set(&c.ProbeInterval, t.ProbeInterval)
	set(&c.ProbeTimeout, t.ProbeTimeout)
	set(&c.GossipInterval, t.GossipInterval)
	set(&c.PushPullInterval, t.PushPullInterval)
	set(&c.TCPTimeout, t.TCPTimeout)
	if t.SuspicionMult > 0 {
		c.SuspicionMult = t.SuspicionMult
	}
}

// Membership is this process's live view of the cluster: a memberlist
// node that advertises Self and keeps a Ring of the live members with
// valid meta.
type Membership struct {
	cfg  Config
	log  *slog.Logger
	ml   *memberlist.Memberlist
	ring atomic.Pointer[Ring]

	// changed wakes the rebuild loop; memberlist's callbacks run under
	// its node lock, where asking it for Members would deadlock.
	changed chan struct{}
	// stopLoops cancels the rebuild and rejoin loops; loops waits for them.
	stopLoops context.CancelFunc
	loops     sync.WaitGroup

	// rebuildMu serializes ring rebuilds and OnChange calls.
	rebuildMu sync.Mutex
	// warned maps a node name to the bad meta already logged for it.
	warned map[string]string

	// lifeMu guards closed.
	lifeMu sync.Mutex
	closed bool
}

// Start binds cfg.Self.Gossip, joins the seeds that answer and returns
// the running membership. Seeds that do not answer are not an error: they
// are logged, and while this member knows no other it retries every
// RejoinInterval. A bind failure is an error naming the address and
// alluxio.worker.membership.port. ctx bounds Start only (resolving,
// SeedFunc, the first join); the membership then runs until Leave or
// Close, which stop the goroutines Start began.
func Start(ctx context.Context, cfg Config) (*Membership, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "cluster")
	meta, err := EncodeMeta(cfg.Self)
	if err != nil {
		return nil, fmt.Errorf("cluster: start: this worker: %w", err)
	}
	if cfg.RejoinInterval < 0 {
		return nil, fmt.Errorf("cluster: start %s: RejoinInterval %v is negative: %w", cfg.Self.Name, cfg.RejoinInterval, syscall.EINVAL)
	}
	if cfg.RejoinInterval == 0 {
		cfg.RejoinInterval = DefaultRejoinInterval
	}
	cfg.Seeds = slices.Clone(cfg.Seeds)

	bind, err := resolveBind(ctx, cfg.Self.Gossip)
	if err != nil {
		return nil, err
	}
	if err := probeBind(bind); err != nil {
		return nil, bindErr(cfg.Self.Gossip, err)
	}

	m := &Membership{cfg: cfg, log: log, changed: make(chan struct{}, 1), warned: map[string]string{}}
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Self.Name
	mc.BindAddr = bind.Addr().String()
	mc.BindPort = int(bind.Port())
	if !bind.Addr().IsUnspecified() {
		mc.AdvertiseAddr, mc.AdvertisePort = mc.BindAddr, mc.BindPort
	}
	mc.Delegate = metaDelegate(meta)
	mc.Events = eventSignal(m.changed)
	mc.Logger = newMemberlistLogger(log)
	cfg.Tuning.apply(mc)
	m.ml, err = memberlist.Create(mc)
	if err != nil {
		// memberlist formats its errors with %v, so the errno is lost;
		// probeBind has already caught the usual causes.
		return nil, bindErr(cfg.Self.Gossip, fmt.Errorf("%v: %w", err, syscall.EADDRNOTAVAIL))
	}
	m.rebuild()

	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopLoops = cancel
	m.loops.Go(func() { m.rebuildLoop(loopCtx) })

	seeds := m.seeds(ctx)
	switch n, err := m.join(ctx, seeds); {
	case ctx.Err() != nil:
		m.Close()
		return nil, fmt.Errorf("cluster: start %s: joining %v: %w", cfg.Self.Name, seeds, ctxErr(ctx))
	case len(seeds) == 0:
		log.Info("no seeds: running as the first member", "self", cfg.Self.Name, "gossip", cfg.Self.Gossip)
	case n == 0:
		log.Warn("no seed answered: running alone and retrying", "self", cfg.Self.Name, "seeds", seeds,
			"every", cfg.RejoinInterval, "err", err)
	default:
		log.Info("joined the cluster", "self", cfg.Self.Name, "seeds", seeds, "contacted", n)
	}
	m.rebuild()
	m.loops.Go(func() { m.rejoinLoop(loopCtx) })
	return m, nil
}

// Ring returns the current ring of live members. It never blocks and is
// never nil; after Leave or Close it is the last ring seen.
func (m *Membership) Ring() *Ring { return m.ring.Load() }

// Members returns the live members, sorted by name.
func (m *Membership) Members() []Member { return m.Ring().Members() }

// Leave tells the other members that this one is leaving, waits up to
// timeout (<= 0 means DefaultLeaveTimeout) for the message to go out, and
// shuts down. After Leave or Close it does nothing.
func (m *Membership) Leave(timeout time.Duration) error {
	if !m.markClosed() {
		return nil
	}
	if timeout <= 0 {
		timeout = DefaultLeaveTimeout
	}
	m.stopLoops() // no rejoin while leaving
	err := m.ml.Leave(timeout)
	m.shutdown()
	if err != nil {
		return fmt.Errorf("cluster: leave %s: %v: %w", m.cfg.Self.Name, err, syscall.ETIMEDOUT)
	}
	m.log.Info("left the cluster", "self", m.cfg.Self.Name)
	return nil
}

// Close shuts down without telling the others, who will find this member
// dead by probing. It is idempotent.
func (m *Membership) Close() error {
	if !m.markClosed() {
		return nil
	}
	m.stopLoops()
	m.shutdown()
	return nil
}

// markClosed reports whether this call is the one that closes m.
func (m *Membership) markClosed() bool {
	m.lifeMu.Lock()
	defer m.lifeMu.Unlock()
	if m.closed {
		return false
	}
	m.closed = true
	return true
}

func (m *Membership) shutdown() {
	if err := m.ml.Shutdown(); err != nil {
		m.log.Warn("shutting down gossip", "self", m.cfg.Self.Name, "err", err)
	}
	m.loops.Wait()
}

// rebuildLoop rebuilds the ring after memberlist reports a change, until
// ctx is done.
func (m *Membership) rebuildLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.changed:
			m.rebuild()
		}
	}
}

// rejoinLoop looks for seeds every RejoinInterval while this member knows
// no other, until ctx is done.
func (m *Membership) rejoinLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.RejoinInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.Ring().Len() > 1 { // nodes with bad meta are no company
			continue
		}
		seeds := m.seeds(ctx)
		if len(seeds) == 0 {
			continue
		}
		n, err := m.join(ctx, seeds)
		switch {
		case ctx.Err() != nil:
			return
		case n > 0:
			m.log.Info("rejoined the cluster", "self", m.cfg.Self.Name, "seeds", seeds, "contacted", n)
		default:
			m.log.Debug("no seed answered", "self", m.cfg.Self.Name, "seeds", seeds, "err", err)
		}
	}
}

// seeds returns cfg.Seeds and SeedFunc's, without duplicates or this
// member's own address.
func (m *Membership) seeds(ctx context.Context) []string {
	all := slices.Clone(m.cfg.Seeds)
	if m.cfg.SeedFunc != nil {
		all = append(all, m.cfg.SeedFunc(ctx)...)
	}
	self := []string{m.cfg.Self.Gossip}
	if n := m.ml.LocalNode(); n != nil {
		self = append(self, n.Address())
	}
	var out []string
	for _, s := range all {
		if s != "" && !slices.Contains(self, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// join contacts seeds and returns how many answered. memberlist's Join
// cannot be cancelled, so it runs on its own goroutine, which ends within
// TCPTimeout per seed; join itself returns as soon as ctx is done.
func (m *Membership) join(ctx context.Context, seeds []string) (int, error) {
	if len(seeds) == 0 {
		return 0, nil
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := m.ml.Join(seeds)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctxErr(ctx)
	}
}

// rebuild makes the ring from memberlist's live nodes and, if it differs
// from the current one, publishes it and calls OnChange.
func (m *Membership) rebuild() {
	m.rebuildMu.Lock()
	defer m.rebuildMu.Unlock()
	nodes := m.ml.Members()
	members := make([]Member, 0, len(nodes))
	present := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		present[n.Name] = true
		mem, err := DecodeMeta(n.Meta)
		if err == nil && mem.Name != n.Name {
			err = fmt.Errorf("meta names %q, not the node: %w", clip(mem.Name), syscall.EINVAL)
		}
		if err != nil {
			if seen, ok := m.warned[n.Name]; !ok || seen != string(n.Meta) {
				m.warned[n.Name] = string(n.Meta)
				m.log.Warn("ignoring a gossip node whose meta is not a valid worker", "node", n.Name, "addr", n.Address(), "err", err)
			}
			continue
		}
		delete(m.warned, n.Name)
		members = append(members, mem)
	}
	for name := range m.warned {
		if !present[name] {
			delete(m.warned, name)
		}
	}
	r := NewRing(members, m.cfg.VirtualNodes)
	old := m.ring.Load()
	if old != nil && old.Version() == r.Version() {
		return
	}
	m.ring.Store(r)
	if old != nil {
		joined, left, restarted := diff(old, r)
		m.log.Info("cluster membership changed", "self", m.cfg.Self.Name, "members", r.Len(),
			"joined", joined, "left", left, "restarted", restarted)
	}
	if m.cfg.OnChange != nil {
		m.cfg.OnChange(r)
	}
}

// diff names the members that joined, left or changed (restarted) from
// old to cur.
func diff(old, cur *Ring) (joined, left, restarted []string) {
	was := make(map[string]Member, old.Len())
	for _, mem := range old.members {
		was[mem.Name] = mem
	}
	for _, mem := range cur.members {
		prev, ok := was[mem.Name]
		switch {
		case !ok:
			joined = append(joined, mem.Name)
		case prev != mem:
			restarted = append(restarted, mem.Name)
		}
		delete(was, mem.Name)
	}
	for name := range was {
		left = append(left, name)
	}
	slices.Sort(left)
	return joined, left, restarted
}

// resolveBind turns the gossip host:port into an IP address and port.
func resolveBind(ctx context.Context, gossip string) (netip.AddrPort, error) {
	host, portStr, err := net.SplitHostPort(gossip)
	if err != nil {
		return netip.AddrPort{}, bindErr(gossip, fmt.Errorf("%v: %w", err, syscall.EINVAL))
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, bindErr(gossip, fmt.Errorf("port %q not in 1..65535: %w", portStr, syscall.EINVAL))
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip.WithZone(""), uint16(port)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		if ctx.Err() != nil {
			return netip.AddrPort{}, bindErr(gossip, ctxErr(ctx))
		}
		return netip.AddrPort{}, bindErr(gossip, fmt.Errorf("resolving %q: %v: %w", host, err, syscall.EADDRNOTAVAIL))
	}
	// Prefer IPv4, as peers resolving the same name for a join most
	// likely do ("localhost" lists both).
	ip := ips[0].Unmap()
	for _, a := range ips {
		if a.Unmap().Is4() {
			ip = a.Unmap()
			break
		}
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// probeBind checks that memberlist can bind TCP and UDP on addr, to
// report the cause with its errno (memberlist's own error loses it).
func probeBind(addr netip.AddrPort) error {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return err
	}
	ln.Close()
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		return err
	}
	return pc.Close()
}

func bindErr(addr string, err error) error {
	return fmt.Errorf("cluster: gossip address %s (%s): %w", addr, portKey, err)
}

// ctxErr wraps a done context's error with the matching errno.
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", err, syscall.ETIMEDOUT)
	}
	return fmt.Errorf("%w: %w", err, syscall.ECANCELED)
}

// metaDelegate advertises this member's meta; the other Delegate methods
// are unused.
type metaDelegate []byte

func (d metaDelegate) NodeMeta(limit int) []byte {
	if len(d) > limit { // EncodeMeta checked MetaMaxSize; memberlist panics past limit
		return nil
	}
	return d
}
func (metaDelegate) NotifyMsg([]byte)                {}
func (metaDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (metaDelegate) LocalState(bool) []byte          { return nil }
func (metaDelegate) MergeRemoteState([]byte, bool)   {}

// eventSignal wakes the rebuild loop on any membership event, without
// blocking memberlist, which calls it under its node lock.
type eventSignal chan struct{}

func (e eventSignal) NotifyJoin(*memberlist.Node)   { e.poke() }
func (e eventSignal) NotifyLeave(*memberlist.Node)  { e.poke() }
func (e eventSignal) NotifyUpdate(*memberlist.Node) { e.poke() }

func (e eventSignal) poke() {
	select {
	case e <- struct{}{}:
	default:
	}
}

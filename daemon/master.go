package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
)

// Version is the release of this build.
var Version = "0.1.0-dev"

// MasterConfig configures a master process.
type MasterConfig struct {
	Meta    meta.Config
	RPCAddr string
	WebAddr string
	// WorkerTimeout is how long a worker that stopped heartbeating stays
	// in reports (alluxio.master.worker.timeout; 0 means 30 s). Clients
	// route around a dead worker at once, whatever this says.
	WorkerTimeout time.Duration
	// TTLInterval is how often the leader looks for expired TTLs
	// (alluxio.master.ttl.checker.interval; 0 means a minute).
	TTLInterval time.Duration
	Logger      *slog.Logger
	// Conf is the configuration the master was built from, shown (masked)
	// by the web UI's configuration page; nil shows none.
	Conf *conf.Config
}

// Master serves the namespace over RPC and the web port.
type Master struct {
	cfg    MasterConfig
	log    *slog.Logger
	meta   *meta.Master
	server *rpc.Server
	web    *webServer
	start  time.Time
	// level sets the level of the master's logger (web UI /logs).
	level *slog.LevelVar
	// stop ends the background loops.
	stop context.CancelFunc

	// workersMu guards workers, the last heartbeat of each worker.
	workersMu sync.Mutex
	workers   map[string]workerEntry
}

type workerEntry struct {
	info     wire.WorkerInfo
	lastSeen time.Time
}

// defaultWorkerTimeout is how long a silent worker stays in reports when
// MasterConfig.WorkerTimeout is zero.
const defaultWorkerTimeout = 30 * time.Second

// StartMaster opens the metastore and journal and starts serving.
func StartMaster(ctx context.Context, cfg MasterConfig) (*Master, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var level *slog.LevelVar
	cfg.Logger, level = withLevelVar(cfg.Logger)
	log := cfg.Logger.With("component", "master")
	cfg.Meta.Logger = cfg.Logger
	if cfg.Meta.RPCAddr == "" {
		cfg.Meta.RPCAddr = cfg.RPCAddr
	}
	if cfg.Meta.LeaderApplied == nil {
		cfg.Meta.LeaderApplied = (&leaderApplied{}).ask
	}
	if cfg.Meta.PeerLevel == nil {
		cfg.Meta.PeerLevel = peerLevel
	}
	l, err := net.Listen("tcp", cfg.RPCAddr)
	if err != nil {
		return nil, fmt.Errorf("master rpc address %s (alluxio.master.rpc.port): %w", cfg.RPCAddr, err)
	}
	decideJoin(ctx, &cfg.Meta, log)
	mm, err := meta.Open(ctx, cfg.Meta)
	if err != nil {
		l.Close()
		return nil, err
	}
	m := &Master{cfg: cfg, log: log, meta: mm, server: rpc.NewServer(log), start: time.Now(),
		workers: map[string]workerEntry{}, level: level}
	m.routes()
	go m.server.Serve(l)
	if cfg.TTLInterval <= 0 {
		m.cfg.TTLInterval = time.Minute
	}
	var bg context.Context
	bg, m.stop = context.WithCancel(context.Background())
	go m.ttlLoop(bg)
	if cfg.Meta.Join {
		go m.joinGroup(bg)
	}
	if cfg.WebAddr != "" {
		m.web, err = startWeb(cfg.WebAddr, log, m.webRoutes())
		if err != nil {
			m.Close()
			return nil, err
		}
	}
	log.Info("master started", "rpc", cfg.RPCAddr, "web", cfg.WebAddr, "journal", cfg.Meta.JournalDir)
	return m, nil
}

// Close stops serving and closes the journal.
func (m *Master) Close() error {
	if m.stop != nil {
		m.stop()
	}
	if m.web != nil {
		m.web.Close()
	}
	m.server.Close()
	return m.meta.Close()
}

// handle registers a handler that decodes a request of type Req and
// answers with fn's result. A request id in the body (wire.RequestID) is
// passed to the metadata service in ctx, so that a retried change is
// applied once.
func handle[Req any](s *rpc.Server, method string, fn func(ctx context.Context, r Req) (any, error)) {
	s.Handle(method, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		var r Req
		if err := req.Decode(&r); err != nil {
			return nil, err
		}
		ctx, err := withEnvelope(ctx, req)
		if err != nil {
			return nil, err
		}
		body, err := fn(ctx, r)
		if err != nil {
			return nil, err
		}
		if resp, ok := body.(*rpc.Response); ok {
			return resp, nil // a data section too
		}
		return &rpc.Response{Body: body}, nil
	})
}

// envelope holds the fields a client may add to any request body:
// wire.RequestIDField, CallerField, FollowerReadField, BinaryAnswerField
// and BinaryExtField.
type envelope struct {
	RequestID    string       `json:"requestId"`
	Caller       *meta.Caller `json:"caller"`
	FollowerRead bool         `json:"followerRead"`
	BinaryAnswer bool         `json:"binAnswer"`
	BinaryExt    bool         `json:"binExt"`
}

// envelopeFields are the quoted names of envelope's fields: a body with
// none of them is not decoded again.
var envelopeFields = [][]byte{
	[]byte(`"` + wire.RequestIDField + `"`), []byte(`"` + wire.CallerField + `"`),
	[]byte(`"` + wire.FollowerReadField + `"`), []byte(`"` + wire.BinaryAnswerField + `"`),
}

// binaryAnswerKey marks a call whose client takes its answer in binary;
// its value is binaryExt when the client reads wire.BinaryExtField's
// format too.
type binaryAnswerKey struct{}

// binaryAnswer values.
const (
	binaryPlain = 1
	binaryExt   = 2
)

// withEnvelope adds to ctx what the client added to the body of req (one
// decode for all of it): the request id, the caller, a follower read and
// a binary answer. A field of one of these names that belongs to the
// request itself, with another type, is left out.
func withEnvelope(ctx context.Context, req *rpc.Request) (context.Context, error) {
	if !slices.ContainsFunc(envelopeFields, func(f []byte) bool { return bytes.Contains(req.Body, f) }) {
		return ctx, nil
	}
	var e envelope
	// A type error leaves that field unset and fills the others.
	_ = json.Unmarshal(req.Body, &e)
	if e.RequestID != "" {
		id, err := meta.ParseRequestID(e.RequestID)
		if err != nil {
			return ctx, fmt.Errorf("%s: %w", req.Method, err)
		}
		ctx = meta.WithRequestID(ctx, id)
	}
	if e.FollowerRead {
		ctx = meta.WithFollowerRead(ctx)
	}
	if e.Caller != nil {
		ctx = meta.WithCaller(ctx, *e.Caller)
	}
	if e.BinaryAnswer {
		v := binaryPlain
		if e.BinaryExt {
			v = binaryExt
		}
		ctx = context.WithValue(ctx, binaryAnswerKey{}, v)
	}
	return ctx, nil
}

// infoAnswer is the answer of a call that returns one status: in binary
// in the data section when the client takes it so (wire.BinaryAnswerField),
// JSON otherwise.
func infoAnswer(ctx context.Context, s wire.StampedInfo) any {
	if v := ctx.Value(binaryAnswerKey{}); v != nil {
		return &rpc.Response{Data: wire.AppendStampedInfo(nil, s, v == binaryExt)}
	}
	return s
}

// doneAnswer is infoAnswer for a call that returns its stamp and the
// statuses it changed.
func doneAnswer(ctx context.Context, s wire.Stamped) any {
	if ctx.Value(binaryAnswerKey{}) != nil {
		return &rpc.Response{Data: wire.AppendStamped(nil, s)}
	}
	return s
}

func (m *Master) routes() {
	m.writeRoutes()
	m.stampRoutes()
	mm := m.meta
	handle(m.server, wire.MasterListStatus, func(ctx context.Context, r wire.PathRequest) (any, error) {
		entries, err := mm.ListStatus(ctx, r.Path)
		return wire.ListResponse{Entries: entries}, err
	})
	handle(m.server, wire.MasterMarkPersisted, func(ctx context.Context, r wire.PersistedRequest) (any, error) {
		var v *meta.PersistedVersion
		if r.Version != "" {
			v = &meta.PersistedVersion{Version: r.Version, MountID: r.MountID, UfsPath: r.UfsPath}
		}
		return nil, mm.MarkPersisted(ctx, r.ID, v, r.UfsFingerprint)
	})
	handle(m.server, wire.MasterMount, func(ctx context.Context, r wire.MountRequest) (any, error) {
		return nil, mm.Mount(ctx, r.Path, r.URI, r.Options)
	})
	handle(m.server, wire.MasterUnmount, func(ctx context.Context, r wire.PathRequest) (any, error) {
		return nil, mm.Unmount(ctx, r.Path)
	})
	handle(m.server, wire.MasterMounts, func(ctx context.Context, _ struct{}) (any, error) {
		mounts := mm.Mounts()
		for i := range mounts {
			mounts[i].Options = maskOptions(mounts[i].Options)
			mounts[i].UfsURI = ufs.Redact(mounts[i].UfsURI) // a password in the URI
		}
		return wire.MountsResponse{Mounts: mounts}, nil
	})
	handle(m.server, wire.MasterGetMount, func(ctx context.Context, r wire.GetMountRequest) (any, error) {
		mi, ok := mm.MountByID(r.ID)
		if !ok {
			return nil, fmt.Errorf("mount %d: no such mount: %w", r.ID, syscall.ENOENT)
		}
		return mi, nil
	})
	handle(m.server, wire.MasterHeartbeat, func(ctx context.Context, r wire.WorkerInfo) (any, error) {
		m.workersMu.Lock()
		m.workers[r.Address] = workerEntry{info: r, lastSeen: time.Now()}
		m.workersMu.Unlock()
		return nil, nil
	})
	handle(m.server, wire.MasterLoadMetadata, func(ctx context.Context, r wire.LoadMetadataRequest) (any, error) {
		return mm.LoadMetadata(ctx, r.Path, r.Recursive)
	})
	handle(m.server, wire.MasterCheckConsistency, func(ctx context.Context, r wire.CheckConsistencyRequest) (any, error) {
		return mm.CheckConsistency(ctx, r.Path, r.Limit)
	})
	handle(m.server, wire.MasterSetXattr, func(ctx context.Context, r wire.XattrRequest) (any, error) {
		return nil, mm.SetXattr(ctx, r.Path, r.Name, r.Value, r.Flags)
	})
	handle(m.server, wire.MasterRemoveXattr, func(ctx context.Context, r wire.XattrRequest) (any, error) {
		return nil, mm.RemoveXattr(ctx, r.Path, r.Name)
	})
	handle(m.server, wire.MasterGetXattr, func(ctx context.Context, r wire.XattrRequest) (any, error) {
		v, err := mm.GetXattr(ctx, r.Path, r.Name)
		return wire.XattrResponse{Value: v}, err
	})
	handle(m.server, wire.MasterListXattr, func(ctx context.Context, r wire.XattrRequest) (any, error) {
		names, err := mm.ListXattr(ctx, r.Path)
		return wire.XattrListResponse{Names: names}, err
	})
	handle(m.server, wire.MasterInfo, func(ctx context.Context, _ struct{}) (any, error) {
		return m.Info(), nil
	})
	m.haRoutes()
}

// haRoutes serves the master group's status and quorum changes.
func (m *Master) haRoutes() {
	mm := m.meta
	handle(m.server, wire.MasterRaftStatus, func(ctx context.Context, _ struct{}) (any, error) {
		return m.RaftStatus(), nil
	})
	handle(m.server, wire.MasterQuorumInfo, func(ctx context.Context, _ struct{}) (any, error) {
		servers, err := mm.Quorum()
		return wire.QuorumResponse{Servers: servers}, err
	})
	handle(m.server, wire.MasterQuorumRemove, func(ctx context.Context, r wire.QuorumAddressRequest) (any, error) {
		return nil, mm.RemoveServer(ctx, r.Address)
	})
	handle(m.server, wire.MasterQuorumAdd, func(ctx context.Context, r wire.QuorumAddRequest) (any, error) {
		return nil, mm.AddServer(ctx, r.Address, r.RPCAddr)
	})
	handle(m.server, wire.MasterQuorumElect, func(ctx context.Context, r wire.QuorumAddressRequest) (any, error) {
		return nil, mm.TransferLeadership(ctx, r.Address)
	})
	// Answered by every master from its own state: no leadership check.
	handle(m.server, wire.MasterJournalDigest, func(ctx context.Context, _ struct{}) (any, error) {
		return mm.Digest(ctx)
	})
}

// RaftStatus describes this master's place in the master group.
func (m *Master) RaftStatus() wire.RaftStatus {
	st := m.meta.Stats()
	contact := int64(-1)
	switch {
	case st.State == "Leader":
		contact = 0
	case !st.LastContact.IsZero():
		contact = time.Since(st.LastContact).Milliseconds()
	}
	return wire.RaftStatus{
		NodeID: st.NodeID, RaftAddr: st.RaftAddr, RPCAddr: st.RPCAddr, State: st.State, Ready: st.Ready,
		Term: st.Term, LastApplied: st.LastApplied, CommitIndex: st.CommitIndex,
		Leader: st.Leader, LeaderRPC: st.LeaderRPC, LastContactMillis: contact,
		LogWrites: st.LogWrites, LogEntries: st.LogEntries, ApplyBatches: st.ApplyBatches, AppliedEntries: st.AppliedEntries,
		FollowerReads: st.FollowerReads, CommandLevel: meta.CommandLevel,
	}
}

// peerLevel asks the master at rpcAddr which journal commands it applies
// (meta.Config.PeerLevel). A master from before command levels does not
// say, and applies those of the first.
func peerLevel(ctx context.Context, rpcAddr string) (int, error) {
	cl := rpc.NewClient("tcp", rpcAddr)
	defer cl.Close()
	var st wire.RaftStatus
	if _, err := cl.Call(ctx, wire.MasterRaftStatus, nil, nil, &st, nil); err != nil {
		return 0, err
	}
	return max(st.CommandLevel, 1), nil
}

// leaderApplied asks the leader for the index of the last entry it
// applied (meta.Config.LeaderApplied), over a connection kept for the next
// time.
type leaderApplied struct {
	mu   sync.Mutex
	addr string
	cl   *rpc.Client
}

// ask asks the master at rpcAddr; one that does not lead says so.
func (l *leaderApplied) ask(ctx context.Context, rpcAddr string) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cl != nil && l.addr != rpcAddr {
		l.cl.Close()
		l.cl = nil
	}
	if l.cl == nil {
		l.cl, l.addr = rpc.NewClient("tcp", rpcAddr), rpcAddr
	}
	var st wire.RaftStatus
	if _, err := l.cl.Call(ctx, wire.MasterRaftStatus, nil, nil, &st, nil); err != nil {
		l.cl.Close()
		l.cl = nil
		return 0, err
	}
	if st.State != "Leader" {
		return 0, fmt.Errorf("master %s is %s, not the leader", rpcAddr, st.State)
	}
	return st.LastApplied, nil
}

// maskOptions hides credentials in mount options shown to users.
func maskOptions(opts map[string]string) map[string]string {
	if len(opts) == 0 {
		return opts
	}
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		if conf.IsSecret(k) {
			v = "******"
		}
		out[k] = v
	}
	return out
}

// Workers returns the live workers, sorted by address.
func (m *Master) Workers() []wire.WorkerInfo {
	m.workersMu.Lock()
	defer m.workersMu.Unlock()
	var out []wire.WorkerInfo
	for addr, e := range m.workers {
		if time.Since(e.lastSeen) > m.workerTimeout() {
			delete(m.workers, addr)
			continue
		}
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// Info describes the master and the cluster.
func (m *Master) Info() wire.InfoResponse {
	st := m.meta.Stats()
	// Leader is the address clients use: the leader's RPC address.
	leader := st.LeaderRPC
	if leader == "" {
		leader = st.Leader
	}
	info := wire.InfoResponse{Version: Version, StartTime: m.start.UnixMilli(), Leader: leader,
		RaftState: st.State, LastApplied: st.LastApplied, Workers: m.Workers()}
	for _, w := range info.Workers {
		info.Capacity += w.Stats.Capacity
		info.Used += w.Stats.Used
	}
	return info
}

// clusterMetrics sums the workers' counters under Alluxio's Cluster.* names.
func (m *Master) clusterMetrics() []metric {
	info := m.Info()
	var sum wire.WorkerStats
	for _, w := range info.Workers {
		s := w.Stats
		sum.BytesReadCache += s.BytesReadCache
		sum.BytesReadUfs += s.BytesReadUfs
		sum.BytesReadDomain += s.BytesReadDomain
		sum.BytesReadRemote += s.BytesReadRemote
		sum.BytesWrittenUfs += s.BytesWrittenUfs
		sum.BytesCopiedUfs += s.BytesCopiedUfs
		sum.BytesWrittenDomain += s.BytesWrittenDomain
		sum.PassthroughOpens += s.PassthroughOpens
		sum.UfsPassthroughOpens += s.UfsPassthroughOpens
		sum.BytesPassedThrough += s.BytesPassedThrough
	}
	return []metric{
		{"Cluster.Workers", float64(len(info.Workers))},
		{"Cluster.CapacityTotal", float64(info.Capacity)},
		{"Cluster.CapacityUsed", float64(info.Used)},
		{"Cluster.BytesReadCache", float64(sum.BytesReadCache)},
		{"Cluster.BytesReadUfsAll", float64(sum.BytesReadUfs)},
		{"Cluster.BytesReadDomain", float64(sum.BytesReadDomain)},
		{"Cluster.BytesReadRemote", float64(sum.BytesReadRemote)},
		{"Cluster.BytesWrittenUfsAll", float64(sum.BytesWrittenUfs)},
		{"Cluster.BytesCopiedUfs", float64(sum.BytesCopiedUfs)},
		{"Cluster.BytesWrittenDomain", float64(sum.BytesWrittenDomain)},
		{"Cluster.PassthroughOpens", float64(sum.PassthroughOpens)},
		{"Cluster.UfsPassthroughOpens", float64(sum.UfsPassthroughOpens)},
		{"Cluster.BytesReadPassthrough", float64(sum.BytesPassedThrough)},
		{"Master.LastAppliedIndex", float64(info.LastApplied)},
		{"Master.UptimeSeconds", time.Since(m.start).Seconds()},
		{"Master.HeapInuseBytes", float64(heapInuse())},
		{"Master.UfsDeletesPending", float64(m.meta.DeferredDeletes())},
	}
}

func (m *Master) webRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writePrometheus(rw, m.clusterMetrics())
	})
	mux.HandleFunc("/api/v1/master/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, metricsJSON(m.clusterMetrics()))
	})
	mux.HandleFunc("/api/v1/master/info", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, m.Info())
	})
	mux.HandleFunc("/api/v1/master/raft", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, m.RaftStatus())
	})
	m.uiRoutes(mux) // web UI pages and the rest of /api/v1/master (webui_master.go)
	return mux
}

func (m *Master) workerTimeout() time.Duration {
	if m.cfg.WorkerTimeout > 0 {
		return m.cfg.WorkerTimeout
	}
	return defaultWorkerTimeout
}

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

const fsadminUsage = `Usage: alluxio fsadmin COMMAND

COMMAND is one of:
  report [summary]                cluster summary: every master's Raft state,
                                  last applied journal index and lag; workers
  report capacity                 every worker's tiers, capacity and use
  report metrics                  the cluster's counters (Cluster.*)
  report ufs                      the under-stores mounted, options masked
  metrics clear                   set every worker's traffic counters to zero
  journal quorum info [-domain MASTER]
                                  members of the master group: id, journal
                                  address, RPC address, voter, leader, state
  journal quorum remove [-domain MASTER] -address HOST:PORT
                                  remove a master (by its journal address)
  journal quorum elect -address HOST:PORT
                                  hand leadership to a master
  journal digest                  each master's applied index and namespace hash
  ping [-address HOST:PORT]       ask one master (default: this host's, by
                                  alluxio.master.hostname and
                                  alluxio.master.rpc.port) for its Raft state
`

// probeTimeout bounds the status call to each master in reports.
const probeTimeout = 2 * time.Second

// fsadmin runs `alluxio fsadmin`.
func fsadmin(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" {
		fmt.Fprint(env.Stdout, fsadminUsage)
		return nil
	}
	c := newClient(env)
	defer c.Close()
	switch {
	case args[0] == "report" && len(args) == 1:
		return report(ctx, env, c)
	case args[0] == "report" && len(args) == 2 && args[1] == "summary":
		return report(ctx, env, c)
	case args[0] == "report" && len(args) == 2 && args[1] == "capacity":
		return reportCapacity(ctx, env, c)
	case args[0] == "report" && len(args) == 2 && args[1] == "metrics":
		return reportMetrics(ctx, env, c)
	case args[0] == "report" && len(args) == 2 && args[1] == "ufs":
		return reportUfs(ctx, env, c)
	case args[0] == "ping":
		return ping(ctx, env, c, args[1:])
	case len(args) == 2 && args[0] == "metrics" && args[1] == "clear":
		if err := c.ClearMetrics(ctx); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, "Metrics of every worker cleared.")
		return nil
	case len(args) == 2 && args[0] == "journal" && args[1] == "digest":
		return journalDigest(ctx, env, c)
	case len(args) >= 3 && args[0] == "journal" && args[1] == "quorum":
		switch args[2] {
		case "info":
			return quorumInfo(ctx, env, c, args[3:])
		case "remove":
			return quorumRemove(ctx, env, c, args[3:])
		case "elect":
			return quorumElect(ctx, env, c, args[3:])
		}
	}
	return usageError("alluxio fsadmin: unknown command %q\n%s", strings.Join(args, " "), fsadminUsage)
}

// masterProbe is what one master said of itself, or why it did not.
type masterProbe struct {
	addr   string
	status wire.RaftStatus
	info   wire.InfoResponse
	err    error
}

// probeMasters asks every configured master for its Raft state and Info,
// concurrently.
func probeMasters(ctx context.Context, c *client.Client) []masterProbe {
	addrs := c.Masters()
	out := make([]masterProbe, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			p := masterProbe{addr: a}
			if p.status, p.err = c.RaftStatus(ctx, a); p.err == nil {
				p.info, p.err = c.InfoAt(ctx, a)
			}
			out[i] = p
		})
	}
	wg.Wait()
	return out
}

// leaderOf returns the probe of the master that leads (highest term wins
// if a deposed leader has not noticed yet), or nil.
func leaderOf(probes []masterProbe) *masterProbe {
	var l *masterProbe
	for i := range probes {
		p := &probes[i]
		if p.err == nil && p.status.State == "Leader" && (l == nil || p.status.Term > l.status.Term) {
			l = p
		}
	}
	return l
}

// report prints the cluster summary: the leader's view, every master's Raft
// state and lag behind the leader's commit index, and the live workers
// (as heard by any master).
func report(ctx context.Context, env *Env, c *client.Client) error {
	probes := probeMasters(ctx, c)
	leader := leaderOf(probes)
	if leader == nil {
		for _, p := range probes {
			if p.err != nil {
				fmt.Fprintf(env.Stderr, "master %s: %v\n", p.addr, p.err)
			}
		}
		// Wait for a leader the usual way, to fail with the usual error.
		if _, err := c.Leader(ctx); err != nil {
			return err
		}
		probes = probeMasters(ctx, c)
		if leader = leaderOf(probes); leader == nil {
			return fmt.Errorf("fsadmin report: no master reports itself as the leader of %v", c.Masters())
		}
	}
	// Ask the others again, now that the leader's commit index is known:
	// a master that has applied everything committed when the leader was
	// asked shows lag 0 even while changes keep coming.
	for i := range probes {
		if p := &probes[i]; p != leader && p.err == nil {
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			if st, err := c.RaftStatus(pctx, p.addr); err == nil {
				p.status = st
			}
			cancel()
		}
	}
	info := leader.info
	w := env.Stdout
	fmt.Fprintf(w, "Alluxio cluster summary:\n")
	fmt.Fprintf(w, "    Master Address: %s\n", leader.addr)
	fmt.Fprintf(w, "    Version: %s\n", info.Version)
	fmt.Fprintf(w, "    Started: %s\n", time.UnixMilli(info.StartTime).Format(time.RFC3339))
	fmt.Fprintf(w, "    Raft State: %s (last applied %d)\n", info.RaftState, info.LastApplied)
	fmt.Fprintf(w, "    Masters: %d\n", len(probes))
	for _, p := range probes {
		if p.err != nil {
			fmt.Fprintf(w, "    Master %s: UNAVAILABLE (%v)\n", p.addr, p.err)
			continue
		}
		lag := uint64(0)
		if leader.status.CommitIndex > p.status.LastApplied {
			lag = leader.status.CommitIndex - p.status.LastApplied
		}
		fmt.Fprintf(w, "    Master %s (journal %s): %s, term %d, last applied %d, lag %d\n",
			p.addr, p.status.RaftAddr, p.status.State, p.status.Term, p.status.LastApplied, lag)
	}
	workers := map[string]wire.WorkerInfo{}
	for _, p := range probes {
		for _, wk := range p.info.Workers {
			if old, ok := workers[wk.Address]; !ok || old.Stats.Used <= wk.Stats.Used {
				workers[wk.Address] = wk
			}
		}
	}
	var capacity, used int64
	addrs := make([]string, 0, len(workers))
	for a, wk := range workers {
		addrs = append(addrs, a)
		capacity += wk.Stats.Capacity
		used += wk.Stats.Used
	}
	sort.Strings(addrs)
	fmt.Fprintf(w, "    Live Workers: %d\n", len(workers))
	fmt.Fprintf(w, "    Total Capacity: %s\n", humanBytes(capacity))
	fmt.Fprintf(w, "    Used Capacity: %s\n", humanBytes(used))
	for _, a := range addrs {
		wk := workers[a]
		fmt.Fprintf(w, "    Worker %s: capacity %s, used %s, pages %d\n", wk.Address,
			humanBytes(wk.Stats.Capacity), humanBytes(wk.Stats.Used), wk.Stats.Pages)
		for _, t := range wk.Tiers {
			state := ""
			if t.Failed {
				state = ", FAILED: " + t.Reason
			}
			fmt.Fprintf(w, "        Tier %d %s %s: capacity %s, used %s%s\n", t.Level, t.Alias, t.Dir,
				humanBytes(t.Capacity), humanBytes(t.Used), state)
		}
	}
	return nil
}

// ping prints one master's Raft state; it fails when the master does not
// answer (alluxio-start.sh waits on it for a member of a group, which
// cannot lead before a quorum is up).
func ping(ctx context.Context, env *Env, c *client.Client, args []string) error {
	fl := flag.NewFlagSet("ping", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	addr := fl.String("address", env.Conf.MasterRPCAddr(), "master RPC host:port")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return usageError("usage: alluxio fsadmin ping [-address HOST:PORT]")
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := c.RaftStatus(ctx, *addr)
	if err != nil {
		return err
	}
	leader := st.LeaderRPC
	if leader == "" {
		leader = "none"
	}
	fmt.Fprintf(env.Stdout, "%s: %s, term %d, last applied %d, leader %s\n", *addr, st.State, st.Term, st.LastApplied, leader)
	return nil
}

// quorumFlags parses -domain (MASTER only) and, when want is set,
// -address.
func quorumFlags(verb string, args []string, wantAddress bool) (string, error) {
	usage := "usage: alluxio fsadmin journal quorum " + verb + " [-domain MASTER]"
	if wantAddress {
		usage += " -address HOST:PORT"
	}
	fl := flag.NewFlagSet(verb, flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	domain := fl.String("domain", "MASTER", "journal domain")
	addr := fl.String("address", "", "journal host:port of a master")
	if err := fl.Parse(args); err != nil || fl.NArg() > 0 {
		return "", usageError("%s", usage)
	}
	if !strings.EqualFold(*domain, "MASTER") {
		return "", usageError("alluxio fsadmin journal quorum %s: domain %q: only MASTER is supported", verb, *domain)
	}
	if wantAddress && *addr == "" {
		return "", usageError("%s", usage)
	}
	return *addr, nil
}

// quorumInfo prints the members of the master group, with each one's state
// as found by asking it.
func quorumInfo(ctx context.Context, env *Env, c *client.Client, args []string) error {
	if _, err := quorumFlags("info", args, false); err != nil {
		return err
	}
	servers, err := c.QuorumInfo(ctx)
	if err != nil {
		return err
	}
	states := make([]string, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			states[i] = memberState(ctx, c, s)
		})
	}
	wg.Wait()
	leader := "none"
	for _, s := range servers {
		if s.Leader {
			leader = s.Address
		}
	}
	w := env.Stdout
	fmt.Fprintf(w, "Journal domain\t: MASTER\n")
	fmt.Fprintf(w, "Quorum size\t: %d\n", len(servers))
	fmt.Fprintf(w, "Quorum leader\t: %s\n\n", leader)
	fmt.Fprintf(w, "%-22s | %-22s | %-22s | %-5s | %-6s | %s\n", "ID", "ADDRESS", "RPC ADDRESS", "VOTER", "LEADER", "STATE")
	for i, s := range servers {
		rpcAddr := s.RPCAddr
		if rpcAddr == "" {
			rpcAddr = "-"
		}
		fmt.Fprintf(w, "%-22s | %-22s | %-22s | %-5t | %-6t | %s\n", s.ID, s.Address, rpcAddr, s.Voter, s.Leader, states[i])
	}
	return nil
}

// memberState is AVAILABLE (with the Raft state) when the member answers
// at its RPC address, UNAVAILABLE when it does not, UNKNOWN without one.
func memberState(ctx context.Context, c *client.Client, s meta.QuorumServer) string {
	if s.RPCAddr == "" {
		return "UNKNOWN"
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	st, err := c.RaftStatus(ctx, s.RPCAddr)
	if err != nil {
		return "UNAVAILABLE"
	}
	return "AVAILABLE (" + st.State + ")"
}

// quorumRemove removes a master from the group.
func quorumRemove(ctx context.Context, env *Env, c *client.Client, args []string) error {
	addr, err := quorumFlags("remove", args, true)
	if err != nil {
		return err
	}
	if err := c.QuorumRemove(ctx, addr); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed server at %s from the quorum\n", addr)
	return nil
}

// quorumElect hands leadership to a master and waits until the group
// reports it as the leader.
func quorumElect(ctx context.Context, env *Env, c *client.Client, args []string) error {
	addr, err := quorumFlags("elect", args, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Initiating transfer of leadership to %s\n", addr)
	if err := c.QuorumElect(ctx, addr); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		servers, err := c.QuorumInfo(ctx)
		if err == nil {
			for _, s := range servers {
				if s.Leader && (s.Address == addr || s.ID == addr || s.RPCAddr == addr) {
					fmt.Fprintf(env.Stdout, "Successfully elected %s as the new leader\n", addr)
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("quorum elect %s: leadership was handed over but %s is not reported as the leader after 10s", addr, addr)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// digestTimeout bounds the digest asked of one master: it walks the whole
// namespace, about a second per million entries.
const digestTimeout = 2 * time.Minute

// journalDigest prints, for every master in alluxio.master.rpc.addresses,
// its RPC address, last applied journal index and namespace digest, asking
// each one itself (no leader redirect). It fails when a master does not
// answer, after printing what the others said.
func journalDigest(ctx context.Context, env *Env, c *client.Client) error {
	addrs := c.Masters()
	ms := client.NewMasters(addrs, 0, env.Log)
	defer ms.Close()
	digests := make([]meta.NamespaceDigest, len(addrs))
	errs := make([]error, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, digestTimeout)
			defer cancel()
			errs[i] = ms.CallAt(ctx, a, wire.MasterJournalDigest, nil, &digests[i])
		})
	}
	wg.Wait()
	var failed []string
	for i, a := range addrs {
		if errs[i] != nil {
			fmt.Fprintf(env.Stdout, "%s UNAVAILABLE (%v)\n", a, errs[i])
			failed = append(failed, a)
			continue
		}
		fmt.Fprintf(env.Stdout, "%s %d %s\n", a, digests[i].LastApplied, digests[i].SHA256)
	}
	if len(failed) > 0 {
		return fmt.Errorf("journal digest: no answer from %s: %w", strings.Join(failed, ", "), errors.Join(errs...))
	}
	return nil
}

// reportCapacity prints each worker's capacity and use, tier by tier.
func reportCapacity(ctx context.Context, env *Env, c *client.Client) error {
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "Capacity information for all workers:\n")
	fmt.Fprintf(w, "    Total Capacity: %s\n", humanBytes(info.Capacity))
	fmt.Fprintf(w, "    Used Capacity: %s\n", humanBytes(info.Used))
	pct := 0.0
	if info.Capacity > 0 {
		pct = float64(info.Used) * 100 / float64(info.Capacity)
	}
	fmt.Fprintf(w, "    Used Percentage: %.0f%%\n\n", pct)
	fmt.Fprintf(w, "%-24s %-8s %-10s %-10s %s\n", "Worker Name", "Tier", "Capacity", "Used", "Directory")
	for _, wk := range info.Workers {
		for _, t := range wk.Tiers {
			state := ""
			if t.Failed {
				state = "  FAILED: " + t.Reason
			}
			fmt.Fprintf(w, "%-24s %-8s %-10s %-10s %s%s\n", wk.Address, t.Alias, humanBytes(t.Capacity),
				humanBytes(t.Used), t.Dir, state)
		}
	}
	return nil
}

// reportMetrics prints the cluster counters from the leading master's web
// port.
func reportMetrics(ctx context.Context, env *Env, c *client.Client) error {
	web, err := leaderWeb(ctx, env, c)
	if err != nil {
		return err
	}
	url := "http://" + web + "/api/v1/master/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("metrics from the leading master (alluxio.master.web.port): %w", err)
	}
	defer resp.Body.Close()
	var m map[string]float64
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return fmt.Errorf("metrics from %s: %w", url, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(env.Stdout, "%-40s %.0f\n", k, m[k])
	}
	return nil
}

// reportUfs prints the mount table: what is mounted where, with options
// (credentials masked by the master).
func reportUfs(ctx context.Context, env *Env, c *client.Client) error {
	mounts, err := c.Mounts(ctx)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		mode := "read-write"
		if m.ReadOnly {
			mode = "read-only"
		}
		keys := make([]string, 0, len(m.Options))
		for k := range m.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		opts := make([]string, 0, len(keys))
		for _, k := range keys {
			opts = append(opts, k+"="+m.Options[k])
		}
		fmt.Fprintf(env.Stdout, "%s on %s (%s, shared=%t, properties={%s})\n", m.UfsURI, m.AlluxioPath, mode, m.Shared,
			strings.Join(opts, ", "))
	}
	return nil
}

// leaderWeb is the leading master's web address: its RPC host and
// alluxio.master.web.port.
func leaderWeb(ctx context.Context, env *Env, c *client.Client) (string, error) {
	leader, err := c.Leader(ctx)
	if err != nil {
		return "", err
	}
	host, _, err := net.SplitHostPort(leader)
	if err != nil {
		return "", fmt.Errorf("leader address %q: %w", leader, err)
	}
	return net.JoinHostPort(host, strconv.Itoa(env.Conf.Int("alluxio.master.web.port"))), nil
}

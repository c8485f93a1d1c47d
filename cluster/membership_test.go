package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const converge = 10 * time.Second

func TestMembershipLifecycle(t *testing.T) {
	logs := &logStore{}
	a := testMember(t, freeAddr(t))
	b := testMember(t, freeAddr(t))
	c := testMember(t, freeAddr(t))

	var changes atomic.Int32
	var lastMu sync.Mutex
	var last *Ring
	cfgA := testConfig(a, logs)
	cfgA.OnChange = func(r *Ring) {
		changes.Add(1)
		lastMu.Lock()
		last = r
		lastMu.Unlock()
	}
	ma := start(t, cfgA)
	if got := names(ma.Members()); len(got) != 1 || got[0] != a.Name {
		t.Fatalf("right after Start, a sees %v, want itself", got)
	}
	mb := start(t, testConfig(b, logs, a.Gossip))
	mc := start(t, testConfig(c, logs, a.Gossip, b.Gossip, c.Gossip))

	t.Run("all see three", func(t *testing.T) {
		for _, m := range []*Membership{ma, mb, mc} {
			eventually(t, converge, sees(m, a, b, c))
		}
		eventually(t, converge, func() string {
			if va, vb, vc := ma.Ring().Version(), mb.Ring().Version(), mc.Ring().Version(); va != vb || vb != vc {
				return "rings differ"
			}
			return ""
		})
		eventually(t, converge, func() string {
			lastMu.Lock()
			defer lastMu.Unlock()
			if last == nil || last.Version() != ma.Ring().Version() {
				return fmt.Sprintf("OnChange's last ring is not the current one (%d calls)", changes.Load())
			}
			return ""
		})
	})

	t.Run("crashed member restarts", func(t *testing.T) {
		// Close is a crash as the others see it; a worker restarted at
		// once, before it is found dead, takes its place.
		if err := mc.Close(); err != nil {
			t.Fatal(err)
		}
		c2 := c
		c2.StartTime = c.StartTime + 1
		mc = start(t, testConfig(c2, logs, a.Gossip))
		c = c2
		for _, m := range []*Membership{ma, mb, mc} {
			eventually(t, converge, sees(m, a, b, c))
		}
	})

	t.Run("closed member is dropped", func(t *testing.T) {
		if err := mc.Close(); err != nil {
			t.Fatal(err)
		}
		if err := mc.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		eventually(t, converge, sees(ma, a, b))
		eventually(t, converge, sees(mb, a, b))
	})

	t.Run("member that leaves is removed", func(t *testing.T) {
		if err := mb.Leave(time.Second); err != nil {
			t.Fatal(err)
		}
		if err := mb.Leave(time.Second); err != nil {
			t.Fatalf("second Leave: %v", err)
		}
		eventually(t, converge, sees(ma, a))
	})

	t.Run("restarted member rejoins", func(t *testing.T) {
		b2 := b
		b2.StartTime = b.StartTime + 1
		mb2 := start(t, testConfig(b2, logs, a.Gossip))
		eventually(t, converge, sees(ma, a, b2))
		eventually(t, converge, sees(mb2, a, b2))
		if len(logs.find(slog.LevelInfo, "cluster membership changed")) == 0 {
			t.Fatal("no membership change was logged")
		}
	})
}

// junkDelegate advertises meta that is not a member.
type junkDelegate []byte

func (d junkDelegate) NodeMeta(int) []byte           { return d }
func (junkDelegate) NotifyMsg([]byte)                {}
func (junkDelegate) GetBroadcasts(int, int) [][]byte { return nil }
func (junkDelegate) LocalState(bool) []byte          { return nil }
func (junkDelegate) MergeRemoteState([]byte, bool)   {}

// rawNode starts a bare memberlist node with the given meta that joins seed.
func rawNode(t *testing.T, name string, meta []byte, seed string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(freeAddr(t))
	mc := memberlist.DefaultLocalConfig()
	mc.Name = name
	mc.BindAddr, mc.AdvertiseAddr = host, host
	mc.BindPort, _ = strconv.Atoi(port)
	mc.AdvertisePort = mc.BindPort
	mc.Delegate = junkDelegate(meta)
	mc.Logger = log.New(io.Discard, "", 0)
	FastTuning().apply(mc)
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ml.Shutdown() })
	if _, err := ml.Join([]string{seed}); err != nil {
		t.Fatal(err)
	}
}

func TestMembershipIgnoresBadMeta(t *testing.T) {
	logs := &logStore{}
	a := testMember(t, freeAddr(t))
	ma := start(t, testConfig(a, logs))

	impostor, err := EncodeMeta(Member{Name: "someone-else", RPCAddr: "127.0.0.1:1", Gossip: "127.0.0.1:2", StartTime: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"junk":     []byte("\x00\xffnot json"),
		"empty":    nil,
		"impostor": impostor,
	}
	for name, meta := range bad {
		rawNode(t, name, meta, a.Gossip)
	}
	eventually(t, converge, func() string {
		if n := ma.ml.NumMembers(); n != 4 {
			return "memberlist has not seen the bad nodes yet"
		}
		if n := len(logs.find(slog.LevelWarn, "meta is not a valid worker")); n < len(bad) {
			return fmt.Sprintf("%d warnings for %d bad nodes", n, len(bad))
		}
		return ""
	})
	if got := names(ma.Members()); len(got) != 1 || got[0] != a.Name {
		t.Fatalf("ring has %v, want only %s", got, a.Name)
	}

	// A valid member joins later: it is placed, and the bad nodes are not
	// logged again.
	b := testMember(t, freeAddr(t))
	mb := start(t, testConfig(b, logs, a.Gossip))
	eventually(t, converge, sees(ma, a, b))
	eventually(t, converge, sees(mb, a, b))
	warns := logs.find(slog.LevelWarn, "meta is not a valid worker")
	perNode := map[string]int{}
	for _, w := range warns {
		perNode[w.attrs["node"]]++
		if w.attrs["addr"] == "" || !strings.HasPrefix(w.attrs["addr"], "127.0.0.1:") {
			t.Errorf("warning does not name the address: %v", w.attrs)
		}
	}
	for name := range bad {
		// Each membership warns once per bad node.
		if perNode[name] != 2 {
			t.Errorf("node %s warned %d times, want once by each of 2 members (%v)", name, perNode[name], perNode)
		}
	}
}

func TestMembershipFindsSeedsLater(t *testing.T) {
	logs := &logStore{}
	a := testMember(t, freeAddr(t))
	b := testMember(t, freeAddr(t))
	dead := freeAddr(t) // nothing listens here

	var calls atomic.Int32
	cfgA := testConfig(a, logs, dead, a.Gossip)
	cfgA.SeedFunc = func(context.Context) []string {
		calls.Add(1)
		return []string{b.Gossip}
	}
	ma := start(t, cfgA) // b is not up: not an error
	if got := names(ma.Members()); len(got) != 1 {
		t.Fatalf("a sees %v before b exists", got)
	}
	if len(logs.find(slog.LevelWarn, "no seed answered")) != 1 {
		t.Fatal("unreachable seeds were not logged")
	}
	mb := start(t, testConfig(b, logs)) // b knows no one
	eventually(t, converge, sees(ma, a, b))
	eventually(t, converge, sees(mb, a, b))
	if calls.Load() < 2 {
		t.Fatalf("SeedFunc called %d times, want at start and again while alone", calls.Load())
	}
	// Once a knows b, it stops asking.
	settled := calls.Load()
	time.Sleep(5 * cfgA.RejoinInterval)
	if now := calls.Load(); now != settled {
		t.Fatalf("SeedFunc called %d more times while a had company", now-settled)
	}
}

func TestStartBindFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	busy := ln.Addr().String()
	_, err = Start(t.Context(), testConfig(testMember(t, busy), &logStore{}))
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start on a busy port: %v, want EADDRINUSE", err)
	}
	for _, want := range []string{busy, "alluxio.worker.membership.port"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"no name", func(c *Config) { c.Self.Name = "" }},
		{"no start time", func(c *Config) { c.Self.StartTime = 0 }},
		{"gossip without port", func(c *Config) { c.Self.Gossip = "127.0.0.1" }},
		{"gossip port 0", func(c *Config) { c.Self.Gossip = "127.0.0.1:0" }},
		{"negative rejoin interval", func(c *Config) { c.RejoinInterval = -time.Second }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(testMember(t, freeAddr(t)), &logStore{})
			tc.edit(&cfg)
			m, err := Start(t.Context(), cfg)
			if err == nil {
				m.Close()
				t.Fatal("Start accepted the config")
			}
			if !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("Start: %v, want EINVAL", err)
			}
		})
	}
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	addr := freeAddr(t)
	_, err := Start(ctx, testConfig(testMember(t, addr), &logStore{}, freeAddr(t)))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ECANCELED) {
		t.Fatalf("Start with a canceled context: %v", err)
	}
	// The port was released.
	eventually(t, converge, func() string {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return "port still bound: " + err.Error()
		}
		ln.Close()
		return ""
	})
}

func TestLeaveAfterClose(t *testing.T) {
	m := start(t, testConfig(testMember(t, freeAddr(t)), &logStore{}))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Leave(time.Second); err != nil {
		t.Fatalf("Leave after Close: %v", err)
	}
	if m.Ring().Len() != 1 {
		t.Fatalf("after Close the ring has %d members, want the last one seen", m.Ring().Len())
	}
}

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logRecord is one captured log line, attributes flattened to strings.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logStore collects records from every handler derived from it. Tests
// must not log through t.Log: memberlist goroutines may outlive a test
// by a moment.
type logStore struct {
	mu      sync.Mutex
	records []logRecord
}

func (s *logStore) logger() *slog.Logger { return slog.New(&captureHandler{store: s}) }

// find returns the records at level whose message contains msg.
func (s *logStore) find(level slog.Level, msg string) []logRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []logRecord
	for _, r := range s.records {
		if r.level == level && strings.Contains(r.msg, msg) {
			out = append(out, r)
		}
	}
	return out
}

type captureHandler struct {
	store *logStore
	attrs []slog.Attr
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.records = append(h.store.records, rec)
	h.store.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{store: h.store, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// handedOut holds the addresses freeAddr has returned, so that no two
// members of one test binary are given the same port.
var handedOut sync.Map

// freeAddr returns 127.0.0.1:port with the port free for TCP and UDP at
// the time of the call and never returned before.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); dup {
			continue
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		pc.Close()
		return addr
	}
	t.Fatal("no port free for both TCP and UDP")
	return ""
}

// testMember returns a member named after its gossip address on 127.0.0.1.
func testMember(t *testing.T, gossip string) Member {
	t.Helper()
	return Member{Name: "w-" + gossip, RPCAddr: freeAddr(t), Gossip: gossip, StartTime: time.Now().UnixMilli()}
}

// testConfig returns a fast-probing config for self.
func testConfig(self Member, logs *logStore, seeds ...string) Config {
	return Config{
		Self:           self,
		Seeds:          seeds,
		RejoinInterval: 100 * time.Millisecond,
		Tuning:         FastTuning(),
		Logger:         logs.logger(),
	}
}

// start starts a membership that is closed when the test ends.
func start(t *testing.T, cfg Config) *Membership {
	t.Helper()
	m, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Start(%s): %v", cfg.Self.Name, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// eventually polls cond until it returns "" or the deadline passes, and
// then fails with cond's last complaint.
func eventually(t *testing.T, within time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// names lists the members' names.
func names(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// sees returns a condition that holds when m's ring is exactly want.
func sees(m *Membership, want ...Member) func() string {
	return func() string {
		got := m.Members()
		sorted := slices.Clone(want)
		slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		if !slices.Equal(got, sorted) {
			return fmt.Sprintf("%s sees %v, want %v", m.cfg.Self.Name, got, sorted)
		}
		return ""
	}
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// fakeMaster is an RPC server on 127.0.0.1 that answers master.GetStatus
// with answer (nil: success) and master.RaftStatus with status, and keeps
// the request ids it saw.
type fakeMaster struct {
	addr string

	mu     sync.Mutex // guards the fields below
	answer func(n int) error
	status wire.RaftStatus
	calls  int
	ids    []string
	// binary and follower count the calls that asked for a binary answer
	// (answered so) and the follower reads.
	binary, follower int
}

func startFake(t *testing.T) *fakeMaster {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMaster{addr: l.Addr().String()}
	s := rpc.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle(wire.MasterGetStatus, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		var rid wire.RequestID
		json.Unmarshal(req.Body, &rid)
		var flags map[string]any
		json.Unmarshal(req.Body, &flags)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.calls++
		f.ids = append(f.ids, rid.RequestID)
		if flags[wire.FollowerReadField] == true {
			f.follower++
		}
		if f.answer != nil {
			if err := f.answer(f.calls); err != nil {
				return nil, err
			}
		}
		fi := meta.FileInfo{Path: "/from/" + f.addr}
		if flags[wire.BinaryAnswerField] == true {
			f.binary++
			return &rpc.Response{Data: wire.AppendStampedInfo(nil, wire.StampedInfo{FileInfo: fi}, flags[wire.BinaryExtField] == true)}, nil
		}
		return &rpc.Response{Body: fi}, nil
	})
	s.Handle(wire.MasterRaftStatus, func(ctx context.Context, req *rpc.Request) (*rpc.Response, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return &rpc.Response{Body: f.status}, nil
	})
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return f
}

func (f *fakeMaster) set(answer func(n int) error, leaderRPC string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.status = answer, wire.RaftStatus{LeaderRPC: leaderRPC}
}

func (f *fakeMaster) seen() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]string(nil), f.ids...)
}

// deadAddr returns a 127.0.0.1 address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

var errNotLeader = fmt.Errorf("not the leader: %w", syscall.EAGAIN)

// TestMastersFollowLeader: a dead master is skipped, a follower's answer is
// followed to the leader, which is remembered; every attempt of a
// non-idempotent call carries the same request id.
func TestMastersFollowLeader(t *testing.T) {
	follower, leader := startFake(t), startFake(t)
	follower.set(func(int) error { return errNotLeader }, leader.addr)
	// The leader was just elected: its first answer asks to retry.
	leader.set(func(n int) error {
		if n == 1 {
			return errNotLeader
		}
		return nil
	}, leader.addr)
	dead := deadAddr(t)
	m := NewMasters([]string{dead, follower.addr, leader.addr}, 10*time.Second, nil)
	t.Cleanup(func() { m.Close() })

	var fi meta.FileInfo
	if err := m.Call(context.Background(), wire.MasterGetStatus, false, wire.PathRequest{Path: "/x"}, &fi); err != nil {
		t.Fatal(err)
	}
	if fi.Path != "/from/"+leader.addr || m.Current() != leader.addr {
		t.Fatalf("answered by %q, current %q; want the leader %s", fi.Path, m.Current(), leader.addr)
	}
	_, fids := follower.seen()
	n, lids := leader.seen()
	ids := append(fids, lids...)
	if n != 2 || len(ids) != 3 {
		t.Fatalf("attempts: follower %v, leader %v", fids, lids)
	}
	for _, id := range ids {
		if _, err := meta.ParseRequestID(id); err != nil || id != ids[0] {
			t.Errorf("request ids %v: want one valid id in every attempt", ids)
			break
		}
	}

	// The next call goes straight to the leader; idempotent calls carry
	// no request id.
	if err := m.Call(context.Background(), wire.MasterGetStatus, true, wire.PathRequest{Path: "/y"}, &fi); err != nil {
		t.Fatal(err)
	}
	if n, ids := leader.seen(); n != 3 || ids[2] != "" {
		t.Errorf("second call: %d calls at the leader, id %q", n, ids[len(ids)-1])
	}
	if n, _ := follower.seen(); n != 1 {
		t.Errorf("the follower was asked again (%d calls)", n)
	}
}

// TestMastersBinaryAnswers: a call whose response can take a binary
// answer asks for one and decodes it, from the leader and in a follower
// read alike; a response that cannot is answered in JSON.
func TestMastersBinaryAnswers(t *testing.T) {
	a, b := startFake(t), startFake(t)
	a.set(nil, a.addr)
	b.set(nil, a.addr)
	m := NewMasters([]string{a.addr, b.addr}, 10*time.Second, nil).WithFollowerReads(time.Nanosecond)
	t.Cleanup(func() { m.Close() })
	ctx := context.Background()

	// A write-like call (not idempotent) goes to the leader.
	var st wire.StampedInfo
	if err := m.Call(ctx, wire.MasterGetStatus, false, wire.PathRequest{Path: "/x"}, &st); err != nil {
		t.Fatal(err)
	}
	if st.Path != "/from/"+a.addr {
		t.Fatalf("leader call answered %+v", st.FileInfo)
	}
	// Reads go to each master in turn as follower reads.
	seen := map[string]bool{}
	for range 4 {
		time.Sleep(time.Millisecond) // past the staleness after the write
		st = wire.StampedInfo{}
		if err := m.Call(ctx, wire.MasterGetStatus, true, wire.PathRequest{Path: "/x"}, &st); err != nil {
			t.Fatal(err)
		}
		if st.Path == "" {
			t.Fatal("a follower read's binary answer was not decoded")
		}
		seen[st.Path] = true
	}
	if !seen["/from/"+a.addr] || !seen["/from/"+b.addr] {
		t.Errorf("follower reads answered by %v; want both masters", seen)
	}
	// A plain FileInfo takes no binary answer: JSON it is.
	var fi meta.FileInfo
	if err := m.Call(ctx, wire.MasterGetStatus, true, wire.PathRequest{Path: "/x"}, &fi); err != nil || fi.Path == "" {
		t.Fatalf("JSON answer: %+v, %v", fi, err)
	}
	a.mu.Lock()
	b.mu.Lock()
	calls, binary, follower := a.calls+b.calls, a.binary+b.binary, a.follower+b.follower
	b.mu.Unlock()
	a.mu.Unlock()
	if calls != 6 || binary != 5 || follower != 5 {
		t.Errorf("%d calls, %d asked for binary, %d follower reads; want 6, 5, 5", calls, binary, follower)
	}
}

// TestMastersGiveUp: answers other than "not the leader" are returned at
// once; with no master reachable each is tried, then the retry window
// ends the call.
func TestMastersGiveUp(t *testing.T) {
	f := startFake(t)
	f.set(func(int) error { return &fakeErr{syscall.ENOENT} }, f.addr)
	m := NewMasters([]string{f.addr}, time.Minute, nil)
	t.Cleanup(func() { m.Close() })
	err := m.Call(context.Background(), wire.MasterGetStatus, true, wire.PathRequest{Path: "/x"}, nil)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("ENOENT answer: %v", err)
	}
	if n, _ := f.seen(); n != 1 {
		t.Errorf("an error answer was retried: %d calls", n)
	}

	dead := NewMasters([]string{deadAddr(t), deadAddr(t)}, 0, nil)
	t.Cleanup(func() { dead.Close() })
	start := time.Now()
	err = dead.Call(context.Background(), wire.MasterGetStatus, true, nil, nil)
	if !errors.Is(err, syscall.ECONNREFUSED) || time.Since(start) > 5*time.Second {
		t.Fatalf("no master up: %v after %v", err, time.Since(start))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	waiting := NewMasters([]string{deadAddr(t)}, time.Minute, nil)
	t.Cleanup(func() { waiting.Close() })
	if err := waiting.Call(ctx, wire.MasterGetStatus, true, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("retry bounded by ctx: %v", err)
	}
	if err := NewMasters(nil, 0, nil).Call(ctx, wire.MasterGetStatus, true, nil, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("no master configured: %v", err)
	}
}

type fakeErr struct{ errno syscall.Errno }

func (e *fakeErr) Error() string { return "fake: " + e.errno.Error() }
func (e *fakeErr) Unwrap() error { return e.errno }

// TestWithRequestID checks the request id field added to JSON bodies by
// withField, also to a body that is JSON already (another field added).
func TestWithRequestID(t *testing.T) {
	id := meta.NewRequestID()
	cases := []struct {
		name string
		req  any
		want string // JSON after adding; "" means unchanged
	}{
		{"struct", wire.PathRequest{Path: "/a"}, `{"requestId":"` + id.String() + `","path":"/a"}`},
		{"nil", nil, `{"requestId":"` + id.String() + `"}`},
		{"empty struct", struct{}{}, `{"requestId":"` + id.String() + `"}`},
		{"not an object", "text", ""},
		{"JSON already", json.RawMessage(`{"caller":{"uid":7},"path":"/a"}`),
			`{"requestId":"` + id.String() + `","caller":{"uid":7},"path":"/a"}`},
	}
	for _, tc := range cases {
		got := withField(tc.req, `"`+wire.RequestIDField+`":"`+id.String()+`"`)
		if tc.want == "" {
			if got != tc.req {
				t.Errorf("%s: changed to %v", tc.name, got)
			}
			continue
		}
		b, err := json.Marshal(got)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, b, err, tc.want)
		}
	}
}

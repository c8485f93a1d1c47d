package meta

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/alluxio-go/alluxio/internal/atomicfile"
)

// testLayer is a stream layer on 127.0.0.1 whose log is kept.
type testLayer struct {
	*streamLayer
	logs *lockedBuffer
}

func newTestLayer(t *testing.T, token string) *testLayer {
	t.Helper()
	logs := &lockedBuffer{}
	s, err := listenRaft("127.0.0.1:0", nil, token, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testLayer{streamLayer: s, logs: logs}
}

// serveEcho accepts connections and answers each byte read with that byte
// plus one, as a Raft server answers a request; what each connection's
// first Read returned (nil or its error) goes to results.
func (l *testLayer) serveEcho(results chan<- error) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var b [1]byte
			_, err := io.ReadFull(c, b[:])
			results <- err
			if err != nil {
				return
			}
			b[0]++
			c.Write(b[:])
		}()
	}
}

// rpcType is the first byte of a Raft request (rpcAppendEntries).
const rpcType = 0

// TestRaftStreamTokens dials between layers of every pairing of tokens: a
// connection carries Raft's bytes only between masters of one token (or
// none), and both sides of any other pairing close it, the dialer's error
// naming both tokens when it can know them.
func TestRaftStreamTokens(t *testing.T) {
	for _, tc := range []struct {
		name, dialer, acceptor string
		ok                     bool
		dialErr                string // when the dial fails
	}{
		{name: "same token", dialer: "rel-revision-2", acceptor: "rel-revision-2", ok: true},
		{name: "no token on either side", ok: true},
		{name: "different tokens", dialer: "rel-revision-3", acceptor: "rel-revision-2",
			dialErr: `was formatted with token "rel-revision-2", this master with "rel-revision-3"`},
		{name: "untokened acceptor", dialer: "rel-revision-3",
			dialErr: `was formatted with token "", this master with "rel-revision-3"`},
		{name: "untokened dialer", acceptor: "rel-revision-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, a := newTestLayer(t, tc.dialer), newTestLayer(t, tc.acceptor)
			accepted := make(chan error, 4)
			go a.serveEcho(accepted)
			c, err := d.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second)
			if tc.dialErr != "" {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				if !strings.Contains(err.Error(), tc.dialErr) || !strings.Contains(err.Error(), a.Addr().String()) || !errors.Is(err, errFormatMismatch) {
					t.Errorf("dial error %q, want one naming %s and %s", err, a.Addr(), tc.dialErr)
				}
				if err := <-accepted; !errors.Is(err, io.EOF) {
					t.Errorf("acceptor's read: %v, want io.EOF", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if _, err := c.Write([]byte{rpcType}); err != nil {
				t.Fatal(err)
			}
			var b [1]byte
			_, rerr := io.ReadFull(c, b[:])
			aerr := <-accepted
			if tc.ok {
				if rerr != nil || aerr != nil || b[0] != rpcType+1 {
					t.Fatalf("echo: got %d, dialer's read %v, acceptor's read %v", b[0], rerr, aerr)
				}
				return
			}
			// An untokened dialer cannot know why: the acceptor hangs up
			// and logs the refusal.
			if rerr == nil || !errors.Is(aerr, io.EOF) {
				t.Fatalf("refused connection: dialer's read %v, acceptor's read %v", rerr, aerr)
			}
			if logs := a.logs.String(); !strings.Contains(logs, `peerToken=""`) || !strings.Contains(logs, "token="+tc.acceptor) {
				t.Errorf("acceptor's log does not name both tokens:\n%s", logs)
			}
		})
	}
}

// TestRaftStreamWarnsOnce: Raft dials again and again; a refused peer is
// logged once a minute, not at every attempt.
func TestRaftStreamWarnsOnce(t *testing.T) {
	d, a := newTestLayer(t, "rel-revision-3"), newTestLayer(t, "rel-revision-2")
	accepted := make(chan error, 8)
	go a.serveEcho(accepted)
	for range 3 {
		if c, err := d.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second); err == nil {
			c.Close()
			t.Fatal("dial succeeded")
		}
		<-accepted
	}
	for name, l := range map[string]*testLayer{"dialer": d, "acceptor": a} {
		if n := strings.Count(l.logs.String(), "level=WARN"); n != 1 {
			t.Errorf("%s logged %d warnings for 3 refusals, want 1:\n%s", name, n, l.logs)
		}
	}
}

// TestRaftStreamAcceptNotBlocked: a peer that connects and says nothing
// holds up no other connection.
func TestRaftStreamAcceptNotBlocked(t *testing.T) {
	d, a := newTestLayer(t, "rel-revision-2"), newTestLayer(t, "rel-revision-2")
	accepted := make(chan error, 4)
	go a.serveEcho(accepted)
	silent, err := net.Dial("tcp", a.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, err := d.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatalf("dial after a silent connection: %v", err)
	}
	c.Close()
}

// TestRaftStreamAdopt: a master that started with an empty journal and no
// token takes the token of the first peer that reaches it, and keeps it.
func TestRaftStreamAdopt(t *testing.T) {
	d, a := newTestLayer(t, "rel-revision-2"), newTestLayer(t, "")
	var recorded []string
	a.allowAdopt(func(token string) error { recorded = append(recorded, token); return nil })
	accepted := make(chan error, 4)
	go a.serveEcho(accepted)
	c, err := d.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if got := a.currentToken(); got != "rel-revision-2" || len(recorded) != 1 {
		t.Fatalf("token %q after the first peer, recorded %v", got, recorded)
	}
	other := newTestLayer(t, "rel-revision-3")
	if c, err := other.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("a peer of another token was accepted after the adoption")
	}
	if got := a.currentToken(); got != "rel-revision-2" || len(recorded) != 1 {
		t.Fatalf("token %q after a second peer, recorded %v", got, recorded)
	}
}

// TestFormatTokenFile: the token is kept in the journal folder as the
// image's entrypoint kept it, and checked.
func TestFormatTokenFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		write, want string
		bad         bool
	}{
		{write: "alluxio-revision-2\n", want: "alluxio-revision-2"},
		{write: "", want: ""},
		{write: "two words\n", bad: true},
		{write: strings.Repeat("x", maxFormatToken+1), bad: true},
	} {
		if err := atomicfile.Write(dir+"/"+formatTokenFile, []byte(tc.write), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readFormatToken(dir)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("file %q: token %q, error %v", tc.write, got, err)
		}
	}
	if err := writeFormatToken(dir, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := readFormatToken(dir); got != "" || err != nil {
		t.Errorf("after removal: token %q, error %v", got, err)
	}
}

// TestRaftStreamNoAdoptWithState: a master whose journal holds entries
// keeps having no token, and refuses a tokened peer.
func TestRaftStreamNoAdoptWithState(t *testing.T) {
	d, a := newTestLayer(t, "rel-revision-2"), newTestLayer(t, "")
	calls := 0
	a.allowAdopt(func(string) error { calls++; return errNotEmpty })
	accepted := make(chan error, 4)
	go a.serveEcho(accepted)
	for range 2 {
		if c, err := d.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second); err == nil {
			c.Close()
			t.Fatal("a master with a journal took a peer's token")
		}
		<-accepted
	}
	if a.currentToken() != "" || calls != 1 {
		t.Fatalf("token %q, adoption asked %d times", a.currentToken(), calls)
	}
}

package meta

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// The Raft transport's connections carry the journal's format token, so
// that masters formatted apart never join each other: in a rolling format
// (each master stopped, formatted and started in turn) the formatted
// masters only talk to each other, the others keep their quorum until too
// few are left, and once a majority is formatted the formatted masters
// elect a leader of an empty namespace.
//
// A dialer whose journal has a token opens the connection with a hello:
// helloMagic (whose first byte is no Raft RPC type) and the token behind
// one length byte. The acceptor answers with its own token the same way;
// each side compares, and on a mismatch both close. A connection that
// does not start with the magic comes from a master without a token (an
// older build, or a journal formatted without one): its token is "". A
// master without a token sends no hello, so a group without tokens speaks
// what earlier builds speak.
const helloMagic = "\xa7AXFMT1"

// handshakeTimeout bounds the exchange of hellos.
const handshakeTimeout = 10 * time.Second

// mismatchLogEvery is how often a refused peer is logged: Raft dials
// again at every heartbeat and election.
const mismatchLogEvery = time.Minute

// errFormatMismatch reports a Raft peer formatted with another token.
var errFormatMismatch = errors.New("format token mismatch")

// streamLayer is Raft's network transport over TCP with the format-token
// handshake.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	log       *slog.Logger

	// mu guards token, adopt and logged. adopt, when set, is called to
	// take the first token a peer offers while this master has none
	// (see allowAdopt).
	mu     sync.Mutex
	token  string
	adopt  func(string) error
	logged map[string]time.Time // key -> last WARN
}

// listenRaft listens on bind for Raft connections; advertise is the
// address peers dial (nil: the listener's). token is this journal's
// format token.
func listenRaft(bind string, advertise net.Addr, token string, log *slog.Logger) (*streamLayer, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	if a, ok := advertise.(*net.TCPAddr); !ok || a.IP == nil || a.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("raft address %s cannot be advertised to peers (give a host, not 0.0.0.0): %w", advertise, syscall.EINVAL)
	}
	return &streamLayer{ln: ln, advertise: advertise, token: token, log: log, logged: map[string]time.Time{}}, nil
}

// Accept implements net.Listener: the handshake runs on the connection's
// first Read, in the transport's goroutine for that connection, so a slow
// peer never holds up the others.
func (s *streamLayer) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return &acceptedConn{Conn: c, s: s}, nil
}

// Close implements net.Listener.
func (s *streamLayer) Close() error { return s.ln.Close() }

// Addr implements net.Listener: the advertised address.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// currentToken returns this master's token.
func (s *streamLayer) currentToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// Dial implements raft.StreamLayer: with a token, the hello is exchanged
// before the connection is handed to Raft.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	mine := s.currentToken()
	if mine == "" {
		return c, nil
	}
	if timeout <= 0 || timeout > handshakeTimeout {
		timeout = handshakeTimeout
	}
	c.SetDeadline(time.Now().Add(timeout))
	theirs, err := func() (string, error) {
		if _, err := c.Write(encodeHello(mine)); err != nil {
			return "", err
		}
		// Unbuffered: the peer sends nothing after its hello until
		// Raft's first request, but no byte of Raft's may be read here.
		return readHello(c, true)
	}()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("raft peer %s did not answer the format token handshake (a master of an older build hangs up on it; this master's token is %q): %w", address, mine, err)
	}
	if theirs != mine {
		c.Close()
		s.warn("dial "+string(address), "refused raft peer: formatted with another token", "peer", string(address), "peerToken", theirs, "token", mine)
		return nil, mismatch(string(address), theirs, mine)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// mismatch is the error of a connection between differently formatted
// masters.
func mismatch(peer, theirs, mine string) error {
	return fmt.Errorf("raft peer %s was formatted with token %q, this master with %q: %w", peer, theirs, mine, errFormatMismatch)
}

// warn logs msg at WARN, at most once per mismatchLogEvery for key.
func (s *streamLayer) warn(key, msg string, args ...any) {
	s.mu.Lock()
	last, ok := s.logged[key]
	now := time.Now()
	if ok && now.Sub(last) < mismatchLogEvery {
		s.mu.Unlock()
		return
	}
	s.logged[key] = now
	s.mu.Unlock()
	s.log.Warn(msg, args...)
}

// encodeHello lays out a hello carrying token.
func encodeHello(token string) []byte {
	b := make([]byte, 0, len(helloMagic)+1+len(token))
	b = append(b, helloMagic...)
	b = append(b, byte(len(token)))
	return append(b, token...)
}

// readHello reads a hello; with magicRead false the magic's first byte
// was consumed already.
func readHello(r io.Reader, magicRead bool) (string, error) {
	magic := helloMagic
	if !magicRead {
		magic = helloMagic[1:]
	}
	buf := make([]byte, len(magic)+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", fmt.Errorf("no hello: %w", err)
	}
	if string(buf[:len(magic)]) != magic {
		return "", fmt.Errorf("no hello: got %q: %w", buf, syscall.EPROTO)
	}
	token := make([]byte, buf[len(magic)])
	if _, err := io.ReadFull(r, token); err != nil {
		return "", fmt.Errorf("hello cut short: %w", err)
	}
	if err := checkFormatToken(string(token)); err != nil {
		return "", err
	}
	return string(token), nil
}

// acceptedConn is an accepted connection whose handshake runs on the
// first Read (or Write).
type acceptedConn struct {
	net.Conn
	s *streamLayer

	once sync.Once
	err  error  // the handshake's failure: every Read and Write returns it
	head []byte // a byte read past the handshake, returned first
}

// Read implements net.Conn.
func (c *acceptedConn) Read(p []byte) (int, error) {
	c.once.Do(c.handshake)
	if c.err != nil {
		return 0, c.err
	}
	if len(c.head) > 0 && len(p) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// Write implements net.Conn.
func (c *acceptedConn) Write(p []byte) (int, error) {
	c.once.Do(c.handshake)
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Write(p)
}

// handshake looks at the first byte: a hello is answered with this
// master's token; anything else is a peer without one. On a mismatch the
// connection is closed and reads return io.EOF, which Raft takes as the
// peer hanging up (the refusal is logged here, at most once a minute).
func (c *acceptedConn) handshake() {
	var first [1]byte
	if _, err := io.ReadFull(c.Conn, first[:]); err != nil {
		c.err = err
		return
	}
	mine := c.s.currentToken()
	theirs := ""
	if first[0] == helloMagic[0] {
		c.Conn.SetDeadline(time.Now().Add(handshakeTimeout))
		var err error
		theirs, err = readHello(c.Conn, false)
		if err != nil {
			c.Conn.Close()
			c.err = fmt.Errorf("raft connection from %s: %w", c.RemoteAddr(), err)
			return
		}
		if mine == "" {
			mine = c.s.adoptToken(theirs, c.RemoteAddr())
		}
		_, err = c.Conn.Write(encodeHello(mine))
		c.Conn.SetDeadline(time.Time{})
		if err != nil {
			c.Conn.Close()
			c.err = fmt.Errorf("raft connection from %s: %w", c.RemoteAddr(), err)
			return
		}
	} else {
		c.head = first[:]
	}
	if theirs != mine {
		c.Conn.Close()
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		c.s.warn("accept "+host+" "+theirs, "refused raft connection: the peer was formatted with another token",
			"peer", c.RemoteAddr().String(), "peerToken", theirs, "token", mine)
		c.err = io.EOF
	}
}

// adoptToken takes token, offered by peer, as this master's when it may
// (see allowAdopt), and returns this master's token.
func (s *streamLayer) adoptToken(token string, peer net.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" || s.adopt == nil {
		return s.token
	}
	switch err := s.adopt(token); {
	case errors.Is(err, errNotEmpty):
		s.adopt = nil
	case err != nil:
		s.log.Warn("could not record the format token of a raft peer", "token", token, "peer", peer.String(), "err", err)
	default:
		s.token, s.adopt = token, nil
		s.log.Info("adopted the group's format token from a raft peer: this master's journal is empty and had none",
			"token", token, "peer", peer.String())
	}
	return s.token
}

// errNotEmpty says that a master's journal holds more than its bootstrap:
// it no longer takes a peer's token.
var errNotEmpty = errors.New("the journal is not empty")

// allowAdopt lets this master, which has no token, take the first token a
// peer offers: adopt records it, or fails with errNotEmpty once the
// journal holds more than its bootstrap, which ends the offer.
func (s *streamLayer) allowAdopt(adopt func(string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == "" {
		s.adopt = adopt
	}
}

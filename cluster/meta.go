package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/hashicorp/memberlist"
)

// Member is one worker as the cluster sees it. It travels as memberlist
// node meta (see EncodeMeta) and in RPC replies.
type Member struct {
	// Name is the member's unique id and its memberlist node name; the
	// worker uses its RPC address host:port.
	Name string `json:"name"`
	// RPCAddr is the TCP data and RPC address (host:port).
	RPCAddr string `json:"rpc"`
	// WebAddr is the web UI and metrics address (host:port), if any.
	WebAddr string `json:"web,omitempty"`
	// Gossip is the memberlist address (host:port).
	Gossip string `json:"gossip"`
	// StartTime is when the process started, in Unix milliseconds; it
	// tells a restarted worker from the one it replaced.
	StartTime int64 `json:"start"`
}

// maxNameLen bounds Member.Name; a host:port is far shorter.
const maxNameLen = 255

// EncodeMeta returns m as memberlist node meta: compact JSON. It fails
// with EINVAL if m would not pass DecodeMeta and with EMSGSIZE if the
// result is over memberlist.MetaMaxSize bytes.
func EncodeMeta(m Member) ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("cluster: encode meta of %q: %w", clip(m.Name), err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("cluster: encode meta of %q: %v: %w", clip(m.Name), err, syscall.EINVAL)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("cluster: encode meta of %q: %d bytes, over the memberlist limit of %d: %w",
			clip(m.Name), len(b), memberlist.MetaMaxSize, syscall.EMSGSIZE)
	}
	return b, nil
}

// DecodeMeta parses memberlist node meta written by EncodeMeta. It is
// strict: meta over memberlist.MetaMaxSize (EMSGSIZE), malformed JSON, a
// missing name, rpc, gossip or start, or an address that is not host:port
// with a port in 1..65535 is rejected (EINVAL). Unknown fields are
// ignored, so that a newer worker may add some without being dropped from
// older workers' rings. It never panics.
func DecodeMeta(b []byte) (Member, error) {
	if len(b) > memberlist.MetaMaxSize {
		return Member{}, fmt.Errorf("cluster: decode meta: %d bytes, over the memberlist limit of %d: %w",
			len(b), memberlist.MetaMaxSize, syscall.EMSGSIZE)
	}
	if len(b) == 0 {
		return Member{}, fmt.Errorf("cluster: decode meta: empty: %w", syscall.EINVAL)
	}
	var m Member
	if err := json.Unmarshal(b, &m); err != nil {
		return Member{}, fmt.Errorf("cluster: decode meta: %v: %w", err, syscall.EINVAL)
	}
	if err := m.validate(); err != nil {
		return Member{}, fmt.Errorf("cluster: decode meta: %w", err)
	}
	return m, nil
}

// validate checks the fields a member must have to be placed on a ring
// and reached. Errors wrap EINVAL and name the field.
func (m Member) validate() error {
	switch {
	case m.Name == "":
		return fieldErr("name", m.Name, "missing")
	case len(m.Name) > maxNameLen:
		return fieldErr("name", m.Name, fmt.Sprintf("longer than %d bytes", maxNameLen))
	case !plain(m.Name):
		return fieldErr("name", m.Name, "not printable ASCII without spaces, quotes or backslashes")
	case m.StartTime <= 0:
		return fieldErr("start", fmt.Sprint(m.StartTime), "missing or not positive")
	}
	for _, f := range []struct {
		key, val string
		optional bool
	}{
		{"rpc", m.RPCAddr, false},
		{"gossip", m.Gossip, false},
		{"web", m.WebAddr, true},
	} {
		if f.val == "" {
			if f.optional {
				continue
			}
			return fieldErr(f.key, f.val, "missing")
		}
		if why := checkHostPort(f.val); why != "" {
			return fieldErr(f.key, f.val, why)
		}
	}
	return nil
}

func fieldErr(key, val, why string) error {
	return fmt.Errorf("field %q = %q: %s: %w", key, clip(val), why, syscall.EINVAL)
}

// clip shortens a value quoted in an error, since meta may be junk from
// any node on the network.
func clip(s string) string {
	const max = 64
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// plain reports whether s is printable ASCII other than space, '"' and
// '\\'. Such strings encode as themselves in JSON, which keeps an encoded
// member no longer than any meta it was decoded from.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// checkHostPort returns why s is not a usable host:port, or "".
func checkHostPort(s string) string {
	if !plain(s) {
		return "not printable ASCII without spaces, quotes or backslashes"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "not host:port"
	}
	if !validPort(port) {
		return "port not in 1..65535"
	}
	if host == "" {
		return "empty host"
	}
	if s[0] == '[' { // only an IPv6 literal is bracketed
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "bracketed host is not an IPv6 address"
		}
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if !validHostname(host) {
		return "host is neither an IP address nor a DNS name"
	}
	return ""
}

// validPort accepts decimal digits only (no sign) for 1..65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// validHostname accepts DNS names: dot-separated labels of letters,
// digits, '-' and '_' (as in some container host names), no label empty,
// longer than 63 or starting or ending with '-'.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return false
			}
			label = 0
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return h[len(h)-1] != '-'
}

package cluster

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/memberlist"
)

func validMember() Member {
	return Member{Name: "10.0.0.7:29999", RPCAddr: "10.0.0.7:29999", WebAddr: "10.0.0.7:30000",
		Gossip: "10.0.0.7:29997", StartTime: 1700000000123}
}

func TestEncodeDecodeMeta(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Member)
	}{
		{"full", func(*Member) {}},
		{"no web address", func(m *Member) { m.WebAddr = "" }},
		{"host names", func(m *Member) {
			m.Name, m.RPCAddr, m.Gossip, m.WebAddr = "worker-0.alluxio.svc:29999", "worker-0.alluxio.svc:29999", "worker-0:29997", "worker_0.local.:30000"
		}},
		{"IPv6", func(m *Member) { m.Name, m.RPCAddr, m.Gossip = "[fd00::7]:29999", "[fd00::7]:29999", "[::1]:29997" }},
		{"name other than the address", func(m *Member) { m.Name = "worker-a" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := validMember()
			tc.edit(&m)
			b, err := EncodeMeta(m)
			if err != nil {
				t.Fatalf("EncodeMeta(%+v): %v", m, err)
			}
			if len(b) > memberlist.MetaMaxSize {
				t.Fatalf("meta is %d bytes, over %d", len(b), memberlist.MetaMaxSize)
			}
			got, err := DecodeMeta(b)
			if err != nil {
				t.Fatalf("DecodeMeta(%s): %v", b, err)
			}
			if got != m {
				t.Fatalf("round trip: got %+v, want %+v", got, m)
			}
		})
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	tests := []struct {
		name  string
		meta  string
		errno syscall.Errno
		field string // named in the error, if any
	}{
		{"empty", ``, syscall.EINVAL, ""},
		{"not JSON", `hello`, syscall.EINVAL, ""},
		{"truncated", `{"name":"a:1","rpc":"a:1"`, syscall.EINVAL, ""},
		{"array", `[1,2]`, syscall.EINVAL, ""},
		{"null", `null`, syscall.EINVAL, "name"},
		{"trailing data", `{"name":"a","rpc":"a:1","gossip":"a:2","start":1} x`, syscall.EINVAL, ""},
		{"missing name", `{"rpc":"a:1","gossip":"a:2","start":1}`, syscall.EINVAL, "name"},
		{"missing rpc", `{"name":"a","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"missing gossip", `{"name":"a","rpc":"a:1","start":1}`, syscall.EINVAL, "gossip"},
		{"missing start", `{"name":"a","rpc":"a:1","gossip":"a:2"}`, syscall.EINVAL, "start"},
		{"negative start", `{"name":"a","rpc":"a:1","gossip":"a:2","start":-5}`, syscall.EINVAL, "start"},
		{"start not a number", `{"name":"a","rpc":"a:1","gossip":"a:2","start":"1"}`, syscall.EINVAL, ""},
		{"start fraction", `{"name":"a","rpc":"a:1","gossip":"a:2","start":1.5}`, syscall.EINVAL, ""},
		{"rpc without port", `{"name":"a","rpc":"a","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"rpc port 0", `{"name":"a","rpc":"a:0","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"rpc port too big", `{"name":"a","rpc":"a:65536","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"rpc port signed", `{"name":"a","rpc":"a:+80","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"rpc empty host", `{"name":"a","rpc":":80","gossip":"a:2","start":1}`, syscall.EINVAL, "rpc"},
		{"gossip bad host", `{"name":"a","rpc":"a:1","gossip":"a b:2","start":1}`, syscall.EINVAL, "gossip"},
		{"gossip bracketed name", `{"name":"a","rpc":"a:1","gossip":"[host]:2","start":1}`, syscall.EINVAL, "gossip"},
		{"gossip label starts with dash", `{"name":"a","rpc":"a:1","gossip":"-a.b:2","start":1}`, syscall.EINVAL, "gossip"},
		{"web bad", `{"name":"a","rpc":"a:1","gossip":"a:2","web":"http://a:3","start":1}`, syscall.EINVAL, "web"},
		{"name with space", `{"name":"a b","rpc":"a:1","gossip":"a:2","start":1}`, syscall.EINVAL, "name"},
		{"name with control", `{"name":"a\u0001","rpc":"a:1","gossip":"a:2","start":1}`, syscall.EINVAL, "name"},
		{"name not ASCII", `{"name":"wörker","rpc":"a:1","gossip":"a:2","start":1}`, syscall.EINVAL, "name"},
		{"name too long", `{"name":"` + strings.Repeat("n", 256) + `","rpc":"a:1","gossip":"a:2","start":1}`, syscall.EINVAL, "name"},
		{"oversized", `{"name":"a","rpc":"a:1","gossip":"a:2","start":1,"pad":"` + strings.Repeat("x", 512) + `"}`, syscall.EMSGSIZE, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeMeta([]byte(tc.meta))
			if err == nil {
				t.Fatalf("DecodeMeta(%q) = %+v, want an error", tc.meta, m)
			}
			if !errors.Is(err, tc.errno) {
				t.Fatalf("DecodeMeta(%q) = %v, want errno %v", tc.meta, err, tc.errno)
			}
			if tc.field != "" && !strings.Contains(err.Error(), `"`+tc.field+`"`) {
				t.Fatalf("error %q does not name field %q", err, tc.field)
			}
		})
	}
}

func TestDecodeMetaIgnoresUnknownFields(t *testing.T) {
	m, err := DecodeMeta([]byte(`{"name":"a","rpc":"a:1","gossip":"a:2","start":1,"zone":"rack-4"}`))
	if err != nil {
		t.Fatalf("a field from a newer worker was rejected: %v", err)
	}
	if want := (Member{Name: "a", RPCAddr: "a:1", Gossip: "a:2", StartTime: 1}); m != want {
		t.Fatalf("got %+v, want %+v", m, want)
	}
}

func TestEncodeMetaRejects(t *testing.T) {
	long := strings.Repeat("h", 60)
	host := strings.Join([]string{long, long, long, long}, ".") // 243 bytes, a valid DNS name
	tests := []struct {
		name  string
		edit  func(*Member)
		errno syscall.Errno
	}{
		{"no name", func(m *Member) { m.Name = "" }, syscall.EINVAL},
		{"no start time", func(m *Member) { m.StartTime = 0 }, syscall.EINVAL},
		{"bad gossip", func(m *Member) { m.Gossip = "10.0.0.7" }, syscall.EINVAL},
		{"over the memberlist limit", func(m *Member) {
			m.RPCAddr, m.Gossip, m.WebAddr = host+":1", host+":2", host+":3"
		}, syscall.EMSGSIZE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := validMember()
			tc.edit(&m)
			b, err := EncodeMeta(m)
			if !errors.Is(err, tc.errno) {
				t.Fatalf("EncodeMeta(%+v) = %q, %v; want errno %v", m, b, err, tc.errno)
			}
		})
	}
}

// FuzzDecodeMeta checks that DecodeMeta never panics and that whatever it
// accepts survives EncodeMeta and decodes to the same member.
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range []Member{
		validMember(),
		{Name: "a", RPCAddr: "a:1", Gossip: "[::1]:2", StartTime: 1},
	} {
		b, err := EncodeMeta(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"name":1}`, `{"name":"a","rpc":"a:1","gossip":"a:2","start":1}x`,
		`{"NAME":"a","Rpc":"a:1","gossip":"a:2","start":1,"web":""}`,
		`{"name":"a\u0041","rpc":"a:1","gossip":"[fe80::1%eth0]:2","start":9223372036854775807}`,
		`{"name":"a","rpc":"a:1","gossip":"a:2","start":1e3}`,
		`{"name":"<&>","rpc":"a:1","gossip":"a:2","start":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			if m != (Member{}) {
				t.Fatalf("DecodeMeta(%q) returned %+v with error %v", b, m, err)
			}
			return
		}
		enc, err := EncodeMeta(m)
		if err != nil {
			t.Fatalf("DecodeMeta(%q) accepted %+v, which EncodeMeta rejects: %v", b, m, err)
		}
		again, err := DecodeMeta(enc)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", enc, err)
		}
		if again != m {
			t.Fatalf("round trip of %q: %+v then %+v", b, m, again)
		}
	})
}

package testport

import (
	"fmt"
	"net"
	"testing"
)

// TestFree: the ports are distinct, below the ephemeral range here, and
// can be listened on.
func TestFree(t *testing.T) {
	eph, err := ephemeralLow()
	if err != nil {
		t.Skipf("no ephemeral range to stay below: %v", err)
	}
	seen := map[int]bool{}
	for range 50 {
		p, err := Free()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if eph-low >= 1000 && (p < low || p >= eph) {
			t.Errorf("port %d outside [%d, %d)", p, low, eph)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("listen on the port handed out: %v", err)
		}
		l.Close()
	}
}

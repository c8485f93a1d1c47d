// Package testport hands tests TCP ports on 127.0.0.1 to listen on.
//
// A port found free by listening on port 0 comes from the kernel's range
// of ephemeral ports, the range outgoing connections take their source
// ports from: between the test's probe and its server's listen, a
// connection made by any process (the test packages run side by side)
// can take it. Free picks below that range instead, where only another
// listener can.
package testport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// low is the least port Free picks: below it, well-known and registered
// services.
const low = 10000

var (
	mu         sync.Mutex
	handedOut  = map[int]bool{}
	errNoRange = errors.New("no room below the ephemeral port range")
)

// Free returns a port on 127.0.0.1 that was free a moment ago and that
// this process has not handed out before: below the ephemeral range when
// there is room, else one the kernel picks.
func Free() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	high, err := ephemeralLow()
	if err == nil && high-low < 1000 {
		err = errNoRange
	}
	for range 1000 {
		port := 0
		if err == nil {
			port = low + rand.IntN(high-low)
		}
		l, lerr := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if lerr != nil {
			if port == 0 {
				return 0, lerr
			}
			continue // taken: try another
		}
		got := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !handedOut[got] {
			handedOut[got] = true
			return got, nil
		}
	}
	return 0, fmt.Errorf("testport: no free port found in 1000 tries")
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() (int, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, fmt.Errorf("ip_local_port_range: %q", b)
	}
	return strconv.Atoi(f[0])
}

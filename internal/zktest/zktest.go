// Package zktest starts a real ZooKeeper server (Debian's zookeeper
// package, installed by tests/install-deps.sh) on 127.0.0.1 for tests.
package zktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Jar is where Debian installs the server; its manifest names the
// libraries it needs.
const Jar = "/usr/share/java/zookeeper.jar"

// Server is a running ZooKeeper.
type Server struct {
	// Addr is its client address, 127.0.0.1:port.
	Addr string
	cmd  *exec.Cmd
	dir  string
}

// Start runs a standalone ZooKeeper in a temporary directory until the
// test ends. Without Java or the package, the test is skipped outside CI
// and fails in CI (CI installs both).
func Start(t testing.TB) *Server {
	t.Helper()
	java, err := exec.LookPath("java")
	if _, serr := os.Stat(Jar); err != nil || serr != nil {
		msg := "ZooKeeper is not installed (java and " + Jar + "); run tests/install-deps.sh"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("tickTime=500\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n"+
		"4lw.commands.whitelist=srvr,ruok\n", filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-Dzookeeper.jmx.log4j.disable=true", "-cp", Jar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ZooKeeper: %v", err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, dir: dir}
	t.Cleanup(func() {
		s.Stop()
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for !s.serving() {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("ZooKeeper on %s did not start within 60s:\n%s", s.Addr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// serving asks the server the "srvr" four-letter question.
func (s *Server) serving() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	buf := make([]byte, 512)
	n, _ := c.Read(buf)
	return strings.Contains(string(buf[:n]), "Mode:")
}

// Stop kills the server (idempotent).
func (s *Server) Stop() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Wait()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

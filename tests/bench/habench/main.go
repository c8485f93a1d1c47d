// Command habench measures the master group through the RPC path, with
// real master processes started by alluxio-start.sh on 127.0.0.1:
//
//   - creates per second (CreateFile calls of the client library over TCP,
//     -clients concurrent clients, each with its own connections) against
//     one master and against a group of three;
//   - failover: the time from kill -9 of the leader to the first write
//     that succeeds (a call started right after the kill, retried by the
//     client as applications' calls are), median of -failovers;
//   - the leader's Go heap in use (Master.HeapInuseBytes) after -files
//     files were created, and the metastore's size on disk.
//
// It prints a Markdown section for docs/benchmarks.md on stdout and its
// progress on stderr. The binaries and scripts come from -bin (make
// build's bin/).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

func main() {
	bin := flag.String("bin", "bin", "directory with alluxio, alluxio-start.sh and alluxio-stop.sh")
	clients := flag.Int("clients", 16, "concurrent clients")
	secs := flag.Duration("duration", 15*time.Second, "how long each creates-per-second run lasts")
	failovers := flag.Int("failovers", 5, "kills of the leader; the median is reported")
	files := flag.Int("files", 1_000_000, "files in the namespace when the leader's heap is read (10000000 for the long manual run)")
	work := flag.String("work", "", "directory for the installations (default: a new one under /var/tmp, removed at the end)")
	flag.Parse()
	log.SetFlags(log.Ltime)

	abs, err := filepath.Abs(*bin)
	if err != nil {
		fatal(err)
	}
	dir := *work
	if dir == "" {
		if dir, err = os.MkdirTemp("/var/tmp", "alluxio-habench."); err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	b := &bench{bin: abs, dir: dir, clients: *clients}
	atExit = b.stopAll
	defer b.stopAll()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { fatalf("%v: stopping the masters", <-sigs) }()

	single := b.group("single", 1, nil)
	single.start()
	one := b.creates(single, "/one", *secs)
	log.Printf("1 master: %.0f creates/s", one.rate())
	single.stop()

	g := b.group("group", 3, nil)
	g.start()
	three := b.creates(g, "/three", *secs)
	log.Printf("3 masters: %.0f creates/s", three.rate())

	var times []time.Duration
	for i := range *failovers {
		d := b.failover(g, i)
		log.Printf("failover %d: %v", i+1, d)
		times = append(times, d)
	}
	slices.Sort(times)

	// The group holds the files of its creates run already.
	heapStart := time.Now()
	fill := b.fill(g, "/fill", *files-int(three.n))
	heap, disk := b.heap(g)
	log.Printf("%d files: leader heap %d MiB, metastore %d MiB (filled at %.0f creates/s in %v)",
		*files, heap>>20, disk>>20, fill.rate(), time.Since(heapStart).Round(time.Second))

	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(l[strings.Index(l, ":")+1:])
				break
			}
		}
	}
	var uts syscall.Utsname
	syscall.Uname(&uts)
	kernel := utsString(uts.Release[:])
	w := os.Stdout
	fmt.Fprintf(w, "\n## %s master group: creates, failover, heap\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(w, "Machine: %d cores (%s), %s, kernel %s; masters on 127.0.0.1 with the default\n", runtime.NumCPU(), cpu, memTotal(), kernel)
	fmt.Fprintf(w, "settings, started by alluxio-start.sh master; %d clients of the Go client library over TCP,\n", *clients)
	fmt.Fprintf(w, "each with its own connections. A create is one CreateFile call (journaled; the file stays\n")
	fmt.Fprintf(w, "incomplete, as while a writer holds it).\n\n")
	fmt.Fprintf(w, "| measure | figure | goal |\n| --- | ---: | --- |\n")
	fmt.Fprintf(w, "| creates per second, 1 master, %d clients, %v | %.0f | |\n", *clients, *secs, one.rate())
	fmt.Fprintf(w, "| creates per second, 3 masters, %d clients, %v | %.0f | at least 5,000 |\n", *clients, *secs, three.rate())
	fmt.Fprintf(w, "| kill -9 of the leader to the first successful write, median of %d | %.2f s (%.2f-%.2f) | under 3 s |\n",
		len(times), times[len(times)/2].Seconds(), times[0].Seconds(), times[len(times)-1].Seconds())
	fmt.Fprintf(w, "| leader's Go heap in use with %s files | %d MiB | under 256 MiB at 10,000,000 |\n", commas(*files), heap>>20)
	fmt.Fprintf(w, "| leader's metastore.db with %s files | %d MiB | |\n", commas(*files), disk>>20)
	fmt.Fprintf(w, "\nCalls per journal write (batching), 3 masters: %.1f. Filling to %s files ran at %.0f creates/s.\n",
		three.perWrite, commas(*files), fill.rate())
}

// bench holds the installations made.
type bench struct {
	bin     string
	dir     string
	clients int
	groups  []*group

	stopOnce sync.Once
}

// group is one master group (1 or 3 masters), each master its own
// ALLUXIO_HOME.
type group struct {
	b      *bench
	homes  []string
	rpc    []string
	web    []string
	direct *client.Masters
	down   map[int]bool
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// group lays out n masters over one under-store directory.
func (b *bench) group(name string, n int, extra map[string]string) *group {
	g := &group{b: b, down: map[int]bool{}}
	ufs := filepath.Join(b.dir, name, "ufs")
	must(os.MkdirAll(ufs, 0o755))
	var journal []string
	rpcPorts, journalPorts, webPorts := make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		rpcPorts[i], journalPorts[i], webPorts[i] = freePort(), freePort(), freePort()
		g.rpc = append(g.rpc, fmt.Sprintf("127.0.0.1:%d", rpcPorts[i]))
		g.web = append(g.web, fmt.Sprintf("127.0.0.1:%d", webPorts[i]))
		journal = append(journal, fmt.Sprintf("127.0.0.1:%d", journalPorts[i]))
	}
	for i := range n {
		home := filepath.Join(b.dir, name, fmt.Sprintf("master%d", i))
		for _, d := range []string{"bin", "conf"} {
			must(os.MkdirAll(filepath.Join(home, d), 0o755))
		}
		for _, f := range []string{"alluxio", "alluxio-start.sh", "alluxio-stop.sh"} {
			must(os.Symlink(filepath.Join(b.bin, f), filepath.Join(home, "bin", f)))
		}
		props := map[string]string{
			"alluxio.master.hostname":              "127.0.0.1",
			"alluxio.master.rpc.port":              fmt.Sprint(rpcPorts[i]),
			"alluxio.master.web.port":              fmt.Sprint(webPorts[i]),
			"alluxio.master.embedded.journal.port": fmt.Sprint(journalPorts[i]),
			"alluxio.master.mount.table.root.ufs":  ufs,
		}
		if n > 1 {
			props["alluxio.master.embedded.journal.addresses"] = strings.Join(journal, ",")
			props["alluxio.master.rpc.addresses"] = strings.Join(g.rpc, ",")
		}
		for k, v := range extra {
			props[k] = v
		}
		var conf strings.Builder
		for k, v := range props {
			fmt.Fprintf(&conf, "%s=%s\n", k, v)
		}
		must(os.WriteFile(filepath.Join(home, "conf", "alluxio-site.properties"), []byte(conf.String()), 0o644))
		g.homes = append(g.homes, home)
	}
	g.direct = client.NewMasters(g.rpc, 0, quiet)
	b.groups = append(b.groups, g)
	return g
}

// run runs a script of master i's installation.
func (g *group) run(i int, script string, args ...string) {
	cmd := exec.Command(filepath.Join(g.homes[i], "bin", script), args...)
	cmd.Env = append(os.Environ(), "ALLUXIO_HOME="+g.homes[i])
	if out, err := cmd.CombinedOutput(); err != nil {
		fatalf("%s %s (master %d): %v\n%s", script, strings.Join(args, " "), i, err, out)
	}
}

// start starts every master and waits for a ready leader.
func (g *group) start() {
	for i := range g.homes {
		g.run(i, "alluxio-start.sh", "master")
	}
	g.leader(-1)
}

// stop stops every running master with alluxio-stop.sh.
func (g *group) stop() {
	for i := range g.homes {
		if !g.down[i] {
			g.run(i, "alluxio-stop.sh", "master")
			g.down[i] = true
		}
	}
}

// stopAll stops every master started (once).
func (b *bench) stopAll() { b.stopOnce.Do(b.stopMasters) }

func (b *bench) stopMasters() {
	for _, g := range b.groups {
		for i := range g.homes {
			if !g.down[i] {
				cmd := exec.Command(filepath.Join(g.homes[i], "bin", "alluxio-stop.sh"), "master")
				cmd.Env = append(os.Environ(), "ALLUXIO_HOME="+g.homes[i])
				cmd.Run()
			}
		}
		g.direct.Close()
	}
}

// status asks master i about itself.
func (g *group) status(i int) (wire.RaftStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var st wire.RaftStatus
	err := g.direct.CallAt(ctx, g.rpc[i], wire.MasterRaftStatus, nil, &st)
	return st, err
}

// leader waits for a ready leader other than master not.
func (g *group) leader(not int) int {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for i := range g.rpc {
			if i == not || g.down[i] {
				continue
			}
			if st, err := g.status(i); err == nil && st.State == "Leader" && st.Ready {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	fatal("no ready leader within 60s")
	return -1
}

// client returns a new client of the group (its own connections).
func (g *group) client() *client.Client {
	return client.New(client.Config{MasterAddrs: g.rpc, RetryFor: time.Minute, WriteType: "MUST_CACHE", Logger: quiet})
}

// result is the outcome of a creates run.
type result struct {
	n        int64
	d        time.Duration
	perWrite float64 // entries per Raft log write on the leader
}

func (r result) rate() float64 { return float64(r.n) / r.d.Seconds() }

// creates runs the clients for d, each creating files in its own
// directory under root, and counts the creates.
func (b *bench) creates(g *group, root string, d time.Duration) result {
	before, _ := g.status(g.leader(-1))
	r := b.load(g, root, func(n int64, elapsed time.Duration) bool { return elapsed < d })
	after, _ := g.status(g.leader(-1))
	if w := after.LogWrites - before.LogWrites; w > 0 {
		r.perWrite = float64(after.LogEntries-before.LogEntries) / float64(w)
	}
	return r
}

// fill creates n more files.
func (b *bench) fill(g *group, root string, n int) result {
	if n <= 0 {
		return result{d: time.Second}
	}
	var last atomic.Int64
	return b.load(g, root, func(done int64, elapsed time.Duration) bool {
		if p := done * 10 / int64(n); p > last.Load() {
			last.Store(p)
			log.Printf("filling: %d of %d files (%.0f/s)", done, n, float64(done)/elapsed.Seconds())
		}
		return done < int64(n)
	})
}

// load runs the clients while more(created so far, elapsed) holds.
func (b *bench) load(g *group, root string, more func(int64, time.Duration) bool) result {
	c := g.client()
	ctx := context.Background()
	if _, err := c.CreateDirectory(ctx, root, meta.MkdirOptions{Mode: 0o755, Recursive: true}); err != nil {
		fatalf("mkdir %s: %v", root, err)
	}
	c.Close()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for k := range b.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := g.client()
			defer c.Close()
			dir := fmt.Sprintf("%s/c%02d", root, k)
			if _, err := c.CreateDirectory(ctx, dir, meta.MkdirOptions{Mode: 0o755}); err != nil {
				fatalf("mkdir %s: %v", dir, err)
			}
			for i := 0; more(n.Load(), time.Since(start)); i++ {
				if _, err := c.CreateFile(ctx, fmt.Sprintf("%s/f%08d", dir, i), client.CreateOptions{Mode: 0o644}); err != nil {
					fatalf("create: %v", err)
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return result{n: n.Load(), d: time.Since(start)}
}

// failover kills the leader with -9 and times the first write that
// succeeds after it; then it restarts the killed master and waits until
// it has caught up.
func (b *bench) failover(g *group, round int) time.Duration {
	l := g.leader(-1)
	c := g.client()
	defer c.Close()
	ctx := context.Background()
	dir := fmt.Sprintf("/failover%d", round)
	if _, err := c.CreateDirectory(ctx, dir, meta.MkdirOptions{Mode: 0o755}); err != nil {
		fatal(err)
	}
	pid := g.pid(l)
	start := time.Now()
	must(syscall.Kill(pid, syscall.SIGKILL))
	g.down[l] = true
	if _, err := c.CreateFile(ctx, dir+"/first", client.CreateOptions{Mode: 0o644}); err != nil {
		fatalf("first write after the kill: %v", err)
	}
	d := time.Since(start)
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	g.run(l, "alluxio-start.sh", "master")
	g.down[l] = false
	next := g.leader(l)
	want, _ := g.status(next)
	for {
		st, err := g.status(l)
		if err == nil && st.LastApplied >= want.CommitIndex {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// pid returns master i's process id.
func (g *group) pid(i int) int {
	data, err := os.ReadFile(filepath.Join(g.homes[i], "logs", "master.pid"))
	must(err)
	var pid int
	fmt.Sscan(string(data), &pid)
	if pid <= 0 {
		fatalf("master %d: bad pid file", i)
	}
	return pid
}

// heap reads the leader's heap in use (the least of a few samples, a
// second apart, so that garbage a collection is about to free counts
// less) and the size of its metastore file.
func (b *bench) heap(g *group) (heap, disk int64) {
	l := g.leader(-1)
	heap = -1
	for range 10 {
		var m map[string]float64
		resp, err := http.Get("http://" + g.web[l] + "/api/v1/master/metrics")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
		}
		if err != nil {
			fatalf("master metrics: %v", err)
		}
		v, ok := m["Master.HeapInuseBytes"]
		if !ok {
			fatal("the master reports no Master.HeapInuseBytes")
		}
		if heap < 0 || int64(v) < heap {
			heap = int64(v)
		}
		time.Sleep(time.Second)
	}
	st, err := os.Stat(filepath.Join(g.homes[l], "journal", "metastore.db"))
	must(err)
	return heap, st.Size()
}

// atExit stops the masters before a fatal error ends the program.
var atExit func()

func fatalf(format string, args ...any) {
	if atExit != nil {
		atExit()
	}
	log.Fatalf(format, args...)
}

func fatal(args ...any) { fatalf("%s", fmt.Sprint(args...)) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func must(err error) {
	if err != nil && !errors.Is(err, os.ErrExist) {
		fatal(err)
	}
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown memory"
	}
	var kb int64
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), &kb)
		}
	}
	return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
}

func utsString(b []int8) string {
	var s strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		s.WriteByte(byte(c))
	}
	return s.String()
}

// commas formats n with thousands separators.
func commas(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

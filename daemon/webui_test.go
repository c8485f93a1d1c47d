package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/conf"
	"github.com/alluxio-go/alluxio/internal/testport"
	"github.com/alluxio-go/alluxio/meta"
	_ "github.com/alluxio-go/alluxio/ufs/local"
)

// Secrets planted in the test cluster; none may appear on any page.
const (
	confSecret  = "CONF-SECRET-0451"
	mountSecret = "MOUNT-SECRET-0452"
	uriPassword = "URI-PASSWORD-0453"
	// hostileName must come back HTML-escaped.
	hostileName = `<script>x&y"'.txt`
)

// syncBuffer is a log sink safe for the daemons' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// uiCluster is a master and a worker running in this process.
type uiCluster struct {
	master           *Master
	worker           *Worker
	conf             *conf.Config
	masterWeb        string // http://127.0.0.1:port
	workerWeb        string
	ufsDir, mountDir string
	siteFile, home   string
	logs             *syncBuffer
}

// freeTCPPort returns a port for a test's server (testport.Free).
func freeTCPPort(t *testing.T) string {
	t.Helper()
	port, err := testport.Free()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

// startUICluster starts a master and a worker from a real configuration:
// a site file (with a credential), flags for the ports.
func startUICluster(t *testing.T) *uiCluster {
	t.Helper()
	home := t.TempDir()
	uc := &uiCluster{ufsDir: filepath.Join(home, "ufs"), mountDir: filepath.Join(home, "other"), logs: &syncBuffer{},
		home: home}
	for _, d := range []string{uc.ufsDir, uc.mountDir, filepath.Join(home, "conf"), filepath.Join(home, "shm")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"hello.txt": "hello, web\n", hostileName: "x"} {
		if err := os.WriteFile(filepath.Join(uc.ufsDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(uc.ufsDir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	uc.siteFile = filepath.Join(home, "conf", conf.SiteFileName)
	site := strings.Join([]string{
		"alluxio.master.hostname=127.0.0.1",
		"alluxio.worker.hostname=127.0.0.1",
		"alluxio.master.mount.table.root.ufs=" + uc.ufsDir,
		"alluxio.worker.tieredstore.level0.dirs.path=" + filepath.Join(home, "shm"),
		"alluxio.worker.tieredstore.level0.dirs.quota=64MB",
		"alluxio.worker.data.server.domain.socket.address=" + filepath.Join(home, "run", "worker.sock"),
		"fs.s3a.secretKey=" + confSecret,
	}, "\n") + "\n"
	if err := os.WriteFile(uc.siteFile, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{"alluxio.home": home}
	for _, k := range []string{"alluxio.master.rpc.port", "alluxio.master.web.port", "alluxio.master.embedded.journal.port",
		"alluxio.worker.rpc.port", "alluxio.worker.web.port", "alluxio.worker.membership.port", "alluxio.fuse.web.port"} {
		flags[k] = freeTCPPort(t)
	}
	c, err := conf.Load(conf.LoadOptions{Home: home, Flags: flags, Env: func(string) (string, bool) { return "", false },
		Role: conf.RoleAny})
	if err != nil {
		t.Fatal(err)
	}
	uc.conf = c
	log := slog.New(slog.NewTextHandler(uc.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()

	mc, err := MasterConfigFrom(c, log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := StartMaster(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	uc.master = m
	uc.masterWeb = "http://" + mc.WebAddr
	waitFor(t, "master leadership", func() bool { return m.meta.Ready() })

	wc := WorkerConfigFrom(c, log)
	wc.Heartbeat = 50 * time.Millisecond
	w, err := StartWorker(ctx, wc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	uc.worker = w
	uc.workerWeb = "http://" + wc.WebAddr
	waitFor(t, "worker heartbeat", func() bool { return len(m.Workers()) == 1 })

	err = m.meta.Mount(ctx, "/other", "file://key:"+uriPassword+"@localhost"+uc.mountDir, meta.MountOptions{
		Options: map[string]string{"aws.secretKey": mountSecret, "note": "<i>plain</i>"}})
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches a URL and returns status, content type and body.
func get(t *testing.T, u string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	status, ctype, body := get(t, u)
	if status != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
		t.Fatalf("GET %s: %d %s\n%s", u, status, ctype, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", u, err, body)
	}
}

func browseURL(base, p string) string {
	return base + "/browse?path=" + url.QueryEscape(p)
}

// TestWebUIPages fetches every master page and checks what it must show,
// and that no page shows a credential.
func TestWebUIPages(t *testing.T) {
	uc := startUICluster(t)
	w := uc.worker.cfg
	cases := []struct {
		name   string
		url    string
		status int
		want   []string
		absent []string
	}{
		{"overview", uc.masterWeb + "/", 200,
			[]string{"Overview", Version, "Live workers", "Leader", uc.master.cfg.RPCAddr, "master-0"}, nil},
		{"browse root", browseURL(uc.masterWeb, "/"), 200,
			[]string{"hello.txt", `href="/browse?path=%2fhello.txt"`, "dir/", "-rw-r--r--", "Persisted",
				"&lt;script&gt;x&amp;y&#34;&#39;.txt"},
			[]string{hostileName, "<script>x"}},
		{"browse file", browseURL(uc.masterWeb, "/hello.txt"), 200,
			[]string{"/hello.txt", "11 bytes", "Fingerprint", uc.ufsDir + "/hello.txt", "Home worker", w.RPCAddr, "Pages cached"}, nil},
		{"browse hostile file", browseURL(uc.masterWeb, "/"+hostileName), 200,
			[]string{"&lt;script&gt;x&amp;y"}, []string{hostileName, "<script>x"}},
		{"browse missing", browseURL(uc.masterWeb, "/nope"), 404, []string{"nope", `class="error"`}, nil},
		{"workers", uc.masterWeb + "/workers", 200,
			[]string{w.RPCAddr, "MEM", w.Store.Tiers[0].Dirs[0], "Last heartbeat", "ok"}, nil},
		{"mounts", uc.masterWeb + "/mounts", 200,
			[]string{"/other", "aws.secretKey=******", "fs.s3a.secretKey=******", "note=&lt;i&gt;plain&lt;/i&gt;",
				"file://key:xxxxx@localhost" + uc.mountDir},
			[]string{"<i>plain</i>"}},
		{"config", uc.masterWeb + "/config", 200,
			[]string{"alluxio.master.hostname", "alluxio-site.properties", uc.siteFile, "flag", "default",
				"fs.s3a.secretKey", "******"}, nil},
		{"metrics page", uc.masterWeb + "/ui/metrics", 200, []string{"Cluster.Workers", "Cluster.CapacityTotal"}, nil},
		{"prometheus", uc.masterWeb + "/metrics", 200, []string{"# TYPE Cluster_Workers gauge", "Cluster_Workers 1"}, nil},
		{"logs", uc.masterWeb + "/logs", 200, []string{`<option value="INFO" selected>`, "DEBUG"}, nil},
		{"style", uc.masterWeb + "/static/style.css", 200, []string{"font"}, nil},
		{"unknown", uc.masterWeb + "/no/such/page", 404, nil, nil},
		{"worker page", uc.workerWeb + "/", 200,
			[]string{w.RPCAddr, "Tiers", "MEM", "Worker.BlocksCached", "Workers in cluster"}, nil},
		{"worker config", uc.workerWeb + "/config", 200, []string{"alluxio.worker.web.port", "flag", "******"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, tc.url)
			if status != tc.status {
				t.Fatalf("status %d, want %d\n%s", status, tc.status, body)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q\n%s", s, body)
				}
			}
			for _, s := range append(tc.absent, confSecret, mountSecret, uriPassword) {
				if strings.Contains(body, s) {
					t.Errorf("page shows %q", s)
				}
			}
		})
	}
	if strings.Contains(uc.logs.String(), confSecret) || strings.Contains(uc.logs.String(), mountSecret) {
		t.Error("a credential reached the log")
	}
}

// TestWebUIAPI checks the JSON API behind the pages.
func TestWebUIAPI(t *testing.T) {
	uc := startUICluster(t)
	ctx := context.Background()

	var workers []workerView
	getJSON(t, uc.masterWeb+"/api/v1/master/workers", &workers)
	if len(workers) != 1 || workers[0].Address != uc.worker.cfg.RPCAddr || len(workers[0].Tiers) == 0 ||
		workers[0].LastHeartbeat == 0 || workers[0].WebURL != uc.workerWeb {
		t.Errorf("workers = %+v", workers)
	}

	var ov overviewView
	getJSON(t, uc.masterWeb+"/api/v1/master/overview", &ov)
	if ov.LiveWorkers != 1 || ov.Capacity != 64<<20 || ov.Raft.State != "Leader" || len(ov.Masters) != 1 || ov.Mounts != 2 {
		t.Errorf("overview = %+v", ov)
	}
	// As many entries as a walk of the namespace finds.
	d, err := uc.master.meta.Digest(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ov.Inodes < 2 || ov.Inodes != d.Inodes {
		t.Errorf("overview counts %d inodes, a walk of the namespace %d", ov.Inodes, d.Inodes)
	}

	var mounts []meta.MountInfo
	getJSON(t, uc.masterWeb+"/api/v1/master/mounts", &mounts)
	if len(mounts) != 2 || mounts[1].Options["aws.secretKey"] != conf.Mask || strings.Contains(mounts[1].UfsURI, uriPassword) {
		t.Errorf("mounts = %+v", mounts)
	}

	var props []propertyView
	getJSON(t, uc.masterWeb+"/api/v1/master/config", &props)
	bySource := map[string]propertyView{}
	for _, p := range props {
		bySource[p.Key] = p
	}
	for key, want := range map[string]propertyView{
		"alluxio.master.hostname":            {Value: "127.0.0.1", Source: "alluxio-site.properties", Where: uc.siteFile},
		"alluxio.master.web.port":            {Value: strings.TrimPrefix(uc.masterWeb, "http://127.0.0.1:"), Source: "flag"},
		"alluxio.user.file.readtype.default": {Value: "CACHE", Source: "default"},
		"fs.s3a.secretKey":                   {Value: conf.Mask, Source: "alluxio-site.properties", Where: uc.siteFile},
	} {
		got := bySource[key]
		if got.Value != want.Value || got.Source != want.Source || got.Where != want.Where {
			t.Errorf("config %s = %+v, want %+v", key, got, want)
		}
	}

	// Cache the file through a client, then the file view shows its pages.
	cl := client.New(ClientConfigFrom(uc.conf, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() { cl.Close() })
	fi, err := cl.GetStatus(ctx, "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Load(ctx, fi, nil); err != nil {
		t.Fatal(err)
	}
	var bv browseView
	getJSON(t, uc.masterWeb+"/api/v1/master/browse?path=/hello.txt", &bv)
	if bv.Entry.Size != 11 || len(bv.Blocks) != 1 || bv.Blocks[0].Worker != uc.worker.cfg.RPCAddr ||
		len(bv.Cached) != 1 || bv.Cached[0].Pages != 1 || bv.Cached[0].Total != 1 || bv.Cached[0].Error != "" {
		t.Errorf("file view = %+v", bv)
	}
	getJSON(t, uc.masterWeb+"/api/v1/master/browse?path=/", &bv)
	names := map[string]bool{}
	for _, e := range bv.Entries {
		names[e.Name] = true
	}
	if !bv.Entry.IsDir || bv.Total != 4 || !names["hello.txt"] || !names[hostileName] || !names["dir"] || !names["other"] {
		t.Errorf("root listing = %+v", bv)
	}

	status, _, body := get(t, uc.masterWeb+"/api/v1/master/browse?path=/missing")
	if status != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Errorf("missing path: %d %s", status, body)
	}
	status, _, body = get(t, uc.workerWeb+"/api/v1/worker/cached?id=x")
	if status != http.StatusBadRequest {
		t.Errorf("bad cached query: %d %s", status, body)
	}
	var index struct{ Endpoints []string }
	getJSON(t, uc.masterWeb+"/api/v1/", &index)
	if len(index.Endpoints) < 5 {
		t.Errorf("api index = %+v", index)
	}
	// The endpoints that existed before the UI still answer.
	var metrics map[string]float64
	getJSON(t, uc.masterWeb+"/api/v1/master/metrics", &metrics)
	if metrics["Cluster.Workers"] != 1 {
		t.Errorf("master metrics = %v", metrics)
	}
	getJSON(t, uc.workerWeb+"/api/v1/worker/metrics", &metrics)
	if _, ok := metrics["Worker.BlocksCached"]; !ok {
		t.Errorf("worker metrics = %v", metrics)
	}
}

// TestWebUILogLevel changes the master's log level from the web UI and
// checks that debug records then reach the log.
func TestWebUILogLevel(t *testing.T) {
	uc := startUICluster(t)
	uc.master.log.Debug("before-the-change")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cases := []struct {
		name    string
		origin  string
		level   string
		status  int
		current string
	}{
		{"bad level", "", "LOUD", http.StatusBadRequest, "INFO"},
		{"cross-origin", "http://evil.example", "DEBUG", http.StatusForbidden, "INFO"},
		{"same origin", uc.masterWeb, "DEBUG", http.StatusSeeOther, "DEBUG"},
		{"no origin", "", "warn", http.StatusSeeOther, "WARN"},
		{"back to debug", "", "TRACE", http.StatusSeeOther, "DEBUG"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, uc.masterWeb+"/logs", strings.NewReader(url.Values{"level": {tc.level}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			var lv levelView
			getJSON(t, uc.masterWeb+"/api/v1/master/loglevel", &lv)
			if lv.Level != tc.current {
				t.Errorf("level %s, want %s", lv.Level, tc.current)
			}
		})
	}
	uc.master.log.Debug("after-the-change")
	logs := uc.logs.String()
	if strings.Contains(logs, "before-the-change") || !strings.Contains(logs, "after-the-change") {
		t.Errorf("debug records: want only the one after the change\n%s", logs)
	}

	// The worker has its own level, set through its JSON API.
	resp, err := http.Post(uc.workerWeb+"/api/v1/worker/loglevel", "application/json", strings.NewReader(`{"level":"ERROR"}`))
	if err != nil {
		t.Fatal(err)
	}
	var lv levelView
	json.NewDecoder(resp.Body).Decode(&lv)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || lv.Level != "ERROR" {
		t.Errorf("worker level: %d %+v", resp.StatusCode, lv)
	}
}

// TestWebUIFollowerBanner renders a page as a follower master does.
func TestWebUIFollowerBanner(t *testing.T) {
	cases := []struct {
		name string
		note *leaderNote
		want []string
	}{
		{"leader known", &leaderNote{State: "Follower", Leader: "127.0.0.1:19998", LeaderWeb: "http://127.0.0.1:19999/"},
			[]string{"not the leader (Follower)", `<a href="http://127.0.0.1:19999/">127.0.0.1:19998</a>`}},
		{"no leader", &leaderNote{State: "Candidate"}, []string{"not the leader (Candidate)", "No leader is known"}},
		{"leader", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := &webUI{role: "master", nav: masterNav, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				level: new(slog.LevelVar), banner: func() *leaderNote { return tc.note }}
			rec := httptest.NewRecorder()
			u.render(rec, http.StatusOK, "overview", "Overview", "/", overviewView{Version: Version}, "")
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d\n%s", rec.Code, body)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q\n%s", s, body)
				}
			}
			if tc.note == nil && strings.Contains(body, "not-leader") {
				t.Error("a leader's page says it is not the leader")
			}
		})
	}
}

// TestWebUIFormat checks the values pages format.
func TestWebUIFormat(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{humanBytes(0), "0B"},
		{humanBytes(1536), "1.50KB"},
		{humanBytes(64 << 20), "64.00MB"},
		{percent(1, 4), "25.0%"},
		{percent(1, 0), "-"},
		{formatMode(0o755, true, false), "drwxr-xr-x"},
		{formatMode(0o644, false, false), "-rw-r--r--"},
		{formatMode(0o777, false, true), "Lrwxrwxrwx"},
		{fmt.Sprint(crumbs("/a/b")), "[{/ /} {a /a} {b /a/b}]"},
		{levelName(slog.LevelDebug - 4), "DEBUG"},
		{levelName(slog.LevelWarn), "WARN"},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("case %d: got %q, want %q", i, tc.got, tc.want)
		}
	}
}

// TestFuseLatencyMetrics mounts the cluster, makes kernel requests and
// reads the per-operation histograms from the FUSE daemon's web port.
func TestFuseLatencyMetrics(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse")
	}
	uc := startUICluster(t)
	mnt := filepath.Join(uc.home, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	fc := FuseConfigFrom(uc.conf, mnt, "/", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if fc.WebAddr == "" {
		t.Fatal("alluxio.fuse.web.port set, but no web address")
	}
	d, err := StartFuse(context.Background(), fc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	data, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
	if err != nil || string(data) != "hello, web\n" {
		t.Fatalf("read through the mount: %q, %v", data, err)
	}
	if _, err := os.ReadDir(mnt); err != nil {
		t.Fatal(err)
	}
	status, ctype, body := get(t, "http://"+fc.WebAddr+"/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("fuse /metrics: %d %s", status, ctype)
	}
	for _, s := range []string{"# TYPE Fuse_Latency_seconds histogram", `Fuse_Latency_seconds_bucket{op="lookup",le="+Inf"}`,
		`Fuse_Latency_seconds_count{op="open"}`, `Fuse_Latency_seconds_sum{op="readdirplus"}`, "Fuse_TotalCalls ",
		"# TYPE Client_MetadataCacheSize gauge", "Client_MetadataCacheHits ", "Client_MetadataCacheMisses "} {
		if !strings.Contains(body, s) {
			t.Errorf("fuse metrics lack %q\n%s", s, body)
		}
	}
	var snap struct {
		Latencies []struct {
			Op    string
			Count uint64
		}
	}
	getJSON(t, "http://"+fc.WebAddr+"/api/v1/fuse/metrics", &snap)
	ops := map[string]uint64{}
	for _, l := range snap.Latencies {
		ops[l.Op] = l.Count
	}
	if ops["lookup"] == 0 || ops["open"] == 0 {
		t.Errorf("latency counts = %v", ops)
	}
}

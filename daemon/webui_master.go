package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
	"github.com/alluxio-go/alluxio/ufs"
)

// masterNav is the header of the master's pages.
var masterNav = []navLink{
	{"/", "Overview"}, {"/browse", "Browse"}, {"/workers", "Workers"}, {"/mounts", "Mounts"},
	{"/config", "Configuration"}, {"/ui/metrics", "Metrics"}, {"/logs", "Logs"},
}

// masterAPI lists the master's JSON endpoints, for /api/v1/.
var masterAPI = []string{
	"/metrics", "/api/v1/master/info", "/api/v1/master/overview", "/api/v1/master/metrics",
	"/api/v1/master/workers", "/api/v1/master/mounts", "/api/v1/master/config",
	"/api/v1/master/browse?path=/", "/api/v1/master/raft", "/api/v1/master/loglevel",
}

const (
	// browseLimit caps the entries a directory page shows.
	browseLimit = 1000
	// uiCallTimeout bounds the work of one page.
	uiCallTimeout = 10 * time.Second
)

// uiRoutes adds the web UI and its JSON API to the master's web port.
func (m *Master) uiRoutes(mux *http.ServeMux) {
	u := &webUI{role: "master", nav: masterNav, log: m.log, level: m.level, conf: m.cfg.Conf,
		banner: m.leaderNote}
	u.commonRoutes(mux, "/api/v1/master")

	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		u.render(rw, http.StatusOK, "overview", "Overview", "/", m.overview(), "")
	})
	mux.HandleFunc("GET /api/v1/master/overview", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, m.overview())
	})
	mux.HandleFunc("GET /api/v1/{$}", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, map[string]any{"service": "alluxio master", "version": Version, "endpoints": masterAPI})
	})

	mux.HandleFunc("GET /browse", func(rw http.ResponseWriter, r *http.Request) {
		v, err := m.browse(r.Context(), r.URL.Query())
		page, title := "browse", "Browse"
		if err == nil && !v.Entry.IsDir {
			page, title = "file", "File"
		}
		if err != nil {
			u.render(rw, statusOf(err), page, title, "/browse", v, err.Error())
			return
		}
		u.render(rw, http.StatusOK, page, title, "/browse", v, "")
	})
	mux.HandleFunc("GET /api/v1/master/browse", func(rw http.ResponseWriter, r *http.Request) {
		v, err := m.browse(r.Context(), r.URL.Query())
		if err != nil {
			writeJSONStatus(rw, statusOf(err), apiError{err.Error()})
			return
		}
		writeJSON(rw, v)
	})

	mux.HandleFunc("GET /workers", func(rw http.ResponseWriter, r *http.Request) {
		u.render(rw, http.StatusOK, "workers", "Workers", "/workers", m.workerViews(), "")
	})
	mux.HandleFunc("GET /api/v1/master/workers", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, m.workerViews())
	})

	mux.HandleFunc("GET /mounts", func(rw http.ResponseWriter, r *http.Request) {
		u.render(rw, http.StatusOK, "mounts", "Mount table", "/mounts", m.mountViews(), "")
	})
	mux.HandleFunc("GET /api/v1/master/mounts", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, m.mountViews())
	})

	mux.HandleFunc("GET /ui/metrics", func(rw http.ResponseWriter, r *http.Request) {
		ms := m.clusterMetrics()
		sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
		u.render(rw, http.StatusOK, "metrics", "Metrics", "/ui/metrics", ms, "")
	})
}

// leaderNote is set when this master is not the serving leader.
func (m *Master) leaderNote() *leaderNote {
	if m.meta.Ready() {
		return nil
	}
	st := m.meta.Stats()
	n := &leaderNote{State: st.State, Leader: st.LeaderRPC}
	if n.Leader == "" {
		n.Leader = st.Leader
	}
	if st.State == "Leader" {
		n.State = "Leader, not ready yet"
	}
	if host, _, err := net.SplitHostPort(st.LeaderRPC); err == nil && st.LeaderRPC != st.RPCAddr {
		if _, port, err := net.SplitHostPort(m.cfg.WebAddr); err == nil {
			n.LeaderWeb = "http://" + net.JoinHostPort(host, port) + "/"
		}
	}
	return n
}

// overviewView is the data of the overview page.
type overviewView struct {
	Version   string `json:"version"`
	StartTime int64  `json:"startTime"`
	Uptime    string `json:"uptime"`
	// Leader is the leader's RPC address.
	Leader      string              `json:"leader"`
	NotLeader   *leaderNote         `json:"notLeader,omitempty"`
	Raft        wire.RaftStatus     `json:"raft"`
	Masters     []meta.QuorumServer `json:"masters"`
	LiveWorkers int                 `json:"liveWorkers"`
	Capacity    int64               `json:"capacity"`
	Used        int64               `json:"used"`
	Mounts      int                 `json:"mounts"`
	// Inodes is the number of entries in the namespace.
	Inodes uint64 `json:"inodes"`
	// Cluster traffic, summed over the live workers.
	BytesReadCache   int64 `json:"bytesReadCache"`
	BytesReadUfs     int64 `json:"bytesReadUfs"`
	BytesWrittenUfs  int64 `json:"bytesWrittenUfs"`
	BytesPassthrough int64 `json:"bytesReadPassthrough"`
}

func (m *Master) overview() overviewView {
	info := m.Info()
	v := overviewView{
		Version: info.Version, StartTime: info.StartTime, Uptime: formatAge(time.Since(m.start)),
		Leader: info.Leader, NotLeader: m.leaderNote(), Raft: m.RaftStatus(),
		LiveWorkers: len(info.Workers), Capacity: info.Capacity, Used: info.Used,
		Mounts: len(m.meta.Mounts()), Inodes: m.meta.Inodes(),
	}
	if qs, err := m.meta.Masters(); err == nil {
		v.Masters = qs
	} else {
		m.log.Debug("web: quorum", "err", err)
	}
	for _, w := range info.Workers {
		v.BytesReadCache += w.Stats.BytesReadCache
		v.BytesReadUfs += w.Stats.BytesReadUfs
		v.BytesWrittenUfs += w.Stats.BytesWrittenUfs
		v.BytesPassthrough += w.Stats.BytesPassedThrough
	}
	return v
}

// workerView is a live worker as the master's workers page shows it.
type workerView struct {
	wire.WorkerInfo
	// LastHeartbeat is when the master last heard from the worker, in
	// Unix milliseconds.
	LastHeartbeat int64 `json:"lastHeartbeat"`
	// WebURL is the worker's own web page, when it serves one.
	WebURL string `json:"webUrl,omitempty"`
}

// workerViews lists the live workers, by address.
func (m *Master) workerViews() []workerView {
	m.workersMu.Lock()
	out := make([]workerView, 0, len(m.workers))
	for _, e := range m.workers {
		if time.Since(e.lastSeen) > m.workerTimeout() {
			continue
		}
		out = append(out, workerView{WorkerInfo: e.info, LastHeartbeat: e.lastSeen.UnixMilli(), WebURL: workerWebURL(e.info)})
	}
	m.workersMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

// workerWebURL is the base URL of a worker's web port, "" without one.
func workerWebURL(w wire.WorkerInfo) string {
	host, _, err := net.SplitHostPort(w.Address)
	if err != nil || w.WebPort <= 0 {
		return ""
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(w.WebPort))
}

// mountViews is the mount table fit for display: secret options masked and
// the password of a URI's user information hidden.
func (m *Master) mountViews() []meta.MountInfo {
	mounts := m.meta.Mounts()
	for i := range mounts {
		mounts[i].Options = maskOptions(mounts[i].Options)
		mounts[i].UfsURI = ufs.Redact(mounts[i].UfsURI)
	}
	if mounts == nil {
		mounts = []meta.MountInfo{}
	}
	return mounts
}

// browseView is a directory listing or a file's details.
type browseView struct {
	Path string `json:"path"`
	// Crumbs are the path's ancestors, root first, for links.
	Crumbs []crumb `json:"-"`
	// Parent is the parent directory, "" for the root.
	Parent string        `json:"parent,omitempty"`
	Entry  meta.FileInfo `json:"entry"`
	// Entries are a directory's children by name, at most Limit of them
	// from Offset.
	Entries []meta.FileInfo `json:"entries,omitempty"`
	Total   int             `json:"total"`
	Offset  int             `json:"offset"`
	Limit   int             `json:"limit"`
	// NextOffset is set when more entries follow.
	NextOffset int `json:"nextOffset,omitempty"`
	// UfsURI is a file's location in its under-store (password hidden).
	UfsURI string `json:"ufsUri,omitempty"`
	// Blocks are a file's blocks and their home workers.
	Blocks []blockView `json:"blocks,omitempty"`
	// Cached is how much of the file each live worker holds.
	Cached []cachedView `json:"cached,omitempty"`
}

// crumb is one ancestor in a path.
type crumb struct {
	Name, Path string
}

// blockView is one block of a file and the worker it is read from.
type blockView = client.BlockHome

// cachedView is how many pages of a file one worker holds.
type cachedView struct {
	Worker string `json:"worker"`
	Pages  int    `json:"pages"`
	Total  int    `json:"total"`
	Error  string `json:"error,omitempty"`
}

// browse describes the path in q ("path", default "/"): a directory's
// entries from "offset", or a file's blocks and cached pages.
func (m *Master) browse(ctx context.Context, q url.Values) (browseView, error) {
	ctx, cancel := context.WithTimeout(ctx, uiCallTimeout)
	defer cancel()
	p := q.Get("path")
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p)
	v := browseView{Path: p, Crumbs: crumbs(p), Limit: browseLimit}
	if p != "/" {
		v.Parent = path.Dir(p)
	}
	fi, err := m.meta.GetStatus(ctx, p)
	if err != nil {
		return v, fmt.Errorf("browse %s: %w", p, err)
	}
	v.Entry = fi
	if !fi.IsDir {
		m.fileDetails(ctx, &v)
		return v, nil
	}
	entries, err := m.meta.ListStatus(ctx, p)
	if err != nil {
		return v, fmt.Errorf("browse %s: %w", p, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	v.Total = len(entries)
	if off, err := strconv.Atoi(q.Get("offset")); err == nil && off > 0 {
		v.Offset = min(off, len(entries))
	}
	end := min(v.Offset+v.Limit, len(entries))
	v.Entries = entries[v.Offset:end]
	if end < len(entries) {
		v.NextOffset = end
	}
	return v, nil
}

// crumbs are the ancestors of p and p itself.
func crumbs(p string) []crumb {
	out := []crumb{{Name: "/", Path: "/"}}
	if p == "/" {
		return out
	}
	cur := ""
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		cur += "/" + name
		out = append(out, crumb{Name: name, Path: cur})
	}
	return out
}

// fileDetails fills in where a file's bytes are: its under-store URI, the
// home worker of each block (as clients place them), and the pages each
// live worker holds, asked of the workers' web ports.
func (m *Master) fileDetails(ctx context.Context, v *browseView) {
	fi := v.Entry
	if mi, ok := m.meta.MountByID(fi.MountID); ok && !fi.IsSymlink {
		v.UfsURI = strings.TrimSuffix(ufs.Redact(mi.UfsURI), "/")
		if fi.UfsPath != "" {
			v.UfsURI += "/" + strings.TrimPrefix(fi.UfsPath, "/")
		}
	}
	if fi.IsSymlink {
		return
	}
	workers := m.Workers()
	bs, vnodes := int64(0), 0
	if c := m.cfg.Conf; c != nil {
		bs, vnodes = c.Bytes("alluxio.user.block.size.bytes.default"), c.Int("alluxio.worker.membership.virtual.nodes")
	}
	if bs <= 0 {
		bs = client.DefaultBlockSize
	}
	v.Blocks = client.BlockHomes(fi, client.RingOf(workers, vnodes), bs)
	v.Cached = cachedOnWorkers(ctx, workers, fi)
}

// cachedOnWorkers asks every worker with a web port how many pages of the
// file's current version it holds.
func cachedOnWorkers(ctx context.Context, workers []wire.WorkerInfo, fi meta.FileInfo) []cachedView {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out := make([]cachedView, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		out[i].Worker = w.Address
		base := workerWebURL(w)
		if base == "" {
			out[i].Error = "no web port"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pages, total, err := askCached(ctx, base, fi)
			out[i].Pages, out[i].Total = pages, total
			if err != nil {
				out[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	return out
}

func askCached(ctx context.Context, base string, fi meta.FileInfo) (pages, total int, err error) {
	q := url.Values{"id": {strconv.FormatUint(fi.ID, 10)}, "fingerprint": {fi.Fingerprint},
		"size": {strconv.FormatInt(fi.Size, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/worker/cached?"+q.Encode(), nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL holds nothing secret, but is long
		}
		return 0, 0, fmt.Errorf("worker web %s: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("worker web %s: %s", base, resp.Status)
	}
	var c cachedPages
	if err := decodeJSON(resp, &c); err != nil {
		return 0, 0, fmt.Errorf("worker web %s: %w", base, err)
	}
	return c.Pages, c.Total, nil
}

package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/alluxio-go/alluxio/blockstore"
	"github.com/alluxio-go/alluxio/daemon/wire"
)

// workerNav is the header of the worker's pages.
var workerNav = []navLink{{"/", "Worker"}, {"/config", "Configuration"}, {"/logs", "Logs"}}

// workerPageView is the data of the worker's page.
type workerPageView struct {
	Address    string           `json:"address"`
	Gossip     string           `json:"gossip,omitempty"`
	Socket     string           `json:"socket"`
	Masters    []string         `json:"masters"`
	StartTime  int64            `json:"startTime"`
	Uptime     string           `json:"uptime"`
	ClusterLen int              `json:"clusterWorkers"`
	Tiers      []wire.TierInfo  `json:"tiers"`
	Stats      wire.WorkerStats `json:"stats"`
	Metrics    []metric         `json:"-"`
}

func (w *Worker) pageView() workerPageView {
	ms := w.metrics()
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return workerPageView{
		Address: w.cfg.RPCAddr, Gossip: w.cfg.GossipAddr, Socket: w.cfg.SocketPath, Masters: w.cfg.MasterAddrs,
		StartTime: w.start.UnixMilli(), Uptime: formatAge(time.Since(w.start)), ClusterLen: w.ring().Len(),
		Tiers: w.tiers(), Stats: w.Stats(), Metrics: ms,
	}
}

// uiRoutes adds the worker's page and its JSON API.
func (w *Worker) uiRoutes(mux *http.ServeMux) {
	u := &webUI{role: "worker", nav: workerNav, log: w.log, level: w.level, conf: w.cfg.Conf}
	u.commonRoutes(mux, "/api/v1/worker")
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		u.render(rw, http.StatusOK, "worker", "Worker "+w.cfg.RPCAddr, "/", w.pageView(), "")
	})
	mux.HandleFunc("GET /api/v1/worker/tiers", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, w.tiers())
	})
	mux.HandleFunc("GET /api/v1/worker/cached", func(rw http.ResponseWriter, r *http.Request) {
		c, err := w.cachedOf(r)
		if err != nil {
			writeJSONStatus(rw, statusOf(err), apiError{err.Error()})
			return
		}
		writeJSON(rw, c)
	})
}

// cachedPages is how many pages of a file version a worker holds.
type cachedPages struct {
	Pages int `json:"pages"`
	Total int `json:"total"`
}

// cachedOf answers /api/v1/worker/cached?id=&fingerprint=&size=.
func (w *Worker) cachedOf(r *http.Request) (cachedPages, error) {
	q := r.URL.Query()
	id, err1 := strconv.ParseUint(q.Get("id"), 10, 64)
	size, err2 := strconv.ParseInt(q.Get("size"), 10, 64)
	if err1 != nil || err2 != nil || size < 0 {
		return cachedPages{}, fmt.Errorf("cached pages: want id, fingerprint and size, got %q: %w", r.URL.RawQuery, syscall.EINVAL)
	}
	pages, total := w.store.Cached(blockstore.FileKey{ID: id, Fingerprint: q.Get("fingerprint")}, size)
	return cachedPages{Pages: pages, Total: total}, nil
}

// decodeJSON reads a JSON answer of a bounded size.
func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

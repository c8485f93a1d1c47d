package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sort"
	"strings"
	"time"
)

// webServer serves the web UI, JSON under /api/v1/ and Prometheus text at
// /metrics.
type webServer struct {
	srv *http.Server
}

func startWeb(addr string, log *slog.Logger, mux *http.ServeMux) (*webServer, error) {
	// Go's profiler, for the operator chasing a slow call: CPU, heap,
	// goroutines and blocking, as `go tool pprof` reads them.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web address %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			log.Error("web server stopped", "addr", addr, "err", err)
		}
	}()
	return &webServer{srv: srv}, nil
}

func (w *webServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return w.srv.Shutdown(ctx)
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// metric is one named value, with Alluxio's metric name.
type metric struct {
	Name  string
	Value float64
}

// writePrometheus renders metrics in the Prometheus text format; Alluxio's
// dotted names become underscores as its Prometheus sink does.
func writePrometheus(rw http.ResponseWriter, ms []metric) {
	rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	for _, m := range ms {
		name := strings.NewReplacer(".", "_", "-", "_").Replace(m.Name)
		fmt.Fprintf(rw, "# TYPE %s gauge\n%s %v\n", name, name, m.Value)
	}
}

func metricsJSON(ms []metric) map[string]float64 {
	out := make(map[string]float64, len(ms))
	for _, m := range ms {
		out[m.Name] = m.Value
	}
	return out
}

func (w *Worker) metrics() []metric {
	st := w.Stats()
	return []metric{
		{"Worker.CapacityTotal", float64(st.Capacity)},
		{"Worker.CapacityUsed", float64(st.Used)},
		{"Worker.BlocksCached", float64(st.Pages)},
		{"Worker.BytesReadCache", float64(st.BytesReadCache)},
		{"Worker.BytesReadUfsAll", float64(st.BytesReadUfs)},
		{"Worker.BytesReadDomain", float64(st.BytesReadDomain)},
		{"Worker.BytesReadRemote", float64(st.BytesReadRemote)},
		{"Worker.BytesWrittenDomain", float64(st.BytesWrittenDomain)},
		{"Worker.BytesWrittenRemote", float64(st.BytesWrittenRemote)},
		{"Worker.BytesWrittenUfsAll", float64(st.BytesWrittenUfs)},
		{"Worker.BytesCopiedUfs", float64(st.BytesCopiedUfs)},
		{"Worker.BlocksEvicted", float64(st.Evictions)},
		{"Worker.PassthroughOpens", float64(st.PassthroughOpens)},
		{"Worker.UfsPassthroughOpens", float64(st.UfsPassthroughOpens)},
		{"Worker.BytesReadPassthrough", float64(st.BytesPassedThrough)},
		{"Worker.PendingPersists", float64(st.PendingPersists)},
		{"Worker.ChecksumErrors", float64(st.ChecksumErrors)},
		{"Worker.BlocksDemoted", float64(st.Demotions)},
		{"Worker.BlocksPromoted", float64(st.Promotions)},
		{"Worker.PagesRecovered", float64(st.RecoveredPages)},
		{"Worker.PagesDamagedAtRecovery", float64(st.RecoveryDamaged)},
		{"Worker.HeapInuseBytes", float64(heapInuse())},
	}
}

func (w *Worker) webRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writePrometheus(rw, w.metrics())
	})
	mux.HandleFunc("/api/v1/worker/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, metricsJSON(w.metrics()))
	})
	mux.HandleFunc("/api/v1/worker/info", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, map[string]any{"address": w.cfg.RPCAddr, "startTime": w.start.UnixMilli(), "stats": w.Stats(),
			"tiers": w.tiers()})
	})
	w.uiRoutes(mux)
	return mux
}

// heapInuse is the Go heap in use, to show that it does not grow with the
// bytes cached (they live in tier files, not in the heap).
func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

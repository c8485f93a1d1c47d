package daemon

import (
	"net/http"
)

// webRoutes serves the FUSE daemon's metrics: per-operation latency
// histograms in Prometheus text at /metrics, and as JSON.
func (d *FuseDaemon) webRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
		d.mount.Latencies.WritePrometheus(rw)
	})
	mux.HandleFunc("GET /api/v1/fuse/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, map[string]any{"mountPoint": d.dir, "passthrough": d.mount.Passthrough,
			"latencies": d.mount.Latencies.Snapshot()})
	})
	return mux
}

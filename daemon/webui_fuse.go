package daemon

import (
	"fmt"
	"net/http"
)

// webRoutes serves the FUSE daemon's metrics: per-operation latency
// histograms and the metadata cache's counters in Prometheus text at
// /metrics, and as JSON.
func (d *FuseDaemon) webRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; version=0.0.4")
		d.mount.Latencies.WritePrometheus(rw)
		st := d.client.MetadataCacheStats()
		fmt.Fprintf(rw, "# TYPE Client_MetadataCacheSize gauge\nClient_MetadataCacheSize %d\n", st.Size)
		for _, m := range []struct {
			name string
			v    uint64
		}{{"Client_MetadataCacheHits", st.Hits}, {"Client_MetadataCacheMisses", st.Misses}, {"Client_MetadataCacheResets", st.Resets}, {"Client_MetadataCacheListHits", st.ListHits}} {
			fmt.Fprintf(rw, "# TYPE %s counter\n%s %d\n", m.name, m.name, m.v)
		}
	})
	mux.HandleFunc("GET /api/v1/fuse/metrics", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, map[string]any{"mountPoint": d.dir, "passthrough": d.mount.Passthrough,
			"latencies": d.mount.Latencies.Snapshot(), "metadataCache": d.client.MetadataCacheStats()})
	})
	return mux
}
